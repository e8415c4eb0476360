"""The Google Sheets register adapter.

Three layers: pure helpers (header mapping, A1 notation, key-file checks); the HTTP client against
a tiny scripted HTTP stub (retries, Retry-After, plain error messages); and the whole adapter
through the Sheets emulator over real HTTP with unpatched gspread.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import deque
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import gspread
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth.credentials import AnonymousCredentials

from daemon.register import (
    CellUpdate,
    RegisterAccessError,
    RegisterError,
    RegisterRow,
    RegisterUnavailable,
    map_header,
    open_register,
    rows_from_values,
)
from daemon.register.google_sheet import (
    CELL_CHARACTER_LIMIT,
    cell_text,
    column_letter,
    load_service_account,
    locate_rows,
    quote_sheet,
    rows_of_range,
    split_by_size,
    spreadsheet_id_from,
)
from daemon.register.http_client import (
    RegisterHTTPClient,
    classify_request,
    rewrite_url,
)
from daemon.retry import Backoff
from daemon.sheet_layout import ACTIVITY_COLUMNS, REGISTER_COLUMNS, REGISTER_KEYS
from tests.sheets_emulator import SheetsEmulator, write_service_account_key
from tests.sheets_emulator.client import gspread_client

ROBOT = "robot@park.iam.gserviceaccount.com"


# ---- pure helpers ------------------------------------------------------------------------


def test_headers_map_to_keys_wherever_staff_put_them():
    header = ["My own column", "状态 Status", "", "编号 Reference", "Subject", "内容"]
    mapping = map_header(header, REGISTER_COLUMNS)
    assert mapping == {"status": 1, "reference": 3, "subject": 4, "content": 5}


def test_header_matching_ignores_case_and_spacing_and_first_copy_wins():
    header = ["  编号   reference ", "REFERENCE"]
    assert map_header(header, REGISTER_COLUMNS) == {"reference": 0}


def test_rows_come_back_keyed_with_blanks_filled_and_blank_rows_skipped():
    columns = {"reference": 2, "status": 0}
    values = [["New 新建", "x", "C-1"], [], ["", " "], ["Closed 已结案"]]
    rows = rows_from_values(values, columns)
    assert [r.row_number for r in rows] == [2, 5]
    assert rows[0].reference == "C-1" and rows[0].get("status") == "New 新建"
    assert rows[1].reference == "" and rows[1].get("subject") == ""
    assert set(rows[0].values) == set(REGISTER_KEYS)
    assert rows.columns == columns


def test_a1_helpers():
    assert [column_letter(i) for i in (0, 25, 26, 32, 701, 702)] == ["A", "Z", "AA", "AG", "ZZ", "AAA"]
    assert quote_sheet("It's") == "'It''s'"
    assert rows_of_range("'Register'!A12:AG111") == (12, 111)
    assert rows_of_range("Activity!A7:E7") == (7, 7)
    assert rows_of_range("Register!B3") == (3, 3)
    assert rows_of_range("") is None


def test_cell_text_is_cut_to_googles_limit():
    assert cell_text(None) == ""
    assert cell_text(42) == "42"
    long = cell_text("字" * 60_000)
    assert len(long) == CELL_CHARACTER_LIMIT and long.endswith("[truncated 已截断]")


def test_big_appends_are_split_under_the_request_budget():
    matrix = [["x" * 400] for _ in range(10)]
    chunks = split_by_size(matrix, 1000)
    assert [len(c) for c in chunks] == [2, 2, 2, 2, 2]
    assert [row for chunk in chunks for row in chunk] == matrix
    assert split_by_size([["y" * 5000]], 1000) == [[["y" * 5000]]]


def test_locate_rows_refuses_unknown_and_duplicated_references():
    rows = [
        RegisterRow(2, {"reference": "C-1"}),
        RegisterRow(3, {"reference": " c-2 "}),
        RegisterRow(9, {"reference": "C-2"}),
    ]
    assert locate_rows(rows, ["c-1"]) == {"c-1": 2}
    with pytest.raises(RegisterError, match="C-404"):
        locate_rows(rows, ["C-1", "C-404"])
    with pytest.raises(RegisterError, match="rows 3 and 9"):
        locate_rows(rows, ["C-2"])


def test_spreadsheet_id_may_be_pasted_as_the_whole_address():
    url = "https://docs.google.com/spreadsheets/d/1AbC-dEf_123/edit#gid=0"
    assert spreadsheet_id_from(url) == "1AbC-dEf_123"
    assert spreadsheet_id_from(" 1AbC ") == "1AbC"


def test_urls_are_pointed_at_the_configured_endpoint():
    local = "http://127.0.0.1:9999/"
    assert rewrite_url("https://sheets.googleapis.com/v4/spreadsheets/x", local) == (
        "http://127.0.0.1:9999/v4/spreadsheets/x"
    )
    assert rewrite_url("https://www.googleapis.com/drive/v3/files/x", local) == (
        "http://127.0.0.1:9999/drive/v3/files/x"
    )
    google = "https://sheets.googleapis.com"
    assert rewrite_url("https://sheets.googleapis.com/v4/spreadsheets/x", google).startswith(google)
    assert rewrite_url("https://oauth2.googleapis.com/token", local) == "https://oauth2.googleapis.com/token"


@pytest.mark.parametrize(
    ("method", "url", "kind"),
    [
        ("post", gspread.urls.SPREADSHEET_VALUES_APPEND_URL % ("id", "%27Register%27"), "values.append"),
        ("get", gspread.urls.SPREADSHEET_VALUES_BATCH_URL % "id", "values.batchGet"),
        ("post", gspread.urls.SPREADSHEET_VALUES_BATCH_UPDATE_URL % "id", "values.batchUpdate"),
        ("post", gspread.urls.SPREADSHEET_BATCH_UPDATE_URL % "id", "spreadsheets.batchUpdate"),
        ("get", gspread.urls.SPREADSHEET_URL % "id", "spreadsheets.get"),
        ("get", gspread.urls.SPREADSHEET_VALUES_URL % ("id", "A1"), "values.get"),
        ("put", gspread.urls.SPREADSHEET_VALUES_URL % ("id", "A1"), "values.update"),
        ("get", gspread.urls.DRIVE_FILES_API_V3_URL + "/id", "drive.get"),
    ],
)
def test_requests_are_counted_by_api_method(method, url, kind):
    assert classify_request(method, url) == kind


# ---- service-account key files -------------------------------------------------------------


def new_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    return new_private_key_pem()


def write_key(path: Path, pem: str, token_uri: str, **overrides) -> Path:
    info = {
        "type": "service_account",
        "project_id": "park",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": ROBOT,
        "client_id": "1",
        "token_uri": token_uri,
    }
    info.update(overrides)
    path.write_text(json.dumps({k: v for k, v in info.items() if v is not None}))
    return path


def test_a_good_key_gives_credentials_for_its_robot(tmp_path, private_key_pem):
    creds = load_service_account(write_key(tmp_path / "k.json", private_key_pem, "http://x/token"))
    assert creds.service_account_email == ROBOT


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p, pem: p / "absent.json", "does not exist"),
        (lambda p, pem: p, "is a folder"),
        (lambda p, pem: (p / "k.json").write_text("{not json") and p / "k.json", "not valid JSON"),
        (lambda p, pem: write_key(p / "k.json", pem, "t", type="authorized_user"), "not a service-account key"),
        (lambda p, pem: write_key(p / "k.json", pem, "t", client_email=None), "client_email"),
        (lambda p, pem: write_key(p / "k.json", pem[:200] + "garbage-SECRET-PART", "t"), "private_key that cannot be read"),
    ],
)
def test_a_bad_key_file_is_named_and_explained_without_its_content(tmp_path, private_key_pem, make, says):
    path = make(tmp_path, private_key_pem)
    with pytest.raises(RegisterError) as caught:
        load_service_account(path)
    message = str(caught.value)
    assert "register.credentials_file" in message and says in message
    assert "PRIVATE KEY" not in message and "SECRET" not in message
    assert caught.value.__cause__ is None  # the parser's words (which may quote the key) are dropped


def test_open_register_refuses_an_empty_spreadsheet_id(tmp_path, private_key_pem):
    cfg = SimpleNamespace(
        backend="google", spreadsheet_id=" ", api_endpoint="https://sheets.googleapis.com",
        credentials_file=write_key(tmp_path / "k.json", private_key_pem, "http://x/token"), path=None,
    )
    with pytest.raises(RegisterError, match="register.spreadsheet_id"):
        open_register(cfg)


def test_open_register_refuses_an_unknown_backend():
    with pytest.raises(RegisterError, match="register.backend"):
        open_register(SimpleNamespace(backend="paper"))


# ---- the HTTP client against a scripted stub -----------------------------------------------


class StubGoogle:
    """A tiny HTTP server answering from a script of (status, headers, body, delay) replies."""

    def __init__(self) -> None:
        self.script: deque[tuple[int, dict, object, float]] = deque()
        self.requests: list[tuple[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                stub.requests.append((self.command, self.path))
                status, headers, body, delay = (
                    stub.script.popleft() if stub.script else (200, {}, {}, 0.0)
                )
                if delay:
                    time.sleep(delay)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def reply(self, status: int, body: object = None, headers: dict | None = None, delay: float = 0.0):
        self.script.append((status, headers or {}, {} if body is None else body, delay))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RobotCredentials(AnonymousCredentials):
    """Sends no token; says who it is, as service-account credentials do."""

    service_account_email = ROBOT


@pytest.fixture
def stub():
    server = StubGoogle()
    yield server
    server.close()


def stub_client(endpoint: str, **options) -> tuple[gspread.Client, list[float]]:
    slept: list[float] = []
    options.setdefault("backoff", Backoff(max_attempts=6, max_wait_seconds=120))
    options.setdefault("random", lambda: 1.0)
    factory = partial(RegisterHTTPClient, api_endpoint=endpoint, sleep=slept.append, **options)
    return gspread.Client(auth=RobotCredentials(), http_client=factory), slept


def google_error(code: int, status: str, message: str, reason: str | None = None) -> dict:
    error = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return {"error": error}


QUOTA = google_error(429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Write requests'", "RATE_LIMIT_EXCEEDED")


def test_retry_after_from_google_is_honoured(stub):
    client, slept = stub_client(stub.url, random=lambda: 0.0)
    stub.reply(429, QUOTA, {"Retry-After": "17"})
    stub.reply(200, {"valueRanges": []})
    client.http_client.values_batch_get("sid", ["'Register'"])
    assert slept == [17.0]
    assert len(stub.requests) == 2
    assert stub.requests[0][1].startswith("/v4/spreadsheets/sid/values:batchGet")


def test_each_retry_is_logged_once_as_a_warning(stub, caplog):
    client, slept = stub_client(stub.url)
    stub.reply(503, google_error(503, "UNAVAILABLE", "The service is currently unavailable."))
    stub.reply(500, google_error(500, "INTERNAL", "Internal error encountered."))
    with caplog.at_level(logging.WARNING, logger="parkdesk.register"):
        client.http_client.values_batch_get("sid", ["'Register'"])
    records = [r for r in caplog.records if r.name == "parkdesk.register"]
    assert [r.levelno for r in records] == [logging.WARNING, logging.WARNING]
    assert "503 service unavailable" in records[0].getMessage()
    assert "try 3 of 6" in records[1].getMessage()
    assert slept == [1.0, 2.0]
    assert client.http_client.request_counts["values.batchGet"] == 3


def test_persistent_quota_errors_give_up_in_plain_words(stub):
    client, slept = stub_client(stub.url)
    for _ in range(10):
        stub.reply(429, QUOTA)
    with pytest.raises(RegisterUnavailable) as caught:
        client.http_client.values_append("sid", "'Register'", params={}, body={"values": [["a"]]})
    assert str(caught.value) == (
        "Google Sheets did not answer after 6 tries (last: 429 quota exceeded); "
        "ParkDesk will try again next cycle"
    )
    assert len(stub.requests) == 6 and len(slept) == 5


def test_unshared_spreadsheet_names_the_robot_and_the_fix(stub):
    client, slept = stub_client(stub.url)
    stub.reply(403, google_error(403, "PERMISSION_DENIED", "The caller does not have permission"))
    with pytest.raises(RegisterAccessError) as caught:
        client.http_client.values_batch_get("sheet123", ["'Register'"])
    assert str(caught.value) == (
        f"The service account {ROBOT} cannot open spreadsheet sheet123. Share the sheet with "
        f"{ROBOT} as Editor (Share button in Google Sheets)."
    )
    assert len(stub.requests) == 1 and slept == []


def test_drive_rate_limit_403_is_retried(stub):
    client, slept = stub_client(stub.url)
    stub.reply(403, {"error": {"code": 403, "message": "Rate Limit Exceeded",
                               "errors": [{"domain": "usageLimits", "reason": "rateLimitExceeded"}]}})
    stub.reply(200, {"id": "sid"})
    client.http_client.get_file_drive_metadata("sid")
    # A quota error carries no Retry-After; quotas refill per minute, so wait at least 16 s.
    assert len(stub.requests) == 2 and slept == [16.0]


def test_disabled_sheets_api_says_to_enable_it(stub):
    client, _ = stub_client(stub.url)
    stub.reply(403, google_error(403, "PERMISSION_DENIED",
                                 "Google Sheets API has not been used in project 42 before or it is disabled.",
                                 "SERVICE_DISABLED"))
    with pytest.raises(RegisterAccessError, match="Google Sheets API is not enabled"):
        client.http_client.values_batch_get("sid", ["'Register'"])


def test_missing_spreadsheet_names_the_config_key(stub):
    client, _ = stub_client(stub.url)
    stub.reply(404, google_error(404, "NOT_FOUND", "Requested entity was not found."))
    with pytest.raises(RegisterAccessError) as caught:
        client.http_client.values_batch_get("nope42", ["'Register'"])
    assert "register.spreadsheet_id (nope42) does not exist" in str(caught.value)


def test_a_refused_request_is_not_retried(stub):
    client, slept = stub_client(stub.url)
    stub.reply(400, google_error(400, "INVALID_ARGUMENT", "Unable to parse range: 'Nope'"))
    with pytest.raises(RegisterError) as caught:
        client.http_client.values_batch_get("sid", ["'Nope'"])
    assert caught.value.status == 400 and "Unable to parse range" in str(caught.value)
    assert not isinstance(caught.value, (RegisterAccessError, RegisterUnavailable))
    assert len(stub.requests) == 1 and slept == []


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_refused_connection_is_retried_even_for_an_append():
    client, slept = stub_client(closed_port_url(), backoff=Backoff(max_attempts=3))
    with pytest.raises(RegisterUnavailable, match=r"after 3 tries \(last: connection failed"):
        client.http_client.values_append("sid", "'Register'", params={}, body={"values": [["a"]]})
    assert len(slept) == 2
    assert client.http_client.request_counts["values.append"] == 3


def test_a_timed_out_read_is_retried(stub):
    client, slept = stub_client(stub.url, timeout=(2.0, 0.2))
    stub.reply(200, {"valueRanges": []}, delay=0.6)
    stub.reply(200, {"valueRanges": []})
    assert client.http_client.values_batch_get("sid", ["'Register'"]) == {"valueRanges": []}
    assert slept == [1.0]


def test_a_timed_out_append_is_not_sent_again(stub):
    client, slept = stub_client(stub.url, timeout=(2.0, 0.2))
    stub.reply(200, {"updates": {}}, delay=0.6)
    with pytest.raises(RegisterUnavailable, match="cannot tell whether it was done"):
        client.http_client.values_append("sid", "'Register'", params={}, body={"values": [["a"]]})
    time.sleep(0.5)  # let the stub finish its slow answer
    assert len(stub.requests) == 1 and slept == []


def test_a_revoked_key_is_reported_with_the_config_key(stub, tmp_path, private_key_pem):
    stub.reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    key = write_key(tmp_path / "key.json", private_key_pem, stub.url + "/token")
    cfg = SimpleNamespace(backend="google", spreadsheet_id="sid", credentials_file=key,
                          api_endpoint=stub.url, path=None)
    register = open_register(cfg, sleep=lambda s: None)
    with pytest.raises(RegisterAccessError) as caught:
        register.read_register()
    message = str(caught.value)
    assert "register.credentials_file" in message and str(key) in message
    assert "invalid_grant" in message
    assert "PRIVATE KEY" not in message


# ---- the whole adapter through the Sheets emulator (real HTTP, unpatched gspread) ----------

REGISTER_HEADERS = [c.header for c in REGISTER_COLUMNS]
ACTIVITY_HEADERS = [c.header for c in ACTIVITY_COLUMNS]


@pytest.fixture(scope="module")
def emulator():
    emu = SheetsEmulator(port=0)
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
def sheet(emulator, tmp_path):
    """A fresh spreadsheet owned by the robot, the register on it, and staff's gspread view of it."""
    emulator.set_quota(None, None)
    emulator.faults.clear()
    key = write_service_account_key(emulator.base_url, ROBOT, tmp_path / "key.json")
    sid = emulator.create_spreadsheet(ROBOT, title="Park register")
    cfg = SimpleNamespace(backend="google", spreadsheet_id=sid, credentials_file=key,
                          api_endpoint=emulator.base_url + "/", path=None)
    slept: list[float] = []
    register = open_register(cfg, sleep=slept.append)
    staff = gspread_client(emulator.base_url, key).open_by_key(sid)
    return SimpleNamespace(emu=emulator, sid=sid, key=key, cfg=cfg, register=register,
                           slept=slept, staff=staff)


