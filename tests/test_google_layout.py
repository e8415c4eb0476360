"""The Google register's layout (``parkdesk init``): built, checked through gspread, repaired.

Everything runs against the Sheets API emulator over real HTTP; the layout is read back with
gspread, unpatched, as a separate client (the staff member's view).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from daemon.config import load_config
from daemon.intake.rows import YES
from daemon.register.errors import RegisterAccessError, RegisterError
from daemon.register.google_layout import (
    PROTECTION_DESCRIPTION,
    apply_google_layout,
    create_register_spreadsheet,
    formula_text,
    normal_range,
    same_rule,
    wanted_rules,
)
from daemon.register.google_sheet import (
    GoogleRegister,
    column_letter,
)
from daemon.register.layout_rules import (
    NO,
    column_pixels,
    daemon_owned_keys,
    late_formula,
    serious_formula,
    status_labels,
    waiting_formula,
)
from daemon.sheet_layout import (
    ACTIVITY_COLUMNS,
    ACTIVITY_TAB,
    DEPARTMENTS_TAB,
    REGISTER_COLUMNS,
    REGISTER_TAB,
)
from tests.sheets_emulator.client import gspread_client
from tests.sheets_emulator.fixtures import SERVICE_ACCOUNT_EMAIL

SHIPPED_CONFIG = Path(__file__).resolve().parent.parent / "config.yaml"
STAFF = "staff@park.example.com"
SERVICE_CENTER = ["service@park.example.com", "desk@park.example.com"]
COLUMNS = {column.key: index for index, column in enumerate(REGISTER_COLUMNS)}
WRITES = ("sheets.spreadsheets.batchUpdate", "sheets.spreadsheets.values.batchUpdate",
          "sheets.spreadsheets.values.update", "sheets.spreadsheets.values.append",
          "drive.permissions.create")


def park_config(tmp_path: Path, emulator, key: Path, spreadsheet_id: str, language: str = "en"):
    """The shipped config.yaml pointed at the emulator's spreadsheet."""
    data = yaml.safe_load(SHIPPED_CONFIG.read_text(encoding="utf-8"))
    data["park"]["language"] = language
    data["register"] = {"backend": "google", "spreadsheet_id": spreadsheet_id,
                        "credentials_file": str(key), "api_endpoint": emulator.base_url}
    data["service_center"] = SERVICE_CENTER
    data["state_dir"] = str(tmp_path / "state")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_config(path)


@pytest.fixture
def shared_sheet(sheets_emulator, service_account_key):
    """A spreadsheet a staff member created and shared with the service account."""
    sid = sheets_emulator.create_spreadsheet(STAFF, title="Complaints")
    sheets_emulator.share(sid, SERVICE_ACCOUNT_EMAIL, role="writer")
    return sid


@pytest.fixture
def config(tmp_path, sheets_emulator, service_account_key, shared_sheet):
    return park_config(tmp_path, sheets_emulator, service_account_key, shared_sheet)


@pytest.fixture
def staff_view(sheets_emulator, service_account_key):
    """gspread as a second client, to read what the layout left."""
    return gspread_client(sheets_emulator.base_url, service_account_key)


def writes(counts: dict[str, int]) -> dict[str, int]:
    return {kind: counts[kind] for kind in WRITES if counts.get(kind)}


def read_register_grid(staff_view, sid: str) -> dict:
    """The Register tab as spreadsheets.get answers it with grid data (validations included)."""
    spreadsheet = staff_view.open_by_key(sid)
    meta = spreadsheet.fetch_sheet_metadata(params={
        "includeGridData": "true",
        "ranges": [f"'{REGISTER_TAB}'", f"'{ACTIVITY_TAB}'!1:1"],
        "fields": "properties(timeZone),sheets(properties,conditionalFormats,protectedRanges,"
                  "data(rowData(values(dataValidation,formattedValue)),columnMetadata(pixelSize)))",
    })
    return meta


def validation_values(rule: dict) -> list[str]:
    return [value["userEnteredValue"] for value in rule["condition"]["values"]]


