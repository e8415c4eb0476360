"""When to try a failed call again: exponential backoff with full jitter, capped in tries and total wait.

A small tenacity-style policy. ``Backoff`` says how long to wait before retry number *n*;
``call_with_retry`` runs a callable under it. The caller says which errors are worth another try
and how long the server asked us to wait (HTTP ``Retry-After``, RFC 9110 section 10.2.3); ``sleep``
and ``random`` are parameters, so tests run instantly and deterministically.

Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): the wait before retry *n*
is uniform in ``[0, min(max_delay_seconds, base_seconds * 2 ** (n - 1))]``. A ``Retry-After`` from
the server is a floor: we never come back sooner than asked. Two caps keep a daemon responsive:
at most ``max_attempts`` calls in all, and at most ``max_wait_seconds`` spent sleeping; when the
server asks for a wait beyond what is left, we give up at once instead of sleeping in vain.
"""

from __future__ import annotations

import email.utils
import random as _random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """How many times to try, and how long to wait in between.

    >>> Backoff(max_attempts=6, max_wait_seconds=120).ceiling(3)
    4.0
    """

    max_attempts: int = 6
    max_wait_seconds: float = 120.0
    base_seconds: float = 1.0
    max_delay_seconds: float = 32.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.max_wait_seconds < 0 or self.base_seconds < 0 or self.max_delay_seconds < 0:
            raise ValueError("backoff times cannot be negative")

    def ceiling(self, retry_number: int) -> float:
        """The longest wait before retry ``retry_number`` (1 for the first retry)."""
        exponent = max(retry_number - 1, 0)
        # Cap the exponent so huge retry numbers cannot overflow a float.
        return float(min(self.max_delay_seconds, self.base_seconds * 2 ** min(exponent, 64)))

    def delay(
        self,
        retry_number: int,
        *,
        retry_after: float | None = None,
        random: Callable[[], float] = _random.random,
    ) -> float:
        """The wait before retry ``retry_number``: full jitter, never shorter than ``retry_after``."""
        jittered = random() * self.ceiling(retry_number)
        if retry_after is not None and retry_after > jittered:
            return float(retry_after)
        return jittered


@dataclass(frozen=True)
class RetryState:
    """What ``before_sleep`` hears about: the failed attempt and the wait that follows."""

    attempt: int  # the attempt that just failed, 1-based
    error: BaseException
    delay: float  # seconds about to be slept
    waited: float  # seconds slept before this delay
    max_attempts: int


class RetryExhausted(Exception):
    """The policy gave up; ``last_error`` is the last failure (also the ``__cause__``)."""

    def __init__(self, attempts: int, waited: float, last_error: BaseException) -> None:
        super().__init__(f"gave up after {attempts} tries and {waited:.1f} s of waiting: {last_error}")
        self.attempts = attempts
        self.waited = waited
        self.last_error = last_error


def call_with_retry(
    fn: Callable[[], T],
    *,
    backoff: Backoff,
    should_retry: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None] = lambda error: None,
    sleep: Callable[[float], object] = time.sleep,
    random: Callable[[], float] = _random.random,
    before_sleep: Callable[[RetryState], object] | None = None,
) -> T:
    """Call ``fn()`` until it returns, an error is not worth retrying, or the caps are reached.

    Errors for which ``should_retry`` is false propagate unchanged. When the caps are reached the
    last error is wrapped in ``RetryExhausted``.
    """
    waited = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as error:
            if not should_retry(error):
                raise
            if attempt >= backoff.max_attempts:
                raise RetryExhausted(attempt, waited, error) from error
            remaining = backoff.max_wait_seconds - waited
            asked = retry_after(error)
            if remaining <= 0 or (asked is not None and asked > remaining):
                raise RetryExhausted(attempt, waited, error) from error
            wait = min(backoff.delay(attempt, retry_after=asked, random=random), remaining)
            if before_sleep is not None:
                before_sleep(RetryState(attempt, error, wait, waited, backoff.max_attempts))
            sleep(wait)
            waited += wait


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or None if absent or unreadable.

    Both forms of RFC 9110 section 10.2.3 are understood:

    >>> parse_retry_after("30")
    30.0
    >>> parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT",
    ...                   now=datetime(2015, 10, 21, 7, 27, 0, tzinfo=timezone.utc))
    60.0
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now if now is not None else datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)
