"""MailBench: a real IMAP server (Dovecot) and SMTP receiver on loopback, for tests.

One ``MailBench`` owns a short temporary directory under /tmp, a throw-away CA, a private
Dovecot (IMAP with STARTTLS, IMAPS, LMTP) and an aiosmtpd receiver that stores every accepted
message in Dovecot before it answers 250. Nothing touches a system-wide mail server.

    from tests.mailbench import MailBench, unique_address

    with MailBench() as bench:                       # starts in well under a second
        bench.imap_host, bench.imap_port             # plain port: STARTTLS or plain LOGIN
        bench.imaps_port                             # implicit TLS
        bench.smtp_host, bench.smtp_port             # SMTP, STARTTLS and AUTH offered
        bench.smtps_port                             # implicit TLS SMTP
        bench.ca_file                                # trust this to verify both servers

        bench.add_user("complaints@park.test", "secret")    # -> "secret"; idempotent
        tenant, password = bench.new_user("tenant")  # tenant-<n>@park.test, random password
        bench.send(tenant, "complaints@park.test", message)   # bytes, str or EmailMessage
        bench.wait_for_mail("complaints@park.test", n=1)       # -> [raw bytes, ...]
        bench.fetch_all(user), bench.count(user), bench.folders(user)
        bench.append(user, "Archive", raw_bytes)    # plant a message directly (-> UID)
        bench.imap_config(user)                      # host/port/security/username/password/ca_file
        bench.smtp_config(user)

        bench.faults.kick(user)                      # see tests.mailbench.faults
        bench.smtp_faults.fail_next(stage="RCPT", code=451)
        bench.smtp_received                          # envelopes the SMTP receiver accepted

pytest fixtures (``mail_bench``, ``fresh_mail_bench``) are in ``tests.mailbench.fixtures``.
Users are addresses ``name@domain``; each test should use fresh ones (``unique_address``)
so tests sharing the session-wide bench do not see each other's mail.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterable

from imapclient import IMAPClient

from tests.mailbench.client import (
    Message,
    append_message,
    connect_imap,
    fetch_messages,
    send_smtp,
)
from tests.mailbench.dovecot import (
    DovecotServer,
    DovecotStartError,
    DovecotUnavailable,
    resolve_server_account,
)
from tests.mailbench.faults import DovecotFaults, FaultError, SmtpFaults, probe_imap_login
from tests.mailbench.smtp_relay import ReceivedMessage, SmtpRelay, base_address
from tests.mailbench.tls import create_tls_files, make_server_context

__all__ = [
    "MailBench",
    "DovecotStartError",
    "DovecotUnavailable",
    "FaultError",
    "ReceivedMessage",
    "unique_address",
]

DEFAULT_DOMAIN = "park.test"
PROBE_USER = "mailbench-probe@bench.test"
_ADDRESS = re.compile(r"^[a-z0-9][a-z0-9._+-]*@[a-z0-9-]+(\.[a-z0-9-]+)*$")
_counter = itertools.count(1)
_running: set["MailBench"] = set()  # stopped at interpreter exit if a test forgot to


@atexit.register
def _stop_forgotten_benches() -> None:
    for bench in list(_running):
        bench.stop()


def unique_address(prefix: str = "user", domain: str = DEFAULT_DOMAIN) -> str:
    """``prefix-<n>@domain``, never the same twice in this Python process."""
    return f"{prefix}-{next(_counter)}@{domain}"


def _short_temp_base() -> str:
    # Unix socket paths are limited to 108 bytes: prefer /tmp over a long $TMPDIR.
    return "/tmp" if os.path.isdir("/tmp") and os.access("/tmp", os.W_OK) else tempfile.gettempdir()


class MailBench:
    """A Dovecot + SMTP receiver pair in a temporary directory; use as a context manager."""

    def __init__(
        self,
        *,
        domain: str = DEFAULT_DOMAIN,
        smtp_auth_required: bool = False,
        hierarchy_separator: str = ".",
    ) -> None:
        self.domain = domain
        self.smtp_auth_required = smtp_auth_required
        self.hierarchy_separator = hierarchy_separator
        self.imap_host = self.smtp_host = "127.0.0.1"
        self.start_seconds: float | None = None
        self.smtp_faults = SmtpFaults()
        self._users: dict[str, str] = {}
        self._users_lock = threading.Lock()
        self._root: Path | None = None
        self._dovecot: DovecotServer | None = None
        self._relay: SmtpRelay | None = None
        self._faults: DovecotFaults | None = None

    # ----------------------------------------------------------------- life cycle

    def start(self) -> "MailBench":
        """Start Dovecot and the SMTP receiver; ``start_seconds`` tells how long it took."""
        if self._root is not None:
            raise RuntimeError("this mail bench is already running")
        began = time.monotonic()
        self._root = Path(tempfile.mkdtemp(prefix="mb", dir=_short_temp_base()))
        try:
            tls = create_tls_files(self._root)
            self._dovecot = DovecotServer(
                self._root, tls, resolve_server_account(),
                hierarchy_separator=self.hierarchy_separator,
            )
            self._dovecot.start()
            self._faults = DovecotFaults(self._dovecot, self._probe_login)
            self._relay = SmtpRelay(
                self._dovecot.lmtp_socket,
                is_known=self._is_user,
                check_password=self._check_password,
                tls_context=make_server_context(tls),
                faults=self.smtp_faults,
                auth_required=self.smtp_auth_required,
            )
            self._relay.start()
            self.add_user(PROBE_USER)
        except BaseException:
            self.stop()
            raise
        _running.add(self)
        self.start_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop both servers (by the PIDs/threads this bench started) and delete its files."""
        _running.discard(self)
        if self._relay is not None:
            self._relay.stop()
            self._relay = None
        if self._faults is not None:
            self._faults.resume_imap()
            self._faults = None
        if self._dovecot is not None:
            self._dovecot.stop()
            if self._dovecot.users_dir.exists():
                os.chmod(self._dovecot.users_dir, 0o700)  # in case break_passwd was left on
            self._dovecot = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        self._users.clear()
        self.smtp_faults.clear()

    def __enter__(self) -> "MailBench":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ----------------------------------------------------------------- where things are

    @property
    def imap_port(self) -> int:
        """Plain IMAP port: offers STARTTLS, and plain LOGIN without it."""
        return self._server.imap_port

    @property
    def imaps_port(self) -> int:
        return self._server.imaps_port

    @property
    def smtp_port(self) -> int:
        """Plain SMTP port: offers STARTTLS and AUTH PLAIN/LOGIN, requires neither."""
        return self._smtp.port

    @property
    def smtps_port(self) -> int:
        return self._smtp.tls_port

    @property
    def ca_file(self) -> str:
        """PEM file of the CA that signed both servers' certificate (localhost, 127.0.0.1)."""
        return str(self._server.tls.ca_file)

    @property
    def faults(self) -> DovecotFaults:
        if self._faults is None:
            raise RuntimeError("the mail bench is not running; call start() first")
        return self._faults

    @property
    def smtp_received(self) -> list[ReceivedMessage]:
        """Transactions the SMTP receiver accepted (and stored), oldest first."""
        return self._smtp.received

    @property
    def root(self) -> Path:
        """The bench's temporary directory (short, private; deleted by ``stop``)."""
        if self._root is None:
            raise RuntimeError("the mail bench is not running; call start() first")
        return self._root

    @property
    def master_pid(self) -> int | None:
        """PID of the Dovecot master this bench started."""
        return self._server.master_pid

    def server_pids(self) -> list[int]:
        """The Dovecot master and its current child processes."""
        return [self._server.master_pid, *self._server.child_processes()]

    def dovecot_log(self) -> str:
        """Dovecot's log so far, for assertion messages."""
        return self._server.log_text()

    def imap_pids(self, user: str) -> list[int]:
        """PIDs of the imap processes currently serving ``user``."""
        return self._server.imap_pids(user)

    # ----------------------------------------------------------------- users

    def add_user(self, address: str, password: str | None = None) -> str:
        """Create ``address`` (any ``name@domain``) and return its password; idempotent.

        Without ``password`` an existing user keeps theirs and a new one gets a random one.
        Returns once the user can log in (checked with a real IMAP LOGIN).
        """
        address = address.strip().lower()
        if not _ADDRESS.match(address):
            raise ValueError(f"not a usable mailbox address: {address!r}")
        with self._users_lock:
            current = self._users.get(address)
            if current is not None and password in (None, current):
                return current
            password = password or secrets.token_urlsafe(12)
            if ":" in password or "\n" in password:
                raise ValueError("a password may not contain ':' or a line break")
            self._server.write_user(address, password)
            self._users[address] = password
        if not (self._faults and self._faults.passwd_broken):
            self._wait_until_login_works(address, password)
        return password

    def new_user(self, prefix: str = "user", password: str | None = None) -> tuple[str, str]:
        """A fresh ``prefix-<n>@<domain>`` user; returns ``(address, password)``."""
        address = unique_address(prefix, self.domain)
        return address, self.add_user(address, password)

    def password_of(self, user: str) -> str:
        try:
            return self._users[user.lower()]
        except KeyError:
            raise KeyError(f"{user} is not a user of this mail bench; add_user() it first") from None

    # ----------------------------------------------------------------- mail

    def send(
        self,
        from_addr: str,
        to_addrs: str | Iterable[str],
        message: Message,
        *,
        security: str = "none",
        login: str | None = None,
        timeout: float = 10.0,
    ) -> dict[str, tuple[int, bytes]]:
        """Send over real SMTP to the receiver; returns once the mail is in Dovecot.

        ``security``: "none", "starttls" or "ssl"; ``login``: a bench user to AUTH as.
        """
        port = self.smtps_port if security == "ssl" else self.smtp_port
        credentials = (login, self.password_of(login)) if login else None
        return send_smtp(
            self.smtp_host, port, from_addr, to_addrs, message,
            security=security, ca_file=self.ca_file, login=credentials, timeout=timeout,
        )

    def imap_client(self, user: str, security: str = "starttls", timeout: float = 10.0) -> IMAPClient:
        """A logged-in ``IMAPClient`` for ``user`` (use it in a ``with`` block to log out)."""
        client = connect_imap(self.imap_host, self._imap_port_for(security), security,
                              self.ca_file, timeout)
        try:
            client.login(user.lower(), self.password_of(user))
        except BaseException:
            client.shutdown()
            raise
        return client

    def fetch_all(self, user: str, folder: str = "INBOX") -> list[bytes]:
        """Raw messages of a folder, oldest first (``BODY.PEEK[]``: flags stay as they are)."""
        with self.imap_client(user) as client:
            return fetch_messages(client, folder)

    def folders(self, user: str) -> list[str]:
        with self.imap_client(user) as client:
            return [name for _flags, _delimiter, name in client.list_folders()]

    def count(self, user: str, folder: str = "INBOX") -> int:
        with self.imap_client(user) as client:
            return int(client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])

    def wait_for_mail(
        self, user: str, n: int = 1, folder: str = "INBOX", timeout: float = 5.0
    ) -> list[bytes]:
        """Wait until ``folder`` holds at least ``n`` messages, then return them all."""
        deadline = time.monotonic() + timeout
        with self.imap_client(user) as client:
            while True:
                if client.folder_exists(folder):
                    found = int(client.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])
                    if found >= n:
                        return fetch_messages(client, folder)
                else:
                    found = 0
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{user}/{folder} holds {found} message(s) after {timeout} s, "
                        f"expected at least {n}"
                    )
                time.sleep(0.05)

    def append(
        self, user: str, folder: str, message: Message, flags: Iterable[bytes | str] = ()
    ) -> int | None:
        """IMAP APPEND ``message`` into ``folder`` (created if missing); returns its UID."""
        with self.imap_client(user) as client:
            return append_message(client, folder, message, flags)

    # ----------------------------------------------------------------- configs for the daemon

    def imap_config(self, user: str, security: str = "starttls") -> dict[str, object]:
        """Where and how ``user`` reads mail: host, port, security, username, password, ca_file."""
        return {
            "host": self.imap_host,
            "port": self._imap_port_for(security),
            "security": security,
            "username": user.lower(),
            "password": self.password_of(user),
            "ca_file": self.ca_file,
        }

    def smtp_config(self, user: str | None = None, security: str = "starttls") -> dict[str, object]:
        """Where to send mail: host, port, security, ca_file and (with ``user``) the login."""
        return {
            "host": self.smtp_host,
            "port": self.smtps_port if security == "ssl" else self.smtp_port,
            "security": security,
            "username": user.lower() if user else None,
            "password": self.password_of(user) if user else None,
            "ca_file": self.ca_file,
        }

    # ----------------------------------------------------------------- internals

    @property
    def _server(self) -> DovecotServer:
        if self._dovecot is None:
            raise RuntimeError("the mail bench is not running; call start() first")
        return self._dovecot

    @property
    def _smtp(self) -> SmtpRelay:
        if self._relay is None:
            raise RuntimeError("the mail bench is not running; call start() first")
        return self._relay

    def _imap_port_for(self, security: str) -> int:
        return self.imaps_port if security == "ssl" else self.imap_port

    def _is_user(self, address: str) -> bool:
        return base_address(address) in self._users

    def _check_password(self, login: str, password: str) -> bool:
        expected = self._users.get(login.lower())
        return expected is not None and secrets.compare_digest(expected.encode(), password.encode())

    def _probe_login(self) -> str:
        return probe_imap_login(self.imap_host, self.imap_port, PROBE_USER, self._users[PROBE_USER])

    def _wait_until_login_works(self, address: str, password: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        outcome = probe_imap_login(self.imap_host, self.imap_port, address, password)
        while outcome != "ok":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{address} cannot log in to the bench Dovecot: {outcome}")
            time.sleep(0.05)
            outcome = probe_imap_login(self.imap_host, self.imap_port, address, password)
