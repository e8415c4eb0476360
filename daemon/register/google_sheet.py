"""The register kept in a Google Sheet, reached through gspread with a service account.

Each operation is one batched API call (ensure_layout: one read when all is in place):

    ensure_layout       spreadsheets.get of both header rows (+ batchUpdate/values.batchUpdate to repair)
    read_register       values.batchGet of the whole Register tab
    append_complaints   values.append (RAW, INSERT_ROWS) of all rows at once
    update_cells        values.batchUpdate (RAW) of all cells at once, rows found by reference
    update_rows_by_number  values.batchGet (guard) + values.batchUpdate, for rows without a reference
    append_activity     values.append (RAW, INSERT_ROWS) to the Activity tab
    archive_rows        spreadsheets.get (tabs) + values.batchGet (Register, archive headers)
                        + ONE batchUpdate: addSheet, header, appendCells, deleteDimension
    find_archived       spreadsheets.get (tabs) + values.batchGet of every archive tab
    read_archives       spreadsheets.get (tabs) + values.batchGet of every archive tab
    restore_archived    spreadsheets.get (tabs) + values.batchGet (Register, archive tabs)
                        + ONE batchUpdate: appendCells to Register, deleteDimension in the archive
    write_departments   nothing if the Departments tab already shows the rows (ensure_layout's read
                        is reused for 60 s, else that one read), else ONE batchUpdate: updateCells
                        over the whole tab (+ a warning-only protection if it has none)

ensure_layout also creates the Departments tab (header row, frozen) and reads it whole, so
that ``write_departments`` right after it costs no read.

Everything is written RAW: a tenant's subject ``=IMPORTXML(...)`` stays text. Columns are mapped by
header text (``daemon.register.map_header``); rows are found by their reference.
"""

from __future__ import annotations

import functools
import logging
import random as _random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import gspread
from google.oauth2.service_account import Credentials

from daemon.register import (
    CellUpdate,
    RegisterRow,
    RegisterSnapshot,
    map_header,
    rows_from_values,
)
from daemon.register.a1 import (
    a1_cell,
    column_letter,
    quote_sheet,
    rows_of_range,
    spreadsheet_id_from,
)
from daemon.register.departments import department_grid, same_grid
from daemon.register.errors import RegisterError
from daemon.register.google_archive import GoogleArchiveMoves
from daemon.register.http_client import DEFAULT_API_ENDPOINT, RegisterHTTPClient
from daemon.register.register_rows import archived_rows, check_keys, locate_rows, used_width
from daemon.register.service_account import load_service_account
from daemon.register.sheets_requests import (
    delete_rows_requests,
    lengthen_request,
    replace_tab_request,
    warning_protection_request,
    widen_request,
)
from daemon.register.sheets_tabs import (
    LAYOUT_FIELDS,
    LAYOUT_PROPERTIES_FIELDS,
    PROPERTIES_FIELDS,
    DepartmentsView,
    HeaderView,
    TabState,
    layout_range,
    new_tab_state,
    tab_states,
)
from daemon.register.sheets_values import (
    CELL_CHARACTER_LIMIT,
    cell_text,
    place_cells,
    split_by_size,
)
from daemon.retry import Backoff
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
    Column,
)

# Names other modules and the tests import from here (they live in the modules above).
__all__ = [
    "CELL_CHARACTER_LIMIT", "GoogleRegister", "archived_rows", "cell_text", "check_keys",
    "column_letter", "delete_rows_requests", "lengthen_request", "load_service_account",
    "locate_rows", "quote_sheet", "rows_of_range", "split_by_size", "spreadsheet_id_from",
    "used_width", "widen_request",
]

log = logging.getLogger("parkdesk.register")
DRIVE_FILES_URL = "https://www.googleapis.com/drive/v3/files/"  # rewritten like every Google URL

