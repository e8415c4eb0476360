"""One intake cycle: mailbox -> register rows and notes -> apologies -> processed folder.

The order of work for every message is fixed and journalled, so a crash at any point is
finished by the next run without a second row and without losing a complaint:

  1. journal the intent (reference reserved)        fault point ``after_intent``
  2. append the group's new rows (one API request)  fault point ``after_append``
  3. journal "registered", queue the apologies      fault point ``after_record``
  4. send the queued mail (one SMTP connection)     fault point ``after_send``
  5. journal "done", move the messages to Processed fault point ``after_done``

Before appending, the register itself is asked (by the Message-ID column) whether the row is
already there, so even a lost journal does not make duplicates. Messages are fetched in
bounded batches and written to the register in groups (``GROUP_SIZE``), so a burst of a
thousand emails costs a handful of API requests and bounded memory.
"""

from __future__ import annotations

import hashlib
import logging
from email import message_from_bytes
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from daemon.classify import classify
from daemon.dispatch.attachments import small_attachments
from daemon.dispatch.escalation import run_deadline_check
from daemon.resolution.archive import reply_to_archived
from daemon.resolution.job import run_aftercare, run_archive
from daemon.dispatch.fields import dispatch_fields
from daemon.dispatch.lookup import department_of_row, priority_of_row
from daemon.dispatch.replies import handle_reply
from daemon.dispatch.slips import queue_slips, slip_recipients
from daemon.dispatch.staff_edits import apply_staff_edits
from daemon.faults import fault_point
from daemon.intake.apology import queue_apology
from daemon.intake.decide import COMPLAINT, REPLY, Decision, DecisionContext, decide
from daemon.intake.rows import activity, complaint_row
from daemon.intake.walk_ins import register_walk_ins
from daemon.journal import Journal
from daemon.logs import about
from daemon.outgoing import OUTGOING_POLICY, build_message
from daemon.parsing.message import ParsedMessage, UnparseableMessage, parse_message
from daemon.register import CellUpdate
from daemon.register.departments import department_rows
from daemon.references import day_code, format_reference, highest_number
from daemon.sheet_layout import Event
from daemon.templates import Templates

log = logging.getLogger("parkdesk.intake")

GROUP_SIZE = 250  # parsed messages written to the register per group (bodies are capped)


@dataclass
class _Item:
    """One fetched message on its way through the cycle (the raw bytes are not kept)."""

    uid: int
    mailbox_key: str
    message: ParsedMessage
    identity: str
    decision: Decision
    reference: str = ""
    category_name: str = ""
    row_values: dict | None = None
    in_sheet: bool = False
    duplicate: bool = False


@dataclass
class CycleReport:
    """What one cycle did, for logs, the CLI and tests."""

    registered: list[str] = field(default_factory=list)
    notes: int = 0
    automated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    failed: int = 0
    mails_sent: int = 0
    walk_ins: list[str] = field(default_factory=list)
    redispatched: list[str] = field(default_factory=list)
    escalations: int = 0


def message_identity(message: ParsedMessage, raw: bytes) -> str:
    """The Message-ID, or a digest of the whole raw message when it has none.

    The digest covers every header (From, Date, Received ...), so two tenants who send the
    same text are two complaints, while the same message fetched twice is one.
    """
    if message.message_id:
        return message.message_id
    return f"<noid-{hashlib.sha256(raw).hexdigest()[:40]}@parkdesk>"


