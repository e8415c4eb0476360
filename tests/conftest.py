"""Shared fixtures: the real mail servers, the Sheets API emulator, and a whole park on them."""

from tests.mailbench.fixtures import fresh_mail_bench, mail_bench  # noqa: F401
from tests.sheets_emulator.fixtures import service_account_key, sheets_emulator  # noqa: F401
from tests.park_harness import park  # noqa: F401
