"""What is this message? An ordered list of small rules; the first that answers decides.

Like Mailman's chains: each rule looks at the parsed message and what ParkDesk knows, and
either returns a ``Decision`` or passes (``None``). The order is the policy:

1. sent by ParkDesk itself (a loop)          -> automated, ignored
2. auto-reply, bounce or list mail (RFC 3834) -> automated, recorded, never answered
3. a reply to a message we sent (In-Reply-To / References of our Message-IDs)
4. a reply naming a known reference in the subject (``Re: [C-250514-007] ...``)
5. anything else                              -> a new complaint
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable

from daemon.parsing.message import ParsedMessage
from daemon.references import find_references
from daemon.rules.automated import classify_automated

AUTOMATED = "automated"
REPLY = "reply"
COMPLAINT = "complaint"


@dataclass(frozen=True)
class Decision:
    kind: str
    reference: str = ""
    reason: str = ""


@dataclass(frozen=True)
class DecisionContext:
    """What the rules may consult: our own addresses, our sent Message-IDs, known references."""

    own_addresses: frozenset[str]
    reference_prefix: str
    reference_for_message_id: Callable[[str], str | None]
    known_references: Collection[str] = field(default_factory=frozenset)
    reference_known_elsewhere: Callable[[str], bool] = lambda reference: False


Rule = Callable[[ParsedMessage, DecisionContext], "Decision | None"]


def sent_by_us(message: ParsedMessage, context: DecisionContext) -> Decision | None:
    if message.from_address and message.from_address.lower() in context.own_addresses:
        return Decision(AUTOMATED, reason="sent by ParkDesk's own address (mail loop)")
    return None


def automated_mail(message: ParsedMessage, context: DecisionContext) -> Decision | None:
    found = classify_automated(message)
    if found is None:
        return None
    reference = _reference_by_headers(message, context) or _reference_by_subject(message, context)
    return Decision(AUTOMATED, reference=reference or "", reason=f"{found.kind.value}: {found.reason}")


def reply_by_headers(message: ParsedMessage, context: DecisionContext) -> Decision | None:
    reference = _reference_by_headers(message, context)
    if reference:
        return Decision(REPLY, reference=reference, reason="In-Reply-To/References of our message")
    return None


def reply_by_subject(message: ParsedMessage, context: DecisionContext) -> Decision | None:
    reference = _reference_by_subject(message, context)
    if reference:
        return Decision(REPLY, reference=reference, reason="reference in the subject")
    return None


def new_complaint(message: ParsedMessage, context: DecisionContext) -> Decision:
    return Decision(COMPLAINT, reason="new complaint")


RULES: tuple[Rule, ...] = (sent_by_us, automated_mail, reply_by_headers, reply_by_subject, new_complaint)


def decide(message: ParsedMessage, context: DecisionContext,
           rules: Iterable[Rule] = RULES) -> Decision:
    for rule in rules:
        decision = rule(message, context)
        if decision is not None:
            return decision
    raise AssertionError("the last rule always decides")  # pragma: no cover


def _reference_by_headers(message: ParsedMessage, context: DecisionContext) -> str | None:
    candidates = [message.in_reply_to, *reversed(message.references)]
    for message_id in candidates:
        if message_id:
            reference = context.reference_for_message_id(message_id.strip())
            if reference:
                return reference
    return None


def _reference_by_subject(message: ParsedMessage, context: DecisionContext) -> str | None:
    for reference in find_references(message.subject, context.reference_prefix):
        if reference in context.known_references or context.reference_known_elsewhere(reference):
            return reference
    return None
