"""What to do when a mail provider refuses a login: its own words, matched to a plain fix.

A wrong password is only one reason a login fails. Providers also refuse a right password
because IMAP is turned off for the mailbox, because they want an app password or an
authorization code (授权码) instead of the web password, because password logins are turned
off altogether (Microsoft 365), or because the account is locked. The refusal text says which;
``login_refusal_fix`` turns it into what to do, naming the config section (``mailbox`` or
``smtp``). When the words say nothing useful, the provider (known by its server name) may still
have one usual cause, added to the password check.

    >>> login_refusal_fix("[ALERT] Your account is not enabled for IMAP use. (Failure)",
    ...                   "imap.gmail.com", "mailbox", "check the password")[:30]
    'IMAP/SMTP is turned off for th'
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """A kind of refusal: the words providers use for it, and what to do (``{key}``: section)."""

    name: str
    pattern: re.Pattern[str]
    advice: str


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


# First match wins: the most specific kinds come first.
REFUSALS: tuple[Refusal, ...] = (
    Refusal(
        "password logins turned off (Microsoft 365)",
        # "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the
        # Tenant." / "... basic authentication is disabled."
        _words(r"SmtpClientAuthentication is disabled", r"basic auth\w* is disabled",
               r"\b5\.7\.139\b", r"BasicAuthBlocked"),
        "Microsoft 365 has turned password logins off for this mailbox: log in with OAuth2 "
        "({key}.auth: oauth2 and the {key}.oauth2 section; README, \"OAuth2\"), or ask the "
        "Microsoft 365 administrator to allow Authenticated SMTP / IMAP for the mailbox"),
    Refusal(
        "app password required (Google)",
        # "[ALERT] Application-specific password required: https://support.google.com/..."
        # "534-5.7.9 Application-specific password required."
        _words(r"application-specific password", r"\bapp[- ]password", r"\b5\.7\.9\b"),
        "Google does not accept the account's own password here: turn on 2-Step Verification, "
        "create an app password (Google Account → Security → App passwords) and use it as the "
        "{key} password; or log in with OAuth2 ({key}.auth: oauth2)"),
    Refusal(
        "authorization code required (QQ, NetEase, Tencent Exmail)",
        # QQ: "Please using authorized code to login." / "535 Login Fail. Please enter your
        # authorization code to login."; Exmail: "请使用客户端专用密码登录"
        _words(r"authori[sz]ed code", r"authori[sz]ation code", r"授权码", r"weixin token",
               r"客户端专用密码", r"client[- ]specific password"),
        "this provider wants the authorization code (授权码 / 客户端专用密码), not the web "
        "password: generate one in the mailbox's web settings (设置 → 账户 → POP3/IMAP/SMTP "
        "服务) and use it as the {key} password"),
    Refusal(
        "sign-in in a web browser required",
        # Gmail: "[ALERT] Please log in via your web browser: https://support.google.com/..."
        _words(r"log ?in via your web browser", r"web ?login required", r"\[WEBALERT"),
        "the provider wants the account to sign in once in a web browser: sign in to the "
        "mailbox's web page (from this network if you can), confirm it was you, then try again"),
    Refusal(
        "IMAP or SMTP turned off for the mailbox",
        # Gmail: "[ALERT] Your account is not enabled for IMAP use."; QQ/Exmail: "... service is
        # not open"; NetEase SMTP: "550 User has no permission" (client access not turned on)
        _words(r"not enabled for imap", r"imap access (is )?disabled", r"service is not open",
               r"service (is )?not enabled", r"user has no permission",
               r"(imap|smtp|pop3?)\W+(is\W+)?(disabled|not open)"),
        "IMAP/SMTP is turned off for this mailbox: turn it on in the mailbox's web settings "
        "(Gmail: Settings → Forwarding and POP/IMAP; QQ and NetEase: 设置 → 账户 → "
        "POP3/IMAP/SMTP 服务), then try again"),
    Refusal(
        "account locked or suspended",
        # NetEase: "NO LOGIN Login error user suspended"
        _words(r"suspended", r"account (is )?(disabled|locked|blocked|frozen)",
               r"user is disabled", r"account is abnormal", r"账号.{0,6}(冻结|锁定|异常)"),
        "the provider has locked or suspended this mailbox: sign in to its web page to see why "
        "and unlock it, then try again"),
    Refusal(
        "unknown client refused (NetEase)",
        # NetEase refuses SELECT with "Unsafe Login. Please contact kefu@188.com for help"
        _words(r"Unsafe Login"),
        "NetEase mail refuses mail programs it does not know: turn on IMAP/SMTP in the "
        "mailbox's web settings and use its authorization code (授权码) as the {key} password"),
)


@dataclass(frozen=True)
class UsualCause:
    """A provider's usual reason for refusing a right password, when its words say nothing."""

    domains: tuple[str, ...]
    advice: str


USUAL_CAUSES: tuple[UsualCause, ...] = (
    UsualCause(
        ("office365.com", "outlook.com", "hotmail.com", "live.com"),
        "if the password is right: Microsoft has turned password logins off for most mailboxes, "
        "so log in with OAuth2 ({key}.auth: oauth2 and the {key}.oauth2 section)"),
    UsualCause(
        ("gmail.com", "googlemail.com"),
        "if the password is right: Google accepts only an app password or OAuth2 from mail "
        "programs for most accounts (Google Account → Security → App passwords, or "
        "{key}.auth: oauth2)"),
)


def classify_refusal(text: str) -> Refusal | None:
    """The kind of refusal ``text`` (the server's words) is, if it is a known one."""
    for refusal in REFUSALS:
        if refusal.pattern.search(text or ""):
            return refusal
    return None


def usual_cause(host: str | None) -> UsualCause | None:
    """The usual cause at the provider whose server is ``host``, if it has one."""
    name = (host or "").lower().rstrip(".")
    for cause in USUAL_CAUSES:
        if any(name == d or name.endswith("." + d) for d in cause.domains):
            return cause
    return None


def login_refusal_fix(text: str, host: str | None, key: str, password_check: str) -> str:
    """What to do about a login refused with ``text`` by ``host``; ``key`` is the config
    section (``"mailbox"`` or ``"smtp"``), ``password_check`` the usual advice ("check
    mailbox.username and the password in ..."), kept unless the words name another cause.

    >>> login_refusal_fix("[AUTHENTICATIONFAILED] Authentication failed.", "imap.example.com",
    ...                   "mailbox", "check mailbox.username and the password")
    'check mailbox.username and the password'
    """
    refusal = classify_refusal(text)
    if refusal is not None:
        return refusal.advice.format(key=key)
    cause = usual_cause(host)
    if cause is not None:
        return f"{password_check}; {cause.advice.format(key=key)}"
    return password_check
