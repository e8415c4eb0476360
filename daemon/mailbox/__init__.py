"""The complaints mailbox: where emails come in, and the folders they are moved to once handled.

This package is the only place that talks IMAP (see :mod:`daemon.mailbox.imap`) or reads a
local Maildir (:mod:`daemon.mailbox.maildir`); ``open_mailbox`` picks one by ``mailbox.backend``.
The workflow sees messages as :class:`FetchedMessage` (UID, UIDVALIDITY, raw bytes) and
failures as the small exception tree below:

    MailboxError                 something the operator must fix (folder, certificate ...)
    ├── MailboxAuthError         the server refused the login
    └── MailboxUnavailable       the server went away; try again later
        └── UidValidityChanged   the folder was rebuilt: list the UIDs again before using any
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FetchedMessage:
    """One message as stored on the server, untouched (its ``\\Seen`` flag is left alone)."""

    uid: int
    uidvalidity: int
    raw: bytes


class MailboxError(Exception):
    """A mailbox problem with a plain message saying what to fix."""


class MailboxAuthError(MailboxError):
    """The mail server refused the login (wrong user name or password)."""


class MailboxUnavailable(MailboxError):
    """The mail server cannot be reached right now, or the connection was lost."""


class UidValidityChanged(MailboxUnavailable):
    """The folder's UIDVALIDITY changed since its UIDs were listed: those UIDs mean nothing now.

    A subclass of :class:`MailboxUnavailable` so that code retrying a cycle after a lost
    connection also does the right thing here: list the folder again.
    """


def split_batches(items: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    """Consecutive slices of at most ``size`` items."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield items[start:start + size]


class BatchedFolders:
    """What every mailbox backend does the same way on top of its own ``list_uids``, ``fetch``
    and ``move``: bounded batches, and the two folders handled mail goes to."""

    def iter_batches(self, batch_size: int | None = None) -> Iterator[list[FetchedMessage]]:
        """List the folder once, then fetch it ``batch_size`` messages at a time."""
        uids = self.list_uids()
        for chunk in split_batches(uids, batch_size or self.batch_size):
            batch = self.fetch(chunk)
            if batch:
                yield batch

    def move_to_processed(self, uids: Sequence[int]) -> None:
        self.move(uids, self._cfg.processed_folder)

    def move_to_quarantine(self, uids: Sequence[int]) -> None:
        self.move(uids, self._cfg.quarantine_folder)


# The adapters import the types above, so they come last.
from daemon.mailbox.imap import ImapMailbox, ReconnectingMailbox  # noqa: E402
from daemon.mailbox.maildir import MaildirMailbox  # noqa: E402


def open_mailbox(mailbox_cfg: Any) -> ReconnectingMailbox | MaildirMailbox:
    """The complaints mailbox named by ``mailbox.backend`` (not opened yet).

    ``imap``: an :class:`ImapMailbox` that rides out outages, giving up after 10 minutes so the
    daemon can log it and try again. ``maildir``: a :class:`MaildirMailbox` on ``mailbox.path``.
    """
    backend = str(getattr(mailbox_cfg, "backend", "imap") or "imap")
    if backend == "imap":
        return ReconnectingMailbox(ImapMailbox(mailbox_cfg), give_up_after=600.0)
    if backend == "maildir":
        return MaildirMailbox(mailbox_cfg)
    raise MailboxError(f"mailbox.backend is {backend!r}: use imap (a mail server) or maildir "
                       f"(a local folder).")


__all__ = [
    "FetchedMessage",
    "ImapMailbox",
    "MailboxAuthError",
    "MailboxError",
    "MailboxUnavailable",
    "MaildirMailbox",
    "ReconnectingMailbox",
    "UidValidityChanged",
    "open_mailbox",
]
