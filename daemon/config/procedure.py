"""The complaint procedure's sections: intake, dispatch (escalation ladders), aftercare
(return visit, review, archive) and the command words of email replies."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from daemon.config.fields import Section, Text

SHEET_CELL_LIMIT = 50_000  # a Google Sheets cell holds at most 50,000 characters


class IntakeConfig(Section):
    default_category: Text = Field(description="the category key used when no keyword matches")
    default_priority: Text = Field(description="the priority key used when no keyword matches")
    replies_per_sender_per_hour: int = Field(
        3, ge=1, description="automatic replies one sender may get in an hour")
    max_attempts: int = Field(3, ge=1, description="tries before a message is quarantined")
    body_max_chars: int = Field(
        45_000, ge=1_000, le=SHEET_CELL_LIMIT,
        description="characters of a complaint kept in the register "
                    "(a Google Sheets cell holds at most 50000)")


class EscalationStep(Section):
    """One rung of an escalation ladder: who is told, how many minutes after the deadline."""

    after_minutes: int = Field(ge=0, description="minutes after the deadline")
    notify: Literal["department", "head", "service_center", "leadership"] = Field(
        description="who is told: department, head, service_center or leadership")


DEFAULT_ACK_LADDER = (
    EscalationStep(after_minutes=0, notify="department"),
    EscalationStep(after_minutes=5, notify="service_center"),
    EscalationStep(after_minutes=25, notify="leadership"),
)
DEFAULT_RESOLVE_LADDER = (
    EscalationStep(after_minutes=0, notify="head"),
    EscalationStep(after_minutes=120, notify="leadership"),
)


class DispatchConfig(Section):
    """How handling slips go out and how late ones are chased."""

    ack_ladder: tuple[EscalationStep, ...] = Field(
        DEFAULT_ACK_LADDER, min_length=1,
        description="who is told when a slip is not signed for by its sign-for deadline")
    resolve_ladder: tuple[EscalationStep, ...] = Field(
        DEFAULT_RESOLVE_LADDER, min_length=1,
        description="who is told when a complaint is not resolved by its deadline")
    forward_notes_to_tenant: bool = Field(
        False, description="send the department's progress notes on to the tenant")
    sla_check_seconds: int = Field(30, ge=5, le=3600,
                                   description="how often deadlines are checked")
    attach_max_bytes: int = Field(
        5_000_000, ge=0, description="attachments up to this size in all go with the slip (0: none)")


class AftercareConfig(Section):
    """After the result: the return visit (回访), the review (检讨) of serious complaints, the archive."""

    return_visit_delay_hours: float = Field(
        2, ge=0, description="hours after sign-off before the tenant is asked if satisfied")
    office_hours: tuple[int, int] = Field(
        (9, 18), description="[start hour, end hour]: return visits are sent only in between")
    office_days: tuple[int, ...] = Field(
        (1, 2, 3, 4, 5), min_length=1,
        description="working days, 1 = Monday ... 7 = Sunday")
    visit_reminder_days: int = Field(3, ge=1, description="days without an answer before one reminder")
    visit_close_days: int = Field(
        4, ge=1, description="more days without an answer before the complaint is closed")
    review_escalate_days: int = Field(
        3, ge=1, description="working days without a review before leadership is told")
    archive_after_days: int = Field(
        30, ge=1, description="days after closing before a complaint moves to its archive tab")


class CommandsConfig(Section):
    """The words that start a reply and what they mean (case does not matter)."""

    ack: tuple[Text, ...] = Field(("收到", "签收", "ACK", "OK"), min_length=1)
    note: tuple[Text, ...] = Field(("进展", "NOTE"), min_length=1)
    done: tuple[Text, ...] = Field(("完成", "已处理", "已解决", "DONE"), min_length=1)
    approve: tuple[Text, ...] = Field(("确认", "APPROVE"), min_length=1)
    reject: tuple[Text, ...] = Field(("退回", "REJECT"), min_length=1)
    transfer: tuple[Text, ...] = Field(("转", "TRANSFER"), min_length=1)
    review: tuple[Text, ...] = Field(("检讨", "REVIEW"), min_length=1)
