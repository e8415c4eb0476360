"""The aftercare job: return visits when due, their reminder, closing, review chases, the archive.

``daemon.aftercare`` decides from the register and the clock what is due; this job takes each
step once (claimed in the journal by its stable key before acting, so a restart repeats
nothing), queues the emails, and writes the cells the step sets.

``run_archive`` moves complaints closed ``aftercare.archive_after_days`` ago to their
``Archive <year>`` tab, so the working register, read every cycle, stays small. It needs no
claim: a moved row is no longer in Register, so it is never moved twice.
"""

from __future__ import annotations

import logging
from datetime import datetime

from daemon.aftercare import archive_candidates, due_aftercare
from daemon.dispatch.fields import dispatch_fields
from daemon.dispatch.lookup import department_of_row, priority_of_row
from daemon.dispatch.slips import queue_slips, send_to
from daemon.intake.rows import activity
from daemon.logs import about
from daemon.register import CellUpdate, RegisterAccessError, RegisterError, RegisterUnavailable
from daemon.sheet_layout import Event, Status

log = logging.getLogger("parkdesk.aftercare")

# One archive move is one batchUpdate; this bounds its size (Google advises at most 2 MB per
# request). A backlog, such as the first run on a long history, drains over the next checks.
ARCHIVE_BATCH_BYTES = 1_000_000
ARCHIVE_BATCH_ROWS = 500

EVENTS = {
    "send_visit": Event.VISIT_SENT,
    "visit_reminder": Event.VISIT_REMINDED,
    "close_no_reply": Event.CLOSED,
    "close_by_staff": Event.CLOSED,
    "reopen_by_staff": Event.REOPENED,
    "review_request": Event.REVIEW_REQUESTED,
    "review_chase": Event.REVIEW_CHASED,
    "review_escalate": Event.ESCALATED,
}


def run_aftercare(cycle, snapshot, now: datetime) -> int:
    """Take every aftercare step due now; returns how many were taken."""
    config = cycle.config
    actions, problems = due_aftercare(snapshot, config, now)
    for problem in problems:
        log.warning("%s: %s (cell %s: %r)", problem.reference, problem.message, problem.key,
                    problem.value, extra=about(problem.reference))
    rows = {row.reference: dict(row.values) for row in snapshot if row.reference}
    updates: list[CellUpdate] = []
    taken = 0
    for action in actions:
        values = rows.get(action.reference)
        if values is None or not cycle.journal.claim_action(action.reference, action.key, now):
            continue
        department = department_of_row(config, values)
        _take(cycle, action, values, department, now)
        cells = dict(action.cells)
        if action.kind == "reopen_by_staff" and department is not None:
            cells.update(_redispatch_cells(cycle, action.reference, values, department, now))
        values.update(cells)
        updates += [CellUpdate(action.reference, key, value) for key, value in cells.items()]
        cycle.journal.queue_activity(activity(
            now, action.reference, EVENTS[action.kind], "ParkDesk", action.detail or action.kind))
        log.info("%s: %s", action.kind, action.detail or "done", extra=about(action.reference))
        taken += 1
    if updates:
        cycle.register.update_cells(updates, snapshot=snapshot)
    return taken


def _take(cycle, action, values, department, now) -> None:
    config = cycle.config
    reference = action.reference
    identity = f"aftercare:{reference}"
    common = dict(identity=identity, reference=reference, now=now,
                  subject=values.get("subject", ""), result=values.get("result", ""))
    tenant = values.get("email", "").strip()
    if action.kind in ("send_visit", "visit_reminder") and tenant:
        send_to(cycle, "return_visit", [tenant], purpose=action.key.replace(":", "-"),
                token_purpose="visit", contact_name=values.get("contact_name", ""),
                reminder=action.kind == "visit_reminder",
                visit_sent_at=values.get("visit_sent_at", ""), **common)
    elif action.kind.startswith("review_") and department is not None:
        recipients = [department.head]
        if action.kind == "review_escalate":
            recipients += list(config.leadership)
        send_to(cycle, "review_request", recipients, purpose=action.key.replace(":", "-"),
                token_purpose="review", head_name=department.name + " 负责人",
                chase=action.kind != "review_request",
                escalated=action.kind == "review_escalate",
                requested_at=values.get("signed_off_at", ""), **common)
    elif action.kind == "reopen_by_staff":
        send_to(cycle, "reopened_notice", list(config.service_center),
                purpose=action.key.replace(":", "-"), token_purpose="reopened",
                satisfaction=action.score, feedback=values.get("feedback", ""),
                department_name=department.name if department else "?",
                identity=identity, reference=reference, now=now)


def _redispatch_cells(cycle, reference, values, department, now) -> dict[str, str]:
    """A reopen typed by staff sends the slip again, like a tenant's unhappy answer."""
    priority = priority_of_row(cycle.config, values)
    cells = dispatch_fields(department, priority, now)
    cells["status"] = Status.REOPENED.label
    cells.update(resolved_at="", resolved_by="", result="", assignee="")
    number = cycle.journal.record_dispatch(reference, department=department.key,
                                           priority=priority.key, now=now)
    queue_slips(cycle, {**values, **cells, "reference": reference}, department,
                identity=f"dispatch:{reference}:{number}", dispatch_no=number, now=now)
    return cells


def run_archive(cycle, snapshot, now: datetime) -> int:
    """Move the complaints due for the archive (``aftercare.archive_candidates``) out of Register:
    one ``archive_rows`` call, so one atomic write, and an Activity event per row naming its tab.
    Returns how many rows moved.

    Rows go in the snapshot's order up to ``ARCHIVE_BATCH_BYTES`` of text (and
    ``ARCHIVE_BATCH_ROWS``); the rest wait for the next check. If the register refuses the move
    (a row sorted away or doubled since the snapshot) nothing moved, and the next check tries
    again on a fresh read.
    """
    candidates, problems = archive_candidates(snapshot, cycle.config, now)
    for problem in problems:
        log.warning("%s: %s (cell %s: %r)", problem.reference, problem.message, problem.key,
                    problem.value, extra=about(problem.reference))
    chosen = first_batch(candidates, snapshot)
    if not chosen:
        return 0
    moves: dict[str, list[str]] = {}
    for candidate in chosen:
        moves.setdefault(candidate.tab, []).append(candidate.reference)
    try:
        moved = cycle.register.archive_rows(moves)
    except (RegisterUnavailable, RegisterAccessError):
        raise
    except RegisterError as error:
        log.warning("archiving %d closed complaints did not happen: %s", len(chosen), error)
        return 0
    for candidate in chosen:
        cycle.journal.queue_activity(activity(
            now, candidate.reference, Event.ARCHIVED, "ParkDesk",
            f"移至 {candidate.tab} moved to {candidate.tab}"))
    log.info("moved %d closed complaints to %s", moved, ", ".join(moves))
    return moved


def first_batch(candidates, snapshot) -> list:
    """The leading candidates whose rows hold at most ``ARCHIVE_BATCH_BYTES`` of text (at least
    one, however large) and number at most ``ARCHIVE_BATCH_ROWS``."""
    sizes = {row.reference.casefold(): sum(len(str(value).encode("utf-8")) + 8
                                           for value in row.values.values())
             for row in snapshot if row.reference}
    chosen, total = [], 0
    for candidate in candidates[:ARCHIVE_BATCH_ROWS]:
        size = sizes.get(candidate.reference.casefold(), 0)
        if chosen and total + size > ARCHIVE_BATCH_BYTES:
            break
        chosen.append(candidate)
        total += size
    return chosen
