"""The emulator's state: spreadsheets, sheets, cells, sharing, keys and tokens.

Everything lives in one :class:`Store` guarded by one lock. Cells are kept sparse
(``row -> column -> CellData``) and a cell dict is never changed in place: writers
replace it, so a snapshot of a sheet only copies the row dicts (used to make
``batchUpdate`` all-or-nothing). With a ``data_path`` the whole state is written as
JSON after each mutating request (temp file + ``os.replace``), so it survives restarts.
"""

from __future__ import annotations

import copy
import json
import os
import random
import secrets
import string
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from .a1 import A1Range, format_range, parse_a1
from .errors import ApiError, invalid_argument

MAX_CELLS = 10_000_000
ROLE_RANK = {"reader": 1, "commenter": 2, "writer": 3, "fileOrganizer": 3, "organizer": 3, "owner": 4}

DEFAULT_FORMAT = {
    "backgroundColor": {"red": 1, "green": 1, "blue": 1},
    "padding": {"top": 2, "right": 3, "bottom": 2, "left": 3},
    "verticalAlignment": "BOTTOM",
    "wrapStrategy": "OVERFLOW_CELL",
    "textFormat": {
        "foregroundColor": {},
        "fontFamily": "arial,sans,sans-serif",
        "fontSize": 10,
        "bold": False,
        "italic": False,
        "strikethrough": False,
        "underline": False,
        "foregroundColorStyle": {"rgbColor": {}},
    },
    "backgroundColorStyle": {"rgbColor": {"red": 1, "green": 1, "blue": 1}},
}

_THEME_ACCENTS = [
    ("ACCENT1", 0.25882354, 0.52156866, 0.95686275),
    ("ACCENT2", 0.91764706, 0.2627451, 0.20784314),
    ("ACCENT3", 0.9843137, 0.7372549, 0.015686275),
    ("ACCENT4", 0.20392157, 0.65882355, 0.3254902),
    ("ACCENT5", 1, 0.42745098, 0.003921569),
    ("ACCENT6", 0.27450982, 0.7411765, 0.7764706),
    ("LINK", 0.06666667, 0.33333334, 0.8),
]
DEFAULT_THEME = {
    "primaryFontFamily": "Arial",
    "themeColors": [
        {"colorType": "TEXT", "color": {"rgbColor": {}}},
        {"colorType": "BACKGROUND", "color": {"rgbColor": {"red": 1, "green": 1, "blue": 1}}},
    ]
    + [
        {"colorType": name, "color": {"rgbColor": {"red": r, "green": g, "blue": b}}}
        for name, r, g, b in _THEME_ACCENTS
    ],
}


