"""Is this message a bounce, an auto-reply or list mail? (Such mail never gets an auto-reply.)

An ordered list of small checks, each answering ``Automated(kind, reason)`` or None; the first
answer wins. The order matters: Exim bounces also carry ``Auto-Submitted: auto-replied``, so
delivery reports and MAILER-DAEMON senders are recognised before any auto-reply sign, and an
out-of-office reply that also says ``Precedence: bulk`` is an auto-reply, not list mail.

Signs used (RFC 3834 and what real servers send): multipart/report delivery-status, mail from
MAILER-DAEMON/postmaster, bounce subjects (``Undelivered Mail Returned to Sender``,
``来自postmaster@aliyun.com的退信`` ...); ``Auto-Submitted`` other than ``no``,
``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply``, Exchange's
``X-MS-Exchange-Inbox-Rules-Loop`` and ``Automatic reply:``/``自动回复:`` subjects, iCloud's
``X-Apple-Action: VACATION``, an empty ``Return-Path: <>``, read receipts; ``List-Id``,
``List-Unsubscribe``, ``Precedence: bulk/list/junk``; last, a ``noreply@`` sender (a system
sends it, so nobody would read an answer). ``X-Auto-Response-Suppress`` only asks
others not to auto-answer; it does not make a message automated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from daemon.parsing.message import ParsedMessage


class AutomatedKind(Enum):
    BOUNCE = "bounce"
    AUTO_REPLY = "auto-reply"
    LIST = "list"


@dataclass(frozen=True)
class Automated:
    """What kind of automated mail, and a short reason for the Activity log."""

    kind: AutomatedKind
    reason: str


Check = Callable[[ParsedMessage], "Automated | None"]

_BOUNCE_SENDERS = re.compile(r"^(?:mailer-daemon|mailer_daemon|mailerdaemon|mail-daemon|postmaster|"
                             r"post_master|mail\.delivery\.system|bounce|bounces|nobody-bounce)$")
_BOUNCE_SENDER_NAMES = re.compile(r"^(?:mail delivery (?:system|subsystem)|mailer[- ]daemon|"
                                  r"系统退信|邮件系统|postmaster)$", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"^\s*(?:"
    r"undeliver(?:ed|able)(?: mail| message)?(?: returned to sender)?\b"
    r"|delivery status notification\s*\((?:failure|delay)\)"
    r"|mail delivery fail(?:ed|ure)"
    r"|returned mail\s*:"
    r"|failure notice\b"
    r"|delivery (?:failure|has failed|failed|notification:\s*delivery has failed)"
    r"|mail system error - returned mail"
    r"|non[- ]?deliver(?:y|able)"
    r"|message (?:not delivered|delivery failure|could not be delivered)"
    r"|could not send message\b"
    r"|complaint about message from\b"
    r"|warning: (?:could not send|message .* delayed)"
    r"|系统退信|退信(?:通知)?\s*(?:[:：]|$)"
    r"|来自\S*postmaster\S*的退信"
    r"|邮件(?:投递|发送)失败|无法投递|未能送达|投递失败"
    r")",
    re.IGNORECASE,
)
_NO_REPLY_SENDER = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:[-_.+].*)?$")
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(?:"
    r"automatic reply|auto(?:matic)?[- ]?(?:reply|response|respons|antwort)"
    r"|out of (?:the )?office(?: reply| autoreply)?"
    r"|自动回复|自動回覆|自动答复|自動回復|休假自动回复|外出|不在办公室"
    r"|abwesenheitsnotiz|réponse automatique|respuesta automática|risposta automatica"
    r")\s*[:：]",
    re.IGNORECASE,
)


def delivery_report(message: ParsedMessage) -> Automated | None:
    """A multipart/report (RFC 6522) other than a read receipt: bounce, delay or abuse report."""
    if message.is_report and message.report_type != "disposition-notification":
        return Automated(AutomatedKind.BOUNCE, f"delivery report (multipart/report; {message.report_type})")
    return None


def bounce_sender(message: ParsedMessage) -> Automated | None:
    """Mail from MAILER-DAEMON / postmaster, or with ``X-Failed-Recipients``."""
    local_part = message.from_address.split("@", 1)[0]
    if _BOUNCE_SENDERS.match(local_part):
        return Automated(AutomatedKind.BOUNCE, f"sent by {message.from_address}")
    if not message.from_address and _BOUNCE_SENDER_NAMES.match(message.from_name):
        return Automated(AutomatedKind.BOUNCE, f"sent by {message.from_name}")
    if "x-failed-recipients" in message.headers:
        return Automated(AutomatedKind.BOUNCE, "X-Failed-Recipients header")
    return None


def bounce_subject(message: ParsedMessage) -> Automated | None:
    """Subjects mail servers give to bounces: ``Undelivered Mail Returned to Sender``, ``系统退信``."""
    if _BOUNCE_SUBJECT.match(message.subject):
        return Automated(AutomatedKind.BOUNCE, f"bounce subject {message.subject[:60]!r}")
    return None


def read_receipt(message: ParsedMessage) -> Automated | None:
    """A message disposition notification (RFC 8098): sent by a mail program, not a person."""
    if message.report_type == "disposition-notification":
        return Automated(AutomatedKind.AUTO_REPLY, "read receipt (disposition-notification)")
    return None


def auto_submitted(message: ParsedMessage) -> Automated | None:
    """RFC 3834 ``Auto-Submitted`` with any value but ``no``."""
    value = message.headers.get("auto-submitted")
    if value is not None and value.split(";", 1)[0].strip().lower() not in ("no", ""):
        return Automated(AutomatedKind.AUTO_REPLY, f"Auto-Submitted: {value[:40]}")
    return None


def auto_reply_headers(message: ParsedMessage) -> Automated | None:
    """``X-Autoreply``, ``X-Autorespond``, ``Precedence: auto_reply``, Exchange and iCloud marks."""
    for name in ("x-autoreply", "x-autorespond", "x-autoresponder", "x-auto-reply"):
        value = message.headers.get(name)
        if value is not None and value.strip().lower() not in ("no", "false", "0"):
            return Automated(AutomatedKind.AUTO_REPLY, f"{name} header")
    if _precedence(message) == "auto_reply":
        return Automated(AutomatedKind.AUTO_REPLY, "Precedence: auto_reply")
    if "x-ms-exchange-inbox-rules-loop" in message.headers:
        return Automated(AutomatedKind.AUTO_REPLY, "Exchange inbox rule (X-MS-Exchange-Inbox-Rules-Loop)")
    if message.headers.get("x-apple-action", "").strip().upper() == "VACATION":
        return Automated(AutomatedKind.AUTO_REPLY, "iCloud vacation reply (X-Apple-Action)")
    if message.headers.get("x-autogenerated", "").strip().lower() == "reply":
        return Automated(AutomatedKind.AUTO_REPLY, "X-AutoGenerated: Reply")
    return None


def auto_reply_subject(message: ParsedMessage) -> Automated | None:
    """``Automatic reply:``, ``Auto reply:``, ``Out of Office:``, ``自动回复:`` ..."""
    if _AUTO_REPLY_SUBJECT.match(message.subject):
        return Automated(AutomatedKind.AUTO_REPLY, f"auto-reply subject {message.subject[:60]!r}")
    return None


def empty_return_path(message: ParsedMessage) -> Automated | None:
    """``Return-Path: <>``: the null sender, used only by automatic messages (RFC 3834 §3.1.1)."""
    value = message.headers.get("return-path")
    if value is not None and value.replace(" ", "") == "<>":
        return Automated(AutomatedKind.AUTO_REPLY, "empty Return-Path (<>)")
    return None


def list_mail(message: ParsedMessage) -> Automated | None:
    """``List-Id``, ``List-Unsubscribe``, ``Precedence: bulk/list/junk``."""
    for name in ("list-id", "list-unsubscribe", "list-post", "mailing-list", "x-mailing-list"):
        if name in message.headers:
            return Automated(AutomatedKind.LIST, f"{name} header")
    precedence = _precedence(message)
    if precedence in ("bulk", "list", "junk"):
        return Automated(AutomatedKind.LIST, f"Precedence: {precedence}")
    return None


def no_reply_sender(message: ParsedMessage) -> Automated | None:
    """Mail from ``noreply@`` / ``no-reply@`` / ``donotreply@``: a system, not a person."""
    if _NO_REPLY_SENDER.match(message.from_address.split("@", 1)[0]):
        return Automated(AutomatedKind.AUTO_REPLY, f"sent from a no-reply address ({message.from_address})")
    return None


def _precedence(message: ParsedMessage) -> str:
    value = message.headers.get("precedence") or message.headers.get("x-precedence") or ""
    return value.strip().lower()


CHECKS: tuple[Check, ...] = (
    delivery_report, bounce_sender, bounce_subject,
    read_receipt, auto_submitted, auto_reply_headers, auto_reply_subject, empty_return_path,
    list_mail, no_reply_sender,
)


def classify_automated(message: ParsedMessage, checks: tuple[Check, ...] = CHECKS) -> Automated | None:
    """The first check that recognises ``message`` as automated mail, or None for a person's mail."""
    for check in checks:
        found = check(message)
        if found is not None:
            return found
    return None