class IntakeCycle:
    """Runs intake cycles. The adapters and the clock are parameters, so tests need no waiting."""

    def __init__(self, *, config, register, mailbox, mailer, journal: Journal,
                 templates: Templates, now: Callable[[], datetime], secret):
        self.config = config
        self.secret = secret
        self.register = register
        self.mailbox = mailbox
        self.mailer = mailer
        self.journal = journal
        self.templates = templates
        self.now = now
        self._layout_checked = False
        self._context: DecisionContext | None = None
        self.stop_requested = False

    # --- the cycle --------------------------------------------------------------------------

    def run(self) -> CycleReport:
        report = CycleReport()
        if not self._layout_checked:
            self.register.ensure_layout()
            self.register.write_departments(department_rows(self.config))
            self._layout_checked = True
        snapshot = self.register.read_register()
        self._by_message_id = {r.values.get("message_id", ""): r for r in snapshot
                               if r.values.get("message_id")}
        self.known_references = {r.reference for r in snapshot if r.reference}
        self._context = None  # rebuilt around this cycle's references
        self.rows_by_reference = {r.reference: dict(r.values) for r in snapshot if r.reference}
        report.walk_ins = register_walk_ins(self, snapshot)
        report.redispatched = apply_staff_edits(self, snapshot)
        self._note_uidvalidity()
        self.send_pending_mail(report)  # anything a crash left unsent

        group: list[_Item] = []
        for batch in self.mailbox.iter_batches():
            for fetched in batch:
                item = self._prepare(fetched, report)
                if item is not None:
                    group.append(item)
            if len(group) >= GROUP_SIZE:
                self._handle_group(group, report)
                group = []
            if self.stop_requested:
                break
        if group:
            self._handle_group(group, report)
        self.send_pending_mail(report)  # e.g. quarantine notices queued outside a group
        self.flush_activity()
        return report

    # --- per message ------------------------------------------------------------------------

    def _prepare(self, fetched, report: CycleReport) -> _Item | None:
        """Parse and decide one message; failures are counted and end in quarantine."""
        mailbox_key = f"{fetched.uidvalidity}:{fetched.uid}"
        try:
            message = parse_message(fetched.raw, body_max_chars=self.config.intake.body_max_chars)
        except UnparseableMessage as error:
            self._quarantine(fetched.uid, mailbox_key, None, f"cannot be parsed: {error}", 1, report)
            return None
        except Exception as error:  # noqa: BLE001 - one bad email never stops the daemon
            self._count_failure(fetched.uid, mailbox_key, None, error, report)
            return None
        try:
            identity = message_identity(message, fetched.raw)
            entry = self.journal.entry(identity)
            if entry and entry.state == "quarantined":
                self.mailbox.move_to_quarantine([fetched.uid])
                return None
            decision = decide(message, self._decision_context())
        except Exception as error:  # noqa: BLE001
            self._count_failure(fetched.uid, mailbox_key, message, error, report)
            return None
        item = _Item(fetched.uid, mailbox_key, message, identity, decision)
        if decision.kind == COMPLAINT and message.attachments and not (
                entry and entry.state in ("registered", "done")):
            self.journal.keep_attachments(identity, small_attachments(
                fetched.raw, self.config.dispatch.attach_max_bytes))
        if entry:
            item.reference = entry.reference
            # Already done under another mailbox position: a second copy of the same message.
            item.duplicate = entry.state == "done" and entry.mailbox_key != mailbox_key
        return item

    def _decision_context(self) -> DecisionContext:
        """What the decision rules consult; it sees the cycle's live set of known references,
        so it is built once per cycle, not once per message."""
        if self._context is not None:
            return self._context
        own = {self.config.smtp.from_address.lower()}
        if getattr(self.config.mailbox, "username", None) and "@" in self.config.mailbox.username:
            own.add(self.config.mailbox.username.lower())
        self._context = DecisionContext(
            own_addresses=frozenset(own),
            reference_prefix=self.config.park.reference_prefix,
            reference_for_message_id=self.journal.reference_for_message_id,
            known_references=self.known_references,
            # Archived complaints are not in the sheet; the journal still knows them.
            reference_known_elsewhere=self.journal.has_reference,
        )
        return self._context

    # --- per group --------------------------------------------------------------------------

    def _handle_group(self, group: list[_Item], report: CycleReport) -> None:
        now = self.now()
        seen: set[str] = set()
        for item in group:
            if item.identity in seen:
                item.duplicate = True
            seen.add(item.identity)

        fresh = [i for i in group if not i.duplicate and self._state(i) not in ("registered", "done")]
        # 1. intent: reserve references, recorded before anything is written anywhere
        for item in fresh:
            if item.decision.kind == COMPLAINT:
                found = self._by_message_id.get(item.identity)
                if found:
                    item.reference, item.in_sheet = found.reference, True
                    item.category_name = found.values.get("category", "")
                    item.row_values = dict(found.values)
                elif not item.reference:
                    item.reference = self.new_reference(now)
            else:
                item.reference = item.reference or item.decision.reference
            self.journal.record(item.identity, state="registering", mailbox_key=item.mailbox_key,
                                kind=item.decision.kind, reference=item.reference, now=now)
        fault_point("after_intent")

        # 2. the new rows, in one request
        new_rows = [
            self._row(item, now) for item in fresh
            if item.decision.kind == COMPLAINT and not item.in_sheet
        ]
        if new_rows:
            self.register.append_complaints(new_rows)
        fault_point("after_append")

        # 3. registered: Activity events, slips and apologies queued, durably; replies applied
        cell_updates: list[CellUpdate] = []
        for item in fresh:
            for event in self._events_for(item, now):
                self.journal.queue_activity(event)
            if item.decision.kind == COMPLAINT:
                self.known_references.add(item.reference)
                self.rows_by_reference[item.reference] = dict(item.row_values or {})
                report.registered.append(item.reference)
                log.info("registered a complaint from %s", item.message.from_address or "(no sender)",
                         extra=about(item.reference, item.identity))
                self._queue_apology(item, now)
                self._dispatch_new(item, now)
            elif item.decision.kind == REPLY:
                report.notes += 1
                log.info("reply from %s", item.message.from_address or "(no sender)",
                         extra=about(item.reference, item.identity))
                cell_updates += self._apply_reply(item, now)
            else:
                report.automated += 1
                log.info("automatic message from %s ignored: %s", item.message.from_address or
                         "(no sender)", item.decision.reason, extra=about(item.reference, item.identity))
        if cell_updates:
            self.register.update_cells(cell_updates)
        for item in fresh:
            self.journal.record(item.identity, state="registered", now=now)
        for item in group:
            if item.duplicate:
                report.duplicates += 1
                log.info("second copy of a message ignored", extra=about(item.reference, item.identity))
                self.journal.queue_activity(activity(
                    now, item.reference, Event.DUPLICATE_IGNORED, item.message.from_address or "",
                    f"{item.identity} {item.message.subject}"))
        self.flush_activity()
        fault_point("after_record")

        # 4. mail out
        self.send_pending_mail(report)
        fault_point("after_send")

        # 5. done; the messages leave the inbox only now
        done_uids = []
        for item in group:
            if not item.duplicate and self.journal.pending_mail_for(item.identity):
                continue  # a temporary SMTP failure: keep the message until its mail is out
            if not item.duplicate:
                self.journal.record(item.identity, state="done", now=now)
            self.journal.clear_failures(item.mailbox_key)
            done_uids.append(item.uid)
        fault_point("after_done")
        if done_uids:
            self.mailbox.move_to_processed(done_uids)

    def _state(self, item: _Item) -> str:
        entry = self.journal.entry(item.identity)
        return entry.state if entry else ""

    def new_reference(self, now: datetime) -> str:
        prefix = self.config.park.reference_prefix
        day = day_code(now)
        number = self.journal.next_reference_number(
            day, at_least=highest_number(self.known_references, prefix, day))
        return format_reference(prefix, day, number)

    def _row(self, item: _Item, now: datetime) -> dict[str, str]:
        intake = self.config.intake
        result = classify(
            item.message.subject, item.message.body_text,
            categories=self.config.categories, priorities=self.config.priorities,
            default_category=intake.default_category, default_priority=intake.default_priority,
        )
        category = self.config.category(result.category)
        item.category_name = category.name
        row = complaint_row(item.message, reference=item.reference, identity=item.identity,
                            classification=result, received_at=now, config=self.config)
        row.update(dispatch_fields(self.config.department(category.department),
                                   self.config.priority(result.priority), now))
        item.row_values = row
        return row

    # --- dispatch and replies ---------------------------------------------------------------

    def _dispatch_new(self, item: _Item, now: datetime) -> None:
        """Queue the handling slips of a newly registered complaint (once, even after a crash)."""
        values = item.row_values or {}
        department = department_of_row(self.config, values)
        if department is None:
            return
        last = self.journal.last_dispatch(item.reference)
        number = last[2] if last else self.journal.record_dispatch(
            item.reference, department=department.key,
            priority=priority_of_row(self.config, values).key, now=now)
        if queue_slips(self, values, department, identity=item.identity, dispatch_no=number,
                       now=now):
            self.journal.queue_activity(activity(
                now, item.reference, Event.DISPATCHED, "ParkDesk",
                f"{department.name}: {', '.join(slip_recipients(self.config, department, serious=bool(values.get('serious'))))}"))

    def _apply_reply(self, item: _Item, now: datetime) -> list[CellUpdate]:
        values = self.rows_by_reference.get(item.reference)
        if values is None:  # not in the working register: archived, or removed by staff
            values = reply_to_archived(self, item, now)  # back if the tenant is unhappy
            if values is None:
                return []  # the words are kept in Activity
        outcome = handle_reply(self, item, values, now)
        for event in outcome.events:
            self.journal.queue_activity(event)
        values.update(outcome.cells)
        return [CellUpdate(item.reference, key, value) for key, value in outcome.cells.items()]

    def _events_for(self, item: _Item, now: datetime) -> list[dict[str, str]]:
        message, actor = item.message, item.message.from_address or ""
        kind = item.decision.kind
        if kind == COMPLAINT:
            return [activity(now, item.reference, Event.REGISTERED, actor,
                             f"{message.subject} ({item.identity})")]
        if kind == REPLY:
            return []  # _apply_reply records what the reply did
        return [activity(now, item.reference, Event.AUTO_REPLY_IGNORED, actor,
                         f"{item.decision.reason}; subject: {message.subject}")]

    # --- the apology --------------------------------------------------------------------------

    def _queue_apology(self, item: _Item, now: datetime) -> None:
        message = item.message
        recipient = (message.reply_to or message.from_address or "").lower()
        if not recipient or recipient in self._decision_context().own_addresses:
            return
        limit = self.config.intake.replies_per_sender_per_hour
        if self.journal.replies_sent_to(recipient, now - timedelta(hours=1)) >= limit:
            self.journal.queue_activity(activity(
                now, item.reference, Event.REPLY_LIMITED, recipient,
                f"more than {limit} automatic replies to this address in one hour; none sent"))
            return
        queue_apology(self, identity=item.identity, reference=item.reference,
                      recipient=recipient, subject=message.subject,
                      contact_name=message.from_name or "", category_name=item.category_name,
                      now=now, in_reply_to=message.message_id, references=message.references,
                      auto_reply=True)

    # --- shared steps ---------------------------------------------------------------------------

    def check_deadlines(self) -> int:
        """The timed jobs, on one read of the register: reminders and escalations of late
        complaints (``daemon.dispatch.escalation``), then return visits, closing and review
        chases (``daemon.resolution.job``). Returns how many steps were taken."""
        snapshot = self.register.read_register()
        now = self.now()
        due = run_deadline_check(self, snapshot, now)
        due += run_aftercare(self, snapshot, now)  # rows are found by reference: same snapshot
        run_archive(self, snapshot, now)  # closed long ago: out of the working register
        self.send_pending_mail()
        self.flush_activity()
        return due

    def send_pending_mail(self, report: CycleReport | None = None) -> None:
        """Send everything queued in the journal's outbox, page by page (one connection each).

        Paging moves past the last id seen, so a mail that fails for now is retried next
        cycle rather than over and over in this one.
        """
        last_id = 0
        while pending := self.journal.pending_mail(after_id=last_id):
            last_id = pending[-1].id
            self._send_page(pending, report)

    def _send_page(self, pending, report: CycleReport | None) -> None:
        # Parsed back with the policy they were built with, so they are sent as they were made.
        messages = [message_from_bytes(item.raw, policy=OUTGOING_POLICY) for item in pending]
        results = self.mailer.send_all(messages)
        now = self.now()
        for item, result in zip(pending, results):
            if result.ok:
                self.journal.mark_sent(item.id, now)
                if report is not None:
                    report.mails_sent += 1
                log.info("%s sent to %s", item.purpose.split(":")[0], item.recipient,
                         extra=about(item.reference, item.message_id))
                if item.purpose == "tenant_ack":
                    self.journal.queue_activity(activity(
                        now, item.reference, Event.TENANT_ACKNOWLEDGED, item.recipient,
                        f"apology with the reference sent ({item.message_id})"))
            else:
                log.warning("%s: sending to %s failed (%s): %s", item.message_id, item.recipient,
                            "permanent" if result.permanent else "will retry", result.error,
                            extra=about(item.reference, item.message_id))
                self.journal.mark_send_failed(item.id, result.error or "", permanent=result.permanent)

    def flush_activity(self) -> None:
        """Append the queued Activity events in one request, then forget them."""
        queued = self.journal.queued_activity()
        if not queued:
            return
        self.register.append_activity([event for _, event in queued])
        self.journal.forget_activity([event_id for event_id, _ in queued])

    def _note_uidvalidity(self) -> None:
        """Log a UIDVALIDITY change; identities are Message-IDs, so nothing is processed twice."""
        current = str(self.mailbox.uidvalidity)
        name = f"uidvalidity:{self.config.mailbox.folder}"
        previous = self.journal.get_value(name)
        if previous is not None and previous != current:
            log.warning("UIDVALIDITY of %s changed from %s to %s: the mailbox was rebuilt; "
                        "messages are matched by Message-ID, so none is registered twice",
                        self.config.mailbox.folder, previous, current)
        self.journal.set_value(name, current)

    # --- failures -------------------------------------------------------------------------------

    def _count_failure(self, uid: int, mailbox_key: str, message: ParsedMessage | None,
                       error: Exception, report: CycleReport) -> None:
        log.exception("message uid %s failed", uid,
                      extra=about(message_id=message.message_id if message else None))
        attempts = self.journal.add_failure(mailbox_key, f"{type(error).__name__}: {error}")
        report.failed += 1
        if attempts >= self.config.intake.max_attempts:
            self._quarantine(uid, mailbox_key, message, f"{type(error).__name__}: {error}",
                             attempts, report)

    def _quarantine(self, uid: int, mailbox_key: str, message: ParsedMessage | None,
                    reason: str, attempts: int, report: CycleReport) -> None:
        now = self.now()
        sender = message.from_address if message else ""
        subject = message.subject if message else ""
        self.mailbox.move_to_quarantine([uid])
        report.quarantined += 1
        log.warning("message uid %s moved to %s: %s", uid, self.config.mailbox.quarantine_folder, reason,
                    extra=about(message_id=message.message_id if message else None))
        self.journal.queue_activity(activity(
            now, "", Event.QUARANTINED, sender or "",
            f"{reason}; subject: {subject}; folder: {self.config.mailbox.quarantine_folder}"))
        if self.config.service_center:
            rendered = self.templates.render(
                "quarantine_notice", attempts=attempts, folder=self.config.mailbox.quarantine_folder,
                sender=sender, subject=subject, reason=reason)
            notice = build_message(rendered, from_address=self.config.smtp.from_address,
                                   from_name=self.config.smtp.from_name,
                                   to=list(self.config.service_center), now=now)
            self.journal.queue_mail(
                identity=f"quarantine:{mailbox_key}", purpose="quarantine_notice",
                message_id=notice["Message-ID"], reference="",
                recipient=",".join(self.config.service_center), raw=bytes(notice), now=now)