def now_rfc3339() -> str:
    """'2023-08-17T10:52:55.207Z', as Drive prints times."""
    moment = datetime.now(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_spreadsheet_id() -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "1" + "".join(secrets.choice(alphabet) for _ in range(43))


def new_sheet_id(taken: set[int]) -> int:
    while True:
        value = random.randrange(100_000_000, 2_147_483_647)
        if value not in taken:
            return value


class Sheet:
    """One tab: its properties, sparse cells and the objects anchored to its grid."""

    def __init__(self, properties: dict[str, Any]) -> None:
        self.properties = properties
        self.cells: dict[int, dict[int, dict[str, Any]]] = {}
        self.merges: list[dict[str, Any]] = []
        self.protected_ranges: list[dict[str, Any]] = []
        self.conditional_formats: list[dict[str, Any]] = []
        self.basic_filter: dict[str, Any] | None = None
        self.row_groups: list[dict[str, Any]] = []
        self.column_groups: list[dict[str, Any]] = []
        self.row_meta: dict[int, dict[str, Any]] = {}
        self.col_meta: dict[int, dict[str, Any]] = {}
        self.charts: list[dict[str, Any]] = []  # embedded charts over this sheet (charts.py)

    # -- properties -------------------------------------------------------------
    @property
    def sheet_id(self) -> int:
        return self.properties["sheetId"]

    @property
    def title(self) -> str:
        return self.properties["title"]

    @property
    def grid(self) -> dict[str, Any]:
        return self.properties.setdefault("gridProperties", {})

    @property
    def row_count(self) -> int:
        return self.grid.get("rowCount", 0)

    @property
    def column_count(self) -> int:
        return self.grid.get("columnCount", 0)

    # -- cells -----------------------------------------------------------------
    def get_cell(self, row: int, col: int) -> dict[str, Any] | None:
        cells = self.cells.get(row)
        return cells.get(col) if cells else None

    def set_cell(self, row: int, col: int, cell: dict[str, Any] | None) -> None:
        """Replace a cell; an empty or None cell is removed."""
        if cell:
            self.cells.setdefault(row, {})[col] = cell
            return
        cells = self.cells.get(row)
        if cells and col in cells:
            del cells[col]
            if not cells:
                del self.cells[row]

    def used_rows(self) -> list[int]:
        return sorted(self.cells)

    def snapshot_cells(self) -> dict[int, dict[int, dict[str, Any]]]:
        return {row: dict(cols) for row, cols in self.cells.items()}

    def iter_cells(self) -> Iterator[tuple[int, int, dict[str, Any]]]:
        for row in sorted(self.cells):
            cols = self.cells[row]
            for col in sorted(cols):
                yield row, col, cols[col]

    # -- persistence -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "properties": self.properties,
            "cells": {str(r): {str(c): cell for c, cell in cols.items()} for r, cols in self.cells.items()},
            "merges": self.merges,
            "protectedRanges": self.protected_ranges,
            "conditionalFormats": self.conditional_formats,
            "basicFilter": self.basic_filter,
            "rowGroups": self.row_groups,
            "columnGroups": self.column_groups,
            "rowMeta": {str(k): v for k, v in self.row_meta.items()},
            "colMeta": {str(k): v for k, v in self.col_meta.items()},
            "charts": self.charts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Sheet":
        sheet = cls(data["properties"])
        sheet.cells = {
            int(r): {int(c): cell for c, cell in cols.items()} for r, cols in data["cells"].items()
        }
        sheet.merges = data.get("merges", [])
        sheet.protected_ranges = data.get("protectedRanges", [])
        sheet.conditional_formats = data.get("conditionalFormats", [])
        sheet.basic_filter = data.get("basicFilter")
        sheet.row_groups = data.get("rowGroups", [])
        sheet.column_groups = data.get("columnGroups", [])
        sheet.row_meta = {int(k): v for k, v in data.get("rowMeta", {}).items()}
        sheet.col_meta = {int(k): v for k, v in data.get("colMeta", {}).items()}
        sheet.charts = data.get("charts", [])
        return sheet

    def clone(self) -> "Sheet":
        """A copy safe to mutate independently (cells are immutable, so rows are enough)."""
        other = Sheet(copy.deepcopy(self.properties))
        other.cells = self.snapshot_cells()
        other.merges = copy.deepcopy(self.merges)
        other.protected_ranges = copy.deepcopy(self.protected_ranges)
        other.conditional_formats = copy.deepcopy(self.conditional_formats)
        other.basic_filter = copy.deepcopy(self.basic_filter)
        other.row_groups = copy.deepcopy(self.row_groups)
        other.column_groups = copy.deepcopy(self.column_groups)
        other.row_meta = copy.deepcopy(self.row_meta)
        other.col_meta = copy.deepcopy(self.col_meta)
        other.charts = copy.deepcopy(self.charts)
        return other


def new_grid_sheet(sheet_id: int, title: str, index: int, rows: int = 1000, cols: int = 26) -> Sheet:
    return Sheet(
        {
            "sheetId": sheet_id,
            "title": title,
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": rows, "columnCount": cols},
        }
    )


class Spreadsheet:
    """A spreadsheet file: Sheets properties, tabs, named ranges, and its Drive side."""

    def __init__(self, spreadsheet_id: str, title: str, owner: str) -> None:
        self.id = spreadsheet_id
        self.properties: dict[str, Any] = {
            "title": title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Etc/GMT",
            "defaultFormat": copy.deepcopy(DEFAULT_FORMAT),
            "spreadsheetTheme": copy.deepcopy(DEFAULT_THEME),
        }
        self.sheets: list[Sheet] = []
        self.named_ranges: list[dict[str, Any]] = []
        stamp = now_rfc3339()
        self.drive: dict[str, Any] = {
            "createdTime": stamp,
            "modifiedTime": stamp,
            "trashed": False,
            "starred": False,
        }
        self.permissions: list[dict[str, Any]] = [{"type": "user", "role": "owner", "emailAddress": owner}]

    @property
    def title(self) -> str:
        return self.properties["title"]

    @property
    def owner(self) -> str:
        for perm in self.permissions:
            if perm["role"] == "owner":
                return perm["emailAddress"]
        return ""

    def touch(self) -> None:
        self.drive["modifiedTime"] = now_rfc3339()

    # -- sheets ----------------------------------------------------------------
    def sheet_by_id(self, sheet_id: int) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        return None

    def sheet_by_title(self, title: str) -> Sheet | None:
        for sheet in self.sheets:
            if sheet.title == title:
                return sheet
        lowered = title.lower()
        for sheet in self.sheets:
            if sheet.title.lower() == lowered:
                return sheet
        return None

    def first_visible_sheet(self) -> Sheet:
        for sheet in sorted(self.sheets, key=lambda s: s.properties["index"]):
            if not sheet.properties.get("hidden"):
                return sheet
        return self.sheets[0]

    def reindex(self) -> None:
        self.sheets.sort(key=lambda s: s.properties["index"])
        for position, sheet in enumerate(self.sheets):
            sheet.properties["index"] = position

    def total_cells(self) -> int:
        return sum(s.row_count * s.column_count for s in self.sheets)

    def check_cell_limit(self, extra: int = 0) -> None:
        if self.total_cells() + extra > MAX_CELLS:
            raise invalid_argument(
                "This action would increase the number of cells in the workbook above the "
                f"limit of {MAX_CELLS} cells."
            )

    # -- ranges ----------------------------------------------------------------
    def resolve_range(self, text: str) -> tuple[Sheet, A1Range]:
        """A1 text -> (sheet, range); unknown sheets and bad text are Google's 400."""
        try:
            parsed = parse_a1(text)
        except ValueError:
            raise invalid_argument(f"Unable to parse range: {text}") from None
        if parsed.sheet is None:
            return self.first_visible_sheet(), parsed
        sheet = self.sheet_by_title(parsed.sheet)
        if sheet is not None:
            return sheet, parsed
        if parsed.whole_sheet:
            named = self.named_range(parsed.sheet)
            if named is not None:
                rng = named["range"]
                target = self.sheet_by_id(rng.get("sheetId", 0))
                if target is not None:
                    return target, A1Range(
                        target.title,
                        rng.get("startRowIndex", 0),
                        rng.get("startColumnIndex", 0),
                        rng.get("endRowIndex"),
                        rng.get("endColumnIndex"),
                    )
        raise invalid_argument(f"Unable to parse range: {text}")

    def named_range(self, name: str) -> dict[str, Any] | None:
        for named in self.named_ranges:
            if named["name"] == name:
                return named
        return None

    # -- sharing ---------------------------------------------------------------
    def role_of(self, email: str) -> str | None:
        best: str | None = None
        domain = email.rpartition("@")[2].lower()
        for perm in self.permissions:
            matches = (
                (perm["type"] in ("user", "group") and perm.get("emailAddress", "").lower() == email.lower())
                or (perm["type"] == "domain" and perm.get("domain", "").lower() == domain)
                or perm["type"] == "anyone"
            )
            if matches and (best is None or ROLE_RANK[perm["role"]] > ROLE_RANK[best]):
                best = perm["role"]
        return best

    def can(self, email: str, needed: str) -> bool:
        role = self.role_of(email)
        return role is not None and ROLE_RANK[role] >= ROLE_RANK[needed]

    # -- persistence -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "properties": self.properties,
            "sheets": [s.to_dict() for s in self.sheets],
            "namedRanges": self.named_ranges,
            "drive": self.drive,
            "permissions": self.permissions,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Spreadsheet":
        book = cls.__new__(cls)
        book.id = data["id"]
        book.properties = data["properties"]
        book.sheets = [Sheet.from_dict(s) for s in data["sheets"]]
        book.named_ranges = data.get("namedRanges", [])
        book.drive = data["drive"]
        book.permissions = data["permissions"]
        return book

    def snapshot(self) -> dict[str, Any]:
        """Everything batchUpdate may change, to put back if a request fails."""
        return {
            "properties": copy.deepcopy(self.properties),
            "sheets": [s.clone() for s in self.sheets],
            "namedRanges": copy.deepcopy(self.named_ranges),
        }

    def restore(self, snap: dict[str, Any]) -> None:
        self.properties = snap["properties"]
        self.sheets = snap["sheets"]
        self.named_ranges = snap["namedRanges"]

    def copy_as(self, new_id: str, title: str, owner: str) -> "Spreadsheet":
        other = Spreadsheet(new_id, title, owner)
        other.properties = copy.deepcopy(self.properties)
        other.properties["title"] = title
        other.sheets = [s.clone() for s in self.sheets]
        other.named_ranges = copy.deepcopy(self.named_ranges)
        return other


def new_spreadsheet(title: str, owner: str, spreadsheet_id: str | None = None) -> Spreadsheet:
    book = Spreadsheet(spreadsheet_id or new_spreadsheet_id(), title, owner)
    book.sheets.append(new_grid_sheet(0, "Sheet1", 0))
    return book


def grid_range_a1(sheet: Sheet, rng: dict[str, Any]) -> str:
    """GridRange -> A1 text for messages ('T!A1001:B')."""
    return format_range(
        sheet.title,
        rng.get("startRowIndex", 0),
        rng.get("startColumnIndex", 0),
        rng.get("endRowIndex"),
        rng.get("endColumnIndex"),
    )


class Store:
    """All state, one lock, JSON persistence."""

    def __init__(self, data_path: str | os.PathLike[str] | None = None) -> None:
        self.lock = threading.RLock()
        self.data_path = Path(data_path) if data_path else None
        self.spreadsheets: dict[str, Spreadsheet] = {}
        self.keys: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}
        # Addresses with no Google account: Drive shares with them only by an invitation email.
        self.without_google_account: set[str] = set()
        if self.data_path and self.data_path.exists() and self.data_path.stat().st_size:
            self.load()

    def spreadsheet(self, spreadsheet_id: str) -> Spreadsheet | None:
        return self.spreadsheets.get(spreadsheet_id)

    def add(self, book: Spreadsheet) -> Spreadsheet:
        self.spreadsheets[book.id] = book
        return book

    def clear(self) -> None:
        """Forget spreadsheets and tokens (keys stay registered)."""
        self.spreadsheets.clear()
        self.tokens.clear()

    def drop_expired_tokens(self) -> None:
        now = time.time()
        for token in [t for t, info in self.tokens.items() if info["expiry"] < now]:
            del self.tokens[token]

    def to_dict(self) -> dict[str, Any]:
        self.drop_expired_tokens()
        return {
            "version": 1,
            "spreadsheets": [b.to_dict() for b in self.spreadsheets.values()],
            "keys": self.keys,
            "tokens": self.tokens,
        }

    def save(self) -> None:
        """Write the state atomically (temp file in the same folder, then rename)."""
        if not self.data_path:
            return
        text = json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
        folder = self.data_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=self.data_path.name + ".", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.data_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def load(self) -> None:
        assert self.data_path is not None
        data = json.loads(self.data_path.read_text(encoding="utf-8"))
        self.spreadsheets = {b["id"]: Spreadsheet.from_dict(b) for b in data.get("spreadsheets", [])}
        self.keys = data.get("keys", {})
        self.tokens = data.get("tokens", {})


def require_in_grid(sheet: Sheet, start_row: int, start_col: int, text: str, prefix: str = "") -> None:
    """A range starting at or past the grid's last row/column is Google's 400."""
    if start_row >= sheet.row_count or start_col >= sheet.column_count:
        raise ApiError(
            400,
            f"{prefix}Range ({text}) exceeds grid limits. Max rows: {sheet.row_count}, "
            f"max columns: {sheet.column_count}",
        )
