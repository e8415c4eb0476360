"""A local OAuth2 token service, and a mail bench whose Dovecot and SMTP relay accept XOAUTH2.

``TokenService`` is an HTTPS server on 127.0.0.1 (the bench certificate) that plays both
providers closely enough for google-auth and msal, and is Dovecot's introspection endpoint:

- ``POST /token``: Google's token endpoint. Grants: JWT bearer (RFC 7523; the assertion is
  checked against the registered service account's public key, its audience, expiry, ``sub``
  and scope) and refresh token (client id and secret checked).
- ``GET /<tenant>/v2.0/.well-known/openid-configuration``: the metadata msal reads first;
  ``POST /<tenant>/oauth2/v2.0/token``: Microsoft's client-credentials and refresh-token grants.
  Each refresh-token answer carries a new refresh token, as Microsoft's does.
- ``POST /introspect`` (RFC 7662, ``token=...``): ``{"active": true, "email": user, ...}`` for a
  live token, ``{"active": false, "email": user-or-""}`` for an expired, revoked or unknown one.

Tokens can be expired and refresh grants revoked at any time (revoking a grant also revokes
the access tokens issued from it). Refusals use the providers' error codes (``invalid_grant``,
``invalid_client``, ``unauthorized_client``).

``OAuthMailBench`` runs a private Dovecot (``oauth2`` passdb pointed at the introspection URL)
and the bench SMTP relay with AUTH XOAUTH2, both checking tokens with the same service:

    with OAuthMailBench() as bench:
        bench.tokens                     # the TokenService; bench.tokens.google_token_url ...
        bench.add_user("desk@park.test")
        bench.deliver("desk@park.test", message)          # straight into Dovecot over LMTP
        bench.imap_settings("desk@park.test"), bench.smtp_settings("desk@park.test")
"""

from __future__ import annotations

import base64
import json
import secrets
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt

from tests.mailbench.client import Message, message_to_bytes
from tests.mailbench.dovecot import LISTEN_HOST, DovecotServer, resolve_server_account
from tests.mailbench.faults import SmtpFaults, probe_imap_login
from tests.mailbench.smtp_relay import SmtpRelay, base_address, deliver_over_lmtp
from tests.mailbench.tls import TlsFiles, create_tls_files, make_server_context
from tests.sheets_emulator.auth import build_key_file, generate_key_pair

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"
# google-auth signs service-account assertions for Google's own token address, whatever
# token_uri the key names
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
MICROSOFT_MAIL_SCOPE = "https://outlook.office365.com/.default"


