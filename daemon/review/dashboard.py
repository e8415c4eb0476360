"""The Dashboard and Recurring tabs of the register, as content any backend can write.

``dashboard_tabs`` turns a ``Review`` (and the rows it was built from) into two ``TabContent``s:

- ``Dashboard``: the figures of the review's period per department beside the previous period
  and the change; two chart data tables, complaints per week by category over the last
  ``weeks`` complete ISO weeks and the median and 90th-percentile sign-for time of each of those
  weeks (``ChartPlan``s say which table each native chart plots); the open and overdue
  complaints.
- ``Recurring``: every recurring group (same location, category or tenant) with its count,
  window and references; every group of similar texts with the passages its members share.

Every number comes from ``daemon.review`` (``figures_by_period`` for the weekly sign-for times,
``period_of`` for the weeks); this module only lays it out. Headers are bilingual as in
``sheet_layout`` ("收到 Received"), the park's language (``config.park.language``) first.

``rebuild_dashboard(config, register, now)`` is the daily job: read the register and the
archive tabs, build the review, write both tabs with the backend's writer
(``daemon.register.google_dashboard`` or ``daemon.register.workbook_dashboard``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from daemon.intake.rows import TIME_FORMAT
from daemon.review import Review, build_review
from daemon.review.figures import METRICS, figures_by_period, period_of, read_time
from daemon.review.recurring import normalize_value
from daemon.review.report import (
    ALL_LABEL,
    FIELD_LABELS,
    HEADINGS,
    METRIC_LABELS,
    RATE_METRICS,
    STAGE_LABELS,
    escalation_label,
)
from daemon.sla import as_utc, cell, row_reference

DASHBOARD_TAB = "Dashboard"
RECURRING_TAB = "Recurring"
DEFAULT_WEEKS = 12
MAX_CATEGORIES = 8  # more categories than this: the smallest are summed as "other"

Value = str | int | float | None
# How numbers are shown: Sheets numberFormat patterns, which Excel reads alike.
NUMBER_FORMATS = {"count": "0", "hours": "0.0", "percent": "0.0%", "ratio": "0.00"}

# Bilingual texts as (Chinese, English); ``bilingual`` puts the park's language first.
TEXTS: dict[str, tuple[str, str]] = {
    "dashboard_title": ("投诉处理看板", "Complaint dashboard"),
    "recurring_title": ("反复出现的问题", "Recurring problems"),
    "generated": ("更新于", "Updated"),
    "period": ("周期", "Period"),
    "versus": ("对比", "vs"),
    "figures": ("统计", "Figures"),
    "department": ("部门", "Department"),
    "row_period": ("周期", "Period"),
    "change": ("变化", "Change"),
    "overdue": ("未结且超期", "Open and overdue"),
    "reference": ("编号", "Reference"),
    "stage": ("阶段", "Stage"),
    "late_hours": ("超期(小时)", "Late (h)"),
    "due": ("期限", "Due"),
    "escalation": ("催办", "Escalation"),
    "per_week": ("每周投诉(按类别)", "Complaints per week by category"),
    "week": ("周", "Week"),
    "complaints": ("投诉数", "Complaints"),
    "sign_for": ("每周签收时间(小时)", "Sign-for time per week (h)"),
    "hours": ("小时", "Hours"),
    "median": ("中位数", "Median"),
    "p90": ("90分位", "90th percentile"),
    "uncategorized": ("未分类", "Uncategorized"),
    "other_categories": ("其他类别", "Other categories"),
    "none": ("无", "None"),
    "kind": ("依据", "Kind"),
    "key": ("值", "Key"),
    "count": ("次数", "Count"),
    "first": ("首次", "First"),
    "last": ("最近", "Last"),
    "references": ("编号", "References"),
    "similar": ("内容相似的投诉", "Similar complaints"),
    "similarity": ("相似度", "Similarity"),
    "shared": ("共同内容", "Shared passages"),
}


def bilingual(pair: tuple[str, str] | str, language: str) -> str:
    """``("收到", "Received")`` -> ``"收到 Received"`` (zh-CN) or ``"Received 收到"`` (en).

    A string is a label as ``report.py`` writes them, Chinese first ("收到 Received"), split at
    its first space.
    """
    if isinstance(pair, str):
        chinese, _, english = pair.partition(" ")
        if not english:
            return pair
        pair = (chinese, english)
    chinese, english = pair
    return f"{english} {chinese}" if language == "en" else f"{chinese} {english}"


# --- content ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Block:
    """A table on a tab: a heading row, a header row, data rows. ``formats`` names each data
    column's number format (a key of ``NUMBER_FORMATS``, or None for text)."""

    key: str
    heading: str
    header: tuple[str, ...]
    rows: tuple[tuple[Value, ...], ...]
    formats: tuple[str | None, ...] = ()

    @property
    def width(self) -> int:
        return max([len(self.header), *(len(row) for row in self.rows)])