REQUEST_BYTE_BUDGET = 1_500_000  # Google recommends at most 2 MB per request
HEADER_MAX_AGE_SECONDS = 60.0  # how long a read header row is trusted for writes
TABS: tuple[tuple[str, tuple[Column, ...]], ...] = (
    (REGISTER_TAB, REGISTER_COLUMNS),
    (ACTIVITY_TAB, ACTIVITY_COLUMNS),
)
# ensure_layout reads these tabs' header rows, and the Departments tab whole (a few rows).
LAYOUT_TABS: tuple[tuple[str, tuple[Column, ...]], ...] = (
    *TABS,
    (DEPARTMENTS_TAB, DEPARTMENT_COLUMNS),
)


class GoogleRegister(GoogleArchiveMoves):
    """The register in one Google spreadsheet; see the module docstring for the cost of each call."""

    def __init__(
        self,
        *,
        spreadsheet_id: str,
        credentials: Credentials,
        api_endpoint: str = DEFAULT_API_ENDPOINT,
        credentials_file: str = "",
        sleep: Callable[[float], object] = time.sleep,
        max_attempts: int = 6,
        max_wait_seconds: float = 120,
        random: Callable[[], float] = _random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spreadsheet_id = spreadsheet_id
        factory = functools.partial(
            RegisterHTTPClient,
            api_endpoint=api_endpoint,
            backoff=Backoff(max_attempts=max_attempts, max_wait_seconds=max_wait_seconds),
            sleep=sleep,
            random=random,
            credentials_file=credentials_file,
        )
        self._client = gspread.Client(auth=credentials, http_client=factory)  # type: ignore[arg-type]
        self._http: RegisterHTTPClient = self._client.http_client  # type: ignore[assignment]
        self._clock = clock
        self._headers: dict[str, HeaderView] = {}  # tab -> its header row as last seen
        self._sheet_ids: dict[str, int] = {}  # tab -> sheetId
        self._departments: DepartmentsView | None = None  # the Departments tab as last seen

    @classmethod
    def from_config(
        cls,
        register_cfg: Any,
        *,
        sleep: Callable[[float], object] = time.sleep,
        max_attempts: int = 6,
        max_wait_seconds: float = 120,
    ) -> GoogleRegister:
        """From ``config.RegisterConfig`` (or any object with the same attributes)."""
        spreadsheet_id = spreadsheet_id_from(str(getattr(register_cfg, "spreadsheet_id", "") or ""))
        if not spreadsheet_id:
            raise RegisterError(
                "register.spreadsheet_id is empty. Copy the id from the sheet's address: "
                "https://docs.google.com/spreadsheets/d/<this part>/edit"
            )
        key_file = getattr(register_cfg, "credentials_file", None)
        if not key_file:
            raise RegisterError(
                "register.credentials_file is not set; it must name the service account's JSON key."
            )
        return cls(
            spreadsheet_id=spreadsheet_id,
            credentials=load_service_account(key_file),
            api_endpoint=str(getattr(register_cfg, "api_endpoint", "") or DEFAULT_API_ENDPOINT),
            credentials_file=str(key_file),
            sleep=sleep,
            max_attempts=max_attempts,
            max_wait_seconds=max_wait_seconds,
        )

    @property
    def service_account_email(self) -> str:
        return self._http.service_account_email

    @property
    def request_counts(self) -> dict[str, int]:
        """HTTP requests sent so far per API method, retries included."""
        return dict(self._http.request_counts)

    @property
    def http_client(self) -> RegisterHTTPClient:
        """The authenticated HTTP client (retries, plain-language errors) for other API calls."""
        return self._http

    def header_columns(self, tab: str) -> dict[str, int] | None:
        """Column key -> 0-based position in ``tab``'s header row as last read or written
        (``ensure_layout`` reads Register's and Activity's); None if not read yet."""
        view = self._headers.get(tab)
        return dict(view.columns) if view is not None else None

    def service_account_can_edit(self) -> bool:
        """Whether Google Drive says the service account may edit the sheet (``canEdit``).

        A reader passes every read, and ``ensure_layout`` writes nothing once the layout is in
        place, so only this tells a read-only share from an editor's. ``RegisterError`` if
        Drive cannot be asked (its message says what to fix).
        """
        response = self._http.request(
            "get", DRIVE_FILES_URL + self.spreadsheet_id,
            params={"fields": "capabilities/canEdit", "supportsAllDrives": "true"})
        try:
            answer = response.json()
        except ValueError:
            raise RegisterError("Google Drive's answer about the sheet's sharing was not "
                                "JSON; try again later") from None
        return bool(answer.get("capabilities", {}).get("canEdit"))

    # -- layout --------------------------------------------------------------------------------

    def ensure_layout(self) -> None:
        """Create missing tabs, write or complete header rows, freeze them. Idempotent.

        Staff's columns are never moved: headers missing from an existing row are added after its
        last used column. The Departments tab is created with its header row if missing; its
        content is ``write_departments``'s. Costs one read when everything is in place.
        """
        tabs = self._read_layout()
        structure: list[dict[str, Any]] = []
        header_writes: list[dict[str, Any]] = []
        for title, columns in LAYOUT_TABS:
            state = tabs.get(title)
            if state is None:
                structure.append(
                    {
                        "addSheet": {
                            "properties": {
                                "title": title,
                                "gridProperties": {
                                    "rowCount": 1000,
                                    "columnCount": max(26, len(columns)),
                                    "frozenRowCount": 1,
                                },
                            }
                        }
                    }
                )
                header_writes.append(self._header_write(title, 0, [c.header for c in columns]))
                if title != DEPARTMENTS_TAB:
                    self._remember(title, {c.key: i for i, c in enumerate(columns)}, first_cell="x")
                continue
            if state.frozen_rows < 1:
                structure.append(
                    {
                        "updateSheetProperties": {
                            "properties": {
                                "sheetId": state.sheet_id,
                                "gridProperties": {"frozenRowCount": 1},
                            },
                            "fields": "gridProperties.frozenRowCount",
                        }
                    }
                )
            if title == DEPARTMENTS_TAB:
                continue  # its content, header included, is rewritten by write_departments
            mapping = map_header(state.header, columns)
            missing = [c for c in columns if c.key not in mapping]
            first_cell = state.header[0] if state.header else ""
            if missing:
                start = used_width(state.header)
                if start == 0:
                    first_cell = missing[0].header
                needed = start + len(missing)
                if needed > state.column_count:
                    structure.append(
                        {
                            "appendDimension": {
                                "sheetId": state.sheet_id,
                                "dimension": "COLUMNS",
                                "length": needed - state.column_count,
                            }
                        }
                    )
                header_writes.append(self._header_write(title, start, [c.header for c in missing]))
                mapping.update({c.key: start + i for i, c in enumerate(missing)})
            self._remember(title, mapping, first_cell=first_cell)
        if structure:
            answer = self._http.batch_update(self.spreadsheet_id, {"requests": structure})
            for reply in answer.get("replies") or []:
                properties = (reply.get("addSheet") or {}).get("properties") or {}
                if "title" in properties and "sheetId" in properties:
                    self._sheet_ids[properties["title"]] = int(properties["sheetId"])
        if header_writes:
            self._http.values_batch_update(
                self.spreadsheet_id, {"valueInputOption": "RAW", "data": header_writes}
            )
        departments = tabs.get(DEPARTMENTS_TAB) or new_tab_state(
            self._sheet_ids[DEPARTMENTS_TAB], DEPARTMENT_COLUMNS)
        self._departments = DepartmentsView(departments, self._clock())

    def _read_layout(self) -> dict[str, TabState]:
        """Our tabs' properties and header rows: one spreadsheets.get; two more if a tab is missing."""
        params = {
            "ranges": [layout_range(title) for title, _ in LAYOUT_TABS],
            "includeGridData": "true",
            "fields": LAYOUT_FIELDS,
        }
        try:
            meta = self._http.fetch_sheet_metadata(self.spreadsheet_id, params=params)
        except RegisterError as error:
            if error.status != 400:
                raise
            return self._read_layout_partial()
        tabs = tab_states(meta)
        self._sheet_ids.update({title: state.sheet_id for title, state in tabs.items()})
        return tabs

    def _read_layout_partial(self) -> dict[str, TabState]:
        """When a tab is missing (its range cannot be read): properties, then the existing headers."""
        meta = self._http.fetch_sheet_metadata(
            self.spreadsheet_id,
            params={"includeGridData": "false", "fields": LAYOUT_PROPERTIES_FIELDS},
        )
        tabs = tab_states(meta, {title for title, _ in LAYOUT_TABS})
        self._sheet_ids.update({title: state.sheet_id for title, state in tabs.items()})
        if tabs:
            titles = list(tabs)
            answer = self._http.values_batch_get(
                self.spreadsheet_id,
                [layout_range(title) for title in titles],
                params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
            for title, value_range in zip(titles, answer.get("valueRanges", [])):
                rows = [[str(cell) for cell in row] for row in value_range.get("values") or []]
                tabs[title].rows = rows
                tabs[title].header = rows[0] if rows else []
        return tabs

    @staticmethod
    def _header_write(title: str, start: int, headers: list[str]) -> dict[str, Any]:
        return {
            "range": f"{quote_sheet(title)}!{column_letter(start)}1",
            "majorDimension": "ROWS",
            "values": [headers],
        }

    # -- reading -------------------------------------------------------------------------------

    def read_register(self) -> RegisterSnapshot:
        """Every non-blank row of the Register tab, in one values.batchGet.

        Returns a ``RegisterSnapshot`` (a list of ``RegisterRow``) that also records where each
        column was; pass it to ``update_cells(snapshot=...)`` to spare a second read.
        """
        answer = self._when_tab_exists(
            lambda: self._http.values_batch_get(
                self.spreadsheet_id,
                [quote_sheet(REGISTER_TAB)],
                params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
        )
        value_range = (answer.get("valueRanges") or [{}])[0]
        values = value_range.get("values") or []
        first = rows_of_range(value_range.get("range"))
        header_row = first[0] if first else 1
        header = values[0] if values else []
        columns = map_header(header, REGISTER_COLUMNS)
        self._remember(REGISTER_TAB, columns, first_cell=header[0] if header else "")
        return rows_from_values(values[1:], columns, first_row_number=header_row + 1)

    # -- writing -------------------------------------------------------------------------------

    def append_complaints(self, rows: Sequence[Mapping[str, Any]]) -> list[int] | None:
        """Add complaint rows (column key -> text) below the last row: one values.append.

        Returns the sheet row numbers written, or None if Google's answer does not say. Rows are
        split into several appends only if one would exceed Google's recommended 2 MB.
        """
        if not rows:
            return []
        needed = check_keys(rows, REGISTER_KEYS, REGISTER_TAB)
        columns = self._columns_for_write(REGISTER_TAB, needed)
        return self._append(REGISTER_TAB, [place_cells(row, columns) for row in rows])

    def append_activity(self, events: Sequence[Mapping[str, Any]]) -> None:
        """Add Activity rows (time, reference, event, actor, detail): one values.append."""
        if not events:
            return
        check_keys(events, ACTIVITY_KEYS, ACTIVITY_TAB)
        known = self._headers.get(ACTIVITY_TAB)
        columns = known.columns if known and all(k in known.columns for k in ACTIVITY_KEYS) else {
            key: index for index, key in enumerate(ACTIVITY_KEYS)
        }
        self._append(ACTIVITY_TAB, [place_cells(event, columns) for event in events])

    def update_cells(
        self, updates: Sequence[CellUpdate], *, snapshot: Sequence[RegisterRow] | None = None
    ) -> None:
        """Write cells of rows found by reference: one values.batchUpdate (RAW) for all of them.

        Rows are located in ``snapshot`` if given (it should be a fresh ``read_register()``: staff
        sorting between that read and this write would move rows), else by a new read. An unknown
        or duplicated reference raises ``RegisterError`` and nothing is written.
        """
        if not updates:
            return
        for update in updates:
            if update.key not in REGISTER_KEYS:
                raise RegisterError(f"{update.key!r} is not a column of the {REGISTER_TAB} tab.")
        rows = snapshot if snapshot is not None else self.read_register()
        needed = {update.key for update in updates}
        columns: Mapping[str, int] = getattr(rows, "columns", None) or {}
        if not columns or not needed <= set(columns):
            columns = self._columns_for_write(REGISTER_TAB, needed)
        found = locate_rows(rows, [update.reference for update in updates])
        data = [
            {
                "range": a1_cell(REGISTER_TAB, columns[update.key], found[update.reference]),
                "majorDimension": "ROWS",
                "values": [[cell_text(update.value)]],
            }
            for update in updates
        ]
        self._http.values_batch_update(
            self.spreadsheet_id, {"valueInputOption": "RAW", "data": data}
        )

    def update_rows_by_number(self, updates: Mapping[int, Mapping[str, Any]]) -> None:
        """Fill cells of rows that have no reference yet (staff's walk-ins): row number -> {key: text}.

        One fresh read guards against staff sorting since the caller's read: each row must still be
        non-blank and without a reference (or already have the reference being written); otherwise
        ``RegisterError`` and nothing is written. Then one values.batchUpdate (RAW).
        """
        if not updates:
            return
        needed = check_keys(list(updates.values()), REGISTER_KEYS, REGISTER_TAB)
        current = {row.row_number: row for row in self.read_register()}
        for number, values in updates.items():
            row = current.get(number)
            writing = str(values.get("reference", "")).strip().casefold()
            if row is None or (row.reference and row.reference.casefold() != writing):
                now = f"now holds {row.reference}" if row is not None else "is now blank"
                raise RegisterError(
                    f"Row {number} of the {REGISTER_TAB} tab {now}: the rows moved since they were "
                    "read, so nothing was written; ParkDesk will look again next cycle."
                )
        columns = self._columns_for_write(REGISTER_TAB, needed)
        data = [
            {
                "range": a1_cell(REGISTER_TAB, columns[key], number),
                "majorDimension": "ROWS",
                "values": [[cell_text(value)]],
            }
            for number, values in updates.items()
            for key, value in values.items()
        ]
        self._http.values_batch_update(
            self.spreadsheet_id, {"valueInputOption": "RAW", "data": data}
        )

    # -- the Departments tab ---------------------------------------------------------------------

    def write_departments(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Make the Departments tab show exactly ``rows`` (column key -> text) under its header.

        ParkDesk owns the tab (it is written from config.yaml; staff edits there are
        overwritten), so nothing is sent when it already shows them. Otherwise ONE batchUpdate:
        updateCells over the whole tab (everything else in it is cleared, text stays text, a
        bilingual note on A1 says where the content comes from), with a warning-only protected
        range if the tab has none, and more rows or columns if the grid is too small.
        The tab is compared with ensure_layout's read if it is at most 60 s old, else that read
        is made (one request; it creates the tab if missing). A write Google refuses (400, e.g.
        the tab protected against the service account) is logged as a warning, not raised: the
        tab only informs, and intake must go on.
        """
        grid = department_grid(rows)
        view = self._departments
        if view is None or self._clock() - view.read_at > HEADER_MAX_AGE_SECONDS:
            self.ensure_layout()
            view = self._departments
        assert view is not None  # ensure_layout always leaves one
        tab = view.tab
        if same_grid(tab.rows, grid) and tab.protected:
            return
        width = max(len(row) for row in grid)
        requests = [
            *widen_request(tab.sheet_id, tab.column_count, width),
            *lengthen_request(tab.sheet_id, tab.row_count, len(grid)),
            replace_tab_request(tab.sheet_id, grid, note=DEPARTMENTS_NOTE),
        ]
        if not tab.protected:
            requests.append(warning_protection_request(tab.sheet_id, DEPARTMENTS_NOTE))
        self._departments = None  # whatever happens now, read the tab again next time
        try:
            self._http.batch_update(self.spreadsheet_id, {"requests": requests})
        except RegisterError as error:
            if error.status != 400:
                raise
            # Refused (e.g. staff protected the tab against the service account): the tab only
            # informs, so complaints go on being handled.
            log.warning(
                "The %s tab was not updated from config.yaml: Google refused the write (%s). "
                "Give %s edit rights on that tab (Data > Protect sheets and ranges), or delete "
                "the tab and ParkDesk recreates it at its next start.",
                DEPARTMENTS_TAB, error, self.service_account_email or "the service account")
            return
        written = TabState(
            sheet_id=tab.sheet_id, frozen_rows=tab.frozen_rows,
            column_count=max(tab.column_count, width), header=grid[0],
            rows=[list(row) for row in grid], row_count=max(tab.row_count, len(grid)),
            protected=True,
        )
        self._departments = DepartmentsView(written, self._clock())

    # -- helpers -------------------------------------------------------------------------------

    def _append(self, title: str, matrix: list[list[str]]) -> list[int] | None:
        """Add rows below the last one, from column A: values.append searching column A.

        Google appends below the "table" around the last non-empty cell of the searched range and
        starts at that table's first column, so searching column A pins the start to A whenever
        A1 holds text. If staff left A1 empty, appendCells is used instead (rows go after the last
        row with data, from column A; Google's answer then gives no row numbers).
        """
        header = self._headers.get(title)
        if header is not None and not header.first_cell_filled:
            self._append_cells(title, matrix)
            return None
        numbers: list[int] | None = []
        for chunk in split_by_size(matrix, REQUEST_BYTE_BUDGET):
            answer = self._when_tab_exists(
                lambda chunk=chunk: self._http.values_append(
                    self.spreadsheet_id,
                    f"{quote_sheet(title)}!A:A",
                    params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                    body={"majorDimension": "ROWS", "values": chunk},
                )
            )
            span = rows_of_range((answer.get("updates") or {}).get("updatedRange"))
            if numbers is not None and span and span[1] - span[0] + 1 == len(chunk):
                numbers.extend(range(span[0], span[1] + 1))
            else:
                numbers = None
        return numbers

    def _append_cells(self, title: str, matrix: list[list[str]]) -> None:
        """Rows after the last row with data, from column A, as text (stringValue): one batchUpdate."""
        sheet_id = self._sheet_id(title)
        for chunk in split_by_size(matrix, REQUEST_BYTE_BUDGET // 2):
            rows = [
                {"values": [{"userEnteredValue": {"stringValue": cell}} if cell else {} for cell in row]}
                for row in chunk
            ]
            request = {"appendCells": {"sheetId": sheet_id, "rows": rows, "fields": "userEnteredValue"}}
            self._http.batch_update(self.spreadsheet_id, {"requests": [request]})

    def _sheet_id(self, title: str) -> int:
        """The tab's sheetId, from what ensure_layout saw or one metadata read."""
        if title not in self._sheet_ids:
            meta = self._http.fetch_sheet_metadata(
                self.spreadsheet_id, params={"includeGridData": "false", "fields": PROPERTIES_FIELDS}
            )
            for sheet in meta.get("sheets", []):
                properties = sheet.get("properties") or {}
                if "title" in properties:
                    self._sheet_ids[properties["title"]] = int(properties.get("sheetId", 0) or 0)
        if title not in self._sheet_ids:
            self.ensure_layout()
        return self._sheet_ids[title]

    def _when_tab_exists(self, call: Callable[[], Any]) -> Any:
        """Run ``call``; if Google cannot find the tab (400), repair the layout and run it once more."""
        try:
            return call()
        except RegisterError as error:
            if error.status != 400:
                raise
            self.ensure_layout()
            return call()

    def _remember(self, title: str, columns: Mapping[str, int], *, first_cell: Any) -> None:
        self._headers[title] = HeaderView(dict(columns), self._clock(), bool(str(first_cell).strip()))

    def _columns_for_write(self, title: str, needed: set[str]) -> dict[str, int]:
        """Where each needed column is now: the header as last read if recent, else read again.

        Headers missing for a needed column are repaired by ``ensure_layout`` first.
        """
        known = self._headers.get(title)
        if known is None or self._clock() - known.read_at > HEADER_MAX_AGE_SECONDS:
            answer = self._when_tab_exists(
                lambda: self._http.values_get(
                    self.spreadsheet_id,
                    f"{quote_sheet(title)}!1:1",
                    params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
                )
            )
            header = (answer.get("values") or [[]])[0]
            self._remember(title, map_header(header, dict(TABS)[title]),
                           first_cell=header[0] if header else "")
        columns = self._headers[title].columns
        if not needed <= set(columns):
            self.ensure_layout()
            columns = self._headers[title].columns
        return columns
