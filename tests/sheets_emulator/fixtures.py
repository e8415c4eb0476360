"""pytest fixtures: a fresh emulator per test, and a registered service-account key.

Import them into a conftest.py::

    from tests.sheets_emulator.fixtures import sheets_emulator, service_account_key  # noqa: F401
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from .auth import write_service_account_key
from .emulator import SheetsEmulator

SERVICE_ACCOUNT_EMAIL = "robot@park.iam.gserviceaccount.com"


@pytest.fixture
def sheets_emulator() -> Iterator[SheetsEmulator]:
    """A running emulator with empty state (Google's default quotas, no latency)."""
    with SheetsEmulator() as emu:
        yield emu


@pytest.fixture
def service_account_key(sheets_emulator: SheetsEmulator, tmp_path: Path) -> Path:
    """A key file for SERVICE_ACCOUNT_EMAIL, registered with ``sheets_emulator``."""
    return write_service_account_key(
        sheets_emulator.base_url, SERVICE_ACCOUNT_EMAIL, tmp_path / "service-account.json"
    )
