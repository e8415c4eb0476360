"""The archive moves of the workbook register: rows moved from Register to ``Archive <year>``
tabs and back in one save each, and the archive tabs read.

``WorkbookArchiveMoves`` is a part of :class:`~daemon.register.workbook.WorkbookRegister`, which
provides the attributes declared below (the file, loading it, and saving a change to it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl.workbook.workbook import Workbook

from daemon.register import RegisterRow, RegisterSnapshot, map_header, rows_from_values
from daemon.register.archive import (
    archive_tabs_newest_first,
    check_moves,
    filled_columns,
    find_tab,
    plan_columns,
)
from daemon.register.errors import RegisterError
from daemon.register.register_rows import archived_rows, check_keys, locate_rows
from daemon.register.workbook_cells import (
    delete_rows,
    display_text,
    header_values,
    last_used_row,
    row_cells,
    sheet_rows,
    workbook_text,
    write_added_headers,
    write_cells,
)
from daemon.register.workbook_layout import lay_out_workbook, new_archive_sheet
from daemon.sheet_layout import REGISTER_COLUMNS, REGISTER_KEYS, REGISTER_TAB


class WorkbookArchiveMoves:
    """archive_rows, find_archived, read_archives and restore_archived of ``WorkbookRegister``."""

    path: Path
    _load: Callable[..., Workbook]  # WorkbookRegister._load(read_only=...)
    _write: Callable[[Callable[[Workbook], tuple[Any, bool]]], Any]  # WorkbookRegister._write

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