def test_first_run_lays_out_everything(config, shared_sheet, staff_view, sheets_emulator):
    report = apply_google_layout(config)

    assert report.spreadsheet_id == shared_sheet
    assert report.spreadsheet_url.endswith(f"/d/{shared_sheet}/edit")
    assert len(report.changes) >= 6, report.changes
    meta = read_register_grid(staff_view, shared_sheet)
    assert meta["properties"]["timeZone"] == "Asia/Shanghai"
    sheets = {sheet["properties"]["title"]: sheet for sheet in meta["sheets"]}
    register, activity = sheets[REGISTER_TAB], sheets[ACTIVITY_TAB]

    # tabs, bilingual headers, frozen row (ensure_layout's work, reused)
    spreadsheet = staff_view.open_by_key(shared_sheet)
    titles = [worksheet.title for worksheet in spreadsheet.worksheets()]
    assert {REGISTER_TAB, ACTIVITY_TAB, DEPARTMENTS_TAB} <= set(titles)
    worksheet = spreadsheet.worksheet(REGISTER_TAB)
    assert worksheet.row_values(1) == [column.header for column in REGISTER_COLUMNS]
    assert worksheet.frozen_row_count == 1

    # widths
    widths = [column.get("pixelSize") for column in register["data"][0]["columnMetadata"]]
    for column in REGISTER_COLUMNS:
        assert widths[COLUMNS[column.key]] == column_pixels(column), column.key
    assert widths[COLUMNS["content"]] == 425 and widths[COLUMNS["content"]] > widths[COLUMNS["phone"]]
    activity_widths = [c["pixelSize"] for c in activity["data"][0]["columnMetadata"]]
    assert activity_widths[4] == column_pixels(ACTIVITY_COLUMNS[4])

    # drop-downs on every data row of the five columns, nowhere else
    rows = register["data"][0]["rowData"]
    row_count = register["properties"]["gridProperties"]["rowCount"]
    assert len(rows) == row_count
    expected = {
        "status": status_labels(),
        "category": [category.name for category in config.categories],
        "priority": [priority.name for priority in config.priorities],
        "serious": [YES, NO],
        "department": [department.name for department in config.departments],
    }
    for key, values in expected.items():
        index = COLUMNS[key]
        assert "dataValidation" not in rows[0]["values"][index]  # not on the header
        for row in rows[1:]:
            rule = row["values"][index]["dataValidation"]
            assert rule["condition"]["type"] == "ONE_OF_LIST"
            assert validation_values(rule) == values
            assert rule.get("showCustomUi") is True and not rule.get("strict")
    assert all("dataValidation" not in cell
               for row in rows[1:] for index, cell in enumerate(row["values"])
               if index not in {COLUMNS[key] for key in expected})

    # conditional formatting: late red, waiting amber, serious bold, in that order
    letters = {key: column_letter(index) for key, index in COLUMNS.items()}
    rules = register["conditionalFormats"]
    assert [r["booleanRule"]["condition"]["values"][0]["userEnteredValue"] for r in rules] == [
        late_formula(letters), waiting_formula(letters), serious_formula(letters)]
    for rule in rules:
        assert rule["ranges"] == [{"sheetId": register["properties"]["sheetId"]}]
        assert rule["booleanRule"]["condition"]["type"] == "CUSTOM_FORMULA"
    late, waiting, serious = (rule["booleanRule"]["format"] for rule in rules)
    assert late["backgroundColor"]["red"] > late["backgroundColor"]["green"]
    assert waiting["backgroundColor"]["red"] > waiting["backgroundColor"]["green"] > \
        waiting["backgroundColor"].get("blue", 0)
    assert serious["textFormat"]["bold"] is True and "backgroundColor" not in serious

    # warning-only protection of the daemon's columns, the header row and Activity
    protected = [item for item in register["protectedRanges"]
                 if item.get("description") == PROTECTION_DESCRIPTION]
    assert all(item["warningOnly"] for item in protected)
    covered = set()
    for item in protected:
        rng = item["range"]
        if rng.get("endRowIndex") == 1:
            continue
        assert "startRowIndex" not in rng and "endRowIndex" not in rng  # the whole height
        covered |= set(range(rng["startColumnIndex"], rng["endColumnIndex"]))
    assert covered == {COLUMNS[key] for key in daemon_owned_keys()}
    assert COLUMNS["reference"] in covered and COLUMNS["message_id"] in covered
    assert COLUMNS["status"] not in covered and COLUMNS["notes"] not in covered
    assert any(item["range"].get("endRowIndex") == 1 for item in protected)
    assert [item["warningOnly"] for item in activity["protectedRanges"]
            if item.get("description") == PROTECTION_DESCRIPTION] == [True]

    # shared with the service center as editors, no one else added
    permissions = {p["emailAddress"]: p["role"] for p in staff_view.list_permissions(shared_sheet)}
    assert permissions == {STAFF: "owner", SERVICE_ACCOUNT_EMAIL: "writer",
                           **{address: "writer" for address in SERVICE_CENTER}}


