"""Sheets v4 ``spreadsheets.batchUpdate``: dispatch, all-or-nothing, sheet-level requests.

Requests run in order against the spreadsheet; if one fails, the spreadsheet is put
back as it was and the error names the request (``Invalid requests[2].addSheet: ...``).
Each reply is ``{}`` or ``{"<kind>": {...}}`` as Google shapes it. Request kinds the
emulator does not implement answer 501; kinds the API does not know answer 400.
"""

from __future__ import annotations

import copy
import random
import re
from typing import Any, Callable

from . import cell_requests as cells
from . import charts
from .batch_common import Batch, full_range, stored_range
from .call import Call
from .dimensions import delete_dimension, grow_grid, insert_dimension
from .errors import invalid_argument, not_implemented
from .field_mask import MaskError, apply_update, parse_mask
from .formats import strip_nulls, sync_colors
from .formula import rename_sheet_references
from .protection import check_edit
from .spreadsheet_view import grid_range_out, named_range_out, spreadsheet_out
from .store import Sheet, new_grid_sheet, new_sheet_id

ALL_KINDS = {
    "addBanding",
    "addChart",
    "addCommentReply",
    "addConditionalFormatRule",
    "addDataSource",
    "addDimensionGroup",
    "addFilterView",
    "addNamedRange",
    "addProtectedRange",
    "addSheet",
    "addSlicer",
    "addTable",
    "appendCells",
    "appendDimension",
    "autoFill",
    "autoResizeDimensions",
    "cancelDataSourceRefresh",
    "clearBasicFilter",
    "copyPaste",
    "createDeveloperMetadata",
    "cutPaste",
    "deleteBanding",
    "deleteComment",
    "deleteCommentReply",
    "deleteConditionalFormatRule",
    "deleteDataSource",
    "deleteDeveloperMetadata",
    "deleteDimension",
    "deleteDimensionGroup",
    "deleteDuplicates",
    "deleteEmbeddedObject",
    "deleteFilterView",
    "deleteNamedRange",
    "deleteProtectedRange",
    "deleteRange",
    "deleteSheet",
    "deleteTable",
    "duplicateFilterView",
    "duplicateSheet",
    "findReplace",
    "insertComment",
    "insertDimension",
    "insertRange",
    "mergeCells",
    "moveDimension",
    "pasteData",
    "randomizeRange",
    "refreshDataSource",
    "repeatCell",
    "setBasicFilter",
    "setDataValidation",
    "sortRange",
    "textToColumns",
    "trimWhitespace",
    "unmergeCells",
    "updateBanding",
    "updateBorders",
    "updateCells",
    "updateChartSpec",
    "updateCommentPost",
    "updateConditionalFormatRule",
    "updateDataSource",
    "updateDeveloperMetadata",
    "updateDimensionGroup",
    "updateDimensionProperties",
    "updateEmbeddedObjectBorder",
    "updateEmbeddedObjectPosition",
    "updateFilterView",
    "updateNamedRange",
    "updateProtectedRange",
    "updateSheetProperties",
    "updateSlicerSpec",
    "updateSpreadsheetProperties",
    "updateTable",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_CELL_LIKE = re.compile(r"^([A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*)$")


def _mask(batch: Batch, fields: Any) -> dict[str, Any]:
    if not fields:
        raise batch.fail("At least one field must be specified.")
    try:
        return parse_mask(fields)
    except MaskError:
        raise batch.fail(f"Invalid field mask: {fields}") from None


# -- sheets ---------------------------------------------------------------------------
def _check_title(batch: Batch, title: str, ignore: Sheet | None = None) -> None:
    if not title or not title.strip():
        raise batch.fail("Sheet names must not be empty.")
    for sheet in batch.book.sheets:
        if sheet is not ignore and sheet.title.lower() == title.lower():
            raise batch.fail(f'A sheet with the name "{title}" already exists. Please enter another name.')


def _default_title(batch: Batch) -> str:
    number = len(batch.book.sheets) + 1
    while batch.book.sheet_by_title(f"Sheet{number}") is not None:
        number += 1
    return f"Sheet{number}"


def _place(batch: Batch, sheet: Sheet, index: int | None) -> None:
    others = sorted(batch.book.sheets, key=lambda s: s.properties["index"])
    index = len(others) if index is None else max(0, min(index, len(others)))
    others.insert(index, sheet)
    for position, item in enumerate(others):
        item.properties["index"] = position
    batch.book.sheets = others


def add_sheet(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    props = strip_nulls(copy.deepcopy((req.get("properties") or {})))
    taken = {s.sheet_id for s in batch.book.sheets}
    sheet_id = props.get("sheetId")
    if sheet_id is not None and sheet_id in taken:
        raise batch.fail(f"Sheet with id {sheet_id} already exists.")
    if sheet_id is None:
        sheet_id = new_sheet_id(taken)
    title = props.get("title") or _default_title(batch)
    _check_title(batch, title)
    if props.get("sheetType", "GRID") != "GRID":
        raise not_implemented(f"addSheet of sheetType {props['sheetType']}")
    grid = props.get("gridProperties") or {}
    rows, cols = grid.get("rowCount", 1000), grid.get("columnCount", 26)
    if rows < 1 or cols < 1:
        raise batch.fail("A sheet must have at least one row and one column.")
    batch.book.check_cell_limit(rows * cols)
    sheet = new_grid_sheet(sheet_id, title, 0, rows, cols)
    for key in (
        "frozenRowCount",
        "frozenColumnCount",
        "hideGridlines",
        "rowGroupControlAfter",
        "columnGroupControlAfter",
    ):
        if key in grid:
            sheet.grid[key] = grid[key]
    for key in ("hidden", "tabColor", "tabColorStyle", "rightToLeft"):
        if key in props:
            sheet.properties[key] = props[key]
    sync_colors(sheet.properties, props)
    _place(batch, sheet, props.get("index"))
    return {"addSheet": {"properties": copy.deepcopy(sheet.properties)}}


def delete_sheet(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet = batch.sheet(req.get("sheetId"))
    if len(batch.book.sheets) == 1:
        raise batch.fail("You can't remove all the sheets in a document.")
    if not any(not s.properties.get("hidden") for s in batch.book.sheets if s is not sheet):
        raise batch.fail("You can't remove all the visible sheets in a document.")
    batch.book.sheets.remove(sheet)
    batch.book.named_ranges = [
        n for n in batch.book.named_ranges if n["range"].get("sheetId", 0) != sheet.sheet_id
    ]
    batch.book.reindex()
    return {}


def duplicate_sheet(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    source = batch.sheet(req.get("sourceSheetId"))
    taken = {s.sheet_id for s in batch.book.sheets}
    new_id = req.get("newSheetId")
    if new_id is not None and new_id in taken:
        raise batch.fail(f"Sheet with id {new_id} already exists.")
    title = req.get("newSheetName") or f"Copy of {source.title}"
    _check_title(batch, title)
    batch.book.check_cell_limit(source.row_count * source.column_count)
    sheet = source.clone()
    sheet.properties["sheetId"] = new_id if new_id is not None else new_sheet_id(taken)
    sheet.properties["title"] = title
    _place(batch, sheet, req.get("insertSheetIndex"))
    return {"duplicateSheet": {"properties": copy.deepcopy(sheet.properties)}}


def update_sheet_properties(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    props = req.get("properties") or {}
    sheet = batch.sheet(props.get("sheetId"))
    mask = _mask(batch, req.get("fields"))
    old = sheet.properties
    new = apply_update(old, props, mask)
    new["sheetId"] = old["sheetId"]
    new["sheetType"] = old.get("sheetType", "GRID")
    new.setdefault("title", old["title"])
    sync_colors(new, props)
    if new["title"] != old["title"]:
        _check_title(batch, new["title"], ignore=sheet)
    if new.get("hidden") and not old.get("hidden"):
        if not any(not s.properties.get("hidden") for s in batch.book.sheets if s is not sheet):
            raise batch.fail("You can't hide all the sheets in a document.")
    if not new.get("hidden"):
        new.pop("hidden", None)
    grid = new.setdefault("gridProperties", {})
    rows, cols = grid.get("rowCount", 0), grid.get("columnCount", 0)
    if rows < 1 or cols < 1:
        raise batch.fail("A sheet must have at least one row and one column.")
    batch.book.check_cell_limit(rows * cols - sheet.row_count * sheet.column_count)
    for key in ("frozenRowCount", "frozenColumnCount"):
        if not grid.get(key):
            grid.pop(key, None)
    if grid.get("frozenRowCount", 0) > rows or grid.get("frozenColumnCount", 0) > cols:
        raise batch.fail("Cannot freeze more rows or columns than the sheet has.")
    if rows < sheet.row_count or cols < sheet.column_count:
        _trim(sheet, rows, cols)
    index = new.get("index", old["index"])
    sheet.properties = new
    if new["title"] != old["title"]:
        _rename_references(batch, old["title"], new["title"])
    if index != old["index"]:
        batch.book.sheets.remove(sheet)
        _place(batch, sheet, index)
    return {}


def _trim(sheet: Sheet, rows: int, cols: int) -> None:
    """Shrinking a grid drops what lies outside it."""
    sheet.cells = {
        r: kept
        for r, row in sheet.cells.items()
        if r < rows and (kept := {c: v for c, v in row.items() if c < cols})
    }
    sheet.row_meta = {k: v for k, v in sheet.row_meta.items() if k < rows}
    sheet.col_meta = {k: v for k, v in sheet.col_meta.items() if k < cols}


def _rename_references(batch: Batch, old: str, new: str) -> None:
    for sheet in batch.book.sheets:
        for row, col, cell in list(sheet.iter_cells()):
            text = (cell.get("userEnteredValue") or {}).get("formulaValue")
            if text:
                updated = rename_sheet_references(text, old, new)
                if updated != text:
                    sheet.set_cell(row, col, {**cell, "userEnteredValue": {"formulaValue": updated}})


def update_spreadsheet_properties(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    mask = _mask(batch, req.get("fields"))
    props = req.get("properties") or {}
    new = apply_update(batch.book.properties, props, mask)
    if not new.get("title"):
        raise batch.fail("The spreadsheet title must not be empty.")
    for key in ("locale", "timeZone", "autoRecalc", "defaultFormat", "spreadsheetTheme"):
        new.setdefault(key, batch.book.properties.get(key))
    batch.book.properties = new
    return {}


# -- rows and columns -------------------------------------------------------------------
def insert_dimension_request(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, dim, start, end = batch.dimension_bounds(req.get("range"))
    total = sheet.row_count if dim == "ROWS" else sheet.column_count
    if start > total:
        raise batch.fail(f"Cannot insert at index {start}: the sheet has {total} {dim.lower()}.")
    if req.get("inheritFromBefore") and start == 0:
        raise batch.fail("Cannot inherit properties from before when inserting at index 0.")
    if end > start:
        insert_dimension(batch.book, sheet, dim, start, end, bool(req.get("inheritFromBefore")))
    return {}


def delete_dimension_request(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, dim, start, end = batch.dimension_bounds(req.get("range"))
    total = sheet.row_count if dim == "ROWS" else sheet.column_count
    if start >= total and end > start:
        rng = {"sheetId": sheet.sheet_id}
        rng.update(
            {"startRowIndex": start, "endRowIndex": end}
            if dim == "ROWS"
            else {"startColumnIndex": start, "endColumnIndex": end}
        )
        batch.bounds(rng)
    bounds = (start, 0, end, sheet.column_count) if dim == "ROWS" else (0, start, sheet.row_count, end)
    check_edit(batch.book, sheet, bounds, batch.user, batch.prefix)
    try:
        delete_dimension(batch.book, sheet, dim, start, end)
    except Exception as error:  # noqa: BLE001 - re-raised with the request's name
        if hasattr(error, "message"):
            error.message = batch.prefix + error.message  # type: ignore[attr-defined]
        raise
    return {}


def append_dimension(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet = batch.sheet(req.get("sheetId"))
    length = req.get("length") or 0
    if length < 1:
        raise batch.fail("length must be at least 1.")
    dim = req.get("dimension")
    if dim == "ROWS":
        grow_grid(batch.book, sheet, length, 0)
    elif dim == "COLUMNS":
        grow_grid(batch.book, sheet, 0, length)
    else:
        raise batch.fail("dimension must be ROWS or COLUMNS.")
    return {}


def update_dimension_properties(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    if req.get("dataSourceSheetRange"):
        raise not_implemented("updateDimensionProperties on data source sheets")
    sheet, dim, start, end = batch.dimension_bounds(req.get("range"))
    mask = _mask(batch, req.get("fields"))
    props = strip_nulls(req.get("properties") or {})
    meta = sheet.row_meta if dim == "ROWS" else sheet.col_meta
    total = sheet.row_count if dim == "ROWS" else sheet.column_count
    for index in range(start, min(end, total)):
        updated = apply_update(meta.get(index, {}), props, mask)
        if not updated.get("hiddenByUser"):
            updated.pop("hiddenByUser", None)
        if updated:
            meta[index] = updated
        else:
            meta.pop(index, None)
    return {}


# -- groups ----------------------------------------------------------------------------
def _groups(sheet: Sheet, dim: str) -> list[dict[str, Any]]:
    return sheet.row_groups if dim == "ROWS" else sheet.column_groups


def _groups_out(sheet: Sheet, dim: str) -> list[dict[str, Any]]:
    out = []
    for group in _groups(sheet, dim):
        rng = {"sheetId": sheet.sheet_id} if sheet.sheet_id else {}
        rng.update(
            {
                "dimension": dim,
                "startIndex": group["range"]["startIndex"],
                "endIndex": group["range"]["endIndex"],
            }
        )
        item = {"range": rng, "depth": group["depth"]}
        if group.get("collapsed"):
            item["collapsed"] = True
        out.append(item)
    return out


def add_dimension_group(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, dim, start, end = batch.dimension_bounds(req.get("range"))
    groups = _groups(sheet, dim)
    depth = 1 + sum(1 for g in groups if g["range"]["startIndex"] <= start and g["range"]["endIndex"] >= end)
    groups.append({"range": {"dimension": dim, "startIndex": start, "endIndex": end}, "depth": depth})
    groups.sort(key=lambda g: (g["depth"], g["range"]["startIndex"]))
    sheet.grid.setdefault("rowGroupControlAfter" if dim == "ROWS" else "columnGroupControlAfter", True)
    return {"addDimensionGroup": {"dimensionGroups": _groups_out(sheet, dim)}}


def delete_dimension_group(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, dim, start, end = batch.dimension_bounds(req.get("range"))
    groups = _groups(sheet, dim)
    matching = [g for g in groups if g["range"]["startIndex"] == start and g["range"]["endIndex"] == end]
    if not matching:
        raise batch.fail("No dimension group found over the given range.")
    groups.remove(max(matching, key=lambda g: g["depth"]))
    remaining = _groups_out(sheet, dim)
    return {"deleteDimensionGroup": {"dimensionGroups": remaining} if remaining else {}}


def update_dimension_group(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    group = req.get("dimensionGroup") or {}
    sheet, dim, start, end = batch.dimension_bounds(group.get("range"))
    for existing in _groups(sheet, dim):
        rng = existing["range"]
        if (rng["startIndex"], rng["endIndex"], existing["depth"]) == (start, end, group.get("depth", 1)):
            updated = apply_update(existing, group, _mask(batch, req.get("fields")))
            existing["collapsed"] = bool(updated.get("collapsed"))
            return {}
    raise batch.fail("No dimension group found over the given range.")


# -- named and protected ranges, filters ------------------------------------------------------
def _named_range_name(batch: Batch, name: Any, ignore: dict[str, Any] | None = None) -> str:
    if (
        not isinstance(name, str)
        or not _NAME.match(name)
        or _CELL_LIKE.match(name)
        or name.upper() in ("TRUE", "FALSE")
    ):
        raise batch.fail(f"Invalid name: {name}")
    for other in batch.book.named_ranges:
        if other is not ignore and other["name"].lower() == name.lower():
            raise batch.fail(f"Named range with name {name} already exists.")
    return name


def add_named_range(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    named = req.get("namedRange") or {}
    name = _named_range_name(batch, named.get("name"))
    sheet, *_ = batch.bounds(named.get("range"))
    range_id = named.get("namedRangeId") or str(random.randrange(10_000_000, 2_147_483_647))
    if any(n["namedRangeId"] == range_id for n in batch.book.named_ranges):
        raise batch.fail(f"Named range with id {range_id} already exists.")
    stored = {
        "namedRangeId": range_id,
        "name": name,
        "range": {"sheetId": sheet.sheet_id, **stored_range(named["range"], sheet)},
    }
    batch.book.named_ranges.append(stored)
    return {"addNamedRange": {"namedRange": named_range_out(batch.book, stored)}}


def _find_named(batch: Batch, range_id: Any) -> dict[str, Any]:
    for named in batch.book.named_ranges:
        if named["namedRangeId"] == range_id:
            return named
    raise batch.fail(f"No named range with id: {range_id}")


def update_named_range(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    named_req = req.get("namedRange") or {}
    named = _find_named(batch, named_req.get("namedRangeId"))
    updated = apply_update(named, named_req, _mask(batch, req.get("fields")))
    if updated.get("name") != named["name"]:
        _named_range_name(batch, updated.get("name"), ignore=named)
    if updated.get("range") != named["range"]:
        sheet, *_ = batch.bounds(updated.get("range"))
        updated["range"] = {"sheetId": sheet.sheet_id, **stored_range(updated["range"], sheet)}
    named.clear()
    named.update(updated)
    return {}


def delete_named_range(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    named = _find_named(batch, req.get("namedRangeId"))
    batch.book.named_ranges.remove(named)
    return {}


def _protected_sheet(batch: Batch, item: dict[str, Any]) -> tuple[Sheet, dict[str, Any]]:
    if item.get("namedRangeId"):
        named = _find_named(batch, item["namedRangeId"])
        rng = named["range"]
    elif item.get("range") is not None:
        rng = item["range"]
    else:
        raise batch.fail("A protected range needs a range or a namedRangeId.")
    sheet, *_ = batch.bounds(rng)
    return sheet, stored_range(rng, sheet)


def add_protected_range(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    item = strip_nulls(copy.deepcopy(req.get("protectedRange") or {}))
    sheet, rng = _protected_sheet(batch, item)
    range_id = item.get("protectedRangeId") or random.randrange(10_000_000, 2_147_483_647)
    requested = {k: v for k, v in (item.get("editors") or {}).items() if v}
    stored: dict[str, Any] = {"protectedRangeId": range_id, "range": rng}
    for key in ("namedRangeId", "description", "warningOnly", "unprotectedRanges"):
        if item.get(key):
            stored[key] = (
                item[key] if key != "unprotectedRanges" else [stored_range(r, sheet) for r in item[key]]
            )
    stored["requestingUserCanEdit"] = True
    users = list(dict.fromkeys([*requested.get("users", []), batch.user]))
    stored["editors"] = {**requested, "users": users}
    sheet.protected_ranges.append(stored)
    reply = {k: v for k, v in stored.items() if k != "editors"}
    reply["range"] = grid_range_out(rng, sheet.sheet_id)
    reply["editors"] = requested
    return {"addProtectedRange": {"protectedRange": reply}}


def _find_protected(batch: Batch, range_id: Any) -> tuple[Sheet, dict[str, Any]]:
    for sheet in batch.book.sheets:
        for item in sheet.protected_ranges:
            if item["protectedRangeId"] == range_id:
                return sheet, item
    raise batch.fail(f"No protected range with id: {range_id}")


def delete_protected_range(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, item = _find_protected(batch, req.get("protectedRangeId"))
    sheet.protected_ranges.remove(item)
    return {}


def update_protected_range(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    change = req.get("protectedRange") or {}
    sheet, item = _find_protected(batch, change.get("protectedRangeId"))
    updated = apply_update(item, strip_nulls(change), _mask(batch, req.get("fields")))
    if updated.get("range") != item["range"]:
        _, updated["range"] = _protected_sheet(batch, updated)
    updated["protectedRangeId"] = item["protectedRangeId"]
    item.clear()
    item.update(updated)
    return {}


def set_basic_filter(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    flt = strip_nulls(copy.deepcopy((req.get("filter") or {})))
    sheet, *_ = batch.bounds(flt.get("range"))
    flt["range"] = full_range(sheet, flt.get("range") or {})
    sheet.basic_filter = flt
    return {}


def clear_basic_filter(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    batch.sheet(req.get("sheetId")).basic_filter = None
    return {}


HANDLERS: dict[str, Callable[[Batch, dict[str, Any]], dict[str, Any]]] = {
    "addSheet": add_sheet,
    "deleteSheet": delete_sheet,
    "duplicateSheet": duplicate_sheet,
    "updateSheetProperties": update_sheet_properties,
    "updateSpreadsheetProperties": update_spreadsheet_properties,
    "insertDimension": insert_dimension_request,
    "deleteDimension": delete_dimension_request,
    "appendDimension": append_dimension,
    "updateDimensionProperties": update_dimension_properties,
    "addDimensionGroup": add_dimension_group,
    "deleteDimensionGroup": delete_dimension_group,
    "updateDimensionGroup": update_dimension_group,
    "addNamedRange": add_named_range,
    "updateNamedRange": update_named_range,
    "deleteNamedRange": delete_named_range,
    "addProtectedRange": add_protected_range,
    "updateProtectedRange": update_protected_range,
    "deleteProtectedRange": delete_protected_range,
    "setBasicFilter": set_basic_filter,
    "clearBasicFilter": clear_basic_filter,
    "updateCells": cells.update_cells,
    "repeatCell": cells.repeat_cell,
    "appendCells": cells.append_cells,
    "setDataValidation": cells.set_data_validation,
    "sortRange": cells.sort_range,
    "mergeCells": cells.merge_cells,
    "unmergeCells": cells.unmerge_cells,
    "addConditionalFormatRule": cells.add_conditional_format_rule,
    "updateConditionalFormatRule": cells.update_conditional_format_rule,
    "deleteConditionalFormatRule": cells.delete_conditional_format_rule,
    "autoResizeDimensions": cells.auto_resize_dimensions,
    **charts.HANDLERS,  # addChart, updateChartSpec, deleteEmbeddedObject
}


def request_kind(index: int, request: Any) -> str:
    if not isinstance(request, dict):
        raise invalid_argument(f"Invalid requests[{index}]: a Request must be an object.")
    kinds = [k for k, v in request.items() if v is not None]
    for kind in kinds:
        if kind not in ALL_KINDS:
            raise invalid_argument(
                f"Invalid JSON payload received. Unknown name \"{kind}\" at 'requests[{index}]': "
                "Cannot find field."
            )
    if len(kinds) != 1:
        if not kinds:
            raise invalid_argument(f"Invalid requests[{index}]: No request set.")
        raise invalid_argument(
            f"Invalid JSON payload received. Oneof field 'kind' is already set. Cannot set '{kinds[1]}'"
        )
    return kinds[0]


def batch_update(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    body = call.body_dict()
    requests = body.get("requests") or []
    if not requests:
        raise invalid_argument("Must specify at least one request.")
    kinds = [request_kind(i, r) for i, r in enumerate(requests)]
    for index, kind in enumerate(kinds):
        if kind not in HANDLERS:
            raise not_implemented(f"batchUpdate request '{kind}' (requests[{index}])")
    snapshot = book.snapshot()
    batch = Batch(book, call.user)
    replies = []
    try:
        for index, (kind, request) in enumerate(zip(kinds, requests)):
            batch.index, batch.kind = index, kind
            replies.append(HANDLERS[kind](batch, request[kind] or {}))
    except BaseException:
        book.restore(snapshot)
        raise
    answer: dict[str, Any] = {"spreadsheetId": book.id, "replies": replies}
    if body.get("includeSpreadsheetInResponse"):
        ranges = None
        if body.get("responseRanges"):
            from .values import read_bounds

            ranges = [read_bounds(book, text) for text in body["responseRanges"]]
        answer["updatedSpreadsheet"] = spreadsheet_out(
            book, call.base_url, bool(body.get("responseIncludeGridData")), ranges
        )
    return answer
