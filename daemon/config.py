"""Read config.yaml into typed, immutable settings, or refuse it with every problem listed.

``load_config(path)`` returns a frozen ``Config``. A bad file raises ``ConfigError``, whose
message names each problem by its key path (``departments[2].head``) and says what is expected,
in words for park staff: pydantic's errors are translated here, and the checks pydantic cannot
express (what each backend requires, keys that refer to other keys, duplicates) run beside them
so that one run reports everything.

Secrets never sit in the YAML: a section names an environment variable (``password_env``) or a
file (``password_file``), and ``password()`` reads it at the moment of use. Its value never
appears in a message or a repr.

Relative paths in the file are taken relative to the folder of the config file.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import warnings
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar, Iterable, Literal, NoReturn, Union, get_args, get_origin
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError
import email_validator

from daemon.logs import register_secret

# Parks run their own mail servers on internal names (.local, .lan) and the tests use .test:
# let those through, as email-validator's documentation suggests, by removing them from its
# list of special-use domains. Syntax is still checked.
for _internal in ("local", "test", "localhost", "lan", "internal", "home.arpa"):
    if _internal in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        email_validator.SPECIAL_USE_DOMAIN_NAMES.remove(_internal)

DEFAULT_CONFIG_NAME = "config.yaml"
IMAP_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}
SHEET_CELL_LIMIT = 50_000  # a Google Sheets cell holds at most 50,000 characters

# Pydantic error types raised by this module's own validators.
VALUE_PROBLEM = "config_value"
CONSISTENCY_PROBLEMS = "config_consistency"


class ConfigError(Exception):
    """The config cannot be used. ``problems`` holds one plain-language line per problem."""

    def __init__(self, problems: Iterable[str], source: str = DEFAULT_CONFIG_NAME):
        self.problems = list(problems)
        self.source = source
        super().__init__(self.problems)

    def __str__(self) -> str:
        count = len(self.problems)
        header = f"{self.source} has {count} problem{'' if count == 1 else 's'}:"
        return "\n".join([header, *(f"  {problem}" for problem in self.problems)])


# --- value checks ----------------------------------------------------------------------------

def _refuse(problem: str) -> PydanticCustomError:
    """A validation error whose text is already written for park staff."""
    return PydanticCustomError(VALUE_PROBLEM, "{problem}", {"problem": problem})


def _quote(value: Any, limit: int = 60) -> str:
    text = str(value)
    return f"'{text if len(text) <= limit else text[:limit] + '...'}'"


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


# --- settings --------------------------------------------------------------------------------

class Section(BaseModel):
    """Base of every settings object: immutable, and unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


OAUTH2_PROVIDERS = ("google_service_account", "google_refresh_token",
                    "microsoft_client_credentials", "microsoft_refresh_token")
# What each provider needs besides ``provider``; a secret is "client_secret" or "refresh_token"
# and may be given as ``<secret>_env`` or ``<secret>_file``.
OAUTH2_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "google_service_account": ("key_file",),
    "google_refresh_token": ("client_id", "client_secret", "refresh_token"),
    "microsoft_client_credentials": ("tenant", "client_id", "client_secret"),
    "microsoft_refresh_token": ("tenant", "client_id", "refresh_token"),
}
OAUTH2_OPTIONAL: dict[str, tuple[str, ...]] = {
    "google_service_account": ("subject", "token_url", "scope"),
    "google_refresh_token": ("token_url", "scope"),
    "microsoft_client_credentials": ("authority", "scope"),
    "microsoft_refresh_token": ("client_secret", "authority", "scope"),
}
OAUTH2_SECRETS = ("client_secret", "refresh_token")


