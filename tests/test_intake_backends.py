"""The workflow on the embedded default (workbook + Maildir + outbox), which needs no account.

Every workflow test of ``tests/test_intake_cycle.py`` runs here again, parametrised: once on the
in-memory fakes and once on the real local backends, through views that give the local files
the fakes' test API (``park.register.rows`` reads the .xlsx, appending to it is staff typing a
row; ``park.mailbox.messages`` is the Maildir's inbox; ``park.mailer.sent`` the .eml files).
The workflow cannot tell the backends apart, so the same assertions must hold.

Then what only the local backends have: the register open in Excel while a complaint comes in,
staff editing the file between cycles, and the real daemon (``python -m daemon run --once``)
killed at every fault point and restarted.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
import yaml

import tests.test_intake_cycle as workflow_tests
from daemon.authenticity import load_or_create_secret
from daemon.intake.cycle import IntakeCycle
from daemon.journal import Journal
from daemon.mailbox import MaildirMailbox
from daemon.mailer import OutboxMailer
from daemon.register import RegisterUnavailable, map_header
from daemon.register.workbook import WorkbookRegister, display_text
from daemon.sheet_layout import ACTIVITY_COLUMNS, ACTIVITY_KEYS, REGISTER_COLUMNS, REGISTER_KEYS
from daemon.templates import Templates

ROOT = Path(__file__).resolve().parent.parent
FAULT_POINTS = ["after_intent", "after_append", "after_record", "after_send", "after_done"]

# The workflow tests, collected again in this module: they get this module's `park` fixture.
for _name, _test in vars(workflow_tests).items():
    if _name.startswith("test_") and callable(_test):
        globals()[_name] = _test


# ---- the local files with the fakes' test API ------------------------------------------------


def read_tab(path: Path, title: str, columns, keys) -> list[tuple[int, dict[str, str]]]:
    """(row number, {key: text}) of every non-blank data row of a tab, as staff see it (a
    formula shows its value, not its text)."""
    if not path.exists():
        return []
    book = openpyxl.load_workbook(path, data_only=True)
    if title not in book.sheetnames:
        return []
    sheet = book[title]
    header = [display_text(cell.value) for cell in sheet[1]]
    where = map_header(header, columns)
    rows = []
    for number, cells in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        values = {key: display_text(cells[where[key]]) if key in where and where[key] < len(cells)
                  else "" for key in keys}
        if any(values.values()):
            rows.append((number, values))
    return rows


def edit_cells(path: Path, row_number: int, values: dict[str, str]) -> None:
    """Staff type ``values`` into one row of the Register tab in Excel and save."""
    if not path.exists():
        WorkbookRegister(path).ensure_layout()  # the register ParkDesk makes on its first run
    book = openpyxl.load_workbook(path)
    sheet = book["Register"]
    where = map_header([display_text(c.value) for c in sheet[1]], REGISTER_COLUMNS)
    for key, value in values.items():
        sheet.cell(row_number, where[key] + 1).value = value
    book.save(path)


class StaffRow(dict):
    """A register row; setting a key is staff editing that cell in the file."""

    def __init__(self, path: Path, row_number: int, values: dict[str, str]):
        super().__init__(values)
        self._path, self._row_number = path, row_number

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        edit_cells(self._path, self._row_number, {key: value})

    def update(self, *args, **kwargs):
        values = dict(*args, **kwargs)
        super().update(values)
        edit_cells(self._path, self._row_number, values)


class StaffRows(list):
    """The register's rows; appending one is staff typing a new row below the last."""

    def __init__(self, path: Path):
        rows = read_tab(path, "Register", REGISTER_COLUMNS, REGISTER_KEYS)
        super().__init__(StaffRow(path, number, values) for number, values in rows)
        self._path = path
        self._next = rows[-1][0] + 1 if rows else 2

    def append(self, values):
        edit_cells(self._path, self._next, dict(values))
        super().append(StaffRow(self._path, self._next, dict(values)))
        self._next += 1


class WorkbookView:
    """A ``WorkbookRegister`` recording calls like ``FakeRegister``, failing appends on request."""

    def __init__(self, register: WorkbookRegister):
        self.backend = register
        self.calls: list[str] = []
        self.fail_append = 0

    def ensure_layout(self):
        self.calls.append("ensure_layout")
        return self.backend.ensure_layout()

    def read_register(self):
        self.calls.append("read")
        return self.backend.read_register()

    def append_complaints(self, rows):
        self.calls.append("append")
        if self.fail_append:
            self.fail_append -= 1
            raise RegisterUnavailable("register.xlsx could not be saved (test)")
        return self.backend.append_complaints(rows)

    def append_activity(self, events):
        self.calls.append("activity")
        return self.backend.append_activity(events)

    def update_cells(self, updates, *, snapshot=None):
        self.calls.append("update_cells")
        return self.backend.update_cells(updates, snapshot=snapshot)

    def update_rows_by_number(self, updates):
        self.calls.append("update_rows")
        return self.backend.update_rows_by_number(updates)

    def __getattr__(self, name):
        return getattr(self.backend, name)

    @property
    def rows(self) -> StaffRows:
        return StaffRows(self.backend.path)

    @property
    def activity(self) -> list[dict[str, str]]:
        return [values for _, values in read_tab(self.backend.path, "Activity", ACTIVITY_COLUMNS,
                                                 ACTIVITY_KEYS)]

    def by_reference(self, reference):
        return [row for row in self.rows if row.get("reference") == reference]


