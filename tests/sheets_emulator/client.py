"""gspread pointed at the emulator, gspread itself unpatched.

gspread has no base-URL option, but every call goes through ``HTTPClient.request``;
this subclass rewrites Google's hosts to the emulator's base URL there.
"""

from __future__ import annotations

from pathlib import Path

import gspread
from gspread.http_client import HTTPClient
from google.oauth2.service_account import Credentials

GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com")
DEFAULT_SCOPES = [
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
]


class EmulatorHTTPClient(HTTPClient):
    """gspread's HTTP client with Google's hosts replaced by ``base_url``."""

    base_url: str = ""

    def request(self, method, endpoint, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        for host in GOOGLE_HOSTS:
            if endpoint.startswith(host):
                endpoint = self.base_url.rstrip("/") + endpoint[len(host) :]
                break
        return super().request(method, endpoint, *args, **kwargs)

    @classmethod
    def for_base_url(cls, base_url: str) -> type["EmulatorHTTPClient"]:
        """A subclass bound to one emulator (gspread.Client instantiates the class)."""
        return type("BoundEmulatorHTTPClient", (cls,), {"base_url": base_url})


def gspread_client(base_url: str, key_path: str | Path, scopes: list[str] | None = None) -> gspread.Client:
    """A gspread.Client that authenticates with the key file and talks to the emulator."""
    creds = Credentials.from_service_account_file(str(key_path), scopes=scopes or DEFAULT_SCOPES)
    return gspread.Client(creds, http_client=EmulatorHTTPClient.for_base_url(base_url))
