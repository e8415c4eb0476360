"""The health monitor with in-memory adapters: the threshold, one alert per outage, one recovery,
restarts in the middle, a token refresh failure alerted at once, SMTP itself down, stale mail,
and the runner's ``run --once`` telling the monitor."""

from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import SimpleNamespace

import jinja2
import jinja2.meta
import pytest

from daemon.config import load_config
from daemon.health import (
    ALERT,
    INTAKE,
    RECOVERED,
    SENDING,
    STALE_MAIL,
    TEMPLATE_VARIABLES,
    HealthMonitor,
    MonitoredMailer,
    alerts_at_once,
    read_health,
)
from daemon.journal import Journal
from daemon.mailbox import MailboxError, MailboxUnavailable
from daemon.mailbox.maildir import MaildirMailbox
from daemon.mailer import MailerError
from daemon.runner import Adapters, Daemon
from daemon.templates import Templates, default_templates_dir
from tests.fakes.adapters import FakeMailbox, FakeMailer, FakeRegister

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 5, 14, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def config():
    return load_config(ROOT / "config.yaml")


class Clock:
    def __init__(self, config):
        self.moment = T0.astimezone(config.park.tz)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, minutes: float) -> None:
        self.moment += timedelta(minutes=minutes)


class Health:
    """A monitor on a journal file that can be closed and opened again (a restart)."""

    def __init__(self, path: Path, config, clock: Clock):
        self.path, self.config, self.clock = path, config, clock
        self.mailer = FakeMailer()
        self.start()

    def start(self) -> None:
        self.journal = Journal(self.path)
        self.monitor = HealthMonitor(config=self.config, journal=self.journal,
                                     templates=Templates(self.config.park.language), now=self.clock)

    def restart(self) -> None:
        self.journal.close()
        self.start()

    def deliver(self) -> int:
        return self.monitor.deliver(self.mailer)

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.mailer.sent]

    def alerts(self) -> list[EmailMessage]:
        return [m for m in self.mailer.sent if "故障" in str(m["Subject"])]

    def recoveries(self) -> list[EmailMessage]:
        return [m for m in self.mailer.sent if "已恢复" in str(m["Subject"])]


@pytest.fixture
def health(tmp_path, config):
    h = Health(tmp_path / "journal.sqlite3", config, Clock(config))
    yield h
    h.journal.close()


def body_of(message) -> str:
    parsed = BytesParser(policy=policy.default).parsebytes(bytes(message))
    return parsed.get_body(("plain",)).get_content()


def imap_down() -> MailboxUnavailable:
    return MailboxUnavailable("Cannot reach mail server imap.park.test: connection refused")


# --- the threshold and once per outage ---------------------------------------------------------

def test_no_alert_before_the_threshold_then_exactly_one(health):
    health.monitor.record_failure(INTAKE, imap_down())
    for _ in range(14):
        health.clock.advance(1)
        health.monitor.record_failure(INTAKE, imap_down())
        health.deliver()
    assert health.mailer.sent == []

    health.clock.advance(1)  # 15 minutes: alert_after_minutes
    health.monitor.record_failure(INTAKE, imap_down())
    assert health.deliver() == 1
    for _ in range(30):
        health.clock.advance(2)
        health.monitor.record_failure(INTAKE, imap_down())
        health.deliver()
    [alert] = health.alerts()
    assert alert["To"] == "service@donghu-park.example.com"
    text = body_of(alert)
    assert "2026-05-14 11:00" in text  # since when, in the park's time (UTC+8)
    assert "connection refused" in text  # the last error in plain words
    assert "parkdesk check" in text  # what to do
    assert alert["Auto-Submitted"] == "auto-generated"


def test_the_threshold_passes_with_time_alone(health):
    """A problem with no new failure (nothing to retry) still alerts once it is old enough."""
    health.monitor.record_failure(SENDING, "451 try again later")
    health.clock.advance(16)
    assert health.deliver() == 1
    assert len(health.alerts()) == 1 and "发信" in health.alerts()[0]["Subject"]


