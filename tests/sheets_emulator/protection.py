"""Protected ranges, enforced as Sheets enforces them.

A protected range (not ``warningOnly``) may only be edited by the spreadsheet's owner
and the users listed as its editors; anyone else gets Google's 400
"You are trying to edit a protected cell or object...".
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError
from .store import Sheet, Spreadsheet

PROTECTED = (
    "You are trying to edit a protected cell or object. Please contact the spreadsheet "
    "owner to remove protection if you need to edit."
)


def _bounds(sheet: Sheet, rng: dict[str, Any]) -> tuple[int, int, int, int]:
    return (
        rng.get("startRowIndex") or 0,
        rng.get("startColumnIndex") or 0,
        sheet.row_count if rng.get("endRowIndex") is None else rng["endRowIndex"],
        sheet.column_count if rng.get("endColumnIndex") is None else rng["endColumnIndex"],
    )


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def may_edit(book: Spreadsheet, item: dict[str, Any], user: str) -> bool:
    if item.get("warningOnly"):
        return True
    if book.owner.lower() == user.lower():
        return True
    editors = item.get("editors") or {}
    return user.lower() in (u.lower() for u in editors.get("users", []))


def check_edit(
    book: Spreadsheet, sheet: Sheet, bounds: tuple[int, int, int, int], user: str, prefix: str = ""
) -> None:
    """Refuse an edit of cells [r0, r1) x [c0, c1) that touches a range ``user`` may not edit."""
    if bounds[0] >= bounds[2] or bounds[1] >= bounds[3]:
        return
    for item in sheet.protected_ranges:
        if may_edit(book, item, user):
            continue
        if not _overlaps(_bounds(sheet, item["range"]), bounds):
            continue
        holes = [_bounds(sheet, r) for r in item.get("unprotectedRanges", [])]
        if any(
            h[0] <= bounds[0] and h[1] <= bounds[1] and h[2] >= bounds[2] and h[3] >= bounds[3] for h in holes
        ):
            continue
        raise ApiError(400, prefix + PROTECTED)