def emulator_delta(emu, before: dict[str, int]) -> dict[str, int]:
    after = emu.request_counts()
    return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}


def complaint(n: int, **extra) -> dict[str, str]:
    row = {"reference": f"C-250514-{n:03d}", "status": "New 新建", "company": f"企业 {n}",
           "subject": f"Subject {n}", "content": f"漏水 leak {n}", "message_id": f"<m{n}@tenant>"}
    row.update(extra)
    return row


def test_ensure_layout_creates_both_tabs_with_frozen_bilingual_headers(sheet):
    sheet.register.ensure_layout()
    titles = [ws.title for ws in sheet.staff.worksheets()]
    assert "Register" in titles and "Activity" in titles
    register_tab = sheet.staff.worksheet("Register")
    activity_tab = sheet.staff.worksheet("Activity")
    assert register_tab.row_values(1) == REGISTER_HEADERS
    assert activity_tab.row_values(1) == ACTIVITY_HEADERS
    assert register_tab.frozen_row_count == 1 and activity_tab.frozen_row_count == 1
    assert register_tab.col_count >= len(REGISTER_HEADERS)
    # Both tabs in one batchUpdate, both header rows in one values.batchUpdate.
    counts = sheet.register.request_counts
    assert counts["spreadsheets.batchUpdate"] == 1 and counts["values.batchUpdate"] == 1


