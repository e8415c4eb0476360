"""The outbox adapter: each outgoing message written as an ``.eml`` file, nothing sent.

``smtp.backend: outbox`` with ``smtp.path``, like Django's file-based email backend. A newcomer
sees every apology and notice ParkDesk would send; a park with its own mail system can let a
pickup job send the files. Any mail program opens an ``.eml`` file.

Files are named ``YYYYMMDD-HHMMSS-NNNN-<digest>.eml``: sorted by name they are in the order
they were written (``NNNN`` counts within one second), and ``<digest>`` is the start of the
SHA-256 of the Message-ID. A message whose Message-ID already has a file is not written again,
so the journal resending after a crash does not make a second copy. Each file is written to a
hidden temporary name, flushed to disk, then linked to its final name, so a reader never sees
half a message.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from daemon.mailer import MailerError, SendResult

log = logging.getLogger("parkdesk.smtp")

DIGEST_LENGTH = 12
# CRLF line ends, as on the wire (RFC 5322 2.1); headers folded only past 998 characters, like
# daemon.outgoing (Python 3.11 loses the space where it folds a long non-ASCII header).
EML_POLICY = policy.SMTP.clone(max_line_length=998)
NAME_PATTERN = re.compile(r"^(\d{8}-\d{6})-(\d{4,})-([0-9a-f]+)\.eml$")


def message_digest(message: EmailMessage) -> str:
    """The start of the SHA-256 of the Message-ID (of the whole message if it has none)."""
    message_id = message.get("Message-ID")
    data = str(message_id).strip().encode("utf-8") if message_id else message.as_bytes()
    return hashlib.sha256(data).hexdigest()[:DIGEST_LENGTH]


def eml_bytes(message: EmailMessage) -> bytes:
    """The message as an ``.eml`` file holds it: every header, CRLF line ends."""
    return message.as_bytes(policy=EML_POLICY)


class OutboxMailer:
    """Writes messages into the folder ``cfg.path`` (an ``SmtpConfig``, or anything with ``path``).

    ``now`` gives the time used in file names (local time by default).
    """

    def __init__(self, cfg: Any, *, now: Callable[[], datetime] | None = None) -> None:
        path = getattr(cfg, "path", None)
        if not path:
            raise MailerError("smtp.path is not set; with smtp.backend: outbox it must name the "
                              "folder the .eml files go to, e.g. ./mail/outbox")
        self.folder = Path(path)
        self._now = now or (lambda: datetime.now().astimezone())
        self._last_stamp = ""
        self._last_number = 0

    def check(self) -> None:
        """Create the folder if absent, write and remove a file there; MailerError if it cannot."""
        probe = self.folder / f".parkdesk-check-{os.getpid()}"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise MailerError(
                f"ParkDesk cannot write .eml files into {self.folder} (smtp.path): "
                f"{error.strerror or error}. Check that the folder exists and ParkDesk's user may "
                f"write there."
            ) from None

    def send_all(self, messages: Sequence[EmailMessage]) -> list[SendResult]:
        """Write ``messages`` in order, one file each; one result per message.

        A file that cannot be written is a temporary failure (the journal tries again later).
        """
        if not messages:
            return []
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            reason = f"cannot create the outbox folder {self.folder} ({error.strerror or error})"
            log.warning("%d message(s) not written: %s", len(messages), reason)
            return [SendResult(m.get("Message-ID"), ok=False, error=reason) for m in messages]
        return [self._write_one(message) for message in messages]

    def _write_one(self, message: EmailMessage) -> SendResult:
        message_id = message.get("Message-ID")
        digest = message_digest(message)
        existing = next(self.folder.glob(f"*-{digest}.eml"), None)
        if existing is not None:
            log.debug("%s already in the outbox as %s", message_id, existing.name)
            return SendResult(message_id, ok=True)
        try:
            data = eml_bytes(message)
        except (ValueError, TypeError, UnicodeError) as error:
            log.warning("%s cannot be written (permanent): %s", message_id, error)
            return SendResult(message_id, ok=False, permanent=True,
                              error=f"cannot write this message: {error}")
        temp = self.folder / f".{digest}.{os.getpid()}.tmp"
        try:
            with open(temp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            final = self._link_to_next_name(temp, digest)
        except OSError as error:
            reason = f"cannot write into {self.folder} ({error.strerror or error})"
            log.warning("%s not written (temporary): %s", message_id, reason)
            return SendResult(message_id, ok=False, error=reason)
        finally:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass
        log.debug("%s written to %s", message_id, final.name)
        return SendResult(message_id, ok=True)

    def _link_to_next_name(self, temp: Path, digest: str) -> Path:
        """Give ``temp`` the next free ordered name without ever replacing a file."""
        while True:
            final = self.folder / f"{self._next_stem()}-{digest}.eml"
            try:
                os.link(temp, final)
                return final
            except FileExistsError:
                continue
            except OSError:  # a file system without hard links (FAT, some shares)
                if final.exists():
                    continue
                os.replace(temp, final)
                return final

    def _next_stem(self) -> str:
        """``YYYYMMDD-HHMMSS-NNNN``, NNNN going on from the files already there for that second."""
        stamp = self._now().strftime("%Y%m%d-%H%M%S")
        if stamp != self._last_stamp:
            numbers = [int(match.group(2)) for name in os.listdir(self.folder)
                       if (match := NAME_PATTERN.match(name)) and match.group(1) == stamp]
            self._last_stamp, self._last_number = stamp, max(numbers, default=0)
        self._last_number += 1
        return f"{stamp}-{self._last_number:04d}"
