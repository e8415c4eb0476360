"""The Sheets API emulator answers as Google does, seen through unpatched gspread.

Expected answers come from Google's recorded behaviour (../shared/sheets/cassettes) and
documentation: error bodies, range normalisation, trimming, table detection, limits.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import gspread
import pytest
import requests
from google.auth.exceptions import RefreshError
from gspread.exceptions import APIError, SpreadsheetNotFound

from tests.sheets_emulator import SheetsEmulator, write_service_account_key
from tests.sheets_emulator.client import gspread_client
from tests.sheets_emulator.fixtures import SERVICE_ACCOUNT_EMAIL, service_account_key, sheets_emulator  # noqa: F401

STAFF = "staff@park.example.com"
OTHER = "other-robot@park.iam.gserviceaccount.com"
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def gc(sheets_emulator: SheetsEmulator, service_account_key: Path) -> gspread.Client:
    return gspread_client(sheets_emulator.base_url, service_account_key)


@pytest.fixture
def ws(gc: gspread.Client) -> gspread.Worksheet:
    return gc.create("Register").sheet1


def other_client(emu: SheetsEmulator, tmp_path: Path, email: str = OTHER) -> gspread.Client:
    key = write_service_account_key(emu.base_url, email, tmp_path / f"{email}.json")
    return gspread_client(emu.base_url, key)


def error_of(excinfo: pytest.ExceptionInfo[APIError]) -> dict:
    return excinfo.value.response.json()["error"]


# -- auth -------------------------------------------------------------------------------
def test_valid_key_gets_a_token_and_works(sheets_emulator, gc):
    spreadsheet = gc.create("Auth check")
    assert spreadsheet.sheet1.title == "Sheet1"
    assert sheets_emulator.request_counts()["oauth2.token"] == 1


def test_unregistered_key_is_refused_with_invalid_grant(sheets_emulator, tmp_path):
    key = write_service_account_key(sheets_emulator.base_url, OTHER, tmp_path / "k.json", register=False)
    with pytest.raises(RefreshError, match="invalid_grant"):
        gspread_client(sheets_emulator.base_url, key).create("x")


def test_tampered_signature_is_refused(sheets_emulator, service_account_key, tmp_path):
    forged = json.loads(service_account_key.read_text())
    other = json.loads(
        write_service_account_key(
            sheets_emulator.base_url, OTHER, tmp_path / "o.json", register=False
        ).read_text()
    )
    forged["private_key"] = other["private_key"]  # right key id, wrong private key
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    with pytest.raises(RefreshError, match="Invalid JWT Signature"):
        gspread_client(sheets_emulator.base_url, tmp_path / "forged.json").create("x")
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "RS256", "kid": forged["private_key_id"]}).encode()
    ).decode()
    answer = requests.post(
        sheets_emulator.base_url + "/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": f"{header}.e30.c2ln"},
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


def test_requests_without_a_valid_token_get_googles_401(sheets_emulator, gc):
    sid = gc.create("x").id
    url = f"{sheets_emulator.base_url}/v4/spreadsheets/{sid}"
    missing = requests.get(url, timeout=5)
    assert missing.status_code == 401
    assert missing.json()["error"]["status"] == "UNAUTHENTICATED"
    assert missing.json()["error"]["message"].startswith(
        "Request is missing required authentication credential"
    )
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.json()["error"]["message"].startswith("Request had invalid authentication credentials")
    drive = requests.get(f"{sheets_emulator.base_url}/drive/v3/files", timeout=5)
    assert drive.status_code == 401 and "errors" in drive.json()["error"]


def test_readonly_scope_cannot_write(sheets_emulator, gc, service_account_key):
    spreadsheet = gc.create("x")
    readonly = gspread_client(
        sheets_emulator.base_url,
        service_account_key,
        scopes=["https://www.googleapis.com/auth/spreadsheets.readonly"],
    )
    worksheet = readonly.open_by_key(spreadsheet.id).sheet1
    assert worksheet.get("A1") == [[]]
    with pytest.raises(APIError) as excinfo:
        worksheet.update_acell("A1", "x")
    assert excinfo.value.code == 403
    assert error_of(excinfo)["message"] == "Request had insufficient authentication scopes."


# -- sharing ------------------------------------------------------------------------------
def test_unshared_spreadsheet_is_403_until_shared(sheets_emulator, gc, tmp_path):
    spreadsheet = gc.create("Private")
    stranger = other_client(sheets_emulator, tmp_path)
    with pytest.raises(PermissionError) as excinfo:
        stranger.open_by_key(spreadsheet.id)
    body = excinfo.value.__cause__.response.json()["error"]
    assert body == {
        "code": 403,
        "message": "The caller does not have permission",
        "status": "PERMISSION_DENIED",
    }
    with pytest.raises(SpreadsheetNotFound):
        stranger.open("Private")  # Drive does not list what you cannot see

    spreadsheet.share(OTHER, perm_type="user", role="reader", notify=False)
    theirs = stranger.open_by_key(spreadsheet.id).sheet1
    assert theirs.get("A1") == [[]]
    with pytest.raises(APIError) as excinfo:
        theirs.update_acell("A1", "mine")
    assert excinfo.value.code == 403

    spreadsheet.share(OTHER, perm_type="user", role="writer", notify=False)
    theirs.update_acell("A1", "mine")
    assert spreadsheet.sheet1.acell("A1").value == "mine"
    assert stranger.open("Private").id == spreadsheet.id


def test_unknown_spreadsheet_is_404(gc):
    with pytest.raises(SpreadsheetNotFound):
        gc.open_by_key("1NoSuchSpreadsheet0000000000000000000000000")


# -- values ----------------------------------------------------------------------------------
def test_update_and_get_trim_and_normalise_like_google(ws):
    result = ws.update(
        [["A1", "B1", "", "D1"], [1, "b2", 1.45, ""], ["", "", "", ""], ["A4", 0.4, "", 4]], "A1:D4"
    )
    assert result["updatedRange"] == "Sheet1!A1:D4" and result["updatedCells"] == 16
    got = ws.spreadsheet.values_get("Sheet1")
    assert got["range"] == "Sheet1!A1:Z1000"
    assert got["values"] == [["A1", "B1", "", "D1"], ["1", "b2", "1.45"], [], ["A4", "0.4", "", "4"]]
    assert ws.spreadsheet.values_get("Sheet1!D4:A1")["range"] == "Sheet1!A1:D4"
    assert ws.spreadsheet.values_get("Sheet1!A1:C")["range"] == "Sheet1!A1:C1000"
    assert ws.spreadsheet.values_get("Sheet1!A1:1")["range"] == "Sheet1!A1:Z1"
    assert ws.spreadsheet.values_get("Sheet1!F10") == {"range": "Sheet1!F10", "majorDimension": "ROWS"}
    columns = ws.spreadsheet.values_get("A1:B2", params={"majorDimension": "COLUMNS"})
    assert columns["values"] == [["A1", "1"], ["B1", "b2"]]


def test_null_cells_are_left_alone(ws):
    ws.update([["a", "b"], ["c", "d"]], "A1:B2")
    result = ws.update([[None, "x"], ["y", None]], "A1:B2")
    assert (result["updatedCells"], result["updatedRows"], result["updatedColumns"]) == (2, 2, 2)
    assert ws.get_all_values() == [["a", "x"], ["y", "d"]]


def test_quoted_sheet_names_and_batch_get(ws):
    spreadsheet = ws.spreadsheet
    other = spreadsheet.add_worksheet("It's mine", rows=10, cols=10)
    result = other.update([["🍇", "🍉"], ["🍐", "🍎"]], "A1")
    assert result["updatedRange"] == "'It''s mine'!A1:B2"
    got = spreadsheet.values_batch_get(["'It''s mine'!A:A", "'It''s mine'!B:B", "Sheet1!A1"])
    assert [r["range"] for r in got["valueRanges"]] == [
        "'It''s mine'!A1:A10",
        "'It''s mine'!B1:B10",
        "Sheet1!A1",
    ]
    assert got["valueRanges"][0]["values"] == [["🍇"], ["🍐"]]
    assert "values" not in got["valueRanges"][2]


def test_values_batch_update_reports_google_totals(ws):
    result = ws.batch_update(
        [
            {"range": "A1:D1", "values": [["A1", "B1", "", "D1"]]},
            {"range": "A4:D4", "values": [["A4", "B4", "", "D4"]]},
        ]
    )
    assert (
        result["totalUpdatedRows"],
        result["totalUpdatedColumns"],
        result["totalUpdatedCells"],
        result["totalUpdatedSheets"],
    ) == (2, 4, 8, 1)
    assert ws.get("A1:D4") == [["A1", "B1", "", "D1"], [], [], ["A4", "B4", "", "D4"]]


def test_append_detects_the_table_like_google(ws):
    first = ws.append_row(["x 1", "", "x 3"])
    assert "tableRange" not in first and first["updates"]["updatedRange"] == "Sheet1!A1:C1"
    second = ws.append_row(["x 1", "", "x 3"])  # recorded: Google picks the block at C1
    assert second["tableRange"] == "Sheet1!C1"
    assert second["updates"]["updatedRange"] == "Sheet1!C2:E2"
    third = ws.append_row(["y"], table_range="A1")
    assert third["tableRange"] == "Sheet1!A1" and third["updates"]["updatedRange"] == "Sheet1!A2"


def test_append_insert_rows_and_overwrite(ws):
    ws.update([["h1", "h2"], ["a", "b"], [], [], ["below", ""]], "A1")
    overwrite = ws.append_rows([["c", "d"]], table_range="A1")
    assert (
        overwrite["tableRange"] == "Sheet1!A1:B2" and overwrite["updates"]["updatedRange"] == "Sheet1!A3:B3"
    )
    inserted = ws.append_rows([["e", "f"]], table_range="A1", insert_data_option="INSERT_ROWS")
    assert inserted["updates"]["updatedRange"] == "Sheet1!A4:B4"
    assert ws.col_values(1) == ["h1", "a", "c", "e", "", "below"]  # 'below' moved down one row
    assert (
        ws.spreadsheet.fetch_sheet_metadata()["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 1001
    )


def test_append_grows_the_grid_but_update_does_not(ws):
    ws.resize(rows=2, cols=2)
    ws.append_rows([["a", "b"], ["c", "d"], ["e", "f"]])
    assert ws.spreadsheet.fetch_sheet_metadata()["sheets"][0]["properties"]["gridProperties"]["rowCount"] == 3
    with pytest.raises(APIError) as excinfo:
        ws.update_acell("C1", "beyond")
    assert (
        error_of(excinfo)["message"] == "Range (Sheet1!C1) exceeds grid limits. Max rows: 3, max columns: 2"
    )
    assert error_of(excinfo)["status"] == "INVALID_ARGUMENT"
    with pytest.raises(APIError) as excinfo:
        ws.update([["1"], ["2"], ["3"]], "A2")
    assert (
        error_of(excinfo)["message"]
        == "Requested writing within range ['Sheet1'!A2], but tried writing to row [4]"
    )


def test_clear_and_batch_clear(ws):
    ws.update([["a", "b", "c"], ["d", "e", "f"]], "A1")
    assert ws.spreadsheet.values_clear("'Sheet1'!A1:A2")["clearedRange"] == "Sheet1!A1:A2"
    assert ws.batch_clear(["B1", "C2"])["clearedRanges"] == ["Sheet1!B1", "Sheet1!C2"]
    assert ws.spreadsheet.values_get("Sheet1")["values"] == [["", "", "c"], ["", "e"]]
    assert ws.clear()["clearedRange"] == "Sheet1!A1:Z1000"
    assert "values" not in ws.spreadsheet.values_get("Sheet1")


def test_raw_versus_user_entered(ws):
    ws.update([["=1+1", "0042", "TRUE", "'=x"]], "A1", value_input_option="RAW")
    ws.update([["=1+1", "0042", "TRUE", "'=x"]], "A2", value_input_option="USER_ENTERED")
    ws.update([["2020-01-01", "2,000,000.01", 53, True]], "A3", value_input_option="USER_ENTERED")
    assert ws.get("A1:D3") == [
        ["=1+1", "0042", "TRUE", "'=x"],
        ["2", "42", "TRUE", "=x"],
        ["2020-01-01", "2,000,000.01", "53", "TRUE"],
    ]
    unformatted = ws.get("A1:D3", value_render_option="UNFORMATTED_VALUE")
    assert unformatted == [
        ["=1+1", "0042", "TRUE", "'=x"],
        [2, 42, True, "=x"],
        [43831, 2000000.01, 53, True],
    ]
    formulas = ws.get("A1:A2", value_render_option="FORMULA")
    assert formulas == [["=1+1"], ["=1+1"]]
    dates = ws.get("A3", value_render_option="UNFORMATTED_VALUE", date_time_render_option="FORMATTED_STRING")
    assert dates == [["2020-01-01"]]


def test_formulas_evaluate_a_safe_subset_and_follow_row_inserts(ws):
    ws.update(
        [[2, 3, "=A1*B1", "=SUM(A1:B1)/0", '=REGEXREPLACE("abc","b","x")']], "A1", value_input_option="USER_ENTERED"
    )
    assert ws.get("C1:E1") == [["6", "#DIV/0!", ""]]  # REGEXREPLACE is not evaluated: empty, never invented
    ws.insert_row(["new"], index=1)
    assert ws.acell("C2", value_render_option="FORMULA").value == "=A2*B2"
    assert ws.acell("C2").value == "6"
    ws.delete_rows(1)
    assert ws.acell("C1", value_render_option="FORMULA").value == "=A1*B1"


def test_lookup_count_and_date_functions(ws):
    ws.update([["Open", 5], ["Closed", 3], ["open", 2]], "A1", value_input_option="USER_ENTERED")
    formulas = [
        '=COUNTIF(A1:A3,"open")',
        '=SUMIF(A1:A3,"Open",B1:B3)',
        '=VLOOKUP("closed",A1:B3,2,FALSE)',
        '=VLOOKUP("none",A1:B3,2,FALSE)',
        "=DATE(2024,2,30)",
        '=HYPERLINK("mailto:desk@park.example.com","desk")',
    ]
    ws.update([formulas], "C1", value_input_option="USER_ENTERED")
    assert ws.get("C1:H1") == [["2", "7", "3", "#N/A", "3/1/2024", "desk"]]
    assert ws.get("G1", value_render_option="UNFORMATTED_VALUE") == [[45352]]


def test_cell_size_limit_is_googles_400(ws):
    with pytest.raises(APIError) as excinfo:
        ws.update_acell("A1", "x" * 50_001)
    assert error_of(excinfo) == {
        "code": 400,
        "message": "Your input contains more than the maximum of 50000 characters in a single cell.",
        "status": "INVALID_ARGUMENT",
    }
    ws.update_acell("A1", "x" * 50_000)


def test_ten_million_cell_limit(ws):
    with pytest.raises(APIError) as excinfo:
        ws.spreadsheet.add_worksheet("huge", rows=400_000, cols=26)
    assert "above the limit of 10000000 cells" in error_of(excinfo)["message"]


def test_bad_ranges_and_enums_are_400(ws):
    with pytest.raises(APIError) as excinfo:
        ws.spreadsheet.values_get("NoSuchSheet!A1")
    assert error_of(excinfo)["message"] == "Unable to parse range: NoSuchSheet!A1"
    with pytest.raises(APIError) as excinfo:
        ws.spreadsheet.values_get("A1", params={"valueRenderOption": "PRETTY"})
    assert "Invalid value at 'value_render_option'" in error_of(excinfo)["message"]


# -- batchUpdate --------------------------------------------------------------------------
def test_sheet_requests_and_their_replies(ws):
    spreadsheet = ws.spreadsheet
    added = spreadsheet.batch_update(
        {
            "requests": [
                {
                    "addSheet": {
                        "properties": {
                            "title": "Archive 2024",
                            "gridProperties": {"rowCount": 10, "columnCount": 5},
                        }
                    }
                }
            ]
        }
    )
    props = added["replies"][0]["addSheet"]["properties"]
    assert (props["title"], props["index"], props["gridProperties"]) == (
        "Archive 2024",
        1,
        {"rowCount": 10, "columnCount": 5},
    )
    ws.freeze(rows=1)
    ws.update_title("登记表")
    spreadsheet.batch_update(
        {"requests": [{"appendDimension": {"sheetId": props["sheetId"], "dimension": "ROWS", "length": 5}}]}
    )
    meta = spreadsheet.fetch_sheet_metadata()["sheets"]
    assert meta[0]["properties"]["title"] == "登记表"
    assert meta[0]["properties"]["gridProperties"]["frozenRowCount"] == 1
    assert meta[1]["properties"]["gridProperties"]["rowCount"] == 15
    with pytest.raises(APIError) as excinfo:
        spreadsheet.batch_update(
            {
                "requests": [
                    {
                        "updateSheetProperties": {
                            "properties": {"sheetId": 0, "title": "Renamed"},
                            "fields": "title",
                        }
                    },
                    {"deleteSheet": {"sheetId": props["sheetId"]}},
                    {"deleteSheet": {"sheetId": 0}},
                ]
            }
        )
    assert (
        error_of(excinfo)["message"]
        == "Invalid requests[2].deleteSheet: You can't remove all the sheets in a document."
    )
    assert [w.title for w in spreadsheet.worksheets()] == ["登记表", "Archive 2024"]  # all or nothing
    spreadsheet.del_worksheet(spreadsheet.worksheet("Archive 2024"))
    assert [w.title for w in spreadsheet.worksheets()] == ["登记表"]


def test_dimension_requests_move_cells(ws):
    ws.update([["1", "a"], ["2", "b"], ["3", "c"]], "A1")
    ws.insert_rows([["new"]], row=2)
    ws.delete_rows(4)
    ws.delete_columns(2)
    assert ws.get_all_values() == [["1"], ["new"], ["2"]]
    ws.hide_columns(0, 1)
    meta = ws.spreadsheet.fetch_sheet_metadata({"includeGridData": "true", "ranges": "A1:B1"})
    assert meta["sheets"][0]["data"][0]["columnMetadata"] == [
        {"pixelSize": 100, "hiddenByUser": True},
        {"pixelSize": 100},
    ]


def test_formats_notes_and_grid_data(ws):
    ws.update_acell("A2", "header")
    ws.format("A2:B2", {"backgroundColor": {"green": 1, "blue": 1}, "textFormat": {"bold": True}})
    ws.insert_note("B2", "read me")
    meta = ws.spreadsheet.fetch_sheet_metadata(
        {
            "includeGridData": "False",
            "ranges": "Sheet1!A2",
            "fields": "sheets.data.rowData.values.userEnteredFormat",
        }
    )
    assert meta == {
        "sheets": [
            {
                "data": [
                    {
                        "rowData": [
                            {
                                "values": [
                                    {
                                        "userEnteredFormat": {
                                            "backgroundColor": {"green": 1, "blue": 1},
                                            "textFormat": {"bold": True},
                                            "backgroundColorStyle": {"rgbColor": {"green": 1, "blue": 1}},
                                        }
                                    }
                                ]
                            }
                        ]
                    }
                ]
            }
        ]
    }
    assert ws.get_note("B2") == "read me"
    full = ws.spreadsheet.fetch_sheet_metadata({"includeGridData": "true", "ranges": "Sheet1!A2:B2"})
    cell = full["sheets"][0]["data"][0]["rowData"][0]["values"][0]
    assert cell["formattedValue"] == "header" and cell["effectiveValue"] == {"stringValue": "header"}
    assert cell["effectiveFormat"]["textFormat"]["bold"] is True
    assert full["sheets"][0]["data"][0]["startRow"] == 1


def test_validation_conditional_format_named_range_and_sort(ws):
    spreadsheet = ws.spreadsheet
    ws.update([["Fox", "5"], ["Apple", "1"], ["Canada", "3"]], "A1")
    rule = {
        "condition": {
            "type": "ONE_OF_LIST",
            "values": [{"userEnteredValue": "Open"}, {"userEnteredValue": "Closed"}],
        },
        "strict": True,
    }
    spreadsheet.batch_update(
        {
            "requests": [
                {
                    "setDataValidation": {
                        "range": {
                            "sheetId": 0,
                            "startRowIndex": 0,
                            "endRowIndex": 3,
                            "startColumnIndex": 2,
                            "endColumnIndex": 3,
                        },
                        "rule": rule,
                    }
                },
                {
                    "addConditionalFormatRule": {
                        "rule": {
                            "ranges": [{"sheetId": 0, "startColumnIndex": 1, "endColumnIndex": 2}],
                            "booleanRule": {
                                "condition": {
                                    "type": "NUMBER_GREATER",
                                    "values": [{"userEnteredValue": "2"}],
                                },
                                "format": {"textFormat": {"bold": True}},
                            },
                        },
                        "index": 0,
                    }
                },
                {
                    "addNamedRange": {
                        "namedRange": {
                            "name": "Scores",
                            "range": {
                                "sheetId": 0,
                                "startRowIndex": 0,
                                "endRowIndex": 3,
                                "startColumnIndex": 1,
                                "endColumnIndex": 2,
                            },
                        }
                    }
                },
                {
                    "sortRange": {
                        "range": {
                            "sheetId": 0,
                            "startRowIndex": 0,
                            "endRowIndex": 3,
                            "startColumnIndex": 0,
                            "endColumnIndex": 2,
                        },
                        "sortSpecs": [{"dimensionIndex": 1, "sortOrder": "DESCENDING"}],
                    }
                },
            ]
        }
    )
    assert ws.get_all_values() == [["Fox", "5"], ["Canada", "3"], ["Apple", "1"]]
    assert spreadsheet.values_get("Scores")["values"] == [["5"], ["3"], ["1"]]
    meta = spreadsheet.fetch_sheet_metadata({"fields": "sheets(conditionalFormats),namedRanges"})
    assert meta["sheets"][0]["conditionalFormats"][0]["ranges"] == [
        {"startColumnIndex": 1, "endColumnIndex": 2}
    ]
    assert meta["namedRanges"][0]["name"] == "Scores"
    grid = spreadsheet.fetch_sheet_metadata(
        {"ranges": "C1", "fields": "sheets.data.rowData.values.dataValidation"}
    )
    assert grid["sheets"][0]["data"][0]["rowData"][0]["values"][0]["dataValidation"] == rule


def test_protected_ranges_are_enforced(sheets_emulator, gc, tmp_path):
    spreadsheet = gc.create("Protected")
    spreadsheet.share(OTHER, perm_type="user", role="writer", notify=False)
    reply = spreadsheet.sheet1.add_protected_range("A1:B2")["replies"][0]["addProtectedRange"]
    assert reply["protectedRange"]["requestingUserCanEdit"] is True
    theirs = other_client(sheets_emulator, tmp_path).open_by_key(spreadsheet.id).sheet1
    with pytest.raises(APIError) as excinfo:
        theirs.update_acell("A1", "no")
    assert error_of(excinfo)["message"].startswith("You are trying to edit a protected cell or object.")
    theirs.update_acell("C3", "fine")
    spreadsheet.sheet1.update_acell("A1", "owner may")
    spreadsheet.batch_update(
        {
            "requests": [
                {"deleteProtectedRange": {"protectedRangeId": reply["protectedRange"]["protectedRangeId"]}}
            ]
        }
    )
    theirs.update_acell("A1", "now yes")


def test_unknown_and_unimplemented_requests(ws):
    with pytest.raises(APIError) as excinfo:
        ws.spreadsheet.batch_update({"requests": [{"frobnicate": {}}]})
    assert excinfo.value.code == 400 and 'Unknown name "frobnicate"' in error_of(excinfo)["message"]
    with pytest.raises(APIError) as excinfo:
        ws.spreadsheet.batch_update(
            {"requests": [{"findReplace": {"find": "a", "replacement": "b", "allSheets": True}}]}
        )
    assert excinfo.value.code == 501
    assert error_of(excinfo)["status"] == "UNIMPLEMENTED" and "findReplace" in error_of(excinfo)["message"]


def test_discovery_problems_become_googles_400(ws, monkeypatch):
    fake = type(sys)("tests.sheets_emulator.discovery")
    fake.validate_request = lambda method_id, body: (
        ["Invalid JSON payload received. Unknown name \"foo\" at 'data[0]': Cannot find field."]
        if "foo" in json.dumps(body)
        else []
    )
    monkeypatch.setitem(sys.modules, "tests.sheets_emulator.discovery", fake)
    with pytest.raises(APIError) as excinfo:
        ws.spreadsheet.values_batch_update(
            {"valueInputOption": "RAW", "data": [{"range": "A1", "values": [["x"]], "foo": 1}]}
        )
    error = error_of(excinfo)
    assert (
        error["message"]
        == "Invalid JSON payload received. Unknown name \"foo\" at 'data[0]': Cannot find field."
    )
    assert error["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    ws.update_acell("A1", "fine")


# -- spreadsheets.get ---------------------------------------------------------------------------
def test_get_with_fields_ranges_and_grid_data(ws):
    spreadsheet = ws.spreadsheet
    spreadsheet.add_worksheet("Second", rows=5, cols=5)
    assert spreadsheet.fetch_sheet_metadata({"fields": "properties.title"}) == {
        "properties": {"title": "Register"}
    }
    titles = spreadsheet.fetch_sheet_metadata({"fields": "sheets(properties(title,index))"})
    assert titles == {
        "sheets": [
            {"properties": {"title": "Sheet1", "index": 0}},
            {"properties": {"title": "Second", "index": 1}},
        ]
    }
    only = spreadsheet.fetch_sheet_metadata({"ranges": "Second!A1:B2"})
    assert [s["properties"]["title"] for s in only["sheets"]] == ["Second"] and "data" not in only["sheets"][
        0
    ]
    ws.update([["a", "", "c"]], "A1")
    data = spreadsheet.fetch_sheet_metadata({"includeGridData": "true", "ranges": "Sheet1!A1:C2"})["sheets"][
        0
    ]["data"][0]
    assert [cell.get("formattedValue") for cell in data["rowData"][0]["values"]] == ["a", None, "c"]
    assert len(data["rowMetadata"]) == 2 and len(data["columnMetadata"]) == 3
    assert spreadsheet.fetch_sheet_metadata({"fields": "namedRanges"}) == {}


# -- Drive --------------------------------------------------------------------------------------
def test_drive_create_open_list_copy_delete(gc):
    created = gc.create("Complaints 2025")
    assert gc.open("Complaints 2025").id == created.id
    assert [f["name"] for f in gc.list_spreadsheet_files()] == ["Complaints 2025"]
    created.sheet1.update_acell("A1", "kept")
    copied = gc.copy(created.id, copy_permissions=True)
    assert copied.title == "Copy of Complaints 2025" and copied.sheet1.acell("A1").value == "kept"
    assert {s.title for s in gc.openall()} == {"Complaints 2025", "Copy of Complaints 2025"}
    assert gc.export(created.id, gspread.utils.ExportFormat.CSV) == b"kept"
    gc.del_spreadsheet(copied.id)
    with pytest.raises(SpreadsheetNotFound):
        gc.open_by_key(copied.id)


def test_drive_permissions(sheets_emulator, gc, tmp_path):
    spreadsheet = gc.create("Shared")
    spreadsheet.share(STAFF, perm_type="user", role="writer", notify=False)
    people = {p["emailAddress"]: p["role"] for p in spreadsheet.list_permissions()}
    assert people == {SERVICE_ACCOUNT_EMAIL: "owner", STAFF: "writer"}
    spreadsheet.remove_permissions(STAFF)
    assert [p["emailAddress"] for p in spreadsheet.list_permissions()] == [SERVICE_ACCOUNT_EMAIL]
    spreadsheet.share(OTHER, perm_type="user", role="writer", notify=False)
    with pytest.raises(APIError) as excinfo:
        other_client(sheets_emulator, tmp_path).del_spreadsheet(spreadsheet.id)
    assert excinfo.value.code == 403
    assert error_of(excinfo)["errors"][0]["reason"] == "insufficientFilePermissions"


# -- realism knobs -------------------------------------------------------------------------------
def test_per_user_and_per_project_quotas(sheets_emulator, gc, tmp_path):
    worksheet = gc.create("Quota").sheet1
    sheets_emulator.set_quota(user_per_minute=3, project_per_minute=5)
    sheets_emulator.reset_quota()
    for _ in range(3):
        worksheet.get("A1")
    with pytest.raises(APIError) as excinfo:
        worksheet.get("A1")
    error = error_of(excinfo)
    assert excinfo.value.code == 429 and error["status"] == "RESOURCE_EXHAUSTED"
    assert "limit 'Read requests per minute per user' of service 'sheets.googleapis.com'" in error["message"]
    assert error["details"][0]["reason"] == "RATE_LIMIT_EXCEEDED"
    worksheet.update_acell("A1", "writes are counted apart")
    worksheet.spreadsheet.share(
        OTHER, perm_type="user", role="reader", notify=False
    )  # Drive: no Sheets quota
    theirs = (
        other_client(sheets_emulator, tmp_path).open_by_key(worksheet.spreadsheet.id).sheet1
    )  # 5th project read
    with pytest.raises(APIError) as excinfo:
        theirs.get("A1")
    assert "limit 'Read requests per minute'" in error_of(excinfo)["message"]
    sheets_emulator.advance_clock(61)
    assert worksheet.get("A1") == [["writes are counted apart"]]


def test_fail_next_injects_googles_errors(sheets_emulator, gc):
    worksheet = gc.create("Faults").sheet1
    sheets_emulator.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(APIError) as excinfo:
            worksheet.update_acell("A1", "x")
        assert error_of(excinfo) == {
            "code": 503,
            "message": "The service is currently unavailable.",
            "status": "UNAVAILABLE",
        }
    worksheet.update_acell("A1", "x")
    counts = sheets_emulator.request_counts()
    assert counts["sheets.spreadsheets.values.update"] == 3 and counts["writes"] == 3


def test_latency_is_added_to_each_request(sheets_emulator, gc):
    worksheet = gc.create("Slow").sheet1
    sheets_emulator.set_latency(0.2)
    started = time.monotonic()
    worksheet.get("A1")
    assert time.monotonic() - started >= 0.2


def test_unimplemented_method_is_501(gc, sheets_emulator, service_account_key):
    spreadsheet = gc.create("x")
    with pytest.raises(APIError) as excinfo:
        gc.http_client.request(
            "post",
            f"https://sheets.googleapis.com/v4/spreadsheets/{spreadsheet.id}/values:batchGetByDataFilter",
            json={"dataFilters": []},
        )
    assert excinfo.value.code == 501 and "batchGetByDataFilter" in error_of(excinfo)["message"]


# -- persistence and CLI ---------------------------------------------------------------------------
def test_state_survives_a_restart(tmp_path):
    data = tmp_path / "state.json"
    with SheetsEmulator(data_path=data) as first:
        key = write_service_account_key(first.base_url, SERVICE_ACCOUNT_EMAIL, tmp_path / "k.json")
        client = gspread_client(first.base_url, key)
        spreadsheet = client.create("Durable")
        spreadsheet.sheet1.append_row(["kept", "across", "restarts"])
        port = first.port
    assert json.loads(data.read_text())["spreadsheets"][0]["properties"]["title"] == "Durable"
    with SheetsEmulator(port=port, data_path=data) as second:
        assert gspread_client(second.base_url, key).open("Durable").sheet1.row_values(1) == [
            "kept",
            "across",
            "restarts",
        ]
        assert client.open_by_key(spreadsheet.id).sheet1.acell("A1").value == "kept"  # old token still valid


def test_standalone_cli_and_new_key(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.sheets_emulator", "--port", "0", "--data", str(tmp_path / "cli.json")],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base_url = server.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.sheets_emulator",
                "new-key",
                "--base-url",
                base_url,
                "--email",
                STAFF,
                "--out",
                str(tmp_path / "cli-key.json"),
            ],
            cwd=REPO_ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=30,
        )
        client = gspread_client(base_url, tmp_path / "cli-key.json")
        client.create("From the CLI").sheet1.update_acell("A1", "ok")
        assert (
            requests.get(base_url + "/_emulator/counts", timeout=5).json()[
                "sheets.spreadsheets.values.update"
            ]
            == 1
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "From the CLI" in (tmp_path / "cli.json").read_text()
