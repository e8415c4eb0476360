"""Health: notice when ParkDesk itself keeps failing, and tell the service center once.

The daemon reports to a :class:`HealthMonitor` after every cycle (good, or the error) and every
batch of mail it sends (through :class:`MonitoredMailer`). Three problems are watched:

  ``intake``      a cycle failed: the mailbox, the register, or anything else in it
  ``sending``     the SMTP server refused to work (settings, login) or took none of a batch
  ``stale_mail``  after a good cycle the mailbox still holds a message older than
                  ``health.stale_mail_minutes`` (the age is its own threshold: alerted at once),
                  unless intake or sending is already failing (a message whose apology cannot
                  be sent waits in the mailbox: that outage is alerted once, as sending)

A problem is open from its first failure (``since``) until its next success. Once it has been
open for ``health.alert_after_minutes`` (at once for a failed OAuth2 token refresh: an exception
named ``TokenRefreshError`` or carrying ``alert_at_once = True``, which does not mend itself),
one alert goes to ``health.alert_to`` (default: the service center); when it ends after an
alert, one recovery message. A short blip that ends before the threshold sends nothing.

Exactly once across restarts: open problems live in the journal's key/value store, and each
notice is queued in the journal's outbox under the identity ``health:<problem>:<since>``, which
the outbox accepts only once per purpose. :meth:`HealthMonitor.deliver` sends the queued
notices straight away (the intake cycle may be the thing that is down). If SMTP is down too,
the alert cannot be emailed: it is logged at ERROR, stays queued and is tried after every cycle.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import message_from_bytes
from typing import Any, Callable, Sequence

from daemon.intake.rows import format_time
from daemon.journal import Journal
from daemon.mailer import MailerError, SendResult
from daemon.outgoing import OUTGOING_POLICY, build_message
from daemon.templates import Templates

log = logging.getLogger("parkdesk.health")

INTAKE, SENDING, STALE_MAIL = "intake", "sending", "stale_mail"
PROBLEMS = (INTAKE, SENDING, STALE_MAIL)
PROBLEM_LABELS = {
    INTAKE: "收信/登记 intake (mailbox and register)",
    SENDING: "发信 sending (SMTP)",
    STALE_MAIL: "邮件积压 mail waiting unprocessed",
}
ALERT, RECOVERED = "health_alert", "health_recovered"
LAST_GOOD_CYCLE_KEY = "health:last_good_cycle"
TOKEN_FAILURE_NAMES = frozenset({"TokenRefreshError"})

# The variables the health templates are given (for `parkdesk check`'s template check).
TEMPLATE_VARIABLES = {
    ALERT: frozenset({"at_once", "folder", "last_error", "minutes", "park_name", "problem",
                      "since"}),
    RECOVERED: frozenset({"minutes", "park_name", "problem", "recovered_at", "since"}),
}
# Sample values for them (flags true so conditional parts render too).
TEMPLATE_SAMPLES = {"problem": INTAKE, "since": "2026-05-14 11:00", "minutes": 16,
                    "last_error": "Cannot reach mail server imap.park.example: connection refused",
                    "at_once": True, "folder": "INBOX", "recovered_at": "2026-05-14 11:40"}


@dataclass(frozen=True)
class Problem:
    """An open problem: failing since ``since``, last error in plain words."""

    name: str
    since: datetime
    last_error: str
    last_failure_at: datetime
    at_once: bool = False
    alerted: bool = False

    def to_json(self) -> str:
        return json.dumps({"since": self.since.isoformat(), "last_error": self.last_error,
                           "last_failure_at": self.last_failure_at.isoformat(),
                           "at_once": self.at_once, "alerted": self.alerted}, ensure_ascii=False)

    @classmethod
    def from_json(cls, name: str, text: str) -> Problem:
        data = json.loads(text)
        return cls(name, datetime.fromisoformat(data["since"]), data["last_error"],
                   datetime.fromisoformat(data["last_failure_at"]), bool(data["at_once"]),
                   bool(data["alerted"]))

    @property
    def identity(self) -> str:
        """The outbox identity of this outage's notices: one alert, one recovery."""
        return f"health:{self.name}:{self.since.isoformat()}"


@dataclass(frozen=True)
class HealthState:
    """What the journal knows about ParkDesk's health (for ``parkdesk status``)."""

    last_good_cycle: datetime | None
    problems: dict[str, Problem]


def problem_key(name: str) -> str:
    return f"health:problem:{name}"


def read_health(journal: Journal) -> HealthState:
    """The last good cycle and the open problems, as stored in the journal."""
    last = journal.get_value(LAST_GOOD_CYCLE_KEY)
    problems = {}
    for name in PROBLEMS:
        stored = journal.get_value(problem_key(name))
        if stored:
            problems[name] = Problem.from_json(name, stored)
    return HealthState(datetime.fromisoformat(last) if last else None, problems)


