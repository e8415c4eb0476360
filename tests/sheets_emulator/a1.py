"""A1 notation: parse the ranges Google accepts and format the ones it answers.

Accepted (sheet part optional, quoted with ``''`` escapes when needed)::

    Sheet1!A1        'My Sheet'!A1:C3     Sheet1!A:C      Sheet1!2:5
    Sheet1!A2:C      (A2 down to the last row of column C)
    Sheet1!A1:1      (A1 to the end of row 1)
    Sheet1           (the whole sheet)     A1:B2  (the first visible sheet)

Indexes are 0-based and end-exclusive, like the API's GridRange; ``None`` is an open
end (up to the grid's last row or column).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_COLUMNS = 18278  # ZZZ
_ENDPOINT = re.compile(r"^\$?([A-Za-z]{1,3})?\$?([0-9]+)?$")
_PLAIN_TITLE = re.compile(r"^[^\W\d]\w*$")
_CELL_LIKE = re.compile(r"^([A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*)$")


@dataclass(frozen=True)
class A1Range:
    """A parsed range; ``sheet`` is None when the text named no sheet."""

    sheet: str | None
    start_row: int | None
    start_col: int | None
    end_row: int | None
    end_col: int | None
    whole_sheet: bool = False


def column_letters(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def column_index(letters: str) -> int:
    """'A' -> 0, 'AA' -> 26."""
    value = 0
    for ch in letters.upper():
        value = value * 26 + (ord(ch) - ord("A") + 1)
    return value - 1


def quote_sheet_title(title: str) -> str:
    """Quote a sheet title the way Google does in the ranges it answers."""
    if _PLAIN_TITLE.match(title) and not _CELL_LIKE.match(title):
        return title
    return "'" + title.replace("'", "''") + "'"


def split_sheet(text: str) -> tuple[str | None, str]:
    """'Sheet1'!A1 -> ('Sheet1', 'A1'); A1 -> (None, 'A1'); 'My Sheet' -> ('My Sheet', '')."""
    if text.startswith("'"):
        i = 1
        title = []
        while i < len(text):
            ch = text[i]
            if ch == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    title.append("'")
                    i += 2
                    continue
                rest = text[i + 1 :]
                if rest == "":
                    return "".join(title), ""
                if rest.startswith("!"):
                    return "".join(title), rest[1:]
                raise ValueError(text)
            title.append(ch)
            i += 1
        raise ValueError(text)
    if "!" in text:
        title, _, cells = text.rpartition("!")
        if not title:
            raise ValueError(text)
        return title, cells
    return None, text


def _parse_endpoint(text: str) -> tuple[int | None, int | None]:
    """'B3' -> (col 1, row 2); 'B' -> (1, None); '3' -> (None, 2)."""
    match = _ENDPOINT.match(text.strip())
    if not match or (match.group(1) is None and match.group(2) is None):
        raise ValueError(text)
    col = column_index(match.group(1)) if match.group(1) else None
    row = int(match.group(2)) - 1 if match.group(2) else None
    if row is not None and row < 0:
        raise ValueError(text)
    if col is not None and col >= MAX_COLUMNS:
        raise ValueError(text)
    return col, row


def parse_cells(cells: str) -> tuple[int | None, int | None, int | None, int | None]:
    """Parse the part after '!' into (start_row, start_col, end_row, end_col)."""
    parts = cells.split(":")
    if len(parts) > 2 or not parts[0]:
        raise ValueError(cells)
    c1, r1 = _parse_endpoint(parts[0])
    if len(parts) == 1:
        if c1 is None or r1 is None:
            raise ValueError(cells)  # 'A' or '3' alone is not a range
        return r1, c1, r1 + 1, c1 + 1
    c2, r2 = _parse_endpoint(parts[1])
    if (c1 is None) != (c2 is None) and (r1 is None) != (r2 is None):
        # e.g. 'A:3' mixes a column with a row: not A1 notation.
        if not (c1 is not None and r1 is not None) and not (c2 is not None and r2 is not None):
            raise ValueError(cells)
    # Columns.
    if c1 is None and c2 is None:
        start_col, end_col = 0, None
    elif c1 is None:
        start_col, end_col = 0, c2 + 1
    elif c2 is None:
        start_col, end_col = c1, None
    else:
        start_col, end_col = min(c1, c2), max(c1, c2) + 1
    # Rows.
    if r1 is None and r2 is None:
        start_row, end_row = 0, None
    elif r1 is None:
        start_row, end_row = 0, r2 + 1
    elif r2 is None:
        start_row, end_row = r1, None
    else:
        start_row, end_row = min(r1, r2), max(r1, r2) + 1
    return start_row, start_col, end_row, end_col


def parse_a1(text: str) -> A1Range:
    """Parse A1 text; a bare word that is not a cell reference is taken as a sheet title."""
    if text is None or text.strip() == "":
        raise ValueError(text)
    sheet, cells = split_sheet(text)
    if sheet is not None and cells == "":
        return A1Range(sheet, 0, 0, None, None, whole_sheet=True)
    if sheet is None:
        try:
            start_row, start_col, end_row, end_col = parse_cells(cells)
        except ValueError:
            return A1Range(cells, 0, 0, None, None, whole_sheet=True)
        return A1Range(None, start_row, start_col, end_row, end_col)
    start_row, start_col, end_row, end_col = parse_cells(cells)
    return A1Range(sheet, start_row, start_col, end_row, end_col)


def format_cells(start_row: int, start_col: int, end_row: int | None, end_col: int | None) -> str:
    """Format 0-based, end-exclusive bounds; ``None`` ends print open ('A1001:B', 'AA1:2')."""
    first = f"{column_letters(start_col)}{start_row + 1}"
    if end_row is not None and end_col is not None:
        if end_row - start_row == 1 and end_col - start_col == 1:
            return first
        return f"{first}:{column_letters(end_col - 1)}{end_row}"
    if end_row is None and end_col is not None:
        return f"{first}:{column_letters(end_col - 1)}"
    if end_col is None and end_row is not None:
        return f"{first}:{end_row}"
    return first


def format_range(title: str, start_row: int, start_col: int, end_row: int | None, end_col: int | None) -> str:
    """('My Sheet', 0, 0, 3, 3) -> "'My Sheet'!A1:C3"."""
    return f"{quote_sheet_title(title)}!{format_cells(start_row, start_col, end_row, end_col)}"
