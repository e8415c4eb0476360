"""The archive tabs of the register: closed rows moved to ``Archive <year>`` and back.

Both backends, the same tests: the Google register through the Sheets emulator over real HTTP
with unpatched gspread (staff's view through gspread too), the workbook on a temporary .xlsx
(staff's view through openpyxl). The pure column planning is tested on its own first.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest
from gspread.utils import rowcol_to_a1

from daemon.register import RegisterError, open_register
from daemon.register.archive import (
    archive_tabs_newest_first,
    archive_year,
    check_moves,
    choose_sheet_id,
    is_archive_tab,
    plan_columns,
)
from daemon.register.google_sheet import delete_rows_requests
from daemon.register.workbook import WorkbookRegister, display_text
from daemon.sheet_layout import REGISTER_COLUMNS, REGISTER_KEYS, STATUS_LABELS, Status
from tests.sheets_emulator import SheetsEmulator, write_service_account_key
from tests.sheets_emulator.client import gspread_client

ROBOT = "robot@park.iam.gserviceaccount.com"
HEADERS = [c.header for c in REGISTER_COLUMNS]
STAFF_HEADER = "Staff memo 备忘"
CLOSED = STATUS_LABELS[Status.CLOSED]
FORMULA_TEXT = "=1+1"


def ref(n: int) -> str:
    return f"C-250514-{n:03d}"


def complaint(n: int) -> dict[str, str]:
    """A row with every column filled, a formula-looking subject among them."""
    row = {key: f"{key} {n}" for key in REGISTER_KEYS}
    row.update(reference=ref(n), status=CLOSED, subject=f"{FORMULA_TEXT}+{n}" if n % 2 else
               f'=IMPORTXML("http://x/{n}","//a")', received_at="2025-05-14 10:00")
    return row


def trim(row) -> list[str]:
    row = ["" if cell is None else str(cell) for cell in row]
    while row and row[-1] == "":
        row.pop()
    return row


def expected_cells(n: int, memo: str = "") -> list[str]:
    row = complaint(n)
    return trim([row[key] for key in REGISTER_KEYS] + [memo])


# ---- pure helpers ------------------------------------------------------------------------


def test_archive_tabs_are_told_apart_and_ordered_newest_first():
    assert is_archive_tab("Archive 2025") and is_archive_tab("archive  2024")
    assert not is_archive_tab("Archived") and not is_archive_tab("Register")
    assert archive_year("Archive 2023 (old)") == 2023 and archive_year("Archive misc") is None
    titles = ["Register", "Archive 2024", "Activity", "Archive misc", "Archive 2025",
              "Archive 2023"]
    assert archive_tabs_newest_first(titles) == [
        "Archive 2025", "Archive 2024", "Archive 2023", "Archive misc"]


def test_moves_are_checked_before_anything_is_moved():
    moves = {"Archive 2025": [" C-1 ", ""], "archive 2025": ["C-2"], "Archive 2024": []}
    assert check_moves(moves) == {"Archive 2025": ["C-1", "C-2"]}
    with pytest.raises(RegisterError, match="not an archive tab"):
        check_moves({"Activity": ["C-1"]})
    with pytest.raises(RegisterError, match="listed twice"):
        check_moves({"Archive 2025": ["C-1"], "Archive 2024": ["c-1"]})


def test_a_chosen_sheet_id_is_stable_and_never_taken():
    first = choose_sheet_id("Archive 2025", set())
    assert first == choose_sheet_id("Archive 2025", {0}) and first > 0
    assert choose_sheet_id("Archive 2025", {first}) not in {first}


def test_rows_are_deleted_bottom_up_in_adjacent_blocks():
    requests = delete_rows_requests(7, [3, 9, 4, 5, 12, 11])
    spans = [(r["deleteDimension"]["range"]["startIndex"],
              r["deleteDimension"]["range"]["endIndex"]) for r in requests]
    assert spans == [(10, 12), (8, 9), (2, 5)]  # rows 11-12, row 9, rows 3-5


def test_columns_go_by_header_text_and_missing_ones_are_added_at_the_end():
    source = ["编号 Reference", "状态 Status", "", STAFF_HEADER, "主题 Subject"]
    target = ["Subject", "Reference", "Other staff column", "Status"]
    plan = plan_columns(source, target, filled={0, 1, 3, 4, 6})
    # reference -> 1, status -> 3, blank unused -> dropped, staff memo -> new column 4,
    # subject -> 0, a blank-headed column 5 holding data -> new column 5, column 6 -> new 6
    assert plan.positions == (1, 3, None, 4, 0, None, 5)
    assert plan.added == ((4, STAFF_HEADER), (5, ""))
    assert plan.place(["C-1", "Closed", "", "memo", "leak", "", "x"]) == [
        "leak", "C-1", "", "Closed", "memo", "x"]
    assert plan.header(target) == target + [STAFF_HEADER, ""]
    new_tab = plan_columns(source, [], filled={0})
    assert new_tab.positions == (0, 1, 2, 3, 4) and new_tab.header([]) == source


def test_a_blank_headed_column_keeps_its_place_when_the_target_has_it_blank_too():
    source = ["编号 Reference", "", "主题 Subject"]
    plan = plan_columns(source, ["编号 Reference", "", "主题 Subject"], filled={0, 1, 2})
    assert plan.positions == (0, 1, 2) and plan.added == ()
    plan = plan_columns(source, ["编号 Reference", "主题 Subject"], filled={0, 1, 2})
    assert plan.positions == (0, 2, 1) and plan.added == ((2, ""),)


def test_required_columns_are_added_with_their_bilingual_header():
    plan = plan_columns(["编号 Reference"], ["编号 Reference", "主题 Subject"], filled={0},
                        required_keys=["status"])
    assert plan.keys["status"] == 2 and plan.added == ((2, "状态 Status"),)


# ---- both backends ---------------------------------------------------------------------------


class GoogleSide:
    """The Google register on the emulator, and staff's gspread view of the same spreadsheet."""

    name = "google"

    def __init__(self, emulator: SheetsEmulator, tmp_path: Path):
        self.emu = emulator
        key = write_service_account_key(emulator.base_url, ROBOT, tmp_path / "key.json")
        self.sid = emulator.create_spreadsheet(ROBOT, title="Park register")
        cfg = SimpleNamespace(backend="google", spreadsheet_id=self.sid, credentials_file=key,
                              api_endpoint=emulator.base_url, path=None)
        self.register = open_register(cfg, sleep=lambda seconds: None)
        self.staff = gspread_client(emulator.base_url, key).open_by_key(self.sid)
        self._before: dict[str, int] = {}

    def titles(self) -> list[str]:
        return [ws.title for ws in self.staff.worksheets()]

    def values(self, title: str) -> list[list[str]]:
        return [trim(row) for row in self.staff.worksheet(title).get_all_values()]

    def frozen_rows(self, title: str) -> int:
        return self.staff.worksheet(title).frozen_row_count

    def add_staff_column(self, header: str, cells: dict[int, str]) -> None:
        tab = self.staff.worksheet("Register")
        column = len(HEADERS) + 1
        if tab.col_count < column:
            tab.add_cols(column - tab.col_count)
        tab.update_cell(1, column, header)
        for row, text in cells.items():
            tab.update_cell(row, column, text)

    def insert_staff_row(self, row_number: int, cells: list[str]) -> None:
        self.staff.worksheet("Register").insert_row(cells, index=row_number)

    def make_tab(self, title: str, rows: list[list[str]]) -> None:
        tab = self.staff.add_worksheet(title, rows=50, cols=40)
        tab.update(rows, "A1", raw=True)

    def cell_is_text(self, title: str, row: int, column: int) -> bool:
        answer = self.staff.fetch_sheet_metadata(params={
            "includeGridData": "true", "ranges": f"'{title}'!{rowcol_to_a1(row, column)}",
            "fields": "sheets(data(rowData(values(userEnteredValue))))"})
        value = answer["sheets"][0]["data"][0]["rowData"][0]["values"][0]["userEnteredValue"]
        return set(value) == {"stringValue"}

    def start_counting(self) -> None:
        self._before = self.emu.request_counts()

    def requests(self) -> dict[str, int]:
        after = self.emu.request_counts()
        return {k.removeprefix("sheets.spreadsheets."): after[k] - self._before.get(k, 0)
                for k in after if after[k] != self._before.get(k, 0)
                and k not in ("reads", "writes")}


