"""Access tokens for XOAUTH2 logins to the mailbox (IMAP) and SMTP: Google and Microsoft 365.

Gmail, Google Workspace and Microsoft 365 turn password logins off for many accounts; then the
login carries an OAuth2 access token instead (the XOAUTH2 SASL mechanism). This module gets
those tokens and nothing else; :mod:`daemon.mailbox.imap` and :mod:`daemon.mailer.smtp` use them.

    tokens = token_source_for(config.mailbox, "mailbox")   # mailbox.auth is oauth2
    tokens.access_token()     # a current token: kept, fetched again 5 minutes before it expires
    tokens.refresh()          # a new one now, after the server refused the one it was given
    xoauth2_response(user, token)                           # what XOAUTH2 sends

Four providers (``mailbox.oauth2.provider``), each an object with ``fetch() -> IssuedToken``:

  * ``google_service_account``: a service account with domain-wide delegation acting for the
    mailbox (google-auth, JWT-bearer grant, RFC 7523), scope https://mail.google.com/;
  * ``google_refresh_token``: a user's refresh token (google-auth, RFC 6749 section 6);
  * ``microsoft_client_credentials``: an app registration with a client secret (msal);
  * ``microsoft_refresh_token``: a user's refresh token (msal); Microsoft hands out a new
    refresh token with each access token, and a ``refresh_token_file`` is updated with it.

Failures come in two kinds. :class:`TokenRefreshError` means the provider refused (revoked or
expired refresh token, wrong secret, missing delegation): nothing improves until someone acts,
so its message says what to do, and it is a :class:`~daemon.mailbox.MailboxAuthError` and a
:class:`~daemon.mailer.MailerError`, which the daemon already reports at once.
:class:`TokenServiceUnavailable` means the provider could not be reached: try again later.
Tokens and secrets never appear in messages or logs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from daemon.config import ConfigError
from daemon.logs import register_secret
from daemon.mailbox import MailboxAuthError
from daemon.mailer import MailerError

log = logging.getLogger("parkdesk.oauth")

REFRESH_MARGIN_SECONDS = 300  # a token this close to its expiry is replaced before use
ASSUMED_LIFETIME_SECONDS = 3000  # when a provider does not say how long a token lasts
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
MICROSOFT_MAIL_SCOPE = "https://outlook.office365.com/.default"

# OAuth2 error codes (RFC 6749 section 5.2, plus the providers' own) that mean "try later".
TEMPORARY_ERRORS = ("temporarily_unavailable", "server_error", "internal_failure")


class TokenRefreshError(MailboxAuthError, MailerError):
    """The token provider refused to give an access token; the message says what to fix."""


class TokenServiceUnavailable(Exception):
    """The token provider could not be reached or failed on its side; try again later."""


@dataclass(frozen=True)
class IssuedToken:
    """An access token and when it stops working (seconds since the epoch)."""

    value: str = field(repr=False)
    expires_at: float


class TokenFetcher(Protocol):
    """One provider: ``fetch`` asks it for a new access token."""

    description: str  # e.g. "Google (service account x@y.iam.gserviceaccount.com)"

    def fetch(self) -> IssuedToken: ...


def xoauth2_response(user: str, token: str) -> str:
    """The XOAUTH2 client response: ``user=<user>^Aauth=Bearer <token>^A^A`` (not base64 yet)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


class TokenSource:
    """Hands out a current access token from ``fetcher``, fetching a new one only when needed.

    A token is replaced ``margin`` seconds before it expires, so a login never starts with a
    token about to run out. ``clock`` returns seconds since the epoch (a parameter for tests).
    """

    def __init__(self, fetcher: TokenFetcher, *, clock: Callable[[], float] = time.time,
                 margin: float = REFRESH_MARGIN_SECONDS) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._margin = margin
        self._token: IssuedToken | None = None
        self._lock = threading.Lock()

    @property
    def description(self) -> str:
        return self._fetcher.description

    @property
    def expires_at(self) -> float | None:
        """When the kept token expires (seconds since the epoch), or None before the first."""
        return self._token.expires_at if self._token else None

    def access_token(self) -> str:
        """A token valid for at least ``margin`` more seconds (fetched now if needed)."""
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - self._margin:
                token = self._token = self._fetcher.fetch()
                register_secret(token.value, short_lived=True)  # masked in every log line from now on
                left = token.expires_at - self._clock()
                log.info("new access token from %s, valid for %.0f minutes",
                         self._fetcher.description, left / 60)
            return token.value

    def refresh(self) -> str:
        """Forget the kept token and fetch a new one (the server refused the old one)."""
        with self._lock:
            self._token = None
        return self.access_token()