def test_a_short_blip_sends_nothing(health):
    health.monitor.record_failure(INTAKE, imap_down())
    health.clock.advance(10)
    health.monitor.record_success(INTAKE)
    health.clock.advance(10)
    health.monitor.record_failure(INTAKE, imap_down())  # a new outage: the clock starts again
    health.clock.advance(10)
    health.monitor.record_success(INTAKE)
    health.deliver()
    assert health.mailer.sent == []
    assert read_health(health.journal).problems == {}


def test_one_recovery_message_when_it_ends_and_a_new_outage_alerts_again(health):
    health.monitor.record_failure(INTAKE, imap_down())
    health.clock.advance(20)
    health.monitor.record_failure(INTAKE, imap_down())
    health.deliver()
    health.clock.advance(5)
    health.monitor.record_good_cycle()
    health.monitor.record_good_cycle()
    health.deliver()
    health.monitor.record_good_cycle()
    health.deliver()
    assert len(health.alerts()) == 1 and len(health.recoveries()) == 1
    recovery = body_of(health.recoveries()[0])
    assert "2026-05-14 11:00" in recovery and "2026-05-14 11:25" in recovery and "25" in recovery
    assert read_health(health.journal).last_good_cycle == health.clock()

    health.clock.advance(60)
    health.monitor.record_failure(INTAKE, imap_down())
    health.clock.advance(15)
    health.monitor.record_failure(INTAKE, imap_down())
    health.deliver()
    assert len(health.alerts()) == 2


# --- restarts -----------------------------------------------------------------------------------

def test_a_restart_in_the_middle_keeps_the_outage_and_its_alert(health):
    health.monitor.record_failure(INTAKE, imap_down())
    health.clock.advance(10)
    health.restart()
    health.clock.advance(6)  # 16 minutes since the first failure, across the restart
    health.monitor.record_failure(INTAKE, imap_down())
    health.deliver()
    assert len(health.alerts()) == 1
    assert "2026-05-14 11:00" in body_of(health.alerts()[0])

    health.restart()
    health.clock.advance(5)
    health.monitor.record_failure(INTAKE, imap_down())
    health.deliver()
    health.restart()
    health.monitor.record_good_cycle()
    health.restart()
    health.deliver()
    health.monitor.record_good_cycle()
    health.deliver()
    assert len(health.alerts()) == 1 and len(health.recoveries()) == 1


def test_a_crash_between_queueing_and_remembering_still_sends_one_alert(health, monkeypatch):
    health.monitor.record_failure(INTAKE, imap_down())
    health.clock.advance(20)
    original = HealthMonitor._store
    calls = []

    def crash_on_second_store(self, problem):
        calls.append(problem)
        if problem.alerted:
            raise KeyboardInterrupt("power cut")
        original(self, problem)

    monkeypatch.setattr(HealthMonitor, "_store", crash_on_second_store)
    with pytest.raises(KeyboardInterrupt):
        health.monitor.record_failure(INTAKE, imap_down())
    monkeypatch.setattr(HealthMonitor, "_store", original)
    health.restart()
    health.monitor.record_failure(INTAKE, imap_down())  # queued again: the outbox keeps one
    health.deliver()
    health.deliver()
    assert len(health.alerts()) == 1


# --- at once: a token that cannot be refreshed --------------------------------------------------

class TokenRefreshError(Exception):
    """Stands in for daemon.oauth.TokenRefreshError (matched by name)."""


class RevokedGrant(Exception):
    alert_at_once = True


def test_a_token_refresh_failure_alerts_at_once(health):
    try:
        try:
            raise TokenRefreshError("invalid_grant: Token has been expired or revoked.")
        except TokenRefreshError as cause:
            raise MailboxError("The mailbox login token for complaints@park could not be "
                               "refreshed (invalid_grant)") from cause
    except MailboxError as error:
        wrapped = error
    assert alerts_at_once(wrapped) and alerts_at_once(RevokedGrant()) and not alerts_at_once(imap_down())

    health.monitor.record_failure(INTAKE, wrapped)
    assert health.deliver() == 1
    text = body_of(health.alerts()[0])
    assert "invalid_grant" in text and "OAuth2" in text


def test_an_alert_at_once_attribute_is_honoured(health):
    health.monitor.record_failure(SENDING, RevokedGrant("refresh token revoked"))
    health.deliver()
    assert len(health.alerts()) == 1


