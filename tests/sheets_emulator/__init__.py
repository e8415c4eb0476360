"""A Google Sheets API v4 (+ the Drive v3 subset gspread uses) emulator for tests.

The machine cannot reach Google; every Google-facing line of ParkDesk is tested
against this real HTTP server, which answers as Google does (recorded answers in
../shared/sheets/cassettes are its ground truth). See ``emulator.SheetsEmulator``,
``auth.write_service_account_key`` and ``client.gspread_client``.
"""

from .auth import write_service_account_key
from .emulator import SheetsEmulator

__all__ = ["SheetsEmulator", "write_service_account_key"]
