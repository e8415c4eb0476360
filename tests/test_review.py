"""The review: figures per period and department, recurring and similar complaints, rendering,
and `parkdesk report` on a workbook register.

A year of synthetic complaints is generated with a fixed seed; the figures are recomputed here
independently (naive wall-clock arithmetic: Asia/Shanghai has no clock changes).
"""

from __future__ import annotations

import csv
import io
import math
import random
import statistics
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from daemon.cli import build_parser, run_report
from daemon.config import parse_config
from daemon.register.workbook import WorkbookRegister
from daemon.review import build_review, find_low_satisfaction, find_overdue, find_reopened
from daemon.review.figures import (
    METRICS,
    compare_periods,
    figures_by_period,
    percentile,
    period_of,
    previous_period,
)
from daemon.review.recurring import (char_ngrams, find_recurring, find_similar_texts, jaccard,
                                     shared_passages, similar_pairs)
from daemon.review.report import CSV_HEADER, render_csv, render_html, render_text
from daemon.sheet_layout import Status
from tests.test_register_archive import complaint, emulator, fill, ref, side  # noqa: F401

TZ = ZoneInfo("Asia/Shanghai")
FMT = "%Y-%m-%d %H:%M"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=TZ)
DEPARTMENTS = ("property", "environment", "security")
CATEGORIES = ("water", "power", "noise", "cleaning", "parking")
CONFIG_DATA = {
    "park": {"name": "测试园区", "timezone": "Asia/Shanghai"},
    "mailbox": {"backend": "maildir", "path": "mail/inbox"},
    "smtp": {"backend": "outbox", "path": "mail/outbox", "from_address": "desk@park.example.com"},
    "register": {"backend": "workbook", "path": "register.xlsx"},
    "service_center": ["service@park.example.com"],
    "leadership": ["boss@park.example.com"],
    "departments": [{"key": "property", "name": "物业管理部", "head": "head@park.example.com"}],
    "categories": [{"key": "other", "name": "其他", "department": "property"}],
    "priorities": [{"key": "normal", "name": "中", "ack_minutes": 5, "resolve_hours": 72}],
    "intake": {"default_category": "other", "default_priority": "normal"},
}
CONFIG = parse_config(CONFIG_DATA, config_dir="/nonexistent")
RANDOM_CHARS = "甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥abcdefghijklmnopqrstuvwxyz0123456789"


def fmt(moment: datetime | None) -> str:
    return moment.strftime(FMT) if moment else ""


def synthetic_rows(count: int = 400, seed: int = 20261130) -> list[dict[str, str]]:
    """``count`` complaints received between 2025-12-01 and 2026-11-29, most handled."""
    rng = random.Random(seed)
    start = datetime(2025, 12, 1, 8, 0)
    rows = []
    for n in range(1, count + 1):
        received = start + timedelta(minutes=rng.randrange(0, 363 * 24 * 60))
        dispatched = received + timedelta(minutes=rng.randrange(1, 30))
        resolve_by = dispatched + timedelta(hours=72)
        acknowledged = dispatched + timedelta(minutes=rng.randrange(2, 600)) if rng.random() < 0.9 else None
        resolved = None
        if acknowledged and rng.random() < 0.85:
            resolved = acknowledged + timedelta(hours=rng.uniform(1, 120))
        if resolved and resolved > NOW.replace(tzinfo=None):
            resolved = None
        visit = resolved + timedelta(hours=rng.uniform(1, 30)) if resolved and rng.random() < 0.8 else None
        if visit and visit > NOW.replace(tzinfo=None):
            visit = None
        score = str(rng.randint(1, 5)) if visit and rng.random() < 0.7 else ""
        status = (Status.CLOSED if score else Status.RETURN_VISIT if visit else
                  Status.RESOLVED if resolved else Status.ACKNOWLEDGED if acknowledged
                  else Status.DISPATCHED)
        rows.append({
            "reference": f"C-{n:04d}", "status": status.label, "received_at": fmt(received),
            "email": f"tenant{n}@example.com", "location": f"Unit {n}",
            "subject": "".join(rng.choice(RANDOM_CHARS) for _ in range(12)),
            "content": "".join(rng.choice(RANDOM_CHARS) for _ in range(40)),
            "category": rng.choice(CATEGORIES), "department": rng.choice(DEPARTMENTS),
            "dispatched_at": fmt(dispatched), "ack_due": fmt(dispatched + timedelta(minutes=5)),
            "acknowledged_at": fmt(acknowledged), "resolve_by": fmt(resolve_by),
            "resolved_at": fmt(resolved), "visit_sent_at": fmt(visit), "satisfaction": score,
            "escalations": "",
        })
    return rows


