"""classify_automated: bounces, auto-replies and list mail never get an auto-reply.

Unit tests on messages built here (the header facts in ../shared/mail/README.md), then the
real corpora: every sisimai bounce and out-of-office reply, and the reply corpora's ordinary
messages, which must not be taken for automated mail.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from pathlib import Path

import pytest

from daemon.parsing import UnparseableMessage, parse_message
from daemon.rules.automated import Automated, AutomatedKind, classify_automated

BOUNCE, AUTO_REPLY, LIST = AutomatedKind.BOUNCE, AutomatedKind.AUTO_REPLY, AutomatedKind.LIST
MAIL = Path(__file__).resolve().parent.parent.parent / "shared" / "mail"
needs_corpora = pytest.mark.skipif(
    not MAIL.is_dir(), reason=f"real-mail corpora not found at {MAIL} (../shared/mail from the repo root)")


def utf8_word(text: str) -> str:
    return "=?utf-8?B?" + base64.b64encode(text.encode("utf-8")).decode("ascii") + "?="


def message(*headers: tuple[str, str], body: str = "body", content_type: str = "text/plain; charset=utf-8"):
    lines = [f"{name}: {value}" for name, value in headers]
    if not any(name.lower() == "from" for name, _ in headers):
        lines.append("From: Tenant <tenant@example.com>")
    if not any(name.lower() == "subject" for name, _ in headers):
        lines.append("Subject: complaint")
    lines.append(f"Content-Type: {content_type}")
    return parse_message(("\r\n".join(lines) + "\r\n\r\n" + body).encode("utf-8"))


def kind_of(parsed) -> AutomatedKind | None:
    found = classify_automated(parsed)
    if found is not None:
        assert isinstance(found, Automated) and found.reason
    return found.kind if found else None


REPORT_BODY = (
    "--R\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example\r\n\r\n"
    "Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    "--R--\r\n"
)


@pytest.mark.parametrize("parsed, kind", [
    # Exim: a bounce that also says Auto-Submitted: auto-replied is a bounce.
    (message(("From", "Mail Delivery System <Mailer-Daemon@mx.example.com>"),
             ("Subject", "Mail delivery failed: returning message to sender"),
             ("Auto-Submitted", "auto-replied"), ("X-Failed-Recipients", "x@example.com")), BOUNCE),
    (message(("From", "someone@example.com"), ("Auto-Submitted", "auto-replied"),
             content_type='multipart/report; report-type=delivery-status; boundary="R"', body=REPORT_BODY),
     BOUNCE),
    (message(("From", "postmaster@aliyun.com"), ("Subject", utf8_word("来自postmaster@aliyun.com的退信")),
             content_type='multipart/mixed; boundary="X"',
             body="--X\r\nContent-Type: text/plain\r\n\r\nsorry\r\n--X--\r\n"), BOUNCE),
    (message(("From", "admin@mail.example.cn"), ("Subject", utf8_word("系统退信"))), BOUNCE),
    (message(("From", "mailer-daemon@googlemail.com"), ("Subject", "Delivery Status Notification (Failure)")),
     BOUNCE),
    (message(("From", "MAILER-DAEMON"), ("Subject", "Undelivered Mail Returned to Sender")), BOUNCE),
    (message(("From", "x@example.com"), ("Subject", "Undeliverable: 空调坏了")), BOUNCE),
    (message(("Auto-Submitted", "auto-replied")), AUTO_REPLY),
    (message(("Auto-Submitted", "auto-generated")), AUTO_REPLY),
    (message(("X-Autoreply", "yes")), AUTO_REPLY),
    (message(("X-Autorespond", "Out of office")), AUTO_REPLY),
    (message(("Precedence", "auto_reply")), AUTO_REPLY),
    (message(("Subject", "Automatic reply: complaint"), ("X-MS-Exchange-Inbox-Rules-Loop", "a@example.com"),
             ("X-Auto-Response-Suppress", "All"), ("Return-Path", "<>")), AUTO_REPLY),
    (message(("Subject", utf8_word("自动回复: 空调坏了"))), AUTO_REPLY),
    (message(("Subject", utf8_word("自动回复：您的邮件已收到"))), AUTO_REPLY),
    (message(("Subject", "Out of Office: complaint")), AUTO_REPLY),
    (message(("X-Apple-Action", "VACATION"), ("Subject", "Away until May 5")), AUTO_REPLY),
    (message(("Return-Path", "<>")), AUTO_REPLY),
    (message(("From", "noreply@notify.example.com")), AUTO_REPLY),
    # An out-of-office reply with Precedence: bulk is an auto-reply, not list mail.
    (message(("Auto-Submitted", "auto-replied"), ("Precedence", "bulk")), AUTO_REPLY),
    (message(content_type='multipart/report; report-type=disposition-notification; boundary="R"',
             body="--R\r\nContent-Type: text/plain\r\n\r\nRead.\r\n--R--\r\n"), AUTO_REPLY),
    (message(("List-Id", "<tenants.park.example>")), LIST),
    (message(("List-Unsubscribe", "<mailto:leave@list.example>")), LIST),
    (message(("Precedence", "bulk")), LIST),
    (message(("Precedence", "junk")), LIST),
    (message(("Precedence", "list")), LIST),
])
def test_automated_mail_is_recognised(parsed, kind):
    assert kind_of(parsed) is kind


@pytest.mark.parametrize("parsed", [
    # Outlook asks others not to auto-answer; that does not make its own mail automatic.
    message(("X-Auto-Response-Suppress", "All"), ("Thread-Index", "AdnQ1234"), ("X-Mailer", "Microsoft Outlook 16.0")),
    message(("Auto-Submitted", "no")),
    message(("From", utf8_word("张伟") + " <zhangwei@qq.com>"), ("X-QQ-mid", "bizesmtp1t1715650000t"),
            ("X-Mailer", "QQMail 2.x"), ("Subject", utf8_word("3号楼电梯故障"))),
    message(("Subject", "Re: [C-250514-007] 空调"), ("In-Reply-To", "<c-250514-007@park.example>"),
            ("Return-Path", "<tenant@example.com>")),
    message(("Subject", utf8_word("自动回复太慢了"))),
    message(("Subject", utf8_word("关于退信的问题"))),
    message(("Subject", utf8_word("退信了怎么办？"))),
    message(("Subject", "Automatic doors broken in Building 5")),
    message(("From", "Postmaster General <gm@tenant.example.com>")),
    message(("Precedence", "first-class")),
])
def test_ordinary_mail_is_not_automated(parsed):
    assert classify_automated(parsed) is None


def test_reasons_name_the_sign_found():
    exim = message(("From", "Mailer-Daemon@mx.example.com"), ("Auto-Submitted", "auto-replied"))
    assert classify_automated(exim) == Automated(BOUNCE, "sent by mailer-daemon@mx.example.com")
    assert classify_automated(message(("Precedence", "bulk"))) == Automated(LIST, "Precedence: bulk")


# --- real corpora --------------------------------------------------------------------------

SISIMAI = MAIL / "sisimai_set_of_emails"
# sisimai files we classify differently, and why. All but the last two are still "automated"
# (never answered); only the kind differs.
SISIMAI_KNOWN: dict[str, tuple[AutomatedKind | None, str]] = {
    "arf-26.eml": (AUTO_REPLY, "iCloud unsubscribe notice marked Auto-Submitted: auto-replied"),
    **{f"lhost-amazonses-{n:02d}.eml": (AUTO_REPLY, "Amazon SNS notification from no-reply@; the bounce "
                                                "is only inside its JSON body") for n in (9, 11, 12, 13)},
    "lhost-kddi-01.eml": (AUTO_REPLY, "from no-reply@; Japanese subject メールエラー通知 not a known bounce subject"),
    "lhost-kddi-03.eml": (AUTO_REPLY, "empty Return-Path from no-reply@, subject 'Mail', no report"),
    "lhost-fml-03.eml": (None, "mailing-list software's loop alert from neko-admin@ with no automated header"),
    "lhost-sendmail-14.eml": (None, "a person forwarded a bounce ('Fwd: Returned mail'); a person's mail"),
}


def sisimai_expected(file: str) -> AutomatedKind | None:
    name = file.rsplit("/", 1)[-1]
    if "/not/" in file:
        return None
    return AUTO_REPLY if name.startswith("rfc3834-") else BOUNCE


@needs_corpora
def test_sisimai_bounces_and_auto_replies():
    index = json.loads((SISIMAI / "index.json").read_text(encoding="utf-8"))
    outcome: Counter[tuple] = Counter()
    wrong = []
    for entry in index:
        parsed = parse_message((SISIMAI / entry["file"]).read_bytes())
        got = kind_of(parsed)
        expected = sisimai_expected(entry["file"])
        outcome[(expected, got)] += 1
        name = entry["file"].rsplit("/", 1)[-1]
        if got is expected:
            assert name not in SISIMAI_KNOWN, f"{name} now agrees; remove it from SISIMAI_KNOWN"
        elif SISIMAI_KNOWN.get(name, ("missing",))[0] is not got:
            wrong.append((entry["file"], expected, got, parsed.subject))
    positives = sum(n for (expected, _), n in outcome.items() if expected is not None)
    recognised = sum(n for (expected, got), n in outcome.items() if expected is not None and got is not None)
    exact = sum(n for (expected, got), n in outcome.items() if expected is not None and got is expected)
    false_positives = sum(n for (expected, got), n in outcome.items() if expected is None and got is not None)
    print(f"\nsisimai: {len(index)} messages; automated recognised {recognised}/{positives}, "
          f"exact kind {exact}/{positives}, false positives {false_positives}")
    assert not wrong
    assert outcome[(AUTO_REPLY, AUTO_REPLY)] == 4  # every rfc3834-* out-of-office reply
    assert false_positives == 0


def reply_corpus_files() -> list[Path]:
    roots = ["github_email_reply_parser/emails", "zapier_email_reply_parser/emails",
             "mail_parser_reply/emails", "discourse_email_reply_trimmer/emails", "talon"]
    files = []
    for root in roots:
        for path in sorted((MAIL / root).rglob("*")):
            if path.is_file() and path.suffix != ".json" and path.name != "LICENSE":
                files.append(path)
    return files


@needs_corpora
def test_reply_corpora_are_not_automated():
    checked = empty = 0
    flagged = []
    for path in reply_corpus_files():
        try:
            parsed = parse_message(path.read_bytes())
        except UnparseableMessage:
            empty += 1  # talon's empty-body fixtures
            continue
        checked += 1
        found = classify_automated(parsed)
        if found is not None:
            flagged.append((str(path.relative_to(MAIL)), found))
    print(f"\nreply corpora: {checked} messages checked, {empty} empty, {len(flagged)} false positives")
    assert checked > 150
    assert flagged == []
