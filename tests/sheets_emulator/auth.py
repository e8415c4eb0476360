"""Service-account keys, the OAuth token endpoint and bearer tokens, like Google's.

``write_service_account_key`` mints an RSA key and a key file shaped like the one the
Cloud console gives (``token_uri`` points at the emulator). The emulator keeps the
public half; ``POST /token`` takes the JWT-bearer grant google-auth sends, checks the
RS256 signature against the key named by ``kid``, the audience and the times, and
issues a bearer token. A bad grant is ``400 {"error": "invalid_grant", ...}``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .store import Store

GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3599
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 300

SHEETS_SCOPES = {
    "https://www.googleapis.com/auth/spreadsheets": "write",
    "https://www.googleapis.com/auth/spreadsheets.readonly": "read",
    "https://www.googleapis.com/auth/drive": "write",
    "https://www.googleapis.com/auth/drive.file": "write",
    "https://www.googleapis.com/auth/drive.readonly": "read",
}
DRIVE_SCOPES = {
    "https://www.googleapis.com/auth/drive": "write",
    "https://www.googleapis.com/auth/drive.file": "write",
    "https://www.googleapis.com/auth/drive.readonly": "read",
    "https://www.googleapis.com/auth/drive.metadata.readonly": "read",
}


class TokenError(Exception):
    """An OAuth error answer: ``{"error": code, "error_description": text}``."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def project_number(project_id: str) -> str:
    """A stable 12-digit project number for a project id (Google names consumers by number)."""
    digest = hashlib.sha256(project_id.encode()).hexdigest()
    return str(100_000_000_000 + int(digest, 16) % 900_000_000_000)


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_key_pair() -> tuple[str, str]:
    """(private key PEM in PKCS#8, public key PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def build_key_file(
    base_url: str, email: str, private_pem: str, project_id: str | None = None
) -> dict[str, Any]:
    """The JSON of a service-account key file, with token_uri at the emulator."""
    project = project_id or email.partition("@")[2].split(".")[0] or "parkdesk-test"
    return {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": email,
        "client_id": str(secrets.randbelow(10**21 - 10**20) + 10**20),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": base_url.rstrip("/") + "/token",
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + urllib.parse.quote(email),
        "universe_domain": "googleapis.com",
    }


def register_key(
    store: Store, key_id: str, email: str, public_pem: str, project_id: str, client_id: str = ""
) -> None:
    serialization.load_pem_public_key(public_pem.encode())  # refuse garbage early
    with store.lock:
        store.keys[key_id] = {
            "email": email,
            "public_key": public_pem,
            "project_id": project_id,
            "client_id": client_id,
        }
        store.save()


def register_key_over_http(base_url: str, key_file: dict[str, Any], public_pem: str) -> None:
    payload = json.dumps(
        {
            "key_id": key_file["private_key_id"],
            "email": key_file["client_email"],
            "public_key": public_pem,
            "project_id": key_file["project_id"],
            "client_id": key_file["client_id"],
        }
    ).encode()
    request = urllib.request.Request(
        base_url.rstrip("/") + "/_emulator/keys", data=payload, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback admin call
        response.read()


def write_service_account_key(
    base_url: str,
    email: str,
    out_path: str | Path,
    project_id: str | None = None,
    register: bool = True,
) -> Path:
    """Mint a key for ``email``, write it to ``out_path`` and (by default) register its
    public half with the emulator at ``base_url``. Returns the path."""
    private_pem, public_pem = generate_key_pair()
    key_file = build_key_file(base_url, email, private_pem, project_id)
    path = Path(out_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(key_file, indent=2), encoding="utf-8")
    path.chmod(0o600)
    if register:
        register_key_over_http(base_url, key_file, public_pem)
    return path


def verify_assertion(
    store: Store, assertion: str, token_url: str, now: float | None = None
) -> dict[str, Any]:
    """Check a JWT-bearer assertion; returns {"email", "scopes", "project_id"}."""
    now = time.time() if now is None else now
    parts = assertion.split(".")
    if len(parts) != 3:
        raise TokenError("invalid_request", "Invalid JWT: not a JWT (header.payload.signature).")
    try:
        header = json.loads(_b64url_decode(parts[0]))
        claims = json.loads(_b64url_decode(parts[1]))
        signature = _b64url_decode(parts[2])
    except (ValueError, json.JSONDecodeError):
        raise TokenError("invalid_grant", "Invalid JWT: could not decode.") from None
    if header.get("alg") != "RS256":
        raise TokenError("invalid_grant", "Invalid JWT: the signing algorithm must be RS256.")
    key = store.keys.get(str(header.get("kid")))
    if key is None or claims.get("iss") != key["email"]:
        raise TokenError("invalid_grant", "Invalid JWT Signature.")
    public_key = serialization.load_pem_public_key(key["public_key"].encode())
    try:
        public_key.verify(  # type: ignore[union-attr]
            signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise TokenError("invalid_grant", "Invalid JWT Signature.") from None
    if claims.get("aud") not in (GOOGLE_TOKEN_AUDIENCE, token_url):
        raise TokenError(
            "invalid_grant",
            f"Invalid JWT: Failed audience check. The right audience is {GOOGLE_TOKEN_AUDIENCE}",
        )
    iat, exp = claims.get("iat"), claims.get("exp")
    if (
        not isinstance(iat, (int, float))
        or not isinstance(exp, (int, float))
        or exp - iat > MAX_ASSERTION_LIFETIME
        or iat > now + CLOCK_SKEW
        or exp < now - CLOCK_SKEW
    ):
        raise TokenError(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
            "Check your iat and exp values in the JWT claim.",
        )
    scopes = [s for s in str(claims.get("scope", "")).split() if s]
    if not scopes:
        raise TokenError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    return {"email": key["email"], "scopes": scopes, "project_id": key["project_id"]}


def issue_token(store: Store, identity: dict[str, Any]) -> dict[str, Any]:
    token = "ya29.emu-" + secrets.token_urlsafe(48)
    with store.lock:
        store.tokens[token] = {**identity, "expiry": time.time() + TOKEN_LIFETIME}
        store.save()
    return {"access_token": token, "expires_in": TOKEN_LIFETIME, "token_type": "Bearer"}


def exchange_grant(store: Store, form: dict[str, list[str]], token_url: str) -> dict[str, Any]:
    grant = (form.get("grant_type") or [""])[0]
    if grant != JWT_BEARER:
        raise TokenError("unsupported_grant_type", f"Invalid grant_type: {grant}")
    assertion = (form.get("assertion") or [""])[0]
    if not assertion:
        raise TokenError("invalid_request", "Missing required parameter: assertion")
    return issue_token(store, verify_assertion(store, assertion, token_url))


def lookup_token(store: Store, authorization: str | None) -> tuple[dict[str, Any] | None, str]:
    """(token info, problem): problem is 'missing', 'invalid' or 'expired' when info is None."""
    if not authorization:
        return None, "missing"
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, "invalid"
    info = store.tokens.get(token.strip())
    if info is None:
        return None, "invalid"
    if info["expiry"] < time.time():
        return None, "expired"
    return info, ""


def scope_allows(scopes: list[str], api: str, kind: str) -> bool:
    table = DRIVE_SCOPES if api == "drive" else SHEETS_SCOPES
    for scope in scopes:
        level = table.get(scope)
        if level == "write" or (level == "read" and kind == "read"):
            return True
    return False
