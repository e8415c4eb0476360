"""Fidelity test: replay real Google Sheets/Drive exchanges against the Sheets emulator.

The cassettes in ../shared/sheets/cassettes are vcrpy recordings of gspread's own test suite
talking to real Google. Each cassette is replayed in order against the emulator over real HTTP,
with a bearer token the emulator's /token endpoint issues for a service-account key minted here.
The recorded answer is the expected answer.

How a recording is turned into a request to the emulator:
- `https://sheets.googleapis.com` and `https://www.googleapis.com` become the emulator's URL.
- Ids Google chose are mapped to the ids the emulator chose, learnt in order from the responses:
  a spreadsheet id from the Drive `files` create (or copy) answer, a sheet id from an
  `addSheet` reply or a `spreadsheets.get` answer, a protected range id or named range id from
  its `add...` reply. Each later request and expected answer is rewritten with these ids. Drive
  reads teach nothing: a file list need not be in Google's order.
- Only `Content-Type` of the recorded headers is sent (the rest are transport details).

Interactions that name a spreadsheet the replay never created are skipped and counted as such:
the recording account held other spreadsheets (`openall` lists and opens them all), which no
replay can have.

What is compared:
- The status code, for every interaction.
- The JSON body, after mapping ids, for every interaction. Nothing else is ignored in the
  answers of `values.*` methods and `spreadsheets.batchUpdate` (STRICT_KINDS): ranges, counts,
  values, replies and error messages must be Google's, down to omitted default fields.
- In Drive answers `createdTime` and `modifiedTime` are dropped before comparing: they are the
  clock at recording time (IGNORED_DRIVE_FIELDS).

What fails the test: a status code that differs anywhere, or a body that differs in a strict
interaction, unless the cassette and kind are listed in KNOWN_DIFFERENCES with the reason. Body
differences in Drive metadata and `spreadsheets.get` answers (formats, locale, the files an old
Google account held) are counted in the summary but do not fail. A listed known difference that
no longer occurs fails too, so the list stays true.

Figures: each cassette prints its counts and differences (visible with `-s`); pytest's terminal
summary gets the totals per kind and a row for each cassette not matched in full (every cassette
with `-v`), from a small plugin this module registers itself (no conftest needed).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.sheets_emulator import discovery

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
CASSETTE_DIR = SHARED / "sheets" / "cassettes"

if not CASSETTE_DIR.is_dir():
    pytest.skip(
        f"recorded Google exchanges absent ({CASSETTE_DIR} not found): "
        "the shared reference data is needed to check the emulator's fidelity",
        allow_module_level=True,
    )

from google.auth.transport.requests import AuthorizedSession, Request  # noqa: E402
from google.oauth2 import service_account  # noqa: E402

from tests.sheets_emulator import SheetsEmulator, write_service_account_key  # noqa: E402

# The service account gspread's recordings were made with: protected-range editor lists name it.
ROBOT_EMAIL = "telegram-budgeter@telegram-budgeter.iam.gserviceaccount.com"
SCOPES = ["https://www.googleapis.com/auth/spreadsheets", "https://www.googleapis.com/auth/drive"]
GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://www.googleapis.com")

STRICT_KINDS = {
    "values.get",
    "values.batchGet",
    "values.update",
    "values.append",
    "values.clear",
    "values.batchClear",
    "values.batchUpdate",
    "batchUpdate",
}
IGNORED_DRIVE_FIELDS = {"createdTime", "modifiedTime"}
# Keys whose values are ids the server picks, by id space. Drive's "id" is a spreadsheet id.
ID_SPACES = {
    "spreadsheetId": "spreadsheet",
    "id": "spreadsheet",
    "sheetId": "sheet",
    "protectedRangeId": "protectedRange",
    "namedRangeId": "namedRange",
    "filterViewId": "filterView",
    "bandedRangeId": "bandedRange",
}
MIN_SPREADSHEET_ID_LENGTH = 20  # Drive ids are 44 characters; "me" and the like are not ids.
PATH_SPREADSHEET_ID = re.compile(
    r"/(?:spreadsheets|files)/([A-Za-z0-9_-]{%d,})" % MIN_SPREADSHEET_ID_LENGTH
)

# (cassette file stem, kind) -> why the emulator's answer differs from Google's there.
KNOWN_DIFFERENCES: dict[tuple[str, str], str] = {}

CASSETTES = sorted(path for path in CASSETTE_DIR.glob("*.json"))
REPORTS: dict[str, "CassetteReport"] = {}


# --- mapping Google's ids to the emulator's ---------------------------------------------------


class IdMap:
    """Recorded id -> emulator id, per id space, learnt from answers as they come."""

    def __init__(self) -> None:
        self.spaces: dict[str, dict[Any, Any]] = defaultdict(dict)

    def learn(self, recorded: Any, actual: Any) -> None:
        """Walk a recorded and an actual answer side by side and note ids first seen."""
        if isinstance(recorded, dict) and isinstance(actual, dict):
            for key, recorded_value in recorded.items():
                if key not in actual:
                    continue
                space = ID_SPACES.get(key)
                if space and _same_scalar_type(recorded_value, actual[key]):
                    if self._looks_like_id(space, recorded_value):
                        self.spaces[space].setdefault(recorded_value, actual[key])
                else:
                    self.learn(recorded_value, actual[key])
        elif isinstance(recorded, list) and isinstance(actual, list):
            for recorded_item, actual_item in zip(recorded, actual):
                self.learn(recorded_item, actual_item)

    @staticmethod
    def _looks_like_id(space: str, value: Any) -> bool:
        if space == "spreadsheet":
            return isinstance(value, str) and len(value) >= MIN_SPREADSHEET_ID_LENGTH
        return True

    def knows_all_spreadsheets_in(self, uri: str) -> bool:
        """False when the URL names a spreadsheet no answer of this replay has produced."""
        known = self.spaces["spreadsheet"]
        return all(found in known for found in PATH_SPREADSHEET_ID.findall(urlsplit(uri).path))

    def rewrite_text(self, text: str) -> str:
        """Replace recorded spreadsheet ids inside a URL or a string value."""
        for recorded, actual in self.spaces["spreadsheet"].items():
            text = text.replace(recorded, actual)
        return text

    def rewrite_json(self, value: Any) -> Any:
        """A copy of a recorded JSON value with every known id replaced."""
        if isinstance(value, dict):
            rewritten = {}
            for key, item in value.items():
                space = ID_SPACES.get(key)
                mapping = self.spaces.get(space, {}) if space else {}
                if _is_scalar(item) and item in mapping:
                    rewritten[key] = mapping[item]
                else:
                    rewritten[key] = self.rewrite_json(item)
            return rewritten
        if isinstance(value, list):
            return [self.rewrite_json(item) for item in value]
        if isinstance(value, str):
            return self.rewrite_text(value)
        return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _same_scalar_type(left: Any, right: Any) -> bool:
    return _is_scalar(left) and _is_scalar(right) and type(left) is type(right)


# --- one interaction ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What happened to one recorded interaction when replayed."""

    index: int
    kind: str
    method: str
    uri: str
    expected_status: int
    actual_status: int
    body_differences: list[str]
    skipped: bool = False

    @property
    def status_matched(self) -> bool:
        return self.expected_status == self.actual_status

    @property
    def matched(self) -> bool:
        return self.status_matched and not self.body_differences

    @property
    def strict(self) -> bool:
        return self.kind in STRICT_KINDS

    @property
    def fatal(self) -> bool:
        if self.skipped:
            return False
        return not self.status_matched or (self.strict and bool(self.body_differences))

    def describe(self) -> str:
        head = f"#{self.index} {self.kind} {self.method} {self.uri}"
        if self.skipped:
            return f"{head}: skipped (spreadsheet never created)"
        lines = [f"{head}: status {self.actual_status}, Google {self.expected_status}"]
        lines += [f"    {difference}" for difference in self.body_differences[:6]]
        return "\n".join(lines)


