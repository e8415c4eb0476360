"""Figures per period and per department, and their change against the previous period.

Pure: register rows (``RegisterRow``s or dicts of column key -> text), the park's time zone
and ``now``. Every time is read with ``sla.parse_time`` in the park's zone; a cell that cannot
be read is left out of the figure it would feed. Periods are calendar months (``"2026-10"``)
or ISO weeks, Monday to Sunday (``"2026-W47"``), in the park's time zone.

What each figure counts, for a period P and a department D ("" means every department):

- ``received``: rows received (收到时间) in P;
- ``resolved``: rows resolved (处理时间) in P;
- sign-for time: signed for − dispatched (received if no dispatch time), rows signed for in P;
- resolution time: resolved − received, rows resolved in P; both in hours, median and the 90th
  percentile by nearest rank (the smallest value with at least 90% of values at or below it);
- ``on_time_rate``: of the rows resolved in P that have a resolve-by deadline, plus the rows
  still unresolved whose deadline fell in P and has passed at ``now``, the share resolved by
  the deadline;
- ``satisfaction_average``: the mean score (1-5) of rows whose return visit was sent in P;
  ``response_rate``: the share of those visits answered with a readable score.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Iterable

from daemon.aftercare import UnreadableSatisfaction, read_satisfaction
from daemon.sla import UnreadableTime, as_utc, cell, parse_time

PERIOD_KINDS = ("week", "month")
ALL_DEPARTMENTS = ""


@dataclass(frozen=True)
class Figures:
    """The figures of one period and department (None: nothing to compute it from)."""

    received: int = 0
    resolved: int = 0
    ack_median_hours: float | None = None
    ack_p90_hours: float | None = None
    resolve_median_hours: float | None = None
    resolve_p90_hours: float | None = None
    on_time_rate: float | None = None
    satisfaction_average: float | None = None
    response_rate: float | None = None

    def value(self, metric: str) -> float | int | None:
        return getattr(self, metric)


# The figures compared between periods, in the order reports show them.
METRICS: tuple[str, ...] = tuple(item.name for item in fields(Figures))


@dataclass(frozen=True)
class Comparison:
    """One department's figures in ``period`` beside ``previous``; ``change`` is the difference
    (current − previous) per metric, None where either side is None."""

    period: str
    previous: str
    department: str
    current_figures: Figures
    previous_figures: Figures
    change: dict[str, float | int | None] = field(default_factory=dict)


# --- periods ---------------------------------------------------------------------------------

def check_kind(kind: str) -> str:
    if kind not in PERIOD_KINDS:
        raise ValueError(f"period must be 'week' or 'month', got {kind!r}")
    return kind


def period_of(moment: datetime, tz: tzinfo, kind: str) -> str:
    """The period holding ``moment`` in the park's zone: ``"2026-11"`` or ``"2026-W48"``."""
    local = as_utc(moment).astimezone(tz)
    if check_kind(kind) == "month":
        return f"{local.year:04d}-{local.month:02d}"
    year, week, _ = local.date().isocalendar()
    return f"{year:04d}-W{week:02d}"


def previous_period(period: str, kind: str) -> str:
    """The period before ``period``: ``"2026-01"`` -> ``"2025-12"``, ``"2021-W01"`` -> ``"2020-W53"``."""
    if check_kind(kind) == "month":
        year, month = (int(part) for part in period.split("-"))
        return f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"
    year, week = period.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1) - timedelta(days=7)
    previous_year, previous_week, _ = monday.isocalendar()
    return f"{previous_year:04d}-W{previous_week:02d}"


# --- statistics ------------------------------------------------------------------------------

