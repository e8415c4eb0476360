"""A right password refused for another reason (IMAP turned off, app password or authorization
code wanted, Microsoft 365 password logins off, account locked): the provider's own words become
the fix. Unit tests on the words real providers send; end to end through Dovecot (behind a proxy
that answers LOGIN with those words) and the SMTP receiver (refusing AUTH with them)."""

from __future__ import annotations

import pytest

from daemon.check import run_checks
from daemon.config import load_config
from daemon.mail_refusals import classify_refusal, login_refusal_fix
from daemon.mailbox import ImapMailbox, MailboxAuthError
from tests.mailbench.login_refusal import RefusingImapProxy

GMAIL_IMAP_OFF = ("[ALERT] Your account is not enabled for IMAP use. Please visit your Gmail "
                  "settings page and enable your account for IMAP access. (Failure)")
MICROSOFT_SMTP_OFF = ("5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled "
                      "for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more "
                      "information.")
QQ_SMTP_CODE = ("Login fail. Please enter your authorization code to login. More information in "
                "https://service.mail.qq.com/detail/0/53")


@pytest.mark.parametrize("text, kind", [
    (GMAIL_IMAP_OFF, "IMAP or SMTP turned off for the mailbox"),
    ("[ALERT] Application-specific password required: "
     "https://support.google.com/accounts/answer/185833 (Failure)", "app password required (Google)"),
    ("534-5.7.9 Application-specific password required. Learn more at "
     "https://support.google.com/mail/?p=InvalidSecondFactor", "app password required (Google)"),
    ("[ALERT] Please log in via your web browser: "
     "https://support.google.com/mail/accounts/answer/78754 (Failure)",
     "sign-in in a web browser required"),
    ("535 " + MICROSOFT_SMTP_OFF, "password logins turned off (Microsoft 365)"),
    ("535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
     "password logins turned off (Microsoft 365)"),
    ("[AUTHENTICATIONFAILED] Please using authorized code to login.",
     "authorization code required (QQ, NetEase, Tencent Exmail)"),
    ("535 " + QQ_SMTP_CODE, "authorization code required (QQ, NetEase, Tencent Exmail)"),
    ("请使用客户端专用密码登录", "authorization code required (QQ, NetEase, Tencent Exmail)"),
    ("550 User has no permission", "IMAP or SMTP turned off for the mailbox"),
    ("LOGIN Login error user suspended", "account locked or suspended"),
    ("Unsafe Login. Please contact kefu@188.com for help", "unknown client refused (NetEase)"),
    ("[AUTHENTICATIONFAILED] Authentication failed.", None),
    ("[AUTHENTICATIONFAILED] Invalid credentials (Failure)", None),
    ("535 5.7.8 Authentication credentials invalid", None),
    ("LOGIN failed.", None),
])
def test_provider_words_are_known(text, kind):
    refusal = classify_refusal(text)
    assert (refusal.name if refusal else None) == kind


def test_plain_wrong_password_keeps_the_password_check():
    fix = login_refusal_fix("[AUTHENTICATIONFAILED] Authentication failed.", "imap.example.com",
                            "mailbox", "check mailbox.username and the password")
    assert fix == "check mailbox.username and the password"


@pytest.mark.parametrize("host, words", [
    ("outlook.office365.com", "log in with OAuth2 (mailbox.auth: oauth2"),
    ("imap-mail.outlook.com", "log in with OAuth2 (mailbox.auth: oauth2"),
    ("imap.gmail.com", "app password or OAuth2"),
])
def test_a_providers_usual_cause_is_added_when_its_words_say_nothing(host, words):
    fix = login_refusal_fix("LOGIN failed.", host, "mailbox", "check the password")
    assert fix.startswith("check the password; if the password is right: ")
    assert words in fix


def test_the_advice_names_the_section_that_failed():
    fix = login_refusal_fix("535 " + MICROSOFT_SMTP_OFF, "smtp.office365.com", "smtp", "x")
    assert "smtp.auth: oauth2" in fix and "mailbox." not in fix


# --- end to end --------------------------------------------------------------------------------

def test_imap_turned_off_says_turn_it_on(park_env):
    park = park_env
    with RefusingImapProxy(("127.0.0.1", park.bench.imap_port), GMAIL_IMAP_OFF) as proxy:
        config_path = park.write_config(mailbox={"port": proxy.port, "security": "none"})
        results = run_checks(config_path)
        # The daemon's own error (logged, and in a health alert) says the same.
        mailbox = ImapMailbox(load_config(config_path).mailbox, timeout=10)
        with pytest.raises(MailboxAuthError) as raised:
            mailbox.open()
        mailbox.close()
        assert proxy.refused == 2
    [login] = [r for r in results if not r.ok]
    assert login.name == f"IMAP login as {park.complaints}"
    assert GMAIL_IMAP_OFF in login.detail
    assert login.fix.startswith("IMAP/SMTP is turned off for this mailbox: turn it on in the "
                                "mailbox's web settings (Gmail: Settings → Forwarding and POP/IMAP")
    assert "turn it on in the mailbox's web settings" in str(raised.value)
    assert "PARKDESK_IMAP_PASSWORD" not in str(raised.value)  # the password is not the problem


def test_microsoft_password_logins_off_says_use_oauth2(park_env):
    park = park_env
    park.bench.smtp_faults.fail_next("AUTH", 535, count=2, message=MICROSOFT_SMTP_OFF)  # PLAIN, LOGIN
    try:
        results = run_checks(park.config_path)
    finally:
        park.bench.smtp_faults.clear()
    [login] = [r for r in results if not r.ok]
    assert login.name == f"SMTP login as {park.complaints}"
    assert "SmtpClientAuthentication is disabled" in login.detail
    assert login.fix.startswith("Microsoft 365 has turned password logins off for this mailbox: "
                                "log in with OAuth2 (smtp.auth: oauth2")


def test_qq_authorization_code_wanted_says_where_to_get_it(park_env):
    park = park_env
    park.bench.smtp_faults.fail_next("AUTH", 535, count=2, message=QQ_SMTP_CODE)
    try:
        results = run_checks(park.config_path)
    finally:
        park.bench.smtp_faults.clear()
    [login] = [r for r in results if not r.ok]
    assert "授权码" in login.fix and "POP3/IMAP/SMTP" in login.fix
    assert "smtp password" in login.fix


def test_sheets_quota_used_up_says_wait_or_use_an_own_key(park_env):
    park = park_env
    park.emulator.fail_next(10, status=429)
    try:
        results = run_checks(park.config_path)
    finally:
        park.emulator.faults.clear()
    [register] = [r for r in results if not r.ok]
    assert register.name.startswith("Google Sheet ")
    assert "429 quota exceeded" in register.detail
    assert register.fix.startswith("Google's per-minute request quota for this service account "
                                   "is used up: wait a minute and run check again")