@dataclass
class CassetteReport:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def compared(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if not outcome.skipped]

    def count(self, strict: bool) -> tuple[int, int]:
        """(compared, matched) among the strict or the other interactions."""
        chosen = [outcome for outcome in self.compared if outcome.strict == strict]
        return len(chosen), sum(outcome.matched for outcome in chosen)


def classify(method: str, uri: str) -> str:
    """The kind of a recorded request: a Sheets method without its prefix, or "drive"."""
    url = urlsplit(uri)
    if url.netloc != "sheets.googleapis.com":
        return "drive"
    method_id = discovery.method_for(method, url.path)
    if method_id is None:
        return "sheets.unknown"
    kind = method_id.removeprefix("sheets.spreadsheets.")
    return "spreadsheets.get" if kind == "get" else kind


def rewrite_uri(uri: str, base_url: str, ids: IdMap) -> str:
    for host in GOOGLE_HOSTS:
        if uri.startswith(host):
            uri = base_url + uri[len(host) :]
            break
    return ids.rewrite_text(uri)


def rewrite_body(body: str | None, ids: IdMap) -> bytes | None:
    if not body:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return ids.rewrite_text(body).encode("utf-8")
    return json.dumps(ids.rewrite_json(parsed), ensure_ascii=False).encode("utf-8")