ROWS = synthetic_rows()


def parse(text: str) -> datetime | None:
    return datetime.strptime(text, FMT) if text else None


def hours(a: datetime, b: datetime) -> float:
    return (b - a).total_seconds() / 3600


def month_of(text: str) -> str | None:
    return text[:7] if text else None


def expected_month(rows, month: str, department: str) -> dict:
    """The figures of ``month`` recomputed from the definitions, by hand."""
    mine = [r for r in rows if not department or r["department"] == department]
    resolved = [r for r in mine if month_of(r["resolved_at"]) == month]
    acked = [r for r in mine if month_of(r["acknowledged_at"]) == month]
    ack_hours = sorted(hours(parse(r["dispatched_at"]), parse(r["acknowledged_at"])) for r in acked)
    res_hours = sorted(hours(parse(r["received_at"]), parse(r["resolved_at"])) for r in resolved)
    late_open = [r for r in mine if not r["resolved_at"] and month_of(r["resolve_by"]) == month
                 and parse(r["resolve_by"]) <= NOW.replace(tzinfo=None)]
    on_time = sum(parse(r["resolved_at"]) <= parse(r["resolve_by"]) for r in resolved)
    visits = [r for r in mine if month_of(r["visit_sent_at"]) == month]
    scores = [int(r["satisfaction"]) for r in visits if r["satisfaction"]]

    def nearest_rank(values):
        return values[math.ceil(0.9 * len(values)) - 1] if values else None

    return {
        "received": sum(month_of(r["received_at"]) == month for r in mine),
        "resolved": len(resolved),
        "ack_median_hours": statistics.median(ack_hours) if ack_hours else None,
        "ack_p90_hours": nearest_rank(ack_hours),
        "resolve_median_hours": statistics.median(res_hours) if res_hours else None,
        "resolve_p90_hours": nearest_rank(res_hours),
        "on_time_rate": on_time / (len(resolved) + len(late_open)) if resolved or late_open else None,
        "satisfaction_average": sum(scores) / len(scores) if scores else None,
        "response_rate": len(scores) / len(visits) if visits else None,
    }


def assert_same(actual, expected):
    for metric in METRICS:
        want, got = expected[metric], actual.value(metric)
        if want is None:
            assert got is None, metric
        else:
            assert got == pytest.approx(want), metric


# --- figures ---------------------------------------------------------------------------------

@pytest.mark.parametrize("month", ["2026-01", "2026-06", "2026-10"])
@pytest.mark.parametrize("department", ["", "property", "security"])
def test_monthly_figures_match_an_independent_recomputation(month, department):
    table = figures_by_period(ROWS, TZ, "month", NOW)
    assert_same(table[(month, department)], expected_month(ROWS, month, department))
    assert table[(month, department)].received > 5


def test_every_received_complaint_is_counted_once_per_period_kind():
    for kind in ("week", "month"):
        table = figures_by_period(ROWS, TZ, kind, NOW)
        assert sum(f.received for (_, d), f in table.items() if d == "") == len(ROWS)
        assert sum(f.received for (_, d), f in table.items() if d) == len(ROWS)


def test_weekly_periods_follow_iso_weeks_in_the_park_zone():
    assert period_of(datetime(2026, 1, 1, 0, 30, tzinfo=TZ), TZ, "week") == "2026-W01"
    assert period_of(datetime(2025, 12, 31, 16, 30, tzinfo=ZoneInfo("UTC")), TZ, "month") == "2026-01"
    assert previous_period("2026-W01", "week") == "2025-W52"
    assert previous_period("2021-W01", "week") == "2020-W53"
    assert previous_period("2026-01", "month") == "2025-12"
    table = figures_by_period(ROWS, TZ, "week", NOW)
    monday = datetime(2026, 3, 2)  # ISO week 2026-W10
    expected = sum(monday <= parse(r["received_at"]) < monday + timedelta(days=7) for r in ROWS)
    assert table[("2026-W10", "")].received == expected


def test_change_against_the_previous_period():
    table = figures_by_period(ROWS, TZ, "month", NOW)
    comparisons = compare_periods(table, "2026-10", "2026-09")
    assert [c.department for c in comparisons] == ["", "environment", "property", "security"]
    for comparison in comparisons:
        now_figures = expected_month(ROWS, "2026-10", comparison.department)
        then_figures = expected_month(ROWS, "2026-09", comparison.department)
        for metric in METRICS:
            if now_figures[metric] is None or then_figures[metric] is None:
                assert comparison.change[metric] is None
            else:
                assert comparison.change[metric] == pytest.approx(
                    now_figures[metric] - then_figures[metric]), metric