def test_second_run_changes_nothing_and_keeps_the_data(config, shared_sheet, staff_view,
                                                       sheets_emulator):
    apply_google_layout(config)
    worksheet = staff_view.open_by_key(shared_sheet).worksheet(REGISTER_TAB)
    row = [""] * len(REGISTER_COLUMNS)
    row[COLUMNS["reference"]] = "C-250514-001"
    row[COLUMNS["status"]] = "在处理 whatever staff typed"  # not in the list: kept as typed
    row[COLUMNS["subject"]] = "=IMPORTXML(\"x\")"
    row[COLUMNS["serious"]] = YES
    worksheet.append_rows([row, ["C-250514-002", status_labels()[1]]], value_input_option="RAW")
    before = worksheet.get_all_values()
    sheets_emulator.reset_counts()

    report = apply_google_layout(config)

    assert report.changes == []
    counts = sheets_emulator.request_counts()
    assert writes(counts) == {}, counts
    assert counts.get("writes", 0) == 0, counts
    assert worksheet.get_all_values() == before
    assert worksheet.acell("I2", value_render_option="FORMULA").value == "=IMPORTXML(\"x\")"


def test_repairs_what_staff_broke_and_only_that(config, shared_sheet, staff_view,
                                                 sheets_emulator):
    apply_google_layout(config)
    spreadsheet = staff_view.open_by_key(shared_sheet)
    worksheet = spreadsheet.worksheet(REGISTER_TAB)
    worksheet.update([["C-250514-001", status_labels()[0]]], "A2", raw=True)
    sheet_id = worksheet.id
    meta = spreadsheet.fetch_sheet_metadata(params={"fields": "sheets(properties(sheetId),"
                                                              "protectedRanges)"})
    ours = [item for sheet in meta["sheets"] if sheet["properties"]["sheetId"] == sheet_id
            for item in sheet.get("protectedRanges", [])
            if item.get("description") == PROTECTION_DESCRIPTION]
    status = COLUMNS["status"]
    spreadsheet.batch_update({"requests": [
        # a staff member clears the drop-down of rows 10-20 and deletes the first rule
        {"setDataValidation": {"range": {"sheetId": sheet_id, "startRowIndex": 9,
                                         "endRowIndex": 20, "startColumnIndex": status,
                                         "endColumnIndex": status + 1}}},
        {"deleteConditionalFormatRule": {"sheetId": sheet_id, "index": 0}},
        {"deleteProtectedRange": {"protectedRangeId": ours[-1]["protectedRangeId"]}},
        # and adds a rule of their own, which must stay
        {"addConditionalFormatRule": {"index": 0, "rule": {
            "ranges": [{"sheetId": sheet_id, "startColumnIndex": 33, "endColumnIndex": 34}],
            "booleanRule": {"condition": {"type": "NOT_BLANK"},
                            "format": {"textFormat": {"italic": True}}}}}},
    ]})
    sheets_emulator.reset_counts()

    report = apply_google_layout(config)

    assert any("状态 Status" in change for change in report.changes)
    assert any("highlights" in change for change in report.changes)
    assert any("Protected" in change for change in report.changes)
    assert not any("width" in change or "Shared" in change for change in report.changes)
    assert sheets_emulator.request_counts().get("sheets.spreadsheets.batchUpdate") == 1
    meta = read_register_grid(staff_view, shared_sheet)
    register = next(s for s in meta["sheets"] if s["properties"]["title"] == REGISTER_TAB)
    rows = register["data"][0]["rowData"]
    assert all(validation_values(row["values"][status]["dataValidation"]) == status_labels()
               for row in rows[1:])
    formats = register["conditionalFormats"]
    assert len(formats) == 4
    assert formats[3]["booleanRule"]["condition"]["type"] == "NOT_BLANK"
    assert worksheet.row_values(2)[:2] == ["C-250514-001", status_labels()[0]]
    assert apply_google_layout(config).changes == []


