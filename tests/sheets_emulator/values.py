"""Sheets v4 ``spreadsheets.values.*``: get, batchGet, update, batchUpdate, append,
clear, batchClear.

Grid rules as Google applies them: a range that starts at or past the sheet's last row
or column is a 400 ``exceeds grid limits``; a read or clear that ends past the grid is
cut to the grid; a write that would go past its range or the grid is a 400
``Requested writing within range [...]``; only ``append`` grows the grid. Answers drop
trailing empty rows and cells and leave ``values`` out of an empty range.
"""

from __future__ import annotations

from typing import Any

from .a1 import column_letters, format_range
from .call import Call, check_enum
from .cell_values import input_value
from .errors import CELL_TOO_LONG, ApiError, invalid_argument
from .evaluation import BookEvaluator, render_cell
from .protection import check_edit
from .store import Sheet, Spreadsheet, require_in_grid
from .tables import find_table

RENDER_OPTIONS = ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA")
DATE_OPTIONS = ("SERIAL_NUMBER", "FORMATTED_STRING")
DIMENSIONS = ("DIMENSION_UNSPECIFIED", "ROWS", "COLUMNS")
INPUT_OPTIONS = ("INPUT_VALUE_OPTION_UNSPECIFIED", "RAW", "USER_ENTERED")
INSERT_OPTIONS = ("OVERWRITE", "INSERT_ROWS")
MAX_CELL_CHARS = 50_000


# -- ranges -------------------------------------------------------------------------
def read_bounds(book: Spreadsheet, text: str, prefix: str = "") -> tuple[Sheet, int, int, int, int]:
    """Resolve a range for reading or clearing: start inside the grid, end cut to it."""
    try:
        sheet, rng = book.resolve_range(text)
    except ApiError as error:
        error.message = prefix + error.message
        raise
    r0, c0 = rng.start_row or 0, rng.start_col or 0
    require_in_grid(sheet, r0, c0, format_range(sheet.title, r0, c0, rng.end_row, rng.end_col), prefix)
    r1 = sheet.row_count if rng.end_row is None else min(rng.end_row, sheet.row_count)
    c1 = sheet.column_count if rng.end_col is None else min(rng.end_col, sheet.column_count)
    return sheet, r0, c0, r1, c1


def dimension(value: Any, name: str = "majorDimension") -> str:
    major = check_enum(name, value, DIMENSIONS, "ROWS")
    return "ROWS" if major == "DIMENSION_UNSPECIFIED" else major


def input_option(value: Any) -> str:
    option = check_enum("valueInputOption", value, INPUT_OPTIONS, "INPUT_VALUE_OPTION_UNSPECIFIED")
    if option == "INPUT_VALUE_OPTION_UNSPECIFIED":
        raise invalid_argument("Invalid valueInputOption: INPUT_VALUE_OPTION_UNSPECIFIED")
    return option


# -- reading ------------------------------------------------------------------------
def grid_values(
    evaluator: BookEvaluator,
    sheet: Sheet,
    r0: int,
    c0: int,
    r1: int,
    c1: int,
    major: str,
    render_option: str,
    date_option: str,
) -> list[list[Any]]:
    """Rendered values, trailing empty rows/cells dropped, inner gaps as ''/[]."""
    found: dict[tuple[int, int], Any] = {}
    for row in sorted(r for r in sheet.cells if r0 <= r < r1):
        for col in sheet.cells[row]:
            if c0 <= col < c1:
                value = render_cell(evaluator, sheet, row, col, render_option, date_option)
                if value is not None:
                    found[(row - r0, col - c0)] = value
    if major == "COLUMNS":
        found = {(c, r): v for (r, c), v in found.items()}
    if not found:
        return []
    lines: list[list[Any]] = [[] for _ in range(max(r for r, _ in found) + 1)]
    widths: dict[int, int] = {}
    for r, c in found:
        widths[r] = max(widths.get(r, 0), c + 1)
    for r, width in widths.items():
        lines[r] = [found.get((r, c), "") for c in range(width)]
    return lines


def value_range(
    evaluator: BookEvaluator,
    sheet: Sheet,
    bounds: tuple[int, int, int, int],
    major: str,
    render_option: str,
    date_option: str,
) -> dict[str, Any]:
    r0, c0, r1, c1 = bounds
    answer: dict[str, Any] = {"range": format_range(sheet.title, r0, c0, r1, c1), "majorDimension": major}
    rows = grid_values(evaluator, sheet, r0, c0, r1, c1, major, render_option, date_option)
    if rows:
        answer["values"] = rows
    return answer


