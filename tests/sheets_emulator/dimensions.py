"""Rows and columns: insert, delete, grow, and keep everything anchored in place.

Inserting or deleting rows/columns moves cells, notes and formats, and shifts merges,
protected ranges, the basic filter, conditional formats, named ranges, dimension groups
and row/column properties; formulas anywhere in the spreadsheet that point at the
sheet are rewritten (deleted targets become ``#REF!``), as Sheets does.
"""

from __future__ import annotations

from typing import Any

from . import formula
from .errors import invalid_argument
from .store import Sheet, Spreadsheet

_KEYS = {"ROWS": ("startRowIndex", "endRowIndex"), "COLUMNS": ("startColumnIndex", "endColumnIndex")}


def _shift_index(value: int, start: int, delta: int, is_end: bool) -> int:
    if delta > 0:
        if value > start or (value == start and not is_end):
            return value + delta
        return value
    end = start - delta
    if value <= start:
        return value
    if value < end or (value == end and not is_end):
        return start
    return value + delta


def shift_grid_range(rng: dict[str, Any], dim: str, start: int, delta: int) -> dict[str, Any] | None:
    """GridRange after an insert (delta>0) or delete (delta<0); None if it vanished."""
    lo_key, hi_key = _KEYS[dim]
    out = dict(rng)
    lo = rng.get(lo_key)
    hi = rng.get(hi_key)
    if lo is not None:
        out[lo_key] = _shift_index(lo, start, delta, is_end=False)
    if hi is not None:
        out[hi_key] = _shift_index(hi, start, delta, is_end=True)
    if lo is not None and hi is not None and out[lo_key] >= out[hi_key] and hi > lo:
        return None
    if lo is not None and out.get(lo_key) == 0:
        out[lo_key] = 0
    return out


def shift_dimension_range(rng: dict[str, Any], dim: str, start: int, delta: int) -> dict[str, Any] | None:
    if rng.get("dimension") != dim:
        return rng
    fake = {"startRowIndex": rng.get("startIndex", 0), "endRowIndex": rng.get("endIndex")}
    moved = shift_grid_range(fake, "ROWS", start, delta)
    if moved is None:
        return None
    out = dict(rng)
    out["startIndex"] = moved["startRowIndex"]
    if moved.get("endRowIndex") is not None:
        out["endIndex"] = moved["endRowIndex"]
    return out


def _shift_keys(mapping: dict[int, Any], start: int, delta: int) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for key, value in mapping.items():
        if key < start:
            out[key] = value
        elif delta > 0:
            out[key + delta] = value
        elif key >= start - delta:
            out[key + delta] = value
    return out


def _shift_cells(sheet: Sheet, dim: str, start: int, delta: int) -> None:
    if dim == "ROWS":
        sheet.cells = _shift_keys(sheet.cells, start, delta)
        sheet.row_meta = _shift_keys(sheet.row_meta, start, delta)
    else:
        sheet.cells = {
            r: shifted for r, cols in sheet.cells.items() if (shifted := _shift_keys(cols, start, delta))
        }
        sheet.col_meta = _shift_keys(sheet.col_meta, start, delta)


def _shift_anchored(book: Spreadsheet, sheet: Sheet, dim: str, start: int, delta: int) -> None:
    def moved(ranges: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in (shift_grid_range(x, dim, start, delta) for x in ranges) if r is not None]

    sheet.merges = moved(sheet.merges)
    protected = []
    for item in sheet.protected_ranges:
        rng = shift_grid_range(item["range"], dim, start, delta)
        if rng is not None:
            protected.append({**item, "range": rng})
    sheet.protected_ranges = protected
    rules = []
    for rule in sheet.conditional_formats:
        ranges = moved(rule.get("ranges", []))
        if ranges:
            rules.append({**rule, "ranges": ranges})
    sheet.conditional_formats = rules
    if sheet.basic_filter is not None:
        rng = shift_grid_range(sheet.basic_filter.get("range", {}), dim, start, delta)
        sheet.basic_filter = None if rng is None else {**sheet.basic_filter, "range": rng}
    groups_attr = "row_groups" if dim == "ROWS" else "column_groups"
    groups = []
    for group in getattr(sheet, groups_attr):
        rng = shift_dimension_range(group["range"], dim, start, delta)
        if rng is not None:
            groups.append({**group, "range": rng})
    setattr(sheet, groups_attr, groups)
    named = []
    for item in book.named_ranges:
        if item["range"].get("sheetId", 0) != sheet.sheet_id:
            named.append(item)
            continue
        rng = shift_grid_range(item["range"], dim, start, delta)
        if rng is not None:
            named.append({**item, "range": rng})
    book.named_ranges = named


