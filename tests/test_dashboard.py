"""The Dashboard and Recurring tabs: content, the Google register with native charts (through
the Sheets emulator, gspread unpatched), the workbook with openpyxl charts, and the emulator's
chart requests.

The year of synthetic complaints is test_review's; the figures, the weekly counts and the
weekly sign-for times are recomputed here from the rows by hand (naive wall-clock arithmetic:
Asia/Shanghai has no clock changes) and compared with what the tabs show.
"""

from __future__ import annotations

import argparse
import math
import statistics
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import gspread
import openpyxl
import pytest
import yaml
from openpyxl.chart import BarChart, LineChart

from daemon.config import parse_config
from daemon.register import open_register
from daemon.register.workbook import WorkbookRegister
from daemon.review import build_review
from daemon.review.dashboard import (
    DASHBOARD_TAB,
    RECURRING_TAB,
    bilingual,
    dashboard_tabs,
    rebuild_dashboard,
    recent_weeks,
)
from daemon.review.dashboard_command import add_dashboard_command, run_dashboard
from daemon.review.figures import METRICS
from daemon.sheet_layout import REGISTER_KEYS
from tests.sheets_emulator import SheetsEmulator, write_service_account_key
from tests.sheets_emulator.client import gspread_client
from tests.sheets_emulator.discovery import discovery_available
from tests.test_review import (
    CONFIG,
    CONFIG_DATA,
    NOW,
    ROWS,
    SIMILAR,
    expected_month,
    open_late,
    parse,
    planted,
)

ROBOT = "robot@park.iam.gserviceaccount.com"
TZ = CONFIG.park.tz
WEEKS = 12
LOCATION_RUN = [planted("L-1", "2026-03-01 09:00", location="B栋 3楼"),
                planted("L-2", "2026-03-12 09:00", location="B栋 3楼"),
                planted("L-3", "2026-03-30 08:00", location="B栋 3楼")]
LATE = open_late("C-LATE", datetime(2026, 11, 29, 9, 0),
                 "resolve+0min→部门负责人 2026-11-29 09:00")
EVERY_ROW = [{key: row.get(key, "") for key in REGISTER_KEYS}
             for row in ROWS + SIMILAR + LOCATION_RUN + [LATE]]
# Closed complaints of 2025 go to "Archive 2025", of early 2026 to "Archive 2026"; the rest stay.
ARCHIVED_2025 = [r["reference"] for r in ROWS if r["received_at"] < "2026" and r["satisfaction"]]
ARCHIVED_2026 = [r["reference"] for r in ROWS
                 if "2026-01" <= r["received_at"] < "2026-03" and r["satisfaction"]] + ["L-1"]


# --- independent expectations ----------------------------------------------------------------

def expected_weeks() -> list[tuple[str, datetime]]:
    """(ISO week label, its Monday 00:00) of the 12 complete weeks before NOW's week."""
    today = NOW.replace(tzinfo=None)
    this_monday = datetime(today.year, today.month, today.day) - timedelta(days=today.weekday())
    mondays = [this_monday - timedelta(weeks=back) for back in range(WEEKS, 0, -1)]
    return [(f"{m.isocalendar()[0]}-W{m.isocalendar()[1]:02d}", m) for m in mondays]


def expected_weekly_counts() -> dict[str, Counter]:
    counts = {}
    for label, monday in expected_weeks():
        counts[label] = Counter(r["category"] or "未分类 Uncategorized" for r in EVERY_ROW
                                if r["received_at"]
                                and monday <= parse(r["received_at"]) < monday + timedelta(days=7))
    return counts


def expected_sign_for() -> dict[str, tuple[float | None, float | None]]:
    found = {}
    for label, monday in expected_weeks():
        hours = sorted((parse(r["acknowledged_at"])
                        - parse(r["dispatched_at"] or r["received_at"])).total_seconds() / 3600
                       for r in EVERY_ROW if r["acknowledged_at"]
                       and monday <= parse(r["acknowledged_at"]) < monday + timedelta(days=7))
        found[label] = ((statistics.median(hours), hours[math.ceil(0.9 * len(hours)) - 1])
                        if hours else (None, None))
    return found