class WorkbookSide:
    """The workbook register on a temporary file, and staff editing the file with openpyxl."""

    name = "workbook"

    def __init__(self, tmp_path: Path):
        self.path = tmp_path / "register.xlsx"
        self.register = WorkbookRegister(self.path, sleep=lambda seconds: None)
        self._before: dict[str, int] = {}

    def _staff_edit(self, edit) -> None:
        book = openpyxl.load_workbook(self.path)
        edit(book)
        book.save(self.path)

    def titles(self) -> list[str]:
        return openpyxl.load_workbook(self.path, read_only=True).sheetnames

    def values(self, title: str) -> list[list[str]]:
        sheet = openpyxl.load_workbook(self.path)[title]
        rows = [trim(display_text(v) for v in row) for row in sheet.iter_rows(values_only=True)]
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def frozen_rows(self, title: str) -> int:
        return 1 if openpyxl.load_workbook(self.path)[title].freeze_panes == "A2" else 0

    def add_staff_column(self, header: str, cells: dict[int, str]) -> None:
        def edit(book):
            sheet = book["Register"]
            sheet.cell(row=1, column=len(HEADERS) + 1, value=header)
            for row, text in cells.items():
                sheet.cell(row=row, column=len(HEADERS) + 1, value=text)
        self._staff_edit(edit)

    def insert_staff_row(self, row_number: int, cells: list[str]) -> None:
        def edit(book):
            sheet = book["Register"]
            sheet.insert_rows(row_number)
            for index, text in enumerate(cells):
                sheet.cell(row=row_number, column=index + 1, value=text or None)
        self._staff_edit(edit)

    def make_tab(self, title: str, rows: list[list[str]]) -> None:
        def edit(book):
            sheet = book.create_sheet(title)
            for row in rows:
                sheet.append(row)
        self._staff_edit(edit)

    def cell_is_text(self, title: str, row: int, column: int) -> bool:
        cell = openpyxl.load_workbook(self.path)[title].cell(row=row, column=column)
        return cell.data_type == "s"

    def start_counting(self) -> None:
        self._before = dict(self.register.request_counts)

    def requests(self) -> dict[str, int]:
        after = self.register.request_counts
        return {k: after[k] - self._before.get(k, 0) for k in after
                if after[k] != self._before.get(k, 0)}


