"""The answers `parkdesk init` collects, and how each typed answer is read and checked.

Every ``parse_*`` function takes the text a person typed (at a prompt or after a flag) and
returns the value, or raises ``AnswerError`` whose message says plainly what is wrong and what
is expected. They use the same checks as ``daemon.config``, so an accepted answer is one
config.yaml accepts. Chinese input habits are allowed: full-width colons and commas and the
enumeration comma (``、``) separate items like ``:`` and ``,``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import EmailStr, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from daemon.config import (
    check_http_url,
    check_key,
    check_reference_prefix,
    check_time_zone,
)
from daemon.setup.presets import PRESET_LIST, MailPreset, Server, find_preset

LANGUAGES = {"zh-cn": "zh-CN", "zh": "zh-CN", "cn": "zh-CN", "chinese": "zh-CN", "中文": "zh-CN",
             "en": "en", "english": "en", "英文": "en", "英语": "en"}
SECURITY_WORDS = {"ssl": "ssl", "tls": "ssl", "ssl/tls": "ssl", "starttls": "starttls",
                  "none": "none", "plain": "none", "no": "none"}
REGISTER_BACKENDS = ("google", "workbook")
LIST_SEPARATORS = r"[,\s，、;；]+"

_EMAIL = TypeAdapter(EmailStr)


class AnswerError(ValueError):
    """An answer that cannot be used; the message is for the person who typed it."""


@dataclass(frozen=True)
class DepartmentAnswer:
    """One department as answered: ``DepartmentAnswer("property", "物业管理部", "head@x", ("a@x",))``."""

    key: str
    name: str
    head: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class InitAnswers:
    """Everything init needs to write config.yaml and set up the register."""

    park_name: str
    language: str
    timezone: str
    mailbox_address: str
    provider: MailPreset
    imap: Server | None
    smtp: Server | None
    smtp_from: str
    service_center: tuple[str, ...]
    leadership: tuple[str, ...]
    departments: tuple[DepartmentAnswer, ...]
    register_backend: str
    credentials_file: Path | None = None
    spreadsheet_id: str | None = None
    api_endpoint: str = "https://sheets.googleapis.com"
    workbook_path: str = "register.xlsx"
    reference_prefix: str = "C"


def _config_check(check, text: str) -> str:
    """Run one of daemon.config's value checks; its refusal becomes an AnswerError."""
    try:
        return check(text)
    except PydanticCustomError as exc:
        raise AnswerError(str(exc)) from None


def parse_text(text: str) -> str:
    value = " ".join(text.split())
    if not value:
        raise AnswerError("this answer cannot be empty")
    return value


def parse_email(text: str) -> str:
    """``" Service@Park.example "`` -> ``"Service@park.example"`` (the domain in lower case)."""
    value = text.strip()
    if not value:
        raise AnswerError("an email address is needed, such as service@park.example.com")
    try:
        return str(_EMAIL.validate_python(value))
    except ValidationError as exc:
        reason = str(exc.errors()[0].get("ctx", {}).get("reason", "")).rstrip(".")
        detail = f" ({reason[:1].lower() + reason[1:]})" if reason else ""
        raise AnswerError(f"'{value}' is not an email address{detail}") from None


def split_list(text: str) -> list[str]:
    return [item for item in re.split(LIST_SEPARATORS, text.strip()) if item]


def parse_address_list(text: str) -> tuple[str, ...]:
    """``"a@park.example, b@park.example"`` -> both, checked, duplicates dropped (order kept)."""
    items = split_list(text)
    if not items:
        raise AnswerError("at least one email address is needed; separate several with commas")
    return tuple(dict.fromkeys(parse_email(item) for item in items))


def parse_language(text: str) -> str:
    value = LANGUAGES.get(text.strip().casefold())
    if value is None:
        raise AnswerError(f"'{text.strip()}' is not a language ParkDesk speaks; answer zh-CN "
                          f"(Chinese) or en (English)")
    return value


def parse_timezone(text: str) -> str:
    return _config_check(check_time_zone, text.strip())


def parse_reference_prefix(text: str) -> str:
    return _config_check(check_reference_prefix, text.strip().upper())


def parse_provider(text: str) -> MailPreset:
    preset = find_preset(text)
    if preset is None:
        keys = ", ".join(preset.key for preset in PRESET_LIST)
        raise AnswerError(f"'{text.strip()}' is not a mail provider ParkDesk knows; answer one "
                          f"of {keys}")
    return preset


def parse_host(text: str) -> str:
    value = text.strip().rstrip(".").casefold()
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*", value):
        raise AnswerError(f"'{text.strip()}' is not a server name such as imap.park.example.com "
                          f"(no 'imap://', no port)")
    return value