# --- reading a tab back (by its header texts, not by the module's placements) -------------------

def table_after(grid: list[list], first_header: str) -> tuple[list, list[list]]:
    """(the header row starting with ``first_header``, the rows under it up to a blank row)."""
    for index, row in enumerate(grid):
        if row and row[0] == first_header:
            body = []
            for below in grid[index + 1:]:
                if not below or all(cell in ("", None) for cell in below):
                    break
                body.append(below)
            return row, body
    raise AssertionError(f"no table headed {first_header!r}")


def number(cell):
    return None if cell in ("", None) else float(cell)


def check_figures(grid: list[list]) -> None:
    header, body = table_after(grid, "部门 Department")
    assert header[2:] == [bilingual(label, "zh-CN") for label in (
        "收到 Received", "已处理 Resolved", "签收中位数(小时) Sign-for median (h)",
        "签收90分位(小时) Sign-for p90 (h)", "处理中位数(小时) Resolution median (h)",
        "处理90分位(小时) Resolution p90 (h)", "按时率 On-time rate",
        "满意度平均 Satisfaction average", "回访回复率 Response rate")]
    shown = {(row[0], row[1]): row[2:] for row in body}
    departments = {"全园区 Whole park": "", "property": "property", "security": "security",
                   "environment": "environment"}
    assert {name for name, _ in shown} == set(departments)
    for name, department in departments.items():
        now, before = (expected_month(EVERY_ROW, month, department)
                       for month in ("2026-10", "2026-09"))
        for label, values in (("2026-10", now), ("2026-09", before),
                              ("变化 Change", {m: None if now[m] is None or before[m] is None
                                             else now[m] - before[m] for m in METRICS})):
            for metric, cell in zip(METRICS, shown[(name, label)]):
                want = values[metric]
                if want is None:
                    assert cell in ("", None), (name, label, metric)
                else:
                    assert number(cell) == pytest.approx(want, abs=0.011), (name, label, metric)


def check_charts_data(grid: list[list]) -> None:
    header, body = table_after(grid, "周 Week")
    assert [row[0] for row in body] == [label for label, _ in expected_weeks()]
    categories = header[1:]
    for row in body:
        want = expected_weekly_counts()[row[0]]
        assert {name: int(number(cell)) for name, cell in zip(categories, row[1:])} == {
            name: want.get(name, 0) for name in categories}
        assert sum(int(number(cell)) for cell in row[1:]) == sum(want.values())
    sign_for = grid[grid.index(header) + len(body) + 3:]
    sign_header, sign_body = table_after(sign_for, "周 Week")
    assert sign_header == ["周 Week", "中位数 Median", "90分位 90th percentile"]
    expected = expected_sign_for()
    for row in sign_body:
        median, p90 = expected[row[0]]
        assert number(row[1]) == pytest.approx(median, abs=0.006)
        assert number(row[2]) == pytest.approx(p90, abs=0.006)


def check_recurring(grid: list[list]) -> None:
    header, body = table_after(grid, "依据 Kind")
    assert header == ["依据 Kind", "值 Key", "次数 Count", "首次 First", "最近 Last",
                      "编号 References"]
    locations = [row for row in body if row[0] == "位置 Location"]
    assert [(row[1], int(number(row[2])), row[5]) for row in locations] == [
        ("B栋 3楼", 3, "L-1, L-2, L-3")]  # L-1 read back from the archive tab
    categories = {row[1] for row in body if row[0] == "类别 Category"}
    assert categories == {"water", "power", "noise", "cleaning", "parking"}
    _, similar = table_after(grid, "共同内容 Shared passages")
    groups = {row[5]: row for row in similar}
    assert set(groups) == {"Z-1, Z-2", "E-1, E-2"}
    assert groups["Z-1, Z-2"][0].startswith("3号楼一楼卫生间 / 地面全是水")
    assert groups["Z-1, Z-2"][3:5] == ["2026-02-01 09:00", "2026-02-03 09:00"]


