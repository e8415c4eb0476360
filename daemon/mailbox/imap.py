"""The IMAP adapter: connect, list, fetch, move, wait for mail. I/O only, no decisions.

:class:`ImapMailbox` wraps one imapclient connection to the complaints folder. Every failure
leaves as a :mod:`daemon.mailbox` exception with a plain message; imapclient, imaplib, socket
and ssl errors never reach the workflow. :class:`ReconnectingMailbox` puts the same interface
over an :class:`ImapMailbox` and rides out outages: it closes, waits (1, 2, 4 ... 300 s), opens
again and repeats the call, logging the outage once.

Protocol notes:
  * Messages are read with ``BODY.PEEK[]`` (RFC 3501 6.4.5), which leaves ``\\Seen`` alone.
  * Moves use ``UID MOVE`` (RFC 6851); without it ``UID COPY`` + ``\\Deleted`` + ``UID EXPUNGE``
    of exactly those UIDs (RFC 4315 2.1). Without UIDPLUS either, the copies are only flagged
    ``\\Deleted`` and never expunged (a plain EXPUNGE would also remove what people flagged), and
    :meth:`ImapMailbox.list_uids` skips flagged messages so they are not handled twice.
  * IDLE (RFC 2177) is re-issued at least every 25 minutes: servers may drop a client that
    stays idle for 30 minutes (RFC 2177 section 3).
  * The ID command (RFC 2971) is sent when offered: NetEase 163/126 refuse SELECT without it.
"""

from __future__ import annotations

import imaplib
import logging
import random
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import LoginError, ProtocolError

from daemon import __version__
from daemon.mail_refusals import classify_refusal, login_refusal_fix
from daemon.mailbox import (
    BatchedFolders,
    FetchedMessage,
    MailboxAuthError,
    MailboxError,
    MailboxUnavailable,
    UidValidityChanged,
    split_batches,
)
from daemon.tls import (
    NOT_TLS_REASONS,
    TlsSetupError,
    describe_certificate_failure,
    describe_password_source,
    make_ssl_context,
)

log = logging.getLogger("parkdesk.mailbox")

IDLE_MAX_SECONDS = 25 * 60
ID_PARAMETERS = {"name": "ParkDesk", "version": __version__, "vendor": "ParkDesk"}
DELETED = rb"\Deleted"
OLDEST_SAMPLE = 20  # lowest UIDs whose arrival times are read to find the oldest waiting message

# RFC 5530 response codes that mean "not now" rather than "not you".
TEMPORARY_CODES = ("[UNAVAILABLE]", "[INUSE]", "[LIMIT]", "[SERVERBUG]")

T = TypeVar("T")


