"""The SMTP adapter against the bench's real SMTP receiver, read back over IMAP.

The receiver (tests/mailbench) stores each accepted message in Dovecot before it answers 250,
and acts out planned faults: a 4xx/5xx at MAIL, RCPT or DATA, or a late answer to DATA.
"""

from __future__ import annotations

import email
import email.policy
import logging
import time
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.mailer import MailerError, SendResult, SmtpMailer
from tests.mailbench.tls import create_tls_files

FROM = "complaints@park.test"


@pytest.fixture
def bench(mail_bench):
    """The session's bench, with no SMTP fault left over from another test."""
    mail_bench.smtp_faults.clear()
    yield mail_bench
    mail_bench.smtp_faults.clear()


def config(bench, *, security: str = "none", username: str | None = None,
           password: str | None = None, **overrides):
    values = dict(
        backend="smtp", host=bench.smtp_host,
        port=bench.smtps_port if security == "ssl" else bench.smtp_port,
        security=security, username=username, ca_file=Path(bench.ca_file),
        from_address=FROM, from_name="园区服务中心 Service Center", timeout_seconds=10,
        password_env="PARKDESK_SMTP_PASSWORD",
    )
    values.update(overrides)
    cfg = SimpleNamespace(**values)
    cfg.password = lambda: password
    return cfg


