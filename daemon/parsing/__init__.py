"""Raw email bytes -> what ParkDesk needs: decoded headers, readable body, attachments, contact."""

from daemon.parsing.message import (
    DEFAULT_BODY_MAX_CHARS,
    Attachment,
    ParsedMessage,
    UnparseableMessage,
    parse_message,
)

__all__ = ["DEFAULT_BODY_MAX_CHARS", "Attachment", "ParsedMessage", "UnparseableMessage", "parse_message"]
