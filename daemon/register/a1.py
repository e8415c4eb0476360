"""A1 notation for the Sheets API: quoted tab names, column letters, cell addresses, the rows of
a range; and the spreadsheet id found in a sheet's address."""

from __future__ import annotations

import re


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


def spreadsheet_id_from(text: str) -> str:
    """The id from ``register.spreadsheet_id``, which may be the id or the sheet's whole address."""
    match = re.search(r"/spreadsheets/d/([A-Za-z0-9_-]+)", text)
    return match.group(1) if match else text.strip()
