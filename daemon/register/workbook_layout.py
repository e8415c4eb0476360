"""The layout of an open workbook: the Register and Activity tabs with every header, a frozen
header row, the status drop-down and highlights (status New, serious complaints); the
Departments tab from config.yaml; new workbooks and archive tabs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import openpyxl
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from daemon.register import map_header
from daemon.register.archive import find_tab
from daemon.register.departments import same_grid
from daemon.register.register_rows import used_width
from daemon.register.workbook_cells import display_text, header_values, write_cells, write_header
from daemon.sheet_layout import (
    ACTIVITY_COLUMNS,
    ACTIVITY_TAB,
    DEPARTMENT_COLUMNS,
    DEPARTMENTS_NOTE,
    DEPARTMENTS_TAB,
    REGISTER_COLUMNS,
    REGISTER_TAB,
    STATUS_LABELS,
    Column,
    Status,
)

TABS: tuple[tuple[str, tuple[Column, ...]], ...] = (
    (REGISTER_TAB, REGISTER_COLUMNS),
    (ACTIVITY_TAB, ACTIVITY_COLUMNS),
)

# The highlights' look; the Google sheet's `init` is meant to match it.
NEW_FILL = PatternFill(fill_type="solid", start_color="FFFFF2CC", end_color="FFFFF2CC")
SERIOUS_FILL = PatternFill(fill_type="solid", start_color="FFF8CBAD", end_color="FFF8CBAD")
LAST_ROW = 1_048_576  # Excel's last row: validations and highlights cover the whole column


def status_list_formula() -> str:
    """The drop-down's list: ``"New 新建,Dispatched 已派单,..."`` (Excel allows 255 characters)."""
    formula = '"' + ",".join(STATUS_LABELS[status] for status in Status) + '"'
    if len(formula) > 255:
        raise ValueError("the status labels are too long for an Excel drop-down list")
    return formula


def column_range(index: int) -> str:
    """Rows 2 to the end of the column at 0-based ``index``: ``1`` -> ``"B2:B1048576"``."""
    letter = get_column_letter(index + 1)
    return f"{letter}2:{letter}{LAST_ROW}"


def has_status_validation(sheet: Worksheet, index: int) -> bool:
    first_cell = f"{get_column_letter(index + 1)}2"
    formula = status_list_formula()
    return any(
        validation.type == "list" and validation.formula1 == formula
        and first_cell in validation.sqref
        for validation in sheet.data_validations.dataValidation
    )


def add_status_validation(sheet: Worksheet, index: int) -> None:
    """A drop-down of the bilingual status labels; other text only warns (staff may type "new")."""
    validation = DataValidation(
        type="list", formula1=status_list_formula(), allow_blank=True,
        showErrorMessage=True, errorStyle="warning",
        errorTitle="状态 Status", error="请从列表中选择状态。Please pick a status from the list.",
        showInputMessage=True, promptTitle="状态 Status",
        prompt="从列表中选择 Pick from the list",
    )
    validation.add(column_range(index))
    sheet.add_data_validation(validation)


def has_rule(sheet: Worksheet, index: int, formula: str) -> bool:
    first_cell = f"{get_column_letter(index + 1)}2"
    for formatting in sheet.conditional_formatting:
        if first_cell in formatting.sqref and any(
            list(rule.formula or []) == [formula] for rule in formatting.rules
        ):
            return True
    return False


def new_status_formula() -> str:
    return '"' + STATUS_LABELS[Status.NEW] + '"'


def serious_formula(index: int) -> str:
    return f'LEN(TRIM({get_column_letter(index + 1)}2))>0'