# --- Google ----------------------------------------------------------------------------------

def _google_expiry(credentials: Any, now: float) -> float:
    expiry: datetime | None = getattr(credentials, "expiry", None)
    if expiry is None:
        return now + ASSUMED_LIFETIME_SECONDS
    return expiry.replace(tzinfo=UTC).timestamp()  # google-auth keeps naive UTC


def _google_error_parts(exc: Exception) -> tuple[str, str]:
    """``(error code, description)`` from a google-auth RefreshError."""
    details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    code = str(details.get("error") or "")
    text = str(details.get("error_description") or (exc.args[0] if exc.args else exc))
    if not code and ":" in text:
        code = text.split(":", 1)[0].strip()
    return code, text


class _GoogleFetcher:
    """Shared by both Google providers: refresh a google-auth credentials object."""

    description = "Google"
    key: str = "mailbox.oauth2"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._credentials: Any = None

    def fetch(self) -> IssuedToken:
        import google.auth.exceptions
        import google.auth.transport.requests

        if self._credentials is None:
            self._credentials = self._build_credentials()
        try:
            self._credentials.refresh(google.auth.transport.requests.Request())
        except google.auth.exceptions.RefreshError as exc:
            code, text = _google_error_parts(exc)
            if getattr(exc, "retryable", False) or code in TEMPORARY_ERRORS:
                raise TokenServiceUnavailable(
                    f"{self.description} cannot give an access token right now ({text})") from None
            raise TokenRefreshError(self._refusal(code, text)) from None
        except google.auth.exceptions.TransportError as exc:
            raise TokenServiceUnavailable(
                f"cannot reach {self.description} for an access token ({_first_line(exc)})"
            ) from None
        expires_at = _google_expiry(self._credentials, self._clock())
        return IssuedToken(self._credentials.token, expires_at)

    def _build_credentials(self) -> Any:
        raise NotImplementedError

    def _refusal(self, code: str, text: str) -> str:
        raise NotImplementedError


