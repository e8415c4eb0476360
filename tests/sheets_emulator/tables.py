"""Google's table detection for ``values.append``.

The range is searched for data; the table is the block of adjacent non-empty cells
(neighbours include diagonals) around the last non-empty cell of the range (row by
row, left to right). Values go below the table, starting at its first column. This
reproduces the recorded answers: appending to ``Sheet1`` when row 1 holds
``A1, (empty), C1`` gives ``tableRange Sheet1!C1`` and writes from ``C2``; appending
to ``Sheet1!A1`` there gives ``tableRange Sheet1!A1`` and writes from ``A2``.
"""

from __future__ import annotations

from .store import Sheet


def _has_value(sheet: Sheet, row: int, col: int) -> bool:
    cell = sheet.get_cell(row, col)
    return bool(cell and cell.get("userEnteredValue"))


def _row_runs(sheet: Sheet, row: int) -> list[tuple[int, int]]:
    """Column runs [start, end) of non-empty cells in one row."""
    cols = sorted(c for c, cell in sheet.cells.get(row, {}).items() if cell.get("userEnteredValue"))
    runs: list[tuple[int, int]] = []
    for col in cols:
        if runs and runs[-1][1] == col:
            runs[-1] = (runs[-1][0], col + 1)
        else:
            runs.append((col, col + 1))
    return runs


def last_value_cell(sheet: Sheet, r0: int, c0: int, r1: int, c1: int) -> tuple[int, int] | None:
    for row in sorted((r for r in sheet.cells if r0 <= r < r1), reverse=True):
        cols = [c for c, cell in sheet.cells[row].items() if c0 <= c < c1 and cell.get("userEnteredValue")]
        if cols:
            return row, max(cols)
    return None


def find_table(sheet: Sheet, r0: int, c0: int, r1: int, c1: int) -> tuple[int, int, int, int] | None:
    """(top, left, bottom_exclusive, right_exclusive) of the table, or None if the
    range holds no data."""
    seed = last_value_cell(sheet, r0, c0, r1, c1)
    if seed is None:
        return None
    seed_row, seed_col = seed
    runs_by_row: dict[int, list[tuple[int, int]]] = {}

    def runs(row: int) -> list[tuple[int, int]]:
        if row not in runs_by_row:
            runs_by_row[row] = _row_runs(sheet, row) if row >= 0 else []
        return runs_by_row[row]

    start_run = next(run for run in runs(seed_row) if run[0] <= seed_col < run[1])
    seen = {(seed_row, start_run)}
    stack = [(seed_row, start_run)]
    top, bottom, left, right = seed_row, seed_row + 1, start_run[0], start_run[1]
    while stack:
        row, (start, end) = stack.pop()
        top, bottom = min(top, row), max(bottom, row + 1)
        left, right = min(left, start), max(right, end)
        for other_row in (row - 1, row + 1):
            for run in runs(other_row):
                touches = run[0] <= end and run[1] >= start  # diagonal neighbours count
                if touches and (other_row, run) not in seen:
                    seen.add((other_row, run))
                    stack.append((other_row, run))
    return top, left, bottom, right