def outgoing(to: str, number: int, tag: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"园区服务中心 <{FROM}>"
    message["To"] = to
    message["Subject"] = f"[C-250514-{number:03d}] 投诉已受理 {tag}"
    message["Message-ID"] = f"<{tag}-{number}@park.test>"
    message.set_content(f"您的投诉已登记，编号 C-250514-{number:03d}。\nYour complaint is registered.")
    return message


def message_ids(raws: list[bytes]) -> list[str]:
    return [email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"] for raw in raws]


class CountingMailer(SmtpMailer):
    """Counts connections, to see that a batch shares one."""

    def __init__(self, cfg, **kwargs):
        super().__init__(cfg, **kwargs)
        self.connections = 0

    def _connect(self):
        self.connections += 1
        return super()._connect()


def test_three_messages_go_out_over_one_connection(bench):
    alice, _ = bench.new_user("tenant")
    bob, _ = bench.new_user("dept")
    messages = [outgoing(alice, 1, "one"), outgoing(bob, 2, "one"), outgoing(alice, 3, "one")]
    mailer = CountingMailer(config(bench))
    results = mailer.send_all(messages)
    assert results == [SendResult("<one-1@park.test>", ok=True), SendResult("<one-2@park.test>", ok=True),
                       SendResult("<one-3@park.test>", ok=True)]
    assert mailer.connections == 1
    assert message_ids(bench.wait_for_mail(alice, 2)) == ["<one-1@park.test>", "<one-3@park.test>"]
    received = bench.wait_for_mail(bob, 1)
    assert message_ids(received) == ["<one-2@park.test>"]
    parsed = email.message_from_bytes(received[0], policy=email.policy.default)
    assert parsed["Subject"] == "[C-250514-002] 投诉已受理 one"
    assert "编号 C-250514-002" in parsed.get_content()
    assert {m.mail_from for m in bench.smtp_received if bob in m.rcpt_tos} == {FROM}


def test_a_451_at_rcpt_fails_that_message_temporarily_and_the_others_go(bench):
    alice, _ = bench.new_user("tenant")
    messages = [outgoing(alice, n, "tempfail") for n in (1, 2, 3)]
    mailer = SmtpMailer(config(bench))
    bench.smtp_faults.fail_next(stage="RCPT", code=451)
    results = mailer.send_all(messages)
    assert [(r.ok, r.permanent) for r in results] == [(False, False), (True, False), (True, False)]
    assert "451 4.3.0" in results[0].error and alice in results[0].error
    assert message_ids(bench.wait_for_mail(alice, 2)) == ["<tempfail-2@park.test>", "<tempfail-3@park.test>"]


@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
def test_a_550_is_permanent_at_every_stage(bench, stage):
    alice, _ = bench.new_user("tenant")
    messages = [outgoing(alice, n, f"perm{stage}") for n in (1, 2)]
    bench.smtp_faults.fail_next(stage=stage, code=550)
    results = SmtpMailer(config(bench)).send_all(messages)
    assert [(r.ok, r.permanent) for r in results] == [(False, True), (True, False)]
    assert "550 5.3.0" in results[0].error
    assert message_ids(bench.wait_for_mail(alice, 1)) == [f"<perm{stage}-2@park.test>"]


def test_an_unknown_recipient_among_others_is_reported_but_the_message_goes(bench):
    alice, _ = bench.new_user("tenant")
    message = outgoing(f"{alice}, nobody@park.test", 1, "partial")
    [result] = SmtpMailer(config(bench)).send_all([message])
    assert result.ok and not result.permanent
    assert result.refused["nobody@park.test"][0] == 550
    assert len(bench.wait_for_mail(alice, 1)) == 1


def test_a_late_data_answer_is_a_temporary_failure_and_the_batch_goes_on(bench, caplog):
    alice, _ = bench.new_user("tenant")
    messages = [outgoing(alice, n, "late") for n in (1, 2, 3)]
    mailer = CountingMailer(config(bench), timeout=0.5)
    bench.smtp_faults.delay_data(seconds=1.5)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="parkdesk.smtp"):
        results = mailer.send_all(messages)
    assert time.monotonic() - started < 3
    assert [(r.ok, r.permanent) for r in results] == [(False, False), (True, False), (True, False)]
    assert "no answer for 0.5 s" in results[0].error and "may still have been delivered" in results[0].error
    assert mailer.connections == 2  # reconnected once for the rest
    # The server had stored it before answering late: only the caller's journal knows to look.
    assert sorted(message_ids(bench.wait_for_mail(alice, 3))) == [
        "<late-1@park.test>", "<late-2@park.test>", "<late-3@park.test>"]


def test_a_second_lost_connection_gives_up_on_the_rest_as_temporary(bench):
    alice, _ = bench.new_user("tenant")
    messages = [outgoing(alice, n, "twice") for n in (1, 2, 3, 4)]
    mailer = CountingMailer(config(bench), timeout=0.5)
    bench.smtp_faults.delay_data(seconds=1.0, count=2)
    results = mailer.send_all(messages)
    assert [(r.ok, r.permanent) for r in results] == [(False, False)] * 4
    assert mailer.connections == 2
    assert results[2].error.startswith("not sent: lost the connection to SMTP server 127.0.0.1")
    assert results[3].error == results[2].error
    offered = {m.content.split(b"Message-ID: ")[1].split(b"\r\n")[0] for m in bench.smtp_received
               if alice in m.rcpt_tos}
    assert offered == {b"<twice-1@park.test>", b"<twice-2@park.test>"}  # 3 and 4 never offered


def test_an_unreachable_server_fails_the_batch_temporarily_without_raising(bench):
    messages = [outgoing("a@park.test", n, "down") for n in (1, 2)]
    results = SmtpMailer(config(bench, port=1)).send_all(messages)
    assert [(r.message_id, r.ok, r.permanent) for r in results] == [
        ("<down-1@park.test>", False, False), ("<down-2@park.test>", False, False)]
    assert "connection refused" in results[0].error
    assert SmtpMailer(config(bench)).send_all([]) == []


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_with_the_bench_ca_and_a_login(bench, security):
    alice, _ = bench.new_user("tenant")
    sender, password = bench.new_user("desk")
    cfg = config(bench, security=security, username=sender, password=password)
    [result] = SmtpMailer(cfg).send_all([outgoing(alice, 1, f"tls{security}")])
    assert result.ok
    [record] = [m for m in bench.smtp_received if alice in m.rcpt_tos]
    assert record.tls and record.login == sender
    SmtpMailer(cfg).check()


def test_a_refused_login_raises_a_plain_error_without_the_password(bench):
    sender, _ = bench.new_user("desk")
    wrong = "Not-The-Pa55word"
    cfg = config(bench, security="starttls", username=sender, password=wrong)
    for attempt in (lambda m: m.send_all([outgoing("a@park.test", 1, "auth")]), lambda m: m.check()):
        with pytest.raises(MailerError) as caught:
            attempt(SmtpMailer(cfg))
        message = str(caught.value)
        assert message.startswith(f"The SMTP server refused the login for {sender}")
        assert "smtp.username" in message and "PARKDESK_SMTP_PASSWORD" in message
        assert wrong not in message


def test_certificate_and_port_mistakes_are_settings_errors(bench, tmp_path):
    other_ca = create_tls_files(tmp_path).ca_file
    with pytest.raises(MailerError, match=r"certificate of 127\.0\.0\.1 could not be verified.*smtp\.ca_file"):
        SmtpMailer(config(bench, security="starttls", ca_file=other_ca)).send_all(
            [outgoing("a@park.test", 1, "ca")])
    with pytest.raises(MailerError, match="smtp.security and smtp.port do not match"):
        SmtpMailer(config(bench, security="ssl", port=bench.smtp_port), timeout=3).check()
    with pytest.raises(MailerError, match="Cannot use the SMTP server 127.0.0.1:1: connection refused"):
        SmtpMailer(config(bench, port=1)).check()
