"""Check the IMAP server step by step (reach, TLS, login, ID, folders, IDLE), with the fix for
each failure; NetEase mail is recognised because it needs the ID command."""

from __future__ import annotations

from daemon.check.defaults import DEFAULT_TIMEOUT_SECONDS
from daemon.check.results import CheckResult, failed, passed, warned
from daemon.config import Config, ConfigError
from daemon.mail_refusals import login_refusal_fix


def imap_fix(exc: Exception, host: str | None = None) -> str:
    from daemon.mailbox import MailboxAuthError, MailboxUnavailable

    if isinstance(exc, ConfigError):
        return "set the mailbox password as mailbox.password_env / password_file says"
    if isinstance(exc, MailboxAuthError):
        return login_refusal_fix(str(exc), host, "mailbox",
                                 "check mailbox.username and the password (for QQ/163 mail: the "
                                 "authorization code)")
    if isinstance(exc, MailboxUnavailable):
        return "check mailbox.host, mailbox.port and mailbox.security, and that this machine " \
               "can reach the server (DNS, firewall)"
    return "see the message: it names the key to change"


def check_imap(config: Config, *, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> list[CheckResult]:
    """Each step of ImapMailbox.open() as its own line, stopping at the first that fails."""
    from daemon.mailbox import ImapMailbox, MailboxError

    cfg = config.mailbox
    mailbox = ImapMailbox(cfg, timeout=timeout)
    security = {"ssl": "TLS", "starttls": "STARTTLS", "none": "no encryption"}.get(
        str(cfg.security), str(cfg.security))
    described = {
        "connect": (f"IMAP reachable at {cfg.host}:{cfg.port} ({security})",
                    "certificate valid" if cfg.security != "none" else "unencrypted"),
        "login": (f"IMAP login as {cfg.username}", ""),
        "id": ("IMAP ID", ""),
        "folders": (f"IMAP folders {cfg.processed_folder!r} and {cfg.quarantine_folder!r} exist",
                    "created if they were missing"),
        "select": (f"IMAP folder {cfg.folder!r} opens", ""),
    }
    results: list[CheckResult] = []
    try:
        with mailbox.opening():
            for key, step in mailbox.opening_steps():
                name, detail = described[key]
                try:
                    step()
                except (MailboxError, ConfigError) as exc:
                    results.append(failed(name, str(exc), imap_fix(exc, cfg.host)))
                    return results
                results.append(check_imap_id(cfg, mailbox.offers("ID")) if key == "id"
                               else passed(name, detail))
            results.append(check_idle(config, mailbox.offers("IDLE")))
    finally:
        mailbox.close()
    return results


NETEASE_DOMAINS = ("163.com", "126.com", "yeah.net")


def is_netease(host: str | None, username: str | None) -> bool:
    """NetEase mail (163, 126, yeah.net): by the server's name or the mailbox's address."""
    host = (host or "").lower().rstrip(".")
    domain = (username or "").lower().rpartition("@")[2]
    return any(name == d or name.endswith("." + d)
               for name in (host, domain) if name for d in NETEASE_DOMAINS)


def check_imap_id(cfg, offered: bool) -> CheckResult:
    """The ID command (RFC 2971) is sent when offered; NetEase refuses SELECT without it."""
    name = "IMAP ID"
    if offered:
        return passed(name, "sent (ParkDesk names itself to the server)")
    if is_netease(cfg.host, cfg.username):
        return warned(
            name, "NetEase mail (163/126/yeah.net) needs the ID command before opening a folder, "
                  "but this server did not offer it, so it was not sent",
            "check that mailbox.host is NetEase's (imap.163.com, imap.126.com or imap.yeah.net); "
            "if opening the folder fails with \"Unsafe Login\", turn on IMAP/SMTP in the "
            "mailbox's web settings and use its authorization code (授权码) as the password")
    return passed(name, "not offered by the server; not needed")


def check_idle(config: Config, offered: bool) -> CheckResult:
    name = "IMAP IDLE offered"
    if not config.mailbox.idle:
        return passed(name, f"mailbox.idle is off: polling every {config.mailbox.poll_seconds} s")
    if offered:
        return passed(name, "new mail is seen at once")
    return warned(name, f"not offered: ParkDesk polls every {config.mailbox.poll_seconds} s",
                  "nothing to do, or set mailbox.idle: false to say so")
