"""A complaint's small attachments travel with its handling slip.

Photos of a leak help the department more than a line saying there was a photo. When a
complaint is registered, its attachments that fit within ``dispatch.attach_max_bytes`` (all
together) are kept in the journal, and every slip for that complaint carries them; larger ones
are only listed (they stay in the mailbox's Processed folder).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email import message_from_bytes, policy

log = logging.getLogger("parkdesk.dispatch")


@dataclass(frozen=True)
class SmallAttachment:
    name: str
    content_type: str
    data: bytes


def small_attachments(raw: bytes, max_total_bytes: int) -> list[SmallAttachment]:
    """The attachments of a raw message, in order, as long as their sum stays within the limit."""
    if max_total_bytes <= 0:
        return []
    try:
        message = message_from_bytes(raw, policy=policy.default)
        kept, total = [], 0
        for part in message.walk():
            if part.is_multipart() or part.get_content_disposition() != "attachment" \
                    and not part.get_filename():
                continue
            data = part.get_payload(decode=True) or b""
            if not data or total + len(data) > max_total_bytes:
                continue
            total += len(data)
            kept.append(SmallAttachment(part.get_filename() or "attachment",
                                        part.get_content_type(), data))
        return kept
    except Exception:  # noqa: BLE001 - a broken attachment must not stop the complaint
        log.warning("attachments could not be read; the slip lists them only", exc_info=True)
        return []


def attach(message, attachments: list[SmallAttachment]) -> None:
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(attachment.data, maintype=maintype or "application",
                               subtype=subtype or "octet-stream", filename=attachment.name)
