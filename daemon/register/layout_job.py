"""Laying the Google register out again once a day, from the daemon.

`parkdesk init` builds the sheet's drop-downs, highlights and protection, but rows the daemon
appends below the header cannot inherit a drop-down from it, and staff may remove a rule by
accident. So the daemon runs the same idempotent layout (``apply_google_layout``: it reads the
sheet, writes only what is missing, never touches data) once a day, right after a cycle. The
day of the last run, in the park's time zone, is kept in the journal under
``register.layout.day``; a failure leaves it unset, so the next check tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from daemon.register.errors import RegisterError

log = logging.getLogger("parkdesk.register")

CHECK_SECONDS = 600
DAY_KEY = "register.layout.day"
JOB_TAG = "layout"


class LayoutRepairJob:
    """Re-applies the Google layout when the park's day has changed since the last time."""

    def __init__(self, config: Any, journal: Any, now: Callable[[], datetime]):
        self.config = config
        self.journal = journal
        self.now = now

    @property
    def enabled(self) -> bool:
        register = self.config.register
        return register.backend == "google" and register.repair_layout_daily

    def install(self, scheduler: Any) -> Any:
        """Add the check to a ``schedule.Scheduler``, due at its next turn (None if off)."""
        if not self.enabled:
            return None
        job = scheduler.every(CHECK_SECONDS).seconds.do(self.check).tag(JOB_TAG)
        job.next_run = datetime.now()
        return job

    def check(self) -> list[str] | None:
        """Lay out again if not yet done today: the changes made, or None if nothing ran."""
        if not self.enabled:
            return None
        today = self.now().astimezone(self.config.park.tz).date().isoformat()
        if self.journal.get_value(DAY_KEY) == today:
            return None
        from daemon.register.google_layout import apply_google_layout

        try:
            report = apply_google_layout(self.config)
        except RegisterError as error:
            log.warning("the register's layout could not be checked (%s); trying again later",
                        error)
            return None
        except Exception:  # noqa: BLE001 - schedule does not catch job errors; never end the daemon
            log.exception("the register's layout could not be checked; trying again later")
            return None
        self.journal.set_value(DAY_KEY, today)
        for change in report.changes:
            log.info("register layout: %s", change)
        return list(report.changes)
