"""Run a private Dovecot (IMAP with STARTTLS, IMAPS, LMTP) from a temporary directory.

The server listens on 127.0.0.1 only, on free ports chosen at start, with its own ``base_dir``,
state and log files, so it never meets a system-wide Dovecot on 143/993. It is stopped through
the master PID this module started (never by process name).

Settings follow what was verified on this kind of machine (see the mail bench notes):
- called as root, the server runs as user ``mail`` (``default_login_user``,
  ``default_internal_user``/``group`` = ``mail``, ``first_valid_uid = 1``, no ``mail_uid``,
  empty ``chroot`` for the login and helper services); otherwise as the calling user;
- ``disable_plaintext_auth = no`` with ``ssl = yes``: plain LOGIN works on the plain port and
  STARTTLS is offered there; the second port is implicit TLS (IMAPS);
- ``auth_failure_delay = 0`` and the anvil penalty listener disabled (``mode = 0``), so failed
  logins do not slow tests down;
- users live in one passwd-file *per user* (``users/%Lu``, ``{PLAIN}`` passwords). Dovecot
  re-reads a passwd-file at most once a second, but it opens a file it has not seen at once,
  so a user written just now can log in immediately.

    server = DovecotServer(Path("/tmp/mbXYZ"), tls_files, resolve_server_account())
    server.start()
    server.write_user("complaints@park.test", "secret")
    server.imap_port, server.imaps_port, server.lmtp_socket
    server.stop()
"""

from __future__ import annotations

import errno
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.mailbench.tls import TlsFiles

LISTEN_HOST = "127.0.0.1"
SOCKET_PATH_LIMIT = 100  # sun_path is 108 bytes; leave room for Dovecot's longest socket names
_START_ATTEMPTS = 3
_PATH_DIRS = "/usr/sbin:/usr/bin:/sbin:/bin"


class DovecotUnavailable(RuntimeError):
    """Dovecot (dovecot-imapd, dovecot-lmtpd) is not installed on this machine."""


class DovecotStartError(RuntimeError):
    """Dovecot did not come up; the message carries its own error output."""


@dataclass(frozen=True)
class ServerAccount:
    """The Unix account the Dovecot processes run as."""

    name: str
    uid: int
    gid: int


