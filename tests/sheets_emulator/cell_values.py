"""What a cell stores for an input value, and how its value is rendered back.

Input (``valueInputOption``):

* ``RAW``: JSON strings stay strings exactly (``"=1+1"`` and ``"0042"`` included),
  numbers stay numbers, booleans stay booleans.
* ``USER_ENTERED``: as if typed into the Sheets UI (en_US): ``=...`` is a formula,
  a leading apostrophe forces text (``'=x`` stores ``=x``), ``TRUE``/``FALSE`` are
  booleans, ``42``/``0042``/``-1.5e3``/``2,000,000.01``/``50%``/``$1,234.50`` are
  numbers (with a suggested number format), ``2020-01-01``/``1/2/2020``/
  ``2020-01-01 10:30``/``10:30`` are dates and times (serial numbers counting days
  from 1899-12-30, with a DATE/TIME/DATE_TIME format).

Rendering (``valueRenderOption``): ``FORMATTED_VALUE`` (text as shown in the UI),
``UNFORMATTED_VALUE`` (numbers/booleans as JSON), ``FORMULA`` (formulas as typed);
``dateTimeRenderOption`` ``SERIAL_NUMBER``/``FORMATTED_STRING`` for date cells.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta
from typing import Any

from .formula import Err, general_text

EPOCH = datetime(1899, 12, 30)
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]

_NUMBER = re.compile(
    r"^(?P<sign>[-+]?)(?P<cur>\$?)(?P<body>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?P<exp>[eE][-+]?\d+)?(?P<pct>%?)$"
)
_ISO_DATE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2}|\d{4})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([aApP][mM])?$")

DEFAULT_PATTERNS = {
    "NUMBER": "#,##0.00",
    "PERCENT": "0.00%",
    "CURRENCY": '"$"#,##0.00',
    "DATE": "M/d/yyyy",
    "TIME": "h:mm:ss am/pm",
    "DATE_TIME": "M/d/yyyy H:mm:ss",
    "SCIENTIFIC": "0.00E+00",
    "TEXT": "@",
}
DATE_TYPES = ("DATE", "TIME", "DATE_TIME")


def json_number(value: float) -> float | int:
    """2.0 -> 2 (Google prints integral doubles without a fraction)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# -- input ----------------------------------------------------------------------
def _serial(moment: datetime) -> float:
    delta = moment - EPOCH
    return delta.days + delta.seconds / 86400


def _parse_time(text: str) -> tuple[float, bool, bool] | None:
    """'10:30' -> (fraction of day, has_seconds, has_ampm)."""
    m = _TIME.match(text)
    if not m:
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if m.group(4):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m.group(4).lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    return (hour * 3600 + minute * 60 + second) / 86400, m.group(3) is not None, m.group(4) is not None


def _parse_date(text: str) -> tuple[float, str] | None:
    """'2020-01-01' -> (43831, 'yyyy-mm-dd'); US 'm/d/yyyy' too."""
    m = _ISO_DATE.match(text)
    try:
        if m:
            sep = text[4]
            return _serial(datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)))), f"yyyy{sep}mm{sep}dd"
        m = _US_DATE.match(text)
        if m:
            year = int(m.group(3))
            if year < 100:
                year += 2000 if year < 30 else 1900
            return _serial(datetime(year, int(m.group(1)), int(m.group(2)))), "M/d/yyyy"
    except ValueError:
        return None
    return None


def _parse_number(text: str) -> tuple[float, dict[str, str] | None] | None:
    m = _NUMBER.match(text)
    if not m:
        return None
    body = m.group("body")
    value = float(body.replace(",", "") + (m.group("exp") or ""))
    if m.group("sign") == "-":
        value = -value
    decimals = len(body.split(".")[1]) if "." in body else 0
    fraction = "." + "0" * decimals if decimals else ""
    if m.group("pct"):
        return value / 100, {"type": "PERCENT", "pattern": f"0{fraction}%"}
    if m.group("cur"):
        return value, {"type": "CURRENCY", "pattern": f'"$"#,##0{fraction}'}
    if m.group("exp"):
        return value, {"type": "SCIENTIFIC", "pattern": "0.00E+00"}
    if "," in body:
        return value, {"type": "NUMBER", "pattern": f"#,##0{fraction}"}
    return value, None


