"""The SMTP adapter: send a batch of ready-made messages over one connection. I/O only.

Each message gets a :class:`~daemon.mailer.SendResult`. The reply codes decide its kind
(RFC 5321 4.2.1): 5yz is a permanent refusal, 4yz a temporary one. A lost connection or a
timeout is temporary too; the mailer then connects once more and goes on with the rest, and if
that fails as well the remaining messages are reported as temporary failures, unsent.
Only settings and login problems raise :class:`~daemon.mailer.MailerError`, and only before
the first message of a batch went out: after that, results are never thrown away.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from daemon.mail_refusals import login_refusal_fix
from daemon.mailer import MailerError, SendResult
from daemon.tls import (
    NOT_TLS_REASONS,
    TlsSetupError,
    describe_certificate_failure,
    describe_password_source,
    make_ssl_context,
)

log = logging.getLogger("parkdesk.smtp")


class Unreachable(Exception):
    """The server cannot be used right now (refused, timed out, answered 4xx): try later."""


def reply_text(text: bytes | str) -> str:
    """The text of a server reply on one line, whitespace runs collapsed."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(text.split())


def describe_reply(code: int, text: bytes | str) -> str:
    """``(550, b'5.1.1 No such user')`` -> ``"550 5.1.1 No such user"``."""
    return f"{code} {reply_text(text)}".strip()


def describe_refusals(replies: dict[str, tuple[int, bytes]]) -> str:
    """``{"a@b": (550, b"No such user")}`` -> ``"a@b: 550 No such user"``."""
    return "; ".join(f"{rcpt}: {describe_reply(*reply)}" for rcpt, reply in replies.items())


def describe_failure(exc: BaseException, timeout: float) -> str:
    """A few plain words for a socket or protocol failure."""
    if isinstance(exc, (TimeoutError, socket.timeout)) or "timed out" in str(exc):
        return f"no answer for {timeout:g} s (the message may still have been delivered)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running, and are smtp.host and smtp.port right?)"
    if isinstance(exc, socket.gaierror):
        return f"the host name cannot be resolved ({exc.strerror}): check smtp.host"
    if isinstance(exc, smtplib.SMTPResponseException):
        return describe_reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc})"
    return str(exc) or type(exc).__name__


def unsent(message: EmailMessage, reason: str) -> SendResult:
    """A temporary failure for a message that was never offered to the server."""
    return SendResult(message.get("Message-ID"), ok=False, permanent=False, error=reason)


def is_permanent(code: int) -> bool:
    return 500 <= code < 600


