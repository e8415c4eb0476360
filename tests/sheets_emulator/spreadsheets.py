"""Sheets v4 ``spreadsheets.get``, ``spreadsheets.create`` and ``sheets.copyTo``."""

from __future__ import annotations

import copy
from typing import Any

from .batch_common import Batch
from .call import Call
from .cell_requests import merged_cell
from .errors import invalid_argument, not_found, permission_denied
from .field_mask import MaskError, parse_mask
from .formats import strip_nulls
from .spreadsheet_view import spreadsheet_out
from .store import Spreadsheet, new_grid_sheet, new_sheet_id, new_spreadsheet
from .values import read_bounds


def wants_grid_data(call: Call) -> bool:
    """includeGridData, unless a field mask decides (then: does it reach sheets.data?)."""
    fields = call.param("fields")
    if not fields:
        return call.flag("includeGridData")
    call.flag("includeGridData")  # still validated
    try:
        mask = parse_mask(fields)
    except MaskError:
        raise invalid_argument(f"Invalid field selection: {fields}") from None
    if "*" in mask:
        return True
    sheets = mask.get("sheets", {}) if "sheets" in mask else {}
    return "sheets" in mask and (sheets is None or "data" in sheets or "*" in sheets)


def get(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    with_data = wants_grid_data(call)
    ranges = [read_bounds(book, text) for text in call.params("ranges")]
    return spreadsheet_out(book, call.base_url, with_data, ranges or None)


def create(call: Call) -> dict[str, Any]:
    body = strip_nulls(call.body_dict())
    props = body.get("properties") or {}
    book = new_spreadsheet(props.get("title") or "Untitled spreadsheet", call.user)
    for key in ("locale", "timeZone", "autoRecalc"):
        if props.get(key):
            book.properties[key] = props[key]
    if body.get("sheets"):
        book.sheets = []
        batch = Batch(book, call.user, 0, "addSheet")
        taken: set[int] = set()
        for position, item in enumerate(body["sheets"]):
            sp = item.get("properties") or {}
            sheet_id = sp.get("sheetId")
            if sheet_id is None:
                sheet_id = 0 if position == 0 else new_sheet_id(taken)
            if sheet_id in taken:
                raise invalid_argument(f"Duplicate sheet id: {sheet_id}")
            taken.add(sheet_id)
            grid = sp.get("gridProperties") or {}
            sheet = new_grid_sheet(
                sheet_id,
                sp.get("title") or f"Sheet{position + 1}",
                position,
                grid.get("rowCount", 1000),
                grid.get("columnCount", 26),
            )
            for key in ("frozenRowCount", "frozenColumnCount", "hideGridlines"):
                if key in grid:
                    sheet.grid[key] = grid[key]
            if sp.get("hidden"):
                sheet.properties["hidden"] = True
            if book.sheet_by_title(sheet.title) is not None:
                raise invalid_argument(
                    f'A sheet with the name "{sheet.title}" already exists. Please enter another name.'
                )
            book.sheets.append(sheet)
            for data in item.get("data") or []:
                r0, c0 = data.get("startRow", 0), data.get("startColumn", 0)
                for i, row in enumerate(data.get("rowData") or []):
                    for j, cell in enumerate(row.get("values") or []):
                        if r0 + i < sheet.row_count and c0 + j < sheet.column_count and cell:
                            sheet.set_cell(r0 + i, c0 + j, merged_cell(batch, None, cell, {"*": None}))
        book.check_cell_limit()
    call.store.add(book)
    call.book = book
    return spreadsheet_out(book, call.base_url, False)


def copy_to(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    sheet = book.sheet_by_id(int(call.path_args["sheetId"]))
    if sheet is None:
        raise not_found()
    target_id = call.body_dict().get("destinationSpreadsheetId")
    if not target_id:
        raise invalid_argument("destinationSpreadsheetId is required.")
    target: Spreadsheet | None = call.store.spreadsheet(target_id)
    if target is None:
        raise not_found()
    if not target.can(call.user, "writer"):
        raise permission_denied()
    title = f"Copy of {sheet.title}"
    number = 2
    while target.sheet_by_title(title) is not None:
        title = f"Copy of {sheet.title} {number}"
        number += 1
    target.check_cell_limit(sheet.row_count * sheet.column_count)
    clone = sheet.clone()
    clone.properties["sheetId"] = new_sheet_id({s.sheet_id for s in target.sheets})
    clone.properties["title"] = title
    clone.properties["index"] = len(target.sheets)
    clone.protected_ranges = []
    target.sheets.append(clone)
    target.touch()
    return copy.deepcopy(clone.properties)