def parse_user_entered(text: str) -> tuple[dict[str, Any], dict[str, str] | None]:
    """A typed string -> (userEnteredValue, suggested numberFormat or None)."""
    if text.startswith("'"):
        return {"stringValue": text[1:]}, None
    if text.startswith("=") and len(text) > 1:
        return {"formulaValue": text}, None
    stripped = text.strip()
    if stripped.upper() in ("TRUE", "FALSE"):
        return {"boolValue": stripped.upper() == "TRUE"}, None
    number = _parse_number(stripped)
    if number is not None:
        return {"numberValue": number[0]}, number[1]
    date = _parse_date(stripped)
    if date is not None:
        return {"numberValue": date[0]}, {"type": "DATE", "pattern": date[1]}
    if " " in stripped:
        day_part, _, time_part = stripped.partition(" ")
        date = _parse_date(day_part)
        clock = _parse_time(time_part.strip())
        if date is not None and clock is not None:
            pattern = date[1] + (" h:mm:ss" if clock[1] else " h:mm") + (" am/pm" if clock[2] else "")
            if not clock[2]:
                pattern = pattern.replace(" h:", " H:")
            return {"numberValue": date[0] + clock[0]}, {"type": "DATE_TIME", "pattern": pattern}
    clock = _parse_time(stripped)
    if clock is not None:
        pattern = ("h:mm:ss" if clock[1] else "h:mm") + (" am/pm" if clock[2] else "")
        if not clock[2]:
            pattern = "H" + pattern[1:]
        return {"numberValue": clock[0]}, {"type": "TIME", "pattern": pattern}
    return {"stringValue": text}, None


def input_value(value: Any, option: str) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """A JSON input value -> (userEnteredValue, format suggestion). ("" clears: None.)"""
    if isinstance(value, bool):
        return {"boolValue": value}, None
    if isinstance(value, (int, float)):
        return {"numberValue": float(value)}, None
    text = str(value)
    if text == "":
        return None, None
    if option == "RAW":
        return {"stringValue": text}, None
    return parse_user_entered(text)


# -- number formats ---------------------------------------------------------------
def _split_sections(pattern: str) -> list[str]:
    sections, current, quoted = [], "", False
    for ch in pattern:
        if ch == '"':
            quoted = not quoted
        if ch == ";" and not quoted:
            sections.append(current)
            current = ""
        else:
            current += ch
    sections.append(current)
    return sections