def _rewrite_formulas(book: Spreadsheet, changed: Sheet, dim: str, start: int, delta: int) -> None:
    for sheet in book.sheets:
        for row, col, cell in list(sheet.iter_cells()):
            text = (cell.get("userEnteredValue") or {}).get("formulaValue")
            if not text:
                continue
            new = formula.rewrite_references(text, sheet.title, changed.title, dim, start, delta)
            if new != text:
                sheet.set_cell(row, col, {**cell, "userEnteredValue": {"formulaValue": new}})


def _count_key(dim: str) -> str:
    return "rowCount" if dim == "ROWS" else "columnCount"


def insert_dimension(
    book: Spreadsheet, sheet: Sheet, dim: str, start: int, end: int, inherit_from_before: bool = False
) -> None:
    """Insert rows/columns [start, end); the grid grows by end - start."""
    count = end - start
    total = sheet.row_count if dim == "ROWS" else sheet.column_count
    if count <= 0 or start < 0 or start > total:
        raise invalid_argument(f"Cannot insert {dim.lower()} at index {start}: the sheet has {total}.")
    other = sheet.column_count if dim == "ROWS" else sheet.row_count
    book.check_cell_limit(count * other)
    _shift_cells(sheet, dim, start, count)
    _shift_anchored(book, sheet, dim, start, count)
    _rewrite_formulas(book, sheet, dim, start, count)
    sheet.grid[_count_key(dim)] = total + count
    source = start - 1 if inherit_from_before else end
    if 0 <= source < total + count:
        _inherit_formats(sheet, dim, source, start, end)


INHERITED = ("userEnteredFormat", "dataValidation")


def _inherited(cell: dict[str, Any] | None) -> dict[str, Any]:
    return {key: cell[key] for key in INHERITED if (cell or {}).get(key)}


def _inherit_formats(sheet: Sheet, dim: str, source: int, start: int, end: int) -> None:
    """New rows/columns take the formats and data validation (drop-downs, checkboxes) of
    their neighbour, as in Sheets."""
    if dim == "ROWS":
        formats = {
            c: kept for c, cell in sheet.cells.get(source, {}).items() if (kept := _inherited(cell))
        }
        for row in range(start, end):
            for col, kept in formats.items():
                sheet.set_cell(row, col, dict(kept))
    else:
        for row, cols in list(sheet.cells.items()):
            kept = _inherited(cols.get(source))
            if kept:
                for col in range(start, end):
                    sheet.set_cell(row, col, dict(kept))


def delete_dimension(book: Spreadsheet, sheet: Sheet, dim: str, start: int, end: int) -> None:
    total = sheet.row_count if dim == "ROWS" else sheet.column_count
    end = min(end, total)
    if start >= end:
        return
    if start == 0 and end >= total:
        noun = "rows" if dim == "ROWS" else "columns"
        raise invalid_argument(f"You can't delete all the {noun} on the sheet.")
    delta = -(end - start)
    _shift_cells(sheet, dim, start, delta)
    _shift_anchored(book, sheet, dim, start, delta)
    _rewrite_formulas(book, sheet, dim, start, delta)
    sheet.grid[_count_key(dim)] = total + delta
    frozen_key = "frozenRowCount" if dim == "ROWS" else "frozenColumnCount"
    if sheet.grid.get(frozen_key, 0) > total + delta:
        sheet.grid[frozen_key] = total + delta


def grow_grid(book: Spreadsheet, sheet: Sheet, extra_rows: int, extra_cols: int) -> None:
    """appendDimension: add rows/columns at the end of the grid."""
    added = extra_rows * (sheet.column_count + extra_cols) + extra_cols * sheet.row_count
    book.check_cell_limit(added)
    if sheet.column_count + extra_cols > 18278:
        raise invalid_argument(
            "This action would increase the number of columns in the sheet above the limit of 18278."
        )
    sheet.grid["rowCount"] = sheet.row_count + extra_rows
    sheet.grid["columnCount"] = sheet.column_count + extra_cols