class OAuth2Config(Section):
    """How an XOAUTH2 login gets its access token (``auth: oauth2`` in mailbox or smtp)."""

    provider: Literal["google_service_account", "google_refresh_token",
                      "microsoft_client_credentials", "microsoft_refresh_token"] = Field(
        description="google_service_account, google_refresh_token, microsoft_client_credentials "
                    "or microsoft_refresh_token")
    key_file: ConfigPath | None = Field(
        None, description="the service-account key file (JSON) with domain-wide delegation")
    subject: EmailStr | None = Field(
        None, description="the mailbox the service account acts for (default: username)")
    tenant: Text | None = Field(
        None, description="the Microsoft 365 tenant id or domain, e.g. park.onmicrosoft.com")
    client_id: Text | None = Field(None, description="the OAuth client (application) id")
    client_secret_env: EnvVarName | None = Field(
        None, description="the name of the environment variable holding the client secret")
    client_secret_file: ConfigPath | None = Field(
        None, description="a file holding only the client secret")
    refresh_token_env: EnvVarName | None = Field(
        None, description="the name of the environment variable holding the refresh token")
    refresh_token_file: ConfigPath | None = Field(
        None, description="a file holding only the refresh token")
    token_url: HttpUrl | None = Field(
        None, description="Google's token address, only to replace "
                          "https://oauth2.googleapis.com/token")
    authority: HttpUrl | None = Field(
        None, description="Microsoft's sign-in address, only to replace "
                          "https://login.microsoftonline.com (national clouds)")
    scope: Text | None = Field(
        None, description="the access asked for (default: https://mail.google.com/ for Google, "
                          "https://outlook.office365.com/.default for Microsoft)")
    _where: str = PrivateAttr("oauth2")
    _source: str = PrivateAttr(DEFAULT_CONFIG_NAME)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict) and context.get("source_name"):
            self._source = context["source_name"]

    def client_secret(self) -> str | None:
        """The client secret, read now from its variable or file; None if neither is set."""
        value = self._secret("client_secret", "client secret")
        register_secret(value)  # masked in every log line from now on
        return value

    def refresh_token(self) -> str | None:
        """The refresh token, read now from its variable or file; None if neither is set."""
        value = self._secret("refresh_token", "refresh token")
        register_secret(value)  # masked in every log line from now on
        return value

    def secret_source(self, secret: str) -> str:
        """Where a secret is kept, for messages: ``environment variable X`` or ``file F``."""
        env, file = getattr(self, f"{secret}_env"), getattr(self, f"{secret}_file")
        if env:
            return f"the environment variable {env}"
        if file:
            return f"the file {file}"
        return f"{self._where}.{secret}_env"

    def _secret(self, secret: str, label: str) -> str | None:
        env, file = getattr(self, f"{secret}_env"), getattr(self, f"{secret}_file")
        if env:
            where = f"{self._where}.{secret}_env: environment variable {env}"
            value = os.environ.get(env)
            if not value:
                state = "is not set" if value is None else "is empty"
                self._fail(f"{where} {state}; set it to the {label} before starting ParkDesk")
            return value
        if file:
            where = f"{self._where}.{secret}_file: {file}"
            try:
                value = Path(file).read_text(encoding="utf-8-sig").strip()
            except FileNotFoundError:
                self._fail(f"{where} does not exist; create it with the {label} as its only line")
            except UnicodeDecodeError:
                self._fail(f"{where} is not UTF-8 text; save it as UTF-8")
            except OSError as exc:
                self._fail(f"{where} cannot be read ({exc.strerror})")
            if not value:
                self._fail(f"{where} is empty; write the {label} in it")
            return value
        return None

    def _fail(self, problem: str) -> NoReturn:
        raise ConfigError([problem], self._source)


class PasswordSource(Section):
    """A section that logs in with a password kept outside config.yaml."""

    section: ClassVar[str]
    server_backend: ClassVar[str]        # the backend that talks to a server
    default_ports: ClassVar[dict[str, int]]  # security -> port
    secret_label: ClassVar[str]
    example_env: ClassVar[str]
    example_file: ClassVar[str]

    password_env: EnvVarName | None = Field(
        None, description="the name of the environment variable holding the password")
    password_file: ConfigPath | None = Field(
        None, description="a file holding only the password (relative to config.yaml's folder)")
    auth: Literal["password", "oauth2"] = Field(
        "password", description="password, or oauth2 (XOAUTH2 with an access token)")
    oauth2: OAuth2Config | None = Field(
        None, description="the oauth2 section: provider and its keys (when auth is oauth2)")
    _source: str = PrivateAttr(DEFAULT_CONFIG_NAME)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict) and context.get("source_name"):
            self._source = context["source_name"]
        if self.oauth2 is not None:
            self.oauth2._where = f"{self.section}.oauth2"

    @model_validator(mode="before")
    @classmethod
    def _fill_default_port(cls, data: Any) -> Any:
        """No port written: take the usual one for the security setting."""
        if (isinstance(data, dict) and data.get("port") is None
                and data.get("backend", cls.server_backend) == cls.server_backend
                and isinstance(data.get("security"), str) and data["security"] in cls.default_ports):
            data = {**data, "port": cls.default_ports[data["security"]]}
        return data

    def password(self) -> str:
        """Read the password now, from the environment variable or the file; never logged."""
        if self.password_env:
            return self._password_from_env(self.password_env)
        if self.password_file:
            return self._password_from_file(self.password_file)
        self._fail(f"{self.section}: no password_env or password_file is set, "
                   f"so there is no {self.secret_label} password to use")

    def _password_from_env(self, name: str) -> str:
        where = f"{self.section}.password_env: environment variable {name}"
        value = os.environ.get(name)
        if value is None:
            self._fail(f"{where} is not set; set it to the {self.secret_label} password "
                       f"before starting ParkDesk")
        if not value:
            self._fail(f"{where} is empty; set it to the {self.secret_label} password")
        register_secret(value)  # masked in every log line from now on
        return value

    def _password_from_file(self, path: Path) -> str:
        where = f"{self.section}.password_file: {path}"
        try:
            value = path.read_text(encoding="utf-8-sig").rstrip("\r\n")
        except FileNotFoundError:
            self._fail(f"{where} does not exist; create it with the {self.secret_label} "
                       f"password as its only line")
        except UnicodeDecodeError:
            self._fail(f"{where} is not UTF-8 text; save it as UTF-8")
        except OSError as exc:
            self._fail(f"{where} cannot be read ({exc.strerror})")
        if not value:
            self._fail(f"{where} is empty; write the {self.secret_label} password in it")
        register_secret(value)  # masked in every log line from now on
        return value

    def _fail(self, problem: str) -> NoReturn:
        raise ConfigError([problem], self._source)


