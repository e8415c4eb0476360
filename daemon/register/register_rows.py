"""Rows of the register as both backends (Google sheet and workbook) handle them: which header
cells are used, which column keys a write uses, where each reference is, and the rows of an
archive tab."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from daemon.register import RegisterRow, RegisterSnapshot, map_header, rows_from_values
from daemon.register.errors import RegisterError
from daemon.sheet_layout import REGISTER_COLUMNS, REGISTER_TAB


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


def archived_rows(header_row: int, values: Sequence[Sequence[Any]]) -> RegisterSnapshot:
    """The complaint rows of a tab read whole (header first), columns found by header text."""
    header = values[0] if values else []
    return rows_from_values(values[1:], map_header(header, REGISTER_COLUMNS),
                            first_row_number=header_row + 1)
