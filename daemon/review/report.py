"""A ``Review`` rendered for people: plain text, CSV, or an HTML page, with bilingual headings.

Rendering only: every number comes from the ``Review``. Times are shown in the zone they carry
(the park's, as ``build_review`` reads them); rates as percentages; durations in hours.

The CSV is one table with a ``section`` column, so it loads into a spreadsheet as it is:
``section, period, department, item, value, previous, change, references, detail``.
"""

from __future__ import annotations

import csv
import html
import io
from typing import Any, Callable

from daemon.intake.rows import TIME_FORMAT
from daemon.review import Review
from daemon.review.figures import METRICS
from daemon.sla import NOTIFY_LABELS

FORMATS = ("text", "html", "csv")

HEADINGS = {
    "title": "投诉处理检讨 Complaint review",
    "overdue": "未结且超期 Open and overdue",
    "recurring": "反复出现的问题 Recurring problems",
    "similar": "内容相似的投诉 Similar complaints",
    "reopened": "重新处理 Reopened",
    "low_satisfaction": "满意度低 Low satisfaction",
    "figures": "统计 Figures",
    "none": "无 None",
}
METRIC_LABELS = {
    "received": "收到 Received",
    "resolved": "已处理 Resolved",
    "ack_median_hours": "签收中位数(小时) Sign-for median (h)",
    "ack_p90_hours": "签收90分位(小时) Sign-for p90 (h)",
    "resolve_median_hours": "处理中位数(小时) Resolution median (h)",
    "resolve_p90_hours": "处理90分位(小时) Resolution p90 (h)",
    "on_time_rate": "按时率 On-time rate",
    "satisfaction_average": "满意度平均 Satisfaction average",
    "response_rate": "回访回复率 Response rate",
}
RATE_METRICS = frozenset({"on_time_rate", "response_rate"})
FIELD_LABELS = {"location": "位置 Location", "category": "类别 Category", "email": "企业邮箱 Tenant"}
STAGE_LABELS = {"ack": "签收 sign-for", "resolve": "处理 resolution"}
ALL_LABEL = "全园区 Whole park"


def format_minutes(minutes: int) -> str:
    """``1575`` -> ``"1d 2h 15m"``."""
    days, rest = divmod(int(minutes), 1440)
    hours, mins = divmod(rest, 60)
    return " ".join(part for part in (f"{days}d" if days else "", f"{hours}h" if days or hours else "",
                                      f"{mins}m") if part)


def format_metric(metric: str, value: Any, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    if metric in RATE_METRICS:
        number = f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}"
        return f"{number}%" if not signed else f"{number} pt"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:+d}" if signed else str(value)
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def department_label(department: str) -> str:
    return department or ALL_LABEL


def escalation_label(item: Any) -> str:
    if not item.level:
        return "未催办 not chased yet"
    who = NOTIFY_LABELS.get(item.last_notified, item.last_notified or "?")
    return f"第{item.level}级 level {item.level} → {who}"


# --- text ------------------------------------------------------------------------------------

def render_text(review: Review) -> str:
    lines = [f"{HEADINGS['title']}: {review.generated_at.strftime(TIME_FORMAT)}",
             f"周期 Period: {review.period} (对比 vs {review.previous})", ""]

    def section(key: str, body: list[str]) -> None:
        lines.append(f"== {HEADINGS[key]} ({len(body)}) ==")
        lines.extend(body or [f"  {HEADINGS['none']}"])
        lines.append("")

    section("overdue", [
        f"  {item.reference}  {item.department or '-'}  {STAGE_LABELS[item.stage]}  "
        f"超期 late {format_minutes(item.minutes_late)}  (期限 due "
        f"{item.deadline.strftime(TIME_FORMAT)})  {escalation_label(item)}"
        for item in review.overdue])
    section("recurring", [
        f"  {FIELD_LABELS.get(group.field, group.field)} '{group.value}': {group.count} 次 times "
        f"{group.first.strftime('%Y-%m-%d')} – {group.last.strftime('%Y-%m-%d')}: "
        f"{', '.join(group.references)}"
        for group in review.recurring])
    section("similar", [
        f"  {', '.join(group.references)}  (相似度 similarity ≥ {group.similarity:.2f}; "
        f"共同 shared: {' / '.join(group.shared)})"
        for group in review.similar])
    section("reopened", [f"  {item.reference}  {item.department or '-'}  {item.subject}"
                         for item in review.reopened])
    section("low_satisfaction", [
        f"  {item.reference}  {item.department or '-'}  满意度 score {item.satisfaction}  "
        f"{item.subject}" for item in review.low_satisfaction])
    lines.append(f"== {HEADINGS['figures']}: {review.period} vs {review.previous} ==")
    for comparison in review.figures:
        lines.append(f"  [{department_label(comparison.department)}]")
        for metric in METRICS:
            lines.append(
                f"    {METRIC_LABELS[metric]}: "
                f"{format_metric(metric, comparison.current_figures.value(metric))}  "
                f"(上期 previous {format_metric(metric, comparison.previous_figures.value(metric))}, "
                f"变化 change {format_metric(metric, comparison.change[metric], signed=True)})")
    return "\n".join(lines) + "\n"


