"""The IMAP adapter against a real Dovecot (tests/mailbench), plus its reconnect policy.

Server-side facts are checked through the bench's own view of the mailbox (``bench.fetch_all``,
``bench.count``) or a second IMAP connection, never through the adapter under test.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.mailbox import (
    FetchedMessage,
    ImapMailbox,
    MailboxAuthError,
    MailboxError,
    MailboxUnavailable,
    ReconnectingMailbox,
    UidValidityChanged,
    imap,
)
from daemon.mailbox.imap import format_uid_set, split_batches
from daemon.tls import make_ssl_context
from tests.mailbench.client import append_message
from tests.mailbench.tls import create_tls_files

# --- helpers ---------------------------------------------------------------------------------

PASSWORD_ENV = "PARKDESK_IMAP_PASSWORD"


def planted(n: int, tag: str) -> list[bytes]:
    """``n`` distinct raw messages (CRLF line ends, as IMAP stores them)."""
    return [
        (f"From: tenant{i}@acme.test\r\nTo: desk@park.test\r\n"
         f"Subject: {tag} complaint {i}\r\nMessage-ID: <{tag}-{i}@acme.test>\r\n"
         f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
         f"Water leak on floor {i}. 漏水 {i}.\r\n").encode()
        for i in range(n)
    ]


def plant(bench, user: str, messages: list[bytes], folder: str = "INBOX", flags=()) -> list[int]:
    """APPEND ``messages`` over one connection (quicker than one ``bench.append`` each)."""
    with bench.imap_client(user) as client:
        return [append_message(client, folder, raw, flags) for raw in messages]


def config(bench, user: str, *, security: str = "starttls", password: str | None = None, **overrides):
    values = dict(
        backend="imap", host=bench.imap_host,
        port=bench.imaps_port if security == "ssl" else bench.imap_port,
        security=security, username=user, ca_file=Path(bench.ca_file), folder="INBOX",
        processed_folder="Processed", quarantine_folder="Quarantine", idle=True,
        poll_seconds=60, batch_size=50, password_env=PASSWORD_ENV,
    )
    values.update(overrides)
    cfg = SimpleNamespace(**values)
    secret = password if password is not None else bench.password_of(user)
    cfg.password = lambda: secret
    return cfg


def flags_of(bench, user: str, folder: str = "INBOX") -> dict[int, tuple[bytes, ...]]:
    with bench.imap_client(user) as client:
        client.select_folder(folder, readonly=True)
        uids = client.search("ALL")
        return {uid: data[b"FLAGS"] for uid, data in client.fetch(uids, ["FLAGS"]).items()} if uids else {}


class MailboxWithout(ImapMailbox):
    """An ImapMailbox that pretends the server lacks some capabilities (to reach fallbacks)."""

    def __init__(self, cfg, *, hidden: set[str], **kwargs):
        super().__init__(cfg, **kwargs)
        self.hidden = hidden

    def _offers(self, capability: str) -> bool:
        return capability.upper() not in self.hidden and super()._offers(capability)


class CountingMailbox(ImapMailbox):
    """An ImapMailbox that records each FETCH it sends (to see batches are fetched lazily)."""

    def __init__(self, cfg, **kwargs):
        super().__init__(cfg, **kwargs)
        self.fetched: list[int] = []

    def fetch(self, uids):
        self.fetched.append(len(uids))
        return super().fetch(uids)


# --- pure helpers (no server) ----------------------------------------------------------------

def test_uid_sets_name_only_the_given_uids():
    assert format_uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert format_uid_set([10, 9, 7, 3, 2, 1, 2]) == "1:3,7,9:10"
    assert format_uid_set([5]) == "5"
    assert format_uid_set([4, 6]) == "4,6"


def test_batches_split_in_order():
    assert [list(b) for b in split_batches(list(range(1, 121)), 50)] == [
        list(range(1, 51)), list(range(51, 101)), list(range(101, 121))]
    with pytest.raises(ValueError):
        list(split_batches([1], 0))


# --- the reconnect policy, with a scripted mailbox --------------------------------------------

class ScriptedMailbox:
    """Stands in for ImapMailbox: ``open()`` fails while ``down`` is positive."""

    host = "imap.example.com"
    batch_size = 2

    def __init__(self, down: int = 0, *, error=None):
        self.down = down
        self.error = error or MailboxUnavailable("Lost the connection to mail server imap.example.com: reset")
        self.is_open = False
        self.opens = 0
        self.closes = 0
        self.calls: list[str] = []

    def open(self):
        self.opens += 1
        if self.down > 0:
            self.down -= 1
            raise self.error
        self.is_open = True

    def close(self):
        self.closes += 1
        self.is_open = False

    def list_uids(self):
        self.calls.append("list")
        return [1, 2, 3]

    def fetch(self, uids):
        self.calls.append(f"fetch {list(uids)}")
        return [FetchedMessage(uid, 7, b"x") for uid in uids]

    def wait_for_mail(self, timeout_seconds):
        self.calls.append(f"wait {timeout_seconds:g}")
        return False


class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_reconnect_backs_off_doubling_to_the_cap_and_logs_the_outage_once(caplog):
    scripted, fake = ScriptedMailbox(down=12), FakeTime()
    mailbox = ReconnectingMailbox(scripted, sleep=fake.sleep, clock=fake.clock, jitter=lambda: 0.5)
    with caplog.at_level(logging.DEBUG, logger="parkdesk.mailbox"):
        assert mailbox.list_uids() == [1, 2, 3]
    assert fake.slept == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
    assert scripted.opens == 13
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(warnings) == 1 and "mail server imap.example.com unreachable, retrying" in warnings[0].getMessage()
    assert len(infos) == 1 and "mail server imap.example.com back" in infos[0].getMessage()
    assert not mailbox.in_outage


def test_reconnect_jitter_stays_within_a_fifth_of_the_step():
    for jitter in (0.0, 0.999):
        scripted, fake = ScriptedMailbox(down=3), FakeTime()
        ReconnectingMailbox(scripted, sleep=fake.sleep, clock=fake.clock,
                            jitter=lambda value=jitter: value).open()
        low, high = (0.8, 1.2)
        for got, nominal in zip(fake.slept, (1, 2, 4)):
            assert nominal * low - 1e-9 <= got <= nominal * high


def test_reconnect_gives_up_after_the_configured_outage_and_resumes_later(caplog):
    scripted, fake = ScriptedMailbox(down=100), FakeTime()
    mailbox = ReconnectingMailbox(scripted, sleep=fake.sleep, clock=fake.clock, jitter=lambda: 0.5,
                                  give_up_after=60)
    with caplog.at_level(logging.WARNING, logger="parkdesk.mailbox"):
        with pytest.raises(MailboxUnavailable, match="imap.example.com"):
            mailbox.list_uids()
        assert sum(fake.slept) >= 60
        scripted.down = 0
        assert mailbox.list_uids() == [1, 2, 3]
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_wait_during_an_outage_returns_false_at_its_timeout():
    scripted, fake = ScriptedMailbox(down=100), FakeTime()
    mailbox = ReconnectingMailbox(scripted, sleep=fake.sleep, clock=fake.clock, jitter=lambda: 0.5)
    assert mailbox.wait_for_mail(20) is False
    assert sum(fake.slept) == pytest.approx(20)
    assert mailbox.in_outage


def test_reconnect_does_not_retry_login_refusals_or_stale_uids():
    fake = FakeTime()
    refused = ScriptedMailbox(down=1, error=MailboxAuthError("The mail server refused the login"))
    with pytest.raises(MailboxAuthError):
        ReconnectingMailbox(refused, sleep=fake.sleep, clock=fake.clock).list_uids()
    stale = ScriptedMailbox(down=1, error=UidValidityChanged("rebuilt"))
    with pytest.raises(UidValidityChanged):
        ReconnectingMailbox(stale, sleep=fake.sleep, clock=fake.clock).list_uids()
    assert fake.slept == []


def test_reconnecting_batches_list_once_and_fetch_in_slices():
    scripted, fake = ScriptedMailbox(), FakeTime()
    mailbox = ReconnectingMailbox(scripted, sleep=fake.sleep, clock=fake.clock)
    batches = list(mailbox.iter_batches())
    assert [[m.uid for m in batch] for batch in batches] == [[1, 2], [3]]
    assert scripted.calls == ["list", "fetch [1, 2]", "fetch [3]"]


# --- connecting --------------------------------------------------------------------------------

@pytest.mark.parametrize("security", ["starttls", "ssl", "none"])
def test_opens_over_each_security_mode_and_creates_the_folders(mail_bench, security):
    user, _ = mail_bench.new_user("desk")
    assert "Processed" not in mail_bench.folders(user)
    with ImapMailbox(config(mail_bench, user, security=security)) as mailbox:
        assert mailbox.uidvalidity > 0
        assert mailbox.list_uids() == []
    assert {"INBOX", "Processed", "Quarantine"} <= set(mail_bench.folders(user))


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_a_server_signed_by_another_ca_is_refused_plainly(mail_bench, tmp_path, security):
    user, _ = mail_bench.new_user("desk")
    other_ca = create_tls_files(tmp_path).ca_file
    mailbox = ImapMailbox(config(mail_bench, user, security=security, ca_file=other_ca), timeout=5)
    with pytest.raises(MailboxError) as caught:
        mailbox.open()
    assert not isinstance(caught.value, MailboxUnavailable)  # a setting to fix, not an outage
    message = str(caught.value)
    assert "certificate of 127.0.0.1 could not be verified" in message
    assert "mailbox.ca_file" in message and "mailbox.host" in message
    assert not mailbox.is_open


def test_ssl_context_verifies_certificate_and_host_name(mail_bench, tmp_path):
    context = make_ssl_context(mail_bench.ca_file, config_key="mailbox.ca_file")
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(MailboxError, match=r"CA file .*missing\.pem given in mailbox\.ca_file does not exist"):
        ImapMailbox(config(mail_bench, "x@park.test", password="x", ca_file=tmp_path / "missing.pem")).open()


def test_wrong_password_is_a_login_error_naming_the_settings_not_the_password(mail_bench):
    user, _ = mail_bench.new_user("desk")
    wrong = "Wrong-Pa55word-xyz"
    with pytest.raises(MailboxAuthError) as caught:
        ImapMailbox(config(mail_bench, user, password=wrong)).open()
    message = str(caught.value)
    assert message.startswith(f"The mail server refused the login for {user}")
    assert "mailbox.username" in message and PASSWORD_ENV in message
    assert wrong not in message


def test_a_password_with_quotes_and_backslashes_logs_in(mail_bench):
    user, _ = mail_bench.new_user("desk", 'with "quotes" and \\ backslash')
    with ImapMailbox(config(mail_bench, user)) as mailbox:
        assert mailbox.list_uids() == []


def test_a_connection_lost_during_login_is_an_outage_not_a_refusal(mail_bench, monkeypatch):
    user, _ = mail_bench.new_user("desk")
    real = imaplib.IMAP4._command_complete

    def drop_at_login(connection, name, tag):
        if name == "LOGIN":
            connection.sock.shutdown(socket.SHUT_RDWR)  # EOF instead of an answer
        return real(connection, name, tag)

    monkeypatch.setattr(imaplib.IMAP4, "_command_complete", drop_at_login)
    with pytest.raises(MailboxUnavailable, match="Cannot reach mail server 127.0.0.1") as caught:
        ImapMailbox(config(mail_bench, user, security="none")).open()
    assert not isinstance(caught.value, MailboxAuthError)


def test_closed_port_is_unavailable(mail_bench):
    user, _ = mail_bench.new_user("desk")
    with pytest.raises(MailboxUnavailable, match="Cannot reach mail server 127.0.0.1: connection refused"):
        ImapMailbox(config(mail_bench, user, security="none", port=1)).open()


def test_tls_on_a_plain_port_is_a_setting_to_fix(mail_bench):
    user, _ = mail_bench.new_user("desk")
    with pytest.raises(MailboxError, match="mailbox.security and mailbox.port do not match") as caught:
        ImapMailbox(config(mail_bench, user, security="ssl", port=mail_bench.imap_port), timeout=5).open()
    assert not isinstance(caught.value, MailboxUnavailable)


# --- reading -----------------------------------------------------------------------------------

def test_batches_hold_exactly_the_planted_bytes_and_leave_them_unseen(mail_bench):
    user, _ = mail_bench.new_user("desk")
    messages = planted(120, "batch")
    uids = plant(mail_bench, user, messages)
    with CountingMailbox(config(mail_bench, user)) as mailbox:
        batches = mailbox.iter_batches()
        first = next(batches)
        assert mailbox.fetched == [50]  # lazily: one FETCH per batch taken
        rest = list(batches)
    assert [len(batch) for batch in [first, *rest]] == [50, 50, 20]
    got = [message for batch in [first, *rest] for message in batch]
    assert [m.uid for m in got] == uids
    assert [m.raw for m in got] == messages
    assert {m.uidvalidity for m in got} == {mailbox.uidvalidity}
    assert all(b"\\Seen" not in flags for flags in flags_of(mail_bench, user).values())


def test_fetch_skips_uids_that_are_gone(mail_bench):
    user, _ = mail_bench.new_user("desk")
    uids = plant(mail_bench, user, planted(2, "gone"))
    with ImapMailbox(config(mail_bench, user)) as mailbox:
        mailbox.list_uids()
        assert [m.uid for m in mailbox.fetch([uids[1], 9999, uids[0]])] == uids
        assert mailbox.fetch([]) == []


# --- moving ------------------------------------------------------------------------------------

def test_moves_to_processed_quarantine_and_a_new_folder(mail_bench):
    user, _ = mail_bench.new_user("desk")
    messages = planted(6, "move")
    uids = plant(mail_bench, user, messages)
    with ImapMailbox(config(mail_bench, user)) as mailbox:
        mailbox.list_uids()
        mailbox.move_to_processed(uids[:3])
        mailbox.move_to_quarantine(uids[3:4])
        mailbox.move(uids[4:5], "Escalated")  # absent: created on the server's TRYCREATE
        mailbox.move([], "Processed")
        assert mailbox.list_uids() == uids[5:]
    assert mail_bench.fetch_all(user, "Processed") == messages[:3]
    assert mail_bench.fetch_all(user, "Quarantine") == messages[3:4]
    assert mail_bench.fetch_all(user, "Escalated") == messages[4:5]
    assert mail_bench.fetch_all(user, "INBOX") == messages[5:]


def test_move_without_MOVE_copies_flags_and_expunges_only_those_uids(mail_bench):
    user, _ = mail_bench.new_user("desk")
    messages = planted(5, "fallback")
    uids = plant(mail_bench, user, messages)
    flagged_by_someone = plant(mail_bench, user, planted(1, "someone"), flags=[b"\\Deleted"])
    with MailboxWithout(config(mail_bench, user), hidden={"MOVE"}) as mailbox:
        assert mailbox.list_uids() == uids  # \Deleted ones are not ours to take
        mailbox.move_to_processed([uids[1], uids[3]])
        assert mailbox.list_uids() == [uids[0], uids[2], uids[4]]
    assert mail_bench.fetch_all(user, "Processed") == [messages[1], messages[3]]
    left = flags_of(mail_bench, user)
    assert sorted(left) == [uids[0], uids[2], uids[4], *flagged_by_someone]  # nothing else expunged


def test_move_without_MOVE_or_UIDPLUS_never_expunges(mail_bench):
    user, _ = mail_bench.new_user("desk")
    messages = planted(4, "nouidplus")
    uids = plant(mail_bench, user, messages)
    with MailboxWithout(config(mail_bench, user), hidden={"MOVE", "UIDPLUS"}) as mailbox:
        mailbox.list_uids()
        mailbox.move_to_processed(uids[:2])
        assert mailbox.list_uids() == uids[2:]  # the copies left behind are not taken twice
    assert mail_bench.fetch_all(user, "Processed") == messages[:2]
    left = flags_of(mail_bench, user)
    assert sorted(left) == uids
    assert [b"\\Deleted" in left[uid] for uid in uids] == [True, True, False, False]


# --- waiting -----------------------------------------------------------------------------------

def deliver_later(bench, user: str, delay: float, subject: str) -> threading.Thread:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "tenant@acme.test", user, subject
    message.set_content("The lift is stuck.")
    thread = threading.Thread(target=lambda: (time.sleep(delay), bench.send("tenant@acme.test", user, message)))
    thread.start()
    return thread


def test_idle_wakes_within_two_seconds_of_an_smtp_delivery(mail_bench):
    user, _ = mail_bench.new_user("desk")
    with ImapMailbox(config(mail_bench, user)) as mailbox:
        assert mailbox.list_uids() == []
        sender = deliver_later(mail_bench, user, 0.3, "idle wake")
        started = time.monotonic()
        assert mailbox.wait_for_mail(10) is True
        waited = time.monotonic() - started
        sender.join()
        assert waited < 0.3 + 2.0
        uids = mailbox.list_uids()  # IDLE was ended properly: the connection still works
        assert len(uids) == 1
        assert b"idle wake" in mailbox.fetch(uids)[0].raw


def test_idle_times_out_without_mail_and_reports_mail_that_came_before_it(mail_bench):
    user, _ = mail_bench.new_user("desk")
    with ImapMailbox(config(mail_bench, user)) as mailbox:
        mailbox.list_uids()
        started = time.monotonic()
        assert mailbox.wait_for_mail(0.5) is False
        assert 0.45 <= time.monotonic() - started < 2.0
        plant(mail_bench, user, planted(1, "between"))  # arrives while we are not idling
        started = time.monotonic()
        assert mailbox.wait_for_mail(5) is True
        assert time.monotonic() - started < 0.5


def test_idle_is_reissued_when_one_idle_would_last_too_long(mail_bench, monkeypatch):
    monkeypatch.setattr(imap, "IDLE_MAX_SECONDS", 0.2)
    user, _ = mail_bench.new_user("desk")
    with ImapMailbox(config(mail_bench, user)) as mailbox:
        mailbox.list_uids()
        client = mailbox._client
        idles = []
        real_idle = client.idle
        monkeypatch.setattr(client, "idle", lambda: (idles.append(time.monotonic()), real_idle())[1])
        sender = deliver_later(mail_bench, user, 0.5, "late")
        assert mailbox.wait_for_mail(10) is True
        sender.join()
        assert len(idles) >= 3
        assert len(mailbox.list_uids()) == 1


def test_polling_mode_sleeps_through_the_injected_sleep(mail_bench):
    user, _ = mail_bench.new_user("desk")
    slept: list[float] = []
    with ImapMailbox(config(mail_bench, user, idle=False, poll_seconds=45), sleep=slept.append) as mailbox:
        started = time.monotonic()
        assert mailbox.wait_for_mail(600) is True
        assert mailbox.wait_for_mail(10) is True
        assert time.monotonic() - started < 0.5
    assert slept == [45, 10]


# --- UIDVALIDITY -------------------------------------------------------------------------------

def test_uidvalidity_is_remembered_and_a_change_is_visible(mail_bench):
    user, _ = mail_bench.new_user("desk")
    old_uids = plant(mail_bench, user, planted(2, "v1"), folder="Complaints")
    mailbox = ImapMailbox(config(mail_bench, user, folder="Complaints"))
    with mailbox:
        first = mailbox.uidvalidity
        assert mailbox.list_uids() == old_uids
    with mailbox:
        assert mailbox.uidvalidity == first and not mailbox.uidvalidity_changed()
    with mail_bench.imap_client(user) as client:  # the folder is rebuilt behind our back
        client.delete_folder("Complaints")
        client.create_folder("Complaints")
    new_uids = plant(mail_bench, user, planted(1, "v2"), folder="Complaints")
    with mailbox:
        assert mailbox.uidvalidity != first and mailbox.uidvalidity_changed()
        with pytest.raises(UidValidityChanged, match="list its messages again"):
            mailbox.fetch(old_uids)
        with pytest.raises(UidValidityChanged):
            mailbox.move_to_processed(old_uids)
        assert mailbox.list_uids() == new_uids
        assert b"v2 complaint 0" in mailbox.fetch(new_uids)[0].raw


# --- faults ------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["kick", "kill_imap"])
def test_a_dropped_connection_during_batches_raises_unavailable(fresh_mail_bench, fault):
    bench = fresh_mail_bench
    user, _ = bench.new_user("desk")
    plant(bench, user, planted(120, fault))
    mailbox = ImapMailbox(config(bench, user), timeout=5).open()
    batches = mailbox.iter_batches()
    next(batches)
    getattr(bench.faults, fault)(user)
    with pytest.raises(MailboxUnavailable, match="^Lost the connection to mail server 127.0.0.1: "):
        next(batches)
    assert not mailbox.is_open
    with pytest.raises(MailboxUnavailable, match="Lost the connection"):
        mailbox.list_uids()  # stays down until opened again
    mailbox.close()  # tolerant of the dead connection
    with mailbox:
        assert len(mailbox.list_uids()) == 120


def test_reconnecting_mailbox_rides_out_kick_and_kill_mid_batches(fresh_mail_bench, caplog):
    bench = fresh_mail_bench
    user, _ = bench.new_user("desk")
    messages = planted(120, "ride")
    plant(bench, user, messages)
    slept: list[float] = []
    mailbox = ReconnectingMailbox(ImapMailbox(config(bench, user), timeout=5), sleep=slept.append)
    got = []
    with caplog.at_level(logging.INFO, logger="parkdesk.mailbox"), mailbox:
        for number, batch in enumerate(mailbox.iter_batches()):
            got.extend(batch)
            if number == 0:
                bench.faults.kick(user)
            if number == 1:
                bench.faults.kill_imap(user)
    assert [m.raw for m in got] == messages
    assert len(slept) == 2 and all(0.8 <= s <= 1.2 for s in slept)
    levels = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records
              if r.name == "parkdesk.mailbox" and r.getMessage().startswith("mail server")]
    assert levels == [
        ("WARNING", "mail server 127.0.0.1 unreachable, retrying"), ("INFO", "mail server 127.0.0.1 back after 0 s"),
        ("WARNING", "mail server 127.0.0.1 unreachable, retrying"), ("INFO", "mail server 127.0.0.1 back after 0 s"),
    ]


def test_reconnecting_wait_recovers_from_a_kick_during_idle(fresh_mail_bench):
    bench = fresh_mail_bench
    user, _ = bench.new_user("desk")
    slept: list[float] = []  # the backoff is recorded, not slept: it must fit in the wait
    mailbox = ReconnectingMailbox(ImapMailbox(config(bench, user), timeout=5), sleep=slept.append,
                                  jitter=lambda: 0.5)
    with mailbox:
        mailbox.list_uids()
        kicker = threading.Timer(0.3, bench.faults.kick, args=(user,))
        kicker.start()
        started = time.monotonic()
        assert mailbox.wait_for_mail(1.5) is False  # reconnected, idled on, no mail came
        kicker.join()
        assert 1.4 <= time.monotonic() - started < 3
        assert slept == [1.0]
        assert not mailbox.in_outage
        plant(bench, user, planted(1, "after"))
        assert mailbox.wait_for_mail(5) is True


def test_a_paused_server_times_out_as_unavailable(fresh_mail_bench):
    bench = fresh_mail_bench
    user, _ = bench.new_user("desk")
    uids = plant(bench, user, planted(3, "paused"))
    mailbox = ImapMailbox(config(bench, user), timeout=1).open()
    mailbox.list_uids()
    bench.faults.pause_imap(user)
    try:
        started = time.monotonic()
        with pytest.raises(MailboxUnavailable, match="no answer for 1 s"):
            mailbox.fetch(uids)
        assert time.monotonic() - started < 2.5
        started = time.monotonic()
        mailbox.close()  # does not wait on the hung server again
        assert time.monotonic() - started < 0.5
    finally:
        bench.faults.resume_imap(user)


def test_unreadable_passwd_file_is_a_temporary_outage_then_recovers(fresh_mail_bench, caplog):
    bench = fresh_mail_bench
    user, password = bench.new_user("desk")
    bench.faults.break_passwd()
    try:
        with pytest.raises(MailboxUnavailable) as caught:
            ImapMailbox(config(bench, user)).open()
        message = str(caught.value)
        assert f"cannot check the login for {user} right now" in message and "[UNAVAILABLE]" in message
        assert password not in message

        def sleep_and_mend(seconds: float) -> None:
            bench.faults.restore_passwd()

        mailbox = ReconnectingMailbox(ImapMailbox(config(bench, user)), sleep=sleep_and_mend)
        with caplog.at_level(logging.INFO, logger="parkdesk.mailbox"), mailbox:
            assert mailbox.list_uids() == []
        outage = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records
                  if r.name == "parkdesk.mailbox" and r.getMessage().startswith("mail server")]
        assert outage == [("WARNING", "mail server 127.0.0.1 unreachable, retrying"),
                          ("INFO", "mail server 127.0.0.1 back after 0 s")]
    finally:
        if bench.faults.passwd_broken:
            bench.faults.restore_passwd()