@dataclass(frozen=True)
class Placement:
    """Where a block landed on its tab (0-based): its header row, its data rows, its width."""

    heading_row: int
    header_row: int
    first_data_row: int
    data_rows: int
    width: int

    @property
    def end_row(self) -> int:
        """One past the block's last data row."""
        return self.first_data_row + self.data_rows


@dataclass(frozen=True)
class ChartPlan:
    """A native chart of one block: column 0 is the domain (the weeks), the other columns are
    the series, each named by its header cell. ``kind``: "stacked_column" or "line"."""

    key: str
    kind: str
    title: str
    block: str
    x_title: str
    y_title: str


@dataclass(frozen=True)
class TabContent:
    """What one tab shows: a title row, a subtitle row, then the blocks, a blank row apart."""

    title: str
    heading: str
    subtitle: str
    blocks: tuple[Block, ...]
    charts: tuple[ChartPlan, ...] = ()
    placements: dict[str, Placement] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        row = 3  # title, subtitle, blank
        for block in self.blocks:
            self.placements[block.key] = Placement(row, row + 1, row + 2, len(block.rows),
                                                   block.width)
            row += 2 + len(block.rows) + 1

    @property
    def width(self) -> int:
        return max([1, *(block.width for block in self.blocks)])

    @property
    def height(self) -> int:
        return max([2, *(p.end_row for p in self.placements.values())])

    def block(self, key: str) -> Block:
        return next(block for block in self.blocks if block.key == key)

    def grid(self) -> list[list[Value]]:
        """Every row of the tab from A1, as values (None: empty cell)."""
        rows: list[list[Value]] = [[self.heading], [self.subtitle]]
        for block in self.blocks:
            rows.append([])
            rows.append([block.heading])
            rows.append(list(block.header))
            rows.extend(list(row) for row in block.rows)
        return rows

    def chart_anchor(self, index: int) -> tuple[int, int]:
        """(row, column), 0-based, where chart ``index`` is anchored: right of the tables,
        one chart under the other."""
        return 3 + index * CHART_ROWS, self.width + 1


CHART_ROWS = 20  # rows (of 21 px) a chart occupies; the next one starts below it
CHART_WIDTH_PIXELS = 720
CHART_HEIGHT_PIXELS = 400


# --- the Dashboard ---------------------------------------------------------------------------

def _number(value: Any, digits: int) -> Value:
    return None if value is None else round(float(value), digits)


def _metric_value(metric: str, value: Any) -> Value:
    if value is None:
        return None
    if metric in ("received", "resolved"):
        return int(value)
    return _number(value, 4 if metric in RATE_METRICS else 2)


def _metric_format(metric: str) -> str:
    if metric in ("received", "resolved"):
        return "count"
    return "percent" if metric in RATE_METRICS else "hours"


def figures_block(review: Review, language: str) -> Block:
    """Per department (the whole park first): the period, the previous one, the change."""
    header = (bilingual(TEXTS["department"], language), bilingual(TEXTS["row_period"], language),
              *(bilingual(METRIC_LABELS[metric], language) for metric in METRICS))
    rows = []
    for comparison in review.figures:
        department = comparison.department or bilingual(ALL_LABEL, language)
        for label, values in (
                (comparison.period, comparison.current_figures.value),
                (comparison.previous, comparison.previous_figures.value),
                (bilingual(TEXTS["change"], language), comparison.change.get)):
            rows.append((department, label, *(_metric_value(m, values(m)) for m in METRICS)))
    return Block("figures", bilingual(TEXTS["figures"], language) + f": {review.period}",
                 header, tuple(rows), (None, None, *(_metric_format(m) for m in METRICS)))


def overdue_block(review: Review, language: str) -> Block:
    header = tuple(bilingual(TEXTS[key], language) for key in
                   ("reference", "department", "stage", "late_hours", "due", "escalation"))
    rows = tuple((item.reference, item.department, bilingual(STAGE_LABELS[item.stage], language),
                  round(item.minutes_late / 60, 2), item.deadline.strftime(TIME_FORMAT),
                  escalation_label(item))
                 for item in review.overdue)
    return Block("overdue", bilingual(TEXTS["overdue"], language) + f" ({len(rows)})", header,
                 rows or ((bilingual(TEXTS["none"], language),),),
                 (None, None, None, "hours", None, None))


