"""The daemon: builds the adapters from the config and runs intake cycles until told to stop.

``run --once`` runs one full cycle and exits (for cron and tests). ``run`` loops: a cycle, then
waits for new mail (IMAP IDLE, or polling), with the ``schedule`` jobs in between. SIGTERM and
SIGINT stop it cleanly: the message in hand is finished first. An outage of the mail server or
of Google is logged once and retried; it never ends the daemon.

After every cycle, good or failed, the health monitor (``daemon.health``) is told, checks how
long mail has been waiting in the mailbox, and emails the service center one alert per outage
and one recovery message; sending is watched through the same mailer the cycle uses.
"""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import schedule

from daemon.authenticity import load_or_create_secret
from daemon.health import INTAKE, SENDING, HealthMonitor, MonitoredMailer
from daemon.intake.cycle import CycleReport, IntakeCycle
from daemon.journal import Journal
from daemon.lock import StateLock
from daemon.mailbox import MailboxError
from daemon.mailer import MailerError
from daemon.register import RegisterError
from daemon.register.layout_job import LayoutRepairJob
from daemon.review.dashboard_job import DashboardJob
from daemon.review.digest_job import DigestJob
from daemon.templates import Templates

log = logging.getLogger("parkdesk.daemon")

IDLE_SLICE_SECONDS = 60  # how long one wait may last before scheduled jobs get a turn
MAX_OUTAGE_BACKOFF = 300


@dataclass
class Adapters:
    register: object
    mailbox: object
    mailer: object


def build_adapters(config) -> Adapters:
    """The register, mailbox and mailer the config asks for (Google/IMAP/SMTP, or the local
    workbook/Maildir/outbox that need no account)."""
    from daemon.mailbox import open_mailbox
    from daemon.mailer import open_mailer
    from daemon.register import open_register

    return Adapters(
        register=open_register(config.register),
        mailbox=open_mailbox(config.mailbox),
        mailer=open_mailer(config.smtp, now=lambda: datetime.now(config.park.tz)),
    )