def test_a_width_staff_chose_is_kept(config, shared_sheet, staff_view):
    apply_google_layout(config)
    worksheet = staff_view.open_by_key(shared_sheet).worksheet(REGISTER_TAB)
    worksheet.columns_auto_resize(COLUMNS["content"], COLUMNS["content"] + 1)
    worksheet.update([["x" * 10]], f"{column_letter(COLUMNS['notes'])}2", raw=True)
    staff_view.open_by_key(shared_sheet).batch_update({"requests": [{
        "updateDimensionProperties": {
            "range": {"sheetId": worksheet.id, "dimension": "COLUMNS",
                      "startIndex": COLUMNS["notes"], "endIndex": COLUMNS["notes"] + 1},
            "properties": {"pixelSize": 333}, "fields": "pixelSize"}}]})

    assert apply_google_layout(config).changes == []
    meta = read_register_grid(staff_view, shared_sheet)
    register = next(s for s in meta["sheets"] if s["properties"]["title"] == REGISTER_TAB)
    assert register["data"][0]["columnMetadata"][COLUMNS["notes"]]["pixelSize"] == 333


def test_moved_columns_get_rules_and_protection_where_they_are(tmp_path, sheets_emulator,
                                                               service_account_key, staff_view):
    """A sheet whose header staff laid out in another order: the layout follows the headers."""
    sid = sheets_emulator.create_spreadsheet(STAFF, title="Own order")
    sheets_emulator.share(sid, SERVICE_ACCOUNT_EMAIL)
    headers = [column.header for column in REGISTER_COLUMNS]
    headers.insert(0, headers.pop(COLUMNS["status"]))  # status first
    spreadsheet = staff_view.open_by_key(sid)
    spreadsheet.sheet1.update_title(REGISTER_TAB)
    spreadsheet.sheet1.resize(cols=len(headers))
    spreadsheet.sheet1.update([headers], "A1", raw=True)
    config = park_config(tmp_path, sheets_emulator, service_account_key, sid)

    apply_google_layout(config)

    meta = read_register_grid(staff_view, sid)
    register = next(s for s in meta["sheets"] if s["properties"]["title"] == REGISTER_TAB)
    rows = register["data"][0]["rowData"]
    assert validation_values(rows[1]["values"][0]["dataValidation"]) == status_labels()
    late = register["conditionalFormats"][0]["booleanRule"]["condition"]["values"][0]
    assert late["userEnteredValue"].startswith('=AND(ROW()>1,OR(AND(REGEXMATCH($A1,')
    protected = {(item["range"].get("startColumnIndex"), item["range"].get("endColumnIndex"))
                 for item in register["protectedRanges"]}
    assert (1, 3) in protected  # reference and received, now columns B and C
    assert apply_google_layout(config).changes == []


def test_unshared_sheet_says_to_share_it_with_the_service_account(tmp_path, sheets_emulator,
                                                                  service_account_key):
    sid = sheets_emulator.create_spreadsheet(STAFF, title="Not shared")
    config = park_config(tmp_path, sheets_emulator, service_account_key, sid)

    with pytest.raises(RegisterAccessError) as caught:
        apply_google_layout(config)

    message = str(caught.value)
    assert f"Share the sheet with {SERVICE_ACCOUNT_EMAIL} as Editor" in message
    assert caught.value.status == 403
    assert sheets_emulator.request_counts().get("writes", 0) == 0


