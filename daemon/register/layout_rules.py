"""The register's look, defined once for both backends: widths, drop-down lists, highlights.

The workbook backend (``workbook.py``) and the Google layout (``google_layout.py``) take their
column widths from here; the Google layout also takes its drop-down lists, the columns only
ParkDesk writes and the highlight rules (late, waiting for sign-for, serious). Everything is
derived from ``daemon.sheet_layout`` and ``daemon.sla``, so a renamed status or a new column
changes both backends.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.intake.rows import YES
from daemon.sheet_layout import REGISTER_COLUMNS, STATUS_LABELS, Column, Status
from daemon.sla import (
    ACK_STATUSES,
    RESOLVE_STATUSES,
    STAGE_DEADLINE_KEY,
    STAGE_DONE_KEY,
    YES_WORDS,
)

# Widths in characters (Excel's unit); a column not listed gets its header's width.
COLUMN_WIDTHS: Mapping[str, float] = {
    "subject": 32, "content": 60, "attachments": 30, "location": 20, "email": 26,
    "result": 40, "feedback": 32, "review": 32, "notes": 32, "message_id": 36, "detail": 60,
    "escalations": 28, "name": 24, "head": 30, "members": 60, "categories": 30,
}
MIN_COLUMN_WIDTH = 10
CHARACTER_PIXELS = 7  # Excel's default font: a character is 7 px wide, plus 5 px of padding
PADDING_PIXELS = 5

NO = "否 No"  # the register writes YES ("是 Yes") or leaves Serious blank; read_yes reads both

# Highlights of the Register rows (hex RGB) as Google shows them.
LATE_COLOR = "F4CCCC"  # light red: a deadline passed and the department has not acted
WAITING_COLOR = "FFE599"  # amber: dispatched, nobody signed for it yet


def display_width(text: str) -> int:
    """Columns a text takes on screen: Chinese characters count two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def column_width(column: Column) -> float:
    """Width of ``column`` in characters: its listed width, at least its header's."""
    return max(COLUMN_WIDTHS.get(column.key, 0), display_width(column.header) + 2, MIN_COLUMN_WIDTH)


def column_pixels(column: Column) -> int:
    """Width of ``column`` in pixels, as Google sizes columns: ``column_width`` * 7 + 5."""
    return round(column_width(column) * CHARACTER_PIXELS + PADDING_PIXELS)


def status_labels() -> list[str]:
    """The status drop-down: every bilingual label, in the order of the procedure."""
    return [STATUS_LABELS[status] for status in Status]


def dropdown_lists(config: Any) -> dict[str, list[str]]:
    """Register column key -> the values of its drop-down, names as the register writes them."""
    return {
        "status": status_labels(),
        "category": [category.name for category in config.categories],
        "priority": [priority.name for priority in config.priorities],
        "serious": [YES, NO],
        "department": [department.name for department in config.departments],
    }


def daemon_owned_keys(columns: Sequence[Column] = REGISTER_COLUMNS) -> list[str]:
    """The keys of the columns only ParkDesk writes (staff edits there get a warning)."""
    return [column.key for column in columns if not column.staff_editable]


def hex_color(text: str) -> dict[str, float]:
    """``"F4CCCC"`` -> ``{"red": 0.957, "green": 0.8, "blue": 0.8}`` (Google's Color)."""
    red, green, blue = (int(text[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return {"red": red, "green": green, "blue": blue}


# ---- the formulas of the highlights ---------------------------------------------------------


def _status_words(statuses: frozenset[Status]) -> str:
    """A regular expression matching a status cell in one of ``statuses``, as ``read_status``
    reads it: either half of the label, case-insensitive."""
    words = []
    for status in Status:
        if status in statuses:
            english, _, chinese = STATUS_LABELS[status].rpartition(" ")
            words += [english.lower(), chinese]
    return "(?i)" + "|".join(words)


def _ref(letters: Mapping[str, str], key: str) -> str:
    """``$S1``: column ``key`` in the rule's first row (row 1: the rules cover whole columns,
    so that rows inserted anywhere are covered), its column anchored."""
    return f"${letters[key]}1"


DATA_ROW = "ROW()>1"  # the header row is never highlighted


def _overdue(letters: Mapping[str, str], stage: str, statuses: frozenset[Status]) -> str:
    deadline = _ref(letters, STAGE_DEADLINE_KEY[stage])  # type: ignore[index]
    done = _ref(letters, STAGE_DONE_KEY[stage])  # type: ignore[index]
    return (
        f'AND(REGEXMATCH({_ref(letters, "status")},"{_status_words(statuses)}"),'
        f"LEN(TRIM({done}))=0,LEN(TRIM({deadline}))>0,"
        f"IFERROR(VALUE({deadline})<NOW(),FALSE))"
    )


def late_formula(letters: Mapping[str, str]) -> str:
    """True for a row whose sign-for or resolution deadline has passed without the department
    acting, in the statuses ``daemon.sla`` chases (the same rule that sends escalations).

    Deadlines are text such as ``2025-05-14 10:05`` in the park's time zone: the spreadsheet's
    time zone must be the park's for NOW() to compare with them.
    """
    return (
        f'=AND({DATA_ROW},OR({_overdue(letters, "ack", ACK_STATUSES)},'
        f'{_overdue(letters, "resolve", RESOLVE_STATUSES)}))'
    )


def waiting_formula(letters: Mapping[str, str]) -> str:
    """True for a row waiting for sign-for: dispatched (or reopened) and not yet signed for."""
    return (
        f'=AND({DATA_ROW},REGEXMATCH({_ref(letters, "status")},"{_status_words(ACK_STATUSES)}"),'
        f'LEN(TRIM({_ref(letters, "acknowledged_at")}))=0)'
    )


def serious_formula(letters: Mapping[str, str]) -> str:
    """True for a row whose Serious cell says yes as ``daemon.sla.read_yes`` reads it: one of
    its words ("是 Yes", "yes", "Y", "✓" ...) is a yes word."""
    words = "|".join(sorted(YES_WORDS, key=lambda word: (-len(word), word)))
    return (
        f'=AND({DATA_ROW},REGEXMATCH(LOWER({_ref(letters, "serious")}),'
        f'"(^|[\\s/,，、])({words})($|[\\s/,，、])"))'
    )
