"""Access tokens for XOAUTH2 (daemon.oauth) and the oauth2 config keys.

The token cache is tested with a fake fetcher and clock. The four providers talk to the local
token service (tests/mailbench/oauth.py) over real HTTPS with google-auth and msal; refusals
must come out as TokenRefreshError with a message that says what to do and shows no secret.
"""

from __future__ import annotations

import copy
import json
import os
import socket
from pathlib import Path

import pytest

from daemon.config import ConfigError, MailboxConfig, OAuth2Config, parse_config
from daemon.mailbox import MailboxAuthError
from daemon.mailer import MailerError
from daemon.oauth import (
    MICROSOFT_MAIL_SCOPE,
    IssuedToken,
    TokenRefreshError,
    TokenServiceUnavailable,
    TokenSource,
    token_source_for,
    xoauth2_response,
)
from tests.mailbench.oauth import TokenService
from tests.mailbench.tls import create_tls_files
from tests.test_config import base_config

MAILBOX = "desk@park.test"
TENANT = "park.onmicrosoft.com"


# --- the cache -------------------------------------------------------------------------------

class CountingFetcher:
    """Hands out token-1, token-2 ... each valid for ``lifetime`` seconds of ``clock``."""

    description = "test provider"

    def __init__(self, clock, lifetime: float = 3600) -> None:
        self.clock = clock
        self.lifetime = lifetime
        self.calls = 0

    def fetch(self) -> IssuedToken:
        self.calls += 1
        return IssuedToken(f"token-{self.calls}", self.clock() + self.lifetime)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_token_is_kept_until_five_minutes_before_it_expires():
    clock = Clock()
    fetcher = CountingFetcher(clock)
    tokens = TokenSource(fetcher, clock=clock)

    assert tokens.access_token() == "token-1"
    clock.now += 3600 - 301
    assert tokens.access_token() == "token-1"
    assert fetcher.calls == 1
    clock.now += 1  # now 300 s before expiry: replaced before use
    assert tokens.access_token() == "token-2"
    assert fetcher.calls == 2
    assert tokens.expires_at == clock.now + 3600


def test_refresh_fetches_a_new_token_at_once():
    clock = Clock()
    fetcher = CountingFetcher(clock)
    tokens = TokenSource(fetcher, clock=clock)
    tokens.access_token()
    assert tokens.refresh() == "token-2"
    assert tokens.access_token() == "token-2"


def test_a_token_shorter_lived_than_the_margin_is_fetched_each_time():
    clock = Clock()
    fetcher = CountingFetcher(clock, lifetime=120)
    tokens = TokenSource(fetcher, clock=clock)
    assert [tokens.access_token() for _ in range(3)] == ["token-1", "token-2", "token-3"]


def test_a_failed_fetch_leaves_no_token_behind():
    clock = Clock()

    class Refusing:
        description = "refusing provider"

        def fetch(self):
            raise TokenRefreshError("refused: create a new refresh token")

    tokens = TokenSource(Refusing(), clock=clock)
    with pytest.raises(TokenRefreshError):
        tokens.access_token()
    assert tokens.expires_at is None


def test_xoauth2_response_follows_the_documented_format():
    assert xoauth2_response("a@b.test", "ya29.x") == "user=a@b.test\x01auth=Bearer ya29.x\x01\x01"


def test_token_refresh_error_is_handled_as_a_mailbox_and_a_mailer_login_error():
    error = TokenRefreshError("x")
    assert isinstance(error, MailboxAuthError)
    assert isinstance(error, MailerError)


# --- the providers against the local token service -------------------------------------------

@pytest.fixture(scope="module")
def token_service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokens")
    service = TokenService(create_tls_files(folder)).start()
    yield service
    service.stop()