def recent_weeks(now: datetime, tz: tzinfo, weeks: int) -> list[str]:
    """The ``weeks`` complete ISO weeks before the one holding ``now``, oldest first:
    ``["2026-W37", ..., "2026-W48"]``."""
    local = as_utc(now).astimezone(tz).date()
    monday = local - timedelta(days=local.weekday())
    return [period_of(datetime.combine(monday - timedelta(weeks=back), datetime.min.time(), tz),
                      tz, "week")
            for back in range(weeks, 0, -1)]


def weekly_categories(rows: Sequence[Any], tz: tzinfo, weeks: Sequence[str], language: str,
                      limit: int = MAX_CATEGORIES) -> tuple[list[str], dict[str, Counter]]:
    """The categories to chart (the most frequent in ``weeks`` first) and, per week, the
    complaints received in it per category. Categories are compared as the review compares
    values (spaces and case ignored); beyond ``limit`` the rest are summed as one."""
    wanted = set(weeks)
    spelling: dict[str, str] = {}
    counts: dict[str, Counter] = {week: Counter() for week in weeks}
    for row in rows:
        received = read_time(row, "received_at", tz)
        if received is None:
            continue
        week = period_of(received, tz, "week")
        if week not in wanted:
            continue
        raw = cell(row, "category").strip()
        key = normalize_value(raw)
        spelling.setdefault(key, raw or bilingual(TEXTS["uncategorized"], language))
        counts[week][key] += 1
    totals = Counter()
    for week_counts in counts.values():
        totals.update(week_counts)
    ordered = sorted(totals, key=lambda key: (-totals[key], spelling[key]))
    if len(ordered) > limit:
        kept, rest = ordered[:limit - 1], ordered[limit - 1:]
        other = bilingual(TEXTS["other_categories"], language)
        for week_counts in counts.values():
            week_counts[other] = sum(week_counts.pop(key, 0) for key in rest)
        spelling[other] = other
        ordered = [*kept, other]
    return [spelling[key] for key in ordered], {
        week: Counter({spelling[key]: week_counts.get(key, 0) for key in ordered})
        for week, week_counts in counts.items()}


def per_week_block(rows: Sequence[Any], tz: tzinfo, weeks: Sequence[str], language: str) -> Block:
    names, counts = weekly_categories(rows, tz, weeks, language)
    if not names:
        names = [bilingual(TEXTS["complaints"], language)]
    header = (bilingual(TEXTS["week"], language), *names)
    data = tuple((week, *(counts[week].get(name, 0) for name in names)) for week in weeks)
    return Block("per_week", bilingual(TEXTS["per_week"], language), header, data,
                 (None, *("count" for _ in names)))


def sign_for_block(rows: Sequence[Any], tz: tzinfo, weeks: Sequence[str], language: str,
                   now: datetime) -> Block:
    """Median and 90th percentile sign-for hours of the rows signed for in each week."""
    table = figures_by_period(rows, tz, "week", now)
    header = (bilingual(TEXTS["week"], language), bilingual(TEXTS["median"], language),
              bilingual(TEXTS["p90"], language))
    data = []
    for week in weeks:
        figures = table.get((week, ""))
        data.append((week, _number(figures.ack_median_hours if figures else None, 2),
                     _number(figures.ack_p90_hours if figures else None, 2)))
    return Block("sign_for", bilingual(TEXTS["sign_for"], language), header, tuple(data),
                 (None, "hours", "hours"))


def dashboard_tab(review: Review, rows: Sequence[Any], tz: tzinfo, language: str,
                  weeks: int = DEFAULT_WEEKS) -> TabContent:
    chosen = recent_weeks(review.generated_at, tz, weeks)
    subtitle = (f"{bilingual(TEXTS['period'], language)}: {review.period} "
                f"({bilingual(TEXTS['versus'], language)} {review.previous}); "
                f"{bilingual(TEXTS['generated'], language)} "
                f"{as_utc(review.generated_at).astimezone(tz).strftime(TIME_FORMAT)}")
    charts = (
        ChartPlan("per_week", "stacked_column", bilingual(TEXTS["per_week"], language), "per_week",
                  bilingual(TEXTS["week"], language), bilingual(TEXTS["complaints"], language)),
        ChartPlan("sign_for", "line", bilingual(TEXTS["sign_for"], language), "sign_for",
                  bilingual(TEXTS["week"], language), bilingual(TEXTS["hours"], language)),
    )
    return TabContent(
        DASHBOARD_TAB, bilingual(TEXTS["dashboard_title"], language), subtitle,
        (figures_block(review, language), per_week_block(rows, tz, chosen, language),
         sign_for_block(rows, tz, chosen, language, review.generated_at),
         overdue_block(review, language)),
        charts)


