"""Complaint reference numbers like ``C-250514-007``: prefix, date in the park's time zone, sequence."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Iterable

_REFERENCE = re.compile(r"\b([A-Z0-9]{1,6})-(\d{6})-(\d{3,})\b")


def day_code(moment: datetime) -> str:
    """The date part of a reference, ``YYMMDD``, for an aware datetime already in the park's zone."""
    return moment.strftime("%y%m%d")


def format_reference(prefix: str, day: str, number: int) -> str:
    """``format_reference("C", "250514", 7)`` -> ``"C-250514-007"``."""
    return f"{prefix}-{day}-{number:03d}"


def parse_reference(text: str, prefix: str) -> tuple[str, int] | None:
    """``("250514", 7)`` for ``"C-250514-007"`` with prefix ``C``; None for anything else."""
    match = _REFERENCE.fullmatch(text.strip())
    if not match or match.group(1) != prefix:
        return None
    return match.group(2), int(match.group(3))


def find_references(text: str, prefix: str) -> list[str]:
    """References with ``prefix`` mentioned in a text (a subject such as ``Re: [C-250514-007] ...``)."""
    return [m.group(0) for m in _REFERENCE.finditer(text or "") if m.group(1) == prefix]


def highest_number(references: Iterable[str], prefix: str, day: str) -> int:
    """The highest sequence number already used on ``day`` (0 if none)."""
    best = 0
    for reference in references:
        parsed = parse_reference(reference, prefix)
        if parsed and parsed[0] == day:
            best = max(best, parsed[1])
    return best
