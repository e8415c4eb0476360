"""Shared fixtures: the real mail servers, the Sheets API emulator, and a whole park on them."""

from tests.mailbench.fixtures import fresh_mail_bench, mail_bench  # noqa: F401
from tests.sheets_emulator.fixtures import service_account_key, sheets_emulator  # noqa: F401
from tests.park_harness import park, park_env  # noqa: F401

import pytest  # noqa: E402

from daemon.logs import forget_secrets  # noqa: E402


@pytest.fixture(autouse=True)
def _forget_logged_secrets():
    """Each test starts with no registered secrets: a process running the whole suite would
    otherwise mask (and compile a pattern of) every key and password of every earlier test."""
    yield
    forget_secrets()
