"""Cells and rows of an open workbook sheet: text as Excel can store it (storable characters, cut
to Excel's cell limit), cell values as the text staff see, styled header cells, rows read,
written and deleted."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time as clock_time, timedelta
from typing import Any

from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from daemon.register import RegisterSnapshot, map_header, rows_from_values
from daemon.register.archive import ColumnPlan
from daemon.register.layout_rules import (  # widths shared with the Google layout
    MIN_COLUMN_WIDTH,
    column_width,
    display_width,
)
from daemon.register.sheets_requests import delete_rows_requests
from daemon.sheet_layout import REGISTER_COLUMNS, Column

EXCEL_CELL_LIMIT = 32_767  # characters (UTF-16 units) Excel accepts in one cell
TRUNCATION_MARK = " …[truncated 已截断]"

# The look of the tabs; the Google sheet's `init` is meant to match it.
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
HEADER_ALIGNMENT = Alignment(vertical="center", wrap_text=True)
TEXT_FORMAT = "@"  # Excel keeps what staff type as text: phone numbers, times, references

# Characters XML 1.0 (and so .xlsx) cannot hold; what a tenant's mail may still contain.
UNSTORABLE_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def utf16_length(text: str) -> int:
    """Length as Excel counts it: characters beyond U+FFFF count twice."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def workbook_text(value: Any) -> str:
    """What goes into a cell: text, "" for None, storable characters only, cut to Excel's limit.

    ``"a\\x00b"`` -> ``"a\\ufffdb"``. Text longer than 32,767 characters ends with the mark
    `` …[truncated 已截断]``.
    """
    text = "" if value is None else str(value)
    text = UNSTORABLE_CHARACTERS.sub("\ufffd", text)
    if utf16_length(text) > EXCEL_CELL_LIMIT:
        budget = EXCEL_CELL_LIMIT - utf16_length(TRUNCATION_MARK)
        units = cut = 0
        while units + (2 if ord(text[cut]) > 0xFFFF else 1) <= budget:
            units += 2 if ord(text[cut]) > 0xFFFF else 1
            cut += 1
        text = text[:cut] + TRUNCATION_MARK
    return text


def display_text(value: Any) -> str:
    """A cell's value as the text staff see, like Google's FORMATTED_VALUE.

    Staff typing in Excel may turn text into numbers and dates: ``13800138000.0`` ->
    ``"13800138000"``, ``datetime(2025, 5, 14, 10, 42)`` -> ``"2025-05-14 10:42"``,
    ``True`` -> ``"TRUE"``, ``None`` -> ``""``.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime):
        if value.time() == clock_time(0):
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second else "%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, clock_time):
        return value.strftime("%H:%M:%S" if value.second else "%H:%M")
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def write_text(cell: Any, value: Any) -> None:
    """Put ``value`` in ``cell`` as a text cell, never a formula or an error code."""
    text = workbook_text(value)
    if not text:
        cell.value = None
        return
    cell.value = text
    cell.data_type = "s"  # openpyxl makes "=..." a formula and "#N/A" an error otherwise
    cell.number_format = TEXT_FORMAT


def header_values(sheet: Worksheet) -> list[str]:
    """The header row's cells as text."""
    if sheet.max_row < 1:
        return []
    return [display_text(cell.value) for cell in sheet[1]]


def last_used_row(sheet: Worksheet) -> int:
    """The last row holding any value (rows only formatted by staff do not count); 0 if none."""
    last = 0
    for row in sheet.iter_rows():
        for cell in row:
            if cell.value is not None and str(cell.value) != "":
                last = cell.row
                break
    return last


def sheet_rows(sheet: Worksheet, columns: Mapping[str, int]) -> RegisterSnapshot:
    """The data rows of an open sheet as ``RegisterRow``s (header excluded, blank rows skipped)."""
    values = [[display_text(value) for value in row]
              for row in sheet.iter_rows(min_row=2, values_only=True)]
    return rows_from_values(values, columns)


def write_header(sheet: Worksheet, index: int, column: Column, *, text_column: bool) -> None:
    """Header of ``column`` at 0-based ``index``: bold, shaded, its width; text format below."""
    cell = sheet.cell(row=1, column=index + 1)
    write_text(cell, column.header)
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.alignment = HEADER_ALIGNMENT
    dimension = sheet.column_dimensions[get_column_letter(index + 1)]
    dimension.width = column_width(column)
    if text_column:
        dimension.number_format = TEXT_FORMAT


def place_row(
    sheet: Worksheet, row_number: int, values: Mapping[str, Any], columns: Mapping[str, int]
) -> None:
    for key, value in values.items():
        write_text(sheet.cell(row=row_number, column=columns[key] + 1), value)


def row_cells(sheet: Worksheet, row_number: int) -> list[str]:
    """The cells of one row as text, from column A (a staff formula as its text)."""
    return [display_text(cell.value) for cell in sheet[row_number]]


def write_cells(sheet: Worksheet, row_number: int, cells: Sequence[str]) -> None:
    """Put ``cells`` in row ``row_number`` from column A, each as a text cell."""
    for index, text in enumerate(cells):
        if text:
            write_text(sheet.cell(row=row_number, column=index + 1), text)


def write_added_headers(sheet: Worksheet, plan: ColumnPlan) -> None:
    """The header cells ``plan`` adds, styled like the Register's; text format below them."""
    for index, text in plan.added:
        cell = sheet.cell(row=1, column=index + 1)
        write_text(cell, text)
        if not text:
            continue
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, HEADER_ALIGNMENT
        known = map_header([text], REGISTER_COLUMNS)
        column = next((c for c in REGISTER_COLUMNS if c.key in known), None)
        dimension = sheet.column_dimensions[get_column_letter(index + 1)]
        dimension.width = column_width(column) if column else max(display_width(text) + 2,
                                                                  MIN_COLUMN_WIDTH)
        dimension.number_format = TEXT_FORMAT


def delete_rows(sheet: Worksheet, row_numbers: Iterable[int]) -> None:
    """Delete the given rows, adjacent ones together, from the bottom up."""
    for request in delete_rows_requests(0, list(row_numbers)):
        span = request["deleteDimension"]["range"]
        sheet.delete_rows(span["startIndex"] + 1, span["endIndex"] - span["startIndex"])
