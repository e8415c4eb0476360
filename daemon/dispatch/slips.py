"""The handling slip (处理单): the complaint, its deadlines and how to reply, to the department.

Each recipient gets a copy of their own with a Message-ID that carries a token bound to their
address (``daemon.authenticity``): a reply counts as a command only if it answers a copy that
was sent to the person replying. Members and the head get the slip; for a serious complaint,
leadership gets it too, with the responsible person and the deadline.
"""

from __future__ import annotations

from datetime import datetime

from daemon.authenticity import make_message_id
from daemon.dispatch.attachments import SmallAttachment, attach
from daemon.outgoing import build_message, message_domain
from daemon.sla import read_yes
from daemon.replies.commands import describe_commands


def slip_recipients(config, department, *, serious: bool) -> list[str]:
    recipients = [*department.members, department.head]
    if serious:
        recipients += list(config.leadership)
    seen, ordered = set(), []
    for address in recipients:
        if address.lower() not in seen:
            seen.add(address.lower())
            ordered.append(address)
    return ordered


def queue_slips(cycle, values: dict[str, str], department, *, identity: str, dispatch_no: int,
                now: datetime, recipients: list[str] | None = None) -> int:
    """Queue one slip per recipient in the journal's outbox; returns how many were queued.

    ``recipients`` defaults to the department (and leadership when the row is serious); a
    serious slip is recorded as sent to leadership, so ticking Serious later adds nothing.
    """
    config = cycle.config
    reference = values["reference"]
    serious = read_yes(values.get("serious", ""))
    if serious:
        cycle.journal.claim_action(reference, f"serious-slip-{dispatch_no}", now)
    context = dict(
        reference=reference, serious=serious, department_name=department.name,
        head=department.head, priority_name=values.get("priority", ""),
        category_name=values.get("category", ""), company=values.get("company", ""),
        contact_name=values.get("contact_name", ""), email=values.get("email", ""),
        phone=values.get("phone", ""), location=values.get("location", ""),
        subject=values.get("subject", ""), content=values.get("content", ""),
        attachments=values.get("attachments", ""), received_at=values.get("received_at", ""),
        ack_due=values.get("ack_due", ""), resolve_by=values.get("resolve_by", ""),
        commands_help=describe_commands(config.commands, config.park.language),
        feedback=values.get("feedback", ""), satisfaction=values.get("satisfaction", ""),
        park_name=config.park.name,
    )
    rendered = cycle.templates.render("handling_slip", **context)
    attachments = [SmallAttachment(*kept) for kept in cycle.journal.attachments_of(reference)]
    queued = 0
    for recipient in recipients or slip_recipients(config, department, serious=serious):
        message_id = make_message_id(cycle.secret, recipient=recipient, reference=reference,
                                     purpose="slip", domain=message_domain(config.smtp.from_address))
        message = build_message(rendered, from_address=config.smtp.from_address,
                                from_name=config.smtp.from_name, to=[recipient], now=now,
                                reference=reference, message_id=message_id)
        attach(message, attachments)
        queued += cycle.journal.queue_mail(
            identity=identity, purpose=f"slip{dispatch_no}:{recipient.lower()}",
            message_id=message_id, reference=reference, recipient=recipient.lower(),
            raw=bytes(message), now=now)
    return queued


def send_to(cycle, template: str, recipients: list[str], *, identity: str, purpose: str,
            reference: str, now: datetime, in_reply_to: str | None = None,
            references: tuple[str, ...] = (), token_purpose: str = "note", **context) -> None:
    """Queue one templated message per recipient (each with its own tokened Message-ID)."""
    config = cycle.config
    rendered = cycle.templates.render(template, reference=reference, park_name=config.park.name,
                                      **context)
    for recipient in recipients:
        message_id = make_message_id(cycle.secret, recipient=recipient, reference=reference,
                                     purpose=token_purpose,
                                     domain=message_domain(config.smtp.from_address))
        message = build_message(rendered, from_address=config.smtp.from_address,
                                from_name=config.smtp.from_name, to=[recipient], now=now,
                                reference=reference, message_id=message_id,
                                in_reply_to=in_reply_to, references=references)
        cycle.journal.queue_mail(identity=identity, purpose=f"{purpose}:{recipient.lower()}",
                                 message_id=message_id, reference=reference,
                                 recipient=recipient.lower(), raw=bytes(message), now=now)