# --- content ---------------------------------------------------------------------------------

def test_the_content_follows_the_review_and_the_park_language():
    review = build_review(EVERY_ROW, CONFIG, NOW)
    dashboard, recurring = dashboard_tabs(review, EVERY_ROW, CONFIG)
    check_figures(dashboard.grid())
    check_charts_data(dashboard.grid())
    check_recurring(recurring.grid())
    _, overdue = table_after(dashboard.grid(), "编号 Reference")
    late = [row for row in overdue if row[0] == "C-LATE"]
    assert late == [["C-LATE", "property", "处理 resolution", 27.0, "2026-11-29 09:00",
                     "第1级 level 1 → 部门负责人"]]
    english = parse_config({**CONFIG_DATA, "park": {**CONFIG_DATA["park"], "language": "en"}},
                           config_dir="/nonexistent")
    dashboard_en, _ = dashboard_tabs(review, EVERY_ROW, english)
    assert dashboard_en.grid()[0] == ["Complaint dashboard 投诉处理看板"]
    header, _ = table_after(dashboard_en.grid(), "Department 部门")
    assert header[2] == "Received 收到"
    assert [plan.kind for plan in dashboard.charts] == ["stacked_column", "line"]


def test_weeks_are_the_complete_iso_weeks_before_now():
    assert recent_weeks(NOW, TZ, 3) == [label for label, _ in expected_weeks()[-3:]]
    sunday_night = datetime(2026, 11, 29, 23, 30, tzinfo=TZ)
    assert recent_weeks(sunday_night, TZ, 1) == ["2026-W47"]


def test_many_categories_are_summed_beyond_the_chart_limit():
    rows = [planted(f"K-{n}", "2026-11-20 10:00", category=f"cat{n % 12:02d}")
            for n in range(40)]
    review = build_review(rows, CONFIG, NOW)
    dashboard, _ = dashboard_tabs(review, rows, CONFIG)
    header, body = table_after(dashboard.grid(), "周 Week")
    assert len(header) == 1 + 8 and header[-1] == "其他类别 Other categories"
    assert sum(sum(row[1:]) for row in body) == 40


# --- Google ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emulator():
    emu = SheetsEmulator(port=0)
    emu.start()
    emu.set_quota(None, None)
    yield emu
    emu.stop()


def google_register(emulator: SheetsEmulator, tmp_path: Path):
    key = write_service_account_key(emulator.base_url, ROBOT, tmp_path / "key.json")
    sid = emulator.create_spreadsheet(ROBOT, title="Park register")
    cfg = SimpleNamespace(backend="google", spreadsheet_id=sid, credentials_file=key,
                          api_endpoint=emulator.base_url, path=None)
    register = open_register(cfg, sleep=lambda seconds: None)
    staff = gspread_client(emulator.base_url, key).open_by_key(sid)
    return register, staff


def fill_register(register) -> None:
    register.ensure_layout()
    register.append_complaints(EVERY_ROW)
    register.archive_rows({"Archive 2025": ARCHIVED_2025, "Archive 2026": ARCHIVED_2026})


def sheet_values(staff, title: str) -> list[list]:
    rows = staff.worksheet(title).get_values(
        value_render_option=gspread.utils.ValueRenderOption.unformatted)
    trimmed = []
    for row in rows:
        row = list(row)
        while row and row[-1] == "":
            row.pop()
        trimmed.append(row)
    return trimmed


def charts_by_tab(staff) -> dict[str, tuple[int, list[dict]]]:
    meta = staff.fetch_sheet_metadata(params={"fields": "sheets(properties(sheetId,title),charts)"})
    return {sheet["properties"]["title"]: (sheet["properties"].get("sheetId", 0),
                                           sheet.get("charts", []))
            for sheet in meta["sheets"]}


def column_of(sources: list[dict]) -> tuple[int, int, int]:
    (source,) = sources
    assert source["endColumnIndex"] - source.get("startColumnIndex", 0) == 1
    return source.get("startColumnIndex", 0), source.get("startRowIndex", 0), source["endRowIndex"]


