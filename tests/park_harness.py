"""A whole park on real servers for end-to-end tests: Dovecot, the SMTP receiver, the emulator.

``park`` (a pytest fixture) gives a ``ParkUnderTest``: mail users for the complaints mailbox,
the service center and tenants; a spreadsheet shared with the service account; a config.yaml
pointing at all of it; and ways to run the real daemon (``python -m daemon run --once``) as a
subprocess, crash it at a fault point, and read the register back through gspread.
"""

from __future__ import annotations

import os
import subprocess
import sys
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
import yaml

from daemon.sheet_layout import ACTIVITY_COLUMNS, REGISTER_COLUMNS
from tests.mailbench import unique_address
from tests.sheets_emulator.client import gspread_client
from tests.sheets_emulator.fixtures import SERVICE_ACCOUNT_EMAIL

ROOT = Path(__file__).resolve().parent.parent


class ParkUnderTest:
    def __init__(self, tmp_path: Path, bench, emulator, key_path: Path):
        self.dir, self.bench, self.emulator, self.key_path = tmp_path, bench, emulator, key_path
        self.complaints = unique_address("complaints")
        self.service_center = unique_address("center")
        self.leader = unique_address("boss")
        for address in (self.complaints, self.service_center, self.leader):
            bench.add_user(address)
        # Every department gets real mailboxes: a head and two members.
        self.departments: dict[str, dict] = {}
        for department in yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))["departments"]:
            key = department["key"]
            people = {"head": unique_address(f"{key}-head"),
                      "members": [unique_address(f"{key}-a"), unique_address(f"{key}-b")]}
            for address in [people["head"], *people["members"]]:
                bench.add_user(address)
            self.departments[key] = people
        self.spreadsheet_id = emulator.create_spreadsheet(SERVICE_ACCOUNT_EMAIL, title="Register")
        self.config_path = self.write_config()

    # --- configuration -----------------------------------------------------------------------

    def config_data(self) -> dict:
        base = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
        imap = self.bench.imap_config(self.complaints)
        smtp = self.bench.smtp_config(self.complaints)
        base["state_dir"] = str(self.dir / "state")
        base["mailbox"] = {
            "host": imap["host"], "port": imap["port"], "security": "starttls",
            "username": imap["username"], "password_env": "PARKDESK_IMAP_PASSWORD",
            "ca_file": imap["ca_file"], "idle": True, "poll_seconds": 1, "batch_size": 50,
        }
        base["smtp"] = {
            "host": smtp["host"], "port": smtp["port"], "security": "starttls",
            "username": smtp["username"], "password_env": "PARKDESK_SMTP_PASSWORD",
            "ca_file": smtp["ca_file"], "from_address": self.complaints,
            "from_name": "东湖科技产业园 园区服务中心", "timeout_seconds": 10,
        }
        base["register"] = {
            "backend": "google", "spreadsheet_id": self.spreadsheet_id,
            "credentials_file": str(self.key_path), "api_endpoint": self.emulator.base_url,
            # The daily layout repair adds requests other tests count; its own test turns it on.
            "repair_layout_daily": False,
        }
        base["service_center"] = [self.service_center]
        base["leadership"] = [self.leader]
        for department in base["departments"]:
            department.update(self.departments[department["key"]])
        # The daily Dashboard rebuild and the digest add requests and mails that other tests
        # count; the tests of those two turn them on (write_config(review={...})).
        base["review"] = {**base.get("review", {}), "dashboard_enabled": False,
                          "digest_enabled": False}
        return base

    def write_config(self, **section_overrides) -> Path:
        data = self.config_data()
        for section, values in section_overrides.items():
            data[section] = {**data.get(section, {}), **values}
        path = self.dir / "config.yaml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    def daemon(self, *, now=None, sleep=None):
        """The daemon in this process (real adapters), with an injectable clock and sleep."""
        from daemon.config import load_config
        from daemon.mailbox import ImapMailbox, ReconnectingMailbox
        from daemon.mailer import SmtpMailer
        from daemon.register import open_register
        from daemon.runner import Adapters, Daemon

        for name, value in self.env().items():
            if name.startswith("PARKDESK_"):
                os.environ[name] = value
        config = load_config(self.config_path)
        sleep = sleep or (lambda seconds: self.emulator.advance_clock(seconds))
        adapters = Adapters(
            register=open_register(config.register, sleep=sleep),
            mailbox=ReconnectingMailbox(ImapMailbox(config.mailbox), sleep=sleep, give_up_after=60),
            mailer=SmtpMailer(config.smtp),
        )
        return Daemon(config, adapters=adapters, now=now, sleep=sleep)

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("PARKDESK_CRASH_AT", None)
        env["PARKDESK_IMAP_PASSWORD"] = self.bench.password_of(self.complaints)
        env["PARKDESK_SMTP_PASSWORD"] = self.bench.password_of(self.complaints)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(extra)
        return env

    # --- running the daemon --------------------------------------------------------------------

    def run_once(self, *, crash_at: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        extra = {"PARKDESK_CRASH_AT": crash_at} if crash_at else {}
        return subprocess.run(
            [sys.executable, "-m", "daemon", "run", "--config", str(self.config_path), "--once"],
            cwd=str(self.dir), env=self.env(**extra), capture_output=True, text=True,
            timeout=timeout)

    def run_once_ok(self) -> subprocess.CompletedProcess:
        result = self.run_once()
        assert result.returncode == 0, f"daemon failed:\n{result.stdout}\n{result.stderr}"
        return result

    # --- tenants ---------------------------------------------------------------------------------

    def new_tenant(self, prefix: str = "tenant") -> str:
        address = unique_address(prefix)
        self.bench.add_user(address)
        return address

    def send_complaint(self, tenant: str, subject: str, body: str, *, charset: str = "utf-8",
                       name: str = "王芳", message_id: bool = True, html: str | None = None,
                       **headers: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = f"{name} <{tenant}>"
        message["To"] = self.complaints
        message["Subject"] = subject
        if message_id:
            message["Message-ID"] = make_msgid(domain=tenant.split("@")[1])
        for header, value in headers.items():
            message[header.replace("_", "-")] = value
        if html is not None:
            message.set_content(html, subtype="html", charset=charset)
        else:
            message.set_content(body, charset=charset)
        self.bench.send(tenant, [self.complaints], message)
        return message

    def deliver_raw(self, raw: bytes, sender: str = "someone@elsewhere.test") -> None:
        self.bench.send(sender, [self.complaints], raw)

    # --- reading results --------------------------------------------------------------------------

    def _worksheet_records(self, title: str, columns) -> list[dict[str, str]]:
        client = gspread_client(self.emulator.base_url, str(self.key_path))
        values = client.open_by_key(self.spreadsheet_id).worksheet(title).get_all_values()
        if not values:
            return []
        by_header = {c.header: c.key for c in columns}
        keys = [by_header.get(h, h) for h in values[0]]
        return [dict(zip(keys, row)) for row in values[1:] if any(row)]

    def register_rows(self) -> list[dict[str, str]]:
        return self._worksheet_records("Register", REGISTER_COLUMNS)

    def activity_rows(self) -> list[dict[str, str]]:
        return self._worksheet_records("Activity", ACTIVITY_COLUMNS)

    def mail_of(self, address: str, folder: str = "INBOX") -> list[bytes]:
        return self.bench.fetch_all(address, folder)


@pytest.fixture
def park(tmp_path, mail_bench, sheets_emulator, service_account_key) -> ParkUnderTest:
    return ParkUnderTest(tmp_path, mail_bench, sheets_emulator, service_account_key)


@pytest.fixture
def park_env(park, monkeypatch) -> ParkUnderTest:
    """The park, with its passwords in this process's environment (as the operator sets them)."""
    for name, value in park.env().items():
        if name.startswith("PARKDESK_"):
            monkeypatch.setenv(name, value)
    return park