def test_reader_access_says_to_share_as_editor(tmp_path, sheets_emulator, service_account_key):
    sid = sheets_emulator.create_spreadsheet(STAFF, title="Read only")
    sheets_emulator.share(sid, SERVICE_ACCOUNT_EMAIL, role="reader")
    config = park_config(tmp_path, sheets_emulator, service_account_key, sid)

    with pytest.raises(RegisterError) as caught:
        apply_google_layout(config)

    assert f"{SERVICE_ACCOUNT_EMAIL} as Editor" in str(caught.value)


def test_unknown_spreadsheet_says_so(tmp_path, sheets_emulator, service_account_key):
    config = park_config(tmp_path, sheets_emulator, service_account_key, "1NoSuchSheet")

    with pytest.raises(RegisterAccessError) as caught:
        apply_google_layout(config)

    assert "does not exist" in str(caught.value) and "1NoSuchSheet" in str(caught.value)


def test_quota_exhausted_is_said_plainly(config, sheets_emulator):
    waits: list[float] = []
    sheets_emulator.fail_next(3, status=429)

    with pytest.raises(RegisterError) as caught:
        apply_google_layout(config, sleep=waits.append, max_attempts=3)

    assert "did not answer after 3 tries" in str(caught.value)
    assert "429 quota exceeded" in str(caught.value)
    assert len(waits) == 2 and min(waits) >= 16  # Google's quotas refill per minute
    assert sheets_emulator.request_counts().get("writes", 0) == 0


def test_quota_hiccup_is_retried_and_the_layout_completes(config, sheets_emulator):
    waits: list[float] = []
    sheets_emulator.fail_next(2, status=429)

    report = apply_google_layout(config, sleep=waits.append)

    assert len(waits) == 2 and report.changes


def test_created_spreadsheet_is_owned_by_the_service_account_and_laid_out(
        tmp_path, sheets_emulator, service_account_key, staff_view):
    sid = create_register_spreadsheet(service_account_key, sheets_emulator.base_url,
                                      "东湖科技产业园 投诉登记 Complaints")
    config = park_config(tmp_path, sheets_emulator, service_account_key, sid)

    report = apply_google_layout(config)

    assert report.spreadsheet_id == sid and report.changes
    spreadsheet = staff_view.open_by_key(sid)
    assert spreadsheet.title == "东湖科技产业园 投诉登记 Complaints"
    assert [ws.title for ws in spreadsheet.worksheets()] == [REGISTER_TAB, ACTIVITY_TAB,
                                                             DEPARTMENTS_TAB]
    permissions = {p["emailAddress"]: p["role"] for p in staff_view.list_permissions(sid)}
    assert permissions[SERVICE_ACCOUNT_EMAIL] == "owner"
    assert all(permissions[address] == "writer" for address in SERVICE_CENTER)
    assert apply_google_layout(config).changes == []


def test_create_refused_says_to_create_and_share_the_sheet_by_hand(
        tmp_path, sheets_emulator, service_account_key):
    """New Google Cloud projects give service accounts no Drive storage: Google answers 403."""
    sheets_emulator.fail_next(1, status=403)

    with pytest.raises(RegisterAccessError) as caught:
        create_register_spreadsheet(service_account_key, sheets_emulator.base_url, "Register")

    message = str(caught.value)
    assert f"Google did not let {SERVICE_ACCOUNT_EMAIL} create a spreadsheet" in message
    assert f"share it with {SERVICE_ACCOUNT_EMAIL} as Editor" in message
    assert "register.spreadsheet_id" in message
    assert sheets_emulator.request_counts().get("sheets.spreadsheets.create") == 1  # not retried


