"""A real SMTP receiver on loopback that stores each accepted message in Dovecot via LMTP.

aiosmtpd runs in a thread (its ``Controller``) on two free ports of 127.0.0.1:
- ``port``: plain SMTP that offers STARTTLS (not required) and AUTH PLAIN/LOGIN (also before
  TLS, like a lax submission server);
- ``tls_port``: implicit TLS (SMTPS, the "465" style).

The dialogue, stage by stage (RFC 5321 section 3.3):
- MAIL FROM: accepted (``<>`` too), unless a fault is planned;
- RCPT TO: 250 for users created on the bench (``user+detail@`` counts as ``user@``), 550 for
  anyone else;
- end of DATA: the message goes to Dovecot's LMTP socket, one LMTP transaction per recipient
  (RFC 2033), and 250 is answered only after Dovecot said it saved every copy, so a test can
  read the mail over IMAP at once. An LMTP refusal is passed on as 451.

Every transaction that got its 250 is recorded as a ``ReceivedMessage`` (envelope, content,
who logged in, whether TLS was on) for tests that look at the envelope.

    relay = SmtpRelay(lmtp_socket, is_known=users.__contains__, check_password=...,
                      tls_context=make_server_context(files), faults=SmtpFaults())
    relay.start(); relay.port, relay.tls_port; relay.received; relay.stop()
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import json
import logging
import smtplib
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword

from tests.mailbench.dovecot import LISTEN_HOST, find_free_port
from tests.mailbench.faults import SmtpFaults

GREETING_HOST = "mailbench.test"
_START_ATTEMPTS = 5

log = logging.getLogger("mailbench.smtp")


@dataclass(frozen=True)
class ReceivedMessage:
    """One SMTP transaction the receiver accepted and delivered (``mail_from`` "" = ``<>``)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: str | None
    tls: bool


class LmtpDeliveryError(Exception):
    """Dovecot's LMTP refused or failed a delivery."""


def deliver_over_lmtp(
    socket_path: Path, mail_from: str, recipient: str, content: bytes, timeout: float = 30.0
) -> None:
    """Hand one message for one recipient to Dovecot's LMTP socket; return once it is saved."""
    try:
        with smtplib.LMTP(str(socket_path), local_hostname=GREETING_HOST, timeout=timeout) as lmtp:
            lmtp.sendmail(mail_from, [recipient], content)
    except smtplib.SMTPRecipientsRefused as error:
        code, text = error.recipients[recipient]
        raise LmtpDeliveryError(f"{code} {text.decode(errors='replace')}") from error
    except smtplib.SMTPResponseException as error:
        raise LmtpDeliveryError(
            f"{error.smtp_code} {error.smtp_error.decode(errors='replace')}"
        ) from error
    except (smtplib.SMTPException, OSError) as error:
        raise LmtpDeliveryError(str(error)) from error


