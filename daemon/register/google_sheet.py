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
import json
import logging
import random as _random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
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
from daemon.register.archive import (
    ColumnPlan,
    archive_tabs_newest_first,
    check_moves,
    choose_sheet_id,
    filled_columns,
    find_tab,
    plan_columns,
)
from daemon.register.departments import department_grid, same_grid
from daemon.register.errors import RegisterError
from daemon.register.http_client import DEFAULT_API_ENDPOINT, RegisterHTTPClient
from daemon.logs import register_secret
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

log = logging.getLogger("parkdesk.register")
DRIVE_FILES_URL = "https://www.googleapis.com/drive/v3/files/"  # rewritten like every Google URL

SCOPES = [
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
]
CELL_CHARACTER_LIMIT = 50_000  # Google refuses longer cells with 400 INVALID_ARGUMENT
TRUNCATION_MARK = " …[truncated 已截断]"
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
LAYOUT_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "data(startRow,startColumn,rowData(values(formattedValue))),protectedRanges(protectedRangeId))"
)
PROPERTIES_FIELDS = "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)))"
LAYOUT_PROPERTIES_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "protectedRanges(protectedRangeId))"
)


# ---- A1 notation and cell text -------------------------------------------------------------


def quote_sheet(title: str) -> str:
    """A tab name as A1 notation wants it: ``Register`` -> ``'Register'``, ``It's`` -> ``'It''s'``."""
    return "'" + title.replace("'", "''") + "'"


def column_letter(index: int) -> str:
    """0-based column index -> letters: 0 -> ``A``, 25 -> ``Z``, 26 -> ``AA``."""
    if index < 0:
        raise ValueError(f"column index cannot be negative: {index}")
    letters = ""
    number = index + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def a1_cell(title: str, column_index: int, row_number: int) -> str:
    """``a1_cell("Register", 1, 5)`` -> ``"'Register'!B5"``."""
    return f"{quote_sheet(title)}!{column_letter(column_index)}{row_number}"


def rows_of_range(a1_range: str | None) -> tuple[int, int] | None:
    """First and last row of an A1 range such as ``"Register!A12:AG111"``; None if it has none."""
    if not a1_range:
        return None
    match = re.search(r"!\$?[A-Za-z]*\$?(\d+)(?::\$?[A-Za-z]*\$?(\d+))?$", a1_range)
    if not match:
        return None
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    return first, last