class ParkConfig(Section):
    name: Text = Field(description="the park's name as tenants see it, e.g. 东湖科技产业园")
    timezone: TimeZoneName = Field(description="the park's IANA time zone, e.g. Asia/Shanghai")
    language: Literal["zh-CN", "en"] = "zh-CN"
    reference_prefix: ReferencePrefix = Field(
        "C", description="1 to 6 letters or digits that start every reference number, e.g. C")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class MailboxConfig(PasswordSource):
    """Where complaints arrive: an IMAP mailbox, or a local Maildir folder (no account)."""

    section: ClassVar[str] = "mailbox"
    server_backend: ClassVar[str] = "imap"
    default_ports: ClassVar[dict[str, int]] = IMAP_PORTS
    secret_label: ClassVar[str] = "mailbox (IMAP)"
    example_env: ClassVar[str] = "PARKDESK_IMAP_PASSWORD"
    example_file: ClassVar[str] = "imap-password.txt"

    backend: Literal["imap", "maildir"] = "imap"
    host: Text | None = Field(None, description="the IMAP server, e.g. imap.exmail.qq.com")
    port: Port | None = Field(None, description="the IMAP port (993 for ssl, 143 otherwise)")
    security: Security | None = Field(None, description="ssl, starttls or none")
    username: Text | None = Field(None, description="the mailbox login, usually its address")
    ca_file: ConfigPath | None = Field(None, description="a CA certificate file (PEM)")
    folder: Text = "INBOX"
    processed_folder: Text = "Processed"
    quarantine_folder: Text = "Quarantine"
    idle: bool = True
    poll_seconds: int = Field(60, ge=1, description="seconds between checks when IDLE is off")
    batch_size: int = Field(50, ge=1, description="messages fetched at a time (memory stays small)")
    path: ConfigPath | None = Field(None, description="the Maildir folder, e.g. ./mail/inbox")


class SmtpConfig(PasswordSource):
    """How mail leaves: an SMTP server, or a local outbox folder of .eml files (no account)."""

    section: ClassVar[str] = "smtp"
    server_backend: ClassVar[str] = "smtp"
    default_ports: ClassVar[dict[str, int]] = SMTP_PORTS
    secret_label: ClassVar[str] = "SMTP"
    example_env: ClassVar[str] = "PARKDESK_SMTP_PASSWORD"
    example_file: ClassVar[str] = "smtp-password.txt"

    backend: Literal["smtp", "outbox"] = "smtp"
    host: Text | None = Field(None, description="the SMTP server, e.g. smtp.exmail.qq.com")
    port: Port | None = Field(None, description="the SMTP port (465 ssl, 587 starttls, 25 none)")
    security: Security | None = Field(None, description="ssl, starttls or none")
    username: Text | None = Field(None, description="the login; leave out to send without one")
    ca_file: ConfigPath | None = Field(None, description="a CA certificate file (PEM)")
    from_address: EmailStr = Field(
        description="the address replies go to, e.g. complaints@park.example.com")
    from_name: Text | None = Field(None, description="the sender name people see")
    timeout_seconds: float = Field(30, gt=0, description="seconds to wait for the server")
    path: ConfigPath | None = Field(None, description="the outbox folder, e.g. ./mail/outbox")


class RegisterConfig(Section):
    """The register: a Google Sheet, or a local .xlsx workbook (no account)."""

    backend: Literal["google", "workbook"] = "google"
    spreadsheet_id: Text | None = Field(
        None, description="the long id in the sheet's address, between /d/ and /edit")
    credentials_file: ConfigPath | None = Field(
        None, description="the service-account key file (JSON), e.g. service-account.json")
    api_endpoint: HttpUrl = Field("https://sheets.googleapis.com",
                                  description="the Google Sheets API address")
    path: ConfigPath | None = Field(None, description="the workbook file, e.g. ./register.xlsx")
    repair_layout_daily: bool = Field(
        True, description="once a day, lay the Google sheet out again as `parkdesk init` does "
                          "(drop-downs on new rows, highlights and protection): true or false")


class Department(Section):
    key: Key = Field(description="a short name used elsewhere in this file, e.g. property")
    name: Text = Field(description="the department's name as people see it, e.g. 物业管理部")
    head: EmailStr = Field(description="the department head's email address")
    members: tuple[EmailStr, ...] = Field((), description="the members' email addresses")

    def is_member(self, address: str) -> bool:
        """True if ``address`` is the head's or a member's (case-insensitive)."""
        folded = address.strip().casefold()
        return any(folded == known.casefold() for known in (self.head, *self.members))


class Category(Section):
    key: Key = Field(description="a short name, e.g. facilities")
    name: Text = Field(description="the category as staff see it, e.g. 设施维护")
    department: Text = Field(description="the key of the department that handles it")
    keywords: tuple[Text, ...] = Field((), description="words that point to this category")


class Priority(Section):
    key: Key = Field(description="a short name, e.g. urgent")
    name: Text = Field(description="the priority as staff see it, e.g. 紧急")
    keywords: tuple[Text, ...] = Field((), description="words that point to this priority")
    ack_minutes: int = Field(gt=0, description="minutes a department has to sign for a slip")
    resolve_hours: int = Field(gt=0, description="hours a department has to resolve it")
    serious: bool = False

    @property
    def ack_within(self) -> timedelta:
        return timedelta(minutes=self.ack_minutes)

    @property
    def resolve_within(self) -> timedelta:
        return timedelta(hours=self.resolve_hours)


