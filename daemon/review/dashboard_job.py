"""Rebuilding the Dashboard and Recurring tabs once a day, from the daemon.

The day of the last rebuild (in the park's time zone) is kept in the journal under
``review.dashboard.day``, so a restart, or ``run --once`` from cron every few minutes, rebuilds
at most once a day. A register outage leaves the key unset: the next check tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from daemon.register import RegisterError
from daemon.review.dashboard import DashboardReport, dashboard_writer, rebuild_dashboard

log = logging.getLogger("parkdesk.review")

CHECK_SECONDS = 600
DAY_KEY = "review.dashboard.day"
JOB_TAG = "dashboard"


class DashboardJob:
    """Rebuilds the dashboard when the park's day has changed since the last rebuild."""

    def __init__(self, config: Any, register: Any, journal: Any, now: Callable[[], datetime]):
        self.config = config
        self.register = register
        self.journal = journal
        self.now = now

    def install(self, scheduler: Any) -> Any:
        """Add the check to a ``schedule.Scheduler``, due at its next turn."""
        job = scheduler.every(CHECK_SECONDS).seconds.do(self.check).tag(JOB_TAG)
        job.next_run = datetime.now()
        return job

    def check(self) -> DashboardReport | None:
        """Rebuild if not yet done today; errors are logged and the next check tries again."""
        if not self.config.review.dashboard_enabled:
            return None
        try:
            dashboard_writer(self.register)
        except TypeError:  # a register without tabs to write (an in-memory one in unit tests)
            return None
        now = self.now()
        today = now.astimezone(self.config.park.tz).date().isoformat()
        if self.journal.get_value(DAY_KEY) == today:
            return None
        try:
            report = rebuild_dashboard(self.config, self.register, now,
                                       period_kind=self.config.review.digest_period)
        except RegisterError as error:
            log.warning("the dashboard could not be rebuilt (%s); trying again later", error)
            return None
        except Exception:  # noqa: BLE001 - schedule does not catch job errors; never end the daemon
            log.exception("the dashboard could not be rebuilt; trying again later")
            return None
        self.journal.set_value(DAY_KEY, today)
        log.info("dashboard rebuilt for %s: %d figure rows, %d recurring rows, %d charts, "
                 "%s requests", report.period, report.dashboard_rows, report.recurring_rows,
                 report.charts, report.requests)
        return report
