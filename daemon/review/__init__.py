"""The periodic review of the register: what is overdue, what recurs, and the figures.

``build_review`` turns register rows (the Register tab plus the archive tabs) into a ``Review``:
pure, from the rows, the config and ``now``. ``daemon.review.figures`` computes the figures
per period and department, ``daemon.review.recurring`` finds repeated and similar complaints,
``daemon.review.report`` renders a ``Review`` as text, CSV or HTML (``parkdesk report``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

from daemon.aftercare import CLOSING_SCORE, UnreadableSatisfaction, read_satisfaction
from daemon.review.figures import (
    Comparison,
    compare_periods,
    figures_by_period,
    period_of,
    previous_period,
)
from daemon.review.recurring import (
    RecurringGroup,
    SimilarGroup,
    find_recurring,
    find_similar_texts,
)
from daemon.sla import (
    cell,
    overdue_stages,
    parse_escalations,
    read_status,
    row_reference,
)
from daemon.sheet_layout import Status

__all__ = ["OverdueItem", "FlaggedItem", "Review", "build_review", "find_overdue",
           "find_reopened", "find_low_satisfaction"]

OPEN_STATUSES = frozenset({Status.NEW, Status.DISPATCHED, Status.ACKNOWLEDGED, Status.REOPENED})


@dataclass(frozen=True)
class OverdueItem:
    """An open complaint past a deadline: by how much, and how far up the ladder it went."""

    reference: str
    department: str
    stage: str                 # "ack" (sign-for) or "resolve"
    deadline: datetime
    minutes_late: int
    level: int                 # escalation steps of that stage already sent (0: none yet)
    last_notified: str         # who the last step told ("service_center" ...), "" if none


@dataclass(frozen=True)
class FlaggedItem:
    """A complaint the review names: reopened, or answered with a low satisfaction."""

    reference: str
    department: str
    status: str
    satisfaction: int | None
    subject: str


@dataclass(frozen=True)
class Review:
    generated_at: datetime
    period_kind: str
    period: str                # the last complete period, e.g. "2026-10" or "2026-W47"
    previous: str              # the one before it
    overdue: list[OverdueItem]
    recurring: list[RecurringGroup]
    similar: list[SimilarGroup]
    reopened: list[FlaggedItem]
    low_satisfaction: list[FlaggedItem]
    figures: list[Comparison]  # per department for ``period`` against ``previous``, "" = all


def find_overdue(rows: Iterable[Any], config: Any, now: datetime) -> list[OverdueItem]:
    """Open rows past their sign-for or resolution deadline, the latest first."""
    items = []
    for row in rows:
        records = parse_escalations(cell(row, "escalations"))
        for overdue in overdue_stages(row, config, now):
            sent = [record for record in records if record.stage == overdue.stage]
            items.append(OverdueItem(
                reference=overdue.reference, department=cell(row, "department").strip(),
                stage=overdue.stage, deadline=overdue.deadline,
                minutes_late=overdue.minutes_late, level=len(sent),
                last_notified=(sent[-1].notify or "") if sent else ""))
    return sorted(items, key=lambda item: (-item.minutes_late, item.reference, item.stage))


def _score(row: Any) -> int | None:
    try:
        return read_satisfaction(cell(row, "satisfaction"))
    except UnreadableSatisfaction:
        return None


def _flag(row: Any) -> FlaggedItem:
    return FlaggedItem(row_reference(row), cell(row, "department").strip(),
                       cell(row, "status").strip(), _score(row), cell(row, "subject").strip())


def find_reopened(rows: Iterable[Any]) -> list[FlaggedItem]:
    """Rows whose status is Reopened (重新处理), by reference."""
    return sorted((_flag(row) for row in rows if read_status(cell(row, "status")) is Status.REOPENED),
                  key=lambda item: item.reference)


def find_low_satisfaction(rows: Iterable[Any]) -> list[FlaggedItem]:
    """Rows with a satisfaction below the closing score (2 or less), by reference."""
    found = [_flag(row) for row in rows]
    return sorted((item for item in found
                   if item.satisfaction is not None and item.satisfaction < CLOSING_SCORE),
                  key=lambda item: item.reference)


def build_review(rows: Sequence[Any], config: Any, now: datetime, *, period_kind: str = "month",
                 archived: Sequence[Any] = (), window_days: int = 30, min_count: int = 3,
                 similarity: float = 0.5) -> Review:
    """The whole review at ``now``: ``rows`` from Register, ``archived`` from the archive tabs.

    Overdue, reopened and low satisfaction come from Register (archived rows are closed);
    recurring groups, similar texts and the figures use both.
    """
    tz = config.park.tz
    every = list(rows) + list(archived)
    period = previous_period(period_of(now, tz, period_kind), period_kind)
    before = previous_period(period, period_kind)
    table = figures_by_period(every, tz, period_kind, now)
    return Review(
        generated_at=now, period_kind=period_kind, period=period, previous=before,
        overdue=find_overdue(rows, config, now),
        recurring=find_recurring(every, tz, window_days=window_days, min_count=min_count),
        similar=find_similar_texts(every, threshold=similarity),
        reopened=find_reopened(rows), low_satisfaction=find_low_satisfaction(every),
        figures=compare_periods(table, period, before))