class RelayHandler:
    """aiosmtpd handler: checks recipients, acts out planned faults, delivers over LMTP."""

    def __init__(
        self,
        lmtp_socket: Path,
        is_known: Callable[[str], bool],
        faults: SmtpFaults,
        on_received: Callable[[ReceivedMessage], None],
    ) -> None:
        self._lmtp_socket = lmtp_socket
        self._is_known = is_known
        self._faults = faults
        self._on_received = on_received

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        planned = self._faults.take_failure("MAIL")
        if planned:
            return planned
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        planned = self._faults.take_failure("RCPT")
        if planned:
            return planned
        if not self._is_known(base_address(address)):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        planned = self._faults.take_failure("DATA")
        if planned:
            return planned
        content = envelope.original_content or b""
        sender = "" if envelope.mail_from in (None, "<>") else envelope.mail_from
        loop = asyncio.get_running_loop()
        for recipient in envelope.rcpt_tos:
            try:
                await loop.run_in_executor(
                    None, deliver_over_lmtp, self._lmtp_socket, sender, recipient, content
                )
            except LmtpDeliveryError as error:
                log.warning("LMTP delivery to %s failed: %s", recipient, error)
                return f"451 4.3.0 Could not store the message for <{recipient}>: {error}"
        auth_data = session.auth_data
        self._on_received(
            ReceivedMessage(
                mail_from=sender,
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=content,
                login=auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None,
                tls=server.transport is not None
                and server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        delay = self._faults.take_delay()
        if delay:
            await asyncio.sleep(delay)  # delivered already; the answer comes late
        return f"250 2.0.0 OK: delivered to {len(envelope.rcpt_tos)} mailbox(es)"


XOAUTH2_ERROR = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}


def parse_xoauth2(blob: bytes) -> tuple[str, str]:
    """``b"user=u\\x01auth=Bearer t\\x01\\x01"`` -> ``("u", "t")`` (``("", "")`` if malformed)."""
    fields = dict(
        part.split("=", 1) for part in blob.decode("utf-8", "replace").split("\x01") if "=" in part
    )
    auth = fields.get("auth", "")
    token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
    return fields.get("user", ""), token


class XOAuth2RelayHandler(RelayHandler):
    """The relay's handler plus AUTH XOAUTH2 (opt-in): ``check_token(user, token)`` decides.

    A refused token gets Google's answer: a 334 challenge holding a JSON error, then, after
    the client's empty line, 535.
    """

    def __init__(self, *args: Any, check_token: Callable[[str, str], bool], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._check_token = check_token

    async def auth_XOAUTH2(self, server, args) -> AuthResult:  # noqa: N802 - aiosmtpd's naming
        if len(args) == 1:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        else:
            try:
                blob = base64.b64decode(args[1].encode(), validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        user, token = parse_xoauth2(blob)
        loop = asyncio.get_running_loop()
        if user and token and await loop.run_in_executor(None, self._check_token, user, token):
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        if await server.challenge_auth(json.dumps(XOAUTH2_ERROR)) is MISSING:
            return AuthResult(success=False, handled=True)
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and token not accepted")


class PasswordAuthenticator:
    """aiosmtpd authenticator for AUTH PLAIN/LOGIN against the bench's users."""

    def __init__(self, check_password: Callable[[str, str], bool],
                 faults: SmtpFaults | None = None) -> None:
        self._check_password = check_password
        self._faults = faults

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        planned = self._faults.take_failure("AUTH") if self._faults else None
        if planned:
            return AuthResult(success=False, handled=False, message=planned)
        login = auth_data.login.decode("utf-8", errors="replace")
        password = auth_data.password.decode("utf-8", errors="replace")
        if self._check_password(login, password):
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)


class SmtpRelay:
    """Two aiosmtpd controllers (STARTTLS-capable and implicit TLS) sharing one handler."""

    def __init__(
        self,
        lmtp_socket: Path,
        *,
        is_known: Callable[[str], bool],
        check_password: Callable[[str, str], bool],
        tls_context: ssl.SSLContext,
        faults: SmtpFaults,
        auth_required: bool = False,
        check_token: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.host = LISTEN_HOST
        self.port = 0
        self.tls_port = 0
        self._received: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        if check_token is None:
            self._handler = RelayHandler(lmtp_socket, is_known, faults, self._record)
        else:  # opt-in: AUTH XOAUTH2 as well, each token checked by check_token(user, token)
            self._handler = XOAuth2RelayHandler(lmtp_socket, is_known, faults, self._record,
                                                check_token=check_token)
        self._tls_context = tls_context
        self._smtp_options: dict[str, Any] = {
            "server_hostname": GREETING_HOST,
            "authenticator": PasswordAuthenticator(check_password, faults),
            "auth_required": auth_required,
            "auth_require_tls": False,
            "ready_timeout": 5.0,
        }
        self._controllers: list[Controller] = []

    @property
    def received(self) -> list[ReceivedMessage]:
        """Copies of the transactions accepted so far, oldest first."""
        with self._lock:
            return list(self._received)

    def start(self) -> None:
        plain = self._start_controller(
            tls_context=self._tls_context, require_starttls=False, **self._smtp_options
        )
        self.port = plain.port
        implicit = self._start_controller(ssl_context=self._tls_context, **self._smtp_options)
        self.tls_port = implicit.port

    def stop(self) -> None:
        while self._controllers:
            self._controllers.pop().stop()

    def _start_controller(self, **options: Any) -> Controller:
        for attempt in range(_START_ATTEMPTS):
            controller = Controller(self._handler, hostname=self.host, port=find_free_port(),
                                    **options)
            try:
                controller.start()
            except OSError as error:
                controller.stop(no_assert=True)
                if error.errno != errno.EADDRINUSE or attempt == _START_ATTEMPTS - 1:
                    raise
                continue
            self._controllers.append(controller)
            return controller
        raise AssertionError("unreachable")

    def _record(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._received.append(message)


def base_address(address: str) -> str:
    """``Name+Detail@Park.Test`` -> ``name@park.test`` (plus addressing, lower case)."""
    local, at, domain = address.lower().rpartition("@")
    if not at:
        return address.lower()
    return f"{local.split('+', 1)[0]}@{domain}"