def alerts_at_once(error: BaseException | None) -> bool:
    """True for a failed OAuth2 token refresh, anywhere in the exception's chain."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if getattr(error, "alert_at_once", False) is True or any(
                kind.__name__ in TOKEN_FAILURE_NAMES for kind in type(error).__mro__):
            return True
        error = error.__cause__ or error.__context__
    return False


def describe_error(error: BaseException | str) -> str:
    """The error in plain words: ParkDesk's own errors already are; others get their type."""
    if isinstance(error, str):
        return error
    from daemon.mailbox import MailboxError
    from daemon.register import RegisterError

    text = " ".join(str(error).split())
    if isinstance(error, (MailboxError, MailerError, RegisterError)) and text:
        return text
    return f"unexpected error {type(error).__name__}: {text or '(no message)'} (details in the log)"


def minutes_between(start: datetime, end: datetime) -> int:
    return max(0, int((end - start).total_seconds() // 60))


class HealthMonitor:
    """Keeps the open problems in the journal and queues and sends the alerts about them.

    ``now`` is the daemon's clock (park time zone), so tests drive time without waiting.
    """

    def __init__(self, *, config: Any, journal: Journal, templates: Templates,
                 now: Callable[[], datetime]):
        self.config = config
        self.journal = journal
        self.templates = templates
        self.now = now
        self._told_unsent: set[str] = set()  # notices already logged at ERROR as unsendable

    @property
    def threshold(self) -> timedelta:
        return timedelta(minutes=self.config.health.alert_after_minutes)

    @property
    def recipients(self) -> list[str]:
        return list(self.config.health.alert_to or self.config.service_center)

    # --- what happened ------------------------------------------------------------------------

    def record_good_cycle(self) -> None:
        """A whole intake cycle worked: remember when, and intake is healthy."""
        now = self.now()
        self.journal.set_value(LAST_GOOD_CYCLE_KEY, now.isoformat())
        self.record_success(INTAKE)

    def record_failure(self, name: str, error: BaseException | str, *,
                       started: datetime | None = None, at_once: bool | None = None) -> Problem:
        """``name`` failed with ``error``; ``started``: when the failing attempt began (an
        outage is noticed only after the mailbox's own retries, so it began before now)."""
        now = self.now()
        text = describe_error(error)
        if at_once is None:
            at_once = not isinstance(error, str) and alerts_at_once(error)
        problem = self.problem(name)
        if problem is None:
            problem = Problem(name, min(started or now, now), text, now, at_once=at_once)
            log.warning("health: %s failing: %s", name, text)
        else:
            problem = Problem(name, problem.since, text, now, at_once=problem.at_once or at_once,
                              alerted=problem.alerted)
        self._store(problem)
        return self._alert_if_due(problem, now)

    def record_success(self, name: str) -> None:
        """``name`` works: an open problem ends, with a recovery message if it was alerted."""
        problem = self.problem(name)
        if problem is None:
            return
        now = self.now()
        if problem.alerted:
            self._queue(RECOVERED, problem, now, recovered_at=format_time(now))
            log.info("health: %s works again after %d minutes; recovery message queued",
                     name, minutes_between(problem.since, now))
        else:
            log.info("health: %s works again (no alert had been sent)", name)
        self.journal.forget_value(problem_key(name))

    def record_waiting_mail(self, oldest: datetime | None) -> None:
        """After a good cycle: the arrival time of the oldest message still in the mailbox."""
        limit = timedelta(minutes=self.config.health.stale_mail_minutes)
        if oldest is None or self.now() - oldest < limit:
            self.record_success(STALE_MAIL)
            return
        if self.problem(STALE_MAIL) is None and any(
                self.problem(name) is not None for name in (INTAKE, SENDING)):
            return  # mail waits because of a problem already being watched: one alert is enough
        folder = self.config.mailbox.folder
        self.record_failure(
            STALE_MAIL, f"a message in {folder} arrived at {format_time(oldest.astimezone(self.now().tzinfo))} "
                        f"and is still not processed", started=oldest, at_once=True)

    def record_send_results(self, results: Sequence[SendResult]) -> None:
        """One batch sent: any message taken means SMTP works; none taken, for a reason that
        may pass (4xx, no connection), means sending fails. Refusals of single recipients (5xx)
        say nothing about the server."""
        if not results:
            return
        if any(result.ok for result in results):
            self.record_success(SENDING)
            return
        temporary = [result for result in results if not result.permanent]
        if temporary:
            self.record_failure(SENDING, temporary[0].error or "the SMTP server took no message")

    # --- the notices --------------------------------------------------------------------------

    def problem(self, name: str) -> Problem | None:
        stored = self.journal.get_value(problem_key(name))
        return Problem.from_json(name, stored) if stored else None

    def review(self) -> None:
        """Queue the alerts that have come due with time alone (no new failure needed)."""
        now = self.now()
        for name in PROBLEMS:
            problem = self.problem(name)
            if problem is not None:
                self._alert_if_due(problem, now)

    def deliver(self, mailer: Any) -> int:
        """Send the queued health notices now; returns how many went out. Never raises: a
        notice that cannot be sent is logged at ERROR and stays queued for the next call."""
        try:
            self.review()
            pending = self.journal.pending_mail_for_purposes((ALERT, RECOVERED))
        except Exception:  # noqa: BLE001 - health must never stop the daemon
            log.exception("health: cannot read the queued alerts from the journal")
            return 0
        if not pending:
            return 0
        messages = [message_from_bytes(item.raw, policy=OUTGOING_POLICY) for item in pending]
        try:
            results = mailer.send_all(messages)
        except MailerError as error:
            results = [SendResult(item.message_id, ok=False, error=str(error)) for item in pending]
        except Exception as error:  # noqa: BLE001
            log.exception("health: sending the alerts failed")
            results = [SendResult(item.message_id, ok=False, error=describe_error(error))
                       for item in pending]
        sent = 0
        now = self.now()
        for item, message, result in zip(pending, messages, results):
            if result.ok:
                self.journal.mark_sent(item.id, now)
                log.info("health: %s sent to %s: %s", item.purpose, item.recipient,
                         message["Subject"])
                sent += 1
                continue
            self.journal.mark_send_failed(item.id, result.error or "", permanent=result.permanent)
            if item.message_id not in self._told_unsent or result.permanent:
                self._told_unsent.add(item.message_id)
                log.error("health: the %s for %s cannot be emailed (%s)%s. It says: %s",
                          "alert" if item.purpose == ALERT else "recovery message",
                          item.recipient, result.error,
                          "" if result.permanent else "; ParkDesk keeps it and tries again",
                          message["Subject"])
            else:
                log.warning("health: %s for %s still not sent (attempt %d): %s", item.purpose,
                            item.recipient, item.attempts + 1, result.error)
        return sent

    def _alert_if_due(self, problem: Problem, now: datetime) -> Problem:
        if problem.alerted or not (problem.at_once or now - problem.since >= self.threshold):
            return problem
        self._queue(ALERT, problem, now, last_error=problem.last_error, at_once=problem.at_once,
                    folder=self.config.mailbox.folder)
        log.error("health: %s failing since %s (%d minutes): %s; alert queued for %s",
                  problem.name, format_time(problem.since.astimezone(now.tzinfo)),
                  minutes_between(problem.since, now), problem.last_error,
                  ", ".join(self.recipients))
        alerted = Problem(problem.name, problem.since, problem.last_error,
                          problem.last_failure_at, problem.at_once, alerted=True)
        self._store(alerted)
        return alerted

    def _queue(self, purpose: str, problem: Problem, now: datetime, **context: Any) -> None:
        recipients = self.recipients
        if not recipients:
            return
        rendered = self.templates.render(
            purpose, park_name=self.config.park.name, problem=problem.name,
            since=format_time(problem.since.astimezone(now.tzinfo)),
            minutes=minutes_between(problem.since, now), **context)
        message = build_message(rendered, from_address=self.config.smtp.from_address,
                                from_name=self.config.smtp.from_name, to=recipients, now=now)
        # Not an auto-reply, but nobody should answer it automatically either.
        message["Auto-Submitted"] = "auto-generated"
        self.journal.queue_mail(identity=problem.identity, purpose=purpose,
                                message_id=message["Message-ID"], reference="",
                                recipient=",".join(recipients), raw=bytes(message), now=now)

    def _store(self, problem: Problem) -> None:
        self.journal.set_value(problem_key(problem.name), problem.to_json())


class MonitoredMailer:
    """The daemon's mailer, telling the monitor how each batch went. Same interface."""

    def __init__(self, mailer: Any, monitor: HealthMonitor):
        self._mailer = mailer
        self._monitor = monitor
        self.last_error: BaseException | None = None  # the last MailerError, already recorded

    def send_all(self, messages: Sequence[Any]) -> list[SendResult]:
        try:
            results = self._mailer.send_all(messages)
        except MailerError as error:
            self.last_error = error
            self._safely(self._monitor.record_failure, SENDING, error)
            raise
        self._safely(self._monitor.record_send_results, results)
        return results

    def __getattr__(self, name: str) -> Any:
        return getattr(self._mailer, name)

    @staticmethod
    def _safely(report: Callable[..., Any], *args: Any) -> None:
        try:
            report(*args)
        except Exception:  # noqa: BLE001 - watching must never break sending
            log.exception("health: cannot record how sending went")
