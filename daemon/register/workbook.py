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

import logging
import os
import time
import warnings
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import openpyxl
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.workbook.workbook import Workbook

from daemon.register import (
    CellUpdate,
    RegisterRow,
    RegisterSnapshot,
    map_header,
    rows_from_values,
)
from daemon.register.departments import department_grid
from daemon.register.errors import RegisterError, RegisterUnavailable
from daemon.register.workbook_archive import WorkbookArchiveMoves
from daemon.register.register_rows import check_keys, locate_rows
from daemon.register.workbook_cells import (
    EXCEL_CELL_LIMIT,
    HEADER_FILL,
    HEADER_FONT,
    TRUNCATION_MARK,
    display_text,
    last_used_row,
    place_row,
    sheet_rows,
    utf16_length,
    workbook_text,
    write_text,
)
from daemon.register.workbook_files import (
    describe_lock,
    file_digest,
    file_signature,
    fsync_folder,
    lock_files,
    remove_stale_temps,
    temp_path_for,
    write_workbook,
)
from daemon.register.workbook_layout import (
    lay_out_departments,
    lay_out_workbook,
    new_workbook,
)
from daemon.sheet_layout import (
    ACTIVITY_KEYS,
    ACTIVITY_TAB,
    REGISTER_COLUMNS,
    REGISTER_KEYS,
    REGISTER_TAB,
)

# Other modules and the tests import these from here too (they live in the modules above);
# the tests replace ``write_workbook`` here, so the saves below call it through this module.
__all__ = [
    "EXCEL_CELL_LIMIT", "HEADER_FILL", "HEADER_FONT", "TRUNCATION_MARK", "WorkbookRegister",
    "display_text", "lock_files", "utf16_length", "workbook_text", "write_text",
]

log = logging.getLogger("parkdesk.register")

T = TypeVar("T")

DEFAULT_LOCK_WAIT_SECONDS = 60.0
LOCK_POLL_SECONDS = 2.0
MAX_SAVE_CONFLICTS = 5  # saves thrown away because the file changed meanwhile, before giving up
UNREADABLE_RETRIES = 2  # a file caught half-written by another program is read again


class _Locked(Exception):
    """A program opened the file while ParkDesk was saving."""


class _Changed(Exception):
    """The file changed on disk while ParkDesk was saving."""


# ---- the register --------------------------------------------------------------------------


class WorkbookRegister(WorkbookArchiveMoves):
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