class GoogleServiceAccount(_GoogleFetcher):
    """A service account with domain-wide delegation, acting as ``subject`` (the mailbox)."""

    def __init__(self, key_file: Path, subject: str, *, scope: str = GOOGLE_MAIL_SCOPE,
                 token_url: str | None = None, key: str = "mailbox.oauth2",
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.key = key
        self._key_file = Path(key_file)
        self._subject = subject
        self._scope = scope
        self._token_url = token_url
        self._account = "?"
        self.description = f"Google (service account key {self._key_file.name}, for {subject})"

    def _build_credentials(self) -> Any:
        from google.oauth2 import service_account

        info = self._read_key()
        self._account = info["client_email"]
        self.description = f"Google (service account {self._account}, for {self._subject})"
        if self._token_url:
            info = {**info, "token_uri": self._token_url}
        try:
            return service_account.Credentials.from_service_account_info(
                info, scopes=[self._scope], subject=self._subject)
        except ValueError as exc:
            raise TokenRefreshError(
                f"{self.key}.key_file: {self._key_file} is not a usable service-account key "
                f"({_first_line(exc)}); download a new JSON key for the service account") from None

    def _read_key(self) -> dict[str, Any]:
        where = f"{self.key}.key_file: {self._key_file}"
        try:
            info = json.loads(self._key_file.read_text(encoding="utf-8-sig"))
        except FileNotFoundError:
            raise TokenRefreshError(f"{where} does not exist; download a JSON key for the "
                                    f"service account and save it there") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise TokenRefreshError(f"{where} cannot be read as a JSON key "
                                    f"({_first_line(exc)}); download the key again") from None
        missing = [name for name in ("client_email", "private_key", "token_uri")
                   if not isinstance(info, dict) or not info.get(name)]
        if missing:
            raise TokenRefreshError(f"{where} is not a service-account key (no "
                                    f"{', '.join(missing)}); download a JSON key for the "
                                    f"service account") from None
        return info

    def _refusal(self, code: str, text: str) -> str:
        head = f"Google refused an access token for {self._subject} ({text})"
        if code in ("unauthorized_client", "access_denied", "invalid_scope"):
            return (f"{head}: in the Google Workspace admin console (Security > API controls > "
                    f"Domain-wide delegation) give the service account {self._account} the "
                    f"scope {self._scope}")
        if code == "invalid_grant":
            return (f"{head}: check that {self._subject} is a user of the Workspace domain "
                    f"({self.key}.subject or the username) and that the service account "
                    f"{self._account} has domain-wide delegation")
        return (f"{head}: check the service-account key ({self.key}.key_file) and its "
                f"domain-wide delegation")


class GoogleRefreshToken(_GoogleFetcher):
    """A user's refresh token for an OAuth client (client id and secret)."""

    def __init__(self, client_id: str, client_secret: str, refresh_token: str, *,
                 secret_source: str, token_source: str, scope: str | None = None,
                 token_url: str | None = None, key: str = "mailbox.oauth2",
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(clock)
        self.key = key
        self._client_id = client_id
        self._client_secret = client_secret
        self._refresh_token = refresh_token
        self._secret_source = secret_source
        self._token_source = token_source
        self._scope = scope
        self._token_url = token_url or GOOGLE_TOKEN_URL
        self.description = f"Google (refresh token of OAuth client {client_id})"

    def _build_credentials(self) -> Any:
        from google.oauth2.credentials import Credentials

        return Credentials(
            token=None, refresh_token=self._refresh_token, token_uri=self._token_url,
            client_id=self._client_id, client_secret=self._client_secret,
            scopes=[self._scope] if self._scope else None)

    def _refusal(self, code: str, text: str) -> str:
        head = f"Google refused to renew the access token ({text})"
        if code == "invalid_grant":
            return (f"{head}: the refresh token was revoked or has expired: create a new one "
                    f"and put it in {self._token_source}")
        if code in ("invalid_client", "unauthorized_client"):
            return (f"{head}: check {self.key}.client_id and the client secret in "
                    f"{self._secret_source}")
        return f"{head}: check the {self.key} section"


# --- Microsoft -------------------------------------------------------------------------------

class _MicrosoftFetcher:
    """Shared by both Microsoft providers: an msal application for one tenant."""

    description = "Microsoft"

    def __init__(self, tenant: str, client_id: str, client_secret: str | None, *,
                 scope: str | None, authority: str | None, secret_source: str,
                 key: str, clock: Callable[[], float]) -> None:
        self.key = key
        self._tenant = tenant
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope or MICROSOFT_MAIL_SCOPE
        self._authority = f"{(authority or MICROSOFT_AUTHORITY).rstrip('/')}/{tenant}"
        self._secret_source = secret_source
        self._clock = clock
        self._app: Any = None

    def fetch(self) -> IssuedToken:
        import requests

        try:
            if self._app is None:
                self._app = self._build_app()
            result = self._ask(self._app)
        except requests.RequestException as exc:
            raise TokenServiceUnavailable(
                f"cannot reach {self._authority} for an access token ({_first_line(exc)})"
            ) from None
        if "access_token" in result:
            self._keep(result)
            lifetime = float(result.get("expires_in") or ASSUMED_LIFETIME_SECONDS)
            return IssuedToken(result["access_token"], self._clock() + lifetime)
        code = str(result.get("error") or "")
        text = _first_line(result.get("error_description") or code or "no token in the answer")
        if code in TEMPORARY_ERRORS or not code:
            raise TokenServiceUnavailable(
                f"Microsoft cannot give an access token right now ({text})")
        raise TokenRefreshError(self._refusal(code, text))

    def _build_app(self) -> Any:
        import msal

        options = {"authority": self._authority, "instance_discovery": False}
        try:
            if self._client_secret:
                return msal.ConfidentialClientApplication(
                    self._client_id, client_credential=self._client_secret, **options)
            return msal.PublicClientApplication(self._client_id, **options)
        except ValueError as exc:  # the tenant's OpenID configuration was refused (4xx)
            raise TokenRefreshError(
                f"Microsoft does not know the tenant {self._tenant!r} at {self._authority} "
                f"({_first_line(exc)}): check {self.key}.tenant (the tenant id or a domain "
                f"such as park.onmicrosoft.com)") from None

    def _ask(self, app: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _keep(self, result: dict[str, Any]) -> None:
        """Called with each successful answer (a new refresh token may be in it)."""

    def _refusal(self, code: str, text: str) -> str:
        raise NotImplementedError


class MicrosoftClientCredentials(_MicrosoftFetcher):
    """An app registration with a client secret (application permission to the mailbox)."""

    def __init__(self, tenant: str, client_id: str, client_secret: str, *, secret_source: str,
                 scope: str | None = None, authority: str | None = None,
                 key: str = "mailbox.oauth2", clock: Callable[[], float] = time.time) -> None:
        super().__init__(tenant, client_id, client_secret, scope=scope, authority=authority,
                         secret_source=secret_source, key=key, clock=clock)
        self.description = f"Microsoft (app {client_id} in tenant {tenant})"

    def _ask(self, app: Any) -> dict[str, Any]:
        import msal

        cache = app.token_cache  # TokenSource keeps the token: ask msal for a new one each time
        for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(entry)
        return app.acquire_token_for_client(scopes=[self._scope])

    def _refusal(self, code: str, text: str) -> str:
        head = f"Microsoft refused an access token for app {self._client_id} ({text})"
        if code == "invalid_client":
            return (f"{head}: the client secret is wrong or has expired: create a new one in "
                    f"the Entra admin center (App registrations > Certificates & secrets) and "
                    f"put it in {self._secret_source}")
        if code in ("unauthorized_client", "invalid_scope", "invalid_request"):
            return (f"{head}: check {self.key}.client_id and {self.key}.tenant, and that the "
                    f"app has the Office 365 Exchange Online permissions IMAP.AccessAsApp and "
                    f"SMTP.SendAsApp with admin consent")
        return f"{head}: check the {self.key} section"


class MicrosoftRefreshToken(_MicrosoftFetcher):
    """A user's refresh token (public client, or confidential with a client secret).

    Microsoft sends a new refresh token with each access token; it is used from then on and,
    when the token came from a file, written back to that file so a restart starts from it.
    An environment variable cannot be rewritten, and the token in it stops working 90 days after
    it was issued: the renewed one is kept in ``renewed_store`` (a 0600 file in state_dir) with
    a fingerprint of the variable's token, and a restart starts from it as long as the variable
    still holds that token (a new token put in the variable wins).
    """

    def __init__(self, tenant: str, client_id: str, refresh_token: str, *,
                 client_secret: str | None = None, token_source: str, secret_source: str = "",
                 token_file: Path | None = None, renewed_store: Path | None = None,
                 scope: str | None = None, authority: str | None = None,
                 key: str = "mailbox.oauth2", clock: Callable[[], float] = time.time) -> None:
        super().__init__(tenant, client_id, client_secret, scope=scope, authority=authority,
                         secret_source=secret_source, key=key, clock=clock)
        self._refresh_token = refresh_token
        self._token_source = token_source
        self._token_file = token_file
        self._renewed_store = None if token_file is not None else renewed_store
        self._origin = fingerprint(refresh_token)
        if self._renewed_store is not None:
            kept = read_renewed_token(self._renewed_store, self._origin)
            if kept:
                register_secret(kept)
                self._refresh_token = kept
                log.info("%s: starting from the refresh token Microsoft renewed last (kept in %s)",
                         key, self._renewed_store)
        self.description = f"Microsoft (refresh token of app {client_id} in tenant {tenant})"

    def _ask(self, app: Any) -> dict[str, Any]:
        return app.acquire_token_by_refresh_token(self._refresh_token, scopes=[self._scope])

    def _keep(self, result: dict[str, Any]) -> None:
        renewed = result.get("refresh_token")
        if not renewed or renewed == self._refresh_token:
            return
        self._refresh_token = renewed
        register_secret(renewed)  # masked in every log line from now on
        if self._token_file is not None:
            try:
                write_secret_file(self._token_file, renewed)
            except OSError as exc:
                log.warning("cannot save the new refresh token in %s (%s); the one there still "
                            "works until it expires", self._token_file, exc.strerror)
        elif self._renewed_store is not None:
            try:
                self._renewed_store.parent.mkdir(parents=True, exist_ok=True)
                write_secret_file(self._renewed_store,
                                  json.dumps({"from": self._origin, "refresh_token": renewed}))
            except OSError as exc:
                log.warning("cannot keep the new refresh token in %s (%s); after a restart the "
                            "one in %s is used, until it expires", self._renewed_store,
                            exc.strerror, self._token_source)

    def _refusal(self, code: str, text: str) -> str:
        head = f"Microsoft refused to renew the access token ({text})"
        if code == "invalid_grant":
            return (f"{head}: the refresh token was revoked or has expired: sign in again to "
                    f"create a new one and put it in {self._token_source}")
        if code in ("invalid_client", "unauthorized_client"):
            where = f"{self.key}.client_id and {self.key}.tenant"
            if self._client_secret:
                where += f" and the client secret in {self._secret_source}"
            return f"{head}: check {where}"
        return f"{head}: check the {self.key} section"


def fingerprint(token: str) -> str:
    """A one-way fingerprint of a token (SHA-256, hex), to recognise it without keeping it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_renewed_token(path: Path, origin: str) -> str | None:
    """The refresh token kept in ``path`` if it was renewed from the token whose fingerprint
    is ``origin``; None if there is none, or it came from another token, or it is unreadable."""
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("cannot read the kept refresh token in %s (%s); starting from the one "
                    "configured", path, exc)
        return None
    if not isinstance(kept, dict) or kept.get("from") != origin:
        return None
    token = kept.get("refresh_token")
    return token if isinstance(token, str) and token else None


def write_secret_file(path: Path, value: str) -> None:
    """Replace ``path`` with ``value`` (one line), readable by the owner only, atomically."""
    staging = path.with_name(f".{path.name}.new")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, path)


# --- from the config -------------------------------------------------------------------------

def token_source_for(section_cfg: Any, section: str, *,
                     clock: Callable[[], float] = time.time) -> TokenSource:
    """The token source for a ``mailbox`` or ``smtp`` section whose ``auth`` is ``oauth2``.

    Secrets are read now; a missing one raises :class:`TokenRefreshError` naming its key.
    """
    return TokenSource(fetcher_for(section_cfg, section, clock=clock), clock=clock)


def fetcher_for(section_cfg: Any, section: str, *,
                clock: Callable[[], float] = time.time) -> TokenFetcher:
    cfg = getattr(section_cfg, "oauth2", None)
    key = f"{section}.oauth2"
    if cfg is None:
        raise TokenRefreshError(f"{section}.auth is oauth2 but there is no {key} section: add "
                                f"one with provider: and its keys (see the example config.yaml)")
    try:
        return _build_fetcher(cfg, section_cfg, key, clock)
    except ConfigError as exc:
        raise TokenRefreshError("; ".join(exc.problems)) from None


def _build_fetcher(cfg: Any, section_cfg: Any, key: str,
                   clock: Callable[[], float]) -> TokenFetcher:
    provider = cfg.provider

    def needed(name: str) -> Any:
        value = getattr(cfg, name)
        if name in ("client_secret", "refresh_token"):
            value = value()  # read from its variable or file now
        if not value:
            raise TokenRefreshError(f"{key}.{name}: required when provider is {provider}")
        return value

    if provider == "google_service_account":
        subject = cfg.subject or section_cfg.username
        return GoogleServiceAccount(needed("key_file"), subject,
                                    scope=cfg.scope or GOOGLE_MAIL_SCOPE,
                                    token_url=cfg.token_url, key=key, clock=clock)
    if provider == "google_refresh_token":
        return GoogleRefreshToken(
            needed("client_id"), needed("client_secret"), needed("refresh_token"),
            secret_source=cfg.secret_source("client_secret"),
            token_source=cfg.secret_source("refresh_token"), scope=cfg.scope,
            token_url=cfg.token_url, key=key, clock=clock)
    if provider == "microsoft_client_credentials":
        return MicrosoftClientCredentials(
            needed("tenant"), needed("client_id"), needed("client_secret"),
            secret_source=cfg.secret_source("client_secret"), scope=cfg.scope,
            authority=cfg.authority, key=key, clock=clock)
    if provider == "microsoft_refresh_token":
        return MicrosoftRefreshToken(
            needed("tenant"), needed("client_id"), needed("refresh_token"),
            client_secret=cfg.client_secret(), token_source=cfg.secret_source("refresh_token"),
            secret_source=cfg.secret_source("client_secret"),
            token_file=cfg.refresh_token_file, renewed_store=cfg.renewed_token_store,
            scope=cfg.scope, authority=cfg.authority, key=key, clock=clock)
    raise TokenRefreshError(f"{key}.provider is {provider!r}: use google_service_account, "
                            f"google_refresh_token, microsoft_client_credentials or "
                            f"microsoft_refresh_token")


def _first_line(value: object) -> str:
    text = str(value).strip()
    return text.splitlines()[0] if text else type(value).__name__


__all__ = [
    "GoogleRefreshToken",
    "GoogleServiceAccount",
    "IssuedToken",
    "MicrosoftClientCredentials",
    "MicrosoftRefreshToken",
    "TokenRefreshError",
    "TokenServiceUnavailable",
    "TokenSource",
    "token_source_for",
    "xoauth2_response",
]