def test_google_dashboard_with_native_charts(emulator, tmp_path):
    register, staff = google_register(emulator, tmp_path)
    fill_register(register)
    data_tabs = {title: sheet_values(staff, title)
                 for title in ("Register", "Activity", "Archive 2025", "Archive 2026")}

    report = rebuild_dashboard(CONFIG, register, NOW)
    assert report.charts == 2 and report.period == "2026-10"
    # reads: the Register tab, the archive tabs (list + values); the tabs (list + charts);
    # writes: ONE batchUpdate for both tabs and both charts
    assert report.requests == {"values.batchGet": 2, "spreadsheets.get": 2,
                               "spreadsheets.batchUpdate": 1}

    dashboard = sheet_values(staff, DASHBOARD_TAB)
    check_figures(dashboard)
    check_charts_data(dashboard)
    check_recurring(sheet_values(staff, RECURRING_TAB))
    _, overdue = table_after(dashboard, "编号 Reference")
    assert "C-LATE" in [row[0] for row in overdue]

    tabs = charts_by_tab(staff)
    sheet_id, charts = tabs[DASHBOARD_TAB]
    assert all(not found for title, (_, found) in tabs.items() if title != DASHBOARD_TAB)
    by_type = {chart["spec"]["basicChart"]["chartType"]: chart for chart in charts}
    assert set(by_type) == {"COLUMN", "LINE"} and len(charts) == 2
    column = by_type["COLUMN"]["spec"]["basicChart"]
    assert column["stackedType"] == "STACKED" and column["headerCount"] == 1
    header_row = next(i for i, row in enumerate(dashboard) if row[:1] == ["周 Week"])
    week_header = dashboard[header_row]
    domain = column["domains"][0]["domain"]["sourceRange"]["sources"]
    assert column_of(domain) == (0, header_row, header_row + 1 + WEEKS)
    series = [column_of(s["series"]["sourceRange"]["sources"]) for s in column["series"]]
    assert series == [(c, header_row, header_row + 1 + WEEKS)
                      for c in range(1, len(week_header))]
    for chart in charts:
        for source in (chart["spec"]["basicChart"]["domains"][0]["domain"]["sourceRange"]
                       ["sources"]):
            assert source.get("sheetId", 0) == sheet_id
        anchor = chart["position"]["overlayPosition"]["anchorCell"]
        assert anchor["sheetId"] == sheet_id and anchor["columnIndex"] > len(dashboard[4])
    line = by_type["LINE"]["spec"]["basicChart"]
    sign_row = next(i for i, row in enumerate(dashboard)
                    if row[:2] == ["周 Week", "中位数 Median"])
    assert [column_of(s["series"]["sourceRange"]["sources"]) for s in line["series"]] == [
        (1, sign_row, sign_row + 1 + WEEKS), (2, sign_row, sign_row + 1 + WEEKS)]

    # the next day's rebuild replaces the charts instead of adding to them
    again = rebuild_dashboard(CONFIG, register, NOW + timedelta(hours=1))
    assert again.requests == report.requests
    tabs = charts_by_tab(staff)
    assert len(tabs[DASHBOARD_TAB][1]) == 2
    assert not {c["chartId"] for c in charts} & {c["chartId"] for c in tabs[DASHBOARD_TAB][1]}
    assert sum(len(found) for _, found in tabs.values()) == 2
    check_figures(sheet_values(staff, DASHBOARD_TAB))
    for title, values in data_tabs.items():
        assert sheet_values(staff, title) == values, title  # the data tabs are never touched


