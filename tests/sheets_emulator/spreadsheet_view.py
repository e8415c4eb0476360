"""The Spreadsheet resource as ``spreadsheets.get`` answers it, grid data included.

``ranges`` limits the answer to the sheets (and cells) they name; grid data is built
when ``includeGridData`` is true or a ``fields`` mask is given (the mask then decides
what stays). Rows end at the last row with content, cells at the last cell with
content; an empty row is ``{}``.
"""

from __future__ import annotations

import copy
from typing import Any

from .cell_values import formatted_text, json_number, python_to_effective
from .charts import charts_out
from .evaluation import BookEvaluator, display_format
from .formats import effective_format
from .store import Sheet, Spreadsheet

DEFAULT_ROW_PIXELS = 21
DEFAULT_COLUMN_PIXELS = 100


def grid_range_out(rng: dict[str, Any], sheet_id: int) -> dict[str, Any]:
    """A stored GridRange as Google prints it (sheetId 0 is left out, as proto3 does)."""
    out = {"sheetId": sheet_id} if sheet_id else {}
    for key in ("startRowIndex", "endRowIndex", "startColumnIndex", "endColumnIndex"):
        if rng.get(key) is not None:
            out[key] = rng[key]
    return out


def user_value_out(value: dict[str, Any]) -> dict[str, Any]:
    if "numberValue" in value:
        return {"numberValue": json_number(float(value["numberValue"]))}
    return dict(value)


def cell_out(book: Spreadsheet, sheet: Sheet, evaluator: BookEvaluator, row: int, col: int) -> dict[str, Any]:
    cell = sheet.get_cell(row, col)
    if not cell:
        return {}
    out: dict[str, Any] = {}
    user_value = cell.get("userEnteredValue")
    if user_value:
        out["userEnteredValue"] = user_value_out(user_value)
        value, evaluated = evaluator.effective(sheet, row, col)
        if evaluated and value is not None:
            effective = python_to_effective(value)
            if effective:
                out["effectiveValue"] = effective
            out["formattedValue"] = formatted_text(value, display_format(cell, value))
    if cell.get("userEnteredFormat"):
        out["userEnteredFormat"] = copy.deepcopy(cell["userEnteredFormat"])
    if user_value or cell.get("userEnteredFormat"):
        out["effectiveFormat"] = effective_format(
            book.properties["defaultFormat"], cell.get("userEnteredFormat")
        )
    if cell.get("note"):
        out["note"] = cell["note"]
    if cell.get("dataValidation"):
        out["dataValidation"] = copy.deepcopy(cell["dataValidation"])
    return out


def grid_data(
    book: Spreadsheet, sheet: Sheet, evaluator: BookEvaluator, r0: int, c0: int, r1: int, c1: int
) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if r0:
        data["startRow"] = r0
    if c0:
        data["startColumn"] = c0
    used_rows = [r for r in sheet.cells if r0 <= r < r1 and any(c0 <= c < c1 for c in sheet.cells[r])]
    if used_rows:
        rows = []
        for row in range(r0, max(used_rows) + 1):
            cols = [c for c in sheet.cells.get(row, {}) if c0 <= c < c1]
            if not cols:
                rows.append({})
                continue
            rows.append(
                {"values": [cell_out(book, sheet, evaluator, row, c) for c in range(c0, max(cols) + 1)]}
            )
        data["rowData"] = rows
    data["rowMetadata"] = [
        {"pixelSize": DEFAULT_ROW_PIXELS, **sheet.row_meta.get(r, {})} for r in range(r0, r1)
    ]
    data["columnMetadata"] = [
        {"pixelSize": DEFAULT_COLUMN_PIXELS, **sheet.col_meta.get(c, {})} for c in range(c0, c1)
    ]
    return data


def sheet_out(
    book: Spreadsheet,
    sheet: Sheet,
    evaluator: BookEvaluator,
    data_ranges: list[tuple[int, int, int, int]] | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"properties": copy.deepcopy(sheet.properties)}
    if data_ranges is not None:
        out["data"] = [grid_data(book, sheet, evaluator, *bounds) for bounds in data_ranges]
    sid = sheet.sheet_id
    if sheet.merges:
        out["merges"] = [grid_range_out(m, sid) for m in sheet.merges]
    if sheet.conditional_formats:
        out["conditionalFormats"] = [
            {**copy.deepcopy(rule), "ranges": [grid_range_out(r, sid) for r in rule.get("ranges", [])]}
            for rule in sheet.conditional_formats
        ]
    if sheet.protected_ranges:
        out["protectedRanges"] = [
            {**copy.deepcopy(item), "range": grid_range_out(item["range"], sid)}
            for item in sheet.protected_ranges
        ]
    if sheet.basic_filter is not None:
        out["basicFilter"] = {
            **copy.deepcopy(sheet.basic_filter),
            "range": grid_range_out(sheet.basic_filter["range"], sid),
        }
    if sheet.charts:
        out["charts"] = charts_out(sheet)
    for attr, key in (("row_groups", "rowGroups"), ("column_groups", "columnGroups")):
        groups = getattr(sheet, attr)
        if groups:
            out[key] = [
                {
                    **copy.deepcopy(g),
                    "range": ({"sheetId": sid} if sid else {})
                    | {k: v for k, v in g["range"].items() if k != "sheetId"},
                }
                for g in groups
            ]
    return out


def named_range_out(book: Spreadsheet, named: dict[str, Any]) -> dict[str, Any]:
    rng = named["range"]
    return {
        "namedRangeId": named["namedRangeId"],
        "name": named["name"],
        "range": grid_range_out(rng, rng.get("sheetId", 0)),
    }


def spreadsheet_out(
    book: Spreadsheet,
    base_url: str,
    with_data: bool,
    ranges: list[tuple[Sheet, int, int, int, int]] | None = None,
) -> dict[str, Any]:
    """The Spreadsheet resource; ``ranges`` (resolved) limits sheets and grid data."""
    evaluator = BookEvaluator(book)
    sheets_out = []
    ordered = sorted(book.sheets, key=lambda s: s.properties["index"])
    if ranges:
        wanted: dict[int, list[tuple[int, int, int, int]]] = {}
        for sheet, r0, c0, r1, c1 in ranges:
            wanted.setdefault(sheet.sheet_id, []).append((r0, c0, r1, c1))
        for sheet in ordered:
            if sheet.sheet_id in wanted:
                sheets_out.append(
                    sheet_out(book, sheet, evaluator, wanted[sheet.sheet_id] if with_data else None)
                )
    else:
        for sheet in ordered:
            bounds = [(0, 0, sheet.row_count, sheet.column_count)] if with_data else None
            sheets_out.append(sheet_out(book, sheet, evaluator, bounds))
    out: dict[str, Any] = {
        "spreadsheetId": book.id,
        "properties": copy.deepcopy(book.properties),
        "sheets": sheets_out,
    }
    if book.named_ranges:
        out["namedRanges"] = [named_range_out(book, n) for n in book.named_ranges]
    out["spreadsheetUrl"] = f"https://docs.google.com/spreadsheets/d/{book.id}/edit"
    return out
