"""A new complaint as a register row and Activity events: plain dicts keyed by column key.

Everything is text: the register adapter writes RAW, so what a tenant wrote is never run as a
formula. Category, priority and department are shown by their names from the config, which
is what staff see in the drop-downs and may change.
"""

from __future__ import annotations

from datetime import datetime

from daemon.classify import Classification
from daemon.parsing.message import ParsedMessage
from daemon.sheet_layout import Event, Status

TIME_FORMAT = "%Y-%m-%d %H:%M"
YES = "是 Yes"
CHECK_CATEGORY = "类别待核实 check category"


def format_time(moment: datetime) -> str:
    return moment.strftime(TIME_FORMAT)


def describe_attachments(message: ParsedMessage) -> str:
    """``"photo.jpg (image/jpeg, 2.1 MB); 合同.pdf (application/pdf, 80 KB)"``."""
    return "; ".join(
        f"{a.name or '(no name)'} ({a.content_type}, {_size(a.size)})" for a in message.attachments
    )


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


def complaint_row(message: ParsedMessage, *, reference: str, identity: str,
                  classification: Classification, received_at: datetime, config) -> dict[str, str]:
    category = config.category(classification.category)
    priority = config.priority(classification.priority)
    department = config.department(category.department)
    return {
        "reference": reference,
        "status": Status.NEW.label,
        "received_at": format_time(received_at),
        "company": message.company or "",
        "contact_name": message.from_name or "",
        "email": message.reply_to or message.from_address or "",
        "phone": message.phone or "",
        "location": message.location or "",
        "subject": message.subject or "",
        "content": message.body_text or "",
        "attachments": describe_attachments(message),
        "category": category.name,
        "priority": priority.name,
        "serious": YES if priority.serious else "",
        "check": CHECK_CATEGORY if classification.needs_check else "",
        "department": department.name,
        "updated_at": format_time(received_at),
        "message_id": identity,
    }


def activity(moment: datetime, reference: str, event: Event, actor: str, detail: str) -> dict[str, str]:
    return {
        "time": format_time(moment),
        "reference": reference,
        "event": event.value,
        "actor": actor,
        "detail": detail[:2000],
    }
