"""Health alerts through the real servers: the IMAP side cut off while the SMTP relay still
delivers, for longer than the threshold, with the daemon's own loop and a simulated clock.

The IMAP connection runs through a small TCP proxy in front of Dovecot that the test can cut
(open connections dropped, new ones refused) and restore. Dovecot keeps running, so the SMTP
relay still delivers into it (over LMTP): the alert reaches the service center's mailbox while
ParkDesk cannot read its own.
"""

from __future__ import annotations

import select
import socket
import threading
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy

import pytest

from daemon.config import load_config
from daemon.health import read_health
from daemon.journal import Journal
from daemon.mailbox import ImapMailbox, ReconnectingMailbox
from daemon.mailer import SmtpMailer
from daemon.register import open_register
from daemon.runner import Adapters, Daemon


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target``; ``cut()`` makes the server unreachable."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = True
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Refuse new connections and drop the open ones (like a server that went away)."""
        with self._lock:
            self._open = False
            self._listener.close()
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()
        self._thread.join(timeout=5)

    def restore(self) -> None:
        with self._lock:
            self._listener = socket.create_server(("127.0.0.1", self.port))
            self._open = True
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self._open:
            self.cut()

    def _accept_loop(self) -> None:
        listener = self._listener
        while self._open:
            try:
                ready, _, _ = select.select([listener], [], [], 0.05)
                if not ready:
                    continue
                client, _ = listener.accept()
            except (OSError, ValueError):
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if not self._open:
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class SimulatedTime:
    """The daemon's clock (park time) and the mailbox's monotonic clock, moved by its sleeps."""

    def __init__(self, tz):
        self.moment = datetime.now(tz)
        self.seconds = 0.0

    def now(self) -> datetime:
        return self.moment

    def monotonic(self) -> float:
        return self.seconds

    def sleep(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
        self.seconds += seconds


class ScriptedMailbox:
    """The real mailbox, except that waiting for new mail runs the test's next step instead."""

    def __init__(self, mailbox, step):
        self._mailbox = mailbox
        self._step = step

    def wait_for_mail(self, timeout_seconds: float) -> bool:
        self._step(timeout_seconds, after_good_cycle=True)
        return False

    def __getattr__(self, name):
        return getattr(self._mailbox, name)


def subjects(park, address: str) -> list[str]:
    return [str(message_from_bytes(raw, policy=policy.default)["Subject"])
            for raw in park.bench.fetch_all(address)]


@pytest.fixture
def proxy(mail_bench):
    proxy = CuttableProxy((mail_bench.imap_host, mail_bench.imap_port))
    yield proxy
    proxy.close()


def test_imap_cut_off_past_the_threshold_one_alert_then_one_recovery(park, proxy, monkeypatch):
    park.write_config(mailbox={"port": proxy.port}, health={"alert_after_minutes": 15})
    for name, value in park.env().items():
        if name.startswith("PARKDESK_"):
            monkeypatch.setenv(name, value)
    config = load_config(park.config_path)
    clock = SimulatedTime(config.park.tz)
    tenant = park.new_tenant()
    park.send_complaint(tenant, "3号楼漏水", "天花板漏水")

    story = {"phase": "healthy", "good_cycles": 0, "steps": 0, "cut_at": None,
             "restored_at": None, "alerts_while_cut": None}

    def step(seconds: float, after_good_cycle: bool = False) -> None:
        """Runs whenever the daemon waits: moves time on and plays the outage."""
        clock.sleep(30 if after_good_cycle else seconds)
        story["steps"] += 1
        phase = story["phase"]
        if phase == "healthy" and after_good_cycle:
            story["good_cycles"] += 1
            if story["good_cycles"] == 2:
                proxy.cut()
                story["phase"], story["cut_at"] = "cut", clock.now()
        elif phase == "cut" and clock.now() - story["cut_at"] > timedelta(minutes=25):
            story["alerts_while_cut"] = subjects(park, park.service_center)
            proxy.restore()
            story["phase"], story["restored_at"] = "restored", clock.now()
        elif phase == "restored" and after_good_cycle:
            story["good_cycles"] += 1
            if story["good_cycles"] >= 5:
                daemon.stopping = True
        if story["steps"] > 200:  # something is wrong: end the loop, the asserts will say what
            daemon.stopping = True

    mailbox = ReconnectingMailbox(ImapMailbox(config.mailbox, timeout=5), sleep=clock.sleep,
                                  clock=clock.monotonic, give_up_after=60)
    adapters = Adapters(
        register=open_register(config.register, sleep=park.emulator.advance_clock),
        mailbox=ScriptedMailbox(mailbox, step),
        mailer=SmtpMailer(config.smtp))
    daemon = Daemon(config, adapters=adapters, now=clock.now, sleep=step)
    daemon.run()

    assert story["phase"] == "restored" and story["good_cycles"] >= 5, story
    # During the cut, the alert went out through SMTP and reached the service center.
    alerts = [s for s in story["alerts_while_cut"] if s.startswith("[ParkDesk] 故障")]
    assert len(alerts) == 1 and "收信或登记失败" in alerts[0]

    # Escalations of the unsigned slip may reach the service center too: count by subject.
    center = [message_from_bytes(raw, policy=policy.default)
              for raw in park.bench.fetch_all(park.service_center)]
    alerts = [m for m in center if str(m["Subject"]).startswith("[ParkDesk] 故障")]
    recoveries = [m for m in center if str(m["Subject"]).startswith("[ParkDesk] 已恢复")]
    assert len(alerts) == 1 and len(recoveries) == 1
    alert_text = alerts[0].get_body(("plain",)).get_content()
    assert "127.0.0.1" in alert_text and "parkdesk check" in alert_text
    cut_at = story["cut_at"].strftime("%Y-%m-%d %H:%M")
    assert cut_at in alert_text  # failing since the cycle that met the cut
    assert "收取投诉邮件和写入登记表" in recoveries[0].get_body(("plain",)).get_content()

    # The complaint sent before the cut was registered once; the journal has nothing open.
    assert len(park.register_rows()) == 1
    journal = Journal(config.state_dir / "journal.sqlite3")
    try:
        state = read_health(journal)
    finally:
        journal.close()
    assert state.problems == {} and state.last_good_cycle >= story["restored_at"]


def test_imap_tells_the_arrival_of_the_oldest_waiting_message(mail_bench):
    user, _ = mail_bench.new_user("waiting")
    config = load_config_for(mail_bench, user)
    with ImapMailbox(config) as mailbox:
        assert mailbox.oldest_waiting() is None
    old = datetime(2026, 1, 5, 8, 30, tzinfo=timezone.utc)
    with mail_bench.imap_client(user) as client:
        client.append("INBOX", b"Subject: later\r\n\r\nsecond\r\n")
        client.append("INBOX", b"Subject: old\r\n\r\nfirst\r\n", msg_time=old)
    with ImapMailbox(config) as mailbox:
        oldest = mailbox.oldest_waiting()
    assert oldest == old


def load_config_for(bench, user):
    from types import SimpleNamespace

    imap = bench.imap_config(user)
    return SimpleNamespace(
        host=imap["host"], port=imap["port"], security="starttls", username=user,
        password=lambda: imap["password"], ca_file=imap["ca_file"], folder="INBOX",
        processed_folder="Processed", quarantine_folder="Quarantine", idle=False,
        poll_seconds=1, batch_size=10, password_env=None, password_file=None)