def deliver_to_maildir(folder: Path, raw: bytes, number: int) -> str:
    """What a delivery agent does: write into tmp/, then rename into new/. Returns the name."""
    name = f"{int(time.time())}.M{number}P{os.getpid()}Q{number}.parkdesk-test"
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    (folder / "new").mkdir(parents=True, exist_ok=True)
    temp = folder / "tmp" / name
    temp.write_bytes(raw)
    stamp = 1_700_000_000 + number  # one second apart: the order they came in
    os.utime(temp, (stamp, stamp))
    os.rename(temp, folder / "new" / name)
    return name


def maildir_messages(folder: Path) -> list[bytes]:
    files = [folder / sub / name for sub in ("new", "cur") if (folder / sub).is_dir()
             for name in os.listdir(folder / sub) if not name.startswith(".")]
    files.sort(key=lambda file: (file.stat().st_mtime_ns, file.name))
    return [file.read_bytes() for file in files]


class MaildirView:
    """A ``MaildirMailbox`` with ``FakeMailbox``'s test API: deliver, messages, folders."""

    def __init__(self, mailbox: MaildirMailbox):
        self.backend = mailbox
        self._delivered = 0

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def deliver(self, raw: bytes) -> str:
        self._delivered += 1
        return deliver_to_maildir(self.backend.inbox_path, raw, self._delivered)

    @property
    def messages(self) -> dict[int, bytes]:
        return {m.uid: m.raw for m in self.backend.fetch(self.backend.list_uids())}

    @property
    def folders(self) -> dict[str, list[bytes]]:
        root = self.backend.root
        return {name: maildir_messages(root / f".{name}") for name in ("Processed", "Quarantine")}


class OutboxView:
    """An ``OutboxMailer`` with ``FakeMailer``'s test API: sent, fail_temporarily."""

    def __init__(self, mailer: OutboxMailer):
        self.backend = mailer
        self.fail_temporarily = 0

    def send_all(self, messages):
        results = []
        for message in messages:
            if self.fail_temporarily:
                self.fail_temporarily -= 1
                results.append(SimpleNamespace(message_id=message["Message-ID"], ok=False,
                                               permanent=False, error="451 try again later"))
            else:
                results += self.backend.send_all([message])
        return results

    @property
    def sent(self) -> list[EmailMessage]:
        folder = self.backend.folder
        if not folder.is_dir():
            return []
        return [message_from_bytes((folder / name).read_bytes(), policy=policy.default)
                for name in sorted(os.listdir(folder)) if name.endswith(".eml")]


# ---- the park: fakes or local backends -------------------------------------------------------


def maildir_settings(path: Path) -> SimpleNamespace:
    return SimpleNamespace(backend="maildir", path=path, folder="INBOX",
                           processed_folder="Processed", quarantine_folder="Quarantine",
                           poll_seconds=1, batch_size=2)


# test_intake_cycle.py's own fixtures, under names of this module: its park holds the fakes.
config = workflow_tests.config
fake_park = workflow_tests.park


@pytest.fixture(params=["fakes", "local"])
def park(request, fake_park, tmp_path):
    """test_intake_cycle.py's park, with its adapters swapped for the local backends if asked."""
    if request.param == "local":
        fake_park.register = WorkbookView(WorkbookRegister(tmp_path / "register.xlsx",
                                                           sleep=lambda seconds: None))
        inbox = MaildirMailbox(maildir_settings(tmp_path / "mail" / "inbox")).open()
        fake_park.mailbox = MaildirView(inbox)
        outbox = OutboxMailer(SimpleNamespace(path=tmp_path / "mail" / "outbox"))
        fake_park.mailer = OutboxView(outbox)
    return fake_park


complaint = workflow_tests.complaint


def apologies_to(outbox: OutboxView, address: str) -> list[EmailMessage]:
    return [m for m in outbox.sent if m["To"] == address and m["Auto-Submitted"]]


def register_rows(path: Path) -> list[dict[str, str]]:
    return [values for _, values in read_tab(path, "Register", REGISTER_COLUMNS, REGISTER_KEYS)]


