"""The Maildir adapter: a local folder as the complaints mailbox, with no server and no account.

``mailbox.backend: maildir`` with ``mailbox.path``. The folder is a Maildir++ tree (what Dovecot,
Postfix's ``local``/``virtual`` delivery, getmail and fdm write): messages of the inbox are the
files in ``new/`` and ``cur/``; ``Processed`` and ``Quarantine`` are the subfolders
``.Processed`` and ``.Quarantine`` (created if absent, with Python's :mod:`mailbox`).

:class:`MaildirMailbox` has the methods of :class:`~daemon.mailbox.imap.ImapMailbox`, so the
workflow cannot tell them apart:

  * UIDs. Maildir names messages by unique strings; the workflow wants IMAP-like integers that
    stay the same from one run to the next (``"<uidvalidity>:<uid>"`` counts a message's
    failures across cycles). A small index, ``.parkdesk-uids.json`` in the inbox folder, gives
    each message an integer the first time it is listed, in order of arrival, and never reuses
    one. Losing the index is like an IMAP folder rebuilt: a new UIDVALIDITY, new UIDs.
  * Moves are one ``rename`` each (same file system), so a message is in exactly one folder at
    any moment, even through a crash. The file keeps its name and flags.
  * Reading never changes a message (no flag is set), like ``BODY.PEEK[]``.
  * :meth:`MaildirMailbox.wait_for_mail` polls every ``poll_seconds``.
"""

from __future__ import annotations

import json
import logging
import mailbox as stdlib_mailbox
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from daemon.mailbox import (BatchedFolders, FetchedMessage, MailboxError, MailboxUnavailable,
                            UidValidityChanged)

log = logging.getLogger("parkdesk.mailbox")

INDEX_NAME = ".parkdesk-uids.json"
KEY_TIME = re.compile(r"^(\d+)\.(?:[^.]*?M(\d+))?")
INBOX = "INBOX"


def message_key(file_name: str, colon: str = stdlib_mailbox.Maildir.colon) -> str:
    """A message's unique name without its flags: ``"1715.M1P2.h:2,S"`` -> ``"1715.M1P2.h"``."""
    return file_name.split(colon, 1)[0]


def list_message_files(folder: Path) -> dict[str, Path]:
    """Key -> file of every message in a Maildir folder's ``new/`` and ``cur/``.

    Names starting with a dot are files being written or hidden; they are not messages.
    """
    found: dict[str, Path] = {}
    for sub in ("new", "cur"):
        try:
            with os.scandir(folder / sub) as entries:
                for entry in entries:
                    if not entry.name.startswith(".") and entry.is_file():
                        found.setdefault(message_key(entry.name), Path(entry.path))
        except FileNotFoundError:
            continue
    return found


def time_in_name(key: str) -> tuple[int, int]:
    """The delivery time most delivery agents put in the name: ``"1715.M42P7.host"`` -> (1715, 42).

    (0, 0) for a name without one. Microseconds are not zero-padded, so they compare as numbers.
    """
    match = KEY_TIME.match(key)
    if not match:
        return 0, 0
    return int(match.group(1)), int(match.group(2) or 0)


def arrival_order(files: dict[str, Path]) -> list[str]:
    """Keys oldest first: by the file's modification time, then the time in its name, then name."""

    def when(key: str) -> tuple[int, tuple[int, int], str]:
        try:
            modified = files[key].stat().st_mtime_ns
        except OSError:
            modified = 0
        return modified, time_in_name(key), key

    return sorted(files, key=when)


