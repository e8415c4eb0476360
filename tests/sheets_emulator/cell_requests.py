"""batchUpdate requests that change cells: updateCells, repeatCell, appendCells,
setDataValidation, sortRange, mergeCells, unmergeCells and conditional format rules.

Cell fields written through a ``fields`` mask: ``userEnteredValue``,
``userEnteredFormat`` (colours normalised and mirrored), ``note`` and
``dataValidation``. Other writable CellData fields answer 501.
"""

from __future__ import annotations

import copy
from typing import Any

from .batch_common import Batch, stored_range
from .errors import CELL_TOO_LONG, invalid_argument, not_implemented
from .evaluation import BookEvaluator
from .field_mask import Mask, MaskError, apply_update, parse_mask
from .formats import strip_nulls, sync_colors
from .formula import Err
from .protection import check_edit
from .store import Sheet

WRITABLE = {"userEnteredValue", "userEnteredFormat", "note", "dataValidation"}
READ_ONLY = {"effectiveValue", "formattedValue", "effectiveFormat", "hyperlink"}
MAX_CELL_CHARS = 50_000


def cell_mask(batch: Batch, fields: str | None) -> Mask:
    if not fields:
        raise batch.fail("At least one field must be specified.")
    try:
        mask = parse_mask(fields)
    except MaskError:
        raise batch.fail(f"Invalid field mask: {fields}") from None
    for key in mask:
        if key == "*" or key in WRITABLE or key in READ_ONLY:
            continue
        if key in ("textFormatRuns", "pivotTable", "dataSourceTable", "dataSourceFormula", "chipRuns"):
            raise not_implemented(f"{batch.kind} of CellData.{key}")
        raise batch.fail(f"Invalid field mask path: {key}")
    return mask


def _check_value(batch: Batch, value: dict[str, Any] | None) -> None:
    for key in ("stringValue", "formulaValue"):
        if value and isinstance(value.get(key), str) and len(value[key]) > MAX_CELL_CHARS:
            raise invalid_argument(CELL_TOO_LONG)
    if value and len([k for k in value if value[k] is not None]) > 1:
        raise batch.fail("Only one kind of ExtendedValue may be set.")


def merged_cell(batch: Batch, old: dict[str, Any] | None, new: dict[str, Any], mask: Mask) -> dict[str, Any]:
    """The stored cell after applying ``new`` through ``mask``."""
    new = strip_nulls(new or {})
    _check_value(batch, new.get("userEnteredValue"))
    if "*" in mask:
        mask = {key: None for key in WRITABLE}
    mask = {k: v for k, v in mask.items() if k not in READ_ONLY}
    cell = apply_update(old or {}, new, mask)
    value = cell.get("userEnteredValue")
    if value is not None:
        if "numberValue" in value:
            cell["userEnteredValue"] = {"numberValue": float(value["numberValue"])}
        elif not value:
            cell.pop("userEnteredValue")
    if cell.get("userEnteredFormat") is not None:
        fmt = sync_colors(cell["userEnteredFormat"], new.get("userEnteredFormat") or {})
        if fmt:
            cell["userEnteredFormat"] = fmt
        else:
            cell.pop("userEnteredFormat")
    if cell.get("note") == "":
        cell.pop("note")
    return cell


