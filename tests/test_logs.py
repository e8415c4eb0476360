"""Log lines (text and JSON, with reference and Message-ID) and the redaction of secrets."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import pytest

from daemon import logs
from daemon.config import MailboxConfig, SmtpConfig
from daemon.register.google_sheet import load_service_account
from tests.sheets_emulator.auth import write_service_account_key


@pytest.fixture(autouse=True)
def no_secrets_left():
    logs.forget_secrets()
    yield
    logs.forget_secrets()


@pytest.fixture
def logged():
    """setup_logging into a buffer; returns (buffer, set format); the handler is removed after."""
    buffer = io.StringIO()
    handlers = []

    def use(log_format: str = "text", verbose: bool = True):
        buffer.seek(0)
        buffer.truncate()
        handlers.append(logs.setup_logging(verbose=verbose, log_format=log_format, stream=buffer))
        return buffer

    saved = logging.getLogger().level
    yield use
    for handler in handlers:
        logging.getLogger().removeHandler(handler)
    logging.getLogger().setLevel(saved)


log = logging.getLogger("parkdesk.test")


# --- the lines ---------------------------------------------------------------------------------

def test_json_lines_parse_and_carry_reference_and_message_id(logged):
    buffer = logged("json")
    log.info("registered a complaint from %s", "wang@tenant.example",
             extra=logs.about("C-260514-007", "<a1@tenant.example>"))
    log.warning("reply for %s\nsecond line", "C-1", extra=logs.about(reference="C-260514-008"))
    log.debug("no reference here")
    first, second, third = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert first == {"time": first["time"], "level": "INFO", "logger": "parkdesk.test",
                     "message": "registered a complaint from wang@tenant.example",
                     "reference": "C-260514-007", "message_id": "<a1@tenant.example>"}
    moment = datetime.fromisoformat(first["time"])
    assert moment.utcoffset() is not None  # ISO 8601 with the offset
    assert abs((moment - datetime.now().astimezone()).total_seconds()) < 60
    assert second["reference"] == "C-260514-008" and "message_id" not in second
    assert second["message"] == "reply for C-1\nsecond line" and second["level"] == "WARNING"
    assert third["level"] == "DEBUG" and "reference" not in third


def test_json_line_with_a_traceback_is_one_valid_line(logged):
    buffer = logged("json")
    try:
        raise RuntimeError("the mail server went away")
    except RuntimeError:
        log.exception("message uid %s failed", 7, extra=logs.about(message_id="<m@x>"))
    [line] = buffer.getvalue().splitlines()
    entry = json.loads(line)
    assert entry["message"] == "message uid 7 failed" and entry["message_id"] == "<m@x>"
    assert entry["exception"].startswith("Traceback (most recent call last):")
    assert entry["exception"].endswith("RuntimeError: the mail server went away")


def test_text_lines_are_one_per_event_with_the_tags(logged):
    buffer = logged("text")
    log.info("sent to %s", "x@y.example", extra=logs.about("C-1", "<id@park>"))
    log.info("two\nlines")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("failed")
    first, second, third = buffer.getvalue().splitlines()
    when, rest = first[:25], first[26:]
    assert datetime.fromisoformat(when).utcoffset() is not None
    assert rest == "INFO parkdesk.test: [C-1 <id@park>] sent to x@y.example"
    assert second.endswith("INFO parkdesk.test: two | lines")
    assert third.endswith("ZeroDivisionError: division by zero")
    assert "failed | Traceback (most recent call last): | " in third


def test_about_leaves_out_what_is_missing():
    assert logs.about() == {}
    assert logs.about("", None) == {}
    assert logs.about("C-1") == {"reference": "C-1"}
    assert logs.about(message_id="<a@b>") == {"message_id": "<a@b>"}


def test_setup_logging_replaces_its_own_handler_and_sets_the_level(logged):
    logged("text", verbose=False)
    buffer = logged("json", verbose=False)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_parkdesk", False)]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.INFO
    assert logging.getLogger("imapclient").level == logging.WARNING
    log.debug("hidden")
    log.info("shown")
    assert [json.loads(line)["message"] for line in buffer.getvalue().splitlines()] == ["shown"]


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="text, json"):
        logs.setup_logging(log_format="xml")


# --- redaction -----------------------------------------------------------------------------------

def test_registered_secret_is_masked_in_every_spelling():
    secret = 'pä"ss\\word 7'
    logs.register_secret(secret)
    assert logs.redact(f"login with {secret} now") == "login with *** now"
    assert logs.redact(repr(secret)) == "'***'"
    assert "7" not in logs.redact(repr(secret.encode()))  # b'p\xc3\xa4\"ss...'
    assert logs.redact(json.dumps({"x": secret})) == '{"x": "***"}'
    assert logs.redact("a=p%C3%A4%22ss%5Cword%207&b=1") == "a=***&b=1"


def test_short_values_are_not_registered_and_none_is_ignored():
    logs.register_secret("abc")
    logs.register_secret(None)
    logs.register_secret(b"bytes-secret")
    assert logs.redact("abc abc") == "abc abc"
    assert logs.redact("x bytes-secret y") == "x *** y"


def test_every_line_of_a_registered_private_key_is_masked(tmp_path):
    key_path = write_service_account_key("http://127.0.0.1:9", "robot@x.iam.gserviceaccount.com",
                                         tmp_path / "key.json", register=False)
    key = json.loads(key_path.read_text())
    load_service_account(key_path)  # registers the key and its id, as it reads them
    lines = [line for line in key["private_key"].splitlines() if not line.startswith("-----")]
    for line in lines:
        assert logs.redact(f"x {line} y") == "x *** y"
    assert logs.redact(f"kid {key['private_key_id']}") == "kid ***"
    assert logs.redact(repr(key)).count(key["private_key_id"]) == 0


def test_config_registers_passwords_as_it_reads_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PARKDESK_TEST_IMAP_PW", "imap-pass-123")
    mailbox = MailboxConfig.model_validate({"host": "h", "security": "ssl", "username": "u",
                                            "password_env": "PARKDESK_TEST_IMAP_PW"})
    (tmp_path / "smtp.txt").write_text("smtp-pass-456\n", encoding="utf-8")
    smtp = SmtpConfig.model_validate({"host": "h", "security": "ssl", "username": "u",
                                      "from_address": "a@park.test",
                                      "password_file": str(tmp_path / "smtp.txt")})
    assert logs.redact("imap-pass-123 smtp-pass-456") == "imap-pass-123 smtp-pass-456"
    assert mailbox.password() == "imap-pass-123" and smtp.password() == "smtp-pass-456"
    assert logs.redact("imap-pass-123 smtp-pass-456") == "*** ***"


@pytest.mark.parametrize("text, expected", [
    ("Authorization: Bearer abc.def-ghi", "Authorization: ***"),
    ("{'Authorization': 'Basic dXNlcjpwYXNz', 'Accept': 'x'}", "{'Authorization': '***', 'Accept': 'x'}"),
    ("proxy-authorization=Negotiate xyz", "proxy-authorization=***"),
    ("sent bearer QWERTYUIOP123456 to it", "sent bearer *** to it"),
    ("token ya29.a0AfH6SMBx-y_z.1 used", "token *** used"),
    ("refresh 1//0gAbCdEfGhIjKlMnOpQrStUv left", "refresh *** left"),
    ("jwt eyJhbGciOi.eyJpc3MiOiJ4.c2lnbmF0dXJl end", "jwt *** end"),
    ('{"access_token": "secret-token-1", "expires_in": 3599}', '{"access_token": "***", "expires_in": 3599}'),
    ("grant_type=x&assertion=abc123&scope=y", "grant_type=x&assertion=***&scope=y"),
    ("client_secret=s3cr3t password: hunter22", "client_secret=*** password: ***"),
    ("key -----BEGIN PRIVATE KEY-----\nMIIEv\nAAA=\n-----END PRIVATE KEY----- done", "key *** done"),
    ('"-----BEGIN RSA PRIVATE KEY-----\\nMIIEv\\nAAA=\\n-----END RSA PRIVATE KEY-----\\n"', '"***\\n"'),
    ("the password in PARKDESK_IMAP_PASSWORD is wrong", "the password in PARKDESK_IMAP_PASSWORD is wrong"),
])
def test_credentials_are_masked_by_their_shape(text, expected):
    assert logs.redact(text) == expected


def test_filter_masks_arguments_traceback_and_extras_without_touching_the_originals():
    logs.register_secret("pw-987654")
    headers = {"Authorization": "Bearer tok-1234567", "User-Agent": "gspread"}
    try:
        raise ValueError("login pw-987654 refused")
    except ValueError:
        import sys
        record = logging.LogRecord("google", logging.DEBUG, __file__, 1, "using %s", ("pw-987654",),
                                   sys.exc_info())
    record.httpRequest = {"headers": headers, "body": {"assertion": "eyJx.eyJy.z"},
                          "url": "http://x/?access_token=abcdefgh"}
    assert logs.RedactingFilter().filter(record) is True
    assert record.getMessage() == "using ***"
    assert "pw-987654" not in record.exc_text and "ValueError: login *** refused" in record.exc_text
    assert record.httpRequest == {"headers": {"Authorization": "***", "User-Agent": "gspread"},
                                  "body": {"assertion": "***"}, "url": "http://x/?access_token=***"}
    assert headers["Authorization"] == "Bearer tok-1234567"  # the request's own headers untouched
    assert logs.RedactingFilter().filter(record) is True  # a second handler: no double work
    assert record.getMessage() == "using ***"


def test_secret_reaches_no_handler_output(logged):
    buffer = logged("text")
    logs.register_secret("mailbox-password-1")
    logging.getLogger("imapclient.imaplib").warning("> b'A1 LOGIN user \"%s\"'", "mailbox-password-1")
    log.error("failed: %r", {"password": "mailbox-password-1"})
    out = buffer.getvalue()
    assert "mailbox-password-1" not in out
    assert out.count("***") == 2


def test_only_recent_short_lived_tokens_are_remembered_but_passwords_always():
    from daemon.logs import SHORT_LIVED_KEPT, _secrets, forget_secrets, register_secret

    forget_secrets()
    register_secret("lasting-password-1")
    tokens = [f"token-{n:05d}-abcdef" for n in range(2 * SHORT_LIVED_KEPT)]
    for token in tokens:
        register_secret(token, short_lived=True)
    assert "lasting-password-1" in _secrets
    assert tokens[-1] in _secrets and tokens[0] not in _secrets  # the oldest were let go
    assert _secrets.mask(f"pw lasting-password-1 tok {tokens[-1]}") == "pw *** tok ***"
    register_secret(tokens[-1])  # a token later known to be lasting stays
    for n in range(2 * SHORT_LIVED_KEPT):
        register_secret(f"other-{n:05d}-abcdef", short_lived=True)
    assert tokens[-1] in _secrets and "lasting-password-1" in _secrets
