"""The IMAP adapter: connect, list, fetch, move, wait for mail. I/O only, no decisions.

:class:`ImapMailbox` wraps one imapclient connection to the complaints folder. Every failure
leaves as a :mod:`daemon.mailbox` exception with a plain message; imapclient, imaplib, socket
and ssl errors never reach the workflow. :class:`ReconnectingMailbox` puts the same interface
over an :class:`ImapMailbox` and rides out outages: it closes, waits (1, 2, 4 ... 300 s), opens
again and repeats the call, logging the outage once.

This module holds the mailbox itself: opening step by step, the folders and their
UIDVALIDITY, reading and moving messages, and waiting for mail. The rest lives beside it:
:mod:`daemon.mailbox.imap_connection` (connecting with TLS, failure wording),
:mod:`daemon.mailbox.imap_login` (password and XOAUTH2 logins) and
:mod:`daemon.mailbox.imap_reconnect` (:class:`ReconnectingMailbox`); their public names are
importable from here too.

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
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from imapclient import IMAPClient

from daemon import __version__
from daemon.mail_refusals import classify_refusal
from daemon.mailbox import (
    BatchedFolders,
    FetchedMessage,
    MailboxError,
    MailboxUnavailable,
    UidValidityChanged,
    split_batches,
)
from daemon.mailbox.imap_connection import (
    TEMPORARY_CODES,
    describe_loss,
    enable_keepalive,
    server_text,
)
from daemon.mailbox.imap_login import ImapLogin
from daemon.mailbox.imap_reconnect import ReconnectingMailbox

__all__ = [
    "DELETED",
    "IDLE_MAX_SECONDS",
    "ID_PARAMETERS",
    "OLDEST_SAMPLE",
    "TEMPORARY_CODES",
    "ImapMailbox",
    "ReconnectingMailbox",
    "as_aware",
    "describe_loss",
    "enable_keepalive",
    "format_uid_set",
    "is_response",
    "server_text",
    "split_batches",
]

log = logging.getLogger("parkdesk.mailbox")

IDLE_MAX_SECONDS = 25 * 60
ID_PARAMETERS = {"name": "ParkDesk", "version": __version__, "vendor": "ParkDesk"}
DELETED = rb"\Deleted"
OLDEST_SAMPLE = 20  # lowest UIDs whose arrival times are read to find the oldest waiting message


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


def as_aware(moment: datetime) -> datetime:
    """imapclient gives INTERNALDATE in the machine's local time without a zone: attach it."""
    return moment if moment.tzinfo is not None else moment.astimezone()


def is_response(item: Any, name: bytes) -> bool:
    """True for a parsed untagged response such as ``(3, b'EXISTS')`` or ``(b'BYE', ...)``."""
    return isinstance(item, tuple) and name in item[:2]


class ImapMailbox(ImapLogin, BatchedFolders):
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

    # --- opening (connecting and closing: ImapConnection; logging in: ImapLogin) ------------

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

    def offers(self, capability: str) -> bool:
        """Whether the server announced ``capability`` (e.g. ``"IDLE"``, ``"MOVE"``)."""
        return self._offers(capability)

    def _ensure_folders(self) -> None:
        self._ensure_folder(self._cfg.processed_folder, "mailbox.processed_folder")
        self._ensure_folder(self._cfg.quarantine_folder, "mailbox.quarantine_folder")

    def __enter__(self) -> ImapMailbox:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
