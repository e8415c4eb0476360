"""Cell text and rows of values as the Sheets API takes and gives them: text cut to Google's
cell limit, rows placed by column, appends split by size, value ranges read back."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from daemon.register.a1 import rows_of_range

CELL_CHARACTER_LIMIT = 50_000  # Google refuses longer cells with 400 INVALID_ARGUMENT
TRUNCATION_MARK = " …[truncated 已截断]"


def cell_text(value: Any) -> str:
    """What goes into a cell: text, "" for None, cut to Google's 50,000-character limit."""
    text = "" if value is None else str(value)
    if len(text) > CELL_CHARACTER_LIMIT:
        text = text[: CELL_CHARACTER_LIMIT - len(TRUNCATION_MARK)] + TRUNCATION_MARK
    return text


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


def grid_of(value_range: Mapping[str, Any]) -> tuple[int, list[list[Any]]]:
    """(sheet row of the first value row, the rows) of one range values.batchGet returned."""
    first = rows_of_range(value_range.get("range"))
    return (first[0] if first else 1), list(value_range.get("values") or [])
