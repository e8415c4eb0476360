"""A small, safe formula engine: enough of Sheets' formulas to answer like Google.

Supported: numbers, strings, TRUE/FALSE, error literals, cell and range references
(``A1``, ``$B$2``, ``Sheet1!A1:B3``, ``'My Sheet'!A:A``, ``2:3``), named ranges, the
operators ``+ - * / ^ & % = <> < > <= >=`` and the functions in ``functions.py``.
Anything else (another function, array results) raises :class:`Unsupported`; the
emulator then stores the formula but renders its value as an empty string (it never
invents a result). Errors follow Sheets (``#DIV/0!``, ``#VALUE!``, ``#REF!``, ``#N/A``...).

It also rewrites references when rows/columns are inserted or deleted and when a sheet
is renamed, as Sheets does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .a1 import column_index, column_letters, parse_cells, quote_sheet_title


class Unsupported(Exception):
    """The formula uses something this engine does not evaluate."""


@dataclass(frozen=True)
class Err:
    """A Sheets error value: kind is the API's ErrorType, text what a cell shows."""

    kind: str
    text: str
    message: str


def err(kind: str, message: str) -> Err:
    texts = {
        "DIVIDE_BY_ZERO": "#DIV/0!",
        "VALUE": "#VALUE!",
        "REF": "#REF!",
        "NAME": "#NAME?",
        "NUM": "#NUM!",
        "N_A": "#N/A",
        "NULL_VALUE": "#NULL!",
        "ERROR": "#ERROR!",
    }
    return Err(kind, texts[kind], message)


ERROR_LITERALS = {
    "#DIV/0!": "DIVIDE_BY_ZERO",
    "#VALUE!": "VALUE",
    "#REF!": "REF",
    "#NAME?": "NAME",
    "#NUM!": "NUM",
    "#N/A": "N_A",
    "#NULL!": "NULL_VALUE",
    "#ERROR!": "ERROR",
}


@dataclass
class RangeValue:
    """The cells of a range, row by row (None for an empty cell); trailing empty rows
    and cells may be left out of ``rows``, ``height`` x ``width`` is the range's size."""

    rows: list[list[Any]]
    height: int = 0
    width: int = 0

    def flat(self) -> list[Any]:
        return [v for row in self.rows for v in row]

    @property
    def size(self) -> int:
        return self.height * self.width


class FormattedNumber(float):
    """A number that carries the format Sheets gives a result (TODAY() shows a date)."""

    number_format: dict[str, str]

    def __new__(cls, value: float, number_format: dict[str, str]) -> "FormattedNumber":
        number = super().__new__(cls, value)
        number.number_format = number_format
        return number


class Context(Protocol):
    def cell_value(self, sheet: str | None, row: int, col: int) -> Any: ...

    def range_values(
        self, sheet: str | None, r0: int, c0: int, r1: int | None, c1: int | None
    ) -> RangeValue: ...

    def named(self, name: str) -> tuple[str, int, int, int | None, int | None] | None: ...

    def now_serial(self) -> float: ...

    def current_row(self) -> int: ...