def _pattern_tokens(pattern: str) -> list[tuple[str, str]]:
    """Split a number pattern into ('fmt', char) and ('lit', text) tokens."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == '"':
            end = pattern.find('"', i + 1)
            end = len(pattern) if end < 0 else end
            tokens.append(("lit", pattern[i + 1 : end]))
            i = end + 1
        elif ch == "\\" and i + 1 < len(pattern):
            tokens.append(("lit", pattern[i + 1]))
            i += 2
        elif ch in "_*":
            i += 2  # padding directives print nothing here
        elif ch in "0#?.,%":
            tokens.append(("fmt", ch))
            i += 1
        elif ch in "Ee" and i + 1 < len(pattern) and pattern[i + 1] in "+-":
            tokens.append(("fmt", pattern[i : i + 2]))
            i += 2
        else:
            tokens.append(("lit", ch))
            i += 1
    return tokens


def _format_plain_number(value: float, pattern: str) -> str:
    """Digit patterns: 0 # ? , . % E+00, with literals before and after."""
    tokens = _pattern_tokens(pattern)
    fmt_positions = [i for i, (kind, _) in enumerate(tokens) if kind == "fmt"]
    if not fmt_positions:
        return "".join(text for _, text in tokens)
    first, last = fmt_positions[0], fmt_positions[-1]
    prefix = "".join(text for _, text in tokens[:first])
    suffix = "".join(text for _, text in tokens[last + 1 :])
    core = "".join(text for kind, text in tokens[first : last + 1] if kind == "fmt")
    if "%" in core:
        value *= 100
        suffix = "%" * core.count("%") + suffix
        core = core.replace("%", "")
    exp = re.search(r"[Ee][+-]", core)
    if exp:
        mantissa_pattern, exp_pattern = core[: exp.start()], core[exp.end() :]
        decimals = len(mantissa_pattern.partition(".")[2])
        mantissa, exponent = f"{value:.{decimals}E}".split("E")
        sign = "-" if exponent.startswith("-") else "+"
        return (
            prefix + mantissa + "E" + sign + str(abs(int(exponent))).zfill(max(len(exp_pattern), 1)) + suffix
        )
    integer_pattern, _, fraction_pattern = core.partition(".")
    grouping = "," in integer_pattern
    integer_pattern = integer_pattern.replace(",", "")
    min_decimals = fraction_pattern.count("0")
    max_decimals = len(fraction_pattern.replace(",", ""))
    text = f"{round(value, max_decimals):.{max_decimals}f}"
    int_part, _, frac_part = text.partition(".")
    while len(frac_part) > min_decimals and frac_part.endswith("0"):
        frac_part = frac_part[:-1]
    min_int = integer_pattern.count("0")
    if int_part == "0" and min_int == 0:
        int_part = ""
    int_part = int_part.zfill(min_int)
    if grouping and int_part:
        int_part = f"{int(int_part):,}"
    return prefix + int_part + ("." + frac_part if frac_part else "") + suffix


_DATE_TOKEN = re.compile(
    r'"[^"]*"|\\.|yyyy|yy|mmmmm|mmmm|mmm|mm|m|MMMM|MMM|MM|M|dddd|ddd|dd|d|hh|h|HH|H|ss|s|am/pm|AM/PM|a/p|A/P|\.0+|.',
)


def _format_date(serial: float, pattern: str) -> str:
    moment = EPOCH + timedelta(days=serial)
    moment = moment + timedelta(microseconds=500_000 - (moment.microsecond + 500_000) % 1_000_000)
    tokens = _DATE_TOKEN.findall(pattern)
    has_ampm = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    out = []
    for index, token in enumerate(tokens):
        lower = token.lower()
        prev = next((t.lower() for t in reversed(tokens[:index]) if t.strip() and t not in ":/-. "), "")
        nxt = next((t.lower() for t in tokens[index + 1 :] if t.strip() and t not in ":/-. "), "")
        if token.startswith('"'):
            out.append(token[1:-1])
        elif token.startswith("\\"):
            out.append(token[1:])
        elif lower == "yyyy":
            out.append(f"{moment.year:04d}")
        elif lower == "yy":
            out.append(f"{moment.year % 100:02d}")
        elif lower in ("m", "mm") and (prev in ("h", "hh") or nxt in ("s", "ss")):
            out.append(f"{moment.minute:02d}" if lower == "mm" else str(moment.minute))
        elif lower == "mmmmm":
            out.append(MONTHS[moment.month - 1][0])
        elif lower == "mmmm":
            out.append(MONTHS[moment.month - 1])
        elif lower == "mmm":
            out.append(MONTHS[moment.month - 1][:3])
        elif lower == "mm":
            out.append(f"{moment.month:02d}")
        elif lower == "m":
            out.append(str(moment.month))
        elif lower == "dddd":
            out.append(DAYS[moment.weekday()])
        elif lower == "ddd":
            out.append(DAYS[moment.weekday()][:3])
        elif lower == "dd":
            out.append(f"{moment.day:02d}")
        elif lower == "d":
            out.append(str(moment.day))
        elif lower in ("hh", "h"):
            hour = moment.hour
            if has_ampm:
                hour = hour % 12 or 12
            out.append(f"{hour:02d}" if lower == "hh" else str(hour))
        elif lower == "ss":
            out.append(f"{moment.second:02d}")
        elif lower == "s":
            out.append(str(moment.second))
        elif lower == "am/pm":
            out.append("AM" if moment.hour < 12 else "PM")
        elif lower == "a/p":
            out.append("A" if moment.hour < 12 else "P")
        elif token.startswith(".0"):
            out.append("." + f"{moment.microsecond:06d}"[: len(token) - 1])
        else:
            out.append(token)
    return "".join(out)