def update_cells(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    mask = cell_mask(batch, req.get("fields"))
    rows = req.get("rows") or []
    if req.get("range") is not None:
        sheet, r0, c0, r1, c1 = batch.bounds(req["range"])
    elif req.get("start") is not None:
        start = req["start"]
        height = len(rows)
        width = max((len(r.get("values") or []) for r in rows), default=0)
        rng = {
            "sheetId": start.get("sheetId", 0),
            "startRowIndex": start.get("rowIndex") or 0,
            "startColumnIndex": start.get("columnIndex") or 0,
            "endRowIndex": (start.get("rowIndex") or 0) + height,
            "endColumnIndex": (start.get("columnIndex") or 0) + width,
        }
        sheet, r0, c0, r1, c1 = batch.bounds(rng)
        if r0 + height > sheet.row_count or c0 + width > sheet.column_count:
            raise batch.fail(
                f"Range ({sheet.title}) is too small for the data: the grid has {sheet.row_count} rows "
                f"and {sheet.column_count} columns."
            )
    else:
        raise batch.fail("One of start or range must be set.")
    check_edit(batch.book, sheet, (r0, c0, r1, c1), batch.user, batch.prefix)
    covered = set()
    for i, row in enumerate(rows):
        for j, new in enumerate((row or {}).get("values") or []):
            r, c = r0 + i, c0 + j
            if r >= r1 or c >= c1:
                continue
            covered.add((r, c))
            sheet.set_cell(r, c, merged_cell(batch, sheet.get_cell(r, c), new or {}, mask))
    if req.get("range") is not None:
        for r in [r for r in sheet.cells if r0 <= r < r1]:
            for c in [c for c in sheet.cells[r] if c0 <= c < c1]:
                if (r, c) not in covered:
                    sheet.set_cell(r, c, merged_cell(batch, sheet.get_cell(r, c), {}, mask))
    return {}


def repeat_cell(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    mask = cell_mask(batch, req.get("fields"))
    sheet, r0, c0, r1, c1 = batch.bounds(req.get("range"))
    check_edit(batch.book, sheet, (r0, c0, r1, c1), batch.user, batch.prefix)
    new = strip_nulls(req.get("cell") or {})
    if not any(new.get(k) is not None for k in WRITABLE):
        for r in [r for r in sheet.cells if r0 <= r < r1]:  # only clearing: existing cells suffice
            for c in [c for c in sheet.cells[r] if c0 <= c < c1]:
                sheet.set_cell(r, c, merged_cell(batch, sheet.get_cell(r, c), new, mask))
        return {}
    for r in range(r0, r1):
        for c in range(c0, c1):
            sheet.set_cell(r, c, merged_cell(batch, sheet.get_cell(r, c), new, mask))
    return {}


def append_cells(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    from .dimensions import grow_grid

    mask = cell_mask(batch, req.get("fields"))
    sheet = batch.sheet(req.get("sheetId"))
    rows = req.get("rows") or []
    start = max(sheet.cells, default=-1) + 1
    width = max((len(r.get("values") or []) for r in rows), default=0)
    grow_grid(
        batch.book, sheet, max(0, start + len(rows) - sheet.row_count), max(0, width - sheet.column_count)
    )
    for i, row in enumerate(rows):
        for j, new in enumerate(row.get("values") or []):
            sheet.set_cell(start + i, j, merged_cell(batch, sheet.get_cell(start + i, j), new or {}, mask))
    return {}


def set_data_validation(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, r0, c0, r1, c1 = batch.bounds(req.get("range"))
    rule = strip_nulls(req.get("rule")) if req.get("rule") else None
    if rule is not None and not (rule.get("condition") or {}).get("type"):
        raise batch.fail("rule.condition.type is required.")
    if rule is not None:
        # proto3 JSON: Google's answers leave out false booleans and empty strings.
        rule = {k: v for k, v in rule.items() if v is not False and v != ""}
    for r in range(r0, r1):
        for c in range(c0, c1):
            cell = dict(sheet.get_cell(r, c) or {})
            if rule is None:
                cell.pop("dataValidation", None)
            else:
                cell["dataValidation"] = copy.deepcopy(rule)
            sheet.set_cell(r, c, cell)
    return {}


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, float):
        return (0, value)
    if isinstance(value, Err):
        return (3, value.text)
    return (1, str(value).lower())


def sort_range(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, r0, c0, r1, c1 = batch.bounds(req.get("range"))
    check_edit(batch.book, sheet, (r0, c0, r1, c1), batch.user, batch.prefix)
    specs = req.get("sortSpecs") or []
    evaluator = BookEvaluator(batch.book)
    rows = list(range(r0, r1))
    for spec in reversed(specs):
        col = spec.get("dimensionIndex")
        if col is None:
            raise not_implemented("sortRange by data source column")
        descending = spec.get("sortOrder") == "DESCENDING"
        keyed = [(evaluator.effective(sheet, r, col)[0], r) for r in rows]
        filled = [(v, r) for v, r in keyed if v is not None and v != ""]
        blanks = [r for v, r in keyed if v is None or v == ""]
        filled.sort(key=lambda item: _sort_key(item[0]), reverse=descending)
        rows = [r for _, r in filled] + blanks
    snapshot = {r: {c: sheet.get_cell(r, c) for c in range(c0, c1)} for r in rows}
    for target, source in zip(range(r0, r1), rows):
        for c in range(c0, c1):
            sheet.set_cell(target, c, snapshot[source][c])
    return {}


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (
        a["startRowIndex"] < b["endRowIndex"]
        and b["startRowIndex"] < a["endRowIndex"]
        and a["startColumnIndex"] < b["endColumnIndex"]
        and b["startColumnIndex"] < a["endColumnIndex"]
    )


def _inside(inner: dict[str, Any], outer: dict[str, Any]) -> bool:
    return (
        inner["startRowIndex"] >= outer["startRowIndex"]
        and inner["endRowIndex"] <= outer["endRowIndex"]
        and inner["startColumnIndex"] >= outer["startColumnIndex"]
        and inner["endColumnIndex"] <= outer["endColumnIndex"]
    )


def merge_cells(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, r0, c0, r1, c1 = batch.bounds(req.get("range"))
    merge_type = req.get("mergeType") or "MERGE_ALL"
    whole = {"startRowIndex": r0, "endRowIndex": r1, "startColumnIndex": c0, "endColumnIndex": c1}
    if merge_type == "MERGE_ALL":
        blocks = [whole]
    elif merge_type == "MERGE_COLUMNS":
        blocks = [{**whole, "startColumnIndex": c, "endColumnIndex": c + 1} for c in range(c0, c1)]
    elif merge_type == "MERGE_ROWS":
        blocks = [{**whole, "startRowIndex": r, "endRowIndex": r + 1} for r in range(r0, r1)]
    else:
        raise batch.fail(f"Unknown mergeType: {merge_type}")
    blocks = [
        b
        for b in blocks
        if (b["endRowIndex"] - b["startRowIndex"]) * (b["endColumnIndex"] - b["startColumnIndex"]) > 1
    ]
    for existing in sheet.merges:
        if _overlap(existing, whole) and not _inside(existing, whole):
            raise batch.fail("You can't merge cells that partially overlap with an existing merge.")
    sheet.merges = [m for m in sheet.merges if not _overlap(m, whole)]
    for block in blocks:
        for r in range(block["startRowIndex"], block["endRowIndex"]):
            for c in range(block["startColumnIndex"], block["endColumnIndex"]):
                if (r, c) != (block["startRowIndex"], block["startColumnIndex"]):
                    cell = sheet.get_cell(r, c) or {}
                    sheet.set_cell(r, c, {k: v for k, v in cell.items() if k != "userEnteredValue"})
        sheet.merges.append(block)
    return {}


def unmerge_cells(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, r0, c0, r1, c1 = batch.bounds(req.get("range"))
    whole = {"startRowIndex": r0, "endRowIndex": r1, "startColumnIndex": c0, "endColumnIndex": c1}
    sheet.merges = [m for m in sheet.merges if not _overlap(m, whole)]
    return {}


def _rule_sheet(batch: Batch, rule: dict[str, Any]) -> tuple[Sheet, dict[str, Any]]:
    ranges = rule.get("ranges") or []
    if not ranges:
        raise batch.fail("rule.ranges must not be empty.")
    sheet_ids = {r.get("sheetId", 0) or 0 for r in ranges}
    if len(sheet_ids) > 1:
        raise batch.fail("All ranges of a conditional format rule must be on the same sheet.")
    if not rule.get("booleanRule") and not rule.get("gradientRule"):
        raise batch.fail("rule must have a booleanRule or a gradientRule.")
    sheet = batch.sheet(ranges[0].get("sheetId"))
    for rng in ranges:
        batch.bounds(rng)
    stored = strip_nulls(copy.deepcopy(rule))
    stored["ranges"] = [stored_range(r, sheet) for r in ranges]
    boolean = stored.get("booleanRule") or {}
    if isinstance(boolean.get("format"), dict):
        # Colours as in cell formats: 8 bits a channel, each Color mirrored by its ColorStyle.
        source = (rule.get("booleanRule") or {}).get("format") or {}
        boolean["format"] = sync_colors(boolean["format"], strip_nulls(source))
    return sheet, stored


def add_conditional_format_rule(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet, rule = _rule_sheet(batch, req.get("rule") or {})
    index = req.get("index") or 0
    if index > len(sheet.conditional_formats):
        raise batch.fail(f"Invalid index {index}: the sheet has {len(sheet.conditional_formats)} rules.")
    sheet.conditional_formats.insert(index, rule)
    return {}


def _rule_out(sheet: Sheet, rule: dict[str, Any]) -> dict[str, Any]:
    from .spreadsheet_view import grid_range_out

    return {**copy.deepcopy(rule), "ranges": [grid_range_out(r, sheet.sheet_id) for r in rule["ranges"]]}


def update_conditional_format_rule(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet = batch.sheet(
        req.get("sheetId")
        if req.get("rule") is None
        else ((req["rule"].get("ranges") or [{}])[0].get("sheetId"))
    )
    index = req.get("index") or 0
    if index >= len(sheet.conditional_formats):
        raise batch.fail(f"No conditional format rule at index {index}.")
    old = sheet.conditional_formats[index]
    if req.get("rule") is not None:
        _, new = _rule_sheet(batch, req["rule"])
        sheet.conditional_formats[index] = new
        new_index = index
    else:
        new_index = req.get("newIndex") or 0
        sheet.conditional_formats.insert(new_index, sheet.conditional_formats.pop(index))
        new = old
    reply = {"newRule": _rule_out(sheet, new), "oldRule": _rule_out(sheet, old)}
    if new_index:
        reply["newIndex"] = new_index
    if index:
        reply["oldIndex"] = index
    return {"updateConditionalFormatRule": reply}


def delete_conditional_format_rule(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    sheet = batch.sheet(req.get("sheetId"))
    index = req.get("index") or 0
    if index >= len(sheet.conditional_formats):
        raise batch.fail(f"No conditional format rule at index {index}.")
    rule = sheet.conditional_formats.pop(index)
    return {"deleteConditionalFormatRule": {"rule": _rule_out(sheet, rule)}}


def auto_resize_dimensions(batch: Batch, req: dict[str, Any]) -> dict[str, Any]:
    """Fit columns/rows to their content. Sheets measures rendered text; the emulator
    approximates: 7 px per character plus 10 px padding per column, 21 px per text line
    per row (empty columns/rows keep their size)."""
    from .evaluation import render_cell

    if req.get("dataSourceSheetDimensions"):
        raise not_implemented("autoResizeDimensions on data source sheets")
    sheet, dim, start, end = batch.dimension_bounds(req.get("dimensions"))
    evaluator = BookEvaluator(batch.book)
    texts: dict[int, list[str]] = {}
    for row in sheet.cells:
        for col in sheet.cells[row]:
            index = col if dim == "COLUMNS" else row
            if start <= index < end:
                value = render_cell(evaluator, sheet, row, col)
                if value not in (None, ""):
                    texts.setdefault(index, []).append(str(value))
    meta = sheet.col_meta if dim == "COLUMNS" else sheet.row_meta
    for index, values in texts.items():
        if dim == "COLUMNS":
            size = max(len(line) for text in values for line in text.split("\n")) * 7 + 10
        else:
            size = max(text.count("\n") + 1 for text in values) * 21
        meta[index] = {**meta.get(index, {}), "pixelSize": size}
    return {}
