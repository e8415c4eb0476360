"""XOAUTH2 for real: ParkDesk's IMAP and SMTP adapters log in with access tokens.

Dovecot checks each token with an ``oauth2`` passdb against the local token service's
introspection URL, and the SMTP relay asks the same service (tests/mailbench/oauth.py). The
tokens come from google-auth and msal talking to that service over HTTPS. Nothing is patched.
"""

from __future__ import annotations

import socket
import uuid
from email.message import EmailMessage

import pytest

from daemon.config import MailboxConfig, OAuth2Config, SmtpConfig
from daemon.mailbox import ImapMailbox, MailboxAuthError, MailboxUnavailable, ReconnectingMailbox
from daemon.mailer import MailerError, SmtpMailer
from daemon.oauth import MICROSOFT_MAIL_SCOPE, TokenRefreshError
from tests.mailbench.dovecot import DovecotUnavailable
from tests.mailbench.oauth import OAuthMailBench

TENANT = "park.onmicrosoft.com"


@pytest.fixture(scope="module")
def bench():
    try:
        started = OAuthMailBench().start()
    except DovecotUnavailable as error:
        pytest.skip(str(error))
    yield started
    started.stop()


@pytest.fixture
def tokens(bench, monkeypatch):
    """The token service, trusted by google-auth and msal (requests) for this test."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", bench.ca_file)
    return bench.tokens


def new_mailbox(bench, prefix: str = "desk") -> str:
    return bench.add_user(f"{prefix}-{uuid.uuid4().hex[:8]}@park.test")


def complaint(subject: str, to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "tenant@acme.test"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@acme.test>"
    message.set_content("The lift on floor 3 is stuck again. 电梯又坏了。")
    return message


def google_refresh_oauth2(tokens, monkeypatch, address: str) -> tuple[dict, str]:
    client_id, secret = tokens.add_google_client()
    refresh_token = tokens.add_refresh_token(client_id, address)
    monkeypatch.setenv("E2E_GOOGLE_SECRET", secret)
    monkeypatch.setenv("E2E_GOOGLE_REFRESH", refresh_token)
    return dict(provider="google_refresh_token", client_id=client_id,
                client_secret_env="E2E_GOOGLE_SECRET", refresh_token_env="E2E_GOOGLE_REFRESH",
                token_url=tokens.google_token_url), refresh_token


def mailbox_cfg(bench, address: str, oauth2: dict) -> MailboxConfig:
    return MailboxConfig(**bench.imap_settings(address), auth="oauth2",
                         oauth2=OAuth2Config(**oauth2))


def smtp_cfg(bench, address: str, oauth2: dict, security: str = "starttls") -> SmtpConfig:
    return SmtpConfig(**bench.smtp_settings(address, security), from_address=address,
                      auth="oauth2", oauth2=OAuth2Config(**oauth2))


def read_inbox(cfg: MailboxConfig) -> list[bytes]:
    with ImapMailbox(cfg, timeout=10) as mailbox:
        return [message.raw for message in mailbox.fetch(mailbox.list_uids())]


# --- IMAP ------------------------------------------------------------------------------------

def test_a_valid_token_opens_the_mailbox_and_fetches_mail(bench, tokens, monkeypatch):
    address = new_mailbox(bench)
    bench.deliver(address, complaint("Lift stuck (valid token)", address))
    oauth2, _ = google_refresh_oauth2(tokens, monkeypatch, address)
    checks_before = tokens.introspections

    raw = read_inbox(mailbox_cfg(bench, address, oauth2))

    assert len(raw) == 1 and b"Lift stuck (valid token)" in raw[0]
    assert tokens.introspections > checks_before  # Dovecot asked the token service
    assert "method=XOAUTH2" in bench.dovecot_log()


def test_an_expired_token_is_renewed_and_the_login_succeeds(bench, tokens, monkeypatch):
    address = new_mailbox(bench)
    bench.deliver(address, complaint("Lift stuck (expired token)", address))
    oauth2, _ = google_refresh_oauth2(tokens, monkeypatch, address)
    mailbox = ImapMailbox(mailbox_cfg(bench, address, oauth2), timeout=10)
    mailbox.open()
    mailbox.close()
    issued_before = len(tokens.issued)
    # The server now considers the kept token expired, though ParkDesk thinks it has an hour.
    assert tokens.expire_all(address) == 1

    mailbox.open()  # Dovecot refuses the old token; a new one is fetched and the login retried
    try:
        fetched = mailbox.fetch(mailbox.list_uids())
    finally:
        mailbox.close()

    assert b"Lift stuck (expired token)" in fetched[0].raw
    assert len(tokens.issued) == issued_before + 1


def test_a_revoked_refresh_grant_stops_at_once_with_a_plain_message(bench, tokens, monkeypatch):
    address = new_mailbox(bench)
    oauth2, refresh_token = google_refresh_oauth2(tokens, monkeypatch, address)
    mailbox = ImapMailbox(mailbox_cfg(bench, address, oauth2), timeout=10)
    mailbox.open()
    mailbox.close()
    tokens.revoke_refresh_token(refresh_token)  # also revokes the access token issued from it

    def no_waiting(seconds: float) -> None:
        raise AssertionError("a refused refresh must not be retried as an outage")

    with pytest.raises(TokenRefreshError) as caught:
        ReconnectingMailbox(mailbox, sleep=no_waiting, give_up_after=600).open()

    assert isinstance(caught.value, MailboxAuthError)
    assert str(caught.value) == (
        "Google refused to renew the access token (Token has been expired or revoked.): the "
        "refresh token was revoked or has expired: create a new one and put it in the "
        "environment variable E2E_GOOGLE_REFRESH")
    assert not mailbox.is_open


def test_google_service_account_logs_in_as_the_mailbox(bench, tokens, tmp_path):
    address = new_mailbox(bench)
    bench.deliver(address, complaint("Service account", address))
    key = tokens.add_service_account("parkdesk@park-e2e.iam.gserviceaccount.com",
                                     tmp_path / "service-account.json")
    oauth2 = dict(provider="google_service_account", key_file=key,
                  token_url=tokens.google_token_url)

    raw = read_inbox(mailbox_cfg(bench, address, oauth2))

    assert b"Service account" in raw[0]
    assert tokens.issued[-1].grant == "jwt-bearer"
    assert tokens.issued[-1].user == address


def test_microsoft_client_credentials_log_in_as_the_mailbox(bench, tokens, monkeypatch):
    address = new_mailbox(bench)
    bench.deliver(address, complaint("Client credentials", address))
    client_id, secret = tokens.add_microsoft_app(TENANT, mailbox=address)
    monkeypatch.setenv("E2E_MS_SECRET", secret)
    oauth2 = dict(provider="microsoft_client_credentials", tenant=TENANT, client_id=client_id,
                  client_secret_env="E2E_MS_SECRET", authority=tokens.microsoft_authority)

    raw = read_inbox(mailbox_cfg(bench, address, oauth2))

    assert b"Client credentials" in raw[0]
    assert tokens.issued[-1].grant == "client-credentials"


def test_microsoft_refresh_token_logs_in_and_keeps_the_renewed_token(bench, tokens, tmp_path):
    address = new_mailbox(bench)
    bench.deliver(address, complaint("Microsoft refresh token", address))
    client_id, _ = tokens.add_microsoft_app(TENANT, confidential=False)
    first = tokens.add_refresh_token(client_id, address, MICROSOFT_MAIL_SCOPE)
    token_file = tmp_path / "ms-refresh-token.txt"
    token_file.write_text(first + "\n")
    oauth2 = dict(provider="microsoft_refresh_token", tenant=TENANT, client_id=client_id,
                  refresh_token_file=token_file, authority=tokens.microsoft_authority)

    raw = read_inbox(mailbox_cfg(bench, address, oauth2))

    assert b"Microsoft refresh token" in raw[0]
    assert tokens.issued[-1].grant == "microsoft-refresh"
    assert token_file.read_text().strip() not in ("", first)


def test_a_token_for_another_mailbox_is_refused(bench, tokens, monkeypatch):
    address, other = new_mailbox(bench), new_mailbox(bench, "other")
    oauth2, _ = google_refresh_oauth2(tokens, monkeypatch, other)  # grant made by `other`

    with pytest.raises(MailboxAuthError) as caught:
        ImapMailbox(mailbox_cfg(bench, address, oauth2), timeout=10).open()

    assert not isinstance(caught.value, TokenRefreshError)
    assert str(caught.value).startswith(
        f"The mail server 127.0.0.1 refused a new access token for {address} "
        f"([AUTHENTICATIONFAILED] Authentication failed.)")
    assert "check that mailbox.username is the mailbox the token is for" in str(caught.value)


# --- SMTP ------------------------------------------------------------------------------------

@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_smtp_sends_with_xoauth2(bench, tokens, monkeypatch, security):
    address = new_mailbox(bench)
    oauth2, _ = google_refresh_oauth2(tokens, monkeypatch, address)
    message = complaint(f"Sent with XOAUTH2 over {security}", address)

    results = SmtpMailer(smtp_cfg(bench, address, oauth2, security)).send_all([message])

    assert [result.ok for result in results] == [True], results
    received = bench.relay.received[-1]
    assert received.login == address and received.tls
    raw = read_inbox(mailbox_cfg(bench, address, oauth2))
    assert f"Sent with XOAUTH2 over {security}".encode() in raw[0]


def test_smtp_renews_an_expired_token_after_the_error_challenge(bench, tokens, monkeypatch):
    address = new_mailbox(bench)
    oauth2, _ = google_refresh_oauth2(tokens, monkeypatch, address)
    mailer = SmtpMailer(smtp_cfg(bench, address, oauth2))
    mailer.check()
    issued_before = len(tokens.issued)
    tokens.expire_all(address)

    results = mailer.send_all([complaint("After renewal", address)])

    assert [result.ok for result in results] == [True], results
    assert len(tokens.issued) == issued_before + 1


def test_smtp_with_a_revoked_refresh_grant_raises_the_plain_message(bench, tokens, monkeypatch):
    address = new_mailbox(bench)
    oauth2, refresh_token = google_refresh_oauth2(tokens, monkeypatch, address)
    mailer = SmtpMailer(smtp_cfg(bench, address, oauth2))
    mailer.check()
    tokens.revoke_refresh_token(refresh_token)

    with pytest.raises(MailerError) as caught:
        mailer.send_all([complaint("Never sent", address)])

    assert isinstance(caught.value, TokenRefreshError)
    assert "create a new one and put it in the environment variable E2E_GOOGLE_REFRESH" in str(
        caught.value)


def test_an_unreachable_token_service_is_an_outage_not_a_refusal(bench, tokens, monkeypatch):
    address = new_mailbox(bench)
    oauth2, _ = google_refresh_oauth2(tokens, monkeypatch, address)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        oauth2["token_url"] = f"https://127.0.0.1:{probe.getsockname()[1]}/token"

    with pytest.raises(MailboxUnavailable) as caught:
        ImapMailbox(mailbox_cfg(bench, address, oauth2), timeout=10).open()
    assert not isinstance(caught.value, MailboxAuthError)
    assert "cannot reach Google" in str(caught.value)
    assert str(caught.value).endswith("it will be tried again.")

    results = SmtpMailer(smtp_cfg(bench, address, oauth2)).send_all([complaint("Later", address)])
    assert [(result.ok, result.permanent) for result in results] == [(False, False)]
    assert "cannot reach Google" in results[0].error


def test_a_new_refresh_token_put_in_its_file_works_without_a_restart(bench, tokens, monkeypatch,
                                                                      tmp_path):
    address = new_mailbox(bench)
    oauth2, revoked = google_refresh_oauth2(tokens, monkeypatch, address)
    token_file = tmp_path / "google-refresh-token.txt"
    token_file.write_text(revoked + "\n")
    oauth2 = {**oauth2, "refresh_token_env": None, "refresh_token_file": token_file}
    tokens.revoke_refresh_token(revoked)
    mailbox = ImapMailbox(mailbox_cfg(bench, address, oauth2), timeout=10)
    with pytest.raises(TokenRefreshError) as caught:
        mailbox.open()
    assert f"put it in the file {token_file}" in str(caught.value)

    token_file.write_text(tokens.add_refresh_token(oauth2["client_id"], address) + "\n")
    mailbox.open()  # the operator's fix is read at the next login
    mailbox.close()
