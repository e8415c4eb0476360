"""Logging: one line per event, for people (text) or machines (JSON lines); secrets never written.

``setup_logging`` puts one handler on the root logger. Each line carries the time (ISO 8601 with
the UTC offset), the level, the logger (the concern: ``parkdesk.intake``, ``parkdesk.smtp`` ...)
and the message, and the complaint's reference and the email's Message-ID when the event has
them: a call site passes them with ``extra=about(reference, message_id)``::

    log.info("registered a complaint from %s", sender, extra=about(reference, message_id))

    text: 2026-05-14 09:00:01+08:00 INFO parkdesk.intake [C-260514-007 <a1@tenant.example>] registered ...
    json: {"time": "2026-05-14T09:00:01.123+08:00", "level": "INFO", "logger": "parkdesk.intake",
           "message": "registered ...", "reference": "C-260514-007", "message_id": "<a1@tenant.example>"}

Secrets: whatever reads one (the mailbox and SMTP passwords in ``daemon.config``, the
service-account key in ``daemon.register.service_account``, OAuth tokens and client secrets) calls
``register_secret`` with it. ``RedactingFilter`` sits on the handler and, before anything is
written, replaces every registered secret (also as it looks escaped in a repr, in JSON or in a
URL, and line by line for a multi-line key) and everything that looks like a credential
(``Authorization:`` values, bearer tokens, Google access tokens, JWTs, PEM private keys,
``password=`` / ``"access_token": ...`` pairs) with ``***``, in the message, the traceback and
any extra attributes a library attached (google-auth attaches its request headers).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import IO, Any
from urllib.parse import quote, quote_plus

MASK = "***"
LOG_FORMATS = ("text", "json")
SHORT_LIVED_KEPT = 200  # spellings of recent access tokens kept (about 30 tokens)
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary text; no real secret is that short
LIBRARY_LOGGERS = ("imapclient", "urllib3", "google", "gspread", "mail.log", "msal", "requests_oauthlib")

# Record attributes every LogRecord has; anything else was attached with ``extra=``.
STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}

# Keys whose values are credentials, wherever they appear (headers, JSON, forms, reprs).
SENSITIVE_KEYS = ("authorization", "proxy-authorization", "access_token", "accesstoken",
                  "refresh_token", "id_token", "client_secret", "assertion", "private_key_id",
                  "private_key", "password", "passwd", "secret", "token", "auth", "x-goog-api-key")

CREDENTIAL_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A PEM private key, real line breaks or escaped ones ("\n" in a repr or in JSON).
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|\Z)",
                re.DOTALL), MASK),
    # Header lines and dict entries: Authorization: Bearer x / 'Authorization': 'Basic y'
    (re.compile(r"(?i)(\b(?:proxy-)?authorization\b['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+"),
     r"\1" + MASK),
    # key=value and "key": "value" pairs of the sensitive keys above.
    (re.compile(r"(?i)(['\"]?\b(?:access_?token|refresh_token|id_token|client_secret|assertion"
                r"|private_key_id|private_key|password|passwd|client_assertion)\b['\"]?"
                r"\s*[:=]\s*['\"]?)(?!\*\*\*)[^'\"&\s,}]+"), r"\1" + MASK),
    (re.compile(r"(?i)\b(bearer)\s+(?!\*\*\*)[A-Za-z0-9\-._~+/]+=*"), r"\1 " + MASK),
    (re.compile(r"\bya29\.[0-9A-Za-z_\-.]+"), MASK),               # Google access tokens
    (re.compile(r"\b1//0[0-9A-Za-z_\-]{20,}"), MASK),              # Google refresh tokens
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*"), MASK),  # JWTs
)


# --- the secrets ParkDesk knows ---------------------------------------------------------------

class _SecretRegistry:
    """The registered secrets and one pattern matching all of them (longest first).

    Lasting secrets (passwords, keys) are kept for the life of the process. Short-lived ones
    (access tokens, renewed every hour or so) are kept for the last ``SHORT_LIVED_KEPT``
    registrations only, so a daemon running for months does not grow a pattern of thousands
    of expired tokens; the token-shaped patterns above still mask older ones. The pattern is
    compiled when a line is next masked, not at each registration.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lasting: set[str] = set()
        self._short_lived: OrderedDict[str, None] = OrderedDict()
        self._pattern: re.Pattern[str] | None = None
        self._stale = False

    def add(self, values: Iterable[str], *, short_lived: bool = False) -> None:
        with self._lock:
            fresh = {v for v in values if len(v) >= MIN_SECRET_LENGTH} - self._lasting
            if short_lived:
                fresh -= set(self._short_lived)
                for value in sorted(fresh):
                    self._short_lived[value] = None
                while len(self._short_lived) > SHORT_LIVED_KEPT:
                    self._short_lived.popitem(last=False)
            else:
                self._lasting |= fresh
                for value in fresh:
                    self._short_lived.pop(value, None)
            self._stale = self._stale or bool(fresh)

    def clear(self) -> None:
        with self._lock:
            self._lasting, self._short_lived = set(), OrderedDict()
            self._pattern, self._stale = None, False

    def _current_pattern(self) -> re.Pattern[str] | None:
        if self._stale:
            with self._lock:
                values = sorted(self._lasting | set(self._short_lived), key=len, reverse=True)
                self._pattern = (re.compile("|".join(re.escape(v) for v in values))
                                 if values else None)
                self._stale = False
        return self._pattern

    def mask(self, text: str) -> str:
        pattern = self._current_pattern()
        return pattern.sub(MASK, text) if pattern is not None else text

    def __contains__(self, value: str) -> bool:
        return value in self._lasting or value in self._short_lived


