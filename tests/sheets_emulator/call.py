"""One API call as handlers see it: who calls, which spreadsheet, parameters, body.

Query parameters are validated the way Google validates them: enums and booleans
with Google's ``Invalid value at 'snake_name' (...)`` message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import invalid_argument
from .store import Spreadsheet, Store

ENUM_TYPES = {
    "valueRenderOption": "google.apps.sheets.v4.ValueRenderOption",
    "responseValueRenderOption": "google.apps.sheets.v4.ValueRenderOption",
    "dateTimeRenderOption": "google.apps.sheets.v4.DateTimeRenderOption",
    "responseDateTimeRenderOption": "google.apps.sheets.v4.DateTimeRenderOption",
    "valueInputOption": "google.apps.sheets.v4.ValueInputOption",
    "insertDataOption": "google.apps.sheets.v4.InsertDataOption",
    "majorDimension": "google.apps.sheets.v4.Dimension",
}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


@dataclass
class Call:
    """The parsed request handed to a handler."""

    method_id: str
    http_method: str
    path_args: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    raw_body: bytes
    user: str
    project: str
    store: Store
    base_url: str
    book: Spreadsheet | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def params(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.param(name)
        if value is None or value == "":
            return default
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise invalid_argument(f"Invalid value at '{snake(name)}' (TYPE_BOOL), \"{value}\"")

    def integer(self, name: str, default: int) -> int:
        value = self.param(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except ValueError:
            raise invalid_argument(f"Invalid value at '{snake(name)}' (TYPE_INT32), \"{value}\"") from None

    def enum(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        return check_enum(name, self.param(name), allowed, default)

    def body_dict(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


def check_enum(name: str, value: Any, allowed: tuple[str, ...], default: str) -> str:
    """Validate an enum value from a query or a body; None means the default."""
    if value is None or value == "":
        return default
    if value not in allowed:
        enum_type = ENUM_TYPES.get(name, "enum")
        message = f"Invalid value at '{snake(name)}' (type.googleapis.com/{enum_type}), \"{value}\""
        raise invalid_argument(message, [message])
    return value
