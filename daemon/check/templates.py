"""Check the message templates: each uses only the variables the daemon passes and renders with
sample data; and the digest renders for this park."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.meta

from daemon.check.results import CheckResult, failed, passed
from daemon.config import Config
from daemon.templates import Templates, default_templates_dir

# The variables the daemon passes to each template (see the render()/send_to() calls in
# daemon/intake, daemon/dispatch and daemon/resolution). A template using any other name fails
# at 3 a.m. with StrictUndefined, so here it fails first.
TEMPLATE_VARIABLES: dict[str, frozenset[str]] = {
    "command_confirmation": frozenset({"action", "at", "detail", "park_name", "reference"}),
    "commands_help": frozenset({"commands_help", "park_name", "reference"}),
    "handling_slip": frozenset({
        "ack_due", "attachments", "category_name", "commands_help", "company", "contact_name",
        "content", "department_name", "email", "feedback", "head", "location", "park_name",
        "phone", "priority_name", "received_at", "reference", "resolve_by", "satisfaction",
        "serious", "subject"}),
    "progress_to_tenant": frozenset({"contact_name", "park_name", "reference", "text"}),
    "quarantine_notice": frozenset({"attempts", "folder", "reason", "sender", "subject"}),
    "refused_command": frozenset({"first_line", "park_name", "reason", "reference", "sender"}),
    "reminder": frozenset({"company", "deadline", "department_name", "head", "minutes_late",
                           "park_name", "priority_name", "reference", "stage", "subject"}),
    "reopened_notice": frozenset({"department_name", "feedback", "park_name", "reference",
                                  "satisfaction"}),
    "resolution_rejected": frozenset({"department_name", "head", "park_name", "reason",
                                      "reference", "result"}),
    "result_to_tenant": frozenset({"contact_name", "park_name", "reference", "result", "subject"}),
    "return_visit": frozenset({"contact_name", "park_name", "reference", "reminder", "result",
                               "subject", "visit_sent_at"}),
    "review_request": frozenset({"chase", "escalated", "head_name", "park_name", "reference",
                                 "requested_at", "result", "subject"}),
    "signoff_request": frozenset({"company", "head_name", "park_name", "reference",
                                  "resolved_at", "resolved_by", "result", "subject"}),
    "tenant_ack": frozenset({"category_name", "contact_name", "park_name", "received_at",
                             "reference", "subject"}),
    "tenant_followup": frozenset({"department_name", "park_name", "reference", "tenant", "text"}),
}

# Sample values for every variable above (flags true so conditional parts render too).
SAMPLE_VALUES: dict[str, object] = {
    "action": "签收 signed for", "at": "2026-05-14 09:30", "detail": "已派人 someone is on it",
    "park_name": "东湖科技产业园", "reference": "C-260514-007",
    "commands_help": "收到 / ACK: sign for", "ack_due": "2026-05-14 10:00",
    "attachments": "photo.jpg", "category_name": "设施维护", "company": "光谷电子有限公司",
    "contact_name": "王芳", "content": "3号楼电梯停了。The lift in building 3 stopped.",
    "department_name": "物业管理部", "email": "wang.fang@tenant.example",
    "feedback": "还是坏的 still broken", "head": "head@park.example", "location": "3号楼",
    "phone": "13800000000", "priority_name": "紧急", "received_at": "2026-05-14 09:00",
    "resolve_by": "2026-05-14 17:00", "satisfaction": "2", "serious": True,
    "subject": "电梯故障 lift broken", "text": "维修工已到 the technician is there",
    "attempts": 3, "folder": "Quarantine", "reason": "sample reason", "sender": "x@example.com",
    "first_line": "完成", "deadline": "2026-05-14 10:00", "minutes_late": 30, "stage": "ack",
    "result": "已修复 repaired", "reminder": True, "visit_sent_at": "2026-05-15 10:00",
    "chase": True, "escalated": True, "head_name": "李明", "requested_at": "2026-05-15 10:00",
    "resolved_at": "2026-05-14 16:00", "resolved_by": "member@park.example",
    "tenant": "wang.fang@tenant.example",
}


def _add_health_templates() -> None:
    """The health alert and recovery messages, with the variables daemon.health gives them."""
    from daemon.health import TEMPLATE_SAMPLES, TEMPLATE_VARIABLES as HEALTH_VARIABLES

    TEMPLATE_VARIABLES.update(HEALTH_VARIABLES)
    for name, value in TEMPLATE_SAMPLES.items():
        SAMPLE_VALUES.setdefault(name, value)


_add_health_templates()


def template_names(folder: Path) -> list[str]:
    """``tenant_ack`` for ``tenant_ack.subject.j2`` etc., sorted."""
    return sorted({p.name.split(".")[0] for p in folder.glob("*.j2")})


def find_unknown_variables(source: str, known: frozenset[str]) -> list[str]:
    """Names a template uses that the daemon does not pass (TemplateSyntaxError if it is broken)."""
    used = jinja2.meta.find_undeclared_variables(jinja2.Environment().parse(source))
    return sorted(used - known)


def check_templates(language: str, root: Path | None = None) -> list[CheckResult]:
    """Every template of ``language`` uses only the daemon's variables and renders."""
    root = Path(root) if root else default_templates_dir()
    folder = root / language
    name = f"templates in {folder}"
    try:
        templates = Templates(language, root=root)
    except FileNotFoundError as exc:
        return [failed(name, str(exc), "set park.language to a language that has templates")]
    problems: list[str] = []
    present = template_names(folder)
    for missing in sorted(set(TEMPLATE_VARIABLES) - set(present)):
        problems.append(f"{missing}: no {missing}.subject.j2 / {missing}.txt.j2")
    for template in present:
        known = TEMPLATE_VARIABLES.get(template)
        if known is None:
            continue  # a file ParkDesk never sends: harmless
        for path in sorted(folder.glob(f"{template}.*.j2")):
            try:
                unknown = find_unknown_variables(path.read_text(encoding="utf-8"), known)
            except jinja2.TemplateSyntaxError as exc:
                problems.append(f"{path.name} line {exc.lineno}: {exc.message}")
                continue
            if unknown:
                problems.append(f"{path.name}: unknown variable {', '.join(unknown)} "
                                f"(it may use: {', '.join(sorted(known))})")
        if not any(p.startswith(f"{template}.") for p in problems):
            try:
                templates.render(template, **{k: SAMPLE_VALUES[k] for k in known})
            except jinja2.TemplateNotFound as exc:
                problems.append(f"{template}: {exc.name} is missing")
            except jinja2.TemplateError as exc:
                problems.append(f"{template}: {exc}")
    if problems:
        return [failed(name, "; ".join(problems),
                       "correct the template files named above (variable names are listed)")]
    return [passed(name, f"{len(present)} messages render with sample data")]


def check_digest_template(config: Config, root: Path | None = None) -> list[CheckResult]:
    """The digest (its own templates, given a whole review) renders for this park."""
    from daemon.review import build_review
    from daemon.review.digest import build_digest

    name = "digest template renders"
    if not config.review.digest_enabled:
        return [passed(name, "the digest is turned off (review.digest_enabled)")]
    now = datetime.now(config.park.tz)
    try:
        templates = Templates(config.park.language, root=root)
        review = build_review([], config, now, period_kind=config.review.digest_period)
        build_digest(review, config, templates, now=now)
    except FileNotFoundError as exc:
        return [failed(name, str(exc), "set park.language to a language that has templates")]
    except jinja2.TemplateError as exc:
        return [failed(name, f"digest: {exc}",
                       "correct digest.subject.j2 / digest.txt.j2 / digest.html.j2 "
                       "(or digest_labels.j2) in the templates folder")]
    return [passed(name)]