def test_a_staff_edit_between_two_cycles_is_kept(park):
    park.mailbox.deliver(complaint(sender="wang@tenant.test"))
    park.run()
    park.register.rows[0]["notes"] = "李工已到现场 on site"
    park.mailbox.deliver(complaint(sender="li@tenant.test", subject="空调不制冷"))
    park.run()
    first, second = park.register.rows
    assert first["notes"] == "李工已到现场 on site"
    assert [first["email"], second["email"]] == ["wang@tenant.test", "li@tenant.test"]
    assert len({first["reference"], second["reference"]}) == 2


def test_a_complaint_arriving_while_the_register_is_open_in_excel_waits_in_the_mailbox(
        tmp_path, config):
    sleeps: list[float] = []
    register = WorkbookRegister(tmp_path / "register.xlsx", sleep=sleeps.append,
                                lock_wait_seconds=6)
    mailbox = MaildirMailbox(maildir_settings(tmp_path / "inbox")).open()
    outbox = OutboxMailer(SimpleNamespace(path=tmp_path / "outbox"))
    now = datetime(2025, 5, 14, 10, 42, tzinfo=config.park.tz)
    journal = Journal(tmp_path / "journal.sqlite3")
    cycle = IntakeCycle(config=config, register=register, mailbox=mailbox, mailer=outbox,
                        journal=journal, templates=Templates("zh-CN"), now=lambda: now,
                        secret=load_or_create_secret(tmp_path / "state"))
    cycle.run()  # the workbook is created
    lock = tmp_path / "~$register.xlsx"
    lock.write_bytes(b"\x05staff")
    deliver_to_maildir(tmp_path / "inbox", complaint(sender="wang@tenant.test"), 1)
    with pytest.raises(RegisterUnavailable,
                       match="close register.xlsx in Excel so ParkDesk can save"):
        cycle.run()
    assert sum(sleeps) == pytest.approx(6)
    assert len(mailbox.list_uids()) == 1 and register_rows(register.path) == []
    lock.unlink()
    report = cycle.run()
    rows = register_rows(register.path)
    assert [row["reference"] for row in rows] == report.registered == ["C-250514-001"]
    assert mailbox.list_uids() == []
    assert len(maildir_messages(tmp_path / "inbox" / ".Processed")) == 1
    assert len(apologies_to(OutboxView(outbox), "wang@tenant.test")) == 1


# ---- the real daemon on the local backends, killed at every step -----------------------------


def write_local_config(folder: Path) -> Path:
    data = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    data["state_dir"] = "./state"
    data["mailbox"] = {"backend": "maildir", "path": "./mail/inbox", "poll_seconds": 1}
    data["smtp"] = {"backend": "outbox", "path": "./mail/outbox",
                    "from_address": "complaints@donghu-park.example.com",
                    "from_name": "东湖科技产业园 园区服务中心"}
    data["register"] = {"backend": "workbook", "path": "./register.xlsx"}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def run_daemon_once(folder: Path, crash_at: str | None = None) -> subprocess.CompletedProcess:
    env = {name: value for name, value in os.environ.items() if name != "PARKDESK_CRASH_AT"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    if crash_at:
        env["PARKDESK_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "daemon", "run", "--config", str(folder / "config.yaml"), "--once"],
        cwd=str(folder), env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_crash_at_any_step_is_finished_by_the_next_run(tmp_path, point):
    write_local_config(tmp_path)
    tenants = [f"tenant{i}@tenant{i}.test" for i in range(3)]
    for i, tenant in enumerate(tenants):
        mail = EmailMessage()
        mail["From"], mail["To"] = f"王芳 <{tenant}>", "complaints@donghu-park.example.com"
        mail["Subject"], mail["Message-ID"] = f"漏水 {i}", make_msgid(domain=f"tenant{i}.test")
        mail.set_content("天花板漏水")
        deliver_to_maildir(tmp_path / "mail" / "inbox", bytes(mail), i + 1)

    crashed = run_daemon_once(tmp_path, crash_at=point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    finished = run_daemon_once(tmp_path)
    assert finished.returncode == 0, finished.stderr

    rows = register_rows(tmp_path / "register.xlsx")
    assert sorted(row["email"] for row in rows) == tenants  # exactly one row each
    assert len({row["reference"] for row in rows}) == len(tenants)
    outbox = OutboxView(OutboxMailer(SimpleNamespace(path=tmp_path / "mail" / "outbox")))
    for row in rows:
        apologies = apologies_to(outbox, row["email"])
        assert apologies and all(row["reference"] in m["Subject"] for m in apologies)
    inbox = tmp_path / "mail" / "inbox"
    assert maildir_messages(inbox) == []
    assert len(maildir_messages(inbox / ".Processed")) == len(tenants)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".register.xlsx")] == []