def test_google_dashboard_replaces_whatever_staff_left_in_the_tabs(emulator, tmp_path):
    register, staff = google_register(emulator, tmp_path)
    register.ensure_layout()
    register.append_complaints(EVERY_ROW[:50])
    tab = staff.add_worksheet("dashboard", rows=5, cols=3)  # another case, too small
    tab.update([["old", "=1+1"], ["x", "y"]], "A1", raw=False)
    rebuild_dashboard(CONFIG, register, NOW)
    titles = [ws.title for ws in staff.worksheets()]
    assert "dashboard" in titles and DASHBOARD_TAB not in titles and RECURRING_TAB in titles
    values = sheet_values(staff, "dashboard")
    assert values[0][0] == "投诉处理看板 Complaint dashboard"
    assert "old" not in [cell for row in values for cell in row]
    assert len(charts_by_tab(staff)["dashboard"][1]) == 2


# --- workbook --------------------------------------------------------------------------------

def workbook_values(path: Path, title: str) -> list[list]:
    sheet = openpyxl.load_workbook(path)[title]
    rows = [["" if value is None else value for value in row]
            for row in sheet.iter_rows(values_only=True)]
    for row in rows:
        while row and row[-1] == "":
            row.pop()
    return rows


def test_workbook_dashboard_with_openpyxl_charts(tmp_path):
    path = tmp_path / "register.xlsx"
    register = WorkbookRegister(path, sleep=lambda seconds: None)
    fill_register(register)
    report = rebuild_dashboard(CONFIG, register, NOW)
    assert report.charts == 2
    assert report.requests == {"workbook.load": 2, "workbook.save": 1}

    dashboard = workbook_values(path, DASHBOARD_TAB)
    check_figures(dashboard)
    check_charts_data(dashboard)
    check_recurring(workbook_values(path, RECURRING_TAB))

    def charts() -> list:
        return openpyxl.load_workbook(path)[DASHBOARD_TAB]._charts

    found = charts()
    assert [type(chart) for chart in found] == [BarChart, LineChart]
    bar = found[0]
    assert (bar.type, bar.grouping) == ("col", "stacked")
    header_row = next(i for i, row in enumerate(dashboard) if row[:1] == ["周 Week"]) + 1
    assert bar.series[0].val.numRef.f == (
        f"'{DASHBOARD_TAB}'!$B${header_row + 1}:$B${header_row + WEEKS}")
    assert len(bar.series) == len(dashboard[header_row - 1]) - 1

    register.append_complaints([planted("N-1", "2026-11-30 09:00")])  # another write, later
    assert [type(chart) for chart in charts()] == [BarChart, LineChart]
    rebuild_dashboard(CONFIG, register, NOW + timedelta(hours=1))
    assert len(charts()) == 2
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[:2] == ["Register", "Activity"]
    assert {DASHBOARD_TAB, RECURRING_TAB, "Archive 2025", "Archive 2026"} <= set(book.sheetnames)


def test_parkdesk_dashboard_command_rebuilds_a_workbook_register(tmp_path, capsys):
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG_DATA, allow_unicode=True), encoding="utf-8")
    register = WorkbookRegister(tmp_path / "register.xlsx", sleep=lambda seconds: None)
    register.ensure_layout()
    register.append_complaints(EVERY_ROW[:80])
    parser = argparse.ArgumentParser()
    add_dashboard_command(parser.add_subparsers())
    args = parser.parse_args(["dashboard", "--config", str(config_path)])
    assert run_dashboard(args, now=NOW) == 0
    assert "Dashboard rebuilt for 2026-10" in capsys.readouterr().out
    assert len(openpyxl.load_workbook(tmp_path / "register.xlsx")[DASHBOARD_TAB]._charts) == 2
    args = parser.parse_args(["dashboard", "--config", str(tmp_path / "missing.yaml")])
    assert run_dashboard(args, now=NOW) == 1
    assert "missing.yaml" in capsys.readouterr().err


# --- the emulator's chart requests -------------------------------------------------------------

