"""pytest fixtures for the mail bench; import them into ``tests/conftest.py``:

    from tests.mailbench.fixtures import mail_bench, fresh_mail_bench  # noqa: F401

- ``mail_bench`` (session): one bench shared by every test. Keep tests apart by giving each its
  own users: ``bench.new_user("tenant")`` or ``unique_address("tenant")`` -> ``tenant-<n>@park.test``.
  Do not inject Dovecot faults into it.
- ``fresh_mail_bench`` (function): a bench of the test's own, for fault tests that break the
  server (about 0.1 s to start and 0.15 s to stop).

Both skip the test, with the reason, when Dovecot is not installed.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.mailbench import DovecotUnavailable, MailBench, unique_address

__all__ = ["mail_bench", "fresh_mail_bench", "unique_address"]


def _started_bench() -> MailBench:
    try:
        return MailBench().start()
    except DovecotUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="session")
def mail_bench() -> Iterator[MailBench]:
    """A running MailBench shared by the whole test session."""
    bench = _started_bench()
    try:
        yield bench
    finally:
        bench.stop()


@pytest.fixture
def fresh_mail_bench() -> Iterator[MailBench]:
    """A running MailBench for one test only (safe to break)."""
    bench = _started_bench()
    try:
        yield bench
    finally:
        bench.stop()