def test_ensure_layout_is_idempotent_and_costs_one_read(sheet):
    sheet.register.ensure_layout()
    before = sheet.emu.request_counts()
    sheet.register.ensure_layout()
    assert emulator_delta(sheet.emu, before) == {"sheets.spreadsheets.get": 1, "reads": 1}
    assert [ws.title for ws in sheet.staff.worksheets()].count("Register") == 1
    assert sheet.staff.worksheet("Register").row_values(1) == REGISTER_HEADERS


def test_ensure_layout_repairs_missing_headers_at_the_end_and_keeps_staff_columns(sheet):
    sheet.register.ensure_layout()
    tab = sheet.staff.worksheet("Register")
    header = list(REGISTER_HEADERS)
    subject_at = header.index("主题 Subject")
    header[subject_at] = "Staff memo 备忘"  # staff replaced our Subject column by their own
    header[0] = "Reference"  # and shortened a header to English: still ours
    tab.update([header], "A1")
    tab.update_cell(1, 4, "")  # and blanked the Company header
    tab.batch_update([{"range": "A1", "values": [["Reference"]]}])
    sheet.staff.batch_update({"requests": [{"updateSheetProperties": {
        "properties": {"sheetId": tab.id, "gridProperties": {"frozenRowCount": 0}},
        "fields": "gridProperties.frozenRowCount"}}]})

    sheet.register.ensure_layout()

    tab = sheet.staff.worksheet("Register")
    repaired = tab.row_values(1)
    assert repaired[: len(REGISTER_HEADERS)] == [
        "Reference" if i == 0 else "" if i == 3 else header[i] for i in range(len(REGISTER_HEADERS))
    ]
    assert repaired[len(REGISTER_HEADERS):] == ["企业 Company", "主题 Subject"]
    assert tab.frozen_row_count == 1
    # Written through the new mapping: subject lands in the repaired column.
    sheet.register.append_complaints([complaint(1)])
    row = tab.row_values(2)
    assert row[len(REGISTER_HEADERS) + 1] == "Subject 1" and row[subject_at] == ""
    assert sheet.register.read_register()[0].get("company") == "企业 1"