# --- the Recurring tab -----------------------------------------------------------------------

def received_span(references: Sequence[str], received: Mapping[str, datetime]) -> tuple[str, str]:
    """First and last received time of ``references`` as text ("" when none is known)."""
    times = sorted((received[ref] for ref in references if ref in received), key=as_utc)
    return ((times[0].strftime(TIME_FORMAT), times[-1].strftime(TIME_FORMAT)) if times
            else ("", ""))


def recurring_tab(review: Review, rows: Sequence[Any], tz: tzinfo, language: str) -> TabContent:
    none = ((bilingual(TEXTS["none"], language),),)
    header = tuple(bilingual(TEXTS[key], language) for key in
                   ("kind", "key", "count", "first", "last", "references"))
    repeats = tuple((bilingual(FIELD_LABELS.get(group.field, group.field), language), group.value,
                     group.count, group.first.strftime(TIME_FORMAT),
                     group.last.strftime(TIME_FORMAT), ", ".join(group.references))
                    for group in review.recurring)
    received = {}
    for row in rows:
        moment = read_time(row, "received_at", tz)
        if moment is not None and row_reference(row):
            received.setdefault(row_reference(row), moment)
    similar_header = tuple(bilingual(TEXTS[key], language) for key in
                           ("shared", "count", "similarity", "first", "last", "references"))
    similar = tuple((" / ".join(group.shared), len(group.references), group.similarity,
                     *received_span(group.references, received), ", ".join(group.references))
                    for group in review.similar)
    subtitle = (f"{bilingual(TEXTS['generated'], language)} "
                f"{as_utc(review.generated_at).astimezone(tz).strftime(TIME_FORMAT)}")
    return TabContent(
        RECURRING_TAB, bilingual(TEXTS["recurring_title"], language), subtitle,
        (Block("recurring", bilingual(HEADINGS["recurring"], language) + f" ({len(repeats)})",
               header, repeats or none, (None, None, "count", None, None, None)),
         Block("similar", bilingual(HEADINGS["similar"], language) + f" ({len(similar)})",
               similar_header, similar or none, (None, "count", "ratio", None, None, None))))


def dashboard_tabs(review: Review, rows: Sequence[Any], config: Any,
                   weeks: int = DEFAULT_WEEKS) -> tuple[TabContent, TabContent]:
    """The Dashboard and the Recurring tab of ``review``; ``rows``: Register and archive rows
    (those the review was built from)."""
    tz, language = config.park.tz, config.park.language
    return (dashboard_tab(review, rows, tz, language, weeks),
            recurring_tab(review, rows, tz, language))


# --- the daily job ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DashboardReport:
    """What one rebuild wrote: the rows of each tab, the charts, and the requests it cost
    (the register's ``request_counts`` before and after, reads of the register included)."""

    backend: str
    period: str
    dashboard_rows: int
    recurring_rows: int
    charts: int
    requests: dict[str, int]


def count_changes(before: Mapping[str, int], after: Mapping[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after
            if after[key] != before.get(key, 0)}


def rebuild_dashboard(config: Any, register: Any, now: datetime, *, period_kind: str = "month",
                      weeks: int = DEFAULT_WEEKS) -> DashboardReport:
    """Read the register and its archive tabs, build the review at ``now`` and write the
    Dashboard and Recurring tabs (charts included) with the register's backend. The data tabs
    are only read. ``RegisterError`` (and subclasses) as the register raises them."""
    before = dict(register.request_counts)
    rows = list(register.read_register())
    archived = [row for tab in register.read_archives().values() for row in tab]
    local_now = as_utc(now).astimezone(config.park.tz)
    review = build_review(rows, config, local_now, period_kind=period_kind, archived=archived)
    dashboard, recurring = dashboard_tabs(review, rows + archived, config, weeks)
    writer = dashboard_writer(register)
    charts = writer(register, dashboard, recurring)
    return DashboardReport(
        backend=type(register).__name__, period=review.period,
        dashboard_rows=dashboard.height, recurring_rows=recurring.height, charts=charts,
        requests=count_changes(before, register.request_counts))


def dashboard_writer(register: Any):
    """The function that writes the tabs for this register's backend."""
    from daemon.register.google_sheet import GoogleRegister
    from daemon.register.workbook import WorkbookRegister

    if isinstance(register, GoogleRegister):
        from daemon.register.google_dashboard import write_dashboard_tabs
        return write_dashboard_tabs
    if isinstance(register, WorkbookRegister):
        from daemon.register.workbook_dashboard import write_dashboard_tabs
        return write_dashboard_tabs
    raise TypeError(f"no dashboard writer for a {type(register).__name__} register")

