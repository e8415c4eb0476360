"""Build the emails ParkDesk sends: our own Message-ID, threading headers, auto-reply markers.

Every message carries the complaint's reference in its subject (the template puts it there),
a Message-ID of our own (kept in the journal so replies find their complaint), and, when it
answers a tenant automatically, ``Auto-Submitted: auto-replied`` (RFC 3834) so other robots
do not answer it back.
"""

from __future__ import annotations

from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from daemon.templates import RenderedMail


# CRLF line ends, and headers folded only past RFC 5322's 998-character limit: Python 3.11
# drops the space at the point where it folds a long non-ASCII header (CPython gh-144156),
# which turned "Handling slip" into "Handlingslip" in long Chinese subjects.
OUTGOING_POLICY = policy.SMTP.clone(max_line_length=998)


def message_domain(address: str) -> str:
    """The part after ``@``, used for our Message-IDs (``parkdesk.invalid`` if there is none)."""
    return address.rpartition("@")[2] or "parkdesk.invalid"


def build_message(rendered: RenderedMail, *, from_address: str, from_name: str,
                  to: list[str], now: datetime, cc: list[str] | None = None,
                  in_reply_to: str | None = None, references: tuple[str, ...] = (),
                  auto_reply: bool = False, reference: str = "",
                  message_id: str | None = None) -> EmailMessage:
    """An ``EmailMessage`` ready for SMTP, with the given or a fresh Message-ID."""
    message = EmailMessage(policy=OUTGOING_POLICY)
    message["From"] = Address(display_name=from_name, addr_spec=from_address)
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id or make_msgid(idstring="parkdesk",
                                                     domain=message_domain(from_address))
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = " ".join([*references, in_reply_to][-10:])
    if auto_reply:
        message["Auto-Submitted"] = "auto-replied"
    # Ask Exchange and friends not to answer us with out-of-office notes.
    message["X-Auto-Response-Suppress"] = "All"
    if reference:
        message["X-ParkDesk-Reference"] = reference
    message.set_content(rendered.text)
    if rendered.html:
        message.add_alternative(rendered.html, subtype="html")
    return message
