"""Check the mailbox ParkDesk reads: the Maildir, or the IMAP server (see ``imap``)."""

from __future__ import annotations

from daemon.check.defaults import DEFAULT_TIMEOUT_SECONDS
from daemon.check.imap import check_imap
from daemon.check.results import CheckResult, failed, passed
from daemon.config import Config


def check_mailbox(config: Config, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    if config.mailbox.backend == "maildir":
        return check_maildir(config)
    return check_imap(config, timeout=timeout)


def check_maildir(config: Config) -> list[CheckResult]:
    from daemon.mailbox import MailboxError, open_mailbox

    name = f"Maildir {config.mailbox.path}"
    try:
        mailbox = open_mailbox(config.mailbox).open()
        try:
            count = len(mailbox.list_uids())
        finally:
            mailbox.close()
    except (MailboxError, OSError) as exc:
        return [failed(name, str(exc), "check mailbox.path and that ParkDesk may write there")]
    return [passed(name, f"readable, {count} messages waiting")]
