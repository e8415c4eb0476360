"""The retry policy: full-jitter exponential backoff, Retry-After as a floor, caps on tries and wait."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from daemon.retry import Backoff, RetryExhausted, call_with_retry, parse_retry_after


class Flaky:
    """Fails ``failures`` times with ``error`` (a Transient by default), then returns "done"."""

    def __init__(self, failures: int, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or Transient("try again")
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


class Transient(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def is_transient(error: BaseException) -> bool:
    return isinstance(error, Transient)


def run(fn, backoff: Backoff, *, random_value=lambda: 1.0, **kwargs):
    slept: list[float] = []
    result = call_with_retry(
        fn,
        backoff=backoff,
        should_retry=is_transient,
        retry_after=lambda error: getattr(error, "retry_after", None),
        sleep=slept.append,
        random=random_value,
        **kwargs,
    )
    return result, slept


def test_delays_double_up_to_the_ceiling_when_jitter_is_at_its_top():
    result, slept = run(Flaky(5), Backoff(max_attempts=6, max_wait_seconds=1000))
    assert result == "done"
    assert slept == [1.0, 2.0, 4.0, 8.0, 16.0]


def test_single_delay_is_capped_by_max_delay_seconds():
    backoff = Backoff(max_delay_seconds=32)
    assert [backoff.ceiling(n) for n in (1, 5, 6, 7, 500)] == [1.0, 16.0, 32.0, 32.0, 32.0]


def test_full_jitter_keeps_each_delay_between_zero_and_its_ceiling():
    backoff = Backoff(max_attempts=8, max_wait_seconds=10_000)
    rng = random.Random(1234)
    _, slept = run(Flaky(7), backoff, random_value=rng.random)
    assert len(slept) == 7
    for number, delay in enumerate(slept, start=1):
        assert 0.0 <= delay <= backoff.ceiling(number)
    # Jittered: not simply the ceilings, and not all the same fraction of them.
    fractions = {round(delay / backoff.ceiling(n), 6) for n, delay in enumerate(slept, start=1)}
    assert len(fractions) == len(slept)


def test_jitter_spreads_many_clients_over_the_whole_window():
    backoff = Backoff()
    rng = random.Random(7)
    delays = [backoff.delay(4, random=rng.random) for _ in range(2000)]
    assert min(delays) < 0.5 and max(delays) > 7.5  # window is [0, 8]
    assert 3.5 < sum(delays) / len(delays) < 4.5


def test_retry_after_is_a_floor_on_the_wait():
    flaky = Flaky(2, Transient("slow down", retry_after=7.0))
    result, slept = run(flaky, Backoff(max_wait_seconds=100), random_value=lambda: 0.1)
    assert result == "done"
    assert slept == [7.0, 7.0]


def test_jitter_longer_than_retry_after_wins():
    backoff = Backoff(max_delay_seconds=32)
    assert backoff.delay(6, retry_after=3.0, random=lambda: 0.5) == 16.0


def test_retry_after_beyond_the_remaining_budget_gives_up_without_sleeping():
    flaky = Flaky(3, Transient("come back in an hour", retry_after=3600.0))
    with pytest.raises(RetryExhausted) as caught:
        run(flaky, Backoff(max_wait_seconds=120))
    assert flaky.calls == 1
    assert caught.value.attempts == 1
    assert caught.value.waited == 0.0
    assert caught.value.last_error is flaky.error


def test_gives_up_after_max_attempts_with_the_last_error():
    flaky = Flaky(100)
    slept: list[float] = []
    with pytest.raises(RetryExhausted) as caught:
        call_with_retry(
            flaky, backoff=Backoff(max_attempts=6), should_retry=is_transient,
            sleep=slept.append, random=lambda: 1.0,
        )
    assert flaky.calls == 6
    assert len(slept) == 5
    assert caught.value.attempts == 6
    assert caught.value.__cause__ is flaky.error


def test_total_wait_is_capped_and_the_last_wait_is_shortened():
    flaky = Flaky(100)
    with pytest.raises(RetryExhausted) as caught:
        run(flaky, Backoff(max_attempts=50, max_wait_seconds=10))
    # 1 + 2 + 4 = 7, then 8 is cut to the 3 s left, then nothing is left.
    assert caught.value.waited == pytest.approx(10.0)
    assert flaky.calls == 5


def test_total_wait_cap_holds_with_random_jitter():
    rng = random.Random(99)
    slept: list[float] = []
    with pytest.raises(RetryExhausted):
        call_with_retry(
            Flaky(1000), backoff=Backoff(max_attempts=1000, max_wait_seconds=60),
            should_retry=is_transient, sleep=slept.append, random=rng.random,
        )
    assert sum(slept) <= 60.0 + 1e-9


def test_an_error_not_worth_retrying_propagates_at_once():
    flaky = Flaky(3, ValueError("bad request"))
    slept: list[float] = []
    with pytest.raises(ValueError):
        call_with_retry(flaky, backoff=Backoff(), should_retry=is_transient, sleep=slept.append)
    assert flaky.calls == 1 and slept == []


def test_before_sleep_hears_each_retry_once():
    heard = []
    run(Flaky(3), Backoff(max_attempts=6), before_sleep=heard.append)
    assert [(s.attempt, s.delay, s.max_attempts) for s in heard] == [(1, 1.0, 6), (2, 2.0, 6), (3, 4.0, 6)]
    assert [s.waited for s in heard] == [0.0, 1.0, 3.0]


def test_success_at_first_try_never_sleeps():
    result, slept = run(Flaky(0), Backoff())
    assert result == "done" and slept == []


def test_one_attempt_means_no_retry():
    flaky = Flaky(1)
    with pytest.raises(RetryExhausted):
        run(flaky, Backoff(max_attempts=1))
    assert flaky.calls == 1


def test_nonsense_policies_are_refused():
    with pytest.raises(ValueError):
        Backoff(max_attempts=0)
    with pytest.raises(ValueError):
        Backoff(max_wait_seconds=-1)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(header, expected):
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert parse_retry_after(header, now=now) == expected
