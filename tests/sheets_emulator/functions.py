"""The spreadsheet functions the formula engine evaluates.

Numbers: SUM AVERAGE MIN MAX PRODUCT COUNT COUNTA COUNTBLANK COUNTIF SUMIF ROUND
ROUNDUP ROUNDDOWN ABS INT MOD VALUE. Logic: IF IFERROR AND OR NOT ISBLANK ISNUMBER
ISTEXT. Text: CONCATENATE CONCAT LEN UPPER LOWER TRIM LEFT RIGHT MID TEXT HYPERLINK
REGEXMATCH. Position: ROW.
Dates: TODAY NOW DATE (in the spreadsheet's time zone, shown as dates). Lookup:
VLOOKUP. Any other function is not evaluated (see formula.Unsupported).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, Callable

from .formula import (
    Err,
    Evaluator,
    FormattedNumber,
    RangeValue,
    Unsupported,
    err,
    to_bool,
    to_number,
    to_text,
)


def _numeric(fn: Callable[[list[float]], Any]) -> Callable[[Evaluator, list[tuple]], Any]:
    def call(ev: Evaluator, args: list[tuple]) -> Any:
        numbers = ev.numbers(args)
        return numbers if isinstance(numbers, Err) else fn(numbers)

    return call


def _average(numbers: list[float]) -> Any:
    if not numbers:
        return err("DIVIDE_BY_ZERO", "Evaluation of function AVERAGE caused a divide by zero error.")
    return sum(numbers) / len(numbers)


def _count(ev: Evaluator, args: list[tuple], any_value: bool) -> float:
    total = 0
    for arg in args:
        value = ev.eval(arg)
        items = value.flat() if isinstance(value, RangeValue) else [value]
        for item in items:
            if any_value:
                total += item is not None and item != ""
            else:
                total += isinstance(item, float) and not isinstance(item, bool)
    return float(total)


def _if(ev: Evaluator, args: list[tuple]) -> Any:
    if not 1 < len(args) <= 3:
        return err("N_A", "Wrong number of arguments to IF.")
    condition = to_bool(ev.value(args[0]))
    if isinstance(condition, Err):
        return condition
    if condition:
        return ev.value(args[1])
    return ev.value(args[2]) if len(args) == 3 else False


def _iferror(ev: Evaluator, args: list[tuple]) -> Any:
    value = ev.value(args[0])
    if isinstance(value, Err):
        return ev.value(args[1]) if len(args) > 1 else None
    return value


def _logic(combine: Callable[[list[bool]], bool]) -> Callable[[Evaluator, list[tuple]], Any]:
    def call(ev: Evaluator, args: list[tuple]) -> Any:
        flags: list[bool] = []
        for arg in args:
            value = ev.eval(arg)
            items = value.flat() if isinstance(value, RangeValue) else [value]
            for item in items:
                if isinstance(item, RangeValue):
                    raise Unsupported("nested range")
                if item is None and isinstance(value, RangeValue):
                    continue  # blanks in a range are skipped
                flag = to_bool(item)
                if isinstance(flag, Err):
                    return flag
                flags.append(flag)
        return combine(flags)

    return call


def _text_fn(fn: Callable[..., Any], arity: tuple[int, int]) -> Callable[[Evaluator, list[tuple]], Any]:
    def call(ev: Evaluator, args: list[tuple]) -> Any:
        if not arity[0] <= len(args) <= arity[1]:
            return err("N_A", "Wrong number of arguments.")
        text = to_text(ev.value(args[0]))
        if isinstance(text, Err):
            return text
        rest = []
        for arg in args[1:]:
            number = to_number(ev.value(arg))
            if isinstance(number, Err):
                return number
            rest.append(int(number))
        return fn(text, *rest)

    return call


def _concat(ev: Evaluator, args: list[tuple]) -> Any:
    parts: list[str] = []
    for arg in args:
        value = ev.eval(arg)
        items = value.flat() if isinstance(value, RangeValue) else [value]
        for item in items:
            text = to_text(item)
            if isinstance(text, Err):
                return text
            parts.append(text)
    return "".join(parts)


def _round_with(mode: str) -> Callable[[Evaluator, list[tuple]], Any]:
    def call(ev: Evaluator, args: list[tuple]) -> Any:
        numbers = [to_number(ev.value(a)) for a in args]
        for number in numbers:
            if isinstance(number, Err):
                return number
        value = numbers[0]
        places = int(numbers[1]) if len(numbers) > 1 else 0
        factor = 10.0**places
        scaled = value * factor
        if mode == "half":
            rounded = math.floor(abs(scaled) + 0.5) * (1 if scaled >= 0 else -1)
        elif mode == "up":
            rounded = math.ceil(abs(scaled) - 1e-12) * (1 if scaled >= 0 else -1)
        else:
            rounded = math.floor(abs(scaled) + 1e-12) * (1 if scaled >= 0 else -1)
        return rounded / factor

    return call


def _one_number(fn: Callable[[float], Any]) -> Callable[[Evaluator, list[tuple]], Any]:
    def call(ev: Evaluator, args: list[tuple]) -> Any:
        if len(args) != 1:
            return err("N_A", "Wrong number of arguments.")
        number = to_number(ev.value(args[0]))
        return number if isinstance(number, Err) else fn(number)

    return call


def _mod(ev: Evaluator, args: list[tuple]) -> Any:
    a, b = (to_number(ev.value(x)) for x in args[:2])
    if isinstance(a, Err):
        return a
    if isinstance(b, Err):
        return b
    if b == 0:
        return err("DIVIDE_BY_ZERO", "Function MOD parameter 2 cannot be zero.")
    return a - b * math.floor(a / b)


def _isblank(ev: Evaluator, args: list[tuple]) -> Any:
    return ev.eval(args[0]) is None


FUNCTIONS: dict[str, Callable[[Evaluator, list[tuple]], Any]] = {
    "SUM": _numeric(lambda n: float(sum(n))),
    "AVERAGE": _numeric(_average),
    "MIN": _numeric(lambda n: min(n) if n else 0.0),
    "MAX": _numeric(lambda n: max(n) if n else 0.0),
    "PRODUCT": _numeric(lambda n: float(math.prod(n)) if n else 0.0),
    "COUNT": lambda ev, args: _count(ev, args, any_value=False),
    "COUNTA": lambda ev, args: _count(ev, args, any_value=True),
    "IF": _if,
    "IFERROR": _iferror,
    "AND": _logic(all),
    "OR": _logic(any),
    "NOT": lambda ev, args: (lambda b: b if isinstance(b, Err) else not b)(to_bool(ev.value(args[0]))),
    "CONCATENATE": _concat,
    "CONCAT": _concat,
    "LEN": _text_fn(lambda t: float(len(t)), (1, 1)),
    "UPPER": _text_fn(str.upper, (1, 1)),
    "LOWER": _text_fn(str.lower, (1, 1)),
    "TRIM": _text_fn(lambda t: re.sub(" +", " ", t).strip(), (1, 1)),
    "LEFT": _text_fn(lambda t, n=1: t[:n], (1, 2)),
    "RIGHT": _text_fn(lambda t, n=1: t[-n:] if n else "", (1, 2)),
    "MID": _text_fn(lambda t, s, n: t[s - 1 : s - 1 + n], (3, 3)),
    "ROUND": _round_with("half"),
    "ROUNDUP": _round_with("up"),
    "ROUNDDOWN": _round_with("down"),
    "ABS": _one_number(abs),
    "INT": _one_number(lambda x: float(math.floor(x))),
    "MOD": _mod,
    "ISBLANK": _isblank,
}


# -- added: dates, text, conditional counts, lookup ----------------------------------------
DATE_FORMAT = {"type": "DATE", "pattern": "M/d/yyyy"}
DATE_TIME_FORMAT = {"type": "DATE_TIME", "pattern": "M/d/yyyy H:mm:ss"}
EPOCH = datetime(1899, 12, 30)


def _today(ev: Evaluator, args: list[tuple]) -> Any:
    return FormattedNumber(math.floor(ev.context.now_serial()), DATE_FORMAT)


def _now(ev: Evaluator, args: list[tuple]) -> Any:
    return FormattedNumber(ev.context.now_serial(), DATE_TIME_FORMAT)


def _date(ev: Evaluator, args: list[tuple]) -> Any:
    if len(args) != 3:
        return err("N_A", "Wrong number of arguments to DATE.")
    parts = [to_number(ev.value(a)) for a in args]
    for part in parts:
        if isinstance(part, Err):
            return part
    year, month, day = (int(p) for p in parts)  # type: ignore[arg-type]
    if year < 1900:
        year += 1900
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    try:
        serial = (datetime(year, month, 1) - EPOCH).days + day - 1
    except ValueError:
        return err("NUM", "DATE evaluates to an out of range value.")
    return FormattedNumber(float(serial), DATE_FORMAT)


def _text(ev: Evaluator, args: list[tuple]) -> Any:
    from .cell_values import format_number

    if len(args) != 2:
        return err("N_A", "Wrong number of arguments to TEXT.")
    value = ev.value(args[0])
    pattern = to_text(ev.value(args[1]))
    if isinstance(pattern, Err):
        return pattern
    number = to_number(value)
    if isinstance(number, Err):
        return to_text(value)
    return format_number(number, {"type": "NUMBER", "pattern": pattern})


def _hyperlink(ev: Evaluator, args: list[tuple]) -> Any:
    if not 1 <= len(args) <= 2:
        return err("N_A", "Wrong number of arguments to HYPERLINK.")
    return ev.value(args[-1])


_DATE_TEXT = re.compile(
    r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$"
)


def _value(ev: Evaluator, args: list[tuple]) -> Any:
    """A number, or a date (and time) written as text ("2025-05-14 10:05") as its serial."""
    value = ev.value(args[0])
    number = to_number(value)
    if isinstance(number, Err) and isinstance(value, str):
        match = _DATE_TEXT.match(value)
        if match:
            year, month, day, hour, minute, second = (int(p or 0) for p in match.groups())
            try:
                moment = datetime(year, month, day, hour, minute, second)
            except ValueError:
                return number
            delta = moment - datetime(1899, 12, 30)
            return delta.days + delta.seconds / 86400
    return number


def _regexmatch(ev: Evaluator, args: list[tuple]) -> Any:
    """REGEXMATCH(text, regular_expression): Google's RE2; Python's re agrees on the common
    syntax ((?i), classes, alternation, anchors)."""
    if len(args) != 2:
        return err("N_A", "Wrong number of arguments to REGEXMATCH.")
    text, pattern = to_text(ev.value(args[0])), to_text(ev.value(args[1]))
    for part in (text, pattern):
        if isinstance(part, Err):
            return part
    try:
        return re.search(pattern, text) is not None  # type: ignore[arg-type]
    except re.error:
        return err("REF", f"Function REGEXMATCH parameter 2 value \"{pattern}\" is not a valid regular expression.")


def _row(ev: Evaluator, args: list[tuple]) -> Any:
    """ROW(): the row of the cell being evaluated; ROW(A5): 5."""
    if not args:
        return float(ev.context.current_row())
    if args[0][0] == "ref":
        return float(args[0][1].r0 + 1)
    return err("N_A", "Argument must be a range.")


def _criterion(value: Any) -> Callable[[Any], bool]:
    """COUNTIF/SUMIF criteria: 5, "5", ">5", "<>done", "Open", "O*"."""
    op, operand = "=", value
    if isinstance(value, str):
        match = re.match(r"^(<=|>=|<>|<|>|=)?(.*)$", value, re.S)
        assert match
        op, operand = match.group(1) or "=", match.group(2)
        try:
            operand = float(operand)
        except ValueError:
            pass
    if isinstance(operand, float) and not isinstance(operand, bool):
        number = operand

        def numeric(item: Any) -> bool:
            if not isinstance(item, float) or isinstance(item, bool):
                return op == "<>"
            return {
                "=": item == number,
                "<>": item != number,
                "<": item < number,
                ">": item > number,
                "<=": item <= number,
                ">=": item >= number,
            }[op]

        return numeric
    text = str(operand).lower() if not isinstance(operand, bool) else ("true" if operand else "false")
    pattern = re.compile("^" + re.escape(text).replace(r"\*", ".*").replace(r"\?", ".") + "$", re.S)

    def textual(item: Any) -> bool:
        shown = (
            ""
            if item is None
            else ("true" if item is True else "false" if item is False else str(item).lower())
        )
        if isinstance(item, float):
            shown = to_text(item).lower()  # type: ignore[union-attr]
        if op in ("=", "<>"):
            hit = bool(pattern.match(shown)) and (text != "" or item is None or item == "")
            return hit if op == "=" else not hit
        if item is None or isinstance(item, (float, bool)):
            return False
        return {"<": shown < text, ">": shown > text, "<=": shown <= text, ">=": shown >= text}[op]

    return textual


def _range_arg(ev: Evaluator, node: tuple) -> RangeValue:
    value = ev.eval(node)
    return value if isinstance(value, RangeValue) else RangeValue([[value]], 1, 1)


def _countif(ev: Evaluator, args: list[tuple]) -> Any:
    if len(args) != 2:
        return err("N_A", "Wrong number of arguments to COUNTIF.")
    test = _criterion(ev.value(args[1]))
    return float(sum(1 for item in _range_arg(ev, args[0]).flat() if test(item)))


def _sumif(ev: Evaluator, args: list[tuple]) -> Any:
    if len(args) not in (2, 3):
        return err("N_A", "Wrong number of arguments to SUMIF.")
    test = _criterion(ev.value(args[1]))
    tested = _range_arg(ev, args[0]).rows
    summed = _range_arg(ev, args[2]).rows if len(args) == 3 else tested
    total = 0.0
    for r, row in enumerate(tested):
        for c, item in enumerate(row):
            if test(item):
                value = summed[r][c] if r < len(summed) and c < len(summed[r]) else None
                if isinstance(value, float) and not isinstance(value, bool):
                    total += value
    return total


def _countblank(ev: Evaluator, args: list[tuple]) -> Any:
    value = ev.eval(args[0])
    if not isinstance(value, RangeValue):
        return float(value is None or value == "")
    return float(value.size - sum(1 for item in value.flat() if item is not None and item != ""))


def _vlookup(ev: Evaluator, args: list[tuple]) -> Any:
    if len(args) not in (3, 4):
        return err("N_A", "Wrong number of arguments to VLOOKUP.")
    key = ev.value(args[0])
    table_range = _range_arg(ev, args[1])
    table = table_range.rows
    index = to_number(ev.value(args[2]))
    if isinstance(index, Err):
        return index
    is_sorted = to_bool(ev.value(args[3])) if len(args) == 4 else True
    if isinstance(is_sorted, Err):
        return is_sorted
    column = int(index) - 1
    if column < 0:
        return err(
            "VALUE", "Function VLOOKUP parameter 3 value is 0. It should be greater than or equal to 1."
        )
    found = None
    for row in table:
        first = row[0] if row else None
        if is_sorted:
            if first is not None and not isinstance(first, Err) and _ordered(first, key) <= 0:
                found = row
        elif _ordered(first, key) == 0:
            found = row
            break
    if found is None:
        return err("N_A", f"Did not find value '{to_text(key)}' in VLOOKUP evaluation.")
    if column >= table_range.width:
        return err("REF", "VLOOKUP evaluates to an out of bounds range.")
    return found[column] if column < len(found) else None


def _ordered(a: Any, b: Any) -> int:
    """-1/0/1 comparing two cell values the way lookups do (text case-insensitive)."""
    if isinstance(a, float) and isinstance(b, float):
        return (a > b) - (a < b)
    if isinstance(a, str) and isinstance(b, str):
        return (a.lower() > b.lower()) - (a.lower() < b.lower())
    if a == b:
        return 0
    return -1 if isinstance(a, float) else 1


def _is_number(ev: Evaluator, args: list[tuple]) -> Any:
    value = ev.value(args[0])
    return isinstance(value, float) and not isinstance(value, bool)


def _is_text(ev: Evaluator, args: list[tuple]) -> Any:
    return isinstance(ev.value(args[0]), str)


FUNCTIONS.update(
    {
        "TODAY": _today,
        "NOW": _now,
        "DATE": _date,
        "TEXT": _text,
        "HYPERLINK": _hyperlink,
        "VALUE": _value,
        "REGEXMATCH": _regexmatch,
        "ROW": _row,
        "COUNTIF": _countif,
        "SUMIF": _sumif,
        "COUNTBLANK": _countblank,
        "VLOOKUP": _vlookup,
        "ISNUMBER": _is_number,
        "ISTEXT": _is_text,
    }
)
