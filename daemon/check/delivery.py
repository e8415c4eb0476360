"""`parkdesk check --send-test`: send one bilingual test message through the configured mailer."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from daemon.check.results import CheckResult, failed, passed
from daemon.config import Config


def send_test_message(config: Config, mailer, recipient: str) -> CheckResult:
    from daemon.mailer import MailerError

    name = f"test message to {recipient}"
    message = EmailMessage()
    message["From"] = config.smtp.from_address
    message["To"] = recipient
    message["Subject"] = f"ParkDesk test message / 测试邮件 ({config.park.name})"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=config.smtp.from_address.split("@")[-1])
    message.set_content("ParkDesk can send mail from this address.\n"
                        "ParkDesk 可以从此地址发送邮件。\n")
    try:
        [result] = mailer.send_all([message])
    except MailerError as exc:
        return failed(name, str(exc), "do what the message above says")
    if not result.ok:
        return failed(name, result.error or "not sent",
                      "check that the server lets smtp.username send as smtp.from_address and "
                      "to this recipient")
    return passed(name, "sent")