def resolve_server_account() -> ServerAccount:
    """``mail`` when called as root (Dovecot refuses mail access as root), else the caller."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam("mail")
        return ServerAccount(entry.pw_name, entry.pw_uid, entry.pw_gid)
    entry = pwd.getpwuid(os.geteuid())
    return ServerAccount(entry.pw_name, os.geteuid(), os.getegid())


def find_program(name: str) -> str:
    """Absolute path of a Dovecot program, looking in sbin too (not on a user's PATH)."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + _PATH_DIRS)
    if not found:
        raise DovecotUnavailable(
            f"'{name}' was not found. Install Dovecot for the mail tests: "
            "apt-get install dovecot-imapd dovecot-lmtpd"
        )
    return found


def find_free_port(host: str = LISTEN_HOST) -> int:
    """A TCP port nobody listens on right now (the caller retries if it is taken meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class DovecotServer:
    """One private Dovecot master process and the files it owns under ``root``."""

    def __init__(
        self,
        root: Path,
        tls: TlsFiles,
        account: ServerAccount,
        *,
        hierarchy_separator: str = ".",
        oauth2_introspection_url: str | None = None,
    ) -> None:
        self.root = root
        self.tls = tls
        self.account = account
        self.hierarchy_separator = hierarchy_separator
        # Opt-in: also accept XOAUTH2/OAUTHBEARER logins, checking each token with a POST to
        # this RFC 7662 introspection URL (https, trusting the bench CA); see _render_oauth2.
        self.oauth2_introspection_url = oauth2_introspection_url
        self.oauth2_config_file = root / "dovecot-oauth2.conf.ext"
        self.run_dir = root / "run"
        self.state_dir = root / "state"
        self.users_dir = root / "users"
        self.homes_dir = root / "home"
        self.config_file = root / "dovecot.conf"
        self.log_file = root / "dovecot.log"
        self.startup_output = root / "startup.out"
        self.lmtp_socket = self.run_dir / "lmtp"
        self.host = LISTEN_HOST
        self.imap_port = 0
        self.imaps_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        if len(str(self.run_dir / "login" / "imap-urlauth-login")) > SOCKET_PATH_LIMIT:
            raise DovecotStartError(
                f"runtime directory {root} is too long for Unix socket paths; use a short "
                "temporary directory such as /tmp/mbXXXX"
            )

    # ----------------------------------------------------------------- life cycle

    @property
    def master_pid(self) -> int | None:
        """PID of the Dovecot master this object started, or None when not running."""
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Write the configuration, start the master and wait until IMAP, IMAPS and LMTP answer."""
        dovecot = find_program("dovecot")
        for directory in (self.run_dir, self.state_dir, self.users_dir, self.homes_dir):
            directory.mkdir(mode=0o700, exist_ok=True)
        self._give_to_server(self.root, self.run_dir, self.state_dir, self.users_dir,
                             self.homes_dir, self.tls.cert_file, self.tls.key_file)
        last_error: DovecotStartError | None = None
        for _attempt in range(_START_ATTEMPTS):
            self.imap_port, self.imaps_port = find_free_port(), find_free_port()
            while self.imaps_port == self.imap_port:
                self.imaps_port = find_free_port()
            self.config_file.write_text(self._render_config(), encoding="utf-8")
            if self.oauth2_introspection_url:
                self.oauth2_config_file.write_text(self._render_oauth2(), encoding="utf-8")
            self._launch(dovecot)
            try:
                self._wait_until_ready(timeout)
                return
            except DovecotStartError as error:
                last_error = error
                self.stop()
                if "Address already in use" not in str(error):
                    raise
        assert last_error is not None
        raise last_error

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the master and every process it started; quick (about 0.1-0.3 s).

        A graceful SIGTERM lets imap processes say BYE to their clients. Dovecot's master then
        sleeps a fixed second waiting for its log process; once only the log process is left,
        both are ended with SIGKILL instead of waiting (nothing of value is lost: the bench's
        files are thrown away).
        """
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            known = self.child_processes()
            for pid, (_title, state) in known.items():
                if state == "T":  # a paused (SIGSTOPped) process would never see SIGTERM
                    send_signal(pid, signal.SIGCONT)
            send_signal(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                children = self.child_processes()
                known.update(children)
                if all(title.startswith("dovecot/log") for title, _state in children.values()):
                    break
                time.sleep(0.02)
            for pid in [process.pid, *known]:
                send_signal(pid, signal.SIGKILL)
            process.wait(timeout=timeout)
        self._process = None

    # ----------------------------------------------------------------- users

    def write_user(self, address: str, password: str) -> Path:
        """Create or replace the passwd-file of one user (``address`` already lower-case)."""
        home = self.homes_dir / address
        line = (
            f"{address}:{{PLAIN}}{password}:{self.account.uid}:{self.account.gid}"
            f"::{home}::\n"
        )
        path = self.users_dir / address
        staging = self.users_dir / f".{address}.new"
        staging.write_text(line, encoding="utf-8")
        self._give_to_server(staging)
        try:
            # Dovecot notices a changed passwd-file by its mtime (whole seconds) and size. A
            # new password of the same length written within the same second would go
            # unnoticed for ever, so the replacement is dated at least a second later.
            previous = path.stat().st_mtime
            stamp = max(time.time(), int(previous) + 1.0)
            os.utime(staging, (stamp, stamp))
        except FileNotFoundError:
            pass
        os.replace(staging, path)
        return path

    # ----------------------------------------------------------------- processes

    def child_processes(self) -> dict[int, tuple[str, str]]:
        """Direct children of the master: ``{pid: (process title, state letter)}``."""
        master = self.master_pid
        if master is None:
            return {}
        found: dict[int, tuple[str, str]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                title = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rpartition(")")[2].split()
            if len(fields) < 2 or int(fields[1]) != master:
                continue
            found[int(entry)] = (_clean_title(title), fields[0])
        return found

    def imap_pids(self, address: str) -> list[int]:
        """PIDs of the imap processes serving ``address`` (found by process title).

        With ``verbose_proctitle = yes`` each imap process is titled
        ``dovecot/imap [user ip state]``; only children of this master are considered.
        """
        prefix = f"dovecot/imap [{address.lower()} "
        return sorted(
            pid
            for pid, (title, state) in self.child_processes().items()
            if title.startswith(prefix) and state != "Z"
        )

    def doveadm(self, *args: str, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
        """Run ``doveadm -c <our config> ARGS`` against this server and return the result."""
        command = [find_program("doveadm"), "-c", str(self.config_file), *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)

    def log_text(self) -> str:
        """Dovecot's own log so far (useful in assertion messages)."""
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    # ----------------------------------------------------------------- internals

    def _launch(self, dovecot: str) -> None:
        command = [dovecot, "-F", "-c", str(self.config_file)]
        options: dict[str, object] = {}
        if os.geteuid() == 0:
            options = {"user": self.account.uid, "group": self.account.gid, "extra_groups": []}
        with open(self.startup_output, "wb") as output:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,  # a Ctrl-C in the test run is not forwarded to it
                **options,  # type: ignore[arg-type]
            )

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting_for = "start"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise DovecotStartError(
                    f"Dovecot exited at start (code {self._process.returncode}):\n"
                    + self._startup_messages()
                )
            if not self.lmtp_socket.exists():
                waiting_for = "the LMTP socket"
            elif not _imap_greets(self.host, self.imap_port):
                waiting_for = f"the IMAP greeting on port {self.imap_port}"
            elif not _port_accepts(self.host, self.imaps_port):
                waiting_for = f"the IMAPS port {self.imaps_port}"
            else:
                return
            time.sleep(0.02)
        raise DovecotStartError(
            f"Dovecot did not answer within {timeout} s (waiting for {waiting_for}):\n"
            + self._startup_messages()
        )

    def _startup_messages(self) -> str:
        try:
            output = self.startup_output.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            output = ""
        return (output + self.log_text())[-4000:]

    def _give_to_server(self, *paths: Path) -> None:
        if os.geteuid() != 0:
            return
        for path in paths:
            os.chown(path, self.account.uid, self.account.gid)

    def _render_oauth2(self) -> str:
        """The oauth2 passdb's settings: every token is checked by the introspection URL, which
        answers ``{"active": true|false, "email": <user>}`` (Dovecot 2.3 db-oauth2 settings)."""
        return f"""\
introspection_mode = post
introspection_url = {self.oauth2_introspection_url}
force_introspection = yes
username_attribute = email
active_attribute = active
active_value = true
tls_ca_cert_file = {self.tls.ca_file}
timeout_msecs = 5000
"""

    def _oauth2_settings(self) -> tuple[str, str]:
        """(extra auth mechanisms, the oauth2 passdb block) when OAuth2 is on, else empty."""
        if not self.oauth2_introspection_url:
            return "", ""
        passdb = (f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
                  f"  args = {self.oauth2_config_file}\n}}\n")
        return " xoauth2 oauthbearer", passdb

    def _render_config(self) -> str:
        oauth2_mechanisms, oauth2_passdb = self._oauth2_settings()
        account = self.account.name
        group = grp.getgrgid(self.account.gid).gr_name
        no_chroot = "".join(
            f"service {name} {{\n  chroot =\n}}\n"
            for name in ("ipc", "old-stats", "imap-urlauth-login", "aggregator", "director")
        )
        return f"""\
# Generated by tests/mailbench/dovecot.py for one test run; thrown away afterwards.
protocols = imap lmtp
listen = {self.host}
base_dir = {self.run_dir}
state_dir = {self.state_dir}
log_path = {self.log_file}
info_log_path = {self.log_file}
default_login_user = {account}
default_internal_user = {account}
default_internal_group = {group}
first_valid_uid = 1
verbose_proctitle = yes
shutdown_clients = yes

ssl = yes
ssl_cert = <{self.tls.cert_file}
ssl_key = <{self.tls.key_file}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login{oauth2_mechanisms}
auth_failure_delay = 0

mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = {self.hierarchy_separator}
}}
protocol imap {{
  mail_max_userip_connections = 100
}}

{oauth2_passdb}passdb {{
  driver = passwd-file
  args = scheme=PLAIN {self.users_dir}/%Lu
}}
userdb {{
  driver = passwd-file
  args = {self.users_dir}/%Lu
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.host}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
}}
{no_chroot}"""


def send_signal(pid: int, signum: int) -> None:
    """``kill(pid, signum)``, ignoring a process that is already gone."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
    except OSError as error:
        if error.errno != errno.ESRCH:
            raise


def _clean_title(raw: bytes) -> str:
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace").strip()


def _imap_greets(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0) as connection:
            return connection.recv(64).startswith(b"* OK")
    except OSError:
        return False


def _port_accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False
