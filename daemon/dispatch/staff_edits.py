"""Staff edits win: a changed department re-dispatches, a changed priority re-times.

Every cycle the register is read back; for each open complaint the department and priority
in the sheet are compared with what ParkDesk last dispatched (kept in the journal). A new
department gets a new slip, fresh deadlines and cleared escalations (the old department's
reminders stop because the row's deadlines and department changed). A new priority moves the
deadlines, counted from the original dispatch time. Every change is recorded in Activity.
"""

from __future__ import annotations


from daemon.dispatch.fields import deadlines, dispatch_fields
from daemon.dispatch.lookup import find_named, priority_of_row
from daemon.dispatch.slips import queue_slips
from daemon.intake.rows import YES, activity, format_time
from daemon.register import CellUpdate
from daemon.sheet_layout import Event, Status
from daemon.sla import UnreadableTime, parse_time, read_yes

SETTLED = {Status.RESOLVED, Status.RETURN_VISIT, Status.CLOSED, Status.CANCELLED}


def apply_staff_edits(cycle, snapshot) -> list[str]:
    """Re-dispatch or re-time what staff changed; returns the references re-dispatched."""
    config, now = cycle.config, cycle.now()
    updates: list[CellUpdate] = []
    redispatched = []
    for row in snapshot:
        reference = row.reference
        if not reference or Status.from_label(row.get("status")) in SETTLED:
            continue
        last = cycle.journal.last_dispatch(reference)
        department = find_named(config.departments, row.get("department"))
        priority = priority_of_row(config, row.values)
        if last is None or department is None:
            if last is None and department is not None and row.get("dispatched_at"):
                # Journal lost or row from before: take the sheet as it is as the baseline.
                cycle.journal.record_dispatch(reference, department=department.key,
                                              priority=priority.key, now=now)
            continue
        last_department, last_priority, _ = last
        if department.key != last_department:
            cells = dispatch_fields(department, priority, now)
            cells["assignee"] = ""
            number = cycle.journal.record_dispatch(reference, department=department.key,
                                                   priority=priority.key, now=now)
            queue_slips(cycle, {**row.values, **cells, "reference": reference}, department,
                        identity=f"dispatch:{reference}:{number}", dispatch_no=number, now=now)
            updates += [CellUpdate(reference, key, value) for key, value in cells.items()]
            cycle.journal.queue_activity(activity(
                now, reference, Event.REDISPATCHED, "service center 服务中心",
                f"{config.department(last_department).name} → {department.name}"))
            redispatched.append(reference)
        elif priority.key != last_priority:
            try:
                dispatched_at = parse_time(row.get("dispatched_at"), config.park.tz) or now
            except UnreadableTime:
                dispatched_at = now
            ack_due, resolve_by = deadlines(priority, dispatched_at)
            cells = {"ack_due": format_time(ack_due), "resolve_by": format_time(resolve_by),
                     "updated_at": format_time(now)}
            if priority.serious and not row.get("serious").strip():
                cells["serious"] = YES
            cycle.journal.retime_dispatch(reference, priority.key)
            updates += [CellUpdate(reference, key, value) for key, value in cells.items()]
            cycle.journal.queue_activity(activity(
                now, reference, Event.RETIMED, "service center 服务中心",
                f"{config.priority(last_priority).name} → {priority.name}: "
                f"sign for by {cells['ack_due']}, resolve by {cells['resolve_by']}"))
        _tell_leadership_if_serious(cycle, row, reference, department, priority, now)
    if updates:
        cycle.register.update_cells(updates, snapshot=snapshot)
        for update in updates:
            cycle.rows_by_reference.setdefault(update.reference, {})[update.key] = update.value
    return redispatched


def _tell_leadership_if_serious(cycle, row, reference, department, priority, now) -> None:
    """Staff ticked Serious (or chose a serious priority) on an open complaint: leadership gets
    the slip, once per dispatch (a slip that went out serious already counts)."""
    last = cycle.journal.last_dispatch(reference)
    if last is None or department is None or not (read_yes(row.get("serious")) or priority.serious):
        return
    number = last[2]
    if not cycle.journal.claim_action(reference, f"serious-slip-{number}", now):
        return
    values = {**row.values, **cycle.rows_by_reference.get(reference, {}), "reference": reference}
    queue_slips(cycle, values, department, identity=f"serious:{reference}:{number}",
                dispatch_no=number, now=now, recipients=list(cycle.config.leadership))
    cycle.journal.queue_activity(activity(
        now, reference, Event.ESCALATED, "service center 服务中心",
        "marked serious in the register: leadership got the slip 已报公司领导"))

