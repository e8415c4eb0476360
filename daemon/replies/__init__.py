"""Replies to ParkDesk's mail: the newly written text (``quotes``) and the command it gives (``commands``)."""

from daemon.replies.commands import (
    ALL_KINDS,
    COMMAND_KINDS,
    Command,
    describe_commands,
    parse_command,
    resolve_department,
)
from daemon.replies.quotes import Stripped, explain_strip, strip_quoted

__all__ = [
    "ALL_KINDS", "COMMAND_KINDS", "Command", "Stripped", "describe_commands", "explain_strip",
    "parse_command", "resolve_department", "strip_quoted",
]