class GrantRefused(Exception):
    """An OAuth2 error answer (RFC 6749 section 5.2)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status


@dataclass
class AccessToken:
    user: str
    scope: str
    expires_at: float
    grant: str  # which grant issued it: "jwt-bearer", "google-refresh", "client-credentials" ...
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class RefreshGrant:
    client_id: str
    user: str
    scope: str
    revoked: bool = False


@dataclass
class MicrosoftApp:
    tenant: str
    client_secret: str | None
    mailbox: str | None  # the mailbox a client-credentials token is for


@dataclass
class Issued:
    """One access token handed out (the tests look at these)."""

    grant: str
    user: str
    client: str


@dataclass
class _Store:
    lock: threading.Lock = field(default_factory=threading.Lock)
    access: dict[str, AccessToken] = field(default_factory=dict)
    refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    service_accounts: dict[str, str] = field(default_factory=dict)  # email -> public PEM
    google_clients: dict[str, str] = field(default_factory=dict)  # client id -> secret
    microsoft_apps: dict[str, MicrosoftApp] = field(default_factory=dict)  # client id -> app
    issued: list[Issued] = field(default_factory=list)
    introspections: int = 0


class TokenService:
    """The token endpoints and the introspection endpoint, on https://127.0.0.1:<port>."""

    def __init__(self, tls: TlsFiles, *, lifetime: float = 3600.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.tls = tls
        self.lifetime = lifetime
        self.clock = clock
        self._store = _Store()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ------------------------------------------------------------------------

    def start(self) -> TokenService:
        context = make_server_context(self.tls)
        server = ThreadingHTTPServer((LISTEN_HOST, 0), _handler_for(self))
        server.daemon_threads = True
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="token-service",
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the token service first"
        return f"https://{LISTEN_HOST}:{self._server.server_address[1]}"

    @property
    def google_token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def microsoft_authority(self) -> str:
        """What replaces https://login.microsoftonline.com (the tenant is appended)."""
        return self.base_url

    @property
    def introspection_url(self) -> str:
        return f"{self.base_url}/introspect"

    # --- registrations ---------------------------------------------------------------------

    def add_service_account(self, email: str, key_path: Path) -> Path:
        """Write a fresh key file for ``email`` (token_uri: this service); its public half is
        registered here. Domain-wide delegation is assumed for every mailbox."""
        private_pem, public_pem = generate_key_pair()
        key = build_key_file(self.base_url, email, private_pem, None)
        key_path.write_text(json.dumps(key, indent=2), encoding="utf-8")
        key_path.chmod(0o600)
        with self._store.lock:
            self._store.service_accounts[email] = public_pem
        return key_path

    def add_google_client(self) -> tuple[str, str]:
        """A new OAuth client: ``(client_id, client_secret)``."""
        client_id = f"{secrets.randbelow(10**12)}-test.apps.googleusercontent.com"
        secret = secrets.token_urlsafe(18)
        with self._store.lock:
            self._store.google_clients[client_id] = secret
        return client_id, secret

    def add_microsoft_app(self, tenant: str, *, mailbox: str | None = None,
                          confidential: bool = True) -> tuple[str, str | None]:
        """A new app registration in ``tenant``: ``(client_id, client_secret or None)``.
        ``mailbox``: the mailbox its client-credentials tokens are for."""
        client_id = str(_uuid())
        secret = secrets.token_urlsafe(24) if confidential else None
        with self._store.lock:
            self._store.microsoft_apps[client_id] = MicrosoftApp(tenant, secret, mailbox)
        return client_id, secret

    def add_refresh_token(self, client_id: str, user: str, scope: str = GOOGLE_MAIL_SCOPE) -> str:
        """A refresh token ``user`` granted to ``client_id`` (as after a consent screen)."""
        token = "1//" + secrets.token_urlsafe(32)
        with self._store.lock:
            self._store.refresh[token] = RefreshGrant(client_id, user.lower(), scope)
        return token

    def issue_access_token(self, user: str, scope: str = GOOGLE_MAIL_SCOPE,
                           lifetime: float | None = None) -> str:
        """An access token for ``user`` made directly (no grant)."""
        with self._store.lock:
            return self._issue(user, scope, "direct", "test", lifetime)

    # --- making tokens stop working --------------------------------------------------------

    def expire(self, token: str) -> None:
        with self._store.lock:
            self._store.access[token].expires_at = self.clock() - 1

    def expire_all(self, user: str) -> int:
        """Expire every access token of ``user``; returns how many."""
        with self._store.lock:
            tokens = [t for t in self._store.access.values() if t.user == user.lower()]
            for token in tokens:
                token.expires_at = self.clock() - 1
            return len(tokens)

    def revoke_refresh_token(self, token: str) -> None:
        """Revoke a refresh grant and the access tokens it issued (what a password change or
        "remove access" does)."""
        with self._store.lock:
            self._store.refresh[token].revoked = True
            for access in self._store.access.values():
                if access.refresh_token == token:
                    access.revoked = True

    def refresh_tokens_of(self, client_id: str) -> list[str]:
        with self._store.lock:
            return [token for token, grant in self._store.refresh.items()
                    if grant.client_id == client_id]

    # --- what happened ---------------------------------------------------------------------

    @property
    def issued(self) -> list[Issued]:
        with self._store.lock:
            return list(self._store.issued)

    @property
    def introspections(self) -> int:
        """How many introspection requests were answered (Dovecot's checks)."""
        with self._store.lock:
            return self._store.introspections

    def is_active(self, token: str, user: str | None = None) -> bool:
        """True for a live, unrevoked token (of ``user`` if given)."""
        with self._store.lock:
            return self._active(token, user)

    # --- endpoint logic (called by the HTTP handler) ---------------------------------------

    def google_token(self, form: dict[str, str]) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        if grant_type == JWT_BEARER:
            return self._jwt_bearer(form.get("assertion", ""))
        if grant_type == "refresh_token":
            client_id = form.get("client_id", "")
            with self._store.lock:
                if self._store.google_clients.get(client_id) != form.get("client_secret"):
                    raise GrantRefused("invalid_client", "The OAuth client was not found.", 401)
                return self._refresh(form, client_id, "google-refresh", rotate=False)
        raise GrantRefused("unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def microsoft_token(self, tenant: str, form: dict[str, str]) -> dict[str, Any]:
        client_id = form.get("client_id", "")
        with self._store.lock:
            app = self._store.microsoft_apps.get(client_id)
            if app is None or app.tenant != tenant:
                raise GrantRefused("unauthorized_client", f"AADSTS700016: Application with "
                                   f"identifier '{client_id}' was not found in the directory "
                                   f"'{tenant}'.")
            if app.client_secret is not None and form.get("client_secret") != app.client_secret:
                raise GrantRefused("invalid_client", "AADSTS7000215: Invalid client secret "
                                   "provided.", 401)
            grant_type = form.get("grant_type", "")
            if grant_type == "client_credentials":
                if app.client_secret is None or app.mailbox is None:
                    raise GrantRefused("unauthorized_client", "AADSTS700025: Client is public "
                                       "or has no mailbox permission.")
                scope = form.get("scope", "")
                if MICROSOFT_MAIL_SCOPE not in scope.split():
                    raise GrantRefused("invalid_scope", f"AADSTS1002012: The provided value "
                                       f"for scope {scope} is not valid.")
                token = self._issue(app.mailbox, scope, "client-credentials", client_id)
                return self._answer(token, scope)
            if grant_type == "refresh_token":
                return self._refresh(form, client_id, "microsoft-refresh", rotate=True)
        raise GrantRefused("unsupported_grant_type", f"AADSTS70003: {grant_type} is not "
                           f"supported.")

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        with self._store.lock:
            known = any(app.tenant == tenant for app in self._store.microsoft_apps.values())
        if not known:
            raise GrantRefused("invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not found.")
        base = f"{self.base_url}/{tenant}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "response_types_supported": ["code", "id_token", "code id_token"],
        }

    def introspect(self, token: str) -> dict[str, Any]:
        with self._store.lock:
            self._store.introspections += 1
            record = self._store.access.get(token)
            if record is None:
                return {"active": False, "email": ""}
            if not self._active(token):
                return {"active": False, "email": record.user}
            return {"active": True, "email": record.user, "scope": record.scope,
                    "exp": int(record.expires_at), "token_type": "Bearer"}

    # --- internals (called with the lock held) ---------------------------------------------

    def _jwt_bearer(self, assertion: str) -> dict[str, Any]:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise GrantRefused("invalid_grant", f"Invalid JWT: {exc}") from None
        issuer = str(claims.get("iss", ""))
        with self._store.lock:
            public_pem = self._store.service_accounts.get(issuer)
        if public_pem is None:
            raise GrantRefused("invalid_grant", "Invalid JWT Signature.")
        try:
            claims = jwt.decode(assertion, public_pem, algorithms=["RS256"],
                                audience=[self.google_token_url, GOOGLE_TOKEN_AUDIENCE],
                                leeway=60,
                                options={"require": ["exp", "iat", "aud", "iss"]})
        except jwt.PyJWTError as exc:
            raise GrantRefused("invalid_grant", f"Invalid JWT: {exc}") from None
        subject = str(claims.get("sub") or "")
        scope = str(claims.get("scope") or "")
        if not subject:
            raise GrantRefused("invalid_grant", "Not a delegated assertion (no sub).")
        if not scope:
            raise GrantRefused("invalid_scope", "Empty or missing scope not allowed.")
        with self._store.lock:
            token = self._issue(subject, scope, "jwt-bearer", issuer)
        return self._answer(token, scope)

    def _refresh(self, form: dict[str, str], client_id: str, grant: str,
                 rotate: bool) -> dict[str, Any]:
        presented = form.get("refresh_token", "")
        record = self._store.refresh.get(presented)
        if record is None or record.revoked or record.client_id != client_id:
            raise GrantRefused("invalid_grant", "Token has been expired or revoked.")
        token = self._issue(record.user, record.scope, grant, client_id, refresh_token=presented)
        answer = self._answer(token, record.scope)
        if rotate:
            renewed = "1//" + secrets.token_urlsafe(32)
            self._store.refresh[renewed] = RefreshGrant(client_id, record.user, record.scope)
            answer["refresh_token"] = renewed
        return answer

    def _issue(self, user: str, scope: str, grant: str, client: str,
               lifetime: float | None = None, refresh_token: str | None = None) -> str:
        token = "ya29." + secrets.token_urlsafe(32)
        expires_at = self.clock() + (self.lifetime if lifetime is None else lifetime)
        self._store.access[token] = AccessToken(user.lower(), scope, expires_at, grant,
                                                refresh_token)
        self._store.issued.append(Issued(grant, user.lower(), client))
        return token

    def _answer(self, token: str, scope: str) -> dict[str, Any]:
        record = self._store.access[token]
        return {"access_token": token, "token_type": "Bearer", "scope": scope,
                "expires_in": round(record.expires_at - self.clock())}

    def _active(self, token: str, user: str | None = None) -> bool:
        record = self._store.access.get(token)
        return (record is not None and not record.revoked and record.expires_at > self.clock()
                and (user is None or record.user == user.lower()))


def _handler_for(service: TokenService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                self._run(lambda: service.openid_configuration(parts[0]))
            else:
                self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            form = {key: values[-1] for key, values in urllib.parse.parse_qs(body).items()}
            self._basic_client(form)
            path = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
            if path == ["token"]:
                self._run(lambda: service.google_token(form))
            elif len(path) == 4 and path[1:] == ["oauth2", "v2.0", "token"]:
                self._run(lambda: service.microsoft_token(path[0], form))
            elif path == ["introspect"]:
                self._run(lambda: service.introspect(form.get("token", "")))
            else:
                self._send(404, {"error": "not_found"})

        def _basic_client(self, form: dict[str, str]) -> None:
            """Client id and secret sent as HTTP Basic (RFC 6749 2.3.1) count like form fields."""
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                decoded = base64.b64decode(header[6:]).decode("utf-8", "replace")
                client_id, _, secret = decoded.partition(":")
                form.setdefault("client_id", urllib.parse.unquote(client_id))
                form.setdefault("client_secret", urllib.parse.unquote(secret))

        def _run(self, answer: Callable[[], dict[str, Any]]) -> None:
            try:
                self._send(200, answer())
            except GrantRefused as refused:
                self._send(refused.status, {"error": refused.error,
                                            "error_description": refused.description})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


class OAuthMailBench:
    """Token service + Dovecot (oauth2 passdb) + SMTP relay (AUTH XOAUTH2), in one temp dir."""

    def __init__(self, *, token_lifetime: float = 3600.0) -> None:
        self.token_lifetime = token_lifetime
        self.host = LISTEN_HOST
        self._root: Path | None = None
        self._users: dict[str, str] = {}
        self.tokens: TokenService | None = None
        self._dovecot: DovecotServer | None = None
        self._relay: SmtpRelay | None = None

    def start(self) -> OAuthMailBench:
        self._root = Path(tempfile.mkdtemp(prefix="mbo", dir="/tmp"))
        try:
            tls = create_tls_files(self._root)
            self.tokens = TokenService(tls, lifetime=self.token_lifetime).start()
            self._dovecot = DovecotServer(self._root, tls, resolve_server_account(),
                                          oauth2_introspection_url=self.tokens.introspection_url)
            self._dovecot.start()
            self._relay = SmtpRelay(
                self._dovecot.lmtp_socket, is_known=lambda a: base_address(a) in self._users,
                check_password=lambda login, password: False, tls_context=make_server_context(tls),
                faults=SmtpFaults(), check_token=self._token_is_for)
            self._relay.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _token_is_for(self, user: str, token: str) -> bool:
        return self.tokens is not None and self.tokens.is_active(token, user)

    def stop(self) -> None:
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._dovecot is not None:
            self._dovecot.stop()
            self._dovecot = None
        if self.tokens is not None:
            self.tokens.stop()
            self.tokens = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> OAuthMailBench:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root(self) -> Path:
        assert self._root is not None
        return self._root

    @property
    def ca_file(self) -> str:
        assert self._dovecot is not None
        return str(self._dovecot.tls.ca_file)

    @property
    def relay(self) -> SmtpRelay:
        assert self._relay is not None
        return self._relay

    def dovecot_log(self) -> str:
        return self._dovecot.log_text() if self._dovecot else ""

    def add_user(self, address: str) -> str:
        """A mailbox for ``address`` (its password is random and never used by the tests)."""
        assert self._dovecot is not None
        address = address.lower()
        password = secrets.token_urlsafe(12)
        self._dovecot.write_user(address, password)
        self._users[address] = password
        deadline = time.monotonic() + 5
        while probe_imap_login(self.host, self._dovecot.imap_port, address, password) != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{address} cannot log in to the OAuth bench Dovecot")
            time.sleep(0.05)
        return address

    def deliver(self, address: str, message: Message, sender: str = "tenant@park.test") -> None:
        """Put ``message`` in the INBOX of ``address`` (LMTP, returns once it is stored)."""
        assert self._dovecot is not None
        deliver_over_lmtp(self._dovecot.lmtp_socket, sender, address, message_to_bytes(message))

    def imap_settings(self, address: str, security: str = "starttls") -> dict[str, Any]:
        assert self._dovecot is not None
        port = self._dovecot.imaps_port if security == "ssl" else self._dovecot.imap_port
        return {"host": self.host, "port": port, "security": security,
                "username": address.lower(), "ca_file": self.ca_file}

    def smtp_settings(self, address: str, security: str = "starttls") -> dict[str, Any]:
        port = self.relay.tls_port if security == "ssl" else self.relay.port
        return {"host": self.host, "port": port, "security": security,
                "username": address.lower(), "ca_file": self.ca_file}