_secrets = _SecretRegistry()


def spellings(value: str) -> set[str]:
    """The ways ``value`` can appear in a log line: as is, escaped in a str or bytes repr, in
    JSON, in a URL or form. ``'pa"ss'`` -> ``{'pa"ss', 'pa\\"ss', 'pa%22ss', ...}``."""
    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1],
             json.dumps(value, ensure_ascii=False)[1:-1],
             quote(value, safe=""), quote_plus(value, safe="")}
    try:
        forms.add(repr(value.encode("utf-8"))[2:-1])
    except UnicodeEncodeError:
        pass
    return forms


def register_secret(value: str | bytes | None, *, short_lived: bool = False) -> None:
    """From now on ``value`` is written as ``***`` in every log line.

    Call it where a secret is read (a password from the environment or a file, a token when it
    is issued, a key file when it is loaded). A multi-line value (a PEM private key) is also
    registered line by line, so no single line of it can appear either. Values shorter than
    ``MIN_SECRET_LENGTH`` characters are ignored. ``short_lived`` (an access token): only
    the most recent ones are remembered (see ``_SecretRegistry``).
    """
    if value is None:
        return
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    parts = {value.strip(), value}
    if "\n" in value:
        parts |= {line.strip() for line in value.splitlines()
                  if line.strip() and not line.strip().startswith("-----")}
    forms: set[str] = set()
    for part in parts:
        forms |= spellings(part)
    _secrets.add(forms, short_lived=short_lived)


def forget_secrets() -> None:
    """Forget every registered secret (for tests)."""
    _secrets.clear()


def is_registered(value: str) -> bool:
    return value in _secrets


