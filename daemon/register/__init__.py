"""The register: the shared sheet where every complaint is one row, and what the workflow may ask of it.

The workflow talks to a ``Register`` and never to gspread. This package holds the interface
(rows, cell updates, errors), the backend-neutral mapping of header text to column keys, and
``open_register`` which picks the backend named by ``register.backend`` (``google`` or
``workbook``). ``daemon.register.archive`` is the backend-neutral part of moving closed
complaints to the ``Archive <year>`` tabs and back; ``daemon.register.departments`` is the content
of the ``Departments`` tab (who gets what), written from config.yaml.

Columns are found by their header text on every read, never by position: staff may move, sort,
insert and filter. Rows are found by their content (the reference), never by position.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import (
    Any,
    Protocol,
    runtime_checkable,
)

from daemon.register.errors import (
    RegisterAccessError,
    RegisterError,
    RegisterUnavailable,
)
from daemon.sheet_layout import REGISTER_KEYS, Column

__all__ = [
    "CellUpdate",
    "Register",
    "RegisterAccessError",
    "RegisterError",
    "RegisterRow",
    "RegisterSnapshot",
    "RegisterUnavailable",
    "header_aliases",
    "map_header",
    "normalize_header",
    "open_register",
    "rows_from_values",
]


@dataclass(frozen=True)
class RegisterRow:
    """One complaint row as read: its 1-based sheet row and its cells by column key ("" if blank)."""

    row_number: int
    values: Mapping[str, str]

    def get(self, key: str) -> str:
        """The cell of column ``key`` (a key of ``sheet_layout.REGISTER_COLUMNS``), "" if blank."""
        return self.values.get(key, "")

    @property
    def reference(self) -> str:
        """The complaint's reference, e.g. ``"C-250514-007"``; "" for a row staff typed without one."""
        return self.get("reference").strip()


@dataclass(frozen=True)
class CellUpdate:
    """Write ``value`` into column ``key`` of the row whose reference is ``reference``."""

    reference: str
    key: str
    value: str


class RegisterSnapshot(list):
    """The rows of one read (a plain list of ``RegisterRow``) plus where each column was then.

    ``columns`` maps column key -> 0-based column index in the header row at the time of the read.
    """

    def __init__(self, rows: Iterable[RegisterRow] = (), columns: Mapping[str, int] | None = None):
        super().__init__(rows)
        self.columns: Mapping[str, int] = MappingProxyType(dict(columns or {}))

    def find(self, reference: str) -> list[RegisterRow]:
        """Every row whose reference is ``reference`` (case and surrounding spaces ignored)."""
        wanted = reference.strip().casefold()
        return [row for row in self if wanted and row.reference.casefold() == wanted]


@runtime_checkable
class Register(Protocol):
    """What the workflow may do with the register, whatever the backend."""

    request_counts: Mapping[str, int]

    def ensure_layout(self) -> None: ...

    def read_register(self) -> list[RegisterRow]: ...

    def append_complaints(self, rows: Sequence[Mapping[str, str]]) -> list[int] | None: ...

    def update_cells(
        self, updates: Sequence[CellUpdate], *, snapshot: Sequence[RegisterRow] | None = None
    ) -> None: ...

    def update_rows_by_number(self, updates: Mapping[int, Mapping[str, str]]) -> None: ...

    def append_activity(self, events: Sequence[Mapping[str, str]]) -> None: ...

    def write_departments(self, rows: Sequence[Mapping[str, str]]) -> None:
        """Make the Departments tab show exactly ``rows`` (keys of
        ``sheet_layout.DEPARTMENT_COLUMNS`` -> text, e.g. from
        ``daemon.register.departments.department_rows``) under its bilingual header, creating
        the tab if missing. ParkDesk owns the tab: what staff typed there is replaced. Nothing
        is written when it already shows them."""
        ...

    def archive_rows(self, moves: Mapping[str, Sequence[str]]) -> int:
        """Move whole rows (every column, as text) from Register to archive tabs, in one atomic
        write: ``{"Archive 2025": ["C-250514-007"]}``. A missing tab is created with Register's
        header row, frozen. Rows are found by reference in a fresh read; a reference missing or
        on two rows raises ``RegisterError`` and nothing moves. Returns how many rows moved."""
        ...

    def find_archived(self, reference: str) -> tuple[str, RegisterRow] | None:
        """The tab (``"Archive 2025"``) and row of an archived reference, newest year first;
        None if no archive tab holds it. ``row_number`` is the row in that tab."""
        ...

    def restore_archived(
        self, reference: str, *, changes: Mapping[str, str] | None = None
    ) -> RegisterRow:
        """Move an archived row back to Register with ``changes`` (column key -> text) written
        into it, in one atomic write; returns it as it now is in Register. ``RegisterError``
        and nothing moves if it is in no archive tab, on two rows of one, or in Register."""
        ...


