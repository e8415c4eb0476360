"""The health section: when the service center is alerted that ParkDesk itself is in trouble."""

from __future__ import annotations

from pydantic import EmailStr, Field

from daemon.config.fields import Section


class HealthConfig(Section):
    """When the service center is alerted that ParkDesk itself is in trouble (one email per
    outage, one when it recovers)."""

    alert_after_minutes: int = Field(
        15, ge=1, description="minutes intake or sending may fail before the service center is alerted")
    stale_mail_minutes: int = Field(
        30, ge=1, description="minutes a message may wait unprocessed in the mailbox before an alert")
    alert_to: tuple[EmailStr, ...] = Field(
        (), description="who gets the alerts (default: the service_center addresses)")
