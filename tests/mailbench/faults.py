"""Faults a test can inject into the bench's Dovecot and SMTP receiver.

Dovecot (``DovecotFaults``), each call returns only once the fault is in effect:

    faults.kick(user)          # doveadm kick: the server says ``* BYE`` and closes the connection
    faults.kill_imap(user)     # SIGKILL of the user's imap processes: dropped without BYE
    faults.pause_imap(user)    # SIGSTOP: commands hang (client timeouts fire) ...
    faults.resume_imap(user)   # ... SIGCONT: the same connection answers again
    faults.break_passwd()      # users' passwd-files unreadable: LOGIN -> NO [UNAVAILABLE]
    faults.restore_passwd()

SMTP receiver (``SmtpFaults``), consumed by the receiver as the SMTP dialogue reaches a stage:

    smtp_faults.fail_next(stage="RCPT", code=451, count=1)   # or "AUTH", "MAIL", "DATA" (end of data)
    smtp_faults.delay_data(seconds=3, count=1)   # deliver, then answer the DATA late
    smtp_faults.clear()
"""

from __future__ import annotations

import imaplib
import os
import re
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from tests.mailbench.dovecot import DovecotServer, send_signal

SMTP_STAGES = ("AUTH", "MAIL", "RCPT", "DATA")


class FaultError(RuntimeError):
    """A fault could not be injected (e.g. the user has no IMAP session to kill)."""


class DovecotFaults:
    """Break the bench's Dovecot in the ways real servers break, and mend it again."""

    def __init__(self, server: DovecotServer, probe_login: Callable[[], str]) -> None:
        """``probe_login()`` logs a probe user in and returns ``"ok"`` or the server's refusal."""
        self._server = server
        self._probe_login = probe_login
        self._paused: dict[str, list[int]] = {}
        self._passwd_broken = False

    @property
    def passwd_broken(self) -> bool:
        return self._passwd_broken

    def kick(self, user: str, timeout: float = 3.0) -> None:
        """``doveadm kick USER``: each session gets ``* BYE Server shutting down.`` and is closed."""
        pids = self._require_sessions(user)
        result = self._server.doveadm("kick", user.lower())
        if result.returncode != 0:
            raise FaultError(f"doveadm kick {user} failed: {result.stderr.strip()}")
        _wait_for_exit(pids, timeout)

    def kill_imap(self, user: str, timeout: float = 3.0) -> list[int]:
        """SIGKILL the user's imap processes; their connections drop without any BYE.

        On a plain connection the kernel closes the socket; on a TLS connection Dovecot's login
        proxy holds the socket and closes it when its imap process dies. Either way the
        client's next command usually reads EOF (imaplib ``abort: socket error: EOF``), now and
        then ``ConnectionResetError``, and later ones EPIPE. Returns the PIDs killed.
        """
        pids = self._require_sessions(user)
        for pid in pids:
            send_signal(pid, signal.SIGKILL)
        _wait_for_exit(pids, timeout)
        return pids

    def pause_imap(self, user: str) -> list[int]:
        """SIGSTOP the user's imap processes: commands on their connections hang."""
        pids = self._require_sessions(user)
        for pid in pids:
            send_signal(pid, signal.SIGSTOP)
        for pid in pids:
            _wait_for_state(pid, "T")
        self._paused.setdefault(user.lower(), []).extend(pids)
        return pids

    def resume_imap(self, user: str | None = None) -> list[int]:
        """SIGCONT the processes paused for ``user`` (all paused ones when None)."""
        users = [user.lower()] if user else list(self._paused)
        resumed: list[int] = []
        for name in users:
            for pid in self._paused.pop(name, []):
                send_signal(pid, signal.SIGCONT)
                resumed.append(pid)
        return resumed

    resume = resume_imap

    def break_passwd(self, timeout: float = 5.0) -> None:
        """Make every user's passwd-file unreadable; returns once logins fail.

        Dovecot stats a passwd-file at most once a second, so this waits for the next second
        (up to 1 s) and then checks with a real login that it now fails.
        """
        os.chmod(self._server.users_dir, 0)
        self._passwd_broken = True
        _sleep_into_next_second()
        self._wait_for_probe(lambda outcome: outcome != "ok", timeout, "fail")

    def restore_passwd(self, timeout: float = 5.0) -> None:
        """Undo ``break_passwd``; returns once logins work again."""
        os.chmod(self._server.users_dir, 0o700)
        self._passwd_broken = False
        self._wait_for_probe(lambda outcome: outcome == "ok", timeout, "work")

    # ----------------------------------------------------------------- internals

    def _require_sessions(self, user: str, timeout: float = 2.0) -> list[int]:
        # The process title names the user a moment after LOGIN returns: poll briefly.
        deadline = time.monotonic() + timeout
        while True:
            pids = self._server.imap_pids(user)
            if pids or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        if not pids:
            raise FaultError(f"{user} has no IMAP session to break; log in first")
        return pids

    def _wait_for_probe(self, accept: Callable[[str], bool], timeout: float, goal: str) -> None:
        deadline = time.monotonic() + timeout
        outcome = self._probe_login()
        while not accept(outcome):
            if time.monotonic() > deadline:
                raise FaultError(f"logins did not {goal} within {timeout} s: last {outcome!r}")
            time.sleep(0.05)
            outcome = self._probe_login()


