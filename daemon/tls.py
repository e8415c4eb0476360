"""Connection security shared by the mail adapters: the SSL context, and wording for failures.

Both the IMAP mailbox and the SMTP mailer connect through :func:`make_ssl_context`. The
context always checks the server's certificate and its host name. With ``ca_file`` set, only
that CA bundle is trusted (a park's own mail server with a private CA); without it, the
system's trust store is used (Gmail, Microsoft 365, QQ, NetEase, Aliyun).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

# OpenSSL's reasons for "the other side does not speak TLS here" (a plain-text port).
NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST")


class TlsSetupError(Exception):
    """The SSL context cannot be built: the CA file is missing or is not a PEM bundle."""


def make_ssl_context(ca_file: Path | str | None, *, config_key: str) -> ssl.SSLContext:
    """A client context that verifies the server certificate and host name.

    ``config_key`` names the setting in operator messages, e.g. ``"mailbox.ca_file"``.
    """
    if ca_file is None:
        return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH)
    path = Path(ca_file)
    if not path.is_file():
        raise TlsSetupError(
            f"The CA file {path} given in {config_key} does not exist: "
            f"fix the path, or remove {config_key} to use the system's certificates."
        )
    try:
        return ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=str(path))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise TlsSetupError(
            f"The CA file {path} given in {config_key} cannot be used ({exc}): "
            f"it must hold one or more PEM certificates (-----BEGIN CERTIFICATE-----)."
        ) from exc


def describe_certificate_failure(
    exc: ssl.SSLCertVerificationError, *, host: str, ca_key: str, host_key: str
) -> str:
    """A plain operator message for a server certificate that did not verify."""
    reason = exc.verify_message or str(exc)
    return (
        f"The certificate of {host} could not be verified ({reason}): check {host_key} "
        f"(it must be the name on the server's certificate) and {ca_key} (the CA that "
        f"signed it; leave it out for public mail services)."
    )


def describe_password_source(cfg: Any, section: str) -> str:
    """Where the password came from, for login errors: never the password itself."""
    env = getattr(cfg, "password_env", None)
    file = getattr(cfg, "password_file", None)
    if env:
        return f"the password in {env}"
    if file:
        return f"the password in {file} ({section}.password_file)"
    return f"the password ({section}.password_env or {section}.password_file)"
