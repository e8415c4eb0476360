"""What the Google register knows of its tabs: the ``spreadsheets.get`` fields it asks for, each
tab's properties and first rows (``TabState``), header rows and the Departments tab as last
seen."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from daemon.register.a1 import quote_sheet
from daemon.sheet_layout import DEPARTMENTS_TAB, Column

LAYOUT_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "data(startRow,startColumn,rowData(values(formattedValue))),protectedRanges(protectedRangeId))"
)
PROPERTIES_FIELDS = "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)))"
LAYOUT_PROPERTIES_FIELDS = (
    "sheets(properties(sheetId,title,gridProperties(rowCount,columnCount,frozenRowCount)),"
    "protectedRanges(protectedRangeId))"
)


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


def tab_states(meta: Mapping[str, Any], titles: Collection[str] | None = None
               ) -> dict[str, TabState]:
    """``{title: TabState}`` for the tabs of one ``spreadsheets.get`` answer (only ``titles``
    if given)."""
    tabs: dict[str, TabState] = {}
    for sheet in meta.get("sheets", []):
        state = tab_state(sheet)
        title = (sheet.get("properties") or {}).get("title")
        if state is not None and (titles is None or title in titles):
            tabs[title] = state
    return tabs


def new_tab_state(sheet_id: int, columns: Sequence[Column]) -> TabState:
    """The state of a tab ensure_layout has just created: 1000 x 26 cells, the header row."""
    header = [column.header for column in columns]
    return TabState(sheet_id=sheet_id, frozen_rows=1, column_count=max(26, len(columns)),
                    header=header, rows=[header])


def layout_range(title: str) -> str:
    """What ensure_layout reads of a tab: the header row, or the whole Departments tab."""
    return quote_sheet(title) if title == DEPARTMENTS_TAB else f"{quote_sheet(title)}!1:1"