def test_a_hundred_complaints_cost_one_append_request(sheet):
    sheet.register.ensure_layout()
    rows = [complaint(n) for n in range(1, 101)]
    before = sheet.emu.request_counts()
    numbers = sheet.register.append_complaints(rows)
    assert emulator_delta(sheet.emu, before) == {"sheets.spreadsheets.values.append": 1, "writes": 1}
    assert numbers == list(range(2, 102))
    read = sheet.register.read_register()
    assert [r.reference for r in read] == [r["reference"] for r in rows]
    assert read[41].get("content") == "漏水 leak 42" and read[41].row_number == 43


def test_reading_the_register_is_one_request(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(n) for n in range(1, 30)])
    before = sheet.emu.request_counts()
    rows = sheet.register.read_register()
    assert emulator_delta(sheet.emu, before) == {"sheets.spreadsheets.values.batchGet": 1, "reads": 1}
    assert len(rows) == 29


def test_tenant_text_is_never_a_formula(sheet):
    sheet.register.ensure_layout()
    nasty = ["=IMPORTXML(\"http://evil/\", \"//a\")", "+1", "-2", "@x", "=1+1", "'quoted"]
    sheet.register.append_complaints(
        [complaint(i, subject=text, content=text) for i, text in enumerate(nasty, start=1)]
    )
    sheet.register.update_cells([CellUpdate("C-250514-001", "notes", "=HYPERLINK(\"x\")")])
    sheet.register.append_activity([{"time": "t", "reference": "C-250514-001", "event": "note",
                                     "actor": "=cmd|' /C calc'!A0", "detail": "+SUM(1,2)"}])
    tab = sheet.staff.worksheet("Register")
    formulas = tab.get("A2:AG7", value_render_option="FORMULA")
    subject = REGISTER_HEADERS.index("主题 Subject")
    assert [row[subject] for row in formulas] == nasty
    assert [r.get("subject") for r in sheet.register.read_register()] == nasty
    notes = REGISTER_HEADERS.index("备注 Notes")
    assert tab.get(f"{column_letter(notes)}2", value_render_option="FORMULA") == [["=HYPERLINK(\"x\")"]]
    activity = sheet.staff.worksheet("Activity").get("A2:E2", value_render_option="FORMULA")
    assert activity == [["t", "C-250514-001", "note", "=cmd|' /C calc'!A0", "+SUM(1,2)"]]


def test_rows_are_found_by_reference_after_staff_insert_and_sort(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(n) for n in range(1, 6)])
    tab = sheet.staff.worksheet("Register")
    walk_in = [""] * len(REGISTER_HEADERS)
    walk_in[REGISTER_HEADERS.index("主题 Subject")] = "电话投诉 phone complaint"
    tab.insert_row(walk_in, index=2)  # staff typed a phone complaint at the top
    tab.sort((1, "des"), range=f"A2:{column_letter(len(REGISTER_HEADERS) - 1)}7")

    sheet.register.update_cells([
        CellUpdate("C-250514-002", "status", "Dispatched 已派单"),
        CellUpdate("c-250514-004", "department", "物业管理部"),
    ])

    by_reference = {r.reference: r for r in sheet.register.read_register()}
    assert by_reference["C-250514-002"].get("status") == "Dispatched 已派单"
    assert by_reference["C-250514-004"].get("department") == "物业管理部"
    assert by_reference["C-250514-002"].get("subject") == "Subject 2"
    untouched = [r for ref, r in by_reference.items() if ref not in ("C-250514-002", "")]
    assert all(r.get("status") == "New 新建" for r in untouched)
    assert by_reference[""].get("subject") == "电话投诉 phone complaint"


def test_columns_moved_by_staff_are_still_mapped(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(1), complaint(2)])
    tab = sheet.staff.worksheet("Register")
    tab.insert_cols([["Staff memo 备忘", "call back", ""]], col=1)  # a new column A of their own
    # ... and swap Reference (now B) with Subject: header and data move together.
    grid = tab.get_all_values()
    ref_col, subject_col = 1, grid[0].index("主题 Subject")
    for row in grid:
        row[ref_col], row[subject_col] = row[subject_col], row[ref_col]
    tab.update(grid, "A1")

    rows = sheet.register.read_register()
    assert [(r.reference, r.get("subject")) for r in rows] == [
        ("C-250514-001", "Subject 1"), ("C-250514-002", "Subject 2")]
    sheet.register.append_complaints([complaint(3)])
    sheet.register.update_cells([CellUpdate("C-250514-001", "subject", "Corrected 已更正")])
    grid = tab.get_all_values()
    assert grid[3][subject_col] == "C-250514-003" and grid[3][ref_col] == "Subject 3"
    assert grid[1][ref_col] == "Corrected 已更正" and grid[1][0] == "call back"


def test_update_cells_is_one_batch_update_and_a_snapshot_spares_the_read(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(n) for n in range(1, 11)])
    snapshot = sheet.register.read_register()
    updates = [CellUpdate(f"C-250514-{n:03d}", key, f"{key} {n}")
               for n in range(1, 11) for key in ("assignee", "notes", "updated_at")]
    before = sheet.emu.request_counts()
    sheet.register.update_cells(updates, snapshot=snapshot)
    assert emulator_delta(sheet.emu, before) == {"sheets.spreadsheets.values.batchUpdate": 1, "writes": 1}
    before = sheet.emu.request_counts()
    sheet.register.update_cells([CellUpdate("C-250514-003", "notes", "again")])
    assert emulator_delta(sheet.emu, before) == {
        "sheets.spreadsheets.values.batchGet": 1, "reads": 1,
        "sheets.spreadsheets.values.batchUpdate": 1, "writes": 1}
    rows = sheet.register.read_register()
    assert rows[6].get("assignee") == "assignee 7" and rows[2].get("notes") == "again"


def test_an_unknown_reference_writes_nothing(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(1)])
    before = sheet.emu.request_counts()
    with pytest.raises(RegisterError, match="C-999"):
        sheet.register.update_cells([CellUpdate("C-250514-001", "notes", "x"),
                                     CellUpdate("C-999", "notes", "y")])
    assert "sheets.spreadsheets.values.batchUpdate" not in emulator_delta(sheet.emu, before)
    assert sheet.register.read_register()[0].get("notes") == ""


def test_walk_in_rows_are_filled_by_number_unless_they_moved(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(1)])
    tab = sheet.staff.worksheet("Register")
    walk_in = [""] * len(REGISTER_HEADERS)
    walk_in[REGISTER_HEADERS.index("主题 Subject")] = "walk-in"
    tab.append_row(walk_in, table_range="A1")
    snapshot = sheet.register.read_register()
    row_number = next(r.row_number for r in snapshot if not r.reference)
    sheet.register.update_rows_by_number({row_number: {"reference": "C-250514-002", "status": "New 新建"}})
    assert [r.reference for r in sheet.register.read_register()] == ["C-250514-001", "C-250514-002"]
    with pytest.raises(RegisterError, match="moved"):
        sheet.register.update_rows_by_number({2: {"reference": "C-250514-003"}})
    assert sheet.register.read_register()[0].reference == "C-250514-001"


def test_activity_rows_are_appended_in_one_request(sheet):
    sheet.register.ensure_layout()
    events = [{"time": f"2025-05-14 09:{n:02d}", "reference": f"C-{n}", "event": "received 收到投诉",
               "actor": "tenant", "detail": f"detail {n}"} for n in range(20)]
    before = sheet.emu.request_counts()
    sheet.register.append_activity(events)
    assert emulator_delta(sheet.emu, before) == {"sheets.spreadsheets.values.append": 1, "writes": 1}
    values = sheet.staff.worksheet("Activity").get_all_values()
    assert values[0] == ACTIVITY_HEADERS
    assert values[20] == ["2025-05-14 09:19", "C-19", "received 收到投诉", "tenant", "detail 19"]


def test_a_missing_tab_is_recreated_when_reading(sheet):
    sheet.register.ensure_layout()
    sheet.staff.del_worksheet(sheet.staff.worksheet("Register"))
    assert sheet.register.read_register() == []
    assert sheet.staff.worksheet("Register").row_values(1) == REGISTER_HEADERS


def test_an_unshared_spreadsheet_names_the_robot(sheet):
    other = sheet.emu.create_spreadsheet("manager@park.example", title="Not shared")
    cfg = SimpleNamespace(**{**vars(sheet.cfg), "spreadsheet_id": other})
    register = open_register(cfg, sleep=sheet.slept.append)
    with pytest.raises(RegisterAccessError) as caught:
        register.ensure_layout()
    assert str(caught.value) == (
        f"The service account {ROBOT} cannot open spreadsheet {other}. Share the sheet with "
        f"{ROBOT} as Editor (Share button in Google Sheets)."
    )
    assert sheet.slept == []
    sheet.emu.share(other, ROBOT, role="reader")  # viewer only: reading works, writing does not
    with pytest.raises(RegisterAccessError, match="as Editor"):
        register.ensure_layout()
    sheet.emu.share(other, ROBOT)
    register.ensure_layout()


def test_a_wrong_spreadsheet_id_says_which_key_to_fix(sheet):
    cfg = SimpleNamespace(**{**vars(sheet.cfg), "spreadsheet_id": "1NoSuchSheetAtAll"})
    register = open_register(cfg, sleep=sheet.slept.append)
    with pytest.raises(RegisterAccessError) as caught:
        register.read_register()
    assert "register.spreadsheet_id (1NoSuchSheetAtAll) does not exist" in str(caught.value)
    assert sheet.slept == []


@pytest.mark.parametrize("status", [500, 503, 429])
def test_passing_failures_are_retried_and_the_rows_written_once(sheet, status):
    sheet.register.ensure_layout()
    sheet.emu.fail_next(3, status=status)
    numbers = sheet.register.append_complaints([complaint(1), complaint(2)])
    assert numbers == [2, 3]
    assert len(sheet.slept) == 3
    if status == 429:  # quota: no Retry-After from Google, so at least 16 s, spanning a minute
        assert all(delay == 16.0 for delay in sheet.slept)
    else:
        assert all(0 <= delay <= cap for delay, cap in zip(sheet.slept, (1, 2, 4)))
    assert [r.reference for r in sheet.register.read_register()] == ["C-250514-001", "C-250514-002"]
    assert sheet.register.request_counts["values.append"] == 4


def test_a_persistent_failure_gives_up_after_the_cap(sheet):
    sheet.register.ensure_layout()
    sheet.emu.fail_next(50, status=500)
    before = sheet.emu.request_counts()
    with pytest.raises(RegisterUnavailable) as caught:
        sheet.register.read_register()
    assert str(caught.value) == (
        "Google Sheets did not answer after 6 tries (last: 500 internal error); "
        "ParkDesk will try again next cycle"
    )
    assert emulator_delta(sheet.emu, before).get("sheets.spreadsheets.values.batchGet") == 6
    assert len(sheet.slept) == 5
    sheet.emu.faults.clear()


def test_the_per_minute_quota_is_waited_out(sheet):
    sheet.register.ensure_layout()
    sheet.emu.set_quota(2, None)
    sheet.emu.reset_quota()
    slept = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        sheet.emu.advance_clock(60)  # the minute passes while we wait

    register = open_register(sheet.cfg, sleep=sleep)
    for _ in range(3):
        register.read_register()
    assert len(slept) == 1
    assert register.request_counts["values.batchGet"] == 4


def test_with_cell_a1_left_empty_rows_still_start_at_column_a(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(1)])
    tab = sheet.staff.worksheet("Register")
    tab.insert_cols([[""]], col=1)  # staff added a column A with no header and nothing in it
    sheet.register.read_register()
    before = sheet.register.request_counts
    assert sheet.register.append_complaints([complaint(2), complaint(3, subject="=1+1")]) is None
    after = sheet.register.request_counts
    assert after["spreadsheets.batchUpdate"] - before["spreadsheets.batchUpdate"] == 1  # appendCells
    assert after["values.append"] == before["values.append"]
    rows = sheet.register.read_register()
    assert [(r.row_number, r.reference, r.get("subject")) for r in rows] == [
        (2, "C-250514-001", "Subject 1"), (3, "C-250514-002", "Subject 2"), (4, "C-250514-003", "=1+1")]
    assert tab.get("C4", value_render_option="FORMULA") == [["New 新建"]]
    assert tab.get("J4", value_render_option="FORMULA") == [["=1+1"]]


def test_a_burst_beyond_two_megabytes_is_split_and_kept_in_order(sheet):
    sheet.register.ensure_layout()
    rows = [complaint(n, content=f"{n} " + "投诉内容" * 500) for n in range(1, 401)]  # ~2.5 MB
    before = sheet.emu.request_counts()
    numbers = sheet.register.append_complaints(rows)
    appends = emulator_delta(sheet.emu, before)["sheets.spreadsheets.values.append"]
    assert appends == 2
    assert numbers == list(range(2, 402))
    assert [r.reference for r in sheet.register.read_register()] == [r["reference"] for r in rows]


def test_a_filtered_snapshot_still_locates_rows(sheet):
    sheet.register.ensure_layout()
    sheet.register.append_complaints([complaint(n) for n in range(1, 4)])
    open_rows = [r for r in sheet.register.read_register() if r.reference != "C-250514-001"]
    before = sheet.emu.request_counts()
    sheet.register.update_cells([CellUpdate("C-250514-003", "status", "Closed 已结案")], snapshot=open_rows)
    assert emulator_delta(sheet.emu, before) == {"sheets.spreadsheets.values.batchUpdate": 1, "writes": 1}
    assert sheet.register.read_register()[2].get("status") == "Closed 已结案"