def parse_body(text: str | bytes | None) -> Any:
    """JSON when the body is JSON, else the text itself ("" for none)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not text:
        return ""
    try:
        return json.loads(text)
    except ValueError:
        return text


def drop_fields(value: Any, names: set[str]) -> Any:
    if isinstance(value, dict):
        return {key: drop_fields(item, names) for key, item in value.items() if key not in names}
    if isinstance(value, list):
        return [drop_fields(item, names) for item in value]
    return value


def diff_json(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where two JSON values differ, as `path: Google X, emulator Y` lines."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        differences = []
        for key in list(expected) + [key for key in actual if key not in expected]:
            if key not in actual:
                differences.append(f"{path}.{key}: Google {_short(expected[key])}, emulator absent")
            elif key not in expected:
                differences.append(f"{path}.{key}: Google absent, emulator {_short(actual[key])}")
            else:
                differences += diff_json(expected[key], actual[key], f"{path}.{key}")
        return differences
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        differences = []
        for index, (left, right) in enumerate(zip(expected, actual)):
            differences += diff_json(left, right, f"{path}[{index}]")
        return differences
    if expected == actual and type(expected) is type(actual) or _equal_numbers(expected, actual):
        return []
    return [f"{path}: Google {_short(expected)}, emulator {_short(actual)}"]


def _equal_numbers(left: Any, right: Any) -> bool:
    numbers = (int, float)
    return (
        isinstance(left, numbers) and isinstance(right, numbers)
        and not isinstance(left, bool) and not isinstance(right, bool) and left == right
    )


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


def replay_interaction(
    index: int, interaction: dict, session, base_url: str, ids: IdMap
) -> Outcome:
    request = interaction["request"]
    recorded = interaction["response"]
    kind = classify(request["method"], request["uri"])
    if not ids.knows_all_spreadsheets_in(request["uri"]):
        return Outcome(index, kind, request["method"], urlsplit(request["uri"]).path,
                       recorded["status"]["code"], 0, [], skipped=True)
    uri = rewrite_uri(request["uri"], base_url, ids)
    headers = {}
    content_type = _header(request.get("headers", {}), "Content-Type")
    if content_type:
        headers["Content-Type"] = content_type
    response = session.request(
        request["method"], uri, data=rewrite_body(request.get("body"), ids),
        headers=headers, timeout=30,
    )
    expected_body = parse_body(recorded["body"]["string"])
    actual_body = parse_body(response.content)
    if not (kind == "drive" and request["method"] == "GET"):
        # Drive reads (file lists above all) need not list files in Google's order: no ids
        # are learnt from them. Ids come from creations, batch replies and spreadsheet reads.
        ids.learn(expected_body, actual_body)
    expected_body = ids.rewrite_json(expected_body)
    if kind == "drive":
        expected_body = drop_fields(expected_body, IGNORED_DRIVE_FIELDS)
        actual_body = drop_fields(actual_body, IGNORED_DRIVE_FIELDS)
    return Outcome(
        index=index,
        kind=kind,
        method=request["method"],
        uri=uri.removeprefix(base_url),
        expected_status=recorded["status"]["code"],
        actual_status=response.status_code,
        body_differences=diff_json(expected_body, actual_body),
    )


def _header(headers: dict, name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else value
    return None


# --- summary -----------------------------------------------------------------------------------


def cassette_lines(every: bool) -> list[str]:
    """One row per cassette (all of them, or those with a skip or a difference):
    interactions, skipped, status matches, matched/compared strict and other interactions."""
    lines = [
        f"{'cassette':<62} {'total':>5} {'skipped':>7} {'status ok':>9} "
        f"{'values+batchUpdate':>19} {'other':>9}",
    ]
    for name in sorted(REPORTS):
        report = REPORTS[name]
        strict_compared, strict_matched = report.count(strict=True)
        other_compared, other_matched = report.count(strict=False)
        status_ok = sum(outcome.status_matched for outcome in report.compared)
        skipped = len(report.outcomes) - len(report.compared)
        if not every and not skipped and strict_matched + other_matched == len(report.outcomes):
            continue
        lines.append(
            f"{name:<62} {len(report.outcomes):>5} {skipped:>7} {status_ok:>9} "
            f"{strict_matched:>9}/{strict_compared:<9} {other_matched:>4}/{other_compared:<4}"
        )
    return lines


def kind_lines() -> list[str]:
    """Compared, matched and status-matched interactions per kind, over every cassette."""
    compared: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    status_ok: Counter[str] = Counter()
    skipped = 0
    for report in REPORTS.values():
        skipped += len(report.outcomes) - len(report.compared)
        for outcome in report.compared:
            compared[outcome.kind] += 1
            matched[outcome.kind] += outcome.matched
            status_ok[outcome.kind] += outcome.status_matched
    lines = [f"{'kind':<22} {'compared':>8} {'matched':>8} {'status ok':>10} {'strict':>7}"]
    for kind in sorted(compared):
        strict = "yes" if kind in STRICT_KINDS else "no"
        lines.append(
            f"{kind:<22} {compared[kind]:>8} {matched[kind]:>8} {status_ok[kind]:>10} {strict:>7}"
        )
    lines.append(
        f"{'all':<22} {sum(compared.values()):>8} {sum(matched.values()):>8} "
        f"{sum(status_ok.values()):>10}"
    )
    fully = sum(
        all(outcome.matched for outcome in report.outcomes) for report in REPORTS.values()
    )
    lines.append(
        f"{len(REPORTS)} cassettes replayed, {fully} matched in full; "
        f"{skipped} interactions skipped (spreadsheets the recording account already had)"
    )
    return lines


class CassetteSummaryPlugin:
    """Writes the replay figures into pytest's terminal summary: totals per kind and the
    cassettes that did not match in full (every cassette with -v)."""

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not REPORTS:
            return
        every = terminalreporter.config.option.verbose > 0
        terminalreporter.write_sep("=", "Sheets emulator fidelity: real Google exchanges replayed")
        for line in kind_lines() + [""] + cassette_lines(every):
            terminalreporter.write_line(line)


# --- fixtures and the test ---------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def summary_plugin(request):
    manager = request.config.pluginmanager
    if not manager.has_plugin("parkdesk-sheets-cassette-summary"):
        manager.register(CassetteSummaryPlugin(), "parkdesk-sheets-cassette-summary")


@pytest.fixture(scope="module")
def emulator():
    # No per-minute quotas: gspread's recordings were spread over minutes, the replay is not.
    server = SheetsEmulator(
        host="127.0.0.1", port=0, user_quota_per_minute=None, project_quota_per_minute=None
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def credentials(emulator, tmp_path_factory):
    """google-auth service-account credentials for a key the emulator minted (loaded once:
    parsing the private key is the slowest step of a cassette)."""
    key_path = write_service_account_key(
        emulator.base_url, ROBOT_EMAIL, tmp_path_factory.mktemp("key") / "robot.json"
    )
    return service_account.Credentials.from_service_account_file(str(key_path), scopes=SCOPES)


@pytest.fixture
def session(emulator, credentials):
    """An empty emulator and an HTTP session with a fresh bearer token from the emulator's
    /token, as google-auth gets it. Each cassette starts from nothing, as each recording did."""
    emulator.reset()  # also forgets issued tokens
    credentials.refresh(Request())
    with AuthorizedSession(credentials) as authorized:
        yield authorized


@pytest.mark.parametrize("cassette", CASSETTES, ids=[path.stem for path in CASSETTES])
def test_emulator_answers_like_google(cassette: Path, emulator, session):
    interactions = json.loads(cassette.read_text(encoding="utf-8"))["interactions"]
    ids = IdMap()
    report = CassetteReport(cassette.stem)
    for index, interaction in enumerate(interactions):
        outcome = replay_interaction(index, interaction, session, emulator.base_url, ids)
        report.outcomes.append(outcome)
    REPORTS[cassette.stem] = report

    strict_compared, strict_matched = report.count(strict=True)
    other_compared, other_matched = report.count(strict=False)
    print(
        f"\n{cassette.stem}: values+batchUpdate {strict_matched}/{strict_compared} matched, "
        f"other {other_matched}/{other_compared} matched"
    )

    fatal = [outcome for outcome in report.outcomes if outcome.fatal]
    unexplained = [o for o in fatal if (cassette.stem, o.kind) not in KNOWN_DIFFERENCES]
    stale = [
        kind for (stem, kind) in KNOWN_DIFFERENCES
        if stem == cassette.stem and not any(o.kind == kind for o in fatal)
    ]
    for outcome in report.outcomes:
        if not outcome.matched:
            print(outcome.describe())
    assert not unexplained, "emulator differs from Google:\n" + "\n".join(
        outcome.describe() for outcome in unexplained[:8]
    )
    assert not stale, f"KNOWN_DIFFERENCES lists {stale} for {cassette.stem}, which now match"


# --- the replay machinery itself ---------------------------------------------------------------


def test_id_map_learns_ids_and_rewrites_requests_and_answers():
    ids = IdMap()
    recorded_id, emulator_id = "1" * 44, "E" * 44
    ids.learn({"kind": "drive#file", "id": recorded_id, "name": "x"},
              {"kind": "drive#file", "id": emulator_id, "name": "x"})
    ids.learn({"replies": [{"addSheet": {"properties": {"sheetId": 987654, "title": "t"}}}]},
              {"replies": [{"addSheet": {"properties": {"sheetId": 3, "title": "t"}}}]})
    ids.learn({"userPermission": {"id": "me"}}, {"userPermission": {"id": "you"}})
    assert ids.spaces["spreadsheet"] == {recorded_id: emulator_id}
    assert ids.spaces["sheet"] == {987654: 3}
    uri = f"https://sheets.googleapis.com/v4/spreadsheets/{recorded_id}/values/A1"
    assert rewrite_uri(uri, "http://127.0.0.1:9", ids) == (
        f"http://127.0.0.1:9/v4/spreadsheets/{emulator_id}/values/A1"
    )
    body = json.dumps({"requests": [{"deleteSheet": {"sheetId": 987654}},
                                    {"updateCells": {"range": {"sheetId": 0}, "rows": [{"values": [
                                        {"userEnteredValue": {"numberValue": 987654}}]}]}}]})
    assert json.loads(rewrite_body(body, ids)) == {"requests": [
        {"deleteSheet": {"sheetId": 3}},
        {"updateCells": {"range": {"sheetId": 0}, "rows": [{"values": [
            {"userEnteredValue": {"numberValue": 987654}}]}]}}]}
    assert rewrite_body("a,b\n1,2\n", ids) == b"a,b\n1,2\n"
    drive, sheets = "https://www.googleapis.com/drive/v3/files", "https://sheets.googleapis.com/v4"
    assert ids.knows_all_spreadsheets_in(f"{drive}/{recorded_id}?fields=id")
    assert not ids.knows_all_spreadsheets_in(f"{sheets}/spreadsheets/{'2' * 44}/values/A1")
    assert ids.knows_all_spreadsheets_in(f"{drive}?q=name")


def test_diff_json_reports_paths_and_ignores_only_number_spelling():
    assert diff_json({"a": [1, {"b": "x"}], "n": 1}, {"a": [1, {"b": "x"}], "n": 1.0}) == []
    assert diff_json({"a": [1, {"b": "x"}], "c": 0}, {"a": [1, {"b": "y"}], "d": True}) == [
        '$.a[1].b: Google "x", emulator "y"',
        "$.c: Google 0, emulator absent",
        "$.d: Google absent, emulator true",
    ]
    assert diff_json({"v": [["a"]]}, {"v": [["a"], ["b"]]}) == [
        '$.v: Google [["a"]], emulator [["a"], ["b"]]'
    ]
    assert diff_json(True, 1) == ["$: Google true, emulator 1"]


def test_classify_names_sheets_methods_and_drive():
    sheets = "https://sheets.googleapis.com/v4/spreadsheets/x"
    assert classify("POST", f"{sheets}/values/A1:append") == "values.append"
    assert classify("POST", f"{sheets}:batchUpdate") == "batchUpdate"
    assert classify("GET", f"{sheets}?includeGridData=false") == "spreadsheets.get"
    assert classify("DELETE", "https://www.googleapis.com/drive/v3/files/x") == "drive"
