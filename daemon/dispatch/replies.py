"""What a reply to a complaint does. Who sent it decides what it may do:

- a member or the head of the complaint's current department (or the service center), answering
  a copy ParkDesk sent to that very address, from a domain that did not fail DMARC/DKIM/SPF:
  the first line is a command (签收/ACK, 进展/NOTE, 转/TRANSFER, 完成/DONE, 确认/APPROVE ...),
  applied and confirmed;
- the tenant of that complaint: a return-visit answer (满意, 2 ...) or a follow-up, added to the
  complaint and passed to the department;
- anyone else, or a command that fails the checks: kept as a note, and the service center is told.

``handle_reply`` returns what to change in the register; mail is queued in the journal's outbox
under the reply's own identity, so the reply leaves the inbox only once that mail is out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from daemon.authenticity import authentication_verdict, find_token
from daemon.dispatch.fields import dispatch_fields
from daemon.dispatch.lookup import department_of_row, priority_of_row
from daemon.dispatch.slips import queue_slips, send_to
from daemon.intake.rows import activity, format_time
from daemon.replies.commands import Command, describe_commands, parse_command, resolve_department
from daemon.replies.quotes import strip_quoted
from daemon.sheet_layout import Event, Status

NOTE_LIMIT = 2000
CLOSED = {Status.CLOSED, Status.CANCELLED}


@dataclass
class ReplyOutcome:
    """Cells to write on the complaint's row, and Activity events to append."""

    cells: dict[str, str] = field(default_factory=dict)
    events: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Reply:
    """One reply being handled: who, about what, what it says, and where its effects go."""

    cycle: object
    item: object
    values: dict[str, str]
    department: object | None
    sender: str
    visible: str
    command: Command
    now: datetime
    outcome: ReplyOutcome

    @property
    def reference(self) -> str:
        return self.item.reference

    @property
    def config(self):
        return self.cycle.config

    @property
    def at(self) -> str:
        return format_time(self.now)

    def note(self, event: Event, text: str) -> None:
        self.outcome.events.append(
            activity(self.now, self.reference, event, self.sender, text[:NOTE_LIMIT]))

    def set(self, **cells: str) -> None:
        self.outcome.cells.update(cells)
        self.values.update(cells)

    def confirm(self, action: str, detail: str = "") -> None:
        send_to(self.cycle, "command_confirmation", [self.sender], identity=self.item.identity,
                purpose=f"confirm-{self.command.kind}", reference=self.reference, now=self.now,
                in_reply_to=self.item.message.message_id, action=action, at=self.at,
                detail=detail)

    def send(self, template: str, recipients: list[str], purpose: str, **context) -> None:
        send_to(self.cycle, template, recipients, identity=self.item.identity, purpose=purpose,
                reference=self.reference, now=self.now, token_purpose=purpose.split("-")[0],
                **context)

    def send_help(self) -> None:
        send_to(self.cycle, "commands_help", [self.sender], identity=self.item.identity,
                purpose="help", reference=self.reference, now=self.now,
                in_reply_to=self.item.message.message_id,
                commands_help=describe_commands(self.config.commands, self.config.park.language))

    def tell_service_center(self, reason: str) -> None:
        send_to(self.cycle, "refused_command", list(self.config.service_center),
                identity=self.item.identity, purpose="refused", reference=self.reference,
                now=self.now, sender=self.sender or "?", first_line=self.command.first_line or "",
                reason=reason)

    def status(self) -> Status | None:
        return Status.from_label(self.values.get("status", ""))


def handle_reply(cycle, item, values: dict[str, str], now: datetime) -> ReplyOutcome:
    from daemon.resolution.handlers import TENANT_HANDLERS, STAFF_HANDLERS

    message = item.message
    sender = (message.from_address or "").lower()
    visible = strip_quoted(message.body_text or "").strip()
    reply = Reply(cycle=cycle, item=item, values=values,
                  department=department_of_row(cycle.config, values), sender=sender,
                  visible=visible, command=parse_command(visible, cycle.config.commands),
                  now=now, outcome=ReplyOutcome())

    verdict = authentication_verdict(list(message.authentication_results),
                                     sender.rpartition("@")[2])
    if verdict.kind == "fail":
        reply.note(Event.COMMAND_REFUSED, f"{visible}\n[refused: {verdict.reason}]")
        reply.tell_service_center(
            f"the sender's domain failed the mail server's checks ({verdict.reason})")
        return reply.outcome

    if sender in _staff_addresses(cycle.config, reply.department):
        token = find_token(cycle.secret, [message.in_reply_to, *message.references], sender)
        if token is None or token.reference.casefold() != item.reference.casefold():
            reply.note(Event.COMMAND_REFUSED,
                       f"{visible}\n[refused: not a reply to ParkDesk's mail to {sender}]")
            reply.tell_service_center(
                f"the reply does not answer a message ParkDesk sent to {sender}")
            return reply.outcome
        handler = {**BASIC_HANDLERS, **STAFF_HANDLERS}.get(reply.command.kind, handle_unknown)
        handler(reply)
        return reply.outcome

    tenant = values.get("email", "").strip().lower()
    if sender and sender == tenant:
        TENANT_HANDLERS.get(reply.command.kind, handle_tenant_followup)(reply)
        return reply.outcome

    reply.note(Event.COMMAND_REFUSED if reply.command.kind not in ("unknown", "empty") else Event.NOTE,
               f"{visible}\n[from someone outside this complaint]")
    reply.tell_service_center(
        f"{sender or 'an unknown sender'} is neither in the department "
        f"{reply.department.name if reply.department else '?'} nor the tenant of {item.reference}")
    return reply.outcome