def redact(text: str) -> str:
    """``text`` with every registered secret and everything that looks like a credential
    replaced by ``***``."""
    if not text:
        return text
    text = _secrets.mask(text)
    for pattern, replacement in CREDENTIAL_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` (a str, or dicts/lists/tuples of them) with secrets masked; values
    under a sensitive key (``Authorization``, ``access_token`` ...) are masked whole."""
    if depth > 8:
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bytes):
        return redact(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {key: MASK if str(key).lower() in SENSITIVE_KEYS and value[key]
                else redact_value(value[key], depth + 1) for key in value}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(item, depth + 1) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


# --- carrying the reference and the Message-ID ------------------------------------------------

def about(reference: str | None = None, message_id: str | None = None) -> dict[str, str]:
    """The ``extra=`` for a log call about one complaint and/or one email; empty values are
    left out, so ``about("", None)`` is ``{}``."""
    extra: dict[str, str] = {}
    if reference:
        extra["reference"] = str(reference)
    if message_id:
        extra["message_id"] = str(message_id)
    return extra


# --- the filter and the formats ---------------------------------------------------------------

class RedactingFilter(logging.Filter):
    """Masks secrets in a record before its handler writes it: the message (formatted once, so
    arguments are covered), the traceback, the stack and every extra attribute."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_parkdesk_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not hide the event
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in STANDARD_ATTRIBUTES and not name.startswith("_parkdesk"):
                setattr(record, name, redact_value(value))
        record._parkdesk_redacted = True
        return True


def local_time(record: logging.LogRecord) -> datetime:
    """When the record was made, in this machine's time zone (so the offset is shown)."""
    return datetime.fromtimestamp(record.created, tz=timezone.utc).astimezone()


def one_line(text: str) -> str:
    return " | ".join(part for part in text.replace("\r\n", "\n").split("\n") if part.strip())


class TextFormatter(logging.Formatter):
    """``2026-05-14 09:00:01+08:00 INFO parkdesk.intake [C-260514-007 <id@x>] message``; a
    traceback is joined onto the same line with `` | ``."""

    def format(self, record: logging.LogRecord) -> str:
        when = local_time(record).isoformat(sep=" ", timespec="seconds")
        tags = " ".join(str(getattr(record, key)) for key in ("reference", "message_id")
                        if getattr(record, key, None))
        line = f"{when} {record.levelname} {record.name}: " + (f"[{tags}] " if tags else "")
        line += record.getMessage()
        trace = self.trailer(record)
        if trace:
            line += " | " + trace
        return one_line(redact(line))

    def trailer(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        parts = [record.exc_text or "", self.formatStack(record.stack_info) if record.stack_info else ""]
        return "\n".join(part for part in parts if part)


class JsonFormatter(TextFormatter):
    """One JSON object per line: time, level, logger, message, and reference, message_id,
    exception when the event has them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": local_time(record).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key in ("reference", "message_id"):
            if getattr(record, key, None):
                entry[key] = redact(str(getattr(record, key)))
        trace = self.trailer(record)
        if trace:
            entry["exception"] = redact(trace)
        # Each value is redacted before encoding, so the line stays valid JSON.
        return json.dumps(entry, ensure_ascii=False)


FORMATTERS = {"text": TextFormatter, "json": JsonFormatter}


def make_handler(log_format: str = "text", stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler writing ``log_format`` lines, with the redacting filter on it."""
    if log_format not in FORMATTERS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(FORMATTERS[log_format]())
    handler.addFilter(RedactingFilter())
    handler._parkdesk = True  # type: ignore[attr-defined]
    return handler


def setup_logging(verbose: bool = False, log_format: str = "text",
                  stream: IO[str] | None = None) -> logging.Handler:
    """Log ParkDesk's events to ``stream`` (stderr) as ``log_format`` ("text" or "json").

    ``verbose``: DEBUG instead of INFO. The libraries' own loggers (imapclient, urllib3,
    google-auth, gspread) stay at WARNING; whatever they write is still redacted. Calling it
    again replaces the handler an earlier call installed. Returns the handler.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_parkdesk", False)]:
        root.removeHandler(old)
    handler = make_handler(log_format, stream)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for library in LIBRARY_LOGGERS:
        logging.getLogger(library).setLevel(logging.WARNING)
    return handler