@pytest.fixture(scope="module")
def emulator():
    emu = SheetsEmulator(port=0)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture(params=["google", "workbook"])
def side(request, tmp_path):
    if request.param == "google":
        emulator = request.getfixturevalue("emulator")
        emulator.set_quota(None, None)
        return GoogleSide(emulator, tmp_path)
    return WorkbookSide(tmp_path)


def fill(side, count: int) -> None:
    """Register laid out, ``count`` closed complaints, a staff column with a memo on row 3."""
    side.register.ensure_layout()
    side.register.append_complaints([complaint(n) for n in range(1, count + 1)])
    side.add_staff_column(STAFF_HEADER, {3: "memo 2"})


WALK_IN = ["", "New 新建", "", "", "", "", "", "", "电话投诉 walk-in"]


def test_rows_move_to_new_archive_tabs_in_one_write(side):
    fill(side, 5)
    side.insert_staff_row(4, WALK_IN)  # a walk-in typed between rows 2 and 3 of the complaints
    register_before = side.values("Register")

    side.start_counting()
    moved = side.register.archive_rows({"Archive 2025": [ref(2), ref(4)], "Archive 2024": [ref(1)]})

    assert moved == 3
    if side.name == "google":
        assert side.requests() == {"get": 1, "values.batchGet": 1, "batchUpdate": 1}
    else:
        assert side.requests() == {"workbook.load": 1, "workbook.save": 1}
    header = HEADERS + [STAFF_HEADER]
    assert side.values("Archive 2025") == [header, expected_cells(2, "memo 2"), expected_cells(4)]
    assert side.values("Archive 2024") == [header, expected_cells(1)]
    assert side.frozen_rows("Archive 2025") == 1 and side.frozen_rows("Archive 2024") == 1
    # Formula-looking text stays text: =1+1+1 and =IMPORTXML(...) are not computed.
    subject = HEADERS.index("主题 Subject") + 1
    assert side.cell_is_text("Archive 2025", 2, subject)
    assert side.cell_is_text("Archive 2024", 2, subject)
    # Register keeps the other rows, the walk-in included, exactly as they were.
    register_after = side.values("Register")
    kept = [row for row in register_before if row[:1] not in ([ref(1)], [ref(2)], [ref(4)])]
    assert register_after == kept
    assert [row[0] if row else "" for row in register_after[1:]] == ["", ref(3), ref(5)]
    assert [r.reference for r in side.register.read_register()] == ["", ref(3), ref(5)]