def test_percentile_is_nearest_rank():
    assert percentile([], 90) is None
    assert percentile([5], 90) == 5
    assert percentile(range(1, 11), 90) == 9
    assert percentile(range(1, 12), 90) == 10


def test_unreadable_cells_are_left_out_not_fatal():
    rows = [dict(ROWS[0], received_at="someday", resolved_at="2026-13-45 10:00")]
    table = figures_by_period(rows, TZ, "month", NOW)
    assert all(f.received == 0 and f.resolved == 0 for f in table.values())


# --- overdue, reopened, satisfaction ---------------------------------------------------------

def open_late(reference: str, resolve_by: datetime, escalations: str = "") -> dict[str, str]:
    return {"reference": reference, "status": Status.ACKNOWLEDGED.label, "department": "property",
            "received_at": fmt(resolve_by - timedelta(hours=72)),
            "acknowledged_at": fmt(resolve_by - timedelta(hours=71)),
            "resolve_by": fmt(resolve_by), "escalations": escalations, "subject": "漏水 leak"}


def test_overdue_rows_say_how_late_and_how_far_escalated():
    rows = [
        open_late("C-A", datetime(2026, 11, 28, 10, 0), "resolve+0min→部门负责人 2026-11-28 10:00; "
                  "resolve+60min→服务中心 2026-11-28 11:00"),
        open_late("C-B", datetime(2026, 11, 30, 11, 15)),
        open_late("C-C", datetime(2026, 11, 30, 13, 0)),  # not yet due
        dict(open_late("C-D", datetime(2026, 11, 1, 9, 0)), status=Status.CLOSED.label),
    ]
    items = find_overdue(rows, CONFIG, NOW)
    assert [(i.reference, i.minutes_late, i.level, i.last_notified) for i in items] == [
        ("C-A", 2 * 24 * 60 + 120, 2, "service_center"), ("C-B", 45, 0, "")]


def test_reopened_and_low_satisfaction_are_named():
    rows = [dict(ROWS[0], reference="C-R", status=Status.REOPENED.label),
            dict(ROWS[1], reference="C-L", satisfaction="不满意"),
            dict(ROWS[2], reference="C-H", satisfaction="5"),
            dict(ROWS[3], reference="C-X", satisfaction="call back")]
    assert [i.reference for i in find_reopened(rows)] == ["C-R"]
    assert [(i.reference, i.satisfaction) for i in find_low_satisfaction(rows)] == [("C-L", 2)]


# --- recurring -------------------------------------------------------------------------------

def planted(reference: str, when: str, **cells) -> dict[str, str]:
    base = {"reference": reference, "status": Status.CLOSED.label, "received_at": when,
            "location": f"somewhere {reference}", "category": "", "email": f"{reference}@x.example",
            "subject": reference, "content": "".join(random.Random(reference).choice(RANDOM_CHARS)
                                                    for _ in range(30))}
    return base | cells


def test_same_location_three_times_in_thirty_days_is_a_group_and_spread_out_is_not():
    rows = ROWS + [
        planted("L-1", "2026-03-01 09:00", location="B栋 3楼"),
        planted("L-2", "2026-03-12 09:00", location="b栋  3楼"),
        planted("L-3", "2026-03-30 08:00", location="B栋 3楼"),
        planted("L-4", "2026-06-20 09:00", location="B栋 3楼"),  # far later: not in the run
        planted("S-1", "2026-01-01 09:00", location="C栋"),
        planted("S-2", "2026-01-25 09:00", location="C栋"),
        planted("S-3", "2026-02-25 09:00", location="C栋"),  # 55 days after S-1, 31 after S-2
    ]
    groups = [g for g in find_recurring(rows, TZ) if g.field == "location"]
    assert [(g.value, g.references) for g in groups] == [("B栋 3楼", ("L-1", "L-2", "L-3"))]
    assert groups[0].count == 3 and groups[0].last - groups[0].first < timedelta(days=30)


