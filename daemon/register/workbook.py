"""The register kept in a local ``.xlsx`` workbook (openpyxl): no account, no network.

``register.backend: workbook`` with ``register.path``. The Register and Activity tabs are sheets
of one file with the Google sheet's bilingual headers, a bold shaded frozen header row, column
widths, a drop-down of the status labels and highlights (status New, serious complaints). Excel,
WPS and LibreOffice open it; staff edit it there as they would edit the Google sheet.

The same rules as :class:`~daemon.register.google_sheet.GoogleRegister`:

    read_register       reads the file as it is now (staff may have edited it since the last cycle)
    append_complaints   rows below the last row holding anything, from column A
    update_cells        cells of rows found by reference, in the file as it is when writing
    update_rows_by_number  guarded like Google's: each row must still be the reference-less row
    append_activity     rows below the last row of the Activity tab
    archive_rows        rows moved to ``Archive <year>`` tabs (created with Register's header row,
                        frozen), every column as text, and deleted from Register: one save
    find_archived       the archive tabs read, newest year first, until the reference is found
    read_archives       every archive tab's rows (for the review), newest year first
    restore_archived    a row moved back from its archive tab to Register: one save
    write_departments   the Departments tab (created if missing) replaced by the rows, its sheet
                        protected without a password and a note on A1 saying config.yaml is the
                        source: one save, none when it already shows them

Columns are found by their header text on every read and write; everything ParkDesk writes is a
text cell, so a tenant's subject ``=HYPERLINK(...)`` stays text. Cells hold at most 32,767
characters (Excel's limit: a longer cell makes Excel "repair" the file), cut with a mark.

Every write loads the current file, applies the change and saves it atomically: to a hidden
temporary file in the same folder, fsync, then ``os.replace``. A crash mid-save leaves the old
file whole. The file is never saved while someone has it open: Excel and WPS leave a lock file
``~$register.xlsx`` next to it, LibreOffice ``.~lock.register.xlsx#``; ParkDesk then waits
(logging once, in plain words, who should close it), and after ``lock_wait_seconds`` gives up
with :class:`RegisterUnavailable`. The journal and the mailbox still hold everything, so the
next cycle writes it. If the file changes on disk while ParkDesk is saving, the save is thrown
away and done again on the new content.

Limits (openpyxl's): pictures, charts and shapes staff put in the workbook are dropped by
ParkDesk's next save, and formulas staff type lose their cached value until Excel recalculates
(ParkDesk asks it to on open); keep the register plain.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime, time as clock_time, timedelta
from pathlib import Path
from typing import Any, TypeVar

import openpyxl
from openpyxl.comments import Comment
from openpyxl.formatting.rule import CellIsRule, FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from daemon.register import (
    CellUpdate,
    RegisterRow,
    RegisterSnapshot,
    map_header,
    rows_from_values,
)
from daemon.register.archive import (
    ColumnPlan,
    archive_tabs_newest_first,
    check_moves,
    filled_columns,
    find_tab,
    plan_columns,
)
from daemon.register.departments import department_grid, same_grid
from daemon.register.errors import RegisterError, RegisterUnavailable
from daemon.register.google_sheet import (
    archived_rows,
    check_keys,
    delete_rows_requests,
    locate_rows,
    used_width,
)
from daemon.register.layout_rules import (  # widths shared with the Google layout
    MIN_COLUMN_WIDTH,
    column_width,
    display_width,
)
from daemon.sheet_layout import (
    ACTIVITY_COLUMNS,
    ACTIVITY_KEYS,
    ACTIVITY_TAB,
    DEPARTMENT_COLUMNS,
    DEPARTMENTS_NOTE,
    DEPARTMENTS_TAB,
    REGISTER_COLUMNS,
    REGISTER_KEYS,
    REGISTER_TAB,
    STATUS_LABELS,
    Column,
    Status,
)

log = logging.getLogger("parkdesk.register")

T = TypeVar("T")

EXCEL_CELL_LIMIT = 32_767  # characters (UTF-16 units) Excel accepts in one cell
TRUNCATION_MARK = " …[truncated 已截断]"
DEFAULT_LOCK_WAIT_SECONDS = 60.0
LOCK_POLL_SECONDS = 2.0
MAX_SAVE_CONFLICTS = 5  # saves thrown away because the file changed meanwhile, before giving up
UNREADABLE_RETRIES = 2  # a file caught half-written by another program is read again
STALE_TEMP_SECONDS = 3600
TABS: tuple[tuple[str, tuple[Column, ...]], ...] = (
    (REGISTER_TAB, REGISTER_COLUMNS),
    (ACTIVITY_TAB, ACTIVITY_COLUMNS),
)

# The look of the tabs; the Google sheet's `init` is meant to match it.
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
HEADER_ALIGNMENT = Alignment(vertical="center", wrap_text=True)
NEW_FILL = PatternFill(fill_type="solid", start_color="FFFFF2CC", end_color="FFFFF2CC")
SERIOUS_FILL = PatternFill(fill_type="solid", start_color="FFF8CBAD", end_color="FFF8CBAD")
TEXT_FORMAT = "@"  # Excel keeps what staff type as text: phone numbers, times, references
LAST_ROW = 1_048_576  # Excel's last row: validations and highlights cover the whole column

# Characters XML 1.0 (and so .xlsx) cannot hold; what a tenant's mail may still contain.
UNSTORABLE_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# ---- cell text -----------------------------------------------------------------------------


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


# ---- lock files of programs that have the workbook open ------------------------------------


def lock_files(path: Path) -> list[Path]:
    """Lock files next to ``path`` that say a program has it open, e.g. ``~$register.xlsx``.

    Excel and WPS write ``~$<name>``; LibreOffice writes ``.~lock.<name>#``.
    """
    candidates = (path.with_name(f"~${path.name}"), path.with_name(f".~lock.{path.name}#"))
    return [lock for lock in candidates if lock.exists()]


def lock_holder(lock: Path) -> str:
    """Who holds a LibreOffice lock (its first field), "" if unknown."""
    if not lock.name.startswith(".~lock."):
        return ""
    try:
        first = lock.read_text(encoding="utf-8", errors="replace").split(",", 1)[0].strip()
    except OSError:
        return ""
    return first[:60]


def describe_lock(path: Path, locks: Sequence[Path]) -> str:
    """The plain message for staff: which program has the file open and what to do."""
    lock = locks[0]
    program = "LibreOffice" if lock.name.startswith(".~lock.") else "Excel"
    holder = lock_holder(lock)
    by = f" (opened by {holder})" if holder else ""
    also = " or WPS" if program == "Excel" else ""
    return (
        f"{path.name} is open in {program}{also}{by}: close {path.name} in {program} so ParkDesk "
        f"can save. 请在 {program} 中关闭 {path.name}，以便 ParkDesk 保存。 If nobody has it open, "
        f"delete the lock file {lock.name} next to it."
    )


# ---- files -----------------------------------------------------------------------------------


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """What tells that a file changed: (inode, size, mtime in ns); None if it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def file_digest(path: Path) -> str:
    """SHA-256 of the file's content (a few milliseconds for a large register)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_workbook(workbook: Workbook, target: Path) -> None:
    """Save ``workbook`` to ``target`` and flush it to the disk."""
    workbook.save(target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); nothing to do on Windows."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temp_path_for(path: Path) -> Path:
    """The hidden file a save goes to before it replaces ``path``."""
    return path.with_name(f".{path.name}.parkdesk-{os.getpid()}.tmp")


def remove_stale_temps(path: Path, *, now: float | None = None) -> None:
    """Delete temporary files that crashed saves left behind (older than an hour)."""
    now = time.time() if now is None else now
    for stale in path.parent.glob(f".{path.name}.parkdesk-*.tmp"):
        try:
            if now - stale.stat().st_mtime > STALE_TEMP_SECONDS:
                stale.unlink()
        except OSError:
            pass


class _Locked(Exception):
    """A program opened the file while ParkDesk was saving."""


class _Changed(Exception):
    """The file changed on disk while ParkDesk was saving."""


# ---- the layout on an open workbook --------------------------------------------------------


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


def new_archive_sheet(workbook: Workbook, title: str) -> Worksheet:
    """An empty archive tab at the end of the workbook, its first row frozen."""
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    return sheet


def delete_rows(sheet: Worksheet, row_numbers: Iterable[int]) -> None:
    """Delete the given rows, adjacent ones together, from the bottom up."""
    for request in delete_rows_requests(0, list(row_numbers)):
        span = request["deleteDimension"]["range"]
        sheet.delete_rows(span["startIndex"] + 1, span["endIndex"] - span["startIndex"])


# ---- the register --------------------------------------------------------------------------


class WorkbookRegister:
    """The register in one ``.xlsx`` file; see the module docstring for how it reads and saves."""

    def __init__(
        self,
        path: Path | str,
        *,
        sleep: Callable[[float], object] = time.sleep,
        lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
        lock_poll_seconds: float = LOCK_POLL_SECONDS,
    ) -> None:
        self.path = Path(path)
        self._sleep = sleep
        self.lock_wait_seconds = lock_wait_seconds
        self.lock_poll_seconds = lock_poll_seconds
        self._counts: dict[str, int] = {"workbook.load": 0, "workbook.save": 0}
        self._warned_features: set[str] = set()
        # The workbook as ParkDesk last saved it, with the file's digest then: while the file is
        # unchanged, the next write starts from it instead of loading the file again.
        self._saved: tuple[str, Workbook] | None = None

    @classmethod
    def from_config(
        cls,
        register_cfg: Any,
        *,
        sleep: Callable[[float], object] = time.sleep,
        lock_wait_seconds: float = DEFAULT_LOCK_WAIT_SECONDS,
    ) -> WorkbookRegister:
        """From ``config.RegisterConfig`` (or any object with a ``path``)."""
        path = getattr(register_cfg, "path", None)
        if not path:
            raise RegisterError(
                "register.path is not set; with register.backend: workbook it must name the "
                ".xlsx file of the register, e.g. ./register.xlsx"
            )
        path = Path(path)
        if path.suffix.lower() != ".xlsx":
            raise RegisterError(
                f"register.path is {path}, but the register must be an Excel workbook ending in "
                ".xlsx (e.g. ./register.xlsx); Excel, WPS and LibreOffice can all save that format."
            )
        if path.is_dir():
            raise RegisterError(f"register.path {path} is a folder; it must name the .xlsx file.")
        return cls(path, sleep=sleep, lock_wait_seconds=lock_wait_seconds)

    @property
    def request_counts(self) -> dict[str, int]:
        """How often the file was loaded and saved."""
        return dict(self._counts)

    # -- layout --------------------------------------------------------------------------------

    def ensure_layout(self) -> None:
        """Create the file or missing tabs, complete header rows, freeze them, add the drop-down
        and highlights. Idempotent: when all is in place it only reads the file."""
        self._write(lambda workbook: (None, lay_out_workbook(workbook)[1]))

    # -- reading -------------------------------------------------------------------------------

    def read_register(self) -> RegisterSnapshot:
        """Every non-blank row of the Register tab as the file is now (values as staff see them).

        A missing file or tab is created first, like the Google register repairs a missing tab.
        """
        snapshot = self._read_tab(REGISTER_TAB)
        if snapshot is None:
            self.ensure_layout()
            snapshot = self._read_tab(REGISTER_TAB)
        return snapshot if snapshot is not None else RegisterSnapshot()

    def _read_tab(self, title: str) -> RegisterSnapshot | None:
        """The tab's rows, or None if the file or the tab does not exist."""
        if not self.path.exists():
            return None
        workbook = self._load(read_only=True)
        try:
            if title not in workbook.sheetnames:
                return None
            sheet = workbook[title]
            sheet.reset_dimensions()  # other programs' size notes may be wrong: read all rows
            values = [[display_text(value) for value in row]
                      for row in sheet.iter_rows(values_only=True)]
        finally:
            workbook.close()
        header = values[0] if values else []
        columns = map_header(header, REGISTER_COLUMNS)
        return rows_from_values(values[1:], columns, first_row_number=2)

    # -- writing -------------------------------------------------------------------------------

    def append_complaints(self, rows: Sequence[Mapping[str, Any]]) -> list[int] | None:
        """Add complaint rows (column key -> text) below the last row; returns their row numbers."""
        if not rows:
            return []
        check_keys(rows, REGISTER_KEYS, REGISTER_TAB)

        def change(workbook: Workbook) -> tuple[list[int], bool]:
            mappings, _ = lay_out_workbook(workbook)
            sheet, columns = workbook[REGISTER_TAB], mappings[REGISTER_TAB]
            start = max(last_used_row(sheet), 1) + 1
            for offset, row in enumerate(rows):
                place_row(sheet, start + offset, row, columns)
            return list(range(start, start + len(rows))), True

        return self._write(change)

    def append_activity(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Add Activity rows (time, reference, event, actor, detail) below the last one."""
        if not events:
            return
        check_keys(events, ACTIVITY_KEYS, ACTIVITY_TAB)

        def change(workbook: Workbook) -> tuple[None, bool]:
            mappings, _ = lay_out_workbook(workbook)
            sheet, columns = workbook[ACTIVITY_TAB], mappings[ACTIVITY_TAB]
            start = max(last_used_row(sheet), 1) + 1
            for offset, event in enumerate(events):
                place_row(sheet, start + offset, event, columns)
            return None, True

        self._write(change)

    def update_cells(
        self, updates: Sequence[CellUpdate], *, snapshot: Sequence[RegisterRow] | None = None
    ) -> None:
        """Write cells of rows found by reference, all in one save.

        Rows are located in the file as it is when saving (``snapshot`` is accepted for the
        Google register's interface; the fresh content wins, so staff sorting in between is
        harmless). An unknown or duplicated reference raises ``RegisterError``; nothing is saved.
        """
        if not updates:
            return
        for update in updates:
            if update.key not in REGISTER_KEYS:
                raise RegisterError(f"{update.key!r} is not a column of the {REGISTER_TAB} tab.")

        def change(workbook: Workbook) -> tuple[None, bool]:
            mappings, _ = lay_out_workbook(workbook)
            sheet, columns = workbook[REGISTER_TAB], mappings[REGISTER_TAB]
            found = locate_rows(sheet_rows(sheet, columns), [u.reference for u in updates])
            for update in updates:
                write_text(sheet.cell(row=found[update.reference], column=columns[update.key] + 1),
                           update.value)
            return None, True

        self._write(change)

    def update_rows_by_number(self, updates: Mapping[int, Mapping[str, Any]]) -> None:
        """Fill cells of rows without a reference yet (staff's walk-ins): row number -> {key: text}.

        Each row must still be non-blank and without a reference (or already have the reference
        being written) in the file as it is now; otherwise ``RegisterError`` and nothing is saved.
        """
        if not updates:
            return
        check_keys(list(updates.values()), REGISTER_KEYS, REGISTER_TAB)

        def change(workbook: Workbook) -> tuple[None, bool]:
            mappings, _ = lay_out_workbook(workbook)
            sheet, columns = workbook[REGISTER_TAB], mappings[REGISTER_TAB]
            current = {row.row_number: row for row in sheet_rows(sheet, columns)}
            for number, values in updates.items():
                row = current.get(number)
                writing = str(values.get("reference", "")).strip().casefold()
                if row is None or (row.reference and row.reference.casefold() != writing):
                    now = f"now holds {row.reference}" if row is not None else "is now blank"
                    raise RegisterError(
                        f"Row {number} of the {REGISTER_TAB} tab {now}: the rows moved since they "
                        "were read, so nothing was written; ParkDesk will look again next cycle."
                    )
            for number, values in updates.items():
                place_row(sheet, number, values, columns)
            return None, True

        self._write(change)

    # -- the Departments tab ---------------------------------------------------------------------

    def write_departments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Make the Departments tab show exactly ``rows`` (column key -> text) under its header.

        ParkDesk owns the tab (written from config.yaml; staff edits there are overwritten).
        One save of the file as it is now; none if the tab already shows the rows.
        """
        grid = department_grid(rows)

        def change(workbook: Workbook) -> tuple[None, bool]:
            _, laid_out = lay_out_workbook(workbook)
            return None, lay_out_departments(workbook, grid) or laid_out

        self._write(change)

    # -- the archive ---------------------------------------------------------------------------

    def archive_rows(self, moves: Mapping[str, Sequence[str]]) -> int:
        """Move rows from Register to archive tabs: ``{"Archive 2025": ["C-250514-007", ...]}``.

        In one save of the file as it is now: a missing tab is created with the Register's
        header row (frozen); columns the tab lacks are added after its last header; the rows
        are copied below its last row, every column as text (a staff formula as its text), and
        deleted from Register. A reference missing or on two rows raises ``RegisterError`` and
        nothing is saved. Returns how many rows moved.
        """
        wanted = check_moves(moves)
        if not wanted:
            return 0

        def change(workbook: Workbook) -> tuple[int, bool]:
            mappings, _ = lay_out_workbook(workbook)
            sheet = workbook[REGISTER_TAB]
            header = header_values(sheet)
            found = locate_rows(sheet_rows(sheet, mappings[REGISTER_TAB]),
                                [reference for refs in wanted.values() for reference in refs])
            for tab, references in wanted.items():
                rows = [row_cells(sheet, found[reference]) for reference in references]
                title = find_tab(workbook.sheetnames, tab)
                target = workbook[title] if title else new_archive_sheet(workbook, tab)
                target_header = header_values(target) if title else []
                plan = plan_columns(header, target_header, filled=filled_columns(rows))
                write_added_headers(target, plan)
                start = max(last_used_row(target), 1) + 1
                for offset, cells in enumerate(rows):
                    write_cells(target, start + offset, plan.place(cells))
            delete_rows(sheet, found.values())
            return len(found), True

        return self._write(change)

    def find_archived(self, reference: str) -> tuple[str, RegisterRow] | None:
        """The archived row of ``reference`` and its tab, newest archive year first; None if no
        archive tab holds it (or the file does not exist)."""
        if not self.path.exists():
            return None
        workbook = self._load(read_only=True)
        try:
            for title in archive_tabs_newest_first(workbook.sheetnames):
                sheet = workbook[title]
                sheet.reset_dimensions()
                values = [[display_text(value) for value in row]
                          for row in sheet.iter_rows(values_only=True)]
                found = archived_rows(1, values).find(reference)
                if found:
                    return title, found[0]
        finally:
            workbook.close()
        return None

    def read_archives(self) -> dict[str, RegisterSnapshot]:
        """Every archive tab's rows, newest year first: ``{"Archive 2025": [RegisterRow ...]}``
        (``row_number`` is the row in that tab); {} if the file or the tabs do not exist."""
        if not self.path.exists():
            return {}
        workbook = self._load(read_only=True)
        try:
            tabs = {}
            for title in archive_tabs_newest_first(workbook.sheetnames):
                sheet = workbook[title]
                sheet.reset_dimensions()
                tabs[title] = archived_rows(1, [[display_text(value) for value in row]
                                                for row in sheet.iter_rows(values_only=True)])
        finally:
            workbook.close()
        return tabs

    def restore_archived(
        self, reference: str, *, changes: Mapping[str, Any] | None = None
    ) -> RegisterRow:
        """Move the archived row of ``reference`` back to Register, with ``changes`` (column key
        -> text) written into it, in one save; returns the row as it is now in Register.

        ``RegisterError`` and nothing is saved if the reference is in no archive tab, on two
        rows of one, or already in Register.
        """
        changes = dict(changes or {})
        if changes:
            check_keys([changes], REGISTER_KEYS, REGISTER_TAB)

        def change(workbook: Workbook) -> tuple[RegisterRow, bool]:
            mappings, _ = lay_out_workbook(workbook)
            sheet = workbook[REGISTER_TAB]
            if sheet_rows(sheet, mappings[REGISTER_TAB]).find(reference):
                raise RegisterError(
                    f"{reference} is already in the {REGISTER_TAB} tab; nothing was restored.")
            for title in archive_tabs_newest_first(workbook.sheetnames):
                archive = workbook[title]
                archive_header = header_values(archive)
                found = sheet_rows(archive, map_header(archive_header, REGISTER_COLUMNS)).find(
                    reference)
                if len(found) > 1:
                    raise RegisterError(
                        f"{reference} is on rows {', '.join(str(r.row_number) for r in found)} "
                        f"of the {title} tab, so ParkDesk cannot tell which to restore; nothing "
                        "was moved. Delete the extra row.")
                if found:
                    break
            else:
                raise RegisterError(f"{reference} is in no archive tab; nothing was restored.")
            cells = row_cells(archive, found[0].row_number)
            register_header = header_values(sheet)
            plan = plan_columns(archive_header, register_header, filled=filled_columns([cells]),
                                required_keys=changes)
            placed = plan.place(cells)
            for key, value in changes.items():
                placed[plan.keys[key]] = workbook_text(value)
            write_added_headers(sheet, plan)
            number = max(last_used_row(sheet), 1) + 1
            write_cells(sheet, number, placed)
            delete_rows(archive, [found[0].row_number])
            columns = map_header(plan.header(register_header), REGISTER_COLUMNS)
            return rows_from_values([placed], columns, first_row_number=number)[0], True

        return self._write(change)

    # -- loading and saving --------------------------------------------------------------------

    def change_workbook(self, change: Callable[[Workbook], tuple[T, bool]]) -> T:
        """Apply ``change`` through the same locked, atomic save as every write (for tabs other
        modules own, e.g. the Dashboard): it gets the workbook as it is now and returns
        (result, whether it changed anything); nothing is saved when it changed nothing."""
        return self._write(change)

    def _load(self, *, read_only: bool) -> Workbook:
        """The workbook as it is on disk; ``RegisterError`` in plain words if it cannot be read."""
        for attempt in range(UNREADABLE_RETRIES + 1):
            self._counts["workbook.load"] += 1
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    workbook = openpyxl.load_workbook(
                        self.path, read_only=read_only, data_only=read_only
                    )
                self._note_dropped_features(caught)
                return workbook
            except PermissionError:
                raise RegisterError(
                    f"ParkDesk may not read {self.path} (register.path): give its user read and "
                    "write permission on the file and its folder."
                ) from None
            except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, TypeError,
                    OSError) as error:
                if attempt < UNREADABLE_RETRIES:
                    self._sleep(1.0)  # caught while another program was saving it?
                    continue
                raise RegisterError(
                    f"{self.path.name} (register.path) cannot be read as an Excel workbook "
                    f"({type(error).__name__}: {error}). If it was saved in another format, "
                    "open it and save it as \"Excel Workbook (.xlsx)\"; ParkDesk does not "
                    "overwrite it until it can read it."
                ) from None
        raise AssertionError("unreachable")

    def _note_dropped_features(self, caught: Iterable[warnings.WarningMessage]) -> None:
        for warning in caught:
            text = str(warning.message)
            if text not in self._warned_features:
                self._warned_features.add(text)
                log.warning("%s contains something ParkDesk's saves cannot keep (%s); keep the "
                            "register plain", self.path.name, text)

    def _write(self, change: Callable[[Workbook], tuple[T, bool]]) -> T:
        """Load the current file (or start a new one), apply ``change``, save it atomically.

        ``change`` returns (result, whether it changed anything). While the file is open in
        another program ParkDesk waits, then starts again from the file as that program left it;
        likewise if the file changed on disk during the save.
        """
        waited = 0.0
        conflicts = 0
        while True:
            before = file_signature(self.path)
            workbook, digest = self._current_workbook(before)
            self._saved = None  # the change may fail half-way: never start from it again
            result, changed = change(workbook)
            if not changed:
                self._saved = (digest, workbook) if digest else None
                return result
            if lock_files(self.path):
                waited = self._wait_until_closed(waited)
                continue
            try:
                digest = self._save(workbook, expected=before)
            except _Locked:
                waited = self._wait_until_closed(waited, at_least_once=True)
                continue
            except _Changed:
                conflicts += 1
                if conflicts >= MAX_SAVE_CONFLICTS:
                    raise RegisterUnavailable(
                        f"{self.path.name} kept changing while ParkDesk tried to save it "
                        f"({conflicts} times); ParkDesk will try again next cycle."
                    ) from None
                log.info("%s changed while ParkDesk was saving; saving again on the new content",
                         self.path.name)
                continue
            if waited:
                log.info("%s was closed; ParkDesk saved it", self.path.name)
            self._saved = (digest, workbook)
            return result

    def _current_workbook(self, signature: tuple[int, int, int] | None) -> tuple[Workbook, str]:
        """The file as it is now and the digest of its content ("" for a new workbook).

        The workbook last saved is reused if the file still has its digest. The digest is taken
        before loading, so a file changed meanwhile never passes for the one loaded.
        """
        if signature is None:
            return new_workbook(), ""
        try:
            digest = file_digest(self.path)
        except FileNotFoundError:
            return new_workbook(), ""  # deleted just now: the save will notice and start again
        if self._saved is not None and self._saved[0] == digest:
            return self._saved[1], digest
        return self._load(read_only=False), digest

    def _wait_until_closed(self, waited: float, *, at_least_once: bool = False) -> float:
        """Sleep until no program has the file open; returns the seconds waited in this write.

        Logs the plain message once; after ``lock_wait_seconds`` raises ``RegisterUnavailable``
        with it. ``at_least_once``: the save was refused without a lock file (Windows sharing).
        """
        locks = lock_files(self.path)
        while locks or at_least_once:
            message = describe_lock(self.path, locks) if locks else (
                f"{self.path.name} is open in another program: close {self.path.name} in Excel "
                f"so ParkDesk can save. 请关闭 {self.path.name}，以便 ParkDesk 保存。"
            )
            if waited == 0:
                log.warning("%s ParkDesk is waiting.", message)
            if waited >= self.lock_wait_seconds:
                raise RegisterUnavailable(
                    f"{message} ParkDesk waited {waited:.0f} s and will try again next cycle; "
                    "nothing is lost."
                )
            step = max(0.0, min(self.lock_poll_seconds, self.lock_wait_seconds - waited))
            self._sleep(step)
            waited += max(step, 1e-6)
            at_least_once = False
            locks = lock_files(self.path)
        return waited

    def _save(self, workbook: Workbook, *, expected: tuple[int, int, int] | None) -> str:
        """Save to a temporary file, then replace the workbook with it, unless it changed.

        Returns the digest of what was saved.
        """
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RegisterError(
                f"The folder of register.path ({folder}) cannot be created: "
                f"{error.strerror or error}."
            ) from None
        remove_stale_temps(self.path)
        temp = temp_path_for(self.path)
        workbook.calculation.fullCalcOnLoad = True  # staff formulas are recalculated on open
        self._counts["workbook.save"] += 1
        try:
            write_workbook(workbook, temp)
            digest = file_digest(temp)
            if expected is not None:
                try:
                    os.chmod(temp, self.path.stat().st_mode & 0o7777)
                except OSError:
                    pass
            if lock_files(self.path):
                raise _Locked()
            if file_signature(self.path) != expected:
                raise _Changed()
            try:
                os.replace(temp, self.path)
            except PermissionError:
                raise _Locked() from None  # Windows: the file is open in Excel
            fsync_folder(folder)
            return digest
        except (_Locked, _Changed):
            raise
        except OSError as error:
            raise RegisterUnavailable(
                f"ParkDesk could not save {self.path.name} ({error.strerror or error}); the file "
                "on disk is unchanged and the next cycle tries again."
            ) from None
        finally:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass
