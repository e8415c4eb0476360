"""Tests for the emulator's request validation against the Sheets v4 discovery document."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import gspread
import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from gspread.utils import ValidationConditionType

from tests.sheets_emulator import discovery

SHARED_SHEETS = Path(__file__).resolve().parents[1].parent / "shared" / "sheets"
CASSETTES = SHARED_SHEETS / "cassettes"

pytestmark = pytest.mark.skipif(
    discovery.find_discovery_path() is None,
    reason="Sheets discovery document absent (../shared/sheets/sheets.v4.json or "
    "$PARKDESK_SHEETS_DISCOVERY): validation cannot be tested",
)

BATCH = "sheets.spreadsheets.batchUpdate"
VALUES_BATCH = "sheets.spreadsheets.values.batchUpdate"
APPEND = "sheets.spreadsheets.values.append"
UPDATE = "sheets.spreadsheets.values.update"


@pytest.fixture(autouse=True)
def fresh_discovery():
    """Each test starts and ends with the real document loaded (some tests swap it)."""
    discovery.reload_discovery()
    yield
    discovery.reload_discovery()


# --- gspread's own requests are valid ---------------------------------------------------------


class RecordingHTTPClient(gspread.http_client.HTTPClient):
    """A gspread HTTP client that answers from a table instead of the network and records
    every request with the problems the validator finds in it."""

    def __init__(self) -> None:
        super().__init__(auth=None, session=requests.Session())
        self.calls: list[tuple[str, list[str]]] = []

    def request(self, method, endpoint, params=None, data=None, json=None, files=None, headers=None):
        matched = discovery.match_method(method, urlsplit(endpoint).path)
        assert matched is not None, f"no discovery method for {method} {endpoint}"
        method_id = matched[0]
        wire_body = None if json is None else _round_trip(json)
        query = {key: str(value) for key, value in (params or {}).items() if value is not None}
        problems = discovery.validate_request(method_id, wire_body) + discovery.validate_query(
            method_id, query
        )
        self.calls.append((method_id, problems))
        return _canned_response(method_id)


def _round_trip(body):
    """What goes over the wire: gspread hands requests dicts holding StrEnums and tuples."""
    return json.loads(json.dumps(body))


def _canned_response(method_id: str) -> requests.Response:
    sheet = {"sheetId": 0, "title": "Sheet1", "index": 0,
             "gridProperties": {"rowCount": 1000, "columnCount": 26}}
    bodies = {
        "sheets.spreadsheets.get": {"spreadsheetId": "sid", "properties": {"title": "t"},
                                    "sheets": [{"properties": sheet}]},
        BATCH: {"spreadsheetId": "sid", "replies": [{"addSheet": {"properties": sheet}}]},
        APPEND: {"spreadsheetId": "sid", "updates": {"updatedRange": "Sheet1!A1:B1"}},
        "sheets.spreadsheets.values.get": {"range": "Sheet1!A1:B2", "majorDimension": "ROWS",
                                           "values": [["a"]]},
    }
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(bodies.get(method_id, {"spreadsheetId": "sid"})).encode()
    return response


@pytest.fixture
def recorded():
    client = RecordingHTTPClient()
    spreadsheet = gspread.Spreadsheet(client, {"id": "sid"})
    return client, spreadsheet, spreadsheet.sheet1


def test_requests_gspread_sends_for_values_are_valid(recorded):
    client, _, worksheet = recorded
    worksheet.update([["a", 1, 2.5, True, None]], "A1")
    worksheet.update([["=A1"]], "B2", value_input_option="USER_ENTERED")
    worksheet.update_acell("C3", "x")
    worksheet.append_row(["a", "b"], value_input_option="USER_ENTERED",
                         insert_data_option="INSERT_ROWS", table_range="A1")
    worksheet.append_rows([["a"], ["b"]])
    worksheet.batch_update([{"range": "A1", "values": [["x"]]},
                            {"range": "B1:C1", "values": [[1, 2]]}])
    worksheet.get("A1:B2", value_render_option="UNFORMATTED_VALUE", major_dimension="COLUMNS")
    worksheet.batch_clear(["A1:B2", "D4"])
    worksheet.clear()
    assert len(client.calls) >= 9
    assert [problems for _, problems in client.calls if problems] == []


def test_requests_gspread_sends_for_batch_update_are_valid(recorded):
    client, spreadsheet, worksheet = recorded
    spreadsheet.add_worksheet("登记表 Register", rows=100, cols=20, index=1)
    worksheet.format("A1:B2", {"textFormat": {"bold": True},
                               "backgroundColor": {"red": 1, "green": 0.9, "blue": 0.8}})
    worksheet.freeze(rows=1)
    worksheet.add_validation("C2:C100", ValidationConditionType.one_of_list,
                             ["新 New", "处理中 In progress"], showCustomUi=True)
    worksheet.add_protected_range("A1:A10", editor_users_emails=["robot@x.iam.gserviceaccount.com"],
                                  warning_only=False)
    worksheet.set_basic_filter("A1:D10")
    worksheet.sort((1, "asc"), (2, "des"), range="A2:D10")
    worksheet.merge_cells("E1:F2")
    worksheet.update_note("A1", "note")
    worksheet.insert_row(["x", "y"], index=2)
    worksheet.delete_rows(3)
    worksheet.resize(rows=200)
    worksheet.update_title("Sheet One")
    worksheet.update_tab_color("#ff0000")
    worksheet.hide_columns(0, 1)
    assert len(client.calls) >= 15
    assert {method_id for method_id, _ in client.calls} >= {BATCH}
    assert [problems for _, problems in client.calls if problems] == []


@pytest.mark.skipif(not CASSETTES.is_dir(), reason="../shared/sheets/cassettes absent")
def test_every_request_real_google_accepted_validates_clean():
    checked = 0
    for path in sorted(CASSETTES.glob("*.json")):
        for interaction in json.loads(path.read_text())["interactions"]:
            request = interaction["request"]
            url = urlsplit(request["uri"])
            if url.netloc != "sheets.googleapis.com":
                continue
            method_id = discovery.method_for(request["method"], url.path)
            assert method_id is not None, request["uri"]
            body = json.loads(request["body"]) if request["body"] else None
            query = {k: v if len(v) > 1 else v[0]
                     for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            problems = discovery.validate_request(method_id, body)
            problems += discovery.validate_query(method_id, query)
            assert problems == [], (path.name, request["uri"], problems)
            checked += 1
    assert checked > 1000


# --- problems are reported in Google's words with the right path ------------------------------


def test_unknown_field_in_nested_batch_request_names_the_snake_case_path():
    body = {"requests": [{"addSheet": {"properties": {"title": "x", "foo": 1}}}]}
    assert discovery.validate_request(BATCH, body) == [
        'Invalid JSON payload received. Unknown name "foo" at '
        "'requests[0].add_sheet.properties': Cannot find field."
    ]


def test_unknown_field_at_the_root_has_no_location():
    assert discovery.validate_request(VALUES_BATCH, {"requests": []}) == [
        'Invalid JSON payload received. Unknown name "requests": Cannot find field.'
    ]


def test_bad_enum_in_body_names_the_proto_enum_type():
    body = {"valueInputOption": "FOO", "data": [{"range": "A1", "values": [["a"]]}]}
    assert discovery.validate_request(VALUES_BATCH, body) == [
        "Invalid value at 'value_input_option' "
        '(type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "FOO"'
    ]


def test_values_update_body_is_the_data_field():
    problems = discovery.validate_request(
        UPDATE, {"range": 5, "majorDimension": "ROW", "valueInputOption": "RAW"}
    )
    assert problems == [
        "Invalid value at 'data.range' (TYPE_STRING), 5",
        "Invalid value at 'data.major_dimension' "
        '(type.googleapis.com/google.apps.sheets.v4.Dimension), "ROW"',
        'Invalid JSON payload received. Unknown name "valueInputOption" at \'data\': '
        "Cannot find field.",
    ]


def test_flat_values_list_is_not_a_list_of_rows():
    problems = discovery.validate_request(APPEND, {"values": ["a", ["b"]]})
    assert problems == [
        "Invalid value at 'data.values[0]' (type.googleapis.com/google.protobuf.ListValue), \"a\""
    ]


def test_wrong_scalar_types_are_reported_with_proto_type_names():
    body = {
        "requests": [{"updateSheetProperties": {
            "properties": {"sheetId": "abc", "hidden": 3,
                           "gridProperties": {"rowCount": 1.5, "frozenRowCount": "2"}},
            "fields": ["hidden"],
        }}],
        "includeSpreadsheetInResponse": "sometimes",
    }
    path = "requests[0].update_sheet_properties"
    assert discovery.validate_request(BATCH, body) == [
        f"Invalid value at '{path}.properties.sheet_id' (TYPE_INT32), \"abc\"",
        f"Invalid value at '{path}.properties.hidden' (TYPE_BOOL), 3",
        f"Invalid value at '{path}.properties.grid_properties.row_count' (TYPE_INT32), 1.5",
        'Invalid JSON payload received. Unknown name "fields" at '
        f"'{path}': Proto field is not repeating, cannot start list.",
        "Invalid value at 'include_spreadsheet_in_response' (TYPE_BOOL), \"sometimes\"",
    ]


def test_scalar_where_a_message_belongs_and_object_where_a_scalar_belongs():
    body = {"requests": [{"addSheet": {"properties": "Sheet2"}},
                         {"deleteSheet": {"sheetId": {"id": 1}}}]}
    assert discovery.validate_request(BATCH, body) == [
        "Invalid value at 'requests[0].add_sheet.properties' "
        '(type.googleapis.com/google.apps.sheets.v4.SheetProperties), "Sheet2"',
        "Invalid value at 'requests[1].delete_sheet.sheet_id' (TYPE_INT32), "
        "Starting an object on a scalar field",
    ]


def test_integers_numbers_and_booleans_accept_what_google_accepts():
    body = {"requests": [{"updateDimensionProperties": {
        "range": {"sheetId": "0", "dimension": "ROWS", "startIndex": 0, "endIndex": 2.0},
        "properties": {"pixelSize": "21", "hiddenByUser": "True"},
        "fields": "pixelSize",
    }}, {"repeatCell": {
        "range": {"sheet_id": 0},
        "cell": {"userEnteredFormat": {
            "backgroundColor": {"red": "0.5", "green": 1, "alpha": "NaN"}}},
        "fields": "userEnteredFormat.backgroundColor",
    }}]}
    assert discovery.validate_request(BATCH, body) == []


def test_int32_range_and_numeric_strings_are_enforced():
    body = {"requests": [{"deleteSheet": {"sheetId": 2**31}}, {"deleteSheet": {"sheetId": "1_000"}},
                         {"repeatCell": {"cell": {"userEnteredFormat": {
                             "backgroundColor": {"red": "inf"}}}, "fields": "*"}}]}
    assert discovery.validate_request(BATCH, body) == [
        "Invalid value at 'requests[0].delete_sheet.sheet_id' (TYPE_INT32), 2147483648",
        "Invalid value at 'requests[1].delete_sheet.sheet_id' (TYPE_INT32), \"1_000\"",
        "Invalid value at 'requests[2].repeat_cell.cell.user_entered_format.background_color.red' "
        '(TYPE_FLOAT), "inf"',
    ]


def test_explicit_nulls_are_accepted_everywhere():
    body = {"requests": [{"setDataValidation": {"range": None, "rule": {
        "condition": {"type": "ONE_OF_LIST", "values": [None, {"userEnteredValue": None}]},
        "inputMessage": None, "strict": None}}}], "responseRanges": None}
    assert discovery.validate_request(BATCH, body) == []
    assert discovery.validate_request(APPEND, {"values": [[None, "a"], None]}) == []


def test_snake_case_field_names_are_accepted():
    body = {"requests": [{"add_sheet": {"properties": {"grid_properties": {"row_count": 10}}}}]}
    assert discovery.validate_request(BATCH, body) == []


def test_nested_parkdesk_batch_requests_validate():
    grid = {"sheetId": 7, "startRowIndex": 1, "startColumnIndex": 3, "endColumnIndex": 4}
    requests_ = [
        {"addSheet": {"properties": {"title": "归档 Archive 2025", "sheetId": 7,
                                     "gridProperties": {"frozenRowCount": 1}}}},
        {"updateCells": {
            "rows": [{"values": [{"userEnteredValue": {"stringValue": "编号 Ref"},
                                  "userEnteredFormat": {"textFormat": {"bold": True},
                                                        "horizontalAlignment": "CENTER"}},
                                 {"userEnteredValue": {"numberValue": 3}},
                                 {"userEnteredValue": {"formulaValue": "=NOW()"}}]}],
            "fields": "userEnteredValue,userEnteredFormat",
            "start": {"sheetId": 7, "rowIndex": 0, "columnIndex": 0}}},
        {"setDataValidation": {"range": grid, "rule": {
            "condition": {"type": "ONE_OF_LIST",
                          "values": [{"userEnteredValue": "新 New"},
                                     {"userEnteredValue": "已结 Closed"}]},
            "strict": True, "showCustomUi": True}}},
        {"addConditionalFormatRule": {"index": 0, "rule": {
            "ranges": [grid],
            "booleanRule": {"condition": {"type": "CUSTOM_FORMULA",
                                          "values": [{"userEnteredValue": "=$E2=\"高 High\""}]},
                            "format": {"backgroundColor": {"red": 1, "green": 0.8, "blue": 0.8}}}}}},
    ]
    assert discovery.validate_request(BATCH, {"requests": requests_}) == []

    first_cell = requests_[1]["updateCells"]["rows"][0]["values"][0]
    first_cell["userEnteredFormat"]["horizontalAlignment"] = "MIDDLE"
    requests_[2]["setDataValidation"]["rule"]["condition"]["type"] = "ONE_OF_SET"
    requests_[3]["addConditionalFormatRule"]["rule"]["booleanRule"]["colour"] = "red"
    assert discovery.validate_request(BATCH, {"requests": requests_}) == [
        "Invalid value at 'requests[1].update_cells.rows[0].values[0].user_entered_format"
        ".horizontal_alignment' (type.googleapis.com/google.apps.sheets.v4.HorizontalAlign), "
        '"MIDDLE"',
        "Invalid value at 'requests[2].set_data_validation.rule.condition.type' "
        '(type.googleapis.com/google.apps.sheets.v4.ConditionType), "ONE_OF_SET"',
        'Invalid JSON payload received. Unknown name "colour" at '
        "'requests[3].add_conditional_format_rule.rule.boolean_rule': Cannot find field.",
    ]


def test_map_fields_validate_their_values():
    body = {"requests": [{"setBasicFilter": {"filter": {"range": {"sheetId": 0}, "criteria": {
        "0": {"hiddenValues": ["a"]}, "1": {"hiddenValue": ["b"]}}}}}]}
    assert discovery.validate_request(BATCH, body) == [
        'Invalid JSON payload received. Unknown name "hiddenValue" at '
        "'requests[0].set_basic_filter.filter.criteria[1]': Cannot find field."
    ]


def test_root_must_be_an_object_and_missing_body_is_fine():
    assert discovery.validate_request(BATCH, [{"addSheet": {}}]) == [
        'Invalid JSON payload received. Unknown name "": Root element must be a message.'
    ]
    assert discovery.validate_request(BATCH, None) == []
    assert discovery.validate_request("sheets.spreadsheets.values.get", None) == []


def test_create_body_is_the_spreadsheet_field():
    body = {"properties": [{"title": "x"}]}
    assert discovery.validate_request("sheets.spreadsheets.create", body) == [
        'Invalid JSON payload received. Unknown name "properties" at \'spreadsheet\': '
        "Proto field is not repeating, cannot start list."
    ]


def test_unknown_method_id_is_a_programming_error():
    with pytest.raises(ValueError, match="sheets.spreadsheets.values.appendd"):
        discovery.validate_request("sheets.spreadsheets.values.appendd", {})


# --- query parameters -------------------------------------------------------------------------


def test_query_enums_booleans_and_unknown_names():
    params = {"valueInputOption": "FOO", "insertDataOption": "INSERT_ROWS",
              "includeValuesInResponse": "perhaps", "prettyPrint": "false", "fields": "updates",
              "responseValueRenderOption": "FORMULA", "colour": "red"}
    assert discovery.validate_query(APPEND, params) == [
        "Invalid value at 'value_input_option' "
        '(type.googleapis.com/google.apps.sheets.v4.ValueInputOption), "FOO"',
        "Invalid value at 'include_values_in_response' (TYPE_BOOL), \"perhaps\"",
        'Invalid JSON payload received. Unknown name "colour": Cannot bind query parameter. '
        "Field 'colour' could not be found in request message.",
    ]


def test_query_accepts_gspread_spellings_and_repeated_params():
    assert discovery.validate_query(APPEND, {"valueInputOption": "RAW",
                                             "includeValuesInResponse": "False"}) == []
    assert discovery.validate_query("sheets.spreadsheets.values.batchGet", {
        "ranges": ["A:A", "'Sheet 2'!B:B"], "major_dimension": "COLUMNS",
        "valueRenderOption": "UNFORMATTED_VALUE", "dateTimeRenderOption": "SERIAL_NUMBER"}) == []
    assert discovery.validate_query("sheets.spreadsheets.values.batchGet", {
        "majorDimension": "COLUMN", "valueRenderOption": "RAW",
        "dateTimeRenderOption": "DATE"}) == [
        "Invalid value at 'major_dimension' (type.googleapis.com/google.apps.sheets.v4.Dimension), "
        '"COLUMN"',
        "Invalid value at 'value_render_option' "
        '(type.googleapis.com/google.apps.sheets.v4.ValueRenderOption), "RAW"',
        "Invalid value at 'date_time_render_option' "
        '(type.googleapis.com/google.apps.sheets.v4.DateTimeRenderOption), "DATE"',
    ]


# --- routing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http_method", "path", "method_id", "params"),
    [
        ("POST", "/v4/spreadsheets/abc/values/%27Sheet1%27:append?valueInputOption=RAW", APPEND,
         {"spreadsheetId": "abc", "range": "%27Sheet1%27"}),
        ("POST", "/v4/spreadsheets/abc/values/%27Sheet1%27%21A1%3AB2:clear",
         "sheets.spreadsheets.values.clear",
         {"spreadsheetId": "abc", "range": "%27Sheet1%27%21A1%3AB2"}),
        ("PUT", "/v4/spreadsheets/abc/values/A1:B2", UPDATE,
         {"spreadsheetId": "abc", "range": "A1:B2"}),
        ("GET", "/v4/spreadsheets/abc/values/a/b!A1", "sheets.spreadsheets.values.get",
         {"spreadsheetId": "abc", "range": "a/b!A1"}),
        ("GET", "/v4/spreadsheets/abc/values:batchGet", "sheets.spreadsheets.values.batchGet",
         {"spreadsheetId": "abc"}),
        ("POST", "/v4/spreadsheets/abc/values:batchUpdate", VALUES_BATCH, {"spreadsheetId": "abc"}),
        ("POST", "https://sheets.googleapis.com/v4/spreadsheets/abc:batchUpdate", BATCH,
         {"spreadsheetId": "abc"}),
        ("GET", "/v4/spreadsheets/abc", "sheets.spreadsheets.get", {"spreadsheetId": "abc"}),
        ("POST", "/v4/spreadsheets", "sheets.spreadsheets.create", {}),
        ("POST", "/v4/spreadsheets/abc/sheets/12:copyTo", "sheets.spreadsheets.sheets.copyTo",
         {"spreadsheetId": "abc", "sheetId": "12"}),
    ],
)
def test_match_method_maps_paths_to_discovery_methods(http_method, path, method_id, params):
    assert discovery.match_method(http_method, path) == (method_id, params)
    assert discovery.method_for(http_method, path) == method_id


def test_paths_outside_the_sheets_api_have_no_method():
    assert discovery.method_for("GET", "/drive/v3/files/abc") is None
    assert discovery.method_for("DELETE", "/v4/spreadsheets/abc") is None


def test_response_schema_resolves_the_reference():
    schema = discovery.response_schema(APPEND)
    assert schema["id"] == "AppendValuesResponse"
    assert set(schema["properties"]) == {"spreadsheetId", "tableRange", "updates"}


# --- finding the document ---------------------------------------------------------------------


def test_missing_document_disables_validation_with_a_warning(monkeypatch, tmp_path, caplog):
    monkeypatch.delenv(discovery.DISCOVERY_ENV, raising=False)
    monkeypatch.setattr(discovery, "REPO_ROOT", tmp_path / "repo")
    with caplog.at_level(logging.WARNING, logger=discovery.log.name):
        assert discovery.reload_discovery() is None
    assert "request validation is disabled" in caplog.text
    assert discovery.DISCOVERY_ENV in caplog.text
    assert not discovery.discovery_available()
    assert discovery.validate_request(BATCH, {"nonsense": 1}) == []
    assert discovery.validate_query(APPEND, {"valueInputOption": "FOO"}) == []
    assert discovery.method_for("POST", "/v4/spreadsheets/abc:batchUpdate") is None
    assert discovery.response_schema(APPEND) is None


def test_environment_variable_names_the_document(monkeypatch, tmp_path):
    tiny = {
        "servicePath": "",
        "parameters": {},
        "resources": {"things": {"methods": {"put": {
            "id": "tiny.things.put", "httpMethod": "POST", "path": "v1/things/{thingId}",
            "parameters": {"thingId": {"location": "path", "type": "string"}},
            "request": {"$ref": "PutThingRequest"}}}}},
        "schemas": {"PutThingRequest": {"id": "PutThingRequest", "type": "object",
                                        "properties": {"count": {"type": "integer",
                                                                 "format": "int32"}}}},
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(tiny))
    monkeypatch.setenv(discovery.DISCOVERY_ENV, str(path))
    discovery.reload_discovery()
    assert discovery.find_discovery_path() == path
    assert discovery.method_for("POST", "/v1/things/9") == "tiny.things.put"
    assert discovery.validate_request("tiny.things.put", {"count": "x"}) == [
        "Invalid value at 'count' (TYPE_INT32), \"x\""
    ]
