"""The register cells a dispatch sets: department, status, deadlines (stored, never in memory)."""

from __future__ import annotations

from datetime import datetime

from daemon.intake.rows import YES, format_time
from daemon.sheet_layout import Status
from daemon.sla import deadlines_for, reset_for_redispatch


def deadlines(priority, dispatched_at: datetime) -> tuple[datetime, datetime]:
    """(sign-for due, resolve by) for a priority, counted from the dispatch time."""
    return deadlines_for(priority, dispatched_at)


def dispatch_fields(department, priority, now: datetime, *, serious: bool = False) -> dict[str, str]:
    """Department, status Dispatched, fresh deadlines and no sign-for or escalation yet."""
    fields = {
        "department": department.name,
        "status": Status.DISPATCHED.label,
        **reset_for_redispatch(priority, now, now.tzinfo),
        "updated_at": format_time(now),
    }
    if priority.serious or serious:
        fields["serious"] = YES
    return fields