def test_create_with_a_key_google_does_not_know(tmp_path, sheets_emulator, service_account_key):
    info = json.loads(Path(service_account_key).read_text())
    info["client_email"] = "stranger@elsewhere.iam.gserviceaccount.com"
    info["private_key_id"] = "0" * 40
    key = tmp_path / "stranger.json"
    key.write_text(json.dumps(info))

    with pytest.raises(RegisterAccessError) as caught:
        create_register_spreadsheet(key, sheets_emulator.base_url, "Register")

    assert f"register.credentials_file ({key})" in str(caught.value)
    assert "new JSON key" in str(caught.value)


def test_service_center_already_editor_is_not_shared_again(config, shared_sheet, sheets_emulator):
    sheets_emulator.share(shared_sheet, SERVICE_CENTER[0].upper(), role="writer")
    sheets_emulator.share(shared_sheet, SERVICE_CENTER[1], role="reader")

    report = apply_google_layout(config)

    shared = [change for change in report.changes if change.startswith("Shared")]
    assert shared == [f"Shared the sheet as Editor with {SERVICE_CENTER[1]}"]
    assert sheets_emulator.request_counts().get("drive.permissions.create") == 1


def test_address_without_google_account_is_invited(config, shared_sheet, sheets_emulator,
                                                   staff_view):
    sheets_emulator.set_without_google_account(SERVICE_CENTER[1])

    report = apply_google_layout(config)

    assert f"{SERVICE_CENTER[1]} has no Google account" in " ".join(report.changes)
    permissions = {p["emailAddress"]: p["role"] for p in staff_view.list_permissions(shared_sheet)}
    assert permissions[SERVICE_CENTER[0]] == permissions[SERVICE_CENTER[1]] == "writer"
    assert sheets_emulator.request_counts().get("drive.permissions.create") == 3
    assert apply_google_layout(config).changes == []


def test_formula_text_ignores_spaces_and_case_outside_strings():
    assert formula_text('=and( $b2 = "New 新建" )') == formula_text('=AND($B2="New 新建")')
    assert formula_text('="a b"') != formula_text('="ab"')


def test_register_accessors_are_public(config):
    register = GoogleRegister.from_config(config.register)
    assert register.header_columns(REGISTER_TAB) is None
    register.ensure_layout()
    assert register.header_columns(REGISTER_TAB) == COLUMNS
    assert register.http_client.service_account_email == SERVICE_ACCOUNT_EMAIL