def cell_text(value: Any) -> str:
    """What goes into a cell: text, "" for None, cut to Google's 50,000-character limit."""
    text = "" if value is None else str(value)
    if len(text) > CELL_CHARACTER_LIMIT:
        text = text[: CELL_CHARACTER_LIMIT - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return text


def spreadsheet_id_from(text: str) -> str:
    """The id from ``register.spreadsheet_id``, which may be the id or the sheet's whole address."""
    match = re.search(r"/spreadsheets/d/([A-Za-z0-9_-]+)", text)
    return match.group(1) if match else text.strip()


# ---- The service-account key ---------------------------------------------------------------


def load_service_account(path: Path | str) -> Credentials:
    """Credentials from a service-account JSON key; ``RegisterError`` saying what is wrong with it.

    Messages name ``register.credentials_file`` and never quote the key's content.
    """
    path = Path(path)
    where = f"The service-account key file in register.credentials_file ({path})"
    if not path.exists():
        raise RegisterError(
            f"{where} does not exist. Download a JSON key for the service account (Google Cloud "
            "console > IAM & Admin > Service accounts > Keys > Add key) and put its path in "
            "register.credentials_file."
        )
    if path.is_dir():
        raise RegisterError(f"{where} is a folder; it must be the JSON key file itself.")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RegisterError(f"{where} is not a JSON key file (it is not text).") from None
    except OSError as error:
        raise RegisterError(
            f"{where} cannot be read ({error.strerror or type(error).__name__}); check that "
            "ParkDesk's user may read it."
        ) from None
    try:
        info = json.loads(text)
    except json.JSONDecodeError as error:
        raise RegisterError(
            f"{where} is not valid JSON (line {error.lineno}, column {error.colno}). Download the "
            "key again and choose JSON as the key type."
        ) from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        kind = info.get("type") if isinstance(info, dict) else None
        found = f" (its type is {kind!r})" if isinstance(kind, str) and len(kind) < 40 else ""
        raise RegisterError(
            f"{where} is not a service-account key{found}. ParkDesk needs the JSON key of a "
            "service account, not an OAuth client file."
        )
    missing = [name for name in ("client_email", "private_key", "token_uri") if not info.get(name)]
    if missing:
        raise RegisterError(f"{where} lacks the field(s) {', '.join(missing)}. Download a new key.")
    for secret in ("private_key", "private_key_id"):  # masked in every log line from now on
        register_secret(info.get(secret) if isinstance(info.get(secret), str) else None)
    try:
        return Credentials.from_service_account_info(info, scopes=SCOPES)
    except Exception:  # noqa: BLE001 - whatever the parser says may quote the key
        raise RegisterError(
            f"{where} has a private_key that cannot be read. Download a new key."
        ) from None


# ---- The register --------------------------------------------------------------------------


@dataclass(frozen=True)
class HeaderView:
    """A tab's header row as last read: where our columns are, and whether cell A1 holds text."""

    columns: dict[str, int]
    read_at: float
    first_cell_filled: bool


@dataclass
class TabState:
    """What ensure_layout learnt about one tab: ``rows`` are the rows read from row 1 (the header
    row only, except for the Departments tab); ``protected``: it has a protected range."""

    sheet_id: int
    frozen_rows: int
    column_count: int
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    row_count: int = 1000
    protected: bool = False


@dataclass(frozen=True)
class DepartmentsView:
    """The Departments tab as last read or written, and when (``clock`` seconds)."""

    tab: TabState
    read_at: float


class GoogleRegister:
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
        tabs = {}
        for sheet in meta.get("sheets", []):
            state = tab_state(sheet)
            if state is not None:
                tabs[sheet["properties"]["title"]] = state
        self._sheet_ids.update({title: state.sheet_id for title, state in tabs.items()})
        return tabs

    def _read_layout_partial(self) -> dict[str, TabState]:
        """When a tab is missing (its range cannot be read): properties, then the existing headers."""
        meta = self._http.fetch_sheet_metadata(
            self.spreadsheet_id,
            params={"includeGridData": "false", "fields": LAYOUT_PROPERTIES_FIELDS},
        )
        ours = {title for title, _ in LAYOUT_TABS}
        tabs = {}
        for sheet in meta.get("sheets", []):
            title = sheet.get("properties", {}).get("title")
            if title in ours:
                state = tab_state(sheet)
                if state is not None:
                    tabs[title] = state
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

    # -- the archive ---------------------------------------------------------------------------

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
        tabs: dict[str, TabState] = {}
        for sheet in meta.get("sheets", []):
            state = tab_state(sheet)
            if state is not None:
                tabs[sheet["properties"]["title"]] = state
        self._sheet_ids.update({title: state.sheet_id for title, state in tabs.items()})
        return tabs

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


def tab_state(sheet: Mapping[str, Any]) -> TabState | None:
    """A ``TabState`` from one entry of ``spreadsheets.get``'s ``sheets`` (header from grid data)."""
    properties = sheet.get("properties") or {}
    if "title" not in properties:
        return None
    grid = properties.get("gridProperties") or {}
    rows: list[list[str]] = []
    for block in sheet.get("data") or []:
        if int(block.get("startRow", 0) or 0) != 0:
            continue
        start_column = int(block.get("startColumn", 0) or 0)
        rows = [[""] * start_column
                + [str(cell.get("formattedValue", "")) for cell in (row.get("values") or [])]
                for row in block.get("rowData") or [{}]]
        break
    return TabState(
        sheet_id=int(properties.get("sheetId", 0) or 0),
        frozen_rows=int(grid.get("frozenRowCount", 0) or 0),
        column_count=int(grid.get("columnCount", 26) or 26),
        header=rows[0] if rows else [],
        rows=rows,
        row_count=int(grid.get("rowCount", 1000) or 1000),
        protected=bool(sheet.get("protectedRanges")),
    )


def new_tab_state(sheet_id: int, columns: Sequence[Column]) -> TabState:
    """The state of a tab ensure_layout has just created: 1000 x 26 cells, the header row."""
    header = [column.header for column in columns]
    return TabState(sheet_id=sheet_id, frozen_rows=1, column_count=max(26, len(columns)),
                    header=header, rows=[header])


def layout_range(title: str) -> str:
    """What ensure_layout reads of a tab: the header row, or the whole Departments tab."""
    return quote_sheet(title) if title == DEPARTMENTS_TAB else f"{quote_sheet(title)}!1:1"


def used_width(header: Sequence[Any]) -> int:
    """Columns up to and including the last non-blank header cell."""
    width = 0
    for index, cell in enumerate(header):
        if str(cell).strip():
            width = index + 1
    return width


def check_keys(rows: Sequence[Mapping[str, Any]], keys: Sequence[str], title: str) -> set[str]:
    """The keys used by ``rows``; ``RegisterError`` if one is not a column of the tab."""
    used: set[str] = set()
    for row in rows:
        used.update(row)
    unknown = sorted(used - set(keys))
    if unknown:
        raise RegisterError(f"{', '.join(map(repr, unknown))} not a column of the {title} tab.")
    return used


def place_cells(row: Mapping[str, Any], columns: Mapping[str, int]) -> list[str]:
    """One sheet row: each value at its column's index, "" in between."""
    width = max((columns[key] for key in row), default=-1) + 1
    cells = [""] * width
    for key, value in row.items():
        cells[columns[key]] = cell_text(value)
    return cells


def split_by_size(matrix: list[list[str]], budget: int) -> list[list[list[str]]]:
    """Consecutive groups of rows, each at most ``budget`` bytes of JSON (a lone huge row alone)."""
    chunks: list[list[list[str]]] = [[]]
    size = 0
    for row in matrix:
        row_size = len(json.dumps(row, ensure_ascii=False).encode("utf-8")) + 1
        if chunks[-1] and size + row_size > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(row)
        size += row_size
    return chunks


def locate_rows(rows: Sequence[RegisterRow], references: Sequence[str]) -> dict[str, int]:
    """Reference -> sheet row number; ``RegisterError`` if one is unknown or on several rows."""
    by_reference: dict[str, list[int]] = {}
    for row in rows:
        if row.reference:
            by_reference.setdefault(row.reference.casefold(), []).append(row.row_number)
    found: dict[str, int] = {}
    unknown: list[str] = []
    for reference in dict.fromkeys(references):
        numbers = by_reference.get(reference.strip().casefold(), [])
        if not numbers:
            unknown.append(reference)
        elif len(numbers) > 1:
            listed = ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
            raise RegisterError(
                f"The reference {reference} is on rows {listed} of the {REGISTER_TAB} tab, so "
                "ParkDesk cannot tell which to update and wrote nothing. Delete or renumber the "
                "extra row."
            )
        else:
            found[reference] = numbers[0]
    if unknown:
        raise RegisterError(
            f"No row of the {REGISTER_TAB} tab has the reference {', '.join(unknown)}; nothing was "
            "written."
        )
    return found


# ---- batchUpdate requests of the archive ---------------------------------------------------


def grid_of(value_range: Mapping[str, Any]) -> tuple[int, list[list[Any]]]:
    """(sheet row of the first value row, the rows) of one range values.batchGet returned."""
    first = rows_of_range(value_range.get("range"))
    return (first[0] if first else 1), list(value_range.get("values") or [])


def archived_rows(header_row: int, values: Sequence[Sequence[Any]]) -> RegisterSnapshot:
    """The complaint rows of a tab read whole (header first), columns found by header text."""
    header = values[0] if values else []
    return rows_from_values(values[1:], map_header(header, REGISTER_COLUMNS),
                            first_row_number=header_row + 1)


def text_cells(cells: Sequence[str]) -> list[dict[str, Any]]:
    """CellData for text: ``stringValue`` keeps ``=SUM(1)`` text; "" is an empty cell."""
    return [{"userEnteredValue": {"stringValue": cell_text(cell)}} if cell else {}
            for cell in cells]


def add_sheet_request(title: str, sheet_id: int, width: int) -> dict[str, Any]:
    """A new tab with the given sheetId, its first row frozen."""
    return {"addSheet": {"properties": {
        "sheetId": sheet_id,
        "title": title,
        "gridProperties": {"rowCount": 1000, "columnCount": max(26, width), "frozenRowCount": 1},
    }}}


def widen_request(sheet_id: int, column_count: int, width: int) -> list[dict[str, Any]]:
    """An appendDimension if the tab has fewer than ``width`` columns, else nothing."""
    if width <= column_count:
        return []
    return [{"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                 "length": width - column_count}}]


def replace_tab_request(
    sheet_id: int, grid: Sequence[Sequence[str]], *, note: str
) -> dict[str, Any]:
    """updateCells over the whole tab: ``grid`` from A1 as text, every other cell's value and
    note cleared (formats kept), ``note`` on A1."""
    rows = [{"values": text_cells(row)} for row in grid]
    if rows and rows[0]["values"]:
        rows[0]["values"][0] = {**rows[0]["values"][0], "note": note}
    return {"updateCells": {"range": {"sheetId": sheet_id}, "rows": rows,
                            "fields": "userEnteredValue,note"}}


def warning_protection_request(sheet_id: int, description: str) -> dict[str, Any]:
    """A protected range over the whole tab that only warns: anyone may still edit it."""
    return {"addProtectedRange": {"protectedRange": {
        "range": {"sheetId": sheet_id}, "description": description, "warningOnly": True}}}


def lengthen_request(sheet_id: int, row_count: int, height: int) -> list[dict[str, Any]]:
    """An appendDimension if the tab has fewer than ``height`` rows, else nothing."""
    if height <= row_count:
        return []
    return [{"appendDimension": {"sheetId": sheet_id, "dimension": "ROWS",
                                 "length": height - row_count}}]


def header_request(sheet_id: int, plan: ColumnPlan,
                   target_header: Sequence[str]) -> list[dict[str, Any]]:
    """The header cells ``plan`` adds to row 1 (one updateCells), or nothing."""
    if not plan.added:
        return []
    first, last = plan.added[0][0], plan.added[-1][0]
    cells = plan.header(target_header)[first:last + 1]
    return [{"updateCells": {
        "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": first},
        "rows": [{"values": text_cells(cells)}],
        "fields": "userEnteredValue",
    }}]


def append_cells_request(sheet_id: int, rows: Sequence[Sequence[str]]) -> dict[str, Any]:
    """Rows after the tab's last row with data, from column A, as text."""
    return {"appendCells": {"sheetId": sheet_id,
                            "rows": [{"values": text_cells(row)} for row in rows],
                            "fields": "userEnteredValue"}}


def delete_rows_requests(sheet_id: int, row_numbers: Sequence[int]) -> list[dict[str, Any]]:
    """deleteDimension of the given 1-based rows, adjacent rows together, the bottom block first
    so the indexes of the blocks still to delete stay valid."""
    blocks: list[list[int]] = []  # [first, last] row numbers, from the bottom up
    for number in sorted(set(row_numbers), reverse=True):
        if blocks and blocks[-1][0] == number + 1:
            blocks[-1][0] = number
        else:
            blocks.append([number, number])
    return [{"deleteDimension": {"range": {"sheetId": sheet_id, "dimension": "ROWS",
                                           "startIndex": first - 1, "endIndex": last}}}
            for first, last in blocks]
