"""Riding out mail server outages: :class:`ReconnectingMailbox` and its backoff.

It puts the interface of :class:`~daemon.mailbox.imap.ImapMailbox` over one, and on
:class:`MailboxUnavailable` closes, waits (1, 2, 4 ... 300 s), opens again and repeats the
call, logging the outage once.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from daemon.mailbox import FetchedMessage, MailboxUnavailable, UidValidityChanged, split_batches

if TYPE_CHECKING:
    from daemon.mailbox.imap import ImapMailbox

log = logging.getLogger("parkdesk.mailbox")

T = TypeVar("T")


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