def test_highlight_formulas_mark_the_right_rows(config, shared_sheet, staff_view):
    """The three rule formulas evaluated by the emulator's formula engine on sample rows, each
    put in a spare column as the rule sees it in that row (references moved to its row)."""
    apply_google_layout(config)  # also sets the time zone NOW() uses to the park's
    now = datetime.now(config.park.tz).replace(tzinfo=None)
    past = (now - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    future = (now + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    labels = dict(zip(["new", "dispatched", "acknowledged", "resolved"], status_labels()))
    samples = [  # (cells, late, waiting, serious)
        ({"status": labels["dispatched"], "ack_due": past, "resolve_by": future}, True, True, False),
        ({"status": labels["dispatched"], "ack_due": future, "resolve_by": future}, False, True, False),
        ({"status": "已派单", "ack_due": past, "acknowledged_at": past}, False, False, False),
        ({"status": labels["acknowledged"], "acknowledged_at": past, "resolve_by": past},
         True, False, False),
        ({"status": labels["resolved"], "resolve_by": past, "resolved_at": past}, False, False, False),
        ({"status": labels["new"], "serious": YES}, False, False, True),
        ({"status": labels["dispatched"], "ack_due": "tomorrow", "serious": "否 No"},
         False, True, False),
        ({"status": "reopened", "ack_due": past, "serious": "yes"}, True, True, True),
        ({"status": labels["acknowledged"], "resolve_by": past, "resolved_at": "",
          "serious": "Y"}, True, False, True),
    ]
    worksheet = staff_view.open_by_key(shared_sheet).worksheet(REGISTER_TAB)
    letters = {key: column_letter(index) for key, index in COLUMNS.items()}
    formulas = [late_formula(letters), waiting_formula(letters), serious_formula(letters)]
    spare = len(REGISTER_COLUMNS) + 1

    def at_row(formula: str, row: int) -> str:
        return re.sub(r"\$([A-Z]+)1(?![0-9])", lambda m: f"${m.group(1)}{row}", formula)

    grid = []
    for cells, *_ in samples:
        row = [""] * len(REGISTER_COLUMNS)
        for key, value in cells.items():
            row[COLUMNS[key]] = value
        grid.append(row)
    worksheet.update(grid, "A2", raw=True)
    worksheet.add_cols(4)
    block = [[at_row(formula, 1) for formula in formulas]]
    block += [[at_row(formula, number) for formula in formulas]
              for number in range(2, len(samples) + 2)]
    start = column_letter(spare)
    worksheet.update(block, f"{start}1", raw=False)  # USER_ENTERED: the formulas are evaluated

    results = worksheet.get(f"{start}1:{column_letter(spare + 2)}{len(samples) + 1}",
                            value_render_option="UNFORMATTED_VALUE")
    assert results[0] == [False, False, False]  # the header row is never highlighted
    for (cells, *expected), got in zip(samples, results[1:]):
        assert got == expected, cells


def test_rows_the_daemon_appends_get_their_drop_downs_at_the_next_run(config, shared_sheet,
                                                                     staff_view):
    """values.append inserts rows below the table; the first ones (below the header) cannot
    inherit a drop-down from it: the next run adds it there, and changes no value."""
    apply_google_layout(config)
    register = GoogleRegister.from_config(config.register)
    register.ensure_layout()
    register.append_complaints([{"reference": f"C-250514-00{n}", "status": "在处理",
                                 "serious": YES} for n in range(1, 4)])
    worksheet = staff_view.open_by_key(shared_sheet).worksheet(REGISTER_TAB)
    before = worksheet.get_all_values()

    changes = apply_google_layout(config).changes

    assert changes == [("Set the drop-down lists of 状态 Status, 类别 Category, 优先级 Priority, "
                        "严重 Serious, 责任部门 Department on the Register tab")]
    assert worksheet.get_all_values() == before
    meta = read_register_grid(staff_view, shared_sheet)
    sheet = next(s for s in meta["sheets"] if s["properties"]["title"] == REGISTER_TAB)
    rows = sheet["data"][0]["rowData"]
    assert len(rows) == sheet["properties"]["gridProperties"]["rowCount"]
    assert all("dataValidation" in row["values"][COLUMNS["status"]] for row in rows[1:])
    assert [rows[n]["values"][COLUMNS["status"]]["formattedValue"] for n in (1, 2, 3)] == \
        ["在处理"] * 3
    register.append_complaints([{"reference": "C-250514-004", "status": status_labels()[0]}])
    assert apply_google_layout(config).changes == []  # later rows inherit the drop-downs


def test_ranges_compare_the_same_open_or_bounded():
    sheet = {"properties": {"sheetId": 7, "gridProperties": {"rowCount": 1000,
                                                            "columnCount": 36}}}
    wanted = wanted_rules(7, COLUMNS)[0]
    bounded = {**wanted, "ranges": [{"sheetId": 7, "startRowIndex": 0, "endRowIndex": 1000,
                                     "startColumnIndex": 0, "endColumnIndex": 36}]}
    assert same_rule(bounded, wanted, sheet)
    shorter = {**wanted, "ranges": [{"sheetId": 7, "endRowIndex": 999}]}
    assert not same_rule(shorter, wanted, sheet)
    assert normal_range({"startColumnIndex": 2, "endColumnIndex": 3}, sheet) == (7, 0, 1000, 2, 3)


def test_changes_are_said_in_the_park_language(tmp_path, sheets_emulator, service_account_key,
                                               shared_sheet):
    config = park_config(tmp_path, sheets_emulator, service_account_key, shared_sheet,
                         language="zh-CN")

    changes = apply_google_layout(config).changes

    assert "表格时区已设为园区时区 Asia/Shanghai，以便按时标出超时投诉" in changes
    assert f"已将表格共享给 {'、'.join(SERVICE_CENTER)}（编辑者）" in changes
    assert all(re.search("[\u4e00-\u9fff]", change) for change in changes), changes