class IntakeConfig(Section):
    default_category: Text = Field(description="the category key used when no keyword matches")
    default_priority: Text = Field(description="the priority key used when no keyword matches")
    replies_per_sender_per_hour: int = Field(
        3, ge=1, description="automatic replies one sender may get in an hour")
    max_attempts: int = Field(3, ge=1, description="tries before a message is quarantined")
    body_max_chars: int = Field(
        45_000, ge=1_000, le=SHEET_CELL_LIMIT,
        description="characters of a complaint kept in the register "
                    "(a Google Sheets cell holds at most 50000)")


class EscalationStep(Section):
    """One rung of an escalation ladder: who is told, how many minutes after the deadline."""

    after_minutes: int = Field(ge=0, description="minutes after the deadline")
    notify: Literal["department", "head", "service_center", "leadership"] = Field(
        description="who is told: department, head, service_center or leadership")


DEFAULT_ACK_LADDER = (
    EscalationStep(after_minutes=0, notify="department"),
    EscalationStep(after_minutes=5, notify="service_center"),
    EscalationStep(after_minutes=25, notify="leadership"),
)
DEFAULT_RESOLVE_LADDER = (
    EscalationStep(after_minutes=0, notify="head"),
    EscalationStep(after_minutes=120, notify="leadership"),
)


class DispatchConfig(Section):
    """How handling slips go out and how late ones are chased."""

    ack_ladder: tuple[EscalationStep, ...] = Field(
        DEFAULT_ACK_LADDER, min_length=1,
        description="who is told when a slip is not signed for by its sign-for deadline")
    resolve_ladder: tuple[EscalationStep, ...] = Field(
        DEFAULT_RESOLVE_LADDER, min_length=1,
        description="who is told when a complaint is not resolved by its deadline")
    forward_notes_to_tenant: bool = Field(
        False, description="send the department's progress notes on to the tenant")
    sla_check_seconds: int = Field(30, ge=5, le=3600,
                                   description="how often deadlines are checked")
    attach_max_bytes: int = Field(
        5_000_000, ge=0, description="attachments up to this size in all go with the slip (0: none)")


class AftercareConfig(Section):
    """After the result: the return visit (回访), the review (检讨) of serious complaints, the archive."""

    return_visit_delay_hours: float = Field(
        2, ge=0, description="hours after sign-off before the tenant is asked if satisfied")
    office_hours: tuple[int, int] = Field(
        (9, 18), description="[start hour, end hour]: return visits are sent only in between")
    office_days: tuple[int, ...] = Field(
        (1, 2, 3, 4, 5), min_length=1,
        description="working days, 1 = Monday ... 7 = Sunday")
    visit_reminder_days: int = Field(3, ge=1, description="days without an answer before one reminder")
    visit_close_days: int = Field(
        4, ge=1, description="more days without an answer before the complaint is closed")
    review_escalate_days: int = Field(
        3, ge=1, description="working days without a review before leadership is told")
    archive_after_days: int = Field(
        30, ge=1, description="days after closing before a complaint moves to its archive tab")


class CommandsConfig(Section):
    """The words that start a reply and what they mean (case does not matter)."""

    ack: tuple[Text, ...] = Field(("收到", "签收", "ACK", "OK"), min_length=1)
    note: tuple[Text, ...] = Field(("进展", "NOTE"), min_length=1)
    done: tuple[Text, ...] = Field(("完成", "已处理", "已解决", "DONE"), min_length=1)
    approve: tuple[Text, ...] = Field(("确认", "APPROVE"), min_length=1)
    reject: tuple[Text, ...] = Field(("退回", "REJECT"), min_length=1)
    transfer: tuple[Text, ...] = Field(("转", "TRANSFER"), min_length=1)
    review: tuple[Text, ...] = Field(("检讨", "REVIEW"), min_length=1)


# --- the periodic digest (review section) ----------------------------------------------------

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DIGEST_ROLES = ("leadership", "service_center")
DIGEST_SCHEDULE_HELP = (
    "write a weekday and a 24-hour time such as 'monday 09:00', or 'every day 08:30' "
    "(in the park's time zone); for a monthly digest set review.digest_period: month, and it "
    "is sent at the first of these times after each month ends")


@dataclass(frozen=True)
class DigestTime:
    """When the digest may go out: ``weekday`` 0 (Monday) to 6, or None for every day."""

    weekday: int | None
    hour: int
    minute: int


def parse_digest_schedule(text: str) -> DigestTime:
    """``"monday 09:00"``, ``"every monday 9:00"``, ``"mon 09:00"``, ``"every day 08:30"``,
    ``"daily 08:30"`` -> ``DigestTime``; anything else (``"1st of month"``) -> ValueError."""
    words = str(text).casefold().split()
    if words[:1] == ["every"]:
        words = words[1:]
    clock = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", words[-1]) if len(words) == 2 else None
    day = words[0] if clock else ""
    if day in ("day", "daily"):
        return DigestTime(None, int(clock.group(1)), int(clock.group(2)))
    matches = [index for index, name in enumerate(WEEKDAYS) if day and name.startswith(day)
               and len(day) >= 3]
    if len(matches) != 1:
        raise ValueError(f"{_quote(text)} is not a schedule ParkDesk understands; "
                         f"{DIGEST_SCHEDULE_HELP}")
    return DigestTime(matches[0], int(clock.group(1)), int(clock.group(2)))


def check_digest_schedule(text: str) -> str:
    try:
        parse_digest_schedule(text)
    except ValueError as exc:
        raise _refuse(str(exc)) from None
    return " ".join(text.split())


