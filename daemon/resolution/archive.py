"""Replies to archived complaints: found in the archive tabs, brought back if the tenant is unhappy.

A closed complaint leaves the working register ``aftercare.archive_after_days`` after closing
(``daemon.resolution.job.run_archive``), but mail about it may still come, matched to it by its
headers as usual: the tenant answering the return visit late, a department adding a word. When
the reference is not in Register, ``reply_to_archived`` looks it up in the ``Archive <year>``
tabs, and:

- a satisfaction of 2 or less (不满意, 1, ★★ ...) from the complaint's tenant, about a Closed
  complaint whose department is known, from a domain that did not fail DMARC/DKIM/SPF: the row
  moves back to Register in one atomic write, as waiting for the return-visit answer (status
  Return visit, last round's answer emptied), and the reply is then handled like any other:
  that answer reopens it, the slip goes to the department again, the service center is told;
- anything else (a thank-you, a late 满意, a department's note, a stranger, a cancelled
  complaint): the complaint stays archived and the words go to the Activity trail, where its
  whole history is; nothing is sent.

Only a reopening brings a row back: a Closed row restored for a note would just be archived
again. Restoring it as "waiting for the answer", not already Reopened, means the one reply
handler decides what the answer does, and a crash between the move and the handling leaves a
row that the same reply, read again, reopens.
"""

from __future__ import annotations

import logging
from datetime import datetime

from daemon.aftercare import satisfaction_outcome
from daemon.authenticity import authentication_verdict
from daemon.dispatch.lookup import department_of_row
from daemon.intake.rows import activity, format_time
from daemon.logs import about
from daemon.register import RegisterAccessError, RegisterError, RegisterUnavailable
from daemon.replies.commands import parse_command
from daemon.replies.quotes import strip_quoted
from daemon.sheet_layout import Event, Status

log = logging.getLogger("parkdesk.archive")

NOTE_LIMIT = 2000


def reply_to_archived(cycle, item, now: datetime) -> dict[str, str] | None:
    """A reply whose reference is not in Register: its complaint's cells if the reply brought
    it back from its archive tab (handle the reply then as any other), None if the reply was
    only recorded in the Activity trail."""
    reference = item.reference
    found = cycle.register.find_archived(reference)
    if found is None:  # removed by staff, or never registered: keep the words
        _note(cycle, item, now, "")
        return None
    tab, row = found
    reason = why_not_reopened(cycle, item, dict(row.values))
    if reason:
        _note(cycle, item, now, f"[{tab}: {reason}]")
        return None
    try:
        restored = cycle.register.restore_archived(reference,
                                                   changes=awaiting_answer_cells(row.values, now))
    except (RegisterUnavailable, RegisterAccessError):
        raise  # the reply stays in the inbox; the next cycle tries again
    except RegisterError as error:
        log.warning("%s: not moved back from %s: %s", reference, tab, error, extra=about(reference))
        _note(cycle, item, now, f"[{tab}: not moved back to Register: {error}]")
        return None
    cycle.journal.queue_activity(activity(
        now, reference, Event.NOTE, "ParkDesk",
        f"从 {tab} 移回登记表 moved back from {tab} to Register: the tenant is not satisfied"))
    values = dict(restored.values)
    cycle.rows_by_reference[reference] = values
    cycle.known_references.add(reference)
    return values


def why_not_reopened(cycle, item, values: dict[str, str]) -> str:
    """"" if the reply reopens the archived complaint of ``values``, else why it does not."""
    message = item.message
    sender = (message.from_address or "").lower()
    if Status.from_label(values.get("status", "")) is not Status.CLOSED:
        return f"archived as {values.get('status') or 'no status'}; kept as a note"
    if not sender or sender != values.get("email", "").strip().lower():
        return "archived; only the tenant's answer reopens it; kept as a note"
    command = parse_command(strip_quoted(message.body_text or "").strip(), cycle.config.commands)
    if command.kind != "satisfaction" or satisfaction_outcome(int(command.argument)) != "reopen":
        return "archived; kept as a note"
    verdict = authentication_verdict(list(message.authentication_results),
                                     sender.rpartition("@")[2])
    if verdict.kind == "fail":
        return ("not reopened: the sender's domain failed the mail server's checks "
                f"({verdict.reason})")
    if department_of_row(cycle.config, values) is None:
        return (f"not reopened: its department {values.get('department')!r} is not in the "
                "config; reopen it by hand")
    return ""


def awaiting_answer_cells(values, now: datetime) -> dict[str, str]:
    """The cells that make a closed complaint wait for its return-visit answer again: status
    Return visit, the last answer and closing emptied. A complaint staff closed without a
    sign-off gets its closing time as the sign-off (the reply handler answers only signed-off
    complaints; reopening empties it again)."""
    stamp = format_time(now)
    cells = {"status": Status.RETURN_VISIT.label, "satisfaction": "", "feedback": "",
             "closed_at": "", "updated_at": stamp}
    if not str(values.get("signed_off_at", "")).strip():
        cells["signed_off_at"] = str(values.get("closed_at", "")).strip() or stamp
    return cells


def _note(cycle, item, now: datetime, remark: str) -> None:
    message = item.message
    text = f"{message.subject}\n{message.body_text}".strip()
    if remark:
        text = f"{text[:NOTE_LIMIT - len(remark) - 1]}\n{remark}"
    cycle.journal.queue_activity(activity(now, item.reference, Event.NOTE,
                                          message.from_address or "", text[:NOTE_LIMIT]))