def add_highlights(sheet: Worksheet, columns: Mapping[str, int]) -> bool:
    """Status New shaded yellow, a filled Serious cell shaded red; True if one was added."""
    added = False
    status = columns.get("status")
    if status is not None and not has_rule(sheet, status, new_status_formula()):
        sheet.conditional_formatting.add(
            column_range(status),
            CellIsRule(operator="equal", formula=[new_status_formula()], fill=NEW_FILL),
        )
        added = True
    serious = columns.get("serious")
    if serious is not None and not has_rule(sheet, serious, serious_formula(serious)):
        sheet.conditional_formatting.add(
            column_range(serious),
            FormulaRule(formula=[serious_formula(serious)], fill=SERIOUS_FILL),
        )
        added = True
    return added


def lay_out_tab(
    workbook: Workbook, title: str, columns: Sequence[Column]
) -> tuple[dict[str, int], bool]:
    """Make one tab right: exists, has every header, frozen first row, status drop-down, highlights.

    Staff's columns are never moved: missing headers go after the last used header cell, like
    the Google register. Returns the column mapping and whether anything was changed.
    """
    changed = False
    text_columns = title == REGISTER_TAB
    if title in workbook.sheetnames:
        sheet = workbook[title]
    else:
        sheet = workbook.create_sheet(title)
        changed = True
    header = header_values(sheet)
    mapping = map_header(header, columns)
    missing = [column for column in columns if column.key not in mapping]
    start = used_width(header)
    for offset, column in enumerate(missing):
        write_header(sheet, start + offset, column, text_column=text_columns)
        mapping[column.key] = start + offset
        changed = True
    if sheet.freeze_panes is None:
        sheet.freeze_panes = "A2"
        changed = True
    if title == REGISTER_TAB:
        status = mapping["status"]
        if not has_status_validation(sheet, status):
            add_status_validation(sheet, status)
            changed = True
        changed = add_highlights(sheet, mapping) or changed
    return mapping, changed


def lay_out_workbook(workbook: Workbook) -> tuple[dict[str, dict[str, int]], bool]:
    """Every tab laid out; returns each tab's column mapping and whether anything changed."""
    changed = False
    mappings: dict[str, dict[str, int]] = {}
    for title, columns in TABS:
        mappings[title], tab_changed = lay_out_tab(workbook, title, columns)
        changed = changed or tab_changed
    return mappings, changed


def lay_out_departments(workbook: Workbook, grid: Sequence[Sequence[str]]) -> bool:
    """Make the Departments tab show ``grid`` (header row first, from ``department_grid``).

    Created at the end if missing. Unless it already shows the grid, frozen and protected,
    everything in it is cleared and the grid written as text, the header styled like the
    Register's with a note on A1 saying the tab comes from config.yaml, and the sheet
    protected without a password (Excel then refuses edits until staff unprotect it, a
    warning rather than a lock). Returns whether anything changed.
    """
    title = find_tab(workbook.sheetnames, DEPARTMENTS_TAB)
    sheet = workbook[title] if title else workbook.create_sheet(DEPARTMENTS_TAB)
    current = [[display_text(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    if title and same_grid(current, grid) and sheet.freeze_panes == "A2" and sheet.protection.sheet:
        return False
    for merged in list(sheet.merged_cells.ranges):
        sheet.unmerge_cells(str(merged))
    for row in sheet.iter_rows():
        for cell in row:
            cell.value = None
            cell.comment = None
    for index, column in enumerate(DEPARTMENT_COLUMNS):
        write_header(sheet, index, column, text_column=False)
    for offset, cells in enumerate(grid[1:]):
        write_cells(sheet, offset + 2, cells)
    note = Comment(DEPARTMENTS_NOTE, "ParkDesk")
    note.width, note.height = 320, 90
    sheet["A1"].comment = note
    sheet.freeze_panes = "A2"
    sheet.protection.sheet = True
    return True


def new_workbook() -> Workbook:
    """An empty workbook whose only sheet is the Register tab (laid out by ``lay_out_workbook``)."""
    workbook = openpyxl.Workbook()
    workbook.active.title = REGISTER_TAB
    return workbook


def new_archive_sheet(workbook: Workbook, title: str) -> Worksheet:
    """An empty archive tab at the end of the workbook, its first row frozen."""
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    return sheet