class SmtpMailer:
    """Sends messages through the SMTP server described by an ``SmtpConfig``.

    ``cfg`` needs: host, port, security (``"ssl"``, ``"starttls"``, ``"none"``), username
    (None: no login), ``password()``, ca_file, from_address (the envelope sender),
    timeout_seconds, and optionally ``password_env``/``password_file`` (named in login errors).
    """

    def __init__(self, cfg: Any, *, timeout: float | None = None) -> None:
        self._cfg = cfg
        self._timeout = float(timeout if timeout is not None else cfg.timeout_seconds)
        self._tokens: Any = None  # daemon.oauth.TokenSource, made at the first XOAUTH2 login

    def check(self) -> None:
        """Connect, log in and quit; MailerError with a plain message if anything fails."""
        try:
            connection = self._connect()
        except Unreachable as exc:
            raise MailerError(
                f"Cannot use the SMTP server {self._cfg.host}:{self._port()}: {exc}"
            ) from None
        self._quit(connection)

    def send_all(self, messages: Sequence[EmailMessage]) -> list[SendResult]:
        """Send ``messages`` in order over one connection; one result per message."""
        if not messages:
            return []
        try:
            connection: smtplib.SMTP | None = self._connect()
        except Unreachable as exc:
            reason = f"SMTP server {self._cfg.host} unavailable: {exc}"
            log.warning("%d message(s) not sent: %s", len(messages), reason)
            return [unsent(message, reason) for message in messages]
        results: list[SendResult] = []
        reconnected = False
        lost = ""
        try:
            for index, message in enumerate(messages):
                if connection is None and not reconnected:
                    reconnected = True
                    connection, lost = self._reconnect(lost)
                if connection is None:
                    rest = messages[index:]
                    log.warning("%d message(s) not sent: %s", len(rest), lost)
                    results.extend(unsent(other, f"not sent: {lost}") for other in rest)
                    break
                result = self._send_one(connection, message)
                results.append(result)
                if connection.sock is None:  # smtplib closes it on 421 and on socket errors
                    connection = None
                    lost = f"lost the connection to SMTP server {self._cfg.host} ({result.error})"
        finally:
            if connection is not None:
                self._quit(connection)
        return results

    # --- one message ------------------------------------------------------------------------

    def _send_one(self, connection: smtplib.SMTP, message: EmailMessage) -> SendResult:
        message_id = message.get("Message-ID")
        try:
            refused = connection.send_message(message, from_addr=self._cfg.from_address)
        except smtplib.SMTPRecipientsRefused as exc:
            permanent = all(is_permanent(code) for code, _ in exc.recipients.values())
            detail = describe_refusals(exc.recipients) or "no recipients"
            return self._failure(message, f"recipients refused ({detail})", permanent)
        except smtplib.SMTPServerDisconnected as exc:
            return self._failure(message, describe_failure(exc, self._timeout), permanent=False)
        except smtplib.SMTPResponseException as exc:  # MAIL FROM or DATA refused
            error = describe_failure(exc, self._timeout)
            return self._failure(message, error, is_permanent(exc.smtp_code))
        except smtplib.SMTPNotSupportedError as exc:  # e.g. non-ASCII address, no SMTPUTF8
            return self._failure(message, str(exc), permanent=True)
        except (smtplib.SMTPException, OSError) as exc:
            connection.close()
            return self._failure(message, describe_failure(exc, self._timeout), permanent=False)
        except (ValueError, TypeError) as exc:  # a message that cannot be serialised
            return self._failure(message, f"cannot send this message: {exc}", permanent=True)
        if refused:
            detail = describe_refusals(refused)
            log.warning("%s sent, but refused for %s", message_id, detail)
            return SendResult(
                message_id, ok=True, error=f"refused for some recipients ({detail})",
                refused={rcpt: (code, reply_text(text)) for rcpt, (code, text) in refused.items()},
            )
        log.debug("%s sent", message_id)
        return SendResult(message_id, ok=True)

    def _failure(self, message: EmailMessage, error: str, permanent: bool) -> SendResult:
        message_id = message.get("Message-ID")
        kind = "permanent" if permanent else "temporary"
        log.warning("%s not sent (%s): %s", message_id, kind, error)
        return SendResult(message_id, ok=False, permanent=permanent, error=error)

    # --- connection -------------------------------------------------------------------------

    def _reconnect(self, lost: str) -> tuple[smtplib.SMTP | None, str]:
        try:
            return self._connect(), lost
        except (Unreachable, MailerError) as exc:
            return None, f"{lost}; reconnecting failed: {exc}"

    def _port(self) -> int:
        return self._cfg.port or {"ssl": 465, "starttls": 587}.get(self._cfg.security, 25)

    def _connect(self) -> smtplib.SMTP:
        """An open, logged-in connection; MailerError (settings) or Unreachable (try later)."""
        cfg = self._cfg
        if cfg.security not in ("ssl", "starttls", "none"):
            raise MailerError(
                f"smtp.security is {cfg.security!r}: "
                f"use ssl (port 465), starttls (port 587) or none."
            )
        context = self._ssl_context() if cfg.security != "none" else None
        connection: smtplib.SMTP | None = None
        try:
            if cfg.security == "ssl":
                connection = smtplib.SMTP_SSL(
                    cfg.host, self._port(), timeout=self._timeout, context=context
                )
            else:
                connection = smtplib.SMTP(cfg.host, self._port(), timeout=self._timeout)
            connection.ehlo()
            if cfg.security == "starttls":
                if not connection.has_extn("starttls"):
                    raise MailerError(
                        f"The SMTP server {cfg.host}:{self._port()} does not offer STARTTLS: set "
                        f"smtp.security to ssl (usually port 465), or check smtp.port."
                    )
                connection.starttls(context=context)
                connection.ehlo()
            if cfg.username:
                self._login(connection)
            return connection
        except ssl.SSLCertVerificationError as exc:
            self._close(connection)
            raise MailerError(describe_certificate_failure(
                exc, host=cfg.host, ca_key="smtp.ca_file", host_key="smtp.host"
            )) from None
        except (MailerError, Unreachable):
            self._close(connection)
            raise
        except ssl.SSLError as exc:
            self._close(connection)
            if exc.reason in NOT_TLS_REASONS:
                raise MailerError(
                    f"The SMTP server {cfg.host} did not answer in TLS ({exc.reason}): "
                    f"smtp.security and smtp.port do not match (ssl is usually port 465, "
                    f"starttls 587)."
                ) from None
            raise Unreachable(describe_failure(exc, self._timeout)) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._close(connection)
            raise Unreachable(describe_failure(exc, self._timeout)) from exc

    def _login(self, connection: smtplib.SMTP) -> None:
        if getattr(self._cfg, "auth", "password") == "oauth2":
            self._login_with_token(connection)
            return
        cfg = self._cfg
        where = describe_password_source(cfg, "smtp")
        try:
            connection.login(cfg.username, cfg.password() or "")
        except smtplib.SMTPAuthenticationError as exc:
            reply = describe_reply(exc.smtp_code, exc.smtp_error)
            if not is_permanent(exc.smtp_code):
                raise Unreachable(f"the login could not be checked right now ({reply})") from None
            if exc.smtp_code == 530 and "TLS" in reply.upper():
                raise MailerError(
                    f"The SMTP server {cfg.host} wants an encrypted connection before the login "
                    f"({reply}): set smtp.security to starttls or ssl."
                ) from None
            fix = login_refusal_fix(reply, cfg.host, "smtp", f"check smtp.username and {where}")
            raise MailerError(
                f"The SMTP server refused the login for {cfg.username} ({reply}): {fix}."
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise MailerError(
                f"The SMTP server {cfg.host} does not offer a login on this connection: set "
                f"smtp.security to starttls or ssl, or remove smtp.username if it needs none."
            ) from None
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                raise
            raise MailerError(
                f"The SMTP server {cfg.host} offers no login method ParkDesk can use ({exc}): "
                f"check smtp.security and smtp.username."
            ) from None
        except UnicodeEncodeError:
            raise MailerError(
                f"The SMTP login for {cfg.username} failed: SMTP logins accept only ASCII "
                f"characters: check smtp.username and {where}."
            ) from None

    def _login_with_token(self, connection: smtplib.SMTP) -> None:
        """AUTH XOAUTH2 with an access token; a refused token is renewed once and retried."""
        # Imported here: daemon.oauth imports this package.
        from daemon.oauth import TokenRefreshError, TokenServiceUnavailable, token_source_for

        cfg = self._cfg
        if "XOAUTH2" not in connection.esmtp_features.get("auth", "").upper().split():
            raise MailerError(
                f"The SMTP server {cfg.host} does not offer OAuth2 logins (XOAUTH2) on this "
                f"connection: set smtp.security to starttls or ssl, or smtp.auth to password."
            )
        try:
            if self._tokens is None:
                self._tokens = token_source_for(cfg, "smtp")
            token = self._tokens.access_token()
            for attempt in (1, 2):
                code, reply = self._send_xoauth2(connection, token)
                if code == 235:
                    return
                if not is_permanent(code):
                    raise Unreachable(f"the login could not be checked right now ({reply})")
                if attempt == 2:
                    raise MailerError(
                        f"The SMTP server {cfg.host} refused a new access token for "
                        f"{cfg.username} ({reply}) from {self._tokens.description}: check that "
                        f"smtp.username is the mailbox the token is for, that SMTP AUTH is "
                        f"allowed for it, and the smtp.oauth2 section."
                    )
                log.info("%s refused the access token for %s (%s); getting a new one",
                         cfg.host, cfg.username, reply)
                token = self._tokens.refresh()
        except TokenServiceUnavailable as exc:
            raise Unreachable(f"cannot log in as {cfg.username}: {exc}") from None
        except TokenRefreshError:
            self._tokens = None  # the next login reads the smtp.oauth2 secrets again
            raise

    def _send_xoauth2(self, connection: smtplib.SMTP, token: str) -> tuple[int, str]:
        """One AUTH XOAUTH2 exchange; ``(reply code, reply)``. A refusal first comes as a 334
        challenge carrying a JSON error, which is answered with an empty line."""
        from daemon.oauth import xoauth2_response

        answer = xoauth2_response(self._cfg.username, token)

        def respond(challenge: bytes | None = None) -> str:
            return answer if challenge is None else ""

        try:
            code, reply = connection.auth("XOAUTH2", respond, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            return exc.smtp_code, describe_reply(exc.smtp_code, exc.smtp_error)
        except UnicodeEncodeError:
            raise MailerError(
                f"The SMTP login for {self._cfg.username} failed: SMTP logins accept only ASCII "
                f"characters: check smtp.username."
            ) from None
        return code, describe_reply(code, reply)

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return make_ssl_context(self._cfg.ca_file, config_key="smtp.ca_file")
        except TlsSetupError as exc:
            raise MailerError(str(exc)) from None

    @staticmethod
    def _quit(connection: smtplib.SMTP) -> None:
        try:
            connection.quit()
        except (smtplib.SMTPException, OSError):
            connection.close()

    @staticmethod
    def _close(connection: smtplib.SMTP | None) -> None:
        if connection is not None:
            connection.close()
