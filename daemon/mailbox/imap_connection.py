"""The IMAP connection itself: connect with TLS, close, and say in plain words why it failed.

:class:`ImapConnection` is the part of :class:`~daemon.mailbox.imap.ImapMailbox` that owns the
imapclient socket: it connects (``ssl``, ``starttls`` or ``none``, with TCP keepalive), drops or
logs out of the connection, and through :meth:`ImapConnection._io` turns imapclient, imaplib,
socket and ssl errors into :mod:`daemon.mailbox` exceptions. :data:`TEMPORARY_CODES` and
:func:`server_text` read the server's refusals for the other steps too.
"""

from __future__ import annotations

import imaplib
import logging
import re
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import ProtocolError

from daemon.mailbox import MailboxError, MailboxUnavailable
from daemon.tls import (
    NOT_TLS_REASONS,
    TlsSetupError,
    describe_certificate_failure,
    make_ssl_context,
)

log = logging.getLogger("parkdesk.mailbox")

# RFC 5530 response codes that mean "not now" rather than "not you".
TEMPORARY_CODES = ("[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]")


def server_text(exc: Exception) -> str:
    """What the server said, without imapclient's ``"select failed: "`` prefix."""
    text = str(exc)
    text = text.split(" failed: ", 1)[1] if " failed: " in text else text
    if len(text) >= 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        text = text[2:-1]  # imaplib puts the server's bytes in the message as their repr
    return text


def describe_loss(exc: BaseException, timeout: float | None) -> str:
    """A few plain words on why a connection failed."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return f"no answer for {timeout:g} s" if timeout else "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and are host and port right?)"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset"
    if isinstance(exc, BrokenPipeError):
        return "the connection was closed"
    if isinstance(exc, socket.gaierror):
        return f"the host name cannot be resolved ({exc.strerror})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    if isinstance(exc, imaplib.IMAP4.abort):
        text = re.sub(r"^command: \S+ => ", "", str(exc))
        if text.startswith("socket error"):
            return "the server closed the connection"
        return f"the server ended the session ({text})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def enable_keepalive(sock: socket.socket, idle_seconds: int = 60, interval_seconds: int = 15,
                     probes: int = 4) -> None:
    """TCP keepalive, so a connection silently dropped by a router ends a long IDLE within
    about two minutes instead of waiting for the next re-issue."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", idle_seconds), ("TCP_KEEPINTVL", interval_seconds),
                              ("TCP_KEEPCNT", probes)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    except OSError as exc:  # not fatal: IDLE is re-issued every 25 minutes anyway
        log.debug("cannot enable TCP keepalive: %s", exc)


class ImapConnection:
    """Connecting, closing and failure wording of one IMAP connection (a mixin of
    :class:`~daemon.mailbox.imap.ImapMailbox`, which sets the attributes below)."""

    _cfg: Any
    _timeout: float
    _client: IMAPClient | None
    _opening: bool
    _lost: str | None
    host: str

    @contextmanager
    def opening(self) -> Iterator[None]:
        """While opening, a failure reads "cannot reach", and a failed open leaves no connection."""
        self._opening = True
        try:
            yield
        except BaseException:
            self._drop()
            raise
        finally:
            self._opening = False
        self._lost = None

    def close(self) -> None:
        """Log out; a connection that is already dead is just closed."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            try:
                client.shutdown()
            except Exception:
                pass

    def _connect(self) -> None:
        cfg = self._cfg
        security = cfg.security
        if security not in ("ssl", "starttls", "none"):
            raise MailboxError(
                f"mailbox.security is {security!r}: "
                f"use ssl (port 993), starttls (port 143) or none."
            )
        context = self._ssl_context() if security != "none" else None
        port = cfg.port or (993 if security == "ssl" else 143)
        with self._io("connect"):
            self._client = IMAPClient(
                cfg.host,
                port=port,
                ssl=security == "ssl",
                ssl_context=context,
                timeout=SocketTimeout(connect=self._timeout, read=self._timeout),
            )
            enable_keepalive(self._client.socket())
            if security == "starttls":
                if not self._client.has_capability("STARTTLS"):
                    raise MailboxError(
                        f"The mail server {cfg.host}:{port} does not offer STARTTLS: set "
                        f"mailbox.security to ssl (usually port 993), or check mailbox.port."
                    )
                self._client.starttls(context)

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return make_ssl_context(self._cfg.ca_file, config_key="mailbox.ca_file")
        except TlsSetupError as exc:
            raise MailboxError(str(exc)) from None

    def _require_client(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        if self._lost is not None:
            raise MailboxUnavailable(self._lost)
        raise RuntimeError("open() the mailbox first")

    def _drop(self) -> None:
        """Forget a connection that failed, without talking to the server again."""
        client, self._client = self._client, None
        if client is not None:
            try:
                client.shutdown()
            except Exception:
                pass

    @contextmanager
    def _io(self, action: str) -> Iterator[None]:
        """Turn library and socket errors of one step into mailbox exceptions."""
        try:
            yield
        except MailboxUnavailable as exc:
            self._lost = str(exc)
            self._drop()
            raise
        except MailboxError:
            raise
        except ssl.SSLCertVerificationError as exc:
            self._drop()
            raise MailboxError(describe_certificate_failure(
                exc, host=self.host, ca_key="mailbox.ca_file", host_key="mailbox.host"
            )) from None
        except (imaplib.IMAP4.abort, ProtocolError, OSError, EOFError) as exc:
            if isinstance(exc, ssl.SSLError) and exc.reason in NOT_TLS_REASONS:
                self._drop()
                raise MailboxError(
                    f"The mail server {self.host} did not answer in TLS ({exc.reason}): "
                    f"mailbox.security and mailbox.port do not match (ssl is usually port 993, "
                    f"starttls and none port 143)."
                ) from None
            reason = describe_loss(exc, self._timeout)
            if self._opening:
                message = f"Cannot reach mail server {self.host}: {reason}"
                if isinstance(exc, TimeoutError):
                    message += " (if this lasts, check that mailbox.port fits mailbox.security)"
            else:
                message = f"Lost the connection to mail server {self.host}: {reason}"
            self._lost = message
            self._drop()
            raise MailboxUnavailable(message) from exc
        except imaplib.IMAP4.error as exc:
            text = server_text(exc)
            if any(code in text for code in TEMPORARY_CODES):
                raise MailboxUnavailable(
                    f"The mail server {self.host} could not {action} right now ({text})."
                ) from exc
            raise MailboxError(
                f"The mail server {self.host} refused to {action} ({text})."
            ) from exc