class Daemon:
    def __init__(self, config, *, adapters: Adapters | None = None,
                 now: Callable[[], datetime] | None = None, sleep: Callable[[float], None] = time.sleep):
        self.config = config
        self.adapters = adapters
        self.now = now or (lambda: datetime.now(config.park.tz))
        self.sleep = sleep
        self.stopping = False
        self._waiting = False
        self.scheduler = schedule.Scheduler()

    def run(self, *, once: bool = False) -> CycleReport | None:
        with StateLock(self.config.state_dir):
            adapters = self.adapters or build_adapters(self.config)
            journal = Journal(self.config.state_dir / "journal.sqlite3")
            templates = Templates(self.config.park.language)
            self.monitor = HealthMonitor(config=self.config, journal=journal, templates=templates,
                                         now=self.now)
            mailer = MonitoredMailer(adapters.mailer, self.monitor)
            cycle = IntakeCycle(config=self.config, register=adapters.register,
                                mailbox=adapters.mailbox, mailer=mailer, journal=journal,
                                templates=templates, now=self.now,
                                secret=load_or_create_secret(self.config.state_dir))
            digest = DigestJob(self.config, adapters.register, mailer, journal, templates,
                               self.now)
            dashboard = DashboardJob(self.config, adapters.register, journal, self.now)
            layout = LayoutRepairJob(self.config, journal, self.now)
            previous_handlers = None
            try:
                started = self.now()
                try:
                    adapters.mailbox.open()
                except Exception as error:
                    self._note_failure(error, started, mailer)
                    raise
                if once:
                    report = self._once(cycle, adapters.mailbox, mailer)
                    layout.check()
                    dashboard.check()
                    digest.check()
                    return report
                previous_handlers = self._install_signal_handlers(cycle)
                self.scheduler.every(self.config.dispatch.sla_check_seconds).seconds.do(
                    cycle.check_deadlines)
                layout.install(self.scheduler)
                dashboard.install(self.scheduler)
                digest.install(self.scheduler)
                self._loop(cycle, adapters.mailbox, mailer)
                return None
            finally:
                if previous_handlers:
                    for signum, handler in previous_handlers.items():
                        signal.signal(signum, handler)
                adapters.mailbox.close()
                journal.close()

    def _once(self, cycle: IntakeCycle, mailbox, mailer) -> CycleReport:
        """``run --once``: one cycle and the deadline check; the health monitor is told either way."""
        started = self.now()
        try:
            report = self._one_cycle(cycle)
            report.escalations = cycle.check_deadlines()
        except Exception as error:
            self._note_failure(error, started, mailer)
            raise
        self._note_success(mailbox, mailer)
        return report

    def _one_cycle(self, cycle: IntakeCycle) -> CycleReport:
        report = cycle.run()
        log.info("cycle: %d registered, %d notes, %d automated, %d duplicates, %d quarantined, "
                 "%d failed, %d mails sent, %d walk-ins", len(report.registered), report.notes,
                 report.automated, report.duplicates, report.quarantined, report.failed,
                 report.mails_sent, len(report.walk_ins))
        return report

    def _loop(self, cycle: IntakeCycle, mailbox, mailer) -> None:
        outage_since, backoff = None, 1.0
        while not self.stopping:
            started = self.now()
            try:
                self._one_cycle(cycle)
                if outage_since is not None:
                    log.info("back to normal after an outage of %.0f s", time.monotonic() - outage_since)
                outage_since, backoff = None, 1.0
            except (MailboxError, RegisterError, MailerError) as error:
                if outage_since is None:
                    log.error("%s; ParkDesk keeps trying", error)
                    outage_since = time.monotonic()
                self._note_failure(error, started, mailer)
                self._wait(lambda: self.sleep(backoff))
                backoff = min(backoff * 2, MAX_OUTAGE_BACKOFF)
                continue
            except Exception as error:  # noqa: BLE001 - the daemon must survive anything one cycle does
                log.exception("an intake cycle failed; trying again shortly")
                self._note_failure(error, started, mailer)
                self._wait(lambda: self.sleep(backoff))
                backoff = min(backoff * 2, MAX_OUTAGE_BACKOFF)
                continue
            self._note_success(mailbox, mailer)
            self._run_scheduled_jobs()
            if not self.stopping:
                slice_seconds = min(IDLE_SLICE_SECONDS, self.config.dispatch.sla_check_seconds)
                self._wait(lambda: mailbox.wait_for_mail(slice_seconds))

    # --- health --------------------------------------------------------------------------------

    def _note_failure(self, error: BaseException, started: datetime, mailer) -> None:
        """A cycle failed: an error of the mailer is a sending problem (already recorded by the
        monitored mailer), anything else an intake one. (An OAuth2 token error is both a
        MailboxError and a MailerError: where it was raised decides.)"""
        if error is getattr(mailer, "last_error", None):
            self.monitor.deliver(mailer)
            return
        mailbox_or_register = isinstance(error, (MailboxError, RegisterError))
        problem = SENDING if isinstance(error, MailerError) and not mailbox_or_register else INTAKE
        try:
            self.monitor.record_failure(problem, error, started=started)
        except Exception:  # noqa: BLE001 - watching must never stop the daemon
            log.exception("health: cannot record the failure")
        self.monitor.deliver(mailer)

    def _note_success(self, mailbox, mailer) -> None:
        """A good cycle: recorded, then how long the oldest waiting message has waited."""
        try:
            self.monitor.record_good_cycle()
            oldest_waiting = getattr(mailbox, "oldest_waiting", None)
            if oldest_waiting is not None:
                self.monitor.record_waiting_mail(oldest_waiting())
        except MailboxError as error:
            log.warning("health: cannot see how long mail has been waiting: %s", error)
        except Exception:  # noqa: BLE001
            log.exception("health: cannot record the good cycle")
        self.monitor.deliver(mailer)

    def _run_scheduled_jobs(self) -> None:
        for job in list(self.scheduler.jobs):
            if job.should_run:
                try:
                    job.run()
                except Exception:  # noqa: BLE001 - schedule does not catch job errors
                    log.exception("scheduled job %s failed", job)

    def _wait(self, waiting: Callable[[], object]) -> None:
        """Wait in a way a stop signal can interrupt (nothing is in hand while waiting)."""
        self._waiting = True
        try:
            waiting()
        except _StopWaiting:
            pass
        except MailboxError as error:
            log.warning("waiting for mail: %s", error)
        finally:
            self._waiting = False

    def _install_signal_handlers(self, cycle: IntakeCycle) -> dict:
        """Stop on SIGTERM and SIGINT; returns the handlers replaced, to put back at the end."""
        def stop(signum, frame):
            log.info("signal %s: stopping after the message in hand", signum)
            self.stopping = True
            cycle.stop_requested = True
            if self._waiting:
                raise _StopWaiting()

        previous = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        return previous


class _StopWaiting(Exception):
    pass
