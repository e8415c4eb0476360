"""The apology with the reference number (rulebook step 1), for emailed and typed-in complaints."""

from __future__ import annotations

from datetime import datetime

from daemon.intake.rows import format_time
from daemon.outgoing import build_message


def queue_apology(cycle, *, identity: str, reference: str, recipient: str, subject: str,
                  contact_name: str, category_name: str, now: datetime,
                  in_reply_to: str | None = None, references: tuple[str, ...] = (),
                  auto_reply: bool = False) -> None:
    """Render ``tenant_ack`` in the park's language and queue it in the journal's outbox once."""
    config = cycle.config
    rendered = cycle.templates.render(
        "tenant_ack", reference=reference, subject=subject, contact_name=contact_name,
        category_name=category_name, park_name=config.park.name, received_at=format_time(now))
    outgoing = build_message(rendered, from_address=config.smtp.from_address,
                             from_name=config.smtp.from_name, to=[recipient], now=now,
                             in_reply_to=in_reply_to, references=references,
                             auto_reply=auto_reply, reference=reference)
    cycle.journal.queue_mail(identity=identity, purpose="tenant_ack",
                             message_id=outgoing["Message-ID"], reference=reference,
                             recipient=recipient.lower(), raw=bytes(outgoing), now=now)