def test_same_tenant_is_found_across_the_archive_and_category_runs_merge():
    register = [planted("T-2", "2026-05-10 09:00", email="Boss@Tenant.example"),
                planted("T-3", "2026-05-20 09:00", email="boss@tenant.example")]
    archive = [planted("T-1", "2026-04-25 09:00", email="boss@tenant.example")]
    review = build_review(register, CONFIG, NOW, archived=archive)
    tenant = [g for g in review.recurring if g.field == "email"]
    assert [g.references for g in tenant] == [("T-1", "T-2", "T-3")]
    # four complaints of one category within overlapping windows are one group, not two
    rows = [planted(f"K-{i}", f"2026-07-{day:02d} 10:00", category="noise")
            for i, day in enumerate((1, 20, 28, 31))]
    groups = [g for g in find_recurring(rows, TZ) if g.field == "category"]
    assert [g.references for g in groups] == [("K-0", "K-1", "K-2", "K-3")]
    assert find_recurring(rows, TZ, min_count=5) == []


SIMILAR = [
    planted("Z-1", "2026-02-01 09:00", subject="卫生间漏水", content="3号楼一楼卫生间漏水，地面全是水，请尽快维修"),
    planted("Z-2", "2026-02-03 09:00", subject="又漏水", content="3号楼一楼卫生间又漏水了，地面全是水，请尽快派人维修"),
    planted("E-1", "2026-02-05 09:00", subject="Air conditioning",
            content="The air conditioning in unit 5B is not working since Monday"),
    planted("E-2", "2026-02-06 09:00", subject="air conditioning broken",
            content="Air conditioning in unit 5B still not working since Monday!"),
    planted("N-1", "2026-02-07 09:00", subject="Parking gate", content="停车场道闸坏了 the parking gate is broken"),
]


def test_similar_chinese_and_english_texts_are_grouped_and_explained():
    groups = find_similar_texts(ROWS + SIMILAR)
    found = {g.references: g for g in groups}
    assert set(found) == {("Z-1", "Z-2"), ("E-1", "E-2")}
    assert found[("Z-1", "Z-2")].shared == ("3号楼一楼卫生间", "地面全是水", "请尽快", "漏水", "维修")
    assert found[("E-1", "E-2")].shared[:3] == ("conditioning", "working", "monday")
    pair = jaccard(char_ngrams("卫生间漏水 3号楼"), char_ngrams("卫生间漏水 3号楼"))
    assert pair == 1.0 and found[("Z-1", "Z-2")].similarity >= 0.5
    assert find_similar_texts(list(reversed(ROWS + SIMILAR))) == groups  # deterministic


def test_passages_join_only_overlapping_ngrams():
    assert shared_passages("请尽快维修 ab cd", {"请尽快", "维修", "ab"}, 5) == ["请尽快", "ab", "维修"]
    assert shared_passages("waterleak", {"wat", "ate", "ter", "lea"}, 5) == ["water", "lea"]
    assert char_ngrams("Leak, B-2!") == {"le", "ea", "ak", "lea", "eak"}


def test_a_high_threshold_separates_them():
    assert find_similar_texts(SIMILAR, threshold=0.95) == []


# --- rendering -------------------------------------------------------------------------------

def full_review(period_kind: str = "month"):
    register = ROWS[:300] + SIMILAR + [
        open_late("C-LATE", datetime(2026, 11, 29, 9, 0), "resolve+0min→部门负责人 2026-11-29 09:00"),
        dict(ROWS[0], reference="C-REOPEN", status=Status.REOPENED.label)]
    return build_review(register, CONFIG, NOW, period_kind=period_kind, archived=ROWS[300:])


def test_text_review_has_every_section_with_bilingual_headings():
    review = full_review()
    assert (review.period, review.previous) == ("2026-10", "2026-09")
    text = render_text(review)
    for heading in ("未结且超期 Open and overdue", "反复出现的问题 Recurring problems",
                    "内容相似的投诉 Similar complaints", "重新处理 Reopened",
                    "满意度低 Low satisfaction", "统计 Figures: 2026-10 vs 2026-09"):
        assert heading in text
    assert "C-LATE" in text and "1d 3h 0m" in text and "level 1 → 部门负责人" in text
    whole = expected_month(ROWS, "2026-10", "")
    assert f"收到 Received: {whole['received']}  (上期 previous " in text