class UidIndex:
    """Maildir keys -> stable integer UIDs, kept in a small JSON file (written atomically).

    ``{"uidvalidity": 1747200000, "next_uid": 8, "uids": {"1747.M1P2.host": 7}}``
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self.uidvalidity = 0
        self.next_uid = 1
        self.uids: dict[str, int] = {}
        self._keys: dict[int, str] | None = None  # uid -> key, rebuilt after a change

    def load(self, *, avoid: int | None = None) -> bool:
        """Read the file; a missing or unreadable one starts afresh (then True)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            uidvalidity = int(data["uidvalidity"])
            next_uid = int(data["next_uid"])
            uids = {str(key): int(uid) for key, uid in dict(data["uids"]).items()}
            if min(uidvalidity, next_uid) < 1 or any(not 1 <= u < next_uid for u in uids.values()):
                raise ValueError("numbers out of range")
        except FileNotFoundError:
            self._start(avoid)
            return True
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            log.warning("the UID index %s cannot be read (%s): numbering the messages afresh with "
                        "a new UIDVALIDITY", self.path, error)
            self._start(avoid)
            return True
        self.uidvalidity, self.next_uid, self.uids = uidvalidity, next_uid, uids
        self._keys = None
        return False

    def _start(self, avoid: int | None) -> None:
        uidvalidity = max(1, int(self._clock()))
        if avoid is not None and uidvalidity <= avoid:
            uidvalidity = avoid + 1
        self.uidvalidity, self.next_uid, self.uids = uidvalidity, 1, {}
        self._keys = None

    def save(self) -> None:
        data = {"uidvalidity": self.uidvalidity, "next_uid": self.next_uid, "uids": self.uids}
        temp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(temp, "w", encoding="utf-8") as handle:
                json.dump(data, handle, ensure_ascii=False, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        finally:
            if temp.exists():
                temp.unlink()

    def assign(self, keys_in_order: Sequence[str]) -> bool:
        """Give each new key the next UID; forget keys not in ``keys_in_order``. True if changed."""
        present = set(keys_in_order)
        changed = False
        for key in [key for key in self.uids if key not in present]:
            del self.uids[key]
            changed = True
        for key in keys_in_order:
            if key not in self.uids:
                self.uids[key] = self.next_uid
                self.next_uid += 1
                changed = True
        if changed:
            self._keys = None
        return changed

    def forget(self, key: str) -> None:
        """A message left the folder: its UID is never given again."""
        if self.uids.pop(key, None) is not None:
            self._keys = None

    def key_of(self, uid: int) -> str | None:
        if self._keys is None:
            self._keys = {known: key for key, known in self.uids.items()}
        return self._keys.get(uid)


class MaildirMailbox(BatchedFolders):
    """A Maildir as the complaints folder, described by a ``MailboxConfig``.

    ``cfg`` needs: path, folder (``INBOX`` is the Maildir itself, another name a ``.Name``
    subfolder), processed_folder, quarantine_folder, poll_seconds, batch_size.
    ``sleep`` and ``clock`` (seconds, monotonic) are what :meth:`wait_for_mail` waits with.
    """

    def __init__(
        self,
        cfg: Any,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not getattr(cfg, "path", None):
            raise MailboxError("mailbox.path is not set; with mailbox.backend: maildir it must "
                               "name the Maildir folder, e.g. ./mail/inbox")
        self._cfg = cfg
        self.root = Path(cfg.path)
        self._sleep = sleep
        self._clock = clock
        self._open = False
        self._index: UidIndex | None = None
        self._uidvalidity: int | None = None
        self._previous_uidvalidity: int | None = None
        self._listed_uidvalidity: int | None = None
        self._files: dict[str, Path] = {}

    # --- state ------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        """Where the mail is, for messages: the Maildir's path."""
        return str(self.root)

    @property
    def batch_size(self) -> int:
        return self._cfg.batch_size

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def uidvalidity(self) -> int:
        """The UID index's UIDVALIDITY at the last open."""
        if self._uidvalidity is None:
            raise RuntimeError("open() the mailbox first")
        return self._uidvalidity

    def uidvalidity_changed(self) -> bool:
        """True if the last open found a different UIDVALIDITY than the open before it."""
        return (
            self._previous_uidvalidity is not None
            and self._previous_uidvalidity != self._uidvalidity
        )

    @property
    def inbox_path(self) -> Path:
        return self._folder_path(self._cfg.folder)

    # --- opening ----------------------------------------------------------------------------

    def open(self) -> MaildirMailbox:
        """Create the Maildir and its Processed and Quarantine folders if absent; read the index."""
        if self._open:
            return self
        with self._io("open the Maildir"):
            if not (self.root / "cur").is_dir():
                log.warning("mailbox.path %s is not a Maildir yet: creating an empty one there",
                            self.root)
            for sub in ("tmp", "new", "cur"):  # what a Maildir is (an existing folder may lack them)
                (self.root / sub).mkdir(parents=True, exist_ok=True)
            cfg = self._cfg
            for folder in {cfg.folder, cfg.processed_folder, cfg.quarantine_folder}:
                self._ensure_folder(folder)
            index = UidIndex(self.inbox_path / INDEX_NAME)
            if index.load(avoid=self._uidvalidity):
                index.save()
        self._index = index
        self._previous_uidvalidity = self._uidvalidity
        self._uidvalidity = index.uidvalidity
        if self.uidvalidity_changed():
            log.warning("UIDVALIDITY of Maildir %s changed from %s to %s: listing it afresh",
                        self.root, self._previous_uidvalidity, self._uidvalidity)
        self._open = True
        return self

    def close(self) -> None:
        self._open = False

    def __enter__(self) -> MaildirMailbox:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _folder_path(self, name: str) -> Path:
        """``INBOX`` -> the Maildir itself; ``Processed`` -> ``<path>/.Processed`` (Maildir++)."""
        if name.strip().upper() == INBOX:
            return self.root
        return self.root / ("." + name.strip().replace("/", "."))

    def _ensure_folder(self, name: str) -> Path:
        path = self._folder_path(name)
        if path != self.root and not (path / "cur").is_dir():
            stdlib_mailbox.Maildir(self.root, factory=None).add_folder(
                name.strip().replace("/", "."))
        return path

    @contextmanager
    def _io(self, action: str) -> Iterator[None]:
        """Turn file-system errors into mailbox errors that say what to fix."""
        try:
            yield
        except MailboxError:
            raise
        except PermissionError as error:
            raise MailboxError(
                f"ParkDesk may not {action} at {error.filename or self.root} (mailbox.path): give "
                f"its user read and write permission on the Maildir and its folders."
            ) from None
        except (NotADirectoryError, FileExistsError) as error:
            raise MailboxError(
                f"Cannot {action}: {error.filename or self.root} is a file where the Maildir "
                f"needs a folder; check mailbox.path."
            ) from None
        except OSError as error:
            raise MailboxUnavailable(
                f"Cannot {action} at {self.root}: {error.strerror or error}"
            ) from error

    def _require_open(self) -> UidIndex:
        if not self._open or self._index is None:
            raise RuntimeError("open() the mailbox first")
        return self._index

    # --- messages ---------------------------------------------------------------------------

    def list_uids(self) -> list[int]:
        """UIDs of the inbox's messages (``new/`` and ``cur/``), ascending = order of arrival."""
        index = self._require_open()
        with self._io("list the messages"):
            self._files = list_message_files(self.inbox_path)
            if index.assign(arrival_order(self._files)):
                index.save()
        self._listed_uidvalidity = self._uidvalidity
        return sorted(index.uids[key] for key in self._files)

    def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        """The raw messages for ``uids`` (ascending), untouched; UIDs no longer there left out."""
        index = self._require_open()
        self._check_uids_current()
        found = []
        for uid in sorted(set(uids)):
            key = index.key_of(uid)
            path = self._locate(key) if key else None
            if path is None:
                continue
            with self._io("read a message"):
                try:
                    raw = path.read_bytes()
                except FileNotFoundError:
                    path = self._locate(key, fresh=True)  # a mail program moved it new/ -> cur/
                    if path is None:
                        continue
                    raw = path.read_bytes()
            found.append(FetchedMessage(uid=uid, uidvalidity=self.uidvalidity, raw=raw))
        return found

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move ``uids`` to ``folder`` (created if absent): one rename each, name and flags kept."""
        index = self._require_open()
        self._check_uids_current()
        if not uids:
            return
        with self._io(f"move messages to {folder}"):
            target = self._ensure_folder(folder)
            for uid in sorted(set(uids)):
                key = index.key_of(uid)
                path = self._locate(key) if key else None
                if path is None:
                    continue
                try:
                    os.rename(path, free_name(target / path.parent.name / path.name))
                except FileNotFoundError:
                    path = self._locate(key, fresh=True)
                    if path is None:
                        continue
                    os.rename(path, free_name(target / path.parent.name / path.name))
                index.forget(key)
                self._files.pop(key, None)
            for changed in (target, self.inbox_path):
                fsync_folder(changed / "new")
                fsync_folder(changed / "cur")
            index.save()

    def oldest_waiting(self) -> datetime | None:
        """When the oldest message still in the inbox arrived (its file's modification time,
        which delivery sets), or None if the inbox is empty. For the health check."""
        self._require_open()
        with self._io("look at the waiting mail"):
            times = []
            for path in list_message_files(self.inbox_path).values():
                try:
                    times.append(path.stat().st_mtime)
                except FileNotFoundError:
                    continue  # moved meanwhile
        if not times:
            return None
        return datetime.fromtimestamp(min(times), tz=timezone.utc)

    def _locate(self, key: str, *, fresh: bool = False) -> Path | None:
        """The file of message ``key`` in the inbox, None if it is not there any more."""
        path = None if fresh else self._files.get(key)
        if path is not None and path.exists():
            return path
        self._files = list_message_files(self.inbox_path)
        return self._files.get(key)

    def _check_uids_current(self) -> None:
        if self._listed_uidvalidity is not None and self._listed_uidvalidity != self._uidvalidity:
            raise UidValidityChanged(
                f"The UID index of Maildir {self.root} was rebuilt (UIDVALIDITY "
                f"{self._listed_uidvalidity} -> {self._uidvalidity}): list its messages again."
            )

    # --- waiting ----------------------------------------------------------------------------

    def wait_for_mail(self, timeout_seconds: float) -> bool:
        """True as soon as a message not listed before is in the inbox (checked every
        ``poll_seconds``), False after ``timeout_seconds`` without one."""
        index = self._require_open()
        deadline = self._clock() + timeout_seconds
        while True:
            with self._io("look for new mail"):
                if set(list_message_files(self.inbox_path)) - set(index.uids):
                    return True
            remaining = deadline - self._clock()
            if remaining <= 0:
                return False
            self._sleep(min(float(self._cfg.poll_seconds), remaining))


def free_name(path: Path) -> Path:
    """``path`` if nothing is there, else the same name with ``.1``, ``.2`` ... before the flags.

    A rename over an existing file would silently replace another message.
    """
    if not path.exists():
        return path
    colon = stdlib_mailbox.Maildir.colon
    base, sep, info = path.name.partition(colon)
    number = 1
    while True:
        candidate = path.with_name(f"{base}.{number}{sep}{info}")
        if not candidate.exists():
            return candidate
        number += 1


def fsync_folder(folder: Path) -> None:
    """Make renames into ``folder`` durable (POSIX); nothing to do on Windows."""
    if os.name != "posix" or not folder.is_dir():
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