# -- tokens -------------------------------------------------------------------
_SHEET = r"(?:'(?:[^']|'')+'|[^\W\d][\w.]*)!"
_CELL = r"\$?[A-Za-z]{1,3}\$?[0-9]+"
_COL = r"\$?[A-Za-z]{1,3}"
_ROW = r"\$?[0-9]+"
# A1, A1:B2, A:C, 2:5, A2:C (open rows), A1:1 (open columns)
_REF_BODY = rf"(?:{_CELL}(?::{_CELL})?|{_COL}:{_COL}|{_ROW}:{_ROW}|{_CELL}:{_COL}|{_CELL}:{_ROW})"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"]|"")*")
  | (?P<error>\#(?:DIV/0!|VALUE!|REF!|NAME\?|NUM!|N/A|NULL!|ERROR!))
  | (?P<func>[A-Za-z_][\w.]*(?=\s*\())
  | (?P<ref>(?:{_SHEET})?{_REF_BODY}(?![\w(!]))
  | (?P<number>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>[^\W\d][\w.]*)
  | (?P<op><>|<=|>=|[-+*/^&=<>%])
  | (?P<punct>[(),;])
    """,
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str
    text: str
    start: int
    end: int


def tokenize(body: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(body):
        match = _TOKEN.match(body, pos)
        if not match:
            raise SyntaxError(body[pos:])
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), match.start(), match.end()))
        pos = match.end()
    return tokens


@dataclass(frozen=True)
class Ref:
    sheet: str | None
    r0: int
    c0: int
    r1: int | None  # exclusive; None = open
    c1: int | None
    single: bool


def _unquote_sheet(text: str) -> str:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return text


def parse_ref(text: str) -> Ref:
    sheet = None
    body = text
    if "!" in text:
        sheet_text, _, body = text.rpartition("!")
        sheet = _unquote_sheet(sheet_text)
    start_row, start_col, end_row, end_col = parse_cells(body.replace("$", ""))
    single = ":" not in body
    return Ref(sheet, start_row or 0, start_col or 0, end_row, end_col, single)


# -- parser (to a small AST of tuples) ------------------------------------------
class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise SyntaxError("unexpected end")
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise SyntaxError(f"expected {text}")

    def parse(self) -> tuple:
        node = self.comparison()
        if self.peek() is not None:
            raise SyntaxError("trailing tokens")
        return node

    def _binary(self, ops: set[str], sub: Callable[[], tuple]) -> tuple:
        node = sub()
        while (tok := self.peek()) is not None and tok.kind == "op" and tok.text in ops:
            self.take()
            node = ("bin", tok.text, node, sub())
        return node

    def comparison(self) -> tuple:
        return self._binary({"=", "<>", "<", ">", "<=", ">="}, self.concat)

    def concat(self) -> tuple:
        return self._binary({"&"}, self.additive)

    def additive(self) -> tuple:
        return self._binary({"+", "-"}, self.multiplicative)

    def multiplicative(self) -> tuple:
        return self._binary({"*", "/"}, self.power)

    def power(self) -> tuple:
        return self._binary({"^"}, self.unary)

    def unary(self) -> tuple:
        tok = self.peek()
        if tok is not None and tok.kind == "op" and tok.text in "+-":
            self.take()
            return ("neg", self.unary()) if tok.text == "-" else ("pos", self.unary())
        return self.postfix()

    def postfix(self) -> tuple:
        node = self.primary()
        while (tok := self.peek()) is not None and tok.text == "%":
            self.take()
            node = ("pct", node)
        return node

    def primary(self) -> tuple:
        tok = self.take()
        if tok.kind == "number":
            return ("num", float(tok.text))
        if tok.kind == "string":
            return ("str", tok.text[1:-1].replace('""', '"'))
        if tok.kind == "error":
            return ("err", err(ERROR_LITERALS[tok.text], f"Literal {tok.text}"))
        if tok.kind == "ref":
            return ("ref", parse_ref(tok.text))
        if tok.kind == "name":
            upper = tok.text.upper()
            if upper in ("TRUE", "FALSE"):
                return ("bool", upper == "TRUE")
            return ("name", tok.text)
        if tok.kind == "func":
            self.expect("(")
            args: list[tuple] = []
            if self.peek() is not None and self.peek().text == ")":  # type: ignore[union-attr]
                self.take()
                return ("call", tok.text.upper(), args)
            while True:
                if self.peek() is not None and self.peek().text in (",", ";"):  # type: ignore[union-attr]
                    args.append(("blank",))
                else:
                    args.append(self.comparison())
                sep = self.take()
                if sep.text == ")":
                    return ("call", tok.text.upper(), args)
                if sep.text not in (",", ";"):
                    raise SyntaxError("bad argument list")
        if tok.text == "(":
            node = self.comparison()
            self.expect(")")
            return node
        raise SyntaxError(tok.text)


def parse_formula(formula: str) -> tuple:
    """'=1+A1' -> AST; raises SyntaxError on text Sheets would mark #ERROR!."""
    body = formula[1:] if formula.startswith("=") else formula
    return _Parser(tokenize(body)).parse()


# -- evaluation -----------------------------------------------------------------
def general_text(value: float) -> str:
    """A number as Sheets' General format writes it ('2', '0.5', '0.3333333333')."""
    if value == 0:
        return "0"
    if not math.isfinite(value):
        return "#NUM!"
    magnitude = abs(value)
    if magnitude >= 1e15 or magnitude < 1e-9:
        mantissa, exponent = f"{value:.5E}".split("E")
        mantissa = mantissa.rstrip("0").rstrip(".")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}E{sign}{int(exponent[1:]):02d}"
    if float(value).is_integer():
        return str(int(value))
    digits_before = max(1, int(math.floor(math.log10(magnitude))) + 1) if magnitude >= 1 else 0
    leading_zeros = 0 if magnitude >= 1 else -int(math.floor(math.log10(magnitude))) - 1
    decimals = max(0, 10 - digits_before) + leading_zeros
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text or "0"


def to_number(value: Any) -> float | Err:
    if isinstance(value, Err):
        return value
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip().replace(",", "")
        try:
            return float(text) if text else 0.0
        except ValueError:
            return err(
                "VALUE",
                f"Function expects number values. But '{value}' is a text and cannot be coerced to a number.",
            )
    if isinstance(value, RangeValue):
        raise Unsupported("array arithmetic")
    return err("VALUE", "Unexpected value")


def to_text(value: Any) -> str | Err:
    if isinstance(value, Err):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return general_text(value)
    if isinstance(value, RangeValue):
        raise Unsupported("array text")
    return str(value)


def to_bool(value: Any) -> bool | Err:
    if isinstance(value, Err):
        return value
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        return value != 0
    if isinstance(value, str):
        if value.upper() in ("TRUE", "FALSE"):
            return value.upper() == "TRUE"
        return err(
            "VALUE",
            f"Function expects boolean values. But '{value}' is a text and cannot be coerced to a boolean.",
        )
    raise Unsupported("array logic")


def _compare(op: str, left: Any, right: Any) -> bool:
    def rank(v: Any) -> tuple[int, Any]:
        if v is None:
            return (0, 0.0)
        if isinstance(v, bool):
            return (3, v)
        if isinstance(v, float):
            return (1, v)
        return (2, str(v).lower())

    if left is None and isinstance(right, str):
        left = ""
    if right is None and isinstance(left, str):
        right = ""
    if left is None and isinstance(right, bool):
        left = False
    if right is None and isinstance(left, bool):
        right = False
    a, b = rank(left), rank(right)
    if a[0] == 0 and b[0] == 1:
        a = (1, 0.0)
    if b[0] == 0 and a[0] == 1:
        b = (1, 0.0)
    return {"=": a == b, "<>": a != b, "<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


class Evaluator:
    """Evaluates one AST against a Context."""

    def __init__(self, context: Context, sheet: str) -> None:
        self.context = context
        self.sheet = sheet

    def value(self, node: tuple) -> Any:
        result = self.eval(node)
        if isinstance(result, RangeValue):
            raise Unsupported("array result")
        return result

    def eval(self, node: tuple) -> Any:
        kind = node[0]
        if kind in ("num", "str", "bool", "err"):
            return node[1]
        if kind == "blank":
            return None
        if kind == "ref":
            ref: Ref = node[1]
            sheet = ref.sheet if ref.sheet is not None else self.sheet
            if ref.single:
                return self.context.cell_value(sheet, ref.r0, ref.c0)
            return self.context.range_values(sheet, ref.r0, ref.c0, ref.r1, ref.c1)
        if kind == "name":
            target = self.context.named(node[1])
            if target is None:
                return err("NAME", f"Unknown range name: '{node[1].upper()}'.")
            sheet, r0, c0, r1, c1 = target
            if r1 == r0 + 1 and c1 == c0 + 1:
                return self.context.cell_value(sheet, r0, c0)
            return self.context.range_values(sheet, r0, c0, r1, c1)
        if kind == "neg":
            number = to_number(self.value(node[1]))
            return number if isinstance(number, Err) else -number
        if kind == "pos":
            return self.value(node[1])
        if kind == "pct":
            number = to_number(self.value(node[1]))
            return number if isinstance(number, Err) else number / 100
        if kind == "bin":
            return self.binary(node[1], self.value(node[2]), self.value(node[3]))
        if kind == "call":
            from .functions import FUNCTIONS

            function = FUNCTIONS.get(node[1])
            if function is None:
                raise Unsupported(f"function {node[1]}")
            return function(self, node[2])
        raise Unsupported(kind)

    def binary(self, op: str, left: Any, right: Any) -> Any:
        if isinstance(left, Err):
            return left
        if isinstance(right, Err):
            return right
        if op == "&":
            a, b = to_text(left), to_text(right)
            return a if isinstance(a, Err) else b if isinstance(b, Err) else a + b
        if op in ("=", "<>", "<", ">", "<=", ">="):
            return _compare(op, left, right)
        a, b = to_number(left), to_number(right)
        if isinstance(a, Err):
            return a
        if isinstance(b, Err):
            return b
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                return err("DIVIDE_BY_ZERO", "Function DIVIDE parameter 2 cannot be zero.")
            return a / b
        try:
            result = a**b
        except (OverflowError, ZeroDivisionError):
            return err("NUM", "Function POW caused a number overflow.")
        if isinstance(result, complex):
            return err("NUM", "Function POW parameter 1 value is negative.")
        return float(result)

    def numbers(self, args: list[tuple]) -> list[float] | Err:
        """Arguments as numbers: ranges skip text/booleans/blanks, direct values coerce."""
        out: list[float] = []
        for arg in args:
            value = self.eval(arg)
            if isinstance(value, RangeValue):
                for item in value.flat():
                    if isinstance(item, Err):
                        return item
                    if isinstance(item, float):
                        out.append(item)
                continue
            number = to_number(value)
            if isinstance(number, Err):
                return number
            out.append(number)
        return out


def evaluate(formula: str, context: Context, sheet: str) -> Any:
    """Evaluate '=...' -> float | str | bool | Err | None; raises Unsupported."""
    try:
        tree = parse_formula(formula)
    except SyntaxError:
        return err("ERROR", "Formula parse error.")
    return Evaluator(context, sheet).value(tree)


# -- reference rewriting ---------------------------------------------------------
def _format_endpoint(col: int | None, row: int | None, text: str) -> str:
    """Rebuild one endpoint keeping the $ markers of the original text."""
    m = re.match(r"^(\$?)([A-Za-z]{1,3})?(\$?)([0-9]+)?$", text)
    assert m
    out = ""
    if col is not None:
        out += m.group(1) + column_letters(col)
    if row is not None:
        out += m.group(3) + str(row + 1)
    return out


def _shift_ref_text(text: str, dim: str, start: int, delta: int) -> str:
    """Shift one reference token; '#REF!' when every cell it names was deleted."""
    prefix = ""
    body = text
    if "!" in text:
        sheet_text, _, body = text.rpartition("!")
        prefix = sheet_text + "!"
    parts = body.split(":")
    coords = []
    for part in parts:
        m = re.match(r"^\$?([A-Za-z]{1,3})?\$?([0-9]+)?$", part)
        assert m
        coords.append(
            [column_index(m.group(1)) if m.group(1) else None, int(m.group(2)) - 1 if m.group(2) else None]
        )
    axis = 1 if dim == "ROWS" else 0
    if delta > 0:
        for coord in coords:
            if coord[axis] is not None and coord[axis] >= start:
                coord[axis] += delta
    else:
        end = start - delta
        values = [c[axis] for c in coords if c[axis] is not None]
        if values:
            low, high = min(values), max(values)
            if low >= start and high < end:
                return prefix + "#REF!"
            new_low = low if low < start else (start if low < end else low + delta)
            new_high = high if high < start else (start - 1 if high < end else high + delta)
            for coord in coords:
                if coord[axis] is not None:
                    coord[axis] = new_low if coord[axis] == low else new_high
    return prefix + ":".join(_format_endpoint(c[0], c[1], p) for c, p in zip(coords, parts))


def rewrite_references(
    formula: str,
    formula_sheet: str,
    changed_sheet: str,
    dim: str,
    start: int,
    delta: int,
) -> str:
    """Adjust references to ``changed_sheet`` after inserting (delta>0) or deleting
    (delta<0) ``abs(delta)`` rows/columns at ``start``."""
    try:
        tokens = tokenize(formula[1:])
    except SyntaxError:
        return formula
    out = []
    last = 0
    body = formula[1:]
    for token in tokens:
        if token.kind != "ref":
            continue
        ref = parse_ref(token.text)
        target = ref.sheet if ref.sheet is not None else formula_sheet
        if target.lower() != changed_sheet.lower():
            continue
        out.append(body[last : token.start])
        out.append(_shift_ref_text(token.text, dim, start, delta))
        last = token.end
    out.append(body[last:])
    return "=" + "".join(out)


def rename_sheet_references(formula: str, old: str, new: str) -> str:
    """Point references at a renamed sheet to its new title."""
    try:
        tokens = tokenize(formula[1:])
    except SyntaxError:
        return formula
    body = formula[1:]
    out = []
    last = 0
    for token in tokens:
        if token.kind != "ref" or "!" not in token.text:
            continue
        sheet_text, _, cells = token.text.rpartition("!")
        if _unquote_sheet(sheet_text).lower() != old.lower():
            continue
        out.append(body[last : token.start])
        out.append(f"{quote_sheet_title(new)}!{cells}")
        last = token.end
    out.append(body[last:])
    return "=" + "".join(out)