def percentile(values: Iterable[float], share: float) -> float | None:
    """Nearest-rank percentile (``share`` 0-100): None for no values."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(share / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float | None:
    ordered = list(values)
    return statistics.median(ordered) if ordered else None


def hours_between(start: datetime, end: datetime) -> float:
    return (as_utc(end) - as_utc(start)).total_seconds() / 3600


# --- figures ---------------------------------------------------------------------------------

def read_time(row: Any, key: str, tz: tzinfo) -> datetime | None:
    """The time in column ``key``, None if blank or unreadable."""
    try:
        return parse_time(cell(row, key), tz)
    except UnreadableTime:
        return None


def read_score(row: Any) -> int | None:
    try:
        return read_satisfaction(cell(row, "satisfaction"))
    except UnreadableSatisfaction:
        return None


@dataclass
class _Tally:
    received: int = 0
    resolved: int = 0
    ack_hours: list[float] = field(default_factory=list)
    resolve_hours: list[float] = field(default_factory=list)
    on_time: int = 0
    decided: int = 0
    visits: int = 0
    scores: list[int] = field(default_factory=list)

    def figures(self) -> Figures:
        return Figures(
            received=self.received, resolved=self.resolved,
            ack_median_hours=median(self.ack_hours),
            ack_p90_hours=percentile(self.ack_hours, 90),
            resolve_median_hours=median(self.resolve_hours),
            resolve_p90_hours=percentile(self.resolve_hours, 90),
            on_time_rate=self.on_time / self.decided if self.decided else None,
            satisfaction_average=statistics.fmean(self.scores) if self.scores else None,
            response_rate=len(self.scores) / self.visits if self.visits else None)


def figures_by_period(rows: Iterable[Any], tz: tzinfo, kind: str,
                      now: datetime) -> dict[tuple[str, str], Figures]:
    """``{(period, department): Figures}`` for every period with activity up to ``now``;
    department ``""`` holds the whole park. See the module docstring for each figure."""
    check_kind(kind)
    tallies: dict[tuple[str, str], _Tally] = {}

    def tallies_for(moment: datetime, department: str) -> list[_Tally]:
        period = period_of(moment, tz, kind)
        return [tallies.setdefault((period, key), _Tally())
                for key in dict.fromkeys((ALL_DEPARTMENTS, department))]

    for row in rows:
        department = cell(row, "department").strip()
        received = read_time(row, "received_at", tz)
        dispatched = read_time(row, "dispatched_at", tz) or received
        acknowledged = read_time(row, "acknowledged_at", tz)
        resolved = read_time(row, "resolved_at", tz)
        resolve_by = read_time(row, "resolve_by", tz)
        visit = read_time(row, "visit_sent_at", tz)
        if received is not None:
            for tally in tallies_for(received, department):
                tally.received += 1
        if acknowledged is not None and dispatched is not None:
            for tally in tallies_for(acknowledged, department):
                tally.ack_hours.append(hours_between(dispatched, acknowledged))
        if resolved is not None:
            for tally in tallies_for(resolved, department):
                tally.resolved += 1
                if received is not None:
                    tally.resolve_hours.append(hours_between(received, resolved))
                if resolve_by is not None:
                    tally.decided += 1
                    tally.on_time += as_utc(resolved) <= as_utc(resolve_by)
        elif resolve_by is not None and as_utc(resolve_by) <= as_utc(now):
            for tally in tallies_for(resolve_by, department):
                tally.decided += 1
        if visit is not None:
            score = read_score(row)
            for tally in tallies_for(visit, department):
                tally.visits += 1
                if score is not None:
                    tally.scores.append(score)
    return {key: tally.figures() for key, tally in sorted(tallies.items())}


def change_between(current: Figures, previous: Figures) -> dict[str, float | int | None]:
    """current − previous for each metric; None where either is None."""
    change = {}
    for metric in METRICS:
        now_value, then_value = current.value(metric), previous.value(metric)
        change[metric] = None if now_value is None or then_value is None else now_value - then_value
    return change


def compare_periods(table: dict[tuple[str, str], Figures], period: str,
                    previous: str) -> list[Comparison]:
    """One ``Comparison`` per department seen in either period, the whole park ("") first."""
    departments = sorted({department for (key, department) in table if key in (period, previous)}
                         | {ALL_DEPARTMENTS})
    result = []
    for department in departments:
        current = table.get((period, department), Figures())
        before = table.get((previous, department), Figures())
        result.append(Comparison(period, previous, department, current, before,
                                 change_between(current, before)))
    return result