def check_digest_recipient(value: str) -> str:
    """``leadership``, ``service_center`` (those lists of this file) or an email address."""
    if value in DIGEST_ROLES:
        return value
    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        raise _refuse(f"{_quote(value)} is neither leadership, service_center nor an email "
                      f"address ({str(exc).rstrip('.')})") from None


DigestSchedule = Annotated[Text, AfterValidator(check_digest_schedule)]
DigestRecipient = Annotated[Text, AfterValidator(check_digest_recipient)]


class ReviewConfig(Section):
    """The periodic review mailed as a digest to leadership and the service center."""

    dashboard_enabled: bool = Field(
        True, description="rebuild the Dashboard and Recurring tabs once a day: true or false")
    digest_enabled: bool = Field(True, description="send the digest: true or false")
    digest_schedule: DigestSchedule = Field(
        "monday 09:00", validate_default=True,
        description="when the digest goes out, e.g. monday 09:00 or every day 08:30")
    digest_period: Literal["week", "month"] = Field(
        "week", description="what one digest covers: week or month")
    digest_to: tuple[DigestRecipient, ...] = Field(
        DIGEST_ROLES, min_length=1,
        description="who gets it: leadership, service_center and/or email addresses")

    @property
    def schedule(self) -> DigestTime:
        return parse_digest_schedule(self.digest_schedule)


class HealthConfig(Section):
    """When the service center is alerted that ParkDesk itself is in trouble (one email per
    outage, one when it recovers)."""

    alert_after_minutes: int = Field(
        15, ge=1, description="minutes intake or sending may fail before the service center is alerted")
    stale_mail_minutes: int = Field(
        30, ge=1, description="minutes a message may wait unprocessed in the mailbox before an alert")
    alert_to: tuple[EmailStr, ...] = Field(
        (), description="who gets the alerts (default: the service_center addresses)")


# ``register`` is also the name of ABCMeta.register, a class method pydantic models inherit;
# the field only shadows it on instances, which is what we want. Silence pydantic's warning.
warnings.filterwarnings("ignore", message='Field name "register" in "Config" shadows')


class Config(Section):
    """Everything ParkDesk reads from config.yaml."""

    park: ParkConfig = Field(description="the park section: name, timezone, language")
    state_dir: ConfigPath = Field(Path("state"), validate_default=True,
                                  description="the folder where ParkDesk keeps its own state")
    mailbox: MailboxConfig = Field(description="the mailbox section: where complaints arrive")
    smtp: SmtpConfig = Field(description="the smtp section: how emails are sent")
    # Field() is needed here: without it pydantic would take ABCMeta.register as the default.
    register: RegisterConfig = Field(description="the register section: the shared sheet")
    service_center: tuple[EmailStr, ...] = Field(
        min_length=1, description="the service center's email addresses")
    leadership: tuple[EmailStr, ...] = Field(
        min_length=1, description="the leaders' email addresses")
    departments: tuple[Department, ...] = Field(
        min_length=1, description="a list of departments, each with key, name, head, members")
    categories: tuple[Category, ...] = Field(
        min_length=1, description="a list of categories, each with key, name, department, keywords")
    priorities: tuple[Priority, ...] = Field(
        min_length=1, description="a list of priorities, each with key, name, keywords, "
                                  "ack_minutes, resolve_hours, serious")
    intake: IntakeConfig = Field(
        description="the intake section: default_category and default_priority")
    dispatch: DispatchConfig = Field(DispatchConfig(),
                                     description="the dispatch section: escalation ladders")
    aftercare: AftercareConfig = Field(
        AftercareConfig(), description="the aftercare section: return visit, review, archive")
    commands: CommandsConfig = Field(CommandsConfig(),
                                     description="the commands section: words of email replies")
    review: ReviewConfig = Field(ReviewConfig(),
                                 description="the review section: the periodic digest email")
    health: HealthConfig = Field(
        HealthConfig(), description="the health section: when ParkDesk alerts about itself")
    _config_dir: Path = PrivateAttr(default_factory=Path.cwd)

    def model_post_init(self, context: Any, /) -> None:
        if isinstance(context, dict) and context.get("config_dir") is not None:
            self._config_dir = Path(context["config_dir"])

    @model_validator(mode="after")
    def _check_consistency(self) -> Config:
        problems = find_consistency_problems(self.model_dump())
        if problems:
            raise PydanticCustomError(CONSISTENCY_PROBLEMS, "{problems}", {"problems": problems})
        return self

    @property
    def config_dir(self) -> Path:
        """The folder of the config file; relative paths in it were taken from here."""
        return self._config_dir

    def department(self, key: str) -> Department:
        return _find_by_key(self.departments, key, "department")

    def category(self, key: str) -> Category:
        return _find_by_key(self.categories, key, "category")

    def priority(self, key: str) -> Priority:
        return _find_by_key(self.priorities, key, "priority")


def _find_by_key(items: Iterable[Any], key: str, kind: str) -> Any:
    for item in items:
        if item.key == key:
            return item
    raise KeyError(f"no {kind} with key {key!r} in the config")


# --- checks across keys ----------------------------------------------------------------------
# These read plain data (the parsed YAML, or a valid Config dumped to a dict) and tolerate any
# shape: where a part is malformed, the type error is pydantic's to report, and it is skipped here.