@pytest.fixture
def trusted(token_service, monkeypatch):
    """google-auth and msal (requests) trust the token service's test CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(token_service.tls.ca_file))
    return token_service


def mailbox_cfg(oauth2: dict, **overrides) -> MailboxConfig:
    values = dict(host="imap.park.test", security="ssl", username=MAILBOX, auth="oauth2",
                  oauth2=OAuth2Config(**oauth2))
    values.update(overrides)
    return MailboxConfig(**values)


def google_refresh_cfg(service, monkeypatch, *, revoked: bool = False, wrong_secret: bool = False):
    client_id, secret = service.add_google_client()
    refresh_token = service.add_refresh_token(client_id, MAILBOX)
    if revoked:
        service.revoke_refresh_token(refresh_token)
    monkeypatch.setenv("TEST_GOOGLE_SECRET", "wrong" if wrong_secret else secret)
    monkeypatch.setenv("TEST_GOOGLE_REFRESH", refresh_token)
    return mailbox_cfg(dict(provider="google_refresh_token", client_id=client_id,
                            client_secret_env="TEST_GOOGLE_SECRET",
                            refresh_token_env="TEST_GOOGLE_REFRESH",
                            token_url=service.google_token_url)), refresh_token


def test_google_refresh_token_gets_a_token_for_the_mailbox(trusted, monkeypatch):
    cfg, _ = google_refresh_cfg(trusted, monkeypatch)
    tokens = token_source_for(cfg, "mailbox")
    token = tokens.access_token()
    assert trusted.is_active(token, MAILBOX)
    assert trusted.issued[-1].grant == "google-refresh"
    assert 3500 < tokens.expires_at - trusted.clock() <= 3600


def test_a_revoked_google_refresh_token_says_to_create_a_new_one(trusted, monkeypatch):
    cfg, refresh_token = google_refresh_cfg(trusted, monkeypatch, revoked=True)
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox").access_token()
    message = str(caught.value)
    assert "the refresh token was revoked or has expired: create a new one" in message
    assert "TEST_GOOGLE_REFRESH" in message
    assert refresh_token not in message


def test_a_wrong_google_client_secret_names_where_it_is_kept(trusted, monkeypatch):
    cfg, _ = google_refresh_cfg(trusted, monkeypatch, wrong_secret=True)
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox").access_token()
    assert "check mailbox.oauth2.client_id and the client secret in the environment " \
           "variable TEST_GOOGLE_SECRET" in str(caught.value)


def test_google_service_account_acts_for_the_mailbox(trusted, tmp_path):
    key = trusted.add_service_account("parkdesk@park-test.iam.gserviceaccount.com",
                                      tmp_path / "sa.json")
    cfg = mailbox_cfg(dict(provider="google_service_account", key_file=key,
                           token_url=trusted.google_token_url))
    token = token_source_for(cfg, "mailbox").access_token()
    assert trusted.is_active(token, MAILBOX)  # subject defaults to the username
    issued = trusted.issued[-1]
    assert (issued.grant, issued.user, issued.client) == (
        "jwt-bearer", MAILBOX, "parkdesk@park-test.iam.gserviceaccount.com")


def test_a_service_account_key_the_provider_does_not_know_is_refused_plainly(trusted, tmp_path):
    other = TokenService(trusted.tls).start()  # same CA, but the key is registered there only
    try:
        key = other.add_service_account("stranger@x.iam.gserviceaccount.com", tmp_path / "sa.json")
    finally:
        other.stop()
    cfg = mailbox_cfg(dict(provider="google_service_account", key_file=key,
                           token_url=trusted.google_token_url))
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox").access_token()
    assert "Google refused an access token for desk@park.test" in str(caught.value)
    assert "domain-wide delegation" in str(caught.value)


def test_a_missing_service_account_key_file_says_what_to_do(tmp_path):
    cfg = mailbox_cfg(dict(provider="google_service_account", key_file=tmp_path / "none.json"))
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox").access_token()
    assert str(caught.value) == (f"mailbox.oauth2.key_file: {tmp_path / 'none.json'} does not "
                                 f"exist; download a JSON key for the service account and save "
                                 f"it there")


def microsoft_cfg(service, monkeypatch, provider: str, tmp_path: Path, *, secret: str = "ok"):
    if provider == "microsoft_client_credentials":
        client_id, real = service.add_microsoft_app(TENANT, mailbox=MAILBOX)
        monkeypatch.setenv("TEST_MS_SECRET", real if secret == "ok" else "wrong")
        return mailbox_cfg(dict(provider=provider, tenant=TENANT, client_id=client_id,
                                client_secret_env="TEST_MS_SECRET",
                                authority=service.microsoft_authority)), None
    client_id, _ = service.add_microsoft_app(TENANT, confidential=False)
    refresh_token = service.add_refresh_token(client_id, MAILBOX, MICROSOFT_MAIL_SCOPE)
    token_file = tmp_path / "ms-refresh-token.txt"
    token_file.write_text(refresh_token + "\n")
    return mailbox_cfg(dict(provider=provider, tenant=TENANT, client_id=client_id,
                            refresh_token_file=token_file,
                            authority=service.microsoft_authority)), refresh_token


def test_microsoft_client_credentials_get_a_token_for_the_mailbox(trusted, monkeypatch, tmp_path):
    cfg, _ = microsoft_cfg(trusted, monkeypatch, "microsoft_client_credentials", tmp_path)
    tokens = token_source_for(cfg, "mailbox")
    first = tokens.access_token()
    assert trusted.is_active(first, MAILBOX)
    assert trusted.issued[-1].grant == "client-credentials"
    assert tokens.refresh() != first  # msal's own cache does not hand the old one back


def test_a_wrong_microsoft_client_secret_says_to_create_a_new_one(trusted, monkeypatch, tmp_path):
    cfg, _ = microsoft_cfg(trusted, monkeypatch, "microsoft_client_credentials", tmp_path,
                           secret="wrong")
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox").access_token()
    message = str(caught.value)
    assert "the client secret is wrong or has expired" in message
    assert "put it in the environment variable TEST_MS_SECRET" in message


def test_microsoft_refresh_token_is_renewed_in_its_file(trusted, monkeypatch, tmp_path):
    cfg, refresh_token = microsoft_cfg(trusted, monkeypatch, "microsoft_refresh_token", tmp_path)
    token = token_source_for(cfg, "mailbox").access_token()
    assert trusted.is_active(token, MAILBOX)
    assert trusted.issued[-1].grant == "microsoft-refresh"
    saved = cfg.oauth2.refresh_token_file.read_text().strip()
    assert saved != refresh_token
    assert saved in trusted.refresh_tokens_of(cfg.oauth2.client_id)
    assert oct(cfg.oauth2.refresh_token_file.stat().st_mode & 0o777) == "0o600"
    # a restart reads the renewed token from the file and it works
    assert trusted.is_active(token_source_for(cfg, "mailbox").access_token(), MAILBOX)


def test_a_revoked_microsoft_refresh_token_says_to_sign_in_again(trusted, monkeypatch, tmp_path):
    cfg, refresh_token = microsoft_cfg(trusted, monkeypatch, "microsoft_refresh_token", tmp_path)
    trusted.revoke_refresh_token(refresh_token)
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox").access_token()
    message = str(caught.value)
    assert "the refresh token was revoked or has expired: sign in again" in message
    assert str(cfg.oauth2.refresh_token_file) in message
    assert refresh_token not in message


def test_an_unknown_microsoft_tenant_names_the_tenant_key(trusted, monkeypatch, tmp_path):
    cfg, _ = microsoft_cfg(trusted, monkeypatch, "microsoft_client_credentials", tmp_path)
    cfg = mailbox_cfg({**cfg.oauth2.model_dump(), "tenant": "nobody.onmicrosoft.com"})
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox").access_token()
    assert "Microsoft does not know the tenant 'nobody.onmicrosoft.com'" in str(caught.value)
    assert "check mailbox.oauth2.tenant" in str(caught.value)


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{probe.getsockname()[1]}"


def test_an_unreachable_token_service_is_temporary(trusted, monkeypatch, tmp_path):
    cfg, _ = google_refresh_cfg(trusted, monkeypatch)
    cfg = mailbox_cfg({**cfg.oauth2.model_dump(), "token_url": closed_port_url() + "/token"})
    with pytest.raises(TokenServiceUnavailable) as google:
        token_source_for(cfg, "mailbox").access_token()
    assert "cannot reach Google" in str(google.value)

    cfg, _ = microsoft_cfg(trusted, monkeypatch, "microsoft_client_credentials", tmp_path)
    cfg = mailbox_cfg({**cfg.oauth2.model_dump(), "authority": closed_port_url()})
    with pytest.raises(TokenServiceUnavailable) as microsoft:
        token_source_for(cfg, "mailbox").access_token()
    assert "cannot reach https://127.0.0.1:" in str(microsoft.value)


def test_a_secret_variable_that_is_not_set_is_named(monkeypatch):
    monkeypatch.delenv("TEST_UNSET_SECRET", raising=False)
    cfg = mailbox_cfg(dict(provider="microsoft_client_credentials", tenant=TENANT,
                           client_id="abc", client_secret_env="TEST_UNSET_SECRET"))
    with pytest.raises(TokenRefreshError) as caught:
        token_source_for(cfg, "mailbox")
    assert str(caught.value) == (
        "mailbox.oauth2.client_secret_env: environment variable TEST_UNSET_SECRET is not set; "
        "set it to the client secret before starting ParkDesk")


# --- config ----------------------------------------------------------------------------------

def oauth2_config(section: str = "mailbox", **oauth2) -> dict:
    data = copy.deepcopy(base_config())
    data[section].pop("password_env")
    data[section]["auth"] = "oauth2"
    data[section]["oauth2"] = oauth2
    return data


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    return caught.value.problems


def test_oauth2_config_loads_without_a_password():
    data = oauth2_config(provider="google_refresh_token", client_id="id.apps.googleusercontent.com",
                         client_secret_env="PARKDESK_GOOGLE_SECRET",
                         refresh_token_file="google-refresh-token.txt")
    config = parse_config(data, config_dir="/srv/parkdesk")
    assert config.mailbox.auth == "oauth2"
    token_file = config.mailbox.oauth2.refresh_token_file
    assert token_file == Path("/srv/parkdesk/google-refresh-token.txt")
    assert config.smtp.auth == "password"  # the default: today's behaviour


def test_each_provider_asks_for_its_own_keys():
    assert problems(oauth2_config(provider="microsoft_client_credentials", client_id="abc")) == [
        ("mailbox.oauth2.tenant: required when provider is microsoft_client_credentials; "
         "expected the Microsoft 365 tenant id or domain, e.g. park.onmicrosoft.com"),
        ("mailbox.oauth2.client_secret_env: required when provider is "
         "microsoft_client_credentials; write client_secret_env: PARKDESK_MAILBOX_CLIENT_SECRET "
         "and set that environment variable to the client secret, or write client_secret_file: "
         "mailbox-client-secret.txt (never the client secret itself)"),
    ]


def test_keys_another_provider_uses_are_pointed_out():
    assert problems(oauth2_config(provider="google_service_account", key_file="sa.json",
                                  tenant="park.onmicrosoft.com")) == [
        ("mailbox.oauth2.tenant: not used by provider google_service_account; remove it "
         "(or check provider)")]


def test_a_secret_written_in_the_file_is_refused():
    found = problems(oauth2_config("smtp", provider="microsoft_refresh_token", tenant="t",
                                   client_id="c", refresh_token="0.AAAA-secret"))
    assert found[0].startswith("smtp.oauth2.refresh_token: secrets must not be written in "
                               "config.yaml")
    assert all("0.AAAA-secret" not in problem for problem in found)


def test_oauth2_needs_its_section_and_a_username():
    data = oauth2_config()
    del data["mailbox"]["oauth2"]
    del data["mailbox"]["username"]
    found = problems(data)
    assert "mailbox.username: required when mailbox.auth is oauth2; write the mailbox address " \
           "the access token is for" in found
    assert any(problem.startswith("mailbox.oauth2: required when mailbox.auth is oauth2")
               for problem in found)


def test_an_unknown_provider_lists_the_four():
    assert problems(oauth2_config(provider="yahoo")) == [
        ("mailbox.oauth2.provider: must be one of google_service_account, google_refresh_token, "
         "microsoft_client_credentials, microsoft_refresh_token")]



def test_no_secret_or_token_reaches_the_logs_even_at_debug(trusted, monkeypatch, tmp_path, caplog):
    caplog.set_level("DEBUG")
    google, google_refresh = google_refresh_cfg(trusted, monkeypatch)
    microsoft, _ = microsoft_cfg(trusted, monkeypatch, "microsoft_client_credentials", tmp_path)
    renewing, ms_refresh = microsoft_cfg(trusted, monkeypatch, "microsoft_refresh_token", tmp_path)
    secrets = [google_refresh, ms_refresh, os.environ["TEST_GOOGLE_SECRET"],
               os.environ["TEST_MS_SECRET"]]
    for cfg in (google, microsoft, renewing):
        tokens = token_source_for(cfg, "mailbox")
        secrets += [tokens.access_token(), tokens.refresh()]
    secrets.append(renewing.oauth2.refresh_token_file.read_text().strip())

    assert "new access token from" in caplog.text
    leaked = [secret[:8] + "..." for secret in secrets if secret in caplog.text]
    assert leaked == []


def microsoft_env_config(service, monkeypatch, tmp_path: Path):
    """A whole config whose mailbox logs in with a Microsoft refresh token from a variable."""
    client_id, _ = service.add_microsoft_app(TENANT, confidential=False)
    refresh_token = service.add_refresh_token(client_id, MAILBOX, MICROSOFT_MAIL_SCOPE)
    monkeypatch.setenv("TEST_MS_REFRESH", refresh_token)
    data = oauth2_config(provider="microsoft_refresh_token", tenant=TENANT, client_id=client_id,
                         refresh_token_env="TEST_MS_REFRESH",
                         authority=service.microsoft_authority)
    data["mailbox"]["username"] = MAILBOX
    data["state_dir"] = str(tmp_path / "state")
    return parse_config(data, config_dir=tmp_path), refresh_token


def test_a_renewed_microsoft_token_from_a_variable_survives_a_restart(trusted, monkeypatch,
                                                                      tmp_path):
    config, original = microsoft_env_config(trusted, monkeypatch, tmp_path)
    store = tmp_path / "state" / "mailbox-oauth2-refresh-token.json"
    assert config.mailbox.oauth2.renewed_token_store == store
    token_source_for(config.mailbox, "mailbox").access_token()
    kept = json.loads(store.read_text())
    assert kept["refresh_token"] != original and original not in store.read_text()
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    # 90 days on, the token in the variable has expired; a restart starts from the renewed one.
    trusted.revoke_refresh_token(original)
    restarted = token_source_for(config.mailbox, "mailbox")
    assert trusted.is_active(restarted.access_token(), MAILBOX)
    assert json.loads(store.read_text())["refresh_token"] != kept["refresh_token"]  # renewed again


def test_a_new_token_put_in_the_variable_wins_over_the_kept_one(trusted, monkeypatch, tmp_path):
    config, original = microsoft_env_config(trusted, monkeypatch, tmp_path)
    token_source_for(config.mailbox, "mailbox").access_token()
    # The operator signs in again and sets a new token; the kept one is from the old token.
    fresh = trusted.add_refresh_token(config.mailbox.oauth2.client_id, MAILBOX,
                                      MICROSOFT_MAIL_SCOPE)
    monkeypatch.setenv("TEST_MS_REFRESH", fresh)
    for token in trusted.refresh_tokens_of(config.mailbox.oauth2.client_id):
        if token != fresh:
            trusted.revoke_refresh_token(token)
    assert trusted.is_active(token_source_for(config.mailbox, "mailbox").access_token(), MAILBOX)


def test_an_unreadable_kept_token_falls_back_to_the_variable(trusted, monkeypatch, tmp_path,
                                                            caplog):
    config, original = microsoft_env_config(trusted, monkeypatch, tmp_path)
    store = config.mailbox.oauth2.renewed_token_store
    store.parent.mkdir(parents=True)
    store.write_text("{not json")
    assert trusted.is_active(token_source_for(config.mailbox, "mailbox").access_token(), MAILBOX)
    assert "cannot read the kept refresh token" in caplog.text
    assert json.loads(store.read_text())["refresh_token"]  # replaced by a good one
