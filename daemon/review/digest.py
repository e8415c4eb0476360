"""The digest email: a ``Review`` as a message to leadership and the service center.

``digest_context`` turns a ``Review`` into plain values for the templates (every number is
formatted here, once, so the text and the HTML part show the same figures);
``build_digest`` renders ``templates/<language>/digest.*.j2`` and returns an ``EmailMessage``:
multipart/alternative with a plain-text part and an HTML part, the HTML part wrapped in
multipart/related with the chart PNG it shows by ``cid:`` (RFC 2387, RFC 2392).

Long lists are cut at ``LIST_LIMIT`` items, with the number left out said; ``parkdesk report``
prints the whole review.
"""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from daemon.intake.rows import TIME_FORMAT
from daemon.outgoing import build_message, message_domain
from daemon.review import Review
from daemon.review.figures import ALL_DEPARTMENTS, METRICS
from daemon.review.report import format_metric, format_minutes
from daemon.templates import Templates

TEMPLATE = "digest"
LIST_LIMIT = 30
DATE_FORMAT = "%Y-%m-%d"


def digest_recipients(config: Any) -> list[str]:
    """``review.digest_to`` with ``leadership`` and ``service_center`` replaced by those lists
    of the config; each address once (compared case-insensitively), in order."""
    roles = {"leadership": config.leadership, "service_center": config.service_center}
    addresses = [address for entry in config.review.digest_to
                 for address in roles.get(entry, (entry,))]
    unique: dict[str, str] = {}
    for address in addresses:
        unique.setdefault(address.casefold(), address)
    return list(unique.values())


def _limited(items: list[Any]) -> tuple[list[Any], int]:
    return items[:LIST_LIMIT], max(0, len(items) - LIST_LIMIT)


def digest_context(review: Review, config: Any, *, chart_cid: str | None) -> dict[str, Any]:
    """The templates' variables: the review's content as text, ready to print."""
    overdue, more_overdue = _limited(review.overdue)
    recurring, more_recurring = _limited(review.recurring)
    similar, more_similar = _limited(review.similar)
    reopened, more_reopened = _limited(review.reopened)
    low, more_low = _limited(review.low_satisfaction)
    whole_park = next(c for c in review.figures if c.department == ALL_DEPARTMENTS)
    return {
        "park_name": config.park.name,
        "period_kind": review.period_kind,
        "period": review.period,
        "previous": review.previous,
        "generated_at": review.generated_at.strftime(TIME_FORMAT),
        "received": format_metric("received", whole_park.current_figures.received),
        "figures": [{
            "department": comparison.department,
            "rows": [{
                "metric": metric,
                "current": format_metric(metric, comparison.current_figures.value(metric)),
                "previous": format_metric(metric, comparison.previous_figures.value(metric)),
                "change": format_metric(metric, comparison.change[metric], signed=True),
            } for metric in METRICS],
        } for comparison in review.figures],
        "overdue": [{
            "reference": item.reference, "department": item.department or "-",
            "stage": item.stage, "late": format_minutes(item.minutes_late),
            "due": item.deadline.strftime(TIME_FORMAT), "level": item.level,
            "notified": item.last_notified,
        } for item in overdue],
        "overdue_count": len(review.overdue), "more_overdue": more_overdue,
        "recurring": [{
            "field": group.field, "value": group.value, "count": group.count,
            "first": group.first.strftime(DATE_FORMAT), "last": group.last.strftime(DATE_FORMAT),
            "references": ", ".join(group.references),
        } for group in recurring],
        "recurring_count": len(review.recurring), "more_recurring": more_recurring,
        "similar": [{
            "references": ", ".join(group.references), "shared": " / ".join(group.shared),
            "similarity": f"{group.similarity:.2f}",
        } for group in similar],
        "similar_count": len(review.similar), "more_similar": more_similar,
        "reopened": [_flagged(item) for item in reopened],
        "reopened_count": len(review.reopened), "more_reopened": more_reopened,
        "low_satisfaction": [_flagged(item) for item in low],
        "low_satisfaction_count": len(review.low_satisfaction), "more_low_satisfaction": more_low,
        "chart_cid": chart_cid,
    }


def _flagged(item: Any) -> dict[str, str]:
    return {"reference": item.reference, "department": item.department or "-",
            "score": "-" if item.satisfaction is None else str(item.satisfaction),
            "subject": item.subject or "-"}


def build_digest(review: Review, config: Any, templates: Templates, *, now: datetime,
                 chart_png: bytes | None = None) -> EmailMessage:
    """The digest email of ``review``, from the park's address to ``digest_recipients``."""
    from_address = config.smtp.from_address
    domain = message_domain(from_address)
    cid = make_msgid(idstring="digest-chart", domain=domain) if chart_png else None
    rendered = templates.render(TEMPLATE, **digest_context(
        review, config, chart_cid=cid[1:-1] if cid else None))
    message = build_message(rendered, from_address=from_address,
                            from_name=config.smtp.from_name or config.park.name,
                            to=digest_recipients(config), now=now)
    # A report sent on a timer, not a reply (RFC 3834): auto-responders stay quiet.
    message["Auto-Submitted"] = "auto-generated"
    if chart_png and cid:
        html_part = message.get_body(("html",))
        html_part.add_related(chart_png, maintype="image", subtype="png", cid=cid,
                              filename=f"digest-{review.period}.png", disposition="inline")
    return message
