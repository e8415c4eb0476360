"""Effective values of cells: stored values, or formula results computed on read.

A :class:`BookEvaluator` lives for one request. It memoises results, detects circular
references (Sheets shows ``#REF!``) and implements the formula engine's Context.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import formula
from .cell_values import effective_to_python, render
from .formula import Err, FormattedNumber, RangeValue, Unsupported
from .store import Sheet, Spreadsheet

CIRCULAR = "Circular dependency detected. To resolve with iterative calculation, see File > Settings."


class BookEvaluator:
    """Computes what each cell of one spreadsheet evaluates to."""

    def __init__(self, book: Spreadsheet) -> None:
        self.book = book
        self.memo: dict[tuple[int, int, int], tuple[Any, bool]] = {}
        self.active: set[tuple[int, int, int]] = set()
        self.evaluating: list[int] = []  # rows of the cells being evaluated, innermost last

    def effective(self, sheet: Sheet, row: int, col: int) -> tuple[Any, bool]:
        """(value, evaluated): value is float/str/bool/Err/None; evaluated False when
        the formula uses something the emulator does not evaluate."""
        cell = sheet.get_cell(row, col)
        user_value = cell.get("userEnteredValue") if cell else None
        if not user_value:
            return None, True
        if "formulaValue" not in user_value:
            return effective_to_python(user_value), True
        key = (sheet.sheet_id, row, col)
        if key in self.memo:
            return self.memo[key]
        if key in self.active:
            return formula.err("REF", CIRCULAR), True
        self.active.add(key)
        self.evaluating.append(row)
        try:
            result: tuple[Any, bool] = (formula.evaluate(user_value["formulaValue"], self, sheet.title), True)
        except Unsupported:
            result = (None, False)
        finally:
            self.active.discard(key)
            self.evaluating.pop()
        self.memo[key] = result
        return result

    # -- formula.Context ---------------------------------------------------------------
    def _sheet(self, title: str | None) -> Sheet | None:
        return self.book.sheet_by_title(title) if title is not None else self.book.first_visible_sheet()

    def cell_value(self, sheet_title: str | None, row: int, col: int) -> Any:
        sheet = self._sheet(sheet_title)
        if sheet is None:
            return formula.err("REF", f"Unresolved sheet name '{sheet_title}'.")
        if row >= sheet.row_count or col >= sheet.column_count:
            return formula.err("REF", "Reference does not exist.")
        value, evaluated = self.effective(sheet, row, col)
        if not evaluated:
            raise Unsupported("depends on an unevaluated formula")
        fmt = display_format(sheet.get_cell(row, col), value)
        if isinstance(value, float) and fmt and fmt.get("type") in ("DATE", "TIME", "DATE_TIME"):
            return FormattedNumber(value, fmt)  # =A1 of a date shows a date, as in Sheets
        return value

    def range_values(self, sheet_title: str | None, r0: int, c0: int, r1: int | None, c1: int | None) -> Any:
        """The range's cells by position; rows and cells past the last value are left out."""
        sheet = self._sheet(sheet_title)
        if sheet is None:
            return formula.err("REF", f"Unresolved sheet name '{sheet_title}'.")
        r1 = sheet.row_count if r1 is None else min(r1, sheet.row_count)
        c1 = sheet.column_count if c1 is None else min(c1, sheet.column_count)
        found: dict[int, dict[int, Any]] = {}
        for row in (r for r in sheet.cells if r0 <= r < r1):
            for col in (c for c in sheet.cells[row] if c0 <= c < c1):
                value, evaluated = self.effective(sheet, row, col)
                if not evaluated:
                    raise Unsupported("depends on an unevaluated formula")
                if value is not None:
                    found.setdefault(row - r0, {})[col - c0] = value
        rows = []
        for r in range(max(found, default=-1) + 1):
            cols = found.get(r, {})
            rows.append([cols.get(c) for c in range(max(cols, default=-1) + 1)])
        return RangeValue(rows, max(0, r1 - r0), max(0, c1 - c0))

    def current_row(self) -> int:
        """The 1-based row of the cell whose formula is being evaluated (for ROW())."""
        return self.evaluating[-1] + 1 if self.evaluating else 1

    def now_serial(self) -> float:
        """Now as a serial number in the spreadsheet's time zone (for TODAY/NOW)."""
        try:
            zone = ZoneInfo(self.book.properties.get("timeZone") or "Etc/GMT")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("Etc/GMT")
        local = datetime.now(zone).replace(tzinfo=None)
        delta = local - datetime(1899, 12, 30)
        return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000

    def named(self, name: str) -> tuple[str, int, int, int | None, int | None] | None:
        named = self.book.named_range(name)
        if named is None:
            return None
        rng = named["range"]
        sheet = self.book.sheet_by_id(rng.get("sheetId", 0))
        if sheet is None:
            return None
        return (
            sheet.title,
            rng.get("startRowIndex", 0),
            rng.get("startColumnIndex", 0),
            rng.get("endRowIndex"),
            rng.get("endColumnIndex"),
        )


def number_format_of(cell: dict[str, Any] | None) -> dict[str, Any] | None:
    if not cell:
        return None
    return (cell.get("userEnteredFormat") or {}).get("numberFormat")


def display_format(cell: dict[str, Any] | None, value: Any) -> dict[str, Any] | None:
    """The cell's own number format, else the one its formula result carries."""
    own = number_format_of(cell)
    if own:
        return own
    return getattr(value, "number_format", None)


def render_cell(
    evaluator: BookEvaluator,
    sheet: Sheet,
    row: int,
    col: int,
    render_option: str = "FORMATTED_VALUE",
    date_option: str = "SERIAL_NUMBER",
) -> Any:
    """One cell as values.get renders it (None = empty)."""
    cell = sheet.get_cell(row, col)
    if not cell or not cell.get("userEnteredValue"):
        return None
    value, evaluated = evaluator.effective(sheet, row, col)
    return render(
        cell["userEnteredValue"], value, display_format(cell, value), render_option, date_option, evaluated
    )


def is_error(value: Any) -> bool:
    return isinstance(value, Err)
