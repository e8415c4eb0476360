"""The review section: the Dashboard and the periodic digest, with the parsing of its schedule
(``monday 09:00``, ``every day 08:30``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Literal

import email_validator
from pydantic import AfterValidator, Field

from daemon.config.errors import _quote, _refuse
from daemon.config.fields import Section, Text

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DIGEST_ROLES = ("leadership", "service_center")
DIGEST_SCHEDULE_HELP = (
    "write a weekday and a 24-hour time such as 'monday 09:00', or 'every day 08:30' "
    "(in the park's time zone); for a monthly digest set review.digest_period: month, and it "
    "is sent at the first of these times after each month ends")


@dataclass(frozen=True)
class DigestTime:
    """When the digest may go out: ``weekday`` 0 (Monday) to 6, or None for every day."""

    weekday: int | None
    hour: int
    minute: int


def parse_digest_schedule(text: str) -> DigestTime:
    """``"monday 09:00"``, ``"every monday 9:00"``, ``"mon 09:00"``, ``"every day 08:30"``,
    ``"daily 08:30"`` -> ``DigestTime``; anything else (``"1st of month"``) -> ValueError."""
    words = str(text).casefold().split()
    if words[:1] == ["every"]:
        words = words[1:]
    clock = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", words[-1]) if len(words) == 2 else None
    day = words[0] if clock else ""
    if day in ("day", "daily"):
        return DigestTime(None, int(clock.group(1)), int(clock.group(2)))
    matches = [index for index, name in enumerate(WEEKDAYS) if day and name.startswith(day)
               and len(day) >= 3]
    if len(matches) != 1:
        raise ValueError(f"{_quote(text)} is not a schedule ParkDesk understands; "
                         f"{DIGEST_SCHEDULE_HELP}")
    return DigestTime(matches[0], int(clock.group(1)), int(clock.group(2)))


def check_digest_schedule(text: str) -> str:
    try:
        parse_digest_schedule(text)
    except ValueError as exc:
        raise _refuse(str(exc)) from None
    return " ".join(text.split())


def check_digest_recipient(value: str) -> str:
    """``leadership``, ``service_center`` (those lists of this file) or an email address."""
    if value in DIGEST_ROLES:
        return value
    try:
        return email_validator.validate_email(value, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as exc:
        raise _refuse(f"{_quote(value)} is neither leadership, service_center nor an email "
                      f"address ({str(exc).rstrip('.')})") from None


DigestSchedule = Annotated[Text, AfterValidator(check_digest_schedule)]
DigestRecipient = Annotated[Text, AfterValidator(check_digest_recipient)]


class ReviewConfig(Section):
    """The periodic review mailed as a digest to leadership and the service center."""

    dashboard_enabled: bool = Field(
        True, description="rebuild the Dashboard and Recurring tabs once a day: true or false")
    digest_enabled: bool = Field(True, description="send the digest: true or false")
    digest_schedule: DigestSchedule = Field(
        "monday 09:00", validate_default=True,
        description="when the digest goes out, e.g. monday 09:00 or every day 08:30")
    digest_period: Literal["week", "month"] = Field(
        "week", description="what one digest covers: week or month")
    digest_to: tuple[DigestRecipient, ...] = Field(
        DIGEST_ROLES, min_length=1,
        description="who gets it: leadership, service_center and/or email addresses")

    @property
    def schedule(self) -> DigestTime:
        return parse_digest_schedule(self.digest_schedule)