def parse_security(text: str) -> str:
    value = SECURITY_WORDS.get(text.strip().casefold())
    if value is None:
        raise AnswerError(f"'{text.strip()}' is not a connection security; answer ssl, "
                          f"starttls or none")
    return value


def parse_port(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        raise AnswerError(f"'{value}' is not a port number (1 to 65535, such as 993)")
    return int(value)


def parse_department_keys(text: str) -> list[str]:
    """``"property, facilities"`` -> ``["property", "facilities"]``; each a valid, distinct key."""
    keys = [_config_check(check_key, key) for key in split_list(text)]
    if not keys:
        raise AnswerError("at least one department is needed, such as property")
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise AnswerError(f"{', '.join(repeated)} is listed twice; each department key must be "
                          f"different")
    return keys


def parse_department(spec: str) -> DepartmentAnswer:
    """``"property:物业管理部:head@park.example:a@park.example,b@park.example"`` -> a department.

    The form is ``key:name:head`` or ``key:name:head:member,member``; the key is a short name of
    letters, digits, ``_`` or ``-``.
    """
    parts = [part.strip() for part in re.split(r"[:：]", spec.strip())]
    if len(parts) not in (3, 4) or not all(parts[:3]):
        raise AnswerError(f"'{spec.strip()}' is not key:name:head or key:name:head:member,member "
                          f"(for example property:物业管理部:zhang@park.example.com)")
    key = _config_check(check_key, parts[0])
    name = parse_text(parts[1])
    head = parse_email(parts[2])
    members = parse_member_list(parts[3]) if len(parts) == 4 else ()
    return DepartmentAnswer(key, name, head, members)


def parse_member_list(text: str) -> tuple[str, ...]:
    """Members may be none: ``""`` -> ``()``."""
    return tuple(dict.fromkeys(parse_email(item) for item in split_list(text)))


def parse_register_backend(text: str) -> str:
    value = text.strip().casefold()
    aliases = {"sheet": "google", "google-sheet": "google", "gsheet": "google",
               "xlsx": "workbook", "excel": "workbook", "local": "workbook"}
    value = aliases.get(value, value)
    if value not in REGISTER_BACKENDS:
        raise AnswerError(f"'{text.strip()}' is not a register; answer google (a shared Google "
                          f"Sheet) or workbook (a local .xlsx file)")
    return value


def parse_credentials_file(text: str) -> Path:
    """A service-account key file that exists and is one (JSON with ``client_email``)."""
    path = Path(text.strip()).expanduser()
    if not text.strip():
        raise AnswerError("the service-account key file (JSON) is needed")
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise AnswerError(f"{path} does not exist; give the path of the key file downloaded "
                          f"from Google Cloud (IAM > Service accounts > Keys)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AnswerError(f"{path} cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    except json.JSONDecodeError:
        raise AnswerError(f"{path} is not a service-account key (not JSON); download the key "
                          f"again as JSON") from None
    if not isinstance(data, dict) or data.get("type") != "service_account" \
            or not data.get("client_email") or not data.get("private_key"):
        raise AnswerError(f"{path} is not a service-account key (it needs type service_account, "
                          f"client_email and private_key); download a key of a service account")
    return path


def service_account_email(path: Path) -> str:
    """The ``client_email`` of a key file parse_credentials_file accepted."""
    return str(json.loads(path.read_text(encoding="utf-8-sig"))["client_email"])


def parse_spreadsheet_id(text: str) -> str | None:
    """An existing sheet's id, or its whole address; ``""`` -> None (a new sheet is created)."""
    value = text.strip()
    if not value:
        return None
    match = re.search(r"/spreadsheets/d/([A-Za-z0-9_-]+)", value)
    if match:
        return match.group(1)
    if not re.fullmatch(r"[A-Za-z0-9_-]{10,}", value):
        raise AnswerError(f"'{value}' is not a spreadsheet id; paste the sheet's address or the "
                          f"long id in it between /d/ and /edit")
    return value


def parse_api_endpoint(text: str) -> str:
    return _config_check(check_http_url, text.strip())


def parse_workbook_path(text: str) -> str:
    value = text.strip()
    if not value.lower().endswith(".xlsx"):
        raise AnswerError(f"'{value}' must be a file name ending in .xlsx, such as register.xlsx")
    return value


def parse_yes_no(text: str) -> bool:
    value = text.strip().casefold()
    if value in ("y", "yes", "是", "好", "true", "1"):
        return True
    if value in ("n", "no", "否", "不", "false", "0"):
        return False
    raise AnswerError("answer yes or no")