def test_an_existing_archive_tab_is_reused_in_its_own_column_order(side):
    fill(side, 3)
    old_header = ["主题 Subject", "Reference", "状态", "Notes of the archive"]
    side.make_tab("Archive 2025", [old_header, ["old subject", "C-241201-001", CLOSED, "kept"]])
    titles_before = side.titles()

    assert side.register.archive_rows({"Archive 2025": [ref(2)]}) == 1

    assert side.titles() == [t for t in titles_before]  # no new tab
    values = side.values("Archive 2025")
    # Our columns the tab lacked come after its last header, then the staff memo column.
    missing = [c.header for c in REGISTER_COLUMNS
               if c.key not in ("subject", "reference", "status")]
    assert values[0] == old_header + missing + [STAFF_HEADER]
    assert values[1] == ["old subject", "C-241201-001", CLOSED, "kept"]
    row = complaint(2)
    assert values[2] == (
        [row["subject"], ref(2), CLOSED, ""]
        + [row[c.key] for c in REGISTER_COLUMNS if c.key not in ("subject", "reference", "status")]
        + ["memo 2"])
    assert side.cell_is_text("Archive 2025", 3, 1)
    found = side.register.find_archived(ref(2))
    assert found is not None and found[0] == "Archive 2025"
    assert dict(found[1].values) == complaint(2) and found[1].row_number == 3


def test_a_tab_named_in_another_case_is_the_same_tab(side):
    fill(side, 2)
    side.make_tab("archive 2025", [HEADERS])
    assert side.register.archive_rows({"Archive 2025": [ref(1)]}) == 1
    assert "Archive 2025" not in side.titles()
    assert side.values("archive 2025")[1] == expected_cells(1)


def test_a_missing_or_doubled_reference_moves_nothing(side):
    fill(side, 3)
    before = side.values("Register")
    side.start_counting()
    with pytest.raises(RegisterError, match="C-999"):
        side.register.archive_rows({"Archive 2025": [ref(1), "C-999"]})
    assert "batchUpdate" not in side.requests() and "workbook.save" not in side.requests()
    side.insert_staff_row(5, [ref(2), CLOSED, "copy typed by staff"])
    with pytest.raises(RegisterError, match="rows 3 and 5"):
        side.register.archive_rows({"Archive 2025": [ref(2)]})
    assert "Archive 2025" not in side.titles()
    assert side.values("Register")[:4] == before[:4]


