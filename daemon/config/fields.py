"""The field types shared by every section (Text, Key, ConfigPath, Port ...), their value
checks, and ``Section``, the base of every settings class.

Importing this module also lets email addresses on internal domains (.local, .lan, .test)
through email-validator, once for the whole process.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import email_validator
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
)

from daemon.config.errors import _quote, _refuse

# Parks run their own mail servers on internal names (.local, .lan) and the tests use .test:
# let those through, as email-validator's documentation suggests, by removing them from its
# list of special-use domains. Syntax is still checked.
for _internal in ("local", "test", "localhost", "lan", "internal", "home.arpa"):
    if _internal in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_internal)


@lru_cache(maxsize=1)
def known_time_zones() -> frozenset[str]:
    """Names in the IANA time zone database (the system's, or the tzdata package's)."""
    return frozenset(available_timezones())


def check_time_zone(name: str) -> str:
    """Accept an IANA time zone name such as ``Asia/Shanghai``; suggest the closest on a typo."""
    known = known_time_zones()
    try:
        ZoneInfo(name)
        valid = not known or name in known
    except (ZoneInfoNotFoundError, ValueError):
        valid = False
    if valid:
        return name
    if re.match(r"(UTC|GMT)\s*[+-]", name, re.IGNORECASE):
        hint = "use a place name such as Asia/Shanghai, not an offset"
    else:
        by_folded = {zone.casefold(): zone for zone in known}
        guess = by_folded.get(name.casefold()) or next(
            iter(difflib.get_close_matches(name, known, n=1, cutoff=0.6)), None)
        hint = f"did you mean '{guess}'?" if guess else "use a name such as Asia/Shanghai"
    raise _refuse(f"{_quote(name)} is not a time zone from the IANA database ({hint})")


def check_reference_prefix(prefix: str) -> str:
    if not (prefix.isascii() and prefix.isalnum() and 1 <= len(prefix) <= 6):
        raise _refuse(f"{_quote(prefix)} must be 1 to 6 letters or digits (A-Z, 0-9), such as C")
    return prefix


def check_key(key: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", key):
        raise _refuse(f"{_quote(key)} must be a short name of letters, digits, '_' or '-' "
                      f"(such as property); the name: line holds the text people see")
    return key


def check_env_var_name(name: str) -> str:
    # The value is not echoed: someone may have written the password itself here.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise _refuse("must be the name of an environment variable (letters, digits and _), "
                      "such as PARKDESK_IMAP_PASSWORD, not the password itself")
    return name


def check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _refuse(f"{_quote(url)} is not an http(s) URL such as https://sheets.googleapis.com")
    return url.rstrip("/")


def resolve_config_path(path: Path, info: ValidationInfo) -> Path:
    """Take a relative path relative to the config file's folder (passed as context)."""
    path = path.expanduser()
    config_dir = (info.context or {}).get("config_dir")
    if config_dir is None or path.is_absolute():
        return path
    return Path(config_dir) / path


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Key = Annotated[Text, AfterValidator(check_key)]
TimeZoneName = Annotated[Text, AfterValidator(check_time_zone)]
ReferencePrefix = Annotated[Text, AfterValidator(check_reference_prefix)]
EnvVarName = Annotated[Text, AfterValidator(check_env_var_name)]
HttpUrl = Annotated[Text, AfterValidator(check_http_url)]
ConfigPath = Annotated[Path, AfterValidator(resolve_config_path)]
Port = Annotated[int, Field(ge=1, le=65535)]
Security = Literal["ssl", "starttls", "none"]


class Section(BaseModel):
    """Base of every settings object: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")