def get(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    major = dimension(call.param("majorDimension"))
    render_option = call.enum("valueRenderOption", RENDER_OPTIONS, "FORMATTED_VALUE")
    date_option = call.enum("dateTimeRenderOption", DATE_OPTIONS, "SERIAL_NUMBER")
    sheet, r0, c0, r1, c1 = read_bounds(book, call.path_args["range"])
    return value_range(BookEvaluator(book), sheet, (r0, c0, r1, c1), major, render_option, date_option)


def batch_get(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    major = dimension(call.param("majorDimension"))
    render_option = call.enum("valueRenderOption", RENDER_OPTIONS, "FORMATTED_VALUE")
    date_option = call.enum("dateTimeRenderOption", DATE_OPTIONS, "SERIAL_NUMBER")
    evaluator = BookEvaluator(book)
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    ranges = []
    for text in call.params("ranges"):
        sheet, r0, c0, r1, c1 = read_bounds(book, text)
        ranges.append(value_range(evaluator, sheet, (r0, c0, r1, c1), major, render_option, date_option))
    if ranges:
        answer["valueRanges"] = ranges
    return answer


# -- writing ------------------------------------------------------------------------
class Write:
    """A validated write: the cells to set and Google's update statistics."""

    def __init__(self, sheet: Sheet, row: int, col: int, grid: list[list[Any]]) -> None:
        self.sheet = sheet
        self.row = row
        self.col = col
        self.grid = grid
        self.height = len(grid)
        self.width = max((len(line) for line in grid), default=0)

    def cells(self) -> list[tuple[int, int, Any]]:
        return [
            (self.row + i, self.col + j, value)
            for i, line in enumerate(self.grid)
            for j, value in enumerate(line)
            if value is not None
        ]

    def stats(self, spreadsheet_id: str) -> dict[str, Any]:
        cells = self.cells()
        answer: dict[str, Any] = {"spreadsheetId": spreadsheet_id}
        if self.height and self.width:
            answer["updatedRange"] = format_range(
                self.sheet.title, self.row, self.col, self.row + self.height, self.col + self.width
            )
        rows = len({r for r, _, _ in cells})
        cols = len({c for _, c, _ in cells})
        for key, value in (("updatedRows", rows), ("updatedColumns", cols), ("updatedCells", len(cells))):
            if value:
                answer[key] = value
        return answer


def check_values(values: Any, major: str, prefix: str = "") -> list[list[Any]]:
    """Validate ValueRange.values and return it row-major."""
    if values is None:
        return []
    if not isinstance(values, list):
        raise invalid_argument(
            f"{prefix}Invalid value at 'values' (type.googleapis.com/google.protobuf.ListValue)"
        )
    grid: list[list[Any]] = []
    for i, line in enumerate(values):
        if not isinstance(line, list):
            raise invalid_argument(f"{prefix}Invalid values[{i}]: {_kind(line)}")
        for j, value in enumerate(line):
            if isinstance(value, (list, dict)):
                raise invalid_argument(f"{prefix}Invalid values[{i}][{j}]: {_kind(value)}")
            if isinstance(value, str) and len(value) > MAX_CELL_CHARS:
                raise invalid_argument(CELL_TOO_LONG)
        grid.append(list(line))
    if major == "COLUMNS":
        height = max((len(line) for line in grid), default=0)
        grid = [[line[r] if r < len(line) else None for line in grid] for r in range(height)]
    return grid


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list_value {" + ", ".join(repr(v) for v in value)[:60] + "}"
    if isinstance(value, dict):
        return "struct_value {" + ", ".join(value)[:60] + "}"
    return f"{type(value).__name__}_value"


def plan_write(book: Spreadsheet, text: str, values: Any, major: str, user: str, prefix: str = "") -> Write:
    """Where values.update writes, refusing anything outside the range or the grid."""
    try:
        sheet, rng = book.resolve_range(text)
    except ApiError as error:
        error.message = prefix + error.message
        raise
    grid = check_values(values, major, prefix)
    r0, c0 = rng.start_row or 0, rng.start_col or 0
    require_in_grid(sheet, r0, c0, format_range(sheet.title, r0, c0, rng.end_row, rng.end_col), prefix)
    write = Write(sheet, r0, c0, grid)
    single = not rng.whole_sheet and rng.end_row == r0 + 1 and rng.end_col == c0 + 1
    max_row = sheet.row_count if single or rng.end_row is None else min(rng.end_row, sheet.row_count)
    max_col = sheet.column_count if single or rng.end_col is None else min(rng.end_col, sheet.column_count)
    if r0 + write.height > max_row:
        raise invalid_argument(
            f"{prefix}Requested writing within range [{text}], but tried writing to row [{max_row + 1}]"
        )
    if c0 + write.width > max_col:
        raise invalid_argument(
            f"{prefix}Requested writing within range [{text}], but tried writing to column "
            f"[{column_letters(max_col)}]"
        )
    check_write_protection(book, write, user, prefix)
    return write


def check_write_protection(book: Spreadsheet, write: Write, user: str, prefix: str = "") -> None:
    cells = write.cells()
    if cells:
        rows = [r for r, _, _ in cells]
        cols = [c for _, c, _ in cells]
        check_edit(book, write.sheet, (min(rows), min(cols), max(rows) + 1, max(cols) + 1), user, prefix)


def same_range(book: Spreadsheet, first: str, second: str) -> bool:
    sheet_a, a = book.resolve_range(first)
    sheet_b, b = book.resolve_range(second)
    return (sheet_a.sheet_id, a.start_row, a.start_col, a.end_row, a.end_col) == (
        sheet_b.sheet_id,
        b.start_row,
        b.start_col,
        b.end_row,
        b.end_col,
    )


def apply_write(write: Write, option: str) -> None:
    for row, col, value in write.cells():
        put_value(write.sheet, row, col, value, option)


def put_value(sheet: Sheet, row: int, col: int, value: Any, option: str) -> None:
    """Store one input value, keeping the cell's format and note."""
    user_value, suggested = input_value(value, option)
    old = sheet.get_cell(row, col) or {}
    cell = {k: v for k, v in old.items() if k != "userEnteredValue"}
    if user_value is not None:
        cell["userEnteredValue"] = user_value
        fmt = cell.get("userEnteredFormat") or {}
        if suggested and not fmt.get("numberFormat"):
            cell["userEnteredFormat"] = {**fmt, "numberFormat": suggested}
    sheet.set_cell(row, col, cell)


def response_options(source: dict[str, Any]) -> tuple[str, str]:
    """(render, dateTime) options for updatedData, from a query or a request body."""
    render_option = check_enum(
        "responseValueRenderOption",
        source.get("responseValueRenderOption"),
        RENDER_OPTIONS,
        "FORMATTED_VALUE",
    )
    date_option = check_enum(
        "responseDateTimeRenderOption",
        source.get("responseDateTimeRenderOption"),
        DATE_OPTIONS,
        "SERIAL_NUMBER",
    )
    return render_option, date_option


def query_options(call: Call) -> dict[str, Any]:
    return {key: call.param(key) for key in ("responseValueRenderOption", "responseDateTimeRenderOption")}


def updated_data(book: Spreadsheet, write: Write, options: tuple[str, str]) -> dict[str, Any]:
    """The written cells as they now read (includeValuesInResponse)."""
    bounds = (write.row, write.col, write.row + max(write.height, 1), write.col + max(write.width, 1))
    return value_range(BookEvaluator(book), write.sheet, bounds, "ROWS", *options)


def update(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    body = call.body_dict()
    option = input_option(call.param("valueInputOption"))
    include = call.flag("includeValuesInResponse")
    major = dimension(body.get("majorDimension"))
    text = call.path_args["range"]
    if body.get("range") not in (None, "", text) and not same_range(book, text, body["range"]):
        raise invalid_argument(
            f"Requested range [{text}] and the range of the ValueRange [{body['range']}] do not match."
        )
    write = plan_write(book, text, body.get("values"), major, call.user)
    apply_write(write, option)
    answer = write.stats(book.id)
    if include:
        answer["updatedData"] = updated_data(book, write, response_options(query_options(call)))
    return answer


def batch_update(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    body = call.body_dict()
    option = input_option(body.get("valueInputOption"))
    writes = []
    for index, data in enumerate(body.get("data") or []):
        major = dimension(data.get("majorDimension"))
        if not data.get("range"):
            raise invalid_argument(f"Invalid data[{index}]: Unable to parse range: ")
        writes.append(
            plan_write(
                book, data["range"], data.get("values"), major, call.user, prefix=f"Invalid data[{index}]: "
            )
        )
    for write in writes:
        apply_write(write, option)
    responses = [w.stats(book.id) for w in writes]
    if body.get("includeValuesInResponse"):
        for write, response in zip(writes, responses):
            response["updatedData"] = updated_data(book, write, response_options(body))
    rows = {(w.sheet.sheet_id, r) for w in writes for r, _, _ in w.cells()}
    cols = {(w.sheet.sheet_id, c) for w in writes for _, c, _ in w.cells()}
    cells = sum(len(w.cells()) for w in writes)
    sheets = {w.sheet.sheet_id for w in writes if w.cells()}
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    for key, value in (
        ("totalUpdatedRows", len(rows)),
        ("totalUpdatedColumns", len(cols)),
        ("totalUpdatedCells", cells),
        ("totalUpdatedSheets", len(sheets)),
    ):
        if value:
            answer[key] = value
    if responses:
        answer["responses"] = responses
    return answer


def append(call: Call) -> dict[str, Any]:
    from .dimensions import grow_grid, insert_dimension  # local: dimensions imports values helpers

    book = call.book
    assert book is not None
    body = call.body_dict()
    option = input_option(call.param("valueInputOption"))
    insert = call.enum("insertDataOption", INSERT_OPTIONS, "OVERWRITE")
    include = call.flag("includeValuesInResponse")
    major = dimension(body.get("majorDimension"))
    text = call.path_args["range"]
    sheet, r0, c0, r1, c1 = read_bounds(book, text)
    grid = check_values(body.get("values"), major)
    table = find_table(sheet, r0, c0, r1, c1)
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    if table is None:
        row, col = r0, c0
    else:
        top, left, bottom, right = table
        answer["tableRange"] = format_range(sheet.title, top, left, bottom, right)
        row, col = bottom, left
    write = Write(sheet, row, col, grid)
    check_write_protection(book, write, call.user)
    if write.height and write.width:
        if insert == "INSERT_ROWS":
            book.check_cell_limit(write.height * sheet.column_count)
            insert_dimension(book, sheet, "ROWS", row, row + write.height, inherit_from_before=row > 0)
        extra_rows = max(0, row + write.height - sheet.row_count)
        extra_cols = max(0, col + write.width - sheet.column_count)
        if extra_rows or extra_cols:
            grow_grid(book, sheet, extra_rows, extra_cols)
    apply_write(write, option)
    answer["updates"] = write.stats(book.id)
    if include:
        answer["updates"]["updatedData"] = updated_data(book, write, response_options(query_options(call)))
    return answer


def clear_cells(sheet: Sheet, r0: int, c0: int, r1: int, c1: int) -> None:
    """Remove values (formats and notes stay), as values.clear does."""
    for row in [r for r in sheet.cells if r0 <= r < r1]:
        for col in [c for c in sheet.cells[row] if c0 <= c < c1]:
            cell = sheet.get_cell(row, col) or {}
            sheet.set_cell(row, col, {k: v for k, v in cell.items() if k != "userEnteredValue"})


def clear(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    sheet, r0, c0, r1, c1 = read_bounds(book, call.path_args["range"])
    check_edit(book, sheet, (r0, c0, r1, c1), call.user)
    clear_cells(sheet, r0, c0, r1, c1)
    return {"spreadsheetId": book.id, "clearedRange": format_range(sheet.title, r0, c0, r1, c1)}


def batch_clear(call: Call) -> dict[str, Any]:
    book = call.book
    assert book is not None
    targets = [
        read_bounds(book, text, prefix=f"Invalid range[{i}]: ")
        for i, text in enumerate(call.body_dict().get("ranges") or [])
    ]
    for index, (sheet, r0, c0, r1, c1) in enumerate(targets):
        check_edit(book, sheet, (r0, c0, r1, c1), call.user, prefix=f"Invalid range[{index}]: ")
    for sheet, r0, c0, r1, c1 in targets:
        clear_cells(sheet, r0, c0, r1, c1)
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    if targets:
        answer["clearedRanges"] = [format_range(s.title, r0, c0, r1, c1) for s, r0, c0, r1, c1 in targets]
    return answer