BACKEND_REQUIREMENTS: dict[str, tuple[str, dict[str, tuple[str, ...]]]] = {
    "mailbox": ("imap", {"imap": ("host", "security", "username"), "maildir": ("path",)}),
    "smtp": ("smtp", {"smtp": ("host", "security"), "outbox": ("path",)}),
    "register": ("google", {"google": ("spreadsheet_id", "credentials_file"), "workbook": ("path",)}),
}
SECTION_MODELS: dict[str, type[Section]] = {
    "mailbox": MailboxConfig, "smtp": SmtpConfig, "register": RegisterConfig}


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _entries(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else []


def _given(section: dict, key: str) -> bool:
    return section.get(key) is not None


def find_consistency_problems(data: dict) -> list[str]:
    """Problems no single key shows: backend requirements, duplicates, dangling references."""
    return [*find_backend_problems(data), *find_reference_problems(data)]


def find_backend_problems(data: dict) -> list[str]:
    problems = []
    for name, (default, required_by_backend) in BACKEND_REQUIREMENTS.items():
        section = data.get(name)
        if not isinstance(section, dict):
            continue
        backend = section.get("backend", default)
        if backend not in required_by_backend:
            continue
        for key in required_by_backend[backend]:
            if not _given(section, key):
                expected = SECTION_MODELS[name].model_fields[key].description
                what = f"; expected {expected}" if expected else ""
                problems.append(f"{name}.{key}: required when {name}.backend is {backend}{what}")
        problems += _password_problems(name, backend, section)
        problems += _oauth2_problems(name, backend, section)
    return problems


def _oauth2_problems(name: str, backend: str, section: dict) -> list[str]:
    """With ``auth: oauth2``: a login, an oauth2 section, and the keys its provider needs."""
    model = SECTION_MODELS[name]
    if (not issubclass(model, PasswordSource) or backend != model.server_backend
            or section.get("auth") != "oauth2"):
        return []
    problems = []
    if not _given(section, "username"):
        problems.append(f"{name}.username: required when {name}.auth is oauth2; write the "
                        f"mailbox address the access token is for")
    oauth2 = section.get("oauth2")
    if not isinstance(oauth2, dict):
        if oauth2 is None:
            problems.append(f"{name}.oauth2: required when {name}.auth is oauth2; write an "
                            f"oauth2 section with provider: and its keys (see the example "
                            f"config.yaml)")
        return problems
    provider = oauth2.get("provider")
    if provider not in OAUTH2_REQUIREMENTS:
        return problems  # a missing or unknown provider is reported on its own
    for key in OAUTH2_REQUIREMENTS[provider]:
        if key in OAUTH2_SECRETS:
            problems += _oauth2_secret_problems(name, provider, oauth2, key, required=True)
        elif not _given(oauth2, key):
            expected = OAuth2Config.model_fields[key].description
            problems.append(f"{name}.oauth2.{key}: required when provider is {provider}; "
                            f"expected {expected}")
    for key in OAUTH2_SECRETS:
        if key in OAUTH2_OPTIONAL[provider]:
            problems += _oauth2_secret_problems(name, provider, oauth2, key, required=False)
    used = {*OAUTH2_REQUIREMENTS[provider], *OAUTH2_OPTIONAL[provider], "provider"}
    for key in oauth2:
        stem = re.sub(r"_(env|file)$", "", str(key))
        stem = stem if stem in OAUTH2_SECRETS else str(key)
        if key in OAuth2Config.model_fields and stem not in used and _given(oauth2, key):
            problems.append(f"{name}.oauth2.{key}: not used by provider {provider}; remove it "
                            f"(or check provider)")
    return problems


def _oauth2_secret_problems(name: str, provider: str, oauth2: dict, secret: str,
                            required: bool) -> list[str]:
    sources = [f"{secret}_{kind}" for kind in ("env", "file") if _given(oauth2, f"{secret}_{kind}")]
    if len(sources) == 2:
        return [f"{name}.oauth2: both {secret}_env and {secret}_file are set; keep only one"]
    if required and not sources:
        label = secret.replace("_", " ")
        return [f"{name}.oauth2.{secret}_env: required when provider is {provider}; write "
                f"{secret}_env: PARKDESK_{name.upper()}_{secret.upper()} and set that "
                f"environment variable to the {label}, or write {secret}_file: "
                f"{name}-{secret.replace('_', '-')}.txt (never the {label} itself)"]
    return []


def _password_problems(name: str, backend: str, section: dict) -> list[str]:
    model = SECTION_MODELS[name]
    if not issubclass(model, PasswordSource) or backend != model.server_backend:
        return []
    if section.get("auth") == "oauth2":
        return []  # the login uses an access token; see _oauth2_problems
    if any(str(key).casefold() in PASSWORD_KEYS for key in section):
        return []  # a password written in the file gets its own message
    sources = [key for key in ("password_env", "password_file") if _given(section, key)]
    if len(sources) == 2:
        return [f"{name}: both password_env and password_file are set; keep only one"]
    needs_login = backend == "imap" or _given(section, "username")
    if needs_login and not sources:
        return [f"{name}.password_env: required when {name}.backend is {backend}; write "
                f"password_env: {model.example_env} and set that environment variable to the "
                f"password, or write password_file: {model.example_file}"]
    if sources and not needs_login:
        return [f"{name}.{sources[0]}: a password is set but {name}.username is not; "
                f"add username, or remove {sources[0]} to send without logging in"]
    return []


def find_reference_problems(data: dict) -> list[str]:
    problems = []
    department_keys = _unique_keys(data, "departments", problems)
    category_keys = _unique_keys(data, "categories", problems)
    priority_keys = _unique_keys(data, "priorities", problems)
    if isinstance(data.get("departments"), (list, tuple)):
        for index, category in enumerate(_entries(data.get("categories"))):
            department = _mapping(category).get("department")
            if isinstance(department, str):
                problems += _dangling(f"categories[{index}].department", department,
                                      department_keys, "department")
    intake = _mapping(data.get("intake"))
    for key, section, keys, kind in (("default_category", "categories", category_keys, "category"),
                                     ("default_priority", "priorities", priority_keys, "priority")):
        if isinstance(intake.get(key), str) and isinstance(data.get(section), (list, tuple)):
            problems += _dangling(f"intake.{key}", intake[key], keys, kind)
    return problems


def _unique_keys(data: dict, name: str, problems: list[str]) -> list[str]:
    first_index: dict[str, int] = {}
    for index, entry in enumerate(_entries(data.get(name))):
        key = _mapping(entry).get("key")
        if not isinstance(key, str):
            continue
        if key in first_index:
            problems.append(f"{name}[{index}].key: '{key}' is already the key of "
                            f"{name}[{first_index[key]}]; each key must be different")
        else:
            first_index[key] = index
    return list(first_index)


def _dangling(path: str, value: str, keys: list[str], kind: str) -> list[str]:
    if not keys or value.strip() in keys:
        return []  # no keys at all is reported on its own
    guess = difflib.get_close_matches(value, keys, n=1, cutoff=0.6)
    if guess:
        return [f"{path}: {_quote(value)} is not a {kind} key (did you mean '{guess[0]}'?)"]
    return [f"{path}: {_quote(value)} is not a {kind} key; the {kind} keys are {', '.join(keys)}"]


# --- pydantic errors in plain words ----------------------------------------------------------

PASSWORD_KEYS = ("password", "passwd", "pass")
TYPE_PHRASES = {
    "string_type": "must be text (put it in quotes if it looks like a number)",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "tuple_type": "must be a list (one '- item' per line)",
    "list_type": "must be a list (one '- item' per line)",
    "model_type": "must be a section of 'key: value' lines",
    "model_attributes_type": "must be a section of 'key: value' lines",
    "dict_type": "must be a section of 'key: value' lines",
    "path_type": "must be a file or folder path",
}


def format_key_path(loc: tuple) -> str:
    """``('departments', 2, 'head')`` -> ``departments[2].head``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "config"


def _model_of(annotation: Any) -> Any:
    """The settings class inside ``X | None``, ``tuple[X, ...]`` or ``Annotated[X, ...]``."""
    while True:
        origin = get_origin(annotation)
        if origin in (Union, types.UnionType):
            annotation = next(arg for arg in get_args(annotation) if arg is not type(None))
        elif origin in (tuple, list, Annotated):
            annotation = get_args(annotation)[0]
        else:
            return annotation


def _target_at(loc: tuple) -> tuple[Any, Any]:
    """What sits at ``loc`` (its type; a settings class for a section) and its field, or Nones."""
    target: Any = Config
    field = None
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(target, type) and issubclass(target, BaseModel)):
            return None, None
        field = target.model_fields.get(part)
        if field is None:
            return None, None
        target = _model_of(field.annotation)
    return target, field


def _allowed_keys(loc: tuple) -> list[str]:
    target, _ = _target_at(loc)
    if isinstance(target, type) and issubclass(target, BaseModel):
        return list(target.model_fields)
    return []


def describe_unknown_key(loc: tuple) -> str:
    path, key = format_key_path(loc), str(loc[-1])
    parent = tuple(part for part in loc[:-1] if not isinstance(part, int))
    if key.casefold() in PASSWORD_KEYS and parent and parent[-1] in ("mailbox", "smtp"):
        model = SECTION_MODELS[parent[-1]]
        return (f"{path}: passwords must not be written in config.yaml; put it in an environment "
                f"variable and write password_env: {model.example_env}, or in a file and write "
                f"password_file: {model.example_file} (a path relative to config.yaml's folder)")
    if parent and parent[-1] == "oauth2" and key in (*OAUTH2_SECRETS, "access_token"):
        secret = "refresh_token" if key == "access_token" else key
        return (f"{path}: secrets must not be written in config.yaml; put it in an environment "
                f"variable and write {secret}_env: PARKDESK_{secret.upper()}, or in a file and "
                f"write {secret}_file: {secret.replace('_', '-')}.txt")
    allowed = _allowed_keys(loc[:-1])
    guess = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if guess:
        return f"{path}: unknown key (did you mean '{guess[0]}'?)"
    if allowed:
        return f"{path}: unknown key; the keys allowed here are {', '.join(allowed)}"
    return f"{path}: unknown key"


def describe_error(error: dict) -> str:
    """One pydantic error as one line for park staff: key path, what is wrong, what is expected."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx") or {}
    path = format_key_path(loc)
    if kind == "extra_forbidden":
        return describe_unknown_key(loc)
    if kind == VALUE_PROBLEM:
        return f"{path}: {ctx['problem']}"
    if kind == "value_error" and "reason" in ctx and "email" in error.get("msg", ""):
        reason = str(ctx["reason"]).rstrip(".")
        reason = reason[:1].lower() + reason[1:]
        return f"{path}: {_quote(error['input'])} is not an email address ({reason})"
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"{path}: must be one of {', '.join(options)}"
    _, field = _target_at(loc)
    expected = f"; expected {field.description}" if field is not None and field.description else ""
    if kind == "missing":
        return f"{path}: is missing{expected}"
    if error.get("input", "") is None and kind in TYPE_PHRASES:
        return f"{path}: has no value{expected}"
    if kind in TYPE_PHRASES:
        return f"{path}: {TYPE_PHRASES[kind]}"
    if kind == "string_too_short":
        return f"{path}: must not be empty{expected}"
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return f"{path}: needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}{expected}"
    bounds = {"greater_than": ("greater than", "gt"), "greater_than_equal": ("at least", "ge"),
              "less_than": ("less than", "lt"), "less_than_equal": ("at most", "le")}
    if kind in bounds:
        words, name = bounds[kind]
        return f"{path}: must be {words} {ctx.get(name)}{expected}"
    return f"{path}: {error.get('msg', 'is not valid')}{expected}"