def test_csv_parses_back_to_the_review():
    review = full_review("week")
    rows = list(csv.DictReader(io.StringIO(render_csv(review))))
    assert tuple(rows[0]) == CSV_HEADER
    figures = {(r["department"], r["item"]): r for r in rows if r["section"] == "figures"}
    for comparison in review.figures:
        for metric in METRICS:
            row = figures[(comparison.department, metric)]
            value = comparison.current_figures.value(metric)
            assert (float(row["value"]) if row["value"] else None) == (
                None if value is None else pytest.approx(value, abs=1e-4))
            assert row["period"] == review.period and row["detail"] == review.previous
    overdue = [r for r in rows if r["section"] == "overdue"]
    assert ("C-LATE", "resolve", str(27 * 60)) in [(r["references"], r["item"], r["value"])
                                                   for r in overdue]
    naive_now = NOW.replace(tzinfo=None)
    still_open = [r for r in ROWS[:300] if not r["resolved_at"]]
    expected = ([(r["reference"], "ack") for r in still_open
                 if not r["acknowledged_at"] and parse(r["ack_due"]) <= naive_now]
                + [(r["reference"], "resolve") for r in still_open
                   if parse(r["resolve_by"]) <= naive_now] + [("C-LATE", "resolve")])
    assert sorted((r["references"], r["item"]) for r in overdue) == sorted(expected)
    similar = {r["references"] for r in rows if r["section"] == "similar"}
    assert {"Z-1 Z-2", "E-1 E-2"} <= similar


def test_html_is_escaped_and_has_the_sections():
    review = full_review()
    page = render_html(build_review(
        [dict(SIMILAR[0], reference="<b>C-1</b>", status=Status.REOPENED.label)], CONFIG, NOW))
    assert "&lt;b&gt;C-1&lt;/b&gt;" in page and "<b>C-1</b>" not in page
    assert "<h2>统计 Figures</h2>" in render_html(review)


# --- archives and the command ----------------------------------------------------------------

def test_read_archives_returns_every_archive_tab(side):  # noqa: F811
    fill(side, 5)
    assert side.register.read_archives() == {}
    side.register.archive_rows({"Archive 2025": [ref(2), ref(4)], "Archive 2024": [ref(1)]})
    tabs = side.register.read_archives()
    assert list(tabs) == ["Archive 2025", "Archive 2024"]
    assert [dict(row.values) for row in tabs["Archive 2025"]] == [complaint(2), complaint(4)]
    assert [row.reference for row in tabs["Archive 2024"]] == [ref(1)]


def test_parkdesk_report_prints_the_review_of_a_workbook_register(tmp_path, capsys):
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(CONFIG_DATA, allow_unicode=True), encoding="utf-8")
    register = WorkbookRegister(tmp_path / "register.xlsx")
    register.ensure_layout()
    register.append_complaints(ROWS[:120] + SIMILAR + [
        open_late("C-LATE", datetime(2026, 11, 29, 9, 0))])
    register.archive_rows({"Archive 2026": ["Z-1"]})

    args = build_parser().parse_args(["report", "--config", str(config_path), "--period", "month"])
    assert run_report(args, now=NOW) == 0
    out = capsys.readouterr().out
    assert out.startswith("投诉处理检讨 Complaint review: 2026-11-30 12:00")
    assert "C-LATE" in out and "Z-1, Z-2" in out  # Z-1 read back from the archive tab
    expected = expected_month(ROWS[:120], "2026-10", "")  # SIMILAR: received in February
    assert f"收到 Received: {expected['received']}  (" in out

    args = build_parser().parse_args(["report", "--config", str(config_path), "--format", "csv"])
    assert run_report(args, now=NOW) == 0
    assert next(csv.reader(io.StringIO(capsys.readouterr().out))) == list(CSV_HEADER)


def test_parkdesk_report_names_a_bad_config(tmp_path, capsys):
    args = build_parser().parse_args(["report", "--config", str(tmp_path / "missing.yaml")])
    assert run_report(args) == 1
    assert "missing.yaml" in capsys.readouterr().err


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.8])
def test_similar_pairs_are_exactly_those_a_comparison_of_every_pair_finds(threshold):
    rng = random.Random(threshold)
    words = ["漏水", "空调", "停车", "噪音", "垃圾", "电梯", "请尽快", "处理", "B栋", "3楼", "water",
             "leak", "noise", "please"]
    texts = [" ".join(rng.choices(words, k=rng.randint(2, 9))) for _ in range(300)]
    sets = [char_ngrams(text) for text in texts]
    every_pair = {(i, j) for i in range(len(sets)) for j in range(i + 1, len(sets))
                  if jaccard(sets[i], sets[j]) >= threshold}
    found = {(i, j) for i, j, _ in similar_pairs(sets, threshold)}
    assert found == every_pair and len(every_pair) > 10
