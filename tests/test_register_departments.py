"""The Departments tab (who gets what), written from config.yaml by both register backends.

The pure rows from the config; the Google register through the Sheets emulator over real HTTP
(content, note, warning-only protection, and what each write costs); the workbook register on
a temporary .xlsx; and the intake cycle writing the tab once per process.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

from daemon.authenticity import load_or_create_secret
from daemon.config import load_config
from daemon.intake.cycle import IntakeCycle
from daemon.journal import Journal
from daemon.register import RegisterError, open_register
from daemon.register.departments import department_grid, department_rows, same_grid
from daemon.register.workbook import WorkbookRegister
from daemon.sheet_layout import DEPARTMENT_COLUMNS, DEPARTMENTS_NOTE
from daemon.templates import Templates
from tests.fakes.adapters import FakeMailbox, FakeMailer, FakeRegister
from tests.sheets_emulator import SheetsEmulator, write_service_account_key
from tests.sheets_emulator.client import gspread_client

ROOT = Path(__file__).resolve().parent.parent
ROBOT = "robot@park.iam.gserviceaccount.com"
HEADERS = [c.header for c in DEPARTMENT_COLUMNS]


@pytest.fixture(scope="module")
def config():
    return load_config(ROOT / "config.yaml")


def without_security(config):
    """The config after the park merged its security department away."""
    return config.model_copy(update={
        "departments": tuple(d for d in config.departments if d.key != "security"),
        "categories": tuple(c for c in config.categories if c.department != "security"),
    })


def table(rows) -> list[list[str]]:
    """What a tab showing ``rows`` looks like to staff: header, then cells in column order."""
    return [HEADERS] + [[row[c.key] for c in DEPARTMENT_COLUMNS] for row in rows]


def trimmed(values) -> list[list[str]]:
    rows = [[str(cell) if cell is not None else "" for cell in row] for row in values]
    while rows and not any(rows[-1]):
        rows.pop()
    return [row + [""] * (len(HEADERS) - len(row)) if len(row) < len(HEADERS) else row
            for row in rows]


# ---- the rows, from the config --------------------------------------------------------------


def test_each_department_has_its_head_members_and_categories_then_service_center_and_leaders(
        config):
    rows = department_rows(config)
    assert [row["key"] for row in rows] == [
        "property", "facilities", "environment", "security", "service_center", "leadership"]
    assert rows[1] == {
        "key": "facilities", "name": "设施维护部", "head": "li.qiang@donghu-park.example.com",
        "members": "repairs@donghu-park.example.com, zhao.lei@donghu-park.example.com",
        "categories": "设施维护"}
    assert rows[0]["categories"] == "物业管理, 其他"  # "other" goes to property too
    assert rows[4] == {"key": "service_center", "name": "服务中心 Service center", "head": "",
                       "members": "service@donghu-park.example.com", "categories": ""}
    assert rows[5]["name"] == "公司领导 Leadership"
    assert rows[5]["members"] == "manager@donghu-park.example.com"
    mailed = {a for row in rows for field in ("head", "members")
              for a in row[field].split(", ") if a}
    everyone = {*config.service_center, *config.leadership,
                *(a for d in config.departments for a in (d.head, *d.members))}
    assert mailed == everyone


def test_a_department_without_members_or_categories_has_blank_cells(config):
    lonely = config.departments[0].model_copy(update={"key": "garden", "name": "园林部",
                                                      "members": ()})
    rows = department_rows(config.model_copy(update={"departments": (lonely,)}))
    assert rows[0] == {"key": "garden", "name": "园林部", "head": lonely.head, "members": "",
                       "categories": ""}


def test_the_grid_is_the_header_then_the_rows_and_refuses_unknown_columns():
    grid = department_grid([{"key": "a", "name": "A", "members": "x@p.cn"}])
    assert grid == [HEADERS, ["a", "A", "", "x@p.cn", ""]]
    with pytest.raises(RegisterError, match="'phone' not a column of the Departments tab"):
        department_grid([{"key": "a", "phone": "123"}])
    assert same_grid([["h", "", ""], ["a", None], [], [""]], [["h"], ["a"]])
    assert not same_grid([["h"], ["a"], ["stale"]], [["h"], ["a"]])
    assert not same_grid([["h"], ["", "a"]], [["h"], ["a"]])


# ---- the Google register --------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator():
    emu = SheetsEmulator(port=0)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def sheet(emulator, tmp_path):
    """A fresh spreadsheet; ``open()`` is a ParkDesk process starting on it, ``staff`` their view."""
    emulator.set_quota(None, None)
    emulator.faults.clear()
    key = write_service_account_key(emulator.base_url, ROBOT, tmp_path / "key.json")
    sid = emulator.create_spreadsheet(ROBOT, title="Park register")
    cfg = SimpleNamespace(backend="google", spreadsheet_id=sid, credentials_file=key,
                          api_endpoint=emulator.base_url + "/", path=None)
    staff = gspread_client(emulator.base_url, key).open_by_key(sid)

    def delta(before):
        """Sheets requests since ``before`` (a new process also fetches its OAuth token)."""
        after = emulator.request_counts()
        return {k: after.get(k, 0) - before.get(k, 0) for k in after
                if after.get(k, 0) != before.get(k, 0) and not k.startswith("oauth2.")}

    return SimpleNamespace(emu=emulator, staff=staff, delta=delta,
                           open=lambda: open_register(cfg, sleep=lambda s: None))


def staff_values(sheet) -> list[list[str]]:
    return trimmed(sheet.staff.worksheet("Departments").get_all_values())


def protections(sheet) -> list[dict]:
    meta = sheet.staff.fetch_sheet_metadata(
        {"fields": "sheets(properties(title),protectedRanges)"})
    [tab] = [s for s in meta["sheets"] if s["properties"]["title"] == "Departments"]
    return tab.get("protectedRanges", [])


def test_google_tab_is_created_frozen_with_rows_note_and_a_warning_only_protection(sheet, config):
    register = sheet.open()
    register.ensure_layout()
    before = sheet.emu.request_counts()
    register.write_departments(department_rows(config))
    # ensure_layout's read is reused: the write is one batchUpdate, nothing read.
    assert sheet.delta(before) == {"sheets.spreadsheets.batchUpdate": 1, "writes": 1}

    assert staff_values(sheet) == table(department_rows(config))
    tab = sheet.staff.worksheet("Departments")
    assert tab.frozen_row_count == 1
    [protection] = protections(sheet)
    assert protection["warningOnly"] is True and protection["description"] == DEPARTMENTS_NOTE
    meta = sheet.staff.fetch_sheet_metadata({
        "ranges": "Departments!A1", "includeGridData": "true",
        "fields": "sheets(data(rowData(values(note))))"})
    [cell] = meta["sheets"][0]["data"][0]["rowData"][0]["values"]
    assert cell["note"] == DEPARTMENTS_NOTE


def test_google_unchanged_tab_costs_no_write_at_the_next_start(sheet, config):
    first = sheet.open()
    first.ensure_layout()
    first.write_departments(department_rows(config))

    before = sheet.emu.request_counts()
    first.write_departments(department_rows(config))  # same process, just written
    assert sheet.delta(before) == {}

    restarted = sheet.open()
    before = sheet.emu.request_counts()
    restarted.ensure_layout()
    restarted.write_departments(department_rows(config))
    assert sheet.delta(before) == {"sheets.spreadsheets.get": 1, "reads": 1}

    alone = sheet.open()  # no ensure_layout first: one read, then nothing to write
    before = sheet.emu.request_counts()
    alone.write_departments(department_rows(config))
    assert sheet.delta(before) == {"sheets.spreadsheets.get": 1, "reads": 1}
    assert len(protections(sheet)) == 1


def test_google_tab_is_rewritten_when_the_config_changes_and_staff_edits_are_replaced(
        sheet, config):
    first = sheet.open()
    first.ensure_layout()
    first.write_departments(department_rows(config))
    tab = sheet.staff.worksheet("Departments")
    tab.update([["staff typed this"]], "B3")
    tab.update([["a stray note"]], "H40")

    restarted = sheet.open()
    before = sheet.emu.request_counts()
    restarted.ensure_layout()
    changed = department_rows(without_security(config))
    restarted.write_departments(changed)
    assert sheet.delta(before) == {"sheets.spreadsheets.get": 1, "reads": 1,
                                   "sheets.spreadsheets.batchUpdate": 1, "writes": 1}

    values = staff_values(sheet)
    assert values == table(changed)
    assert "security" not in [row[0] for row in values]
    assert not any("staff typed" in cell or "stray" in cell for row in values for cell in row)
    assert len(protections(sheet)) == 1  # the protection is kept, not added again


def test_google_text_stays_text_and_a_deleted_tab_comes_back(sheet):
    register = sheet.open()
    register.ensure_layout()
    rows = [{"key": "x", "name": "=1+1", "head": "+86 138", "members": "@all", "categories": ""}]
    register.write_departments(rows)
    assert staff_values(sheet)[1][:4] == ["x", "=1+1", "+86 138", "@all"]

    sheet.staff.del_worksheet(sheet.staff.worksheet("Departments"))
    restarted = sheet.open()
    restarted.ensure_layout()  # recreates the tab (header row, frozen)
    assert sheet.staff.worksheet("Departments").row_values(1) == HEADERS
    restarted.write_departments(rows)
    assert staff_values(sheet) == table(rows)
    assert len(protections(sheet)) == 1


def test_google_protection_removed_by_staff_is_put_back(sheet, config):
    register = sheet.open()
    register.ensure_layout()
    register.write_departments(department_rows(config))
    [protection] = protections(sheet)
    sheet.staff.batch_update({"requests": [{"deleteProtectedRange": {
        "protectedRangeId": protection["protectedRangeId"]}}]})
    restarted = sheet.open()
    restarted.ensure_layout()
    before = sheet.emu.request_counts()
    restarted.write_departments(department_rows(config))
    assert sheet.delta(before) == {"sheets.spreadsheets.batchUpdate": 1, "writes": 1}
    assert [p["warningOnly"] for p in protections(sheet)] == [True]


def test_google_a_refused_write_is_a_warning_and_intake_goes_on(emulator, tmp_path, config,
                                                                 caplog):
    emulator.set_quota(None, None)
    owner = "admin@park.example.com"
    sid = emulator.create_spreadsheet(owner, title="Park register")
    emulator.share(sid, ROBOT, role="writer")
    key = write_service_account_key(emulator.base_url, ROBOT, tmp_path / "key.json")
    owner_key = write_service_account_key(emulator.base_url, owner, tmp_path / "owner.json")
    cfg = SimpleNamespace(backend="google", spreadsheet_id=sid, credentials_file=key,
                          api_endpoint=emulator.base_url + "/", path=None)
    register = open_register(cfg, sleep=lambda s: None)
    register.ensure_layout()
    admin = gspread_client(emulator.base_url, owner_key).open_by_key(sid)
    tab = admin.worksheet("Departments")
    admin.batch_update({"requests": [{"addProtectedRange": {"protectedRange": {
        "range": {"sheetId": tab.id}, "editors": {"users": [owner]}}}}]})

    restarted = open_register(cfg, sleep=lambda s: None)
    restarted.ensure_layout()
    with caplog.at_level("WARNING", logger="parkdesk.register"):
        restarted.write_departments(department_rows(config))
    assert "Departments tab was not updated" in caplog.text and ROBOT in caplog.text
    assert trimmed(tab.get_all_values()) == [HEADERS]
    restarted.append_complaints([{"reference": "C-250514-001", "subject": "漏水"}])
    assert [row.reference for row in restarted.read_register()] == ["C-250514-001"]


# ---- the workbook register ------------------------------------------------------------------


def workbook_values(path: Path) -> list[list[str]]:
    book = openpyxl.load_workbook(path)
    return trimmed(book["Departments"].iter_rows(values_only=True))


def test_workbook_tab_is_created_styled_frozen_protected_with_a_note(tmp_path, config):
    path = tmp_path / "register.xlsx"
    register = WorkbookRegister(path)
    register.write_departments(department_rows(config))

    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Register", "Activity", "Departments"]
    sheet = book["Departments"]
    assert workbook_values(path) == table(department_rows(config))
    assert sheet.freeze_panes == "A2" and sheet.protection.sheet
    assert sheet["A1"].font.b and sheet["A1"].fill.fill_type == "solid"
    assert sheet["A1"].comment.text == DEPARTMENTS_NOTE
    assert sheet.column_dimensions["D"].width >= 40  # members
    assert sheet["A1"].data_type == "s" and sheet["B2"].data_type == "s"


def test_workbook_tab_is_rewritten_when_the_config_changes(tmp_path, config):
    path = tmp_path / "register.xlsx"
    WorkbookRegister(path).write_departments(department_rows(config))
    book = openpyxl.load_workbook(path)
    book["Departments"]["B3"] = "staff typed this"
    book["Departments"]["H40"] = "a stray note"
    book.save(path)

    changed = department_rows(without_security(config))
    WorkbookRegister(path).write_departments(changed)
    values = workbook_values(path)
    assert values == table(changed)
    assert "security" not in [row[0] for row in values]
    assert openpyxl.load_workbook(path)["Departments"]["H40"].value is None


def test_workbook_unchanged_tab_is_not_saved(tmp_path, config):
    path = tmp_path / "register.xlsx"
    register = WorkbookRegister(path)
    register.ensure_layout()
    register.write_departments(department_rows(config))
    content, counts = path.read_bytes(), register.request_counts
    register.write_departments(department_rows(config))
    assert register.request_counts == counts and path.read_bytes() == content

    restarted = WorkbookRegister(path)  # a new process: one load, no save
    restarted.ensure_layout()
    restarted.write_departments(department_rows(config))
    assert restarted.request_counts == {"workbook.load": 1, "workbook.save": 0}
    assert path.read_bytes() == content

    book = openpyxl.load_workbook(path)
    book["Departments"].protection.sheet = False  # staff unprotected it: protected again
    book.save(path)
    restarted.write_departments(department_rows(config))
    assert restarted.request_counts["workbook.save"] == 1
    assert openpyxl.load_workbook(path)["Departments"].protection.sheet


# ---- the intake cycle -----------------------------------------------------------------------


def test_the_cycle_writes_the_tab_from_the_config_once_per_process(tmp_path, config):
    register = FakeRegister()
    cycle = IntakeCycle(config=config, register=register, mailbox=FakeMailbox(),
                        mailer=FakeMailer(), journal=Journal(tmp_path / "journal.sqlite3"),
                        templates=Templates("zh-CN"),
                        now=lambda: datetime(2025, 5, 14, 10, 42, tzinfo=config.park.tz),
                        secret=load_or_create_secret(tmp_path))
    cycle.run()
    cycle.run()
    assert register.departments == department_rows(config)
    assert register.calls.count("departments") == 1
    assert register.calls.index("departments") == register.calls.index("ensure_layout") + 1