def probe_imap_login(host: str, port: int, user: str, password: str) -> str:
    """Try one plain LOGIN; ``"ok"`` or the server's refusal text (used to check faults)."""
    try:
        connection = imaplib.IMAP4(host, port, timeout=5)
    except OSError as error:
        return f"connect failed: {error}"
    try:
        connection.login(user, password)
        connection.logout()
        return "ok"
    except (imaplib.IMAP4.error, OSError) as error:
        return str(error)
    finally:
        try:
            connection.shutdown()
        except OSError:
            pass


@dataclass
class _PlannedFailure:
    stage: str
    reply: str
    remaining: int


class SmtpFaults:
    """A thread-safe plan of failures and delays for the SMTP receiver to act out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: deque[_PlannedFailure] = deque()
        self._delays: deque[list[float]] = deque()  # [seconds, remaining]

    def fail_next(
        self, stage: str = "RCPT", code: int = 451, count: int = 1, message: str | None = None
    ) -> None:
        """Answer the next ``count`` commands of ``stage`` with ``code``.

        ``stage`` is ``"AUTH"`` (a password login, refused whatever the password, as
        providers refuse a right password when the mailbox may not log in that way),
        ``"MAIL"`` (MAIL FROM), ``"RCPT"`` (each RCPT TO counts once) or ``"DATA"`` (the reply
        after the message content; nothing is delivered). ``message`` may carry its own
        enhanced status code ("5.7.139 Authentication unsuccessful, ..."). ``code`` is a
        4xx (try again later) or 5xx (permanent) reply code, e.g. 451, 452, 550, 554.
        """
        stage = stage.upper()
        if stage not in SMTP_STAGES:
            raise ValueError(f"stage must be one of {SMTP_STAGES}, not {stage!r}")
        if not 400 <= code <= 599:
            raise ValueError(f"code must be a 4xx or 5xx SMTP reply code, not {code}")
        if count < 1:
            raise ValueError("count must be at least 1")
        enhanced = "4.3.0" if code < 500 else "5.3.0"
        text = message or f"Injected fault at {stage} (MailBench)"
        reply = f"{code} {text}" if re.match(r"[245]\.\d+\.\d+ ", text) else \
            f"{code} {enhanced} {text}"
        with self._lock:
            self._failures.append(_PlannedFailure(stage, reply, count))

    def delay_data(self, seconds: float, count: int = 1) -> None:
        """Deliver the next ``count`` messages, then wait ``seconds`` before answering 250."""
        if seconds < 0 or count < 1:
            raise ValueError("seconds must be >= 0 and count >= 1")
        with self._lock:
            self._delays.append([float(seconds), count])

    def clear(self) -> None:
        """Forget every planned failure and delay."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def take_failure(self, stage: str) -> str | None:
        """The reply line planned for ``stage`` now (consuming it), or None to proceed."""
        with self._lock:
            for planned in self._failures:
                if planned.stage == stage:
                    planned.remaining -= 1
                    if planned.remaining == 0:
                        self._failures.remove(planned)
                    return planned.reply
        return None

    def take_delay(self) -> float:
        """Seconds to hold back the next DATA reply (consuming one planned delay)."""
        with self._lock:
            if not self._delays:
                return 0.0
            planned = self._delays[0]
            planned[1] -= 1
            if planned[1] == 0:
                self._delays.popleft()
            return planned[0]


def process_state(pid: int) -> str | None:
    """The state letter of ``/proc/PID/stat`` (R, S, T, Z, X ...), None once the PID is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[0]


def _wait_for_state(pid: int, state: str, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = process_state(pid)
        if current is None or current == state:
            return
        time.sleep(0.01)
    raise FaultError(f"process {pid} did not reach state {state} within {timeout} s")


def _wait_for_exit(pids: list[int], timeout: float) -> None:
    # A dying process loses its title before it is reaped: watch the PIDs, not the titles.
    deadline = time.monotonic() + timeout
    while any(process_state(pid) not in (None, "Z", "X") for pid in pids):
        if time.monotonic() > deadline:
            raise FaultError(f"processes {pids} still alive after {timeout} s")
        time.sleep(0.01)


def _sleep_into_next_second() -> None:
    now = time.time()
    time.sleep(int(now) + 1.02 - now)