def chart_request(sheet_id: int, **changes) -> dict:
    def column(c):
        return {"sourceRange": {"sources": [{"sheetId": sheet_id, "startRowIndex": 0,
                                             "endRowIndex": 5, "startColumnIndex": c,
                                             "endColumnIndex": c + 1}]}}
    basic = {"chartType": "COLUMN", "stackedType": "STACKED", "headerCount": 1,
             "domains": [{"domain": column(0)}], "series": [{"series": column(1)}]}
    basic.update(changes.pop("basic", {}))
    chart = {"spec": {"title": "t", "basicChart": basic},
             "position": {"overlayPosition": {"anchorCell": {"sheetId": sheet_id,
                                                             "rowIndex": 1, "columnIndex": 4}}}}
    chart.update(changes)
    return {"addChart": {"chart": chart}}


needs_discovery = pytest.mark.skipif(not discovery_available(),
                                     reason="the Sheets discovery document is not in ../shared")


@pytest.mark.parametrize("request_change, message", [
    pytest.param({"basic": {"chartType": "PIE_CHART"}}, "Invalid value at", marks=needs_discovery),
    pytest.param({"basic": {"stacking": "STACKED"}}, 'Unknown name "stacking"',
                 marks=needs_discovery),
    ({"basic": {"chartType": "LINE"}}, "Stacking is not supported"),
    ({"basic": {"chartType": None}}, "chartType must be specified"),
    ({"basic": {"series": []}}, "at least one series"),
    ({"spec": {"title": "no type"}}, "must set one chart type"),
])
def test_an_invalid_chart_spec_is_a_400(emulator, tmp_path, request_change, message):
    _, staff = google_register(emulator, tmp_path)
    sheet_id = staff.sheet1.id
    with pytest.raises(gspread.exceptions.APIError) as caught:
        staff.batch_update({"requests": [chart_request(sheet_id, **request_change)]})
    assert caught.value.response.status_code == 400
    assert message in str(caught.value)
    assert charts_by_tab(staff)[staff.sheet1.title][1] == []


def test_chart_ranges_and_ids_are_checked_and_a_failed_batch_adds_no_chart(emulator, tmp_path):
    _, staff = google_register(emulator, tmp_path)
    sheet_id = staff.sheet1.id
    wide = chart_request(sheet_id)
    wide["addChart"]["chart"]["spec"]["basicChart"]["series"][0]["series"]["sourceRange"][
        "sources"][0]["endColumnIndex"] = 3
    outside = chart_request(sheet_id)
    outside["addChart"]["chart"]["position"]["overlayPosition"]["anchorCell"]["rowIndex"] = 5000
    for request, message in ((wide, "single row or a single column"),
                             (outside, "outside the grid"),
                             ({"deleteEmbeddedObject": {"objectId": 12345}}, "12345")):
        with pytest.raises(gspread.exceptions.APIError) as caught:
            staff.batch_update({"requests": [chart_request(sheet_id), request]})
        assert caught.value.response.status_code == 400 and message in str(caught.value)
        assert charts_by_tab(staff)[staff.sheet1.title][1] == []

    reply = staff.batch_update({"requests": [chart_request(sheet_id, chartId=777)]})
    chart = reply["replies"][0]["addChart"]["chart"]
    assert chart["chartId"] == 777
    assert chart["position"]["overlayPosition"] == {
        "anchorCell": {"rowIndex": 1, "columnIndex": 4}, "widthPixels": 600, "heightPixels": 371}
    assert chart["spec"]["basicChart"]["series"][0]["targetAxis"] == "LEFT_AXIS"
    stored = charts_by_tab(staff)[staff.sheet1.title][1]
    assert stored == [chart]
    with pytest.raises(gspread.exceptions.APIError) as caught:
        staff.batch_update({"requests": [chart_request(sheet_id, chartId=777)]})
    assert "777" in str(caught.value)
    staff.batch_update({"requests": [{"updateChartSpec": {"chartId": 777, "spec": {
        "title": "line", "basicChart": {**chart["spec"]["basicChart"], "chartType": "LINE",
                                        "stackedType": "NOT_STACKED"}}}}]})
    assert charts_by_tab(staff)[staff.sheet1.title][1][0]["spec"]["title"] == "line"
    staff.batch_update({"requests": [{"deleteEmbeddedObject": {"objectId": 777}}]})
    assert charts_by_tab(staff)[staff.sheet1.title][1] == []
