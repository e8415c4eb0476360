"""Find a configured department, category or priority from what a sheet cell shows.

Cells show names (``设施维护部``), staff may type keys (``facilities``); both are accepted,
ignoring case and surrounding spaces.
"""

from __future__ import annotations

from typing import Iterable, TypeVar

T = TypeVar("T")


def find_named(items: Iterable[T], text: str) -> T | None:
    wanted = " ".join(str(text or "").split()).casefold()
    if not wanted:
        return None
    for item in items:
        if wanted in (item.key.casefold(), " ".join(item.name.split()).casefold()):
            return item
    return None


def department_of_row(config, values) -> object | None:
    """The row's department, or the one its category belongs to when the cell is empty."""
    department = find_named(config.departments, values.get("department", ""))
    if department is None:
        category = find_named(config.categories, values.get("category", ""))
        if category is not None:
            department = config.department(category.department)
    return department


def priority_of_row(config, values) -> object:
    return (find_named(config.priorities, values.get("priority", ""))
            or config.priority(config.intake.default_priority))