def normalize_header(text: Any) -> str:
    """Header text as compared: whitespace collapsed, case folded. ``" 编号  Reference"`` -> ``"编号 reference"``."""
    return " ".join(str(text if text is not None else "").split()).casefold()


def header_aliases(column: Column) -> frozenset[str]:
    """Header texts that mean ``column``: the bilingual header, either language alone, or the key.

    ``Column("reference", "编号 Reference")`` -> ``{"编号 reference", "编号", "reference"}``.
    Staff who shorten a header to one language keep their column.
    """
    full = normalize_header(column.header)
    first, _, rest = full.partition(" ")
    return frozenset(name for name in (full, first, rest, normalize_header(column.key)) if name)


def map_header(cells: Sequence[Any], columns: Sequence[Column]) -> dict[str, int]:
    """Column key -> 0-based index, found by the header text in ``cells``; the first match wins.

    Columns whose header is absent are absent from the result; unknown headers are ignored.
    """
    aliases = [(column.key, header_aliases(column)) for column in columns]
    mapping: dict[str, int] = {}
    for index, cell in enumerate(cells):
        text = normalize_header(cell)
        if not text:
            continue
        for key, names in aliases:
            if key not in mapping and text in names:
                mapping[key] = index
                break
    return mapping


def rows_from_values(
    values: Sequence[Sequence[Any]],
    columns: Mapping[str, int],
    *,
    keys: Sequence[str] = REGISTER_KEYS,
    first_row_number: int = 2,
) -> RegisterSnapshot:
    """Turn data rows (as the sheet returned them, header excluded) into ``RegisterRow``s.

    ``values[0]`` is sheet row ``first_row_number``. Wholly blank rows are skipped; every key of
    ``keys`` is present in each row's values ("" when its column is missing or the cell blank).
    """
    rows = []
    for offset, cells in enumerate(values):
        if not any(str(cell).strip() for cell in cells if cell is not None):
            continue
        row_values = {}
        for key in keys:
            index = columns.get(key)
            cell = cells[index] if index is not None and index < len(cells) else ""
            row_values[key] = "" if cell is None else str(cell)
        rows.append(RegisterRow(first_row_number + offset, MappingProxyType(row_values)))
    return RegisterSnapshot(rows, columns)


def open_register(
    register_cfg: Any,
    *,
    sleep: Callable[[float], object] = time.sleep,
    max_attempts: int = 6,
    max_wait_seconds: float = 120,
) -> Register:
    """Open the register named by ``register_cfg`` (``config.RegisterConfig`` or any object alike).

    ``backend`` "google" gives a ``GoogleRegister`` (needs ``spreadsheet_id``, ``credentials_file``
    and ``api_endpoint``). Nothing is sent to Google yet; a bad key file fails here.
    ``backend`` "workbook" gives a ``WorkbookRegister`` on the ``.xlsx`` file ``path`` (created by
    ``ensure_layout`` if absent); ``sleep`` is what it waits with while the file is open elsewhere.
    """
    backend = str(getattr(register_cfg, "backend", "google") or "google")
    if backend == "google":
        from daemon.register.google_sheet import GoogleRegister

        return GoogleRegister.from_config(
            register_cfg, sleep=sleep, max_attempts=max_attempts, max_wait_seconds=max_wait_seconds
        )
    if backend == "workbook":
        from daemon.register.workbook import WorkbookRegister

        return WorkbookRegister.from_config(register_cfg, sleep=sleep)
    raise RegisterError(
        f"register.backend is {backend!r}, but ParkDesk can open only a 'google' or a 'workbook' "
        "register. Set register.backend to 'google' (a Google Sheet) or 'workbook' (a local .xlsx)."
    )

