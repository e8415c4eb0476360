"""The Departments tab's content: who gets what, as config.yaml says, backend-neutral.

ParkDesk writes the tab from config.yaml when it starts (``Register.write_departments``), so
staff can look up every address ParkDesk mails without reading the YAML: one row per
department (its head, members and the categories it handles), then the service center and
the leadership. Edits made in the tab are overwritten; staff change config.yaml instead.

``department_rows`` turns the config into rows (column key -> text); ``department_grid`` puts
them in the tab's column order under the header row, as both backends write them; ``same_grid``
compares that with what a tab holds, ignoring trailing blank cells and rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.register.errors import RegisterError
from daemon.sheet_layout import (
    DEPARTMENT_COLUMNS,
    DEPARTMENT_KEYS,
    DEPARTMENTS_TAB,
    LEADERSHIP_LABEL,
    SERVICE_CENTER_LABEL,
)

LIST_SEPARATOR = ", "


def department_rows(config: Any) -> list[dict[str, str]]:
    """The Departments tab's rows from ``config`` (a ``daemon.config.Config``), in config order.

    Each department: ``{"key": "facilities", "name": "设施维护部", "head": "li@park.example",
    "members": "repairs@park.example, zhao@park.example", "categories": "设施维护"}`` (the names
    of the categories whose ``department`` is its key). Then a ``service_center`` and a
    ``leadership`` row whose ``members`` are their addresses, head and categories blank.
    """
    rows = []
    for department in config.departments:
        categories = [c.name for c in config.categories if c.department == department.key]
        rows.append({
            "key": department.key,
            "name": department.name,
            "head": department.head,
            "members": LIST_SEPARATOR.join(department.members),
            "categories": LIST_SEPARATOR.join(categories),
        })
    for key, label, addresses in (("service_center", SERVICE_CENTER_LABEL, config.service_center),
                                  ("leadership", LEADERSHIP_LABEL, config.leadership)):
        rows.append({"key": key, "name": label, "head": "",
                     "members": LIST_SEPARATOR.join(addresses), "categories": ""})
    return rows


def department_grid(rows: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """The whole tab as written: the bilingual header row, then each row in column order.

    ``RegisterError`` if a row has a key that is not a column of the Departments tab.
    """
    for row in rows:
        unknown = sorted(set(row) - set(DEPARTMENT_KEYS))
        if unknown:
            raise RegisterError(
                f"{', '.join(map(repr, unknown))} not a column of the {DEPARTMENTS_TAB} tab.")
    header = [column.header for column in DEPARTMENT_COLUMNS]
    body = [["" if row.get(key) is None else str(row.get(key)) for key in DEPARTMENT_KEYS]
            for row in rows]
    return [header, *body]


def trimmed_grid(grid: Sequence[Sequence[Any]]) -> list[list[str]]:
    """``grid`` as text without trailing blank cells in a row, nor trailing blank rows."""
    rows = [["" if cell is None else str(cell) for cell in row] for row in grid]
    for row in rows:
        while row and not row[-1].strip():
            row.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


def same_grid(current: Sequence[Sequence[Any]], wanted: Sequence[Sequence[Any]]) -> bool:
    """True if a tab holding ``current`` already shows ``wanted`` (trailing blanks ignored)."""
    return trimmed_grid(current) == trimmed_grid(wanted)