def describe_errors(errors: list[dict]) -> list[str]:
    problems: list[str] = []
    for error in errors:
        if error["type"] == CONSISTENCY_PROBLEMS:
            problems += error["ctx"]["problems"]
        else:
            problems.append(describe_error(error))
    return problems


# --- reading the file ------------------------------------------------------------------------

class _DuplicateKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, remembering keys written twice in one section (YAML keeps the last)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first_line:
                self.duplicates.append(
                    f"line {line}: key '{key_node.value}' is written twice in the same section "
                    f"(first on line {first_line[key_node.value]}); keep only one")
            else:
                first_line[key_node.value] = line
        return super().construct_mapping(node, deep)


def read_yaml(text: str) -> tuple[Any, list[str]]:
    """Parse YAML text; return the data and the duplicate-key problems. Syntax errors -> problems."""
    loader = _DuplicateKeyLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = exc.problem or exc.context or "unreadable text"
        hint = ("use spaces to indent, not tabs" if "\\t" in problem
                else "check the indentation, the colons and the quotes near there")
        raise ConfigError([f"{where}the YAML cannot be read ({problem}); {hint}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError([f"the YAML cannot be read ({exc})"]) from None
    finally:
        loader.dispose()


STARTER_HINT = ("run 'parkdesk init' to write a starter config there, or copy the example "
                "config.yaml that comes with ParkDesk and edit it")


def read_config_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found; {STARTER_HINT}"], path.name) from None
    except OSError as exc:
        raise ConfigError([f"{path}: cannot be read ({exc.strerror})"], path.name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError([f"{path}: line {line} is not UTF-8 text; save the file with "
                           f"the encoding UTF-8"], path.name) from None
    return text


def in_file_order(problems: Iterable[str]) -> list[str]:
    """Problems sorted by section, in the order sections are described in config.yaml."""
    sections = list(Config.model_fields)

    def rank(problem: str) -> tuple[int, int]:
        line = re.match(r"line (\d+)", problem)
        if line:
            return -1, int(line.group(1))
        head = re.match(r"[A-Za-z_]+", problem)
        section = head.group() if head else ""
        return (sections.index(section) if section in sections else len(sections)), 0

    return sorted(problems, key=rank)


def parse_config(data: Any, *, config_dir: str | os.PathLike | None = None,
                 source_name: str = DEFAULT_CONFIG_NAME, known_problems: Iterable[str] = ()) -> Config:
    """Validate parsed YAML (a dict) into a Config, or raise ConfigError listing every problem.

    Relative paths are taken from ``config_dir`` (default: the current folder);
    ``known_problems`` (found while reading the file) are reported with the rest.
    """
    problems = list(known_problems)
    if not isinstance(data, dict):
        found = {list: "a list", str: "a single line of text", type(None): "nothing"}.get(
            type(data), f"a single value ({type(data).__name__})")
        problems.append(f"the file must be made of sections such as 'park:' and 'mailbox:' "
                        f"(key: value lines); found {found}")
        raise ConfigError(problems, source_name)
    context = {"config_dir": Path(config_dir) if config_dir is not None else Path.cwd(),
               "source_name": source_name}
    try:
        config = Config.model_validate(data, context=context)
    except ValidationError as exc:
        errors = exc.errors()
        problems += describe_errors(errors)
        if not any(error["type"] == CONSISTENCY_PROBLEMS for error in errors):
            problems += find_consistency_problems(data)
        raise ConfigError(in_file_order(dict.fromkeys(problems)), source_name) from None
    if problems:
        raise ConfigError(in_file_order(problems), source_name)
    return config


def load_config(path: str | os.PathLike = DEFAULT_CONFIG_NAME) -> Config:
    """Read and check the config file; raise ConfigError with every problem found."""
    path = Path(path).expanduser().absolute()
    text = read_config_text(path)
    try:
        data, duplicates = read_yaml(text)
    except ConfigError as exc:
        raise ConfigError(exc.problems, path.name) from None
    if data is None:
        raise ConfigError([f"{path}: the file is empty; {STARTER_HINT}"], path.name)
    return parse_config(data, config_dir=path.parent, source_name=path.name,
                        known_problems=duplicates)
