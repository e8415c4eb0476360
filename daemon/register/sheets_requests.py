"""Builders of the ``spreadsheets.batchUpdate`` requests the Google register sends: new tabs,
wider or longer grids, header cells, rows appended as text, rows deleted, a whole tab replaced,
a warning-only protection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from daemon.register.archive import ColumnPlan
from daemon.register.sheets_values import cell_text


def text_cells(cells: Sequence[str]) -> list[dict[str, Any]]:
    """CellData for text: ``stringValue`` keeps ``=SUM(1)`` text; "" is an empty cell."""
    return [{"userEnteredValue": {"stringValue": cell_text(cell)}} if cell else {}
            for cell in cells]


def add_sheet_request(title: str, sheet_id: int, width: int) -> dict[str, Any]:
    """A new tab with the given sheetId, its first row frozen."""
    return {"addSheet": {"properties": {
        "sheetId": sheet_id,
        "title": title,
        "gridProperties": {"rowCount": 1000, "columnCount": max(26, width), "frozenRowCount": 1},
    }}}


def widen_request(sheet_id: int, column_count: int, width: int) -> list[dict[str, Any]]:
    """An appendDimension if the tab has fewer than ``width`` columns, else nothing."""
    if width <= column_count:
        return []
    return [{"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                 "length": width - column_count}}]


def replace_tab_request(
    sheet_id: int, grid: Sequence[Sequence[str]], *, note: str
) -> dict[str, Any]:
    """updateCells over the whole tab: ``grid`` from A1 as text, every other cell's value and
    note cleared (formats kept), ``note`` on A1."""
    rows = [{"values": text_cells(row)} for row in grid]
    if rows and rows[0]["values"]:
        rows[0]["values"][0] = {**rows[0]["values"][0], "note": note}
    return {"updateCells": {"range": {"sheetId": sheet_id}, "rows": rows,
                            "fields": "userEnteredValue,note"}}


def warning_protection_request(sheet_id: int, description: str) -> dict[str, Any]:
    """A protected range over the whole tab that only warns: anyone may still edit it."""
    return {"addProtectedRange": {"protectedRange": {
        "range": {"sheetId": sheet_id}, "description": description, "warningOnly": True}}}


def lengthen_request(sheet_id: int, row_count: int, height: int) -> list[dict[str, Any]]:
    """An appendDimension if the tab has fewer than ``height`` rows, else nothing."""
    if height <= row_count:
        return []
    return [{"appendDimension": {"sheetId": sheet_id, "dimension": "ROWS",
                                 "length": height - row_count}}]


def header_request(sheet_id: int, plan: ColumnPlan,
                   target_header: Sequence[str]) -> list[dict[str, Any]]:
    """The header cells ``plan`` adds to row 1 (one updateCells), or nothing."""
    if not plan.added:
        return []
    first, last = plan.added[0][0], plan.added[-1][0]
    cells = plan.header(target_header)[first:last + 1]
    return [{"updateCells": {
        "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": first},
        "rows": [{"values": text_cells(cells)}],
        "fields": "userEnteredValue",
    }}]


def append_cells_request(sheet_id: int, rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Rows after the tab's last row with data, from column A, as text."""
    return {"appendCells": {"sheetId": sheet_id,
                            "rows": [{"values": text_cells(row)} for row in rows],
                            "fields": "userEnteredValue"}}


def delete_rows_requests(sheet_id: int, row_numbers: Sequence[int]) -> list[dict[str, Any]]:
    """deleteDimension of the given 1-based rows, adjacent rows together, the bottom block first
    so the indexes of the blocks still to delete stay valid."""
    blocks: list[list[int]] = []  # [first, last] row numbers, from the bottom up
    for number in sorted(set(row_numbers), reverse=True):
        if blocks and blocks[-1][0] == number + 1:
            blocks[-1][0] = number
        else:
            blocks.append([number, number])
    return [{"deleteDimension": {"range": {"sheetId": sheet_id, "dimension": "ROWS",
                                           "startIndex": first - 1, "endIndex": last}}}
            for first, last in blocks]
