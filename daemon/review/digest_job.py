"""When the digest goes out, and sending it once per period, across restarts and outages.

What is due is computed from the clock and the journal, never from when a job last ran (the
``schedule`` library neither runs missed jobs nor knows time zones without pytz):

- the digest of a period (``review.digest_period``: an ISO week or a calendar month, in the
  park's time zone) is due from the first ``review.digest_schedule`` time after the period
  ended, until the next period ends: ``monday 09:00`` with weeks is every Monday at 09:00 for
  the week before; with months, the first Monday of the month for the month before;
  ``every day 08:30`` with months is the 1st at 08:30;
- a period that ended before ParkDesk's first check (``review.digest.since`` in the journal)
  has no digest: a new installation starts with the period it is in, not with an empty one;
- ParkDesk down at that time sends it when it runs again (a catch-up), within the same
  period; a digest missed for a whole period is not sent late, the newer one is;
- once built, the message is queued in the journal's outbox under the identity
  ``digest:<week|month>:<period>`` (queued once, never twice), and the key
  ``review.digest.<week|month>`` records the period queued, so later checks read nothing;
- sending goes through the daemon's mailer; a failed send stays in the outbox and is tried
  again at a later check (``RETRY_MINUTES``), or by the intake cycle's own outbox sending.

``DigestJob.install(scheduler)`` adds one job that checks every ``CHECK_SECONDS``; the first
check runs at the scheduler's next turn, which is the catch-up after a restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from email import message_from_bytes
from typing import Any, Callable

from daemon.config import DigestTime
from daemon.mailer import MailerError
from daemon.outgoing import OUTGOING_POLICY
from daemon.register import RegisterError
from daemon.review import build_review
from daemon.review.chart_image import category_chart_png
from daemon.review.digest import build_digest, digest_recipients
from daemon.review.figures import period_of, previous_period
from daemon.sla import as_utc

log = logging.getLogger("parkdesk.review")

CHECK_SECONDS = 60
RETRY_MINUTES = 10
PURPOSE = "digest"
JOB_TAG = "digest"


# --- what is due (pure) ----------------------------------------------------------------------

def period_start(period: str, kind: str, tz: tzinfo) -> datetime:
    """Midnight in the park at the start of ``period``: ``"2026-W49"`` -> Monday 2026-11-30
    00:00; ``"2026-12"`` -> 2026-12-01 00:00."""
    if kind == "week":
        year, week = period.split("-W")
        day = date.fromisocalendar(int(year), int(week), 1)
    else:
        year, month = period.split("-")
        day = date(int(year), int(month), 1)
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def first_send_time(schedule: DigestTime, start: datetime) -> datetime:
    """The first scheduled time at or after ``start`` (a park midnight), in the park's zone."""
    days = 0 if schedule.weekday is None else (schedule.weekday - start.weekday()) % 7
    day = start.date() + timedelta(days=days)
    return datetime.combine(day, time(schedule.hour, schedule.minute), tzinfo=start.tzinfo)


def due_period(schedule: DigestTime, kind: str, now: datetime, tz: tzinfo) -> str | None:
    """The period whose digest is due at ``now``: the last complete one, once the first
    scheduled time after it ended has passed; None before that time."""
    current = period_of(now, tz, kind)
    send_at = first_send_time(schedule, period_start(current, kind, tz))
    if as_utc(now) < as_utc(send_at):
        return None
    return previous_period(current, kind)


def outbox_identity(kind: str, period: str) -> str:
    return f"digest:{kind}:{period}"


def queued_key(kind: str) -> str:
    return f"review.digest.{kind}"


SINCE_KEY = "review.digest.since"


# --- the job ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestOutcome:
    """What one check did: ``period`` due (None: nothing due), whether the digest was built
    and queued now, and how many digests were sent."""

    period: str | None
    queued: bool = False
    sent: int = 0