def format_uid_set(uids: Sequence[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1:3,7,9:10"`` (RFC 3501 sequence-set, only listed UIDs)."""
    ordered = sorted(set(uids))
    parts: list[str] = []
    start = prev = ordered[0]
    for uid in ordered[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev > start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev > start else str(start))
    return ",".join(parts)


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


def as_aware(moment: datetime) -> datetime:
    """imapclient gives INTERNALDATE in the machine's local time without a zone: attach it."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def is_response(item: Any, name: bytes) -> bool:
    """True for a parsed untagged response such as ``(3, b'EXISTS')`` or ``(b'BYE', ...)``."""
    return isinstance(item, tuple) and name in item[:2]


class ImapMailbox(BatchedFolders):
    """One IMAP connection to the complaints folder, described by a ``MailboxConfig``.

    ``cfg`` needs: host, port, security (``"ssl"``, ``"starttls"``, ``"none"``), username,
    ``password()``, ca_file, folder, processed_folder, quarantine_folder, idle, poll_seconds,
    batch_size, and optionally ``password_env``/``password_file`` (named in login errors).
    ``timeout`` is the socket timeout in seconds, for connecting and for every answer.
    """

    def __init__(
        self,
        cfg: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 30,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cfg = cfg
        self._sleep = sleep
        self._timeout = timeout
        self._clock = clock
        self._client: IMAPClient | None = None
        self._opening = False
        self._lost: str | None = None
        self._capabilities: frozenset[bytes] = frozenset()
        self._uidvalidity: int | None = None
        self._previous_uidvalidity: int | None = None
        self._listed_uidvalidity: int | None = None
        self._highest_uid_seen = 0
        self._tokens: Any = None  # daemon.oauth.TokenSource, made at the first XOAUTH2 login

    # --- state ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._cfg.host

    @property
    def batch_size(self) -> int:
        return self._cfg.batch_size

    @property
    def is_open(self) -> bool:
        return self._client is not None

    @property
    def uidvalidity(self) -> int:
        """UIDVALIDITY of the folder at the last open (RFC 3501 2.3.1.1)."""
        if self._uidvalidity is None:
            raise RuntimeError("open() the mailbox first")
        return self._uidvalidity

    def uidvalidity_changed(self) -> bool:
        """True if the last open found a different UIDVALIDITY than the open before it."""
        return (
            self._previous_uidvalidity is not None
            and self._previous_uidvalidity != self._uidvalidity
        )

    # --- connection -------------------------------------------------------------------------

    def open(self) -> ImapMailbox:
        """Connect, log in, send ID, create the two folders if absent, SELECT the folder."""
        if self._client is not None:
            return self
        with self.opening():
            for _, step in self.opening_steps():
                step()
        return self

    def opening_steps(self) -> list[tuple[str, Callable[[], None]]]:
        """The steps of :meth:`open` in order, named (``connect``, ``login``, ``id``, ``folders``,
        ``select``), so ``parkdesk check`` can run and report them one by one inside
        :meth:`opening`."""
        return [("connect", self._connect), ("login", self._login), ("id", self._send_id),
                ("folders", self._ensure_folders), ("select", self._select)]

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

    def offers(self, capability: str) -> bool:
        """Whether the server announced ``capability`` (e.g. ``"IDLE"``, ``"MOVE"``)."""
        return self._offers(capability)

    def _ensure_folders(self) -> None:
        self._ensure_folder(self._cfg.processed_folder, "mailbox.processed_folder")
        self._ensure_folder(self._cfg.quarantine_folder, "mailbox.quarantine_folder")

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

    def __enter__(self) -> ImapMailbox:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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

    def _login(self) -> None:
        if getattr(self._cfg, "auth", "password") == "oauth2":
            self._login_with_token()
            return
        client = self._require_client()
        username = self._cfg.username
        password = self._cfg.password()
        with self._io("log in"):
            if b"LOGINDISABLED" in client.capabilities():
                raise MailboxError(
                    f"The mail server {self.host} refuses passwords on an unencrypted "
                    f"connection: set mailbox.security to starttls or ssl."
                )
            try:
                if f"{username}{password}".isascii():
                    client.login(username, password)
                else:  # LOGIN is ASCII-only; SASL PLAIN carries UTF-8 (RFC 4616)
                    client.plain_login(username, password)
            except LoginError as exc:
                if isinstance(exc.__context__, imaplib.IMAP4.abort):
                    raise exc.__context__ from None  # the connection broke; not a refusal
                raise self._login_failure(server_text(exc)) from None
            self._capabilities = frozenset(client.capabilities())

    def _login_with_token(self) -> None:
        """XOAUTH2 login with an access token; a refused token is renewed once and retried
        (it may have expired or been revoked before the time it was issued for)."""
        # Imported here: daemon.oauth imports this package.
        from daemon.oauth import TokenRefreshError, TokenServiceUnavailable, token_source_for

        username = self._cfg.username
        try:
            if self._tokens is None:
                self._tokens = token_source_for(self._cfg, "mailbox")
            self._present_token(self._tokens)
        except TokenServiceUnavailable as exc:
            raise MailboxUnavailable(f"Cannot log in to {self.host} as {username}: {exc}; "
                                     f"it will be tried again.") from None
        except TokenRefreshError:
            self._tokens = None  # the next login reads the mailbox.oauth2 secrets again
            raise

    def _present_token(self, tokens: Any) -> None:
        client = self._require_client()
        username = self._cfg.username
        token = tokens.access_token()
        with self._io("log in"):
            if b"AUTH=XOAUTH2" not in client.capabilities():
                raise MailboxError(
                    f"The mail server {self.host} does not offer OAuth2 logins (XOAUTH2): set "
                    f"mailbox.auth to password, or check mailbox.host and mailbox.security."
                )
            for attempt in (1, 2):
                try:
                    client.oauth2_login(username, token)
                    break
                except LoginError as exc:
                    if isinstance(exc.__context__, imaplib.IMAP4.abort):
                        raise exc.__context__ from None  # the connection broke; not a refusal
                    text = server_text(exc)
                    if attempt == 2 or any(code in text for code in TEMPORARY_CODES):
                        raise self._token_login_failure(text) from None
                log.info("%s refused the access token for %s (%s); getting a new one",
                         self.host, username, text)
                token = tokens.refresh()
            self._capabilities = frozenset(client.capabilities())

    def _token_login_failure(self, text: str) -> MailboxError:
        username = self._cfg.username
        if any(code in text for code in TEMPORARY_CODES):
            return MailboxUnavailable(
                f"The mail server {self.host} cannot check the login for {username} "
                f"right now ({text}); it will be tried again."
            )
        return MailboxAuthError(
            f"The mail server {self.host} refused a new access token for {username} ({text}) "
            f"from {self._tokens.description}: check that mailbox.username is the mailbox the "
            f"token is for, that IMAP and OAuth2 (XOAUTH2) logins are allowed for it, and the "
            f"mailbox.oauth2 section."
        )

    def _login_failure(self, text: str) -> MailboxError:
        username = self._cfg.username
        if any(code in text for code in TEMPORARY_CODES):
            return MailboxUnavailable(
                f"The mail server {self.host} cannot check the login for {username} "
                f"right now ({text}); it will be tried again."
            )
        if "[PRIVACYREQUIRED]" in text:
            return MailboxError(
                f"The mail server {self.host} refuses passwords on an unencrypted connection "
                f"({text}): set mailbox.security to starttls or ssl."
            )
        where = describe_password_source(self._cfg, "mailbox")
        fix = login_refusal_fix(text, self.host, "mailbox",
                                f"check mailbox.username and {where}")
        return MailboxAuthError(f"The mail server refused the login for {username} ({text}): {fix}.")

    def _send_id(self) -> None:
        if not self._offers("ID"):
            return
        with self._io("send ID"):
            try:
                self._require_client().id_(ID_PARAMETERS)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:  # optional: a refusal costs nothing
                log.debug("%s refused the ID command: %s", self.host, exc)

    def _ensure_folder(self, folder: str, key: str) -> None:
        client = self._require_client()
        with self._io(f"look for folder {folder}"):
            if client.folder_exists(folder):
                return
            try:
                client.create_folder(folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                if "[ALREADYEXISTS]" not in str(exc):
                    raise MailboxError(
                        f"Cannot create the folder {folder!r} on {self.host} "
                        f"({server_text(exc)}): create it in the mailbox or change {key}."
                    ) from None
            try:
                client.subscribe_folder(folder)  # so people's mail clients show it
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error:
                pass
        log.info("created folder %s on %s", folder, self.host)

    def _select(self) -> None:
        client = self._require_client()
        folder = self._cfg.folder
        with self._io(f"open folder {folder}"):
            try:
                info = client.select_folder(folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                raise self._select_failure(folder, server_text(exc)) from None
        self._record_uidvalidity(int(info.get(b"UIDVALIDITY", 0)))

    def _select_failure(self, folder: str, text: str) -> MailboxError:
        if any(code in text for code in TEMPORARY_CODES):
            return MailboxUnavailable(
                f"The mail server {self.host} cannot open {folder!r} right now ({text})."
            )
        refusal = classify_refusal(text)
        hint = refusal.advice.format(key="mailbox") if refusal else "check mailbox.folder"
        return MailboxError(f"Cannot open the folder {folder!r} on {self.host} ({text}): {hint}.")

    def _record_uidvalidity(self, value: int) -> None:
        self._previous_uidvalidity = self._uidvalidity
        self._uidvalidity = value
        if self._previous_uidvalidity is not None and self._previous_uidvalidity != value:
            log.warning(
                "UIDVALIDITY of folder %s on %s changed from %s to %s: listing it afresh",
                self._cfg.folder, self.host, self._previous_uidvalidity, value,
            )
            self._highest_uid_seen = 0

    def _offers(self, capability: str) -> bool:
        """True if the server announced ``capability`` after login (RFC 3501 7.2.1)."""
        return capability.encode().upper() in self._capabilities

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

    # --- messages ---------------------------------------------------------------------------

    def list_uids(self) -> list[int]:
        """UIDs of the folder's messages, ascending; those flagged ``\\Deleted`` are left out."""
        client = self._require_client()
        with self._io("list the messages"):
            uids = sorted(int(uid) for uid in client.search("UNDELETED"))
        self._listed_uidvalidity = self._uidvalidity
        if uids:
            self._highest_uid_seen = max(self._highest_uid_seen, uids[-1])
        return uids

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """The raw messages for ``uids`` (ascending), read with ``BODY.PEEK[]``.

        UIDs no longer in the folder are left out of the result.
        """
        client = self._require_client()
        self._check_uids_current()
        if not uids:
            return []
        wanted = sorted(set(uids))
        with self._io("fetch messages"):
            data = client.fetch(wanted, ["BODY.PEEK[]"])
        found = []
        for uid in wanted:
            raw = data.get(uid, {}).get(b"BODY[]")
            if raw is not None:
                found.append(FetchedMessage(uid=uid, uidvalidity=self.uidvalidity, raw=bytes(raw)))
        return found

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move ``uids`` to ``folder`` (created if the server asks for it with TRYCREATE)."""
        client = self._require_client()
        self._check_uids_current()
        if not uids:
            return
        uid_set = format_uid_set(uids)
        with self._io(f"move messages to {folder}"):
            try:
                self._move_now(client, uid_set, folder)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as exc:
                if "[TRYCREATE]" not in str(exc):
                    raise
                client.create_folder(folder)
                self._move_now(client, uid_set, folder)

    def oldest_waiting(self) -> datetime | None:
        """When the oldest message still in the folder arrived, or None if it is empty.

        The arrival time is the server's INTERNALDATE (RFC 3501 2.3.3) of the lowest UIDs (the
        first arrivals), as an aware datetime. For the health check: mail that waits too long.
        """
        client = self._require_client()
        with self._io("look at the waiting mail"):
            uids = sorted(int(uid) for uid in client.search("UNDELETED"))
            if not uids:
                return None
            data = client.fetch(uids[:OLDEST_SAMPLE], ["INTERNALDATE"])
        dates = [as_aware(item[b"INTERNALDATE"]) for item in data.values()
                 if isinstance(item.get(b"INTERNALDATE"), datetime)]
        return min(dates, default=None)

    def _move_now(self, client: IMAPClient, uid_set: str, folder: str) -> None:
        if self._offers("MOVE"):
            client.move(uid_set, folder)
            return
        client.copy(uid_set, folder)
        client.add_flags(uid_set, [DELETED], silent=True)
        if self._offers("UIDPLUS"):
            client.uid_expunge(uid_set)

    def _check_uids_current(self) -> None:
        if self._listed_uidvalidity is not None and self._listed_uidvalidity != self._uidvalidity:
            raise UidValidityChanged(
                f"The folder {self._cfg.folder!r} on {self.host} was rebuilt (UIDVALIDITY "
                f"{self._listed_uidvalidity} -> {self._uidvalidity}): list its messages again."
            )

    # --- waiting ----------------------------------------------------------------------------

    def wait_for_mail(self, timeout_seconds: float) -> bool:
        """Wait until new mail may be there.

        With ``cfg.idle`` and a server offering IDLE: True as soon as the server reports a new
        message (or one arrived since the last :meth:`list_uids`), False after
        ``timeout_seconds`` without one. Otherwise: sleep ``cfg.poll_seconds`` (at most
        ``timeout_seconds``) and return True, leaving the check to the caller.
        """
        client = self._require_client()
        if not (self._cfg.idle and self._offers("IDLE")):
            self._sleep(max(0.0, min(self._cfg.poll_seconds, timeout_seconds)))
            return True
        if self._mail_arrived(client):
            return True
        deadline = self._clock() + timeout_seconds
        while (remaining := deadline - self._clock()) > 0:
            if self._idle_once(client, min(remaining, IDLE_MAX_SECONDS)):
                return True
        return False

    def _mail_arrived(self, client: IMAPClient) -> bool:
        """A message with a UID above every UID listed so far is in the folder."""
        above = self._highest_uid_seen
        with self._io("look for new mail"):
            client.noop()  # lets the server tell this session about mail that came meanwhile
            uids = client.search(["UID", f"{above + 1}:*", "UNDELETED"])
        return any(int(uid) > above for uid in uids)

    def _idle_once(self, client: IMAPClient, seconds: float) -> bool:
        """One IDLE command of at most ``seconds``; True if EXISTS arrived."""
        end = self._clock() + seconds
        with self._io("wait for new mail"):
            client.idle()
            try:
                arrived = self._idle_until(client, end)
            except (KeyboardInterrupt, MailboxUnavailable):
                raise
            except BaseException:
                # Interrupted from outside (a stop signal): leave IDLE so the session can
                # still log out cleanly, then let the interruption go on.
                client.idle_done()
                raise
            _, late = client.idle_done()
        return arrived or any(is_response(item, b"EXISTS") for item in late)

    def _idle_until(self, client: IMAPClient, end: float) -> bool:
        """Read IDLE responses until ``end``; True if EXISTS arrived."""
        arrived = False
        while (left := end - self._clock()) > 0:
            started = self._clock()
            responses = client.idle_check(timeout=left)
            bye = [item for item in responses if is_response(item, b"BYE")]
            if bye:
                words = b" ".join(part for part in bye[0][1:] if isinstance(part, bytes))
                raise MailboxUnavailable(
                    f"Lost the connection to mail server {self.host}: the server ended "
                    f"the session ({words.decode('utf-8', 'replace')})"
                )
            if any(is_response(item, b"EXISTS") for item in responses):
                arrived = True
                break
            if not responses and self._clock() - started < left - 0.05:
                break  # woke with nothing to read: closed? DONE will tell
        return arrived


class ReconnectingMailbox:
    """An :class:`ImapMailbox` that survives outages: same methods, never gives up by default.

    On :class:`MailboxUnavailable` it closes the connection, waits (1, 2, 4 ... ``max_delay``
    seconds, +-20 % jitter), opens again and repeats the call. The outage is logged once: a
    WARNING when it starts, an INFO when the server is back. With ``give_up_after`` set, a call
    raises the :class:`MailboxUnavailable` once the outage has lasted that long (the next call
    tries again). :meth:`wait_for_mail` returns False at its timeout even during an outage,
    so the caller's other jobs keep running. Login refusals, configuration problems and
    :class:`UidValidityChanged` are not retried.
    """

    def __init__(
        self,
        mailbox: ImapMailbox,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        max_delay: float = 300.0,
        give_up_after: float | None = None,
    ) -> None:
        self._mailbox = mailbox
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._max_delay = max_delay
        self._give_up_after = give_up_after
        self._failures = 0
        self._outage_started: float | None = None

    @property
    def mailbox(self) -> ImapMailbox:
        return self._mailbox

    @property
    def uidvalidity(self) -> int:
        return self._mailbox.uidvalidity

    def uidvalidity_changed(self) -> bool:
        return self._mailbox.uidvalidity_changed()

    @property
    def in_outage(self) -> bool:
        return self._outage_started is not None

    def open(self) -> ReconnectingMailbox:
        self._call(lambda mb: None)
        return self

    def close(self) -> None:
        self._mailbox.close()

    def __enter__(self) -> ReconnectingMailbox:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def list_uids(self) -> list[int]:
        return self._call(lambda mb: mb.list_uids())

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        return self._call(lambda mb: mb.fetch(uids))

    def iter_batches(self, batch_size: int | None = None) -> Iterator[list[FetchedMessage]]:
        uids = self.list_uids()
        for chunk in split_batches(uids, batch_size or self._mailbox.batch_size):
            batch = self.fetch(chunk)
            if batch:
                yield batch

    def move(self, uids: Sequence[int], folder: str) -> None:
        self._call(lambda mb: mb.move(uids, folder))

    def move_to_processed(self, uids: Sequence[int]) -> None:
        self._call(lambda mb: mb.move_to_processed(uids))

    def move_to_quarantine(self, uids: Sequence[int]) -> None:
        self._call(lambda mb: mb.move_to_quarantine(uids))

    def oldest_waiting(self) -> datetime | None:
        return self._call(lambda mb: mb.oldest_waiting())

    def wait_for_mail(self, timeout_seconds: float) -> bool:
        deadline = self._clock() + timeout_seconds
        result = self._call(
            lambda mb: mb.wait_for_mail(max(0.0, deadline - self._clock())), deadline=deadline
        )
        return bool(result)

    def _call(
        self, action: Callable[[ImapMailbox], T], *, deadline: float | None = None
    ) -> T | None:
        """Run ``action`` on an open mailbox, reconnecting until it succeeds.

        With ``deadline`` (a clock value), gives up silently there and returns None.
        """
        while True:
            try:
                if not self._mailbox.is_open:
                    self._mailbox.open()
                result = action(self._mailbox)
            except UidValidityChanged:
                raise
            except MailboxUnavailable as exc:
                self._mailbox.close()
                self._note_outage(exc)
                delay = self._next_delay()
                now = self._clock()
                if deadline is not None and now + delay > deadline:
                    self._sleep(max(0.0, deadline - now))
                    return None
                if self._give_up_after is not None and self._outage_seconds() >= self._give_up_after:
                    raise
                self._sleep(delay)
                continue
            self._note_recovery()
            return result

    def _outage_seconds(self) -> float:
        return 0.0 if self._outage_started is None else self._clock() - self._outage_started

    def _next_delay(self) -> float:
        nominal = min(self._max_delay, 2.0 ** min(self._failures - 1, 30))
        return min(self._max_delay, nominal * (0.8 + 0.4 * self._jitter()))

    def _note_outage(self, exc: MailboxUnavailable) -> None:
        self._failures += 1
        if self._outage_started is None:
            self._outage_started = self._clock()
            log.warning("mail server %s unreachable, retrying: %s", self._mailbox.host, exc)
        else:
            log.debug("mail server %s still unreachable (attempt %d): %s",
                      self._mailbox.host, self._failures, exc)

    def _note_recovery(self) -> None:
        if self._outage_started is not None:
            log.info("mail server %s back after %.0f s", self._mailbox.host,
                     self._clock() - self._outage_started)
        self._outage_started = None
        self._failures = 0
