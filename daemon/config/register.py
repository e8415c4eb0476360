"""The register section: the Google Sheet, or the local .xlsx workbook, complaints are kept in."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from daemon.config.fields import ConfigPath, HttpUrl, Section, Text


class RegisterConfig(Section):
    """The register: a Google Sheet, or a local .xlsx workbook (no account)."""

    backend: Literal["google", "workbook"] = "google"
    spreadsheet_id: Text | None = Field(
        None, description="the long id in the sheet's address, between /d/ and /edit")
    credentials_file: ConfigPath | None = Field(
        None, description="the service-account key file (JSON), e.g. service-account.json")
    api_endpoint: HttpUrl = Field("https://sheets.googleapis.com",
                                  description="the Google Sheets API address")
    path: ConfigPath | None = Field(None, description="the workbook file, e.g. ./register.xlsx")
    repair_layout_daily: bool = Field(
        True, description="once a day, lay the Google sheet out again as `parkdesk init` does "
                          "(drop-downs on new rows, highlights and protection): true or false")