class DigestJob:
    """Builds, queues and sends the digest when due. Adapters and the clock are parameters."""

    def __init__(self, config: Any, register: Any, mailer: Any, journal: Any, templates: Any,
                 now: Callable[[], datetime]):
        self.config = config
        self.register = register
        self.mailer = mailer
        self.journal = journal
        self.templates = templates
        self.now = now
        self._retry_at: datetime | None = None
        self._settled: str | None = None  # the period whose digest left the outbox

    def install(self, scheduler: Any) -> Any:
        """Add the check to a ``schedule.Scheduler``; returns the job (None if disabled)."""
        if not self.config.review.digest_enabled:
            log.info("review.digest_enabled is false: no digest email")
            return None
        job = scheduler.every(CHECK_SECONDS).seconds.do(self.check).tag(JOB_TAG)
        # schedule keeps naive local times: due now, so the first check (the catch-up after a
        # restart) runs at the scheduler's next turn, not a whole interval later.
        job.next_run = datetime.now()
        return job

    def check(self) -> DigestOutcome | None:
        """``run_if_due`` at the current time; errors are logged, the next check tries again."""
        try:
            return self.run_if_due(self.now())
        except (RegisterError, MailerError) as error:  # an outage: said once per check, briefly
            log.warning("the digest could not be prepared (%s); trying again at the next check",
                        error)
            return None
        except Exception:  # noqa: BLE001 - schedule does not catch job errors; never end the daemon
            log.exception("the digest could not be prepared; trying again at the next check")
            return None

    def run_if_due(self, now: datetime) -> DigestOutcome:
        """Queue the due period's digest if it never was, then send what is queued."""
        review_cfg = self.config.review
        if not review_cfg.digest_enabled:
            return DigestOutcome(None)
        kind = review_cfg.digest_period
        period = due_period(review_cfg.schedule, kind, now, self.config.park.tz)
        if period is None or self._ended_before_first_check(kind, now):
            return DigestOutcome(None)
        if self._settled == period:
            return DigestOutcome(period)
        queued = False
        if self.journal.get_value(queued_key(kind)) != period:
            queued = self._queue(kind, period, now)
        sent = self._send_queued(now)
        if self._retry_at is None:
            self._settled = period
        return DigestOutcome(period, queued, sent)

    def _ended_before_first_check(self, kind: str, now: datetime) -> bool:
        """Whether the due period ended before the first check ever made (then recorded)."""
        since = self.journal.get_value(SINCE_KEY)
        if since is None:
            since = as_utc(now).isoformat()
            self.journal.set_value(SINCE_KEY, since)
        tz = self.config.park.tz
        due_period_end = period_start(period_of(now, tz, kind), kind, tz)
        return as_utc(due_period_end) <= datetime.fromisoformat(since)

    def _queue(self, kind: str, period: str, now: datetime) -> bool:
        config = self.config
        local_now = now.astimezone(config.park.tz)
        rows = list(self.register.read_register())
        archived = [row for tab in self.register.read_archives().values() for row in tab]
        review = build_review(rows, config, local_now, period_kind=kind, archived=archived)
        chart = category_chart_png(rows + archived, config, local_now)
        message = build_digest(review, config, self.templates, now=local_now, chart_png=chart)
        queued = self.journal.queue_mail(
            identity=outbox_identity(kind, period), purpose=PURPOSE,
            message_id=message["Message-ID"], reference="",
            recipient=", ".join(digest_recipients(config)).lower(), raw=bytes(message), now=now)
        self.journal.set_value(queued_key(kind), period)
        if queued:
            log.info("%s: digest of %s %s queued for %s", message["Message-ID"], kind, period,
                     ", ".join(digest_recipients(config)))
        return queued

    def _send_queued(self, now: datetime) -> int:
        """Send the digests waiting in the outbox (a failed one waits ``RETRY_MINUTES``)."""
        if self._retry_at is not None and as_utc(now) < as_utc(self._retry_at):
            return 0
        self._retry_at = None
        waiting, last_id = [], 0
        while page := self.journal.pending_mail(after_id=last_id):
            last_id = page[-1].id
            waiting += [item for item in page if item.purpose == PURPOSE]
        if not waiting:
            return 0
        messages = [message_from_bytes(item.raw, policy=OUTGOING_POLICY) for item in waiting]
        sent = 0
        for item, result in zip(waiting, self.mailer.send_all(messages)):
            if result.ok:
                self.journal.mark_sent(item.id, now)
                sent += 1
                log.info("%s: digest sent to %s", item.message_id, item.recipient)
            else:
                log.warning("%s: sending the digest failed (%s): %s", item.message_id,
                            "permanent" if result.permanent else "will retry", result.error)
                self.journal.mark_send_failed(item.id, result.error or "",
                                              permanent=result.permanent)
                self._retry_at = now + timedelta(minutes=RETRY_MINUTES)
        return sent