def test_many_scattered_rows_move_in_one_batch(side):
    side.register.ensure_layout()
    side.register.append_complaints([complaint(n) for n in range(1, 41)])
    chosen = [n for n in range(1, 41) if n % 3 != 1]  # 26 rows in runs of two
    side.start_counting()
    assert side.register.archive_rows({"Archive 2025": [ref(n) for n in chosen]}) == len(chosen)
    requests = side.requests()
    assert requests.get("batchUpdate", 0) + requests.get("workbook.save", 0) == 1
    assert [r.reference for r in side.register.read_register()] == [
        ref(n) for n in range(1, 41) if n % 3 == 1]
    assert [row[0] for row in side.values("Archive 2025")[1:]] == [ref(n) for n in chosen]
    assert side.values("Archive 2025")[10] == expected_cells(chosen[9])


def test_find_and_restore_round_trip(side):
    fill(side, 4)
    side.register.archive_rows({"Archive 2025": [ref(2), ref(3)]})
    assert side.register.find_archived("C-404") is None

    side.start_counting()
    tab, row = side.register.find_archived(ref(2).lower())
    if side.name == "google":
        assert side.requests() == {"get": 1, "values.batchGet": 1}
    assert tab == "Archive 2025" and row.row_number == 2 and dict(row.values) == complaint(2)

    side.start_counting()
    reopened = STATUS_LABELS[Status.REOPENED]
    restored = side.register.restore_archived(ref(2), changes={"status": reopened, "closed_at": ""})
    if side.name == "google":
        assert side.requests() == {"get": 1, "values.batchGet": 1, "batchUpdate": 1}
    else:  # the file as ParkDesk last saved it is not loaded again
        assert side.requests()["workbook.save"] == 1
        assert side.requests().get("workbook.load", 0) <= 1
    assert restored.reference == ref(2) and restored.get("status") == reopened
    assert restored.get("closed_at") == "" and restored.get("content") == "content 2"
    rows = side.register.read_register()
    assert [r.reference for r in rows] == [ref(1), ref(4), ref(2)]
    assert rows[-1].row_number == restored.row_number == 4
    assert dict(rows[-1].values) == {**complaint(2), "status": reopened, "closed_at": ""}
    register = side.values("Register")
    assert register[0][-1] == STAFF_HEADER and register[3][-1] == "memo 2"  # the memo came back
    assert side.values("Archive 2025") == [HEADERS + [STAFF_HEADER], expected_cells(3)]
    assert side.register.find_archived(ref(2)) is None


def test_the_newest_archive_is_searched_first(side):
    fill(side, 2)
    side.register.archive_rows({"Archive 2024": [ref(1)]})
    side.make_tab("Archive 2025", [HEADERS, [ref(1), CLOSED, "a later copy"]])
    tab, row = side.register.find_archived(ref(1))
    assert tab == "Archive 2025" and row.get("received_at") == "a later copy"


def test_restore_refuses_what_it_cannot_do_safely(side):
    fill(side, 2)
    with pytest.raises(RegisterError, match="C-404 is in no archive tab"):
        side.register.restore_archived("C-404")
    side.register.archive_rows({"Archive 2025": [ref(1)]})
    side.register.append_complaints([complaint(1)])  # typed in again by staff
    with pytest.raises(RegisterError, match="already in the Register"):
        side.register.restore_archived(ref(1))
    side.make_tab("Archive 2026", [HEADERS, [ref(7), CLOSED], [ref(7), CLOSED]])
    with pytest.raises(RegisterError, match="rows 2, 3 of the Archive 2026"):
        side.register.restore_archived(ref(7))
    with pytest.raises(RegisterError, match="not a column"):
        side.register.restore_archived(ref(1), changes={"colour": "red"})
    assert len(side.values("Archive 2025")) == 2