# --- SMTP itself down -------------------------------------------------------------------------

def test_smtp_down_the_alert_is_logged_kept_and_sent_once_smtp_returns(health, caplog):
    mailer = MonitoredMailer(health.mailer, health.monitor)
    health.mailer.fail_temporarily = 10_000
    outgoing = EmailMessage()
    outgoing["Message-ID"] = "<apology@park.test>"
    for _ in range(4):  # the daemon retrying its outbox for 18 minutes
        mailer.send_all([outgoing])
        health.clock.advance(6)
    with caplog.at_level(logging.ERROR, logger="parkdesk.health"):
        assert health.monitor.deliver(mailer) == 0
        assert health.monitor.deliver(mailer) == 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and "cannot be emailed" in r.getMessage()]
    assert len(errors) == 1 and "发信" in errors[0].getMessage()
    assert health.journal.count_outbox("pending", purpose=ALERT) == 1

    health.restart()  # kept across a restart too
    mailer = MonitoredMailer(health.mailer, health.monitor)
    health.mailer.fail_temporarily = 0
    health.clock.advance(3)
    mailer.send_all([outgoing])  # SMTP works again: sending recovered
    health.monitor.deliver(mailer)
    health.monitor.deliver(mailer)
    assert len(health.alerts()) == 1 and len(health.recoveries()) == 1
    assert health.subjects().index(str(health.alerts()[0]["Subject"])) < \
        health.subjects().index(str(health.recoveries()[0]["Subject"]))


def test_a_mailer_error_is_a_sending_failure_and_deliver_never_raises(health):
    class BrokenMailer:
        def send_all(self, messages):
            raise MailerError("The SMTP server refused the login for complaints@park "
                              "(535 5.7.8 bad credentials): check smtp.username and the password")

    mailer = MonitoredMailer(BrokenMailer(), health.monitor)
    with pytest.raises(MailerError):
        mailer.send_all([EmailMessage()])
    health.clock.advance(15)
    with pytest.raises(MailerError):
        mailer.send_all([EmailMessage()])
    assert health.monitor.deliver(mailer) == 0  # logged, kept
    assert read_health(health.journal).problems[SENDING].alerted
    assert "535" in read_health(health.journal).problems[SENDING].last_error


def test_refusals_of_single_recipients_are_not_an_outage(health):
    health.monitor.record_send_results([SimpleNamespace(ok=False, permanent=True, error="550 no such user")])
    assert read_health(health.journal).problems == {}


# --- stale mail ---------------------------------------------------------------------------------

def test_mail_waiting_too_long_alerts_at_once_and_recovers(health):
    health.monitor.record_waiting_mail(health.clock() - timedelta(minutes=29))
    health.deliver()
    assert health.mailer.sent == []
    health.clock.advance(2)
    health.monitor.record_waiting_mail(health.clock() - timedelta(minutes=31))
    health.deliver()
    health.monitor.record_waiting_mail(health.clock() - timedelta(minutes=33))
    health.deliver()
    [alert] = health.alerts()
    assert "积压" in alert["Subject"] and "INBOX" in body_of(alert)
    health.monitor.record_waiting_mail(None)
    health.deliver()
    assert len(health.recoveries()) == 1


def test_mail_waiting_because_sending_fails_is_not_alerted_twice(health):
    health.monitor.record_failure(SENDING, "451 try again later")
    health.clock.advance(40)
    health.monitor.record_waiting_mail(health.clock() - timedelta(minutes=40))
    health.deliver()
    assert [("发信" in s, "积压" in s) for s in health.subjects()] == [(True, False)]


def test_alert_to_overrides_the_service_center(tmp_path, config):
    custom = config.model_copy(update={"health": config.health.model_copy(
        update={"alert_after_minutes": 5, "alert_to": ("it@park.test", "boss@park.test")})})
    h = Health(tmp_path / "j.sqlite3", custom, Clock(custom))
    h.monitor.record_failure(INTAKE, imap_down())
    h.clock.advance(5)
    h.deliver()
    assert [m["To"] for m in h.alerts()] == ["it@park.test, boss@park.test"]
    h.journal.close()


# --- the templates --------------------------------------------------------------------------------