# --- csv -------------------------------------------------------------------------------------

CSV_HEADER = ("section", "period", "department", "item", "value", "previous", "change",
              "references", "detail")


def csv_rows(review: Review) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for item in review.overdue:
        rows.append(("overdue", review.period, item.department, item.stage,
                     str(item.minutes_late), "", "", item.reference,
                     f"due {item.deadline.strftime(TIME_FORMAT)}; level {item.level} "
                     f"{item.last_notified}".strip()))
    for group in review.recurring:
        rows.append(("recurring", review.period, "", group.field, group.value, "", "",
                     " ".join(group.references),
                     f"{group.count} from {group.first.strftime(TIME_FORMAT)} "
                     f"to {group.last.strftime(TIME_FORMAT)}"))
    for group in review.similar:
        rows.append(("similar", review.period, "", "text", f"{group.similarity:.3f}", "", "",
                     " ".join(group.references), " / ".join(group.shared)))
    for kind, items in (("reopened", review.reopened), ("low_satisfaction", review.low_satisfaction)):
        for flagged in items:
            rows.append((kind, review.period, flagged.department, "satisfaction",
                         "" if flagged.satisfaction is None else str(flagged.satisfaction),
                         "", "", flagged.reference, flagged.subject))
    for comparison in review.figures:
        for metric in METRICS:
            rows.append(("figures", comparison.period, comparison.department, metric,
                         _plain(comparison.current_figures.value(metric)),
                         _plain(comparison.previous_figures.value(metric)),
                         _plain(comparison.change[metric]), "", comparison.previous))
    return rows


def _plain(value: Any) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else f"{value:.4f}"


def render_csv(review: Review) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(csv_rows(review))
    return buffer.getvalue()


# --- html ------------------------------------------------------------------------------------

def _table(headers: list[str], rows: list[list[str]]) -> str:
    if not rows:
        return f"<p>{html.escape(HEADINGS['none'])}</p>"
    head = "".join(f"<th>{html.escape(text)}</th>" for text in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(text))}</td>" for text in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(review: Review) -> str:
    title = f"{HEADINGS['title']} {review.period}"
    parts = [f"<!DOCTYPE html><html lang=\"zh\"><head><meta charset=\"utf-8\">"
             f"<title>{html.escape(title)}</title><style>table{{border-collapse:collapse}}"
             f"td,th{{border:1px solid #999;padding:2px 6px}}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(review.generated_at.strftime(TIME_FORMAT))}; "
             f"对比 vs {html.escape(review.previous)}</p>"]

    def section(key: str, headers: list[str], rows: list[list[str]]) -> None:
        parts.append(f"<h2>{html.escape(HEADINGS[key])} ({len(rows)})</h2>")
        parts.append(_table(headers, rows))

    section("overdue", ["编号 Reference", "部门 Department", "阶段 Stage", "超期 Late",
                        "期限 Due", "催办 Escalation"],
            [[i.reference, i.department, STAGE_LABELS[i.stage], format_minutes(i.minutes_late),
              i.deadline.strftime(TIME_FORMAT), escalation_label(i)] for i in review.overdue])
    section("recurring", ["依据 By", "值 Value", "次数 Count", "起止 From–to", "编号 References"],
            [[FIELD_LABELS.get(g.field, g.field), g.value, str(g.count),
              f"{g.first.strftime('%Y-%m-%d')} – {g.last.strftime('%Y-%m-%d')}",
              ", ".join(g.references)] for g in review.recurring])
    section("similar", ["编号 References", "相似度 Similarity", "共同 Shared"],
            [[", ".join(g.references), f"{g.similarity:.2f}", " / ".join(g.shared)]
             for g in review.similar])
    for key, items in (("reopened", review.reopened), ("low_satisfaction", review.low_satisfaction)):
        section(key, ["编号 Reference", "部门 Department", "满意度 Score", "主题 Subject"],
                [[i.reference, i.department, "" if i.satisfaction is None else str(i.satisfaction),
                  i.subject] for i in items])
    parts.append(f"<h2>{html.escape(HEADINGS['figures'])}</h2>")
    for comparison in review.figures:
        parts.append(f"<h3>{html.escape(department_label(comparison.department))}</h3>")
        parts.append(_table(
            ["指标 Figure", comparison.period, comparison.previous, "变化 Change"],
            [[METRIC_LABELS[m], format_metric(m, comparison.current_figures.value(m)),
              format_metric(m, comparison.previous_figures.value(m)),
              format_metric(m, comparison.change[m], signed=True)] for m in METRICS]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


RENDERERS: dict[str, Callable[[Review], str]] = {
    "text": render_text, "csv": render_csv, "html": render_html}


def render_review(review: Review, fmt: str = "text") -> str:
    """The review as ``fmt``: ``"text"``, ``"html"`` or ``"csv"``."""
    if fmt not in RENDERERS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    return RENDERERS[fmt](review)
