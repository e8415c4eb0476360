"""What every ``batchUpdate`` request handler shares: the batch, sheet lookup,
GridRange bounds, and errors prefixed ``Invalid requests[i].kind: `` as Google does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ApiError, invalid_argument
from .store import Sheet, Spreadsheet, grid_range_a1


@dataclass
class Batch:
    book: Spreadsheet
    user: str
    index: int = 0
    kind: str = ""

    @property
    def prefix(self) -> str:
        return f"Invalid requests[{self.index}].{self.kind}: "

    def fail(self, message: str) -> ApiError:
        return invalid_argument(self.prefix + message)

    def sheet(self, sheet_id: Any) -> Sheet:
        sheet = self.book.sheet_by_id(int(sheet_id or 0))
        if sheet is None:
            raise self.fail(f"No grid with id: {int(sheet_id or 0)}")
        return sheet

    def bounds(self, rng: dict[str, Any] | None) -> tuple[Sheet, int, int, int, int]:
        """A GridRange -> (sheet, r0, c0, r1, c1): a range starting at or past the grid is
        refused, one ending past it is cut to it (as Sheets does)."""
        rng = rng or {}
        sheet = self.sheet(rng.get("sheetId"))
        r0 = rng.get("startRowIndex") or 0
        c0 = rng.get("startColumnIndex") or 0
        r1 = rng.get("endRowIndex")
        c1 = rng.get("endColumnIndex")
        if r0 < 0 or c0 < 0 or (r1 is not None and r1 < r0) or (c1 is not None and c1 < c0):
            raise self.fail("Invalid range: start and end indexes must be ordered and not negative.")
        empty = (r1 is not None and r1 == r0) or (c1 is not None and c1 == c0)
        if not empty and (r0 >= sheet.row_count or c0 >= sheet.column_count):
            raise ApiError(
                400,
                f"{self.prefix}Range ({grid_range_a1(sheet, rng)}) exceeds grid limits. "
                f"Max rows: {sheet.row_count}, max columns: {sheet.column_count}",
            )
        r1 = sheet.row_count if r1 is None else min(r1, sheet.row_count)
        c1 = sheet.column_count if c1 is None else min(c1, sheet.column_count)
        return sheet, r0, c0, r1, c1

    def dimension_bounds(self, rng: dict[str, Any] | None) -> tuple[Sheet, str, int, int]:
        rng = rng or {}
        sheet = self.sheet(rng.get("sheetId"))
        dim = rng.get("dimension")
        if dim not in ("ROWS", "COLUMNS"):
            raise self.fail("range.dimension must be ROWS or COLUMNS.")
        total = sheet.row_count if dim == "ROWS" else sheet.column_count
        start = rng.get("startIndex") or 0
        end = rng.get("endIndex")
        end = total if end is None else end
        if start < 0 or end < start:
            raise self.fail(
                "Invalid dimension range: start and end indexes must be ordered and not negative."
            )
        return sheet, dim, start, end


def stored_range(rng: dict[str, Any], sheet: Sheet) -> dict[str, Any]:
    """A request GridRange as stored: explicit bounds kept, sheetId dropped."""
    return {
        k: rng[k]
        for k in ("startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex")
        if rng.get(k) is not None
    }


def full_range(sheet: Sheet, rng: dict[str, Any]) -> dict[str, Any]:
    """Fill open bounds with the grid's size (how basic filters are answered)."""
    return {
        "startRowIndex": rng.get("startRowIndex") or 0,
        "endRowIndex": sheet.row_count if rng.get("endRowIndex") is None else rng["endRowIndex"],
        "startColumnIndex": rng.get("startColumnIndex") or 0,
        "endColumnIndex": sheet.column_count if rng.get("endColumnIndex") is None else rng["endColumnIndex"],
    }