def format_number(value: float, number_format: dict[str, Any] | None) -> str:
    """A number as the UI shows it under a CellFormat.numberFormat (None = General)."""
    if not number_format or number_format.get("type") in (None, "NUMBER_FORMAT_TYPE_UNSPECIFIED"):
        return general_text(value)
    kind = number_format.get("type")
    pattern = number_format.get("pattern") or DEFAULT_PATTERNS.get(kind, "")
    if kind == "TEXT" or pattern == "@":
        return general_text(value)
    sections = _split_sections(pattern)
    negative = value < 0
    if negative and len(sections) > 1:
        section, value = sections[1], -value
        negative = False
    elif value == 0 and len(sections) > 2:
        section = sections[2]
    else:
        section = sections[0]
    try:
        if kind in DATE_TYPES or re.search(r"(?i)yy|dd|hh|ss|am/pm", section):
            if value < 0 or value > 2958465:
                return general_text(value)
            return _format_date(value, section)
        text = _format_plain_number(abs(value) if negative else value, section)
    except (ValueError, IndexError, OverflowError):
        return general_text(value)
    return "-" + text if negative and text.strip("0.,%") else text


# -- output -----------------------------------------------------------------------
def is_date_format(number_format: dict[str, Any] | None) -> bool:
    return bool(number_format) and number_format.get("type") in DATE_TYPES


def effective_to_python(effective: dict[str, Any] | None) -> Any:
    """effectiveValue dict -> float/str/bool/Err/None."""
    if not effective:
        return None
    if "numberValue" in effective:
        return float(effective["numberValue"])
    if "stringValue" in effective:
        return effective["stringValue"]
    if "boolValue" in effective:
        return effective["boolValue"]
    if "errorValue" in effective:
        error = effective["errorValue"]
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
        return Err(error["type"], texts.get(error["type"], "#ERROR!"), error.get("message", ""))
    return None


def python_to_effective(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Err):
        return {"errorValue": {"type": value.kind, "message": value.message}}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return {"errorValue": {"type": "NUM", "message": "Result is not a finite number."}}
        return {"numberValue": json_number(float(value))}
    return {"stringValue": str(value)}


def formatted_text(value: Any, number_format: dict[str, Any] | None) -> str:
    """float/str/bool/Err -> FORMATTED_VALUE text."""
    if value is None:
        return ""
    if isinstance(value, Err):
        return value.text
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return format_number(value, number_format)
    return str(value)


def render(
    user_value: dict[str, Any] | None,
    effective: Any,
    number_format: dict[str, Any] | None,
    render_option: str,
    date_option: str,
    evaluated: bool,
) -> Any:
    """One cell as values.get answers it; None means empty.

    ``effective`` is the Python value (formula result or stored value); ``evaluated``
    False means the formula uses something the emulator does not evaluate: its
    value renders as an empty string, never an invented result.
    """
    if user_value is None:
        return None
    if render_option == "FORMULA" and "formulaValue" in user_value:
        return user_value["formulaValue"]
    if not evaluated or effective is None:
        return ""  # a formula whose value is empty, or one the emulator does not evaluate
    if render_option == "FORMATTED_VALUE":
        return formatted_text(effective, number_format)
    if isinstance(effective, Err):
        return effective.text
    if isinstance(effective, bool):
        return effective
    if isinstance(effective, float):
        if is_date_format(number_format) and date_option == "FORMATTED_STRING":
            return format_number(effective, number_format)
        return json_number(effective)
    return effective