@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("problem", [INTAKE, SENDING, STALE_MAIL])
def test_templates_render_in_both_languages(language, problem):
    templates = Templates(language)
    alert = templates.render(ALERT, park_name="东湖科技产业园", problem=problem,
                             since="2026-05-14 11:00", minutes=16, last_error="connection refused",
                             at_once=False, folder="INBOX")
    recovered = templates.render(RECOVERED, park_name="东湖科技产业园", problem=problem,
                                 since="2026-05-14 11:00", minutes=40, recovered_at="2026-05-14 11:40")
    assert "2026-05-14 11:00" in alert.subject + alert.text and "connection refused" in alert.text
    assert "2026-05-14 11:40" in recovered.text and "\n" not in alert.subject


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_templates_use_only_the_variables_they_are_given(language):
    folder = default_templates_dir() / language
    for name, known in TEMPLATE_VARIABLES.items():
        for path in folder.glob(f"{name}.*.j2"):
            used = jinja2.meta.find_undeclared_variables(
                jinja2.Environment().parse(path.read_text(encoding="utf-8")))
            assert used <= known, path.name


# --- the runner: run --once tells the monitor ---------------------------------------------------

class DownMailbox(FakeMailbox):
    """Opens (its connection is made lazily) but cannot list: the server is unreachable."""

    down = True

    def open(self):
        return self

    def close(self):
        pass

    def iter_batches(self, batch_size=None):
        if self.down:
            raise imap_down()
        yield from super().iter_batches(batch_size)

    def oldest_waiting(self):
        return None


def test_run_once_records_failures_across_runs_and_alerts_once(tmp_path, config):
    local = config.model_copy(update={"state_dir": tmp_path / "state"})
    clock = Clock(local)
    mailbox, mailer = DownMailbox(), FakeMailer()
    adapters = Adapters(register=FakeRegister(), mailbox=mailbox, mailer=mailer)

    def run_once():  # as cron would: a new process each time
        return Daemon(local, adapters=adapters, now=clock, sleep=lambda s: None).run(once=True)

    for _ in range(4):  # 0, 6, 12, 18 minutes
        with pytest.raises(MailboxError):
            run_once()
        clock.advance(6)
    alerts = [m for m in mailer.sent if "故障" in str(m["Subject"])]
    assert len(alerts) == 1
    mailbox.down = False
    run_once()
    run_once()
    recoveries = [m for m in mailer.sent if "已恢复" in str(m["Subject"])]
    assert len(recoveries) == 1 and len(mailer.sent) == 2
    journal = Journal(local.state_dir / "journal.sqlite3")
    try:
        state = read_health(journal)
    finally:
        journal.close()
    assert state.problems == {} and state.last_good_cycle == clock()


# --- the mailbox tells how long mail has waited -------------------------------------------------

def test_maildir_tells_the_arrival_of_the_oldest_waiting_message(tmp_path):
    cfg = SimpleNamespace(path=tmp_path / "inbox", folder="INBOX", processed_folder="Processed",
                          quarantine_folder="Quarantine", poll_seconds=1, batch_size=10)
    mailbox = MaildirMailbox(cfg).open()
    assert mailbox.oldest_waiting() is None
    old = time.time() - 3600
    for name, stamp in (("1.M1P1.host", old), ("2.M2P2.host", time.time())):
        path = cfg.path / "new" / name
        path.write_bytes(b"Subject: x\r\n\r\nhello\r\n")
        os.utime(path, (stamp, stamp))
    oldest = mailbox.oldest_waiting()
    assert oldest.tzinfo is not None and abs(oldest.timestamp() - old) < 1


# --- the runner's loop: SMTP down for longer than the threshold --------------------------------

class ScriptedMailbox(FakeMailbox):
    def __init__(self, step):
        super().__init__()
        self.step = step

    def open(self):
        return self

    def close(self):
        pass

    def wait_for_mail(self, timeout_seconds):
        self.step()
        return False

    def oldest_waiting(self):
        return None


