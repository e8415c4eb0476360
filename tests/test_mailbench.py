"""Tests of the mail bench itself: real Dovecot and SMTP receiver, TLS, IDLE and every fault."""

from __future__ import annotations

import base64
import contextlib
import email
import email.policy
import os
import smtplib
import socket
import ssl
import threading
import time
from email.header import Header
from email.message import EmailMessage

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.mailbench import MailBench, unique_address
from tests.mailbench.client import connect_imap, send_smtp
from tests.mailbench.faults import process_state

COMPLAINT_SUBJECT = "投诉：3号楼电梯故障，困人 20 分钟 𠮷"  # 𠮷 needs GB18030's 4-byte form
COMPLAINT_BODY = "您好，\n园区 3 号楼 2 单元电梯今天上午停在 5 楼，困住两人。请尽快派人检修。\n张伟 13800138000\n"


def _simple_message(sender: str, recipient: str, subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content("test body\n")
    return message


def _close(client: IMAPClient) -> None:
    with contextlib.suppress(OSError, IMAPClient.Error):
        client.shutdown()


def _alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


@pytest.fixture
def smtp_faults(mail_bench):
    """The shared bench's SMTP fault plan, emptied after the test whatever happens."""
    yield mail_bench.smtp_faults
    mail_bench.smtp_faults.clear()


# ----------------------------------------------------------------------------- life cycle


def test_start_and_stop_are_quick_and_leave_nothing_behind():
    began = time.monotonic()
    bench = MailBench().start()
    started = time.monotonic() - began
    pids = bench.server_pids()
    root = bench.root
    ports = [bench.imap_port, bench.imaps_port, bench.smtp_port, bench.smtps_port]
    began = time.monotonic()
    bench.stop()
    stopped = time.monotonic() - began
    print(f"\nMailBench start {started:.3f} s, stop {stopped:.3f} s")

    assert started < 3.0
    assert stopped < 2.0
    assert len(pids) > 1
    assert not [pid for pid in pids if _alive(pid)]
    assert not root.exists()
    for port in ports:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_stopped_bench_starts_again_empty():
    with MailBench() as bench:
        bench.add_user("complaints@park.test", "secret")
        bench.send("a@tenant.test", "complaints@park.test", b"Subject: first life\r\n\r\nx\r\n")
    with bench:
        with pytest.raises(KeyError):
            bench.password_of("complaints@park.test")
        bench.add_user("complaints@park.test", "secret")
        assert bench.count("complaints@park.test") == 0


def test_add_user_is_idempotent_and_a_new_password_takes_effect(mail_bench):
    address = unique_address("tenant")
    first = mail_bench.add_user(address, "alpha-one")
    assert mail_bench.add_user(address) == first
    assert mail_bench.add_user(address.upper()) == first
    assert mail_bench.add_user(address, "alpha-one") == first

    # Same length, same second: Dovecot must still notice the change (checked by add_user).
    assert mail_bench.add_user(address, "alpha-two") == "alpha-two"
    with mail_bench.imap_client(address) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0
    with pytest.raises(LoginError):
        with connect_imap(mail_bench.imap_host, mail_bench.imap_port, "none") as client:
            client.login(address, first)


def test_unique_address_never_repeats():
    addresses = {unique_address("member") for _ in range(50)}
    assert len(addresses) == 50
    assert all(a.startswith("member-") and a.endswith("@park.test") for a in addresses)


# ----------------------------------------------------------------------------- mail flow


def test_gb18030_complaint_survives_smtp_and_imap(mail_bench):
    desk, _ = mail_bench.new_user("complaints")
    raw = (
        f"From: =?gb18030?b?{base64.b64encode('张伟'.encode('gb18030')).decode()}?= <zhang@tenant.test>\r\n"
        f"To: {desk}\r\n"
        f"Subject: {Header(COMPLAINT_SUBJECT, 'gb18030').encode()}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="gb18030"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
    ).encode("ascii") + base64.encodebytes(COMPLAINT_BODY.encode("gb18030")).replace(b"\n", b"\r\n")
    assert b"=?gb18030?" in raw  # the subject really is an RFC 2047 encoded-word

    mail_bench.send("zhang@tenant.test", desk, raw)
    [stored] = mail_bench.fetch_all(desk)

    message = email.message_from_bytes(stored, policy=email.policy.default)
    assert message["Subject"] == COMPLAINT_SUBJECT
    assert message["From"].addresses[0].display_name == "张伟"
    assert message.get_content_charset() == "gb18030"
    assert message.get_content() == COMPLAINT_BODY


def test_unknown_recipient_is_refused_and_plus_address_is_delivered(mail_bench):
    member, _ = mail_bench.new_user("member")
    stranger = unique_address("nobody")
    refused = mail_bench.send(
        "a@tenant.test", [stranger, member], _simple_message("a@tenant.test", member, "mixed")
    )
    assert refused[stranger][0] == 550
    with pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        mail_bench.send("a@tenant.test", stranger, _simple_message("a@tenant.test", stranger, "x"))
    assert caught.value.recipients[stranger][0] == 550

    local, domain = member.split("@")
    mail_bench.send("a@tenant.test", f"{local}+slip@{domain}", b"Subject: detail\r\n\r\nhi\r\n")
    subjects = [email.message_from_bytes(m)["Subject"] for m in mail_bench.fetch_all(member)]
    assert subjects == ["mixed", "detail"]


def test_bounce_with_empty_envelope_sender_keeps_return_path_empty(mail_bench):
    desk, _ = mail_bench.new_user("complaints")
    mail_bench.send("", desk, b"From: MAILER-DAEMON@tenant.test\r\nSubject: Undelivered\r\n\r\nx\r\n")
    [stored] = mail_bench.fetch_all(desk)
    assert stored.startswith(b"Return-Path: <>\r\n")
    assert mail_bench.smtp_received[-1].mail_from == ""


def test_folders_count_and_append(mail_bench):
    user, _ = mail_bench.new_user("desk")
    uid = mail_bench.append(user, "Processed", b"Subject: planted\r\n\r\nplanted body\r\n")
    assert uid == 1
    assert set(mail_bench.folders(user)) >= {"INBOX", "Processed"}
    assert mail_bench.count(user, "Processed") == 1
    assert mail_bench.count(user) == 0
    assert b"planted body" in mail_bench.fetch_all(user, "Processed")[0]
    with mail_bench.imap_client(user) as client:
        client.select_folder("Processed", readonly=True)
        assert b"\\Seen" not in client.get_flags([uid])[uid]  # fetch_all used BODY.PEEK[]


def test_wait_for_mail_times_out_with_a_clear_message(mail_bench):
    user, _ = mail_bench.new_user("quiet")
    with pytest.raises(TimeoutError, match="holds 0 message"):
        mail_bench.wait_for_mail(user, n=1, timeout=0.2)


def test_idle_wakes_up_on_delivery(mail_bench):
    user, _ = mail_bench.new_user("idle")
    with mail_bench.imap_client(user) as client:
        client.select_folder("INBOX")
        client.idle()
        mail_bench.send("a@tenant.test", user, _simple_message("a@tenant.test", user, "wake"))
        began = time.monotonic()
        responses = client.idle_check(timeout=3)
        waited = time.monotonic() - began
        client.idle_done()
    print(f"\nIDLE woke {waited:.2f} s after the delivery")
    assert (1, b"EXISTS") in responses
    assert waited < 2.0


# ----------------------------------------------------------------------------- TLS


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_starttls_and_imaps_verify_the_generated_ca(mail_bench, hostname):
    user, password = mail_bench.new_user("tls")
    for security, port in (("starttls", mail_bench.imap_port), ("ssl", mail_bench.imaps_port)):
        with connect_imap(hostname, port, security, mail_bench.ca_file) as client:
            client.login(user, password)
            assert client.select_folder("INBOX")[b"EXISTS"] == 0


def test_tls_fails_without_trusting_the_bench_ca(mail_bench):
    system_trust = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        IMAPClient("127.0.0.1", mail_bench.imaps_port, ssl=True, ssl_context=system_trust,
                   timeout=5)
    client = IMAPClient("127.0.0.1", mail_bench.imap_port, ssl=False, timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.starttls(system_trust)
    _close(client)


def test_plain_login_works_without_tls(mail_bench):
    user, password = mail_bench.new_user("plain")
    config = mail_bench.imap_config(user, security="none")
    assert config["port"] == mail_bench.imap_port
    with connect_imap(config["host"], config["port"], "none") as client:
        client.login(config["username"], config["password"])
        assert b"IDLE" in client.capabilities()


def test_smtp_starttls_implicit_tls_and_auth(mail_bench):
    sender, _ = mail_bench.new_user("desk")
    recipient, _ = mail_bench.new_user("member")
    mail_bench.send(sender, recipient, b"Subject: one\r\n\r\nx\r\n", security="starttls", login=sender)
    mail_bench.send(sender, recipient, b"Subject: two\r\n\r\nx\r\n", security="ssl")
    mail_bench.send(sender, recipient, b"Subject: three\r\n\r\nx\r\n", security="none", login=sender)
    accepted = [r for r in mail_bench.smtp_received if r.rcpt_tos == (recipient,)]
    assert [(r.login, r.tls) for r in accepted] == [(sender, True), (None, True), (sender, False)]
    assert mail_bench.count(recipient) == 3

    with pytest.raises(smtplib.SMTPAuthenticationError) as caught:
        send_smtp(mail_bench.smtp_host, mail_bench.smtp_port, sender, recipient, b"x",
                  security="starttls", ca_file=mail_bench.ca_file, login=(sender, "wrong"))
    assert caught.value.smtp_code == 535


# ----------------------------------------------------------------------------- Dovecot faults


def test_kick_sends_bye(fresh_mail_bench):
    user, _ = fresh_mail_bench.new_user("kicked")
    client = fresh_mail_bench.imap_client(user)
    client.select_folder("INBOX")
    fresh_mail_bench.faults.kick(user)
    with pytest.raises(IMAPClient.AbortError, match="Server shutting down"):
        client.select_folder("INBOX")
    _close(client)
    with fresh_mail_bench.imap_client(user) as again:
        assert again.select_folder("INBOX")[b"EXISTS"] == 0


@pytest.mark.parametrize("security", ["none", "starttls"])
def test_kill_imap_drops_the_connection_without_bye(fresh_mail_bench, security):
    user, _ = fresh_mail_bench.new_user("killed")
    client = fresh_mail_bench.imap_client(user, security=security)
    client.select_folder("INBOX")
    killed = fresh_mail_bench.faults.kill_imap(user)
    assert killed and not any(_alive(pid) for pid in killed)
    with pytest.raises((IMAPClient.AbortError, ConnectionError)) as caught:
        client.select_folder("INBOX")
    assert "shutting down" not in str(caught.value)
    with pytest.raises((IMAPClient.AbortError, ConnectionError, ssl.SSLError)):
        client.noop()  # the connection is gone for good
    _close(client)
    with fresh_mail_bench.imap_client(user) as again:
        assert again.select_folder("INBOX")[b"EXISTS"] == 0


def test_pause_makes_commands_hang_and_resume_recovers(fresh_mail_bench):
    user, _ = fresh_mail_bench.new_user("paused")
    impatient = fresh_mail_bench.imap_client(user, timeout=0.5)
    patient = fresh_mail_bench.imap_client(user, timeout=10)
    impatient.select_folder("INBOX")
    patient.select_folder("INBOX")
    paused = fresh_mail_bench.faults.pause_imap(user)
    assert len(paused) == 2

    with pytest.raises(socket.timeout):
        impatient.noop()
    _close(impatient)
    outcome: list[object] = []
    waiter = threading.Thread(target=lambda: outcome.append(patient.noop()))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive(), "NOOP answered while the imap process was stopped"

    assert sorted(fresh_mail_bench.faults.resume_imap(user)) == sorted(paused)
    waiter.join(5)
    assert not waiter.is_alive() and outcome, "NOOP did not complete after resume"
    assert patient.select_folder("INBOX")[b"EXISTS"] == 0
    patient.logout()


def test_broken_passwd_file_makes_login_fail_until_restored(fresh_mail_bench):
    user, password = fresh_mail_bench.new_user("locked")
    fresh_mail_bench.faults.break_passwd()
    with connect_imap(fresh_mail_bench.imap_host, fresh_mail_bench.imap_port, "none") as client:
        with pytest.raises(LoginError, match="UNAVAILABLE"):
            client.login(user, password)
    fresh_mail_bench.faults.restore_passwd()
    with fresh_mail_bench.imap_client(user) as client:
        assert client.select_folder("INBOX")[b"EXISTS"] == 0


# ----------------------------------------------------------------------------- SMTP faults


@pytest.mark.parametrize(
    ("stage", "code", "error"),
    [
        ("MAIL", 451, smtplib.SMTPSenderRefused),
        ("RCPT", 452, smtplib.SMTPRecipientsRefused),
        ("DATA", 554, smtplib.SMTPDataError),
    ],
)
def test_smtp_fail_next_answers_that_code_once(mail_bench, smtp_faults, stage, code, error):
    user, _ = mail_bench.new_user("smtpfault")
    message = _simple_message("a@tenant.test", user, f"fault at {stage}")
    smtp_faults.fail_next(stage=stage, code=code)
    with pytest.raises(error) as caught:
        mail_bench.send("a@tenant.test", user, message)
    if isinstance(caught.value, smtplib.SMTPRecipientsRefused):
        assert caught.value.recipients[user][0] == code
    else:
        assert caught.value.smtp_code == code
    assert mail_bench.count(user) == 0

    mail_bench.send("a@tenant.test", user, message)  # the fault was used up
    assert mail_bench.count(user) == 1


def test_smtp_fail_next_rejects_nonsense(smtp_faults):
    with pytest.raises(ValueError):
        smtp_faults.fail_next(stage="HELO")
    with pytest.raises(ValueError):
        smtp_faults.fail_next(stage="RCPT", code=250)


def test_late_data_answer_times_the_client_out_but_delivers(mail_bench, smtp_faults):
    user, _ = mail_bench.new_user("slow")
    message = _simple_message("a@tenant.test", user, "late")
    smtp_faults.delay_data(1.5)
    began = time.monotonic()
    with pytest.raises((socket.timeout, smtplib.SMTPServerDisconnected)):
        mail_bench.send("a@tenant.test", user, message, timeout=0.5)
    assert time.monotonic() - began < 1.4
    assert len(mail_bench.wait_for_mail(user, n=1, timeout=3)) == 1  # stored despite the timeout

    mail_bench.send("a@tenant.test", user, message, timeout=5)  # the client's resend: a duplicate
    assert mail_bench.count(user) == 2


# ----------------------------------------------------------------------------- options


def test_slash_hierarchy_separator_like_gmail_or_exmail():
    with MailBench(hierarchy_separator="/") as bench:
        user, _ = bench.new_user("desk")
        bench.append(user, "Complaints/2025", b"Subject: old\r\n\r\nx\r\n")
        assert "Complaints/2025" in bench.folders(user)
        with bench.imap_client(user) as client:
            assert client.list_folders()[0][1] == b"/"


def test_runtime_directory_is_short_and_private(mail_bench):
    root = mail_bench.root
    assert len(str(root / "run" / "login" / "imap-urlauth-login")) < 100
    assert os.stat(root).st_mode & 0o077 == 0
