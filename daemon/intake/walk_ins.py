"""Phone and walk-in complaints: rows staff typed into the register without a reference.

On the next cycle such a row gets a reference, a status, a received time and (if staff left
them empty) a category, priority and department from the keyword rules; from then on it is
handled like an emailed complaint. If staff typed the tenant's email, the tenant gets the same
apology as an emailing tenant.
"""

from __future__ import annotations

from daemon.classify import classify
from daemon.dispatch.fields import dispatch_fields
from daemon.dispatch.lookup import find_named, priority_of_row
from daemon.dispatch.slips import queue_slips
from daemon.intake.apology import queue_apology
from daemon.intake.rows import CHECK_CATEGORY, YES, activity, format_time
from daemon.sheet_layout import Event, Status

SETTLED_BY_STAFF = {Status.RESOLVED, Status.RETURN_VISIT, Status.CLOSED, Status.CANCELLED}

# A row counts as a complaint once any of these is filled in.
CONTENT_KEYS = ("subject", "content", "company", "contact_name", "email", "phone", "location")


def is_walk_in(row) -> bool:
    return not row.reference and any(row.values.get(key, "").strip() for key in CONTENT_KEYS)


def register_walk_ins(cycle, snapshot) -> list[str]:
    """Give every walk-in row a reference; returns the references given."""
    rows = [row for row in snapshot if is_walk_in(row)]
    if not rows:
        return []
    config, now = cycle.config, cycle.now()
    updates: dict[int, dict[str, str]] = {}
    given, apologies = [], []
    for row in rows:
        reference = cycle.new_reference(now)
        values = row.values
        fill = {"reference": reference, "updated_at": format_time(now)}
        if not values.get("received_at", "").strip():
            fill["received_at"] = format_time(now)
        result = classify(values.get("subject", ""), values.get("content", ""),
                          categories=config.categories, priorities=config.priorities,
                          default_category=config.intake.default_category,
                          default_priority=config.intake.default_priority)
        category = config.category(result.category)
        if not values.get("category", "").strip():
            fill["category"] = category.name
            if result.needs_check:
                fill["check"] = CHECK_CATEGORY
        if not values.get("priority", "").strip():
            priority = config.priority(result.priority)
            fill["priority"] = priority.name
            if priority.serious and not values.get("serious", "").strip():
                fill["serious"] = YES
        chosen_category = (find_named(config.categories, values.get("category", ""))
                           or category)  # staff's category if they typed one
        department = (find_named(config.departments, values.get("department", ""))
                      or config.department(chosen_category.department))
        priority = priority_of_row(config, {**values, **fill})
        if Status.from_label(values.get("status", "")) in SETTLED_BY_STAFF:
            fill["department"] = department.name  # handled on the phone: nothing to send out
        else:
            fill.update(dispatch_fields(department, priority, now,
                                        serious=bool(values.get("serious", "").strip())))
        updates[row.row_number] = fill
        given.append(reference)
        email = values.get("email", "").strip()
        if email and "@" in email:
            apologies.append((reference, email, values, fill))
    cycle.register.update_rows_by_number(updates)
    for row, reference in zip(rows, given):
        cycle.known_references.add(reference)
        cycle.journal.queue_activity(activity(
            now, reference, Event.REFERENCE_ASSIGNED, "service center 服务中心",
            f"typed in by staff (row {row.row_number}): {row.values.get('subject', '')}"))
    for row, reference in zip(rows, given):
        values = {**row.values, **updates[row.row_number]}
        cycle.rows_by_reference[reference] = values
        if "dispatched_at" not in updates[row.row_number]:
            continue
        department = find_named(config.departments, values["department"])
        number = cycle.journal.record_dispatch(reference, department=department.key,
                                               priority=priority_of_row(config, values).key, now=now)
        queue_slips(cycle, values, department, identity=f"walk-in:{reference}",
                    dispatch_no=number, now=now)
    for reference, email, values, fill in apologies:
        queue_apology(cycle, identity=f"walk-in:{reference}", reference=reference,
                      recipient=email, subject=values.get("subject", ""),
                      contact_name=values.get("contact_name", ""),
                      category_name=fill.get("category") or values.get("category", ""), now=now)
    return given