# --- commands of dispatch: sign for, progress, transfer ---------------------------------------

def handle_ack(reply: Reply) -> None:
    values = reply.values
    if values.get("acknowledged_at", "").strip():
        reply.note(Event.NOTE, f"{reply.visible}\n[already signed for by {values.get('acknowledged_by')}]")
        reply.confirm("签收 sign-for", f"已由 {values.get('acknowledged_by')} 于 "
                                       f"{values.get('acknowledged_at')} 签收 / already signed for")
        return
    reply.set(**acknowledgement_cells(reply))
    if reply.status() in (Status.DISPATCHED, Status.REOPENED):
        reply.set(status=Status.ACKNOWLEDGED.label)
    reply.note(Event.ACKNOWLEDGED, reply.visible)
    reply.confirm("签收 sign-for")


def acknowledgement_cells(reply: Reply) -> dict[str, str]:
    name = reply.item.message.from_name or reply.sender
    return {"acknowledged_at": reply.at,
            "acknowledged_by": f"{name} <{reply.sender}>" if name != reply.sender else reply.sender,
            "assignee": reply.values.get("assignee", "").strip() or reply.sender,
            "updated_at": reply.at}


def handle_note(reply: Reply) -> None:
    text = reply.command.argument or reply.visible
    reply.note(Event.PROGRESS, text)
    tenant = reply.values.get("email", "").strip()
    if reply.config.dispatch.forward_notes_to_tenant and tenant and reply.command.argument:
        reply.send("progress_to_tenant", [tenant], "progress",
                   contact_name=reply.values.get("contact_name", ""), text=reply.command.argument)
    reply.confirm("进展 progress note")


def handle_transfer(reply: Reply) -> None:
    config = reply.config
    target_key = resolve_department(reply.command.argument, config.departments)
    target = config.department(target_key) if target_key else None
    if target is None or (reply.department is not None and target.key == reply.department.key):
        reply.note(Event.COMMAND_UNKNOWN,
                   f"{reply.visible}\n[no such other department: {reply.command.argument}]")
        reply.send_help()
        return
    redispatch(reply, target, status=Status.DISPATCHED)
    reply.note(Event.TRANSFERRED,
               f"{reply.department.name if reply.department else '?'} → {target.name}: {reply.visible}")
    reply.confirm("转派 transfer", f"→ {target.name}")


def redispatch(reply: Reply, department, *, status: Status) -> None:
    """Send the slip (again) to ``department`` with fresh deadlines."""
    priority = priority_of_row(reply.config, reply.values)
    cells = dispatch_fields(department, priority, reply.now)
    cells["status"] = status.label
    cells["assignee"] = ""
    reply.set(**cells)
    number = reply.cycle.journal.record_dispatch(reply.reference, department=department.key,
                                                 priority=priority.key, now=reply.now)
    queue_slips(reply.cycle, {**reply.values, "reference": reply.reference}, department,
                identity=reply.item.identity, dispatch_no=number, now=reply.now)


def handle_unknown(reply: Reply) -> None:
    reply.note(Event.COMMAND_UNKNOWN, reply.visible)
    reply.send_help()


def handle_tenant_followup(reply: Reply) -> None:
    reply.note(Event.TENANT_FOLLOWUP, reply.visible or reply.item.message.subject)
    department = reply.department
    if department is not None and reply.status() not in CLOSED:
        reply.send("tenant_followup", [*department.members, department.head], "followup",
                   department_name=department.name, tenant=reply.sender,
                   text=reply.visible or reply.item.message.subject)


BASIC_HANDLERS: dict[str, Callable[[Reply], None]] = {
    "ack": handle_ack,
    "note": handle_note,
    "transfer": handle_transfer,
}


def _staff_addresses(config, department) -> set[str]:
    addresses = {a.lower() for a in config.service_center}
    if department is not None:
        addresses |= {a.lower() for a in department.members} | {department.head.lower()}
    return addresses
