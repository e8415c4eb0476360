"""The SLA job: when a deadline passes, remind the department, then escalate up the ladder.

What is due is computed by ``daemon.sla`` from the times stored in the register and ``now``;
what was already sent is read back from the row's Escalations cell. After a reminder is queued,
its label is appended to that cell and to Activity, so each step goes out once, across restarts.
"""

from __future__ import annotations

import logging
from datetime import datetime

from daemon.dispatch.lookup import department_of_row, priority_of_row
from daemon.dispatch.slips import send_to
from daemon.intake.rows import activity
from daemon.logs import about
from daemon.register import CellUpdate
from daemon.sheet_layout import Event
from daemon.sla import append_escalation, due_actions

log = logging.getLogger("parkdesk.sla")


def recipients_for(config, department, notify: str) -> list[str]:
    if notify == "department":
        return [*department.members, department.head]
    if notify == "head":
        return [department.head]
    if notify == "service_center":
        return list(config.service_center)
    return list(config.leadership)


def run_deadline_check(cycle, snapshot, now: datetime) -> int:
    """Queue every due reminder and escalation; record them; returns how many steps were due."""
    config = cycle.config
    check = due_actions(snapshot, config, now)
    for problem in check.problems:
        log.warning("%s: %s (cell %s: %r)", problem.reference, problem.message, problem.key,
                    problem.value, extra=about(problem.reference))
    if not check.actions:
        return 0
    rows = {row.reference: row for row in snapshot if row.reference}
    escalations: dict[str, str] = {}
    for action in check.actions:
        row = rows[action.reference]
        values = dict(row.values)
        department = department_of_row(config, values)
        if department is None:
            continue
        last = cycle.journal.last_dispatch(action.reference)
        round_no = last[2] if last else 0  # a re-dispatch starts the ladders again
        send_to(cycle, "reminder", recipients_for(config, department, action.notify),
                identity=f"sla:{action.reference}",
                purpose=f"{action.stage}{action.step_index}-round{round_no}",
                reference=action.reference, now=now, token_purpose="reminder",
                stage=action.stage, minutes_late=action.minutes_late,
                deadline=action.deadline.strftime("%Y-%m-%d %H:%M"),
                department_name=department.name, head=department.head,
                priority_name=priority_of_row(config, values).name,
                company=values.get("company", ""), subject=values.get("subject", ""))
        cell = escalations.get(action.reference, values.get("escalations", ""))
        escalations[action.reference] = append_escalation(cell, action.label)
        event = Event.REMINDER if action.step_index == 0 else Event.ESCALATED
        log.info("%s: %s min late, %s", action.label, action.minutes_late, department.name,
                 extra=about(action.reference))
        cycle.journal.queue_activity(activity(
            now, action.reference, event, "ParkDesk",
            f"{action.label} ({action.minutes_late} min late, {department.name})"))
    cycle.register.update_cells(
        [CellUpdate(reference, "escalations", text) for reference, text in escalations.items()],
        snapshot=snapshot)
    return len(check.actions)
