"""The register as a local .xlsx workbook: layout, text-only cells, staff edits, lock files of
Excel and LibreOffice, and saves that never leave a half-written file."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import zipfile
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

import daemon.register.workbook as workbook_module
from daemon.register import CellUpdate, RegisterError, RegisterUnavailable, open_register
from daemon.register.workbook import (
    EXCEL_CELL_LIMIT,
    TRUNCATION_MARK,
    WorkbookRegister,
    display_text,
    utf16_length,
    workbook_text,
)
from daemon.sheet_layout import ACTIVITY_COLUMNS, REGISTER_COLUMNS, STATUS_LABELS, Status

REGISTER_HEADERS = [c.header for c in REGISTER_COLUMNS]
ACTIVITY_HEADERS = [c.header for c in ACTIVITY_COLUMNS]
FORMULA_LOOKING = ['=IMPORTXML("http://x","//a")', "=1+1", "+86 138", "-5", "@SUM(A1)", "#N/A",
                   "#DIV/0!"]


class Sleeps(list):
    """A sleep that records instead of waiting, and may run a step at a given call."""

    def __init__(self, at: dict[int, callable] | None = None):
        super().__init__()
        self.at = at or {}

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        action = self.at.get(len(self))
        if action:
            action()


@pytest.fixture
def path(tmp_path) -> Path:
    return tmp_path / "register.xlsx"


@pytest.fixture
def register(path) -> WorkbookRegister:
    return WorkbookRegister(path, sleep=Sleeps())


def complaint(n: int, **extra: str) -> dict[str, str]:
    row = {"reference": f"C-250514-{n:03d}", "status": STATUS_LABELS[Status.NEW],
           "company": f"企业 {n}", "subject": f"Subject {n}", "content": f"漏水 leak {n}",
           "message_id": f"<m{n}@tenant>"}
    row.update(extra)
    return row


def staff_edit(path: Path, edit) -> None:
    """What staff do in Excel: open the file, change it, save it."""
    book = openpyxl.load_workbook(path)
    edit(book)
    book.save(path)


def column_of(sheet, header: str) -> int:
    return [cell.value for cell in sheet[1]].index(header) + 1


def sheet_xml(path: Path, title: str) -> str:
    book = openpyxl.load_workbook(path, read_only=True)
    index = book.sheetnames.index(title) + 1
    book.close()
    with zipfile.ZipFile(path) as archive:
        return archive.read(f"xl/worksheets/sheet{index}.xml").decode("utf-8")


# ---- layout ----------------------------------------------------------------------------------


def test_ensure_layout_creates_both_tabs_styled_frozen_with_drop_down_and_highlight(register, path):
    register.ensure_layout()
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Register", "Activity"]
    sheet = book["Register"]
    assert [c.value for c in sheet[1]] == REGISTER_HEADERS
    assert [c.value for c in book["Activity"][1]] == ACTIVITY_HEADERS
    assert sheet.freeze_panes == "A2" and book["Activity"].freeze_panes == "A2"
    header = sheet["A1"]
    assert header.font.b and header.fill.fill_type == "solid"
    content = openpyxl.utils.get_column_letter(column_of(sheet, "内容 Content"))
    assert sheet.column_dimensions[content].width >= 40
    assert sheet.column_dimensions["A"].number_format == "@"  # what staff type stays text

    status = openpyxl.utils.get_column_letter(column_of(sheet, "状态 Status"))
    [validation] = sheet.data_validations.dataValidation
    assert validation.type == "list" and f"{status}2" in validation.sqref
    assert validation.formula1.strip('"').split(",") == list(STATUS_LABELS.values())
    rules = {str(cf.sqref): [r.formula for r in cf.rules] for cf in sheet.conditional_formatting}
    assert rules[f"{status}2:{status}1048576"] == [['"New 新建"']]


def test_ensure_layout_is_idempotent_and_reads_only_a_changed_file(register, path):
    register.ensure_layout()
    content, counts = path.read_bytes(), register.request_counts
    register.ensure_layout()  # the file is as ParkDesk saved it: nothing to load or save
    assert path.read_bytes() == content and register.request_counts == counts
    staff_edit(path, lambda book: book["Register"].cell(2, 9, "typed by staff"))
    register.ensure_layout()
    assert register.request_counts == {"workbook.load": counts["workbook.load"] + 1,
                                       "workbook.save": counts["workbook.save"]}


def test_consecutive_writes_load_the_file_once(register, path):
    register.append_complaints([complaint(1)])
    counts = register.request_counts
    register.append_complaints([complaint(2)])
    register.append_activity([{"time": "t", "reference": "C-250514-002", "event": "e"}])
    assert register.request_counts == {"workbook.load": counts["workbook.load"],
                                       "workbook.save": counts["workbook.save"] + 2}
    assert [r.reference for r in register.read_register()] == ["C-250514-001", "C-250514-002"]


def test_ensure_layout_repairs_missing_headers_at_the_end_and_keeps_staff_columns(register, path):
    register.ensure_layout()
    header = list(REGISTER_HEADERS)
    subject_at = header.index("主题 Subject")

    def edit(book):
        sheet = book["Register"]
        sheet.cell(1, subject_at + 1).value = "Staff memo 备忘"  # their own column instead
        sheet["A1"] = "Reference"  # shortened to English: still ours
        sheet.cell(1, 4).value = None  # Company header blanked
        sheet.freeze_panes = None
        del book["Activity"]
        book.create_sheet("Staff notes")["A1"] = "our own tab"

    staff_edit(path, edit)
    register.ensure_layout()

    book = openpyxl.load_workbook(path)
    repaired = [c.value for c in book["Register"][1]]
    n = len(REGISTER_HEADERS)
    assert repaired[:n] == ["Reference" if i == 0 else None if i == 3 else
                            "Staff memo 备忘" if i == subject_at else header[i] for i in range(n)]
    assert repaired[n:] == ["企业 Company", "主题 Subject"]
    assert book["Register"].freeze_panes == "A2"
    assert [c.value for c in book["Activity"][1]] == ACTIVITY_HEADERS
    assert book["Staff notes"]["A1"].value == "our own tab"
    register.append_complaints([complaint(1)])
    row = [c.value for c in openpyxl.load_workbook(path)["Register"][2]]
    assert row[n + 1] == "Subject 1" and row[subject_at] is None
    assert register.read_register()[0].get("company") == "企业 1"


def test_a_missing_file_or_tab_is_created_when_reading(register, path):
    assert register.read_register() == [] and path.exists()
    staff_edit(path, lambda book: book.remove(book["Register"]))
    assert register.read_register() == []
    assert openpyxl.load_workbook(path).sheetnames[-1] == "Register"


# ---- text in, text out -----------------------------------------------------------------------


def test_appended_rows_come_back_with_their_row_numbers(register):
    register.ensure_layout()
    rows = [complaint(n) for n in range(1, 101)]
    assert register.append_complaints(rows) == list(range(2, 102))
    read = register.read_register()
    assert [r.reference for r in read] == [r["reference"] for r in rows]
    assert read[41].get("content") == "漏水 leak 42" and read[41].row_number == 43
    assert read.columns["reference"] == 0


def test_tenant_text_is_never_a_formula_even_after_reopening(register, path):
    register.ensure_layout()
    register.append_complaints([complaint(n, subject=text)
                                for n, text in enumerate(FORMULA_LOOKING)])
    register.update_cells([CellUpdate("C-250514-001", "notes", "=HYPERLINK(\"http://evil\")")])
    sheet = openpyxl.load_workbook(path)["Register"]
    subject = column_of(sheet, "主题 Subject")
    cells = [sheet.cell(row, subject) for row in range(2, 2 + len(FORMULA_LOOKING))]
    assert [c.value for c in cells] == FORMULA_LOOKING
    assert {c.data_type for c in cells} == {"s"}
    xml = sheet_xml(path, "Register")
    assert "<f>" not in xml and "<f " not in xml and 't="e"' not in xml
    assert [r.get("subject") for r in register.read_register()] == FORMULA_LOOKING
    # Staff save the file in their program; ParkDesk's next save keeps the text as text.
    staff_edit(path, lambda book: None)
    register.append_activity([{"time": "t", "reference": "C-250514-000", "event": "note"}])
    assert "<f>" not in sheet_xml(path, "Register")
    assert register.read_register()[1].get("notes") == "=HYPERLINK(\"http://evil\")"


def test_characters_xlsx_cannot_hold_are_replaced_not_fatal(register):
    register.append_complaints([complaint(1, content="a\x00b\x0cc\x1bd\ud800e\tf\ng")])
    assert register.read_register()[0].get("content") == "a\ufffdb\ufffdc\ufffdd\ufffde\tf\ng"


def test_cells_are_cut_to_excels_limit_with_a_mark(register):
    huge = "漏" * 40_000
    register.append_complaints([complaint(1, content=huge, subject="😀" * 20_000)])
    row = register.read_register()[0]
    assert len(row.get("content")) == EXCEL_CELL_LIMIT
    assert row.get("content").endswith(TRUNCATION_MARK)
    assert utf16_length(row.get("subject")) <= EXCEL_CELL_LIMIT  # emoji count twice in Excel
    assert workbook_text("short") == "short"


@pytest.mark.parametrize("value, text", [
    (None, ""), (13800138000.0, "13800138000"), (42, "42"), (0.5, "0.5"), (True, "TRUE"),
    (datetime(2025, 5, 14, 10, 42), "2025-05-14 10:42"), (datetime(2025, 5, 14), "2025-05-14"),
    (datetime(2025, 5, 14, 10, 42, 7), "2025-05-14 10:42:07"),
])
def test_what_excel_turned_into_numbers_and_dates_reads_back_as_staff_see_it(value, text):
    assert display_text(value) == text


def test_staff_typing_numbers_and_dates_is_read_as_text(register, path):
    register.append_complaints([complaint(1)])

    def edit(book):
        sheet = book["Register"]
        sheet.cell(2, column_of(sheet, "电话 Phone")).value = 13800138000
        sheet.cell(2, column_of(sheet, "处理期限 Resolve by")).value = datetime(2025, 5, 20, 18, 0)

    staff_edit(path, edit)
    row = register.read_register()[0]
    assert row.get("phone") == "13800138000" and row.get("resolve_by") == "2025-05-20 18:00"


# ---- rows and columns staff moved ------------------------------------------------------------


def test_rows_are_found_by_reference_after_staff_sort_and_columns_moved(register, path):
    register.append_complaints([complaint(n) for n in (1, 2, 3)])

    def edit(book):
        sheet = book["Register"]
        rows = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
        for offset, values in enumerate(reversed(rows)):  # sorted newest first
            for column, value in enumerate(values, start=1):
                sheet.cell(2 + offset, column).value = value
        sheet.insert_cols(1)  # a column of their own in front
        sheet["A1"] = "序号 No."

    staff_edit(path, edit)
    register.update_cells([CellUpdate("C-250514-001", "notes", "called back")])
    read = {row.reference: row for row in register.read_register()}
    assert read["C-250514-001"].get("notes") == "called back"
    assert read["C-250514-001"].row_number == 4
    assert read["C-250514-003"].get("notes") == ""
    sheet = openpyxl.load_workbook(path)["Register"]
    assert sheet.cell(4, column_of(sheet, "备注 Notes")).value == "called back"


def test_an_unknown_or_duplicated_reference_saves_nothing(register, path):
    register.append_complaints([complaint(1), complaint(2), complaint(2)])
    before = path.read_bytes()
    with pytest.raises(RegisterError, match="No row .* C-250514-009"):
        register.update_cells([CellUpdate("C-250514-001", "notes", "x"),
                               CellUpdate("C-250514-009", "notes", "x")])
    with pytest.raises(RegisterError, match="rows 3 and 4"):
        register.update_cells([CellUpdate("C-250514-002", "notes", "x")])
    with pytest.raises(RegisterError, match="not a column"):
        register.update_cells([CellUpdate("C-250514-001", "colour", "x")])
    assert path.read_bytes() == before


def test_walk_in_rows_are_filled_by_number_unless_they_moved(register, path):
    register.append_complaints([complaint(1)])
    staff_edit(path, lambda book: book["Register"].cell(3, 9, "办公室空调不制冷"))
    register.update_rows_by_number({3: {"reference": "C-250514-002", "status": "New 新建"}})
    assert [r.reference for r in register.read_register()] == ["C-250514-001", "C-250514-002"]
    before = path.read_bytes()
    with pytest.raises(RegisterError, match="Row 2 .* now holds C-250514-001"):
        register.update_rows_by_number({2: {"reference": "C-250514-003"}})
    with pytest.raises(RegisterError, match="Row 7 .* is now blank"):
        register.update_rows_by_number({7: {"reference": "C-250514-003"}})
    assert path.read_bytes() == before


def test_rows_go_below_the_last_row_with_text_not_below_formatting(register, path):
    register.append_complaints([complaint(1)])

    def edit(book):
        for row in range(3, 200):  # staff shaded empty rows below the table
            book["Register"].cell(row, 1).fill = openpyxl.styles.PatternFill("solid", "FFEEEEEE")

    staff_edit(path, edit)
    assert register.append_complaints([complaint(2)]) == [3]
    register.append_activity([{"time": "t1", "reference": "C-250514-001", "event": "e1"}])
    register.append_activity([{"time": "t2", "reference": "C-250514-002", "event": "e2"}])
    activity = openpyxl.load_workbook(path)["Activity"]
    assert [activity.cell(r, 1).value for r in (2, 3)] == ["t1", "t2"]


# ---- staff edits and saving --------------------------------------------------------------------


def test_a_staff_edit_saved_between_two_writes_is_kept(register, path):
    register.append_complaints([complaint(1)])

    def edit(book):
        sheet = book["Register"]
        sheet.cell(2, column_of(sheet, "状态 Status")).value = "Dispatched 已派单"
        sheet.cell(2, column_of(sheet, "备注 Notes")).value = "李工已到现场"

    staff_edit(path, edit)
    register.append_complaints([complaint(2)])
    register.append_activity([{"time": "t", "reference": "C-250514-002", "event": "registered"}])
    first, second = register.read_register()
    assert first.get("status") == "Dispatched 已派单" and first.get("notes") == "李工已到现场"
    assert second.reference == "C-250514-002"


def test_an_edit_saved_while_parkdesk_saves_is_not_overwritten(register, path, monkeypatch):
    register.append_complaints([complaint(1)])
    real_write = workbook_module.write_workbook
    calls = []

    def write_while_staff_save(book, target):
        calls.append(target)
        if len(calls) == 1:  # staff press Ctrl+S just as ParkDesk saves
            staff_edit(path, lambda b: b["Register"].cell(2, column_of(b["Register"], "备注 Notes"),
                                                          "staff note"))
        real_write(book, target)

    monkeypatch.setattr(workbook_module, "write_workbook", write_while_staff_save)
    register.append_complaints([complaint(2)])
    assert len(calls) == 2  # the first save was thrown away and done again on their file
    first, second = register.read_register()
    assert first.get("notes") == "staff note" and second.reference == "C-250514-002"


def test_a_crash_mid_save_leaves_the_old_file_whole(register, path, monkeypatch):
    register.append_complaints([complaint(1)])
    before = path.read_bytes()

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workbook_module.os, "replace", fail)
    with pytest.raises(RegisterUnavailable, match="No space left on device.*unchanged"):
        register.append_complaints([complaint(2)])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [r.reference for r in register.read_register()] == ["C-250514-001"]
    assert [p.name for p in path.parent.iterdir()] == ["register.xlsx"]  # no temp file left


def test_a_killed_save_leaves_only_a_hidden_temp_that_is_cleaned_later(register, path):
    register.append_complaints([complaint(1)])
    stale = path.with_name(".register.xlsx.parkdesk-99999.tmp")
    stale.write_bytes(b"PK half a zip")
    os.utime(stale, (0, 0))
    assert [r.reference for r in register.read_register()] == ["C-250514-001"]
    register.append_complaints([complaint(2)])
    assert not stale.exists()


# ---- lock files: the workbook is open in Excel or LibreOffice ---------------------------------


def test_parkdesk_waits_until_excel_closes_the_file(path, caplog):
    lock = path.with_name("~$register.xlsx")
    sleeps = Sleeps(at={2: lock.unlink})
    register = WorkbookRegister(path, sleep=sleeps)
    register.ensure_layout()
    lock.write_bytes(b"\x05staff")
    before = path.read_bytes()
    caplog.set_level(logging.INFO, logger="parkdesk.register")
    assert register.read_register() == [] and path.read_bytes() == before  # reading never waits
    register.append_complaints([complaint(1)])
    assert sleeps == [2.0, 2.0]
    assert [r.reference for r in register.read_register()] == ["C-250514-001"]
    said = [r.getMessage() for r in caplog.records if "so ParkDesk can save" in r.getMessage()]
    assert len(said) == 1 and "close register.xlsx in Excel so ParkDesk can save" in said[0]


def test_an_edit_made_while_parkdesk_waited_is_kept(path):
    lock = path.with_name("~$register.xlsx")

    def staff_save_and_close():
        staff_edit(path, lambda b: b["Register"].cell(2, 1, "C-250514-001"))
        lock.unlink()

    register = WorkbookRegister(path, sleep=Sleeps(at={1: staff_save_and_close}))
    register.ensure_layout()
    lock.write_bytes(b"")
    register.append_complaints([complaint(2)])
    assert [r.reference for r in register.read_register()] == ["C-250514-001", "C-250514-002"]


def test_a_file_left_open_gives_up_in_plain_words_and_saves_nothing(path, caplog):
    sleeps = Sleeps()
    register = WorkbookRegister(path, sleep=sleeps)
    register.ensure_layout()
    path.with_name(".~lock.register.xlsx#").write_text("王芳,pc-07,pc-07,14.05.2025 10:42,file:///x;",
                                                        encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(RegisterUnavailable) as caught:
        register.append_complaints([complaint(1)])
    message = str(caught.value)
    assert "close register.xlsx in LibreOffice so ParkDesk can save" in message
    assert "王芳" in message and ".~lock.register.xlsx#" in message and "nothing is lost" in message
    assert sum(sleeps) == pytest.approx(60.0) and path.read_bytes() == before
    assert len([r for r in caplog.records if "so ParkDesk can save" in r.getMessage()]) == 1


def test_a_save_refused_by_windows_sharing_is_waited_out(register, path, monkeypatch):
    register.ensure_layout()
    real_replace = os.replace
    refusals = []

    def replace(source, target):
        if not refusals:
            refusals.append(target)
            raise PermissionError(13, "The process cannot access the file")
        real_replace(source, target)

    monkeypatch.setattr(workbook_module.os, "replace", replace)
    register.append_complaints([complaint(1)])
    assert refusals and [r.reference for r in register.read_register()] == ["C-250514-001"]


# ---- files that are not right ------------------------------------------------------------------


def test_a_damaged_file_is_reported_and_never_overwritten(register, path):
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(RegisterError, match="cannot be read as an Excel workbook"):
        register.append_complaints([complaint(1)])
    with pytest.raises(RegisterError, match="save it as"):
        register.read_register()
    assert path.read_bytes() == b"this is not a zip file"


def test_open_register_gives_a_workbook_and_refuses_bad_paths(tmp_path):
    cfg = SimpleNamespace(backend="workbook", path=tmp_path / "r.xlsx")
    assert isinstance(open_register(cfg), WorkbookRegister)
    with pytest.raises(RegisterError, match="register.path is not set"):
        open_register(SimpleNamespace(backend="workbook", path=None))
    with pytest.raises(RegisterError, match=r"\.xlsx"):
        open_register(SimpleNamespace(backend="workbook", path=tmp_path / "r.ods"))
    with pytest.raises(RegisterError, match="register.backend"):
        open_register(SimpleNamespace(backend="paper"))


# ---- other programs --------------------------------------------------------------------------


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def run_soffice(tmp_path: Path, *args: str) -> None:
    result = subprocess.run(
        [soffice(), "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile", *args],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_libreoffice_reads_the_workbook_with_text_kept_as_text(register, path, tmp_path):
    register.append_complaints([complaint(1, subject="=1+1", phone="13800138000")])
    out = tmp_path / "csv"
    run_soffice(tmp_path, "--convert-to",
                "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
                "--outdir", str(out), str(path))
    lines = (out / "register-Register.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[:2] == ["编号 Reference", "状态 Status"]
    assert "=1+1" in lines[1] and "13800138000" in lines[1] and ",2," not in lines[1]


@pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed")
def test_a_file_saved_by_libreoffice_is_read_and_written_with_its_layout_kept(register, path,
                                                                              tmp_path):
    register.append_complaints([complaint(1, subject="=1+1")])
    out = tmp_path / "saved"
    run_soffice(tmp_path, "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out),
                str(path))
    resaved = WorkbookRegister(out / "register.xlsx", sleep=Sleeps())
    assert resaved.read_register()[0].get("subject") == "=1+1"
    resaved.append_complaints([complaint(2, subject="=2+2")])
    assert [r.get("subject") for r in resaved.read_register()] == ["=1+1", "=2+2"]
    sheet = openpyxl.load_workbook(out / "register.xlsx")["Register"]
    assert len(sheet.data_validations.dataValidation) == 1
    assert len(list(sheet.conditional_formatting)) == 2 and sheet["A1"].font.b
