"""The archive moves of the Google register: rows moved from Register to ``Archive <year>``
tabs and back, and the archive tabs read (see ``google_sheet``'s docstring for each call's cost).

``GoogleArchiveMoves`` is a part of :class:`~daemon.register.google_sheet.GoogleRegister`, which
sets the attributes declared below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from daemon.register import RegisterRow, RegisterSnapshot, map_header, rows_from_values
from daemon.register.a1 import quote_sheet
from daemon.register.archive import (
    archive_tabs_newest_first,
    check_moves,
    choose_sheet_id,
    filled_columns,
    find_tab,
    plan_columns,
)
from daemon.register.errors import RegisterError
from daemon.register.http_client import RegisterHTTPClient
from daemon.register.register_rows import archived_rows, check_keys, locate_rows
from daemon.register.sheets_requests import (
    add_sheet_request,
    append_cells_request,
    delete_rows_requests,
    header_request,
    widen_request,
)
from daemon.register.sheets_tabs import PROPERTIES_FIELDS, HeaderView, TabState, tab_states
from daemon.register.sheets_values import cell_text, grid_of
from daemon.sheet_layout import REGISTER_COLUMNS, REGISTER_KEYS, REGISTER_TAB


class GoogleArchiveMoves:
    """archive_rows, find_archived, read_archives and restore_archived of ``GoogleRegister``."""

    spreadsheet_id: str
    _http: RegisterHTTPClient
    _headers: dict[str, HeaderView]  # tab -> its header row as last seen
    _sheet_ids: dict[str, int]  # tab -> sheetId
    _remember: Callable[..., None]  # GoogleRegister._remember

    def archive_rows(self, moves: Mapping[str, Sequence[str]]) -> int:
        """Move rows from Register to archive tabs: ``{"Archive 2025": ["C-250514-007", ...]}``.

        A fresh read locates each row by its reference (missing, or on two rows:
        ``RegisterError`` and nothing moves). Then ONE batchUpdate, which Google applies whole
        or not at all: addSheet for a missing tab (its sheetId chosen here, the Register's header
        row, frozen), header cells for columns the tab lacks, appendCells of the rows (every
        column, as text, so nothing becomes a formula), deleteDimension of the Register rows
        from the bottom up. Returns how many rows moved.

        Staff sorting the Register in the instant between that read and the batchUpdate would
        shift the rows deleted; the read is made right before the write to keep that instant
        short, as ``update_cells`` does.
        """
        wanted = check_moves(moves)
        if not wanted:
            return 0
        tabs = self._tab_properties()
        register = tabs.get(REGISTER_TAB)
        if register is None:
            raise RegisterError(f"The spreadsheet has no {REGISTER_TAB} tab; nothing was archived.")
        targets = {tab: find_tab(tabs, tab) for tab in wanted}
        existing = list(dict.fromkeys(title for title in targets.values() if title))
        answer = self._http.values_batch_get(
            self.spreadsheet_id,
            [quote_sheet(REGISTER_TAB), *(f"{quote_sheet(title)}!1:1" for title in existing)],
            params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        ranges = answer.get("valueRanges") or [{}]
        header_row, values = grid_of(ranges[0])
        header = values[0] if values else []
        columns = map_header(header, REGISTER_COLUMNS)
        self._remember(REGISTER_TAB, columns, first_cell=header[0] if header else "")
        snapshot = rows_from_values(values[1:], columns, first_row_number=header_row + 1)
        found = locate_rows(snapshot, [reference for refs in wanted.values() for reference in refs])
        heads = {title: [str(cell) for cell in (value_range.get("values") or [[]])[0]]
                 for title, value_range in zip(existing, ranges[1:])}

        taken = {state.sheet_id for state in tabs.values()}
        structure: list[dict[str, Any]] = []
        writes: list[dict[str, Any]] = []
        created: dict[str, int] = {}
        for tab, references in wanted.items():
            rows = [values[found[reference] - header_row] for reference in references]
            title = targets[tab]
            target_header = heads[title] if title else []
            plan = plan_columns(header, target_header, filled=filled_columns(rows))
            if title is None:
                sheet_id = choose_sheet_id(tab, taken)
                taken.add(sheet_id)
                created[tab] = sheet_id
                structure.append(add_sheet_request(tab, sheet_id, plan.width))
            else:
                sheet_id = tabs[title].sheet_id
                structure += widen_request(sheet_id, tabs[title].column_count, plan.width)
            writes += header_request(sheet_id, plan, target_header)
            writes.append(append_cells_request(sheet_id, [plan.place(row) for row in rows]))
        deletes = delete_rows_requests(register.sheet_id, list(found.values()))
        self._http.batch_update(self.spreadsheet_id, {"requests": structure + writes + deletes})
        self._sheet_ids.update(created)
        return len(found)

    def find_archived(self, reference: str) -> tuple[str, RegisterRow] | None:
        """The archived row of ``reference`` and its tab, newest archive year first; None if no
        archive tab holds it. One metadata read lists the tabs, one values.batchGet reads them."""
        tabs = self._tab_properties()
        archive = archive_tabs_newest_first(tabs)
        if not archive:
            return None
        answer = self._http.values_batch_get(
            self.spreadsheet_id, [quote_sheet(title) for title in archive],
            params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        for title, value_range in zip(archive, answer.get("valueRanges") or []):
            header_row, values = grid_of(value_range)
            found = archived_rows(header_row, values).find(reference)
            if found:
                return title, found[0]
        return None

    def read_archives(self) -> dict[str, RegisterSnapshot]:
        """Every archive tab's rows, newest year first: ``{"Archive 2025": [RegisterRow ...]}``
        (``row_number`` is the row in that tab). One metadata read, one values.batchGet."""
        archive = archive_tabs_newest_first(self._tab_properties())
        if not archive:
            return {}
        answer = self._http.values_batch_get(
            self.spreadsheet_id, [quote_sheet(title) for title in archive],
            params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        tabs = {}
        for title, value_range in zip(archive, answer.get("valueRanges") or []):
            header_row, values = grid_of(value_range)
            tabs[title] = archived_rows(header_row, values)
        return tabs

    def restore_archived(
        self, reference: str, *, changes: Mapping[str, Any] | None = None
    ) -> RegisterRow:
        """Move the archived row of ``reference`` back to Register, with ``changes`` (column key
        -> text, e.g. a new status) written into it; returns the row as it is now in Register.

        One read of Register and every archive tab, then ONE batchUpdate: appendCells of the
        row to Register (every column, as text; a column Register lacks is added after its
        last header) and deleteDimension of its archive row. ``RegisterError`` and nothing is
        moved if the reference is in no archive tab, on two rows of one, or already in Register.
        """
        changes = dict(changes or {})
        if changes:
            check_keys([changes], REGISTER_KEYS, REGISTER_TAB)
        tabs = self._tab_properties()
        register = tabs.get(REGISTER_TAB)
        if register is None:
            raise RegisterError(f"The spreadsheet has no {REGISTER_TAB} tab; nothing was restored.")
        archive = archive_tabs_newest_first(tabs)
        answer = self._http.values_batch_get(
            self.spreadsheet_id, [quote_sheet(REGISTER_TAB), *map(quote_sheet, archive)],
            params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
        )
        ranges = answer.get("valueRanges") or [{}]
        register_start, register_values = grid_of(ranges[0])
        register_header = [str(cell) for cell in register_values[0]] if register_values else []
        if archived_rows(register_start, register_values).find(reference):
            raise RegisterError(
                f"{reference} is already in the {REGISTER_TAB} tab; nothing was restored.")
        for title, value_range in zip(archive, ranges[1:]):
            header_row, values = grid_of(value_range)
            found = archived_rows(header_row, values).find(reference)
            if len(found) > 1:
                raise RegisterError(
                    f"{reference} is on rows {', '.join(str(r.row_number) for r in found)} of the "
                    f"{title} tab, so ParkDesk cannot tell which to restore; nothing was moved. "
                    "Delete the extra row.")
            if found:
                break
        else:
            raise RegisterError(f"{reference} is in no archive tab; nothing was restored.")
        cells = values[found[0].row_number - header_row]
        plan = plan_columns(values[0], register_header, filled=filled_columns([cells]),
                            target_width=max(map(len, register_values), default=0),
                            required_keys=changes)
        placed = plan.place(cells)
        for key, value in changes.items():
            placed[plan.keys[key]] = cell_text(value)
        requests = [
            *widen_request(register.sheet_id, register.column_count, plan.width),
            *header_request(register.sheet_id, plan, register_header),
            append_cells_request(register.sheet_id, [placed]),
            *delete_rows_requests(tabs[title].sheet_id, [found[0].row_number]),
        ]
        self._http.batch_update(self.spreadsheet_id, {"requests": requests})
        if plan.added:
            self._headers.pop(REGISTER_TAB, None)  # Register gained a column: read it again
        number = register_start + max(len(register_values), 1)
        columns = map_header(plan.header(register_header), REGISTER_COLUMNS)
        return rows_from_values([placed], columns, first_row_number=number)[0]

    def _tab_properties(self) -> dict[str, TabState]:
        """Every tab's sheetId and grid size: one spreadsheets.get without cell data."""
        meta = self._http.fetch_sheet_metadata(
            self.spreadsheet_id, params={"includeGridData": "false", "fields": PROPERTIES_FIELDS}
        )
        tabs = tab_states(meta)
        self._sheet_ids.update({title: state.sheet_id for title, state in tabs.items()})
        return tabs
