"""No secret reaches the logs: a whole run (intake, dispatch, a reply, `parkdesk check` with a
test message) on the real servers with every logger at DEBUG, the libraries' own included
(imapclient's protocol trace, urllib3, google-auth's request logging, gspread).

Everything written is captured three ways: ParkDesk's text lines, its JSON lines, and a dump of
every record's whole ``__dict__`` (what a handler that prints extras would write), all behind
the redacting filter. None may contain the IMAP or SMTP password, any line of the
service-account private key, its private_key_id, or any access token the emulator issued. A
fourth handler without the filter shows that the capture is not blind: it does see credentials.
"""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from zoneinfo import ZoneInfo

import pytest

from daemon import logs
from daemon.check import run_checks

START = datetime(2025, 5, 14, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DEBUG_LOGGERS = ("", "parkdesk", "imapclient", "imapclient.imaplib", "urllib3", "google",
                 "google.auth", "google.auth.transport.requests", "google.oauth2", "gspread",
                 "requests", "mail.log")


class DumpHandler(logging.Handler):
    """Writes every attribute of every record, extras included (``httpRequest`` ...)."""

    def __init__(self, stream: io.StringIO, *, redacting: bool):
        super().__init__(logging.DEBUG)
        self.stream = stream
        if redacting:
            self.addFilter(logs.RedactingFilter())

    def emit(self, record: logging.LogRecord) -> None:
        attributes = dict(vars(record))
        attributes["formatted"] = record.getMessage()
        if record.exc_info:
            attributes["traceback"] = logging.Formatter().formatException(record.exc_info)
        self.stream.write(repr(attributes) + "\n")


class Captured:
    def __init__(self):
        self.text, self.json, self.dump, self.raw = (io.StringIO() for _ in range(4))

    def written(self) -> str:
        return "\n".join(s.getvalue() for s in (self.text, self.json, self.dump))


@pytest.fixture
def captured():
    """Everything logged at DEBUG, the libraries' loggers included; restored afterwards."""
    loggers = {name: logging.getLogger(name) for name in DEBUG_LOGGERS}
    saved = {name: (lg.level, lg.propagate) for name, lg in loggers.items()}
    capture = Captured()
    text_handler = logs.setup_logging(verbose=True, log_format="text", stream=capture.text)
    extra = [logs.make_handler("json", capture.json),
             DumpHandler(capture.dump, redacting=True), DumpHandler(capture.raw, redacting=False)]
    root = logging.getLogger()
    # The raw control handler must see records before any filter rewrote them: put it first.
    root.handlers.insert(0, extra[2])
    for handler in extra[:2]:
        root.addHandler(handler)
    for logger in loggers.values():
        logger.setLevel(logging.DEBUG)
        logger.propagate = True  # google-auth turns propagation off unless "google" is set up
    try:
        yield capture
    finally:
        for handler in (text_handler, *extra):
            root.removeHandler(handler)
        for name, (level, propagate) in saved.items():
            loggers[name].setLevel(level)
            loggers[name].propagate = propagate


def key_secrets(key_path) -> list[str]:
    key = json.loads(key_path.read_text(encoding="utf-8"))
    lines = [line.strip() for line in key["private_key"].splitlines()
             if line.strip() and not line.startswith("-----")]
    assert len(lines) > 10
    return [key["private_key_id"], *lines]


def reply_to(park, sender: str, original: EmailMessage, first_line: str) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = park.complaints
    message["Subject"] = "回复：" + original["Subject"]
    message["Message-ID"] = make_msgid(domain=sender.split("@")[1])
    message["In-Reply-To"] = original["Message-ID"]
    message["References"] = original["Message-ID"]
    message.set_content(f"{first_line}\n\n> {original['Subject']}\n")
    park.bench.send(sender, [park.complaints], message)


def test_a_full_run_at_debug_writes_no_password_key_or_token(park, captured):
    clock = {"now": START}
    issued: set[str] = set()

    def run_once():
        report = park.daemon(now=lambda: clock["now"]).run(once=True)
        issued.update(park.emulator.store.tokens)  # every access token handed out so far
        return report

    # Intake: a complaint, registered and dispatched.
    tenant = park.new_tenant()
    complaint = park.send_complaint(tenant, "3号楼电梯坏了", "电梯停在5楼。")
    [reference] = run_once().registered
    member = park.departments["facilities"]["members"][0]
    [slip] = [message_from_bytes(raw, policy=policy.default) for raw in park.mail_of(member)
              if reference.encode() in raw]
    # A reply: the member signs for it.
    clock["now"] += timedelta(minutes=2)
    reply_to(park, member, slip, "收到")
    assert run_once().notes == 1
    # `parkdesk check` logs in to both servers again and sends a test message.
    results = run_checks(park.config_path, send_test=park.service_center)
    assert all(result.ok for result in results), [r for r in results if not r.ok]
    issued.update(park.emulator.store.tokens)

    secrets = {
        "IMAP/SMTP password": park.bench.password_of(park.complaints),
        **{f"key line {n}": line for n, line in enumerate(key_secrets(park.key_path))},
        **{f"token {n}": token for n, token in enumerate(sorted(issued))},
    }
    assert issued, "the emulator issued no token: the register was not used"
    written = captured.written()

    # The run was really logged, libraries included, and events carry reference and Message-ID.
    for trace in ("imapclient.imaplib", "urllib3.connectionpool", "parkdesk.intake", " LOGIN "):
        assert trace in captured.text.getvalue(), trace
    events = [json.loads(line) for line in captured.json.getvalue().splitlines()]
    [registered] = [e for e in events if e["message"].startswith("registered a complaint")]
    assert registered["reference"] == reference
    assert registered["message_id"] == complaint["Message-ID"]
    assert any(e.get("reference") == reference and e["message"].startswith("slip1 sent to")
               for e in events)

    leaks = [name for name, value in secrets.items() if value in written]
    assert leaks == [], f"written to the logs: {leaks}"
    assert "ya29." not in written and "BEGIN PRIVATE KEY" not in written

    # The control handler, without the filter, does see credentials: the capture is not blind.
    raw = captured.raw.getvalue()
    assert "assertion" in raw and "eyJ" in raw  # google-auth logs the signed JWT it sends
    assert "eyJ" not in written