def test_the_loop_alerts_once_when_smtp_is_down_and_once_when_it_returns(tmp_path, config, caplog):
    local = config.model_copy(update={"state_dir": tmp_path / "state"})
    clock = Clock(local)
    mailer = FakeMailer()
    mailer.fail_temporarily = 10_000
    cycles = []

    def step():  # after each good cycle: a minute passes
        cycles.append(clock())
        clock.advance(1)
        if len(cycles) == 1:
            mailbox.deliver(b"From: wang@tenant.test\r\nSubject: 3\xe5\x8f\xb7\xe6\xa5\xbc\r\n"
                            b"Message-ID: <x1@tenant.test>\r\n\r\nleak\r\n")
        if len(cycles) == 25:
            mailer.fail_temporarily = 0  # SMTP is back
        if len(cycles) == 30:
            daemon.stopping = True

    mailbox = ScriptedMailbox(step)
    daemon = Daemon(local, adapters=Adapters(register=FakeRegister(), mailbox=mailbox,
                                             mailer=mailer), now=clock, sleep=lambda s: None)
    with caplog.at_level(logging.ERROR, logger="parkdesk.health"):
        daemon.run()
    alerts = [m for m in mailer.sent if "故障" in str(m["Subject"])]
    recoveries = [m for m in mailer.sent if "已恢复" in str(m["Subject"])]
    assert len(alerts) == 1 and len(recoveries) == 1 and "发信" in str(alerts[0]["Subject"])
    assert "451" in body_of(alerts[0])
    assert [r for r in caplog.records if "cannot be emailed" in r.getMessage()]
    assert mailbox.messages == {}  # the complaint was handled once SMTP came back


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_sample_values_render_every_health_template(language):
    from daemon.health import TEMPLATE_SAMPLES

    templates = Templates(language)
    for name, known in TEMPLATE_VARIABLES.items():
        rendered = templates.render(name, park_name="东湖科技产业园",
                                    **{k: v for k, v in TEMPLATE_SAMPLES.items() if k in known})
        assert "2026-05-14 11:00" in rendered.text


# --- a token error is both a MailboxError and a MailerError: where it came from decides ----------

from daemon.mailbox import MailboxAuthError  # noqa: E402


# Shaped like daemon.oauth.TokenRefreshError (matched by its name).
BothTokenRefreshError = type("TokenRefreshError", (MailboxAuthError, MailerError), {})


class TokenlessMailbox(DownMailbox):
    def iter_batches(self, batch_size=None):
        if self.down:
            raise BothTokenRefreshError("The token provider refused to refresh the token for "
                                        "complaints@park (invalid_grant): authorise again")
        yield from ()


def test_a_mailbox_token_failure_alerts_at_once_about_intake(tmp_path, config):
    local = config.model_copy(update={"state_dir": tmp_path / "state"})
    mailer = FakeMailer()
    daemon = Daemon(local, adapters=Adapters(register=FakeRegister(), mailbox=TokenlessMailbox(),
                                             mailer=mailer), now=Clock(local), sleep=lambda s: None)
    with pytest.raises(MailboxError):
        daemon.run(once=True)
    [alert] = mailer.sent
    assert "收信或登记失败" in alert["Subject"] and "invalid_grant" in body_of(alert)


def test_a_smtp_token_failure_is_one_sending_problem_not_two(tmp_path, config):
    local = config.model_copy(update={"state_dir": tmp_path / "state"})

    class TokenlessMailer(FakeMailer):
        def send_all(self, messages):
            raise BothTokenRefreshError("SMTP token refresh refused (invalid_grant)")

    mailbox = DownMailbox()
    mailbox.down = False
    mailbox.deliver(b"From: wang@tenant.test\r\nSubject: leak\r\nMessage-ID: <t1@tenant.test>\r\n"
                    b"\r\nwater\r\n")
    daemon = Daemon(local, adapters=Adapters(register=FakeRegister(), mailbox=mailbox,
                                             mailer=TokenlessMailer()), now=Clock(local),
                    sleep=lambda s: None)
    with pytest.raises(MailerError):
        daemon.run(once=True)
    journal = Journal(local.state_dir / "journal.sqlite3")
    try:
        problems = read_health(journal).problems
        assert set(problems) == {SENDING} and problems[SENDING].alerted
        assert journal.count_outbox("pending", purpose=ALERT) == 1  # kept: SMTP cannot send it
    finally:
        journal.close()
