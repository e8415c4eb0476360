"""Check that departments and people fit together: every category has its department, and the
complaints mailbox is nobody's colleague."""

from __future__ import annotations

from daemon.check.results import CheckResult, failed, passed, warned
from daemon.config import Config


def check_people(config: Config) -> list[CheckResult]:
    """Departments and addresses fit: categories have departments; we are nobody's colleague."""
    results: list[CheckResult] = []
    keys = {d.key for d in config.departments}
    orphans = sorted({c.department for c in config.categories} - keys)
    name = "every category has its department"
    if orphans:
        results.append(failed(name, f"unknown departments: {', '.join(orphans)}",
                              "add them under departments: or correct categories[].department"))
    else:
        results.append(passed(name, f"{len(config.categories)} categories, {len(keys)} departments"))

    ours = {a.lower() for a in (config.smtp.from_address, config.mailbox.username or "") if a}
    clashes = []
    for department in config.departments:
        for address in (department.head, *department.members):
            if address.lower() in ours:
                clashes.append(f"{address} in {department.key}")
    for address in (*config.service_center, *config.leadership):
        if address.lower() in ours:
            clashes.append(f"{address} in service_center/leadership")
    name = "the complaints mailbox is not a department member"
    if clashes:
        results.append(failed(name, "; ".join(clashes),
                              "list people's own addresses there: mail to the complaints mailbox "
                              "comes back in as a new complaint"))
    else:
        results.append(passed(name))

    name = "smtp.from_address is the complaints mailbox"
    if (config.mailbox.backend == "imap" and config.mailbox.username
            and config.smtp.from_address.lower() != config.mailbox.username.lower()):
        results.append(warned(
            name, f"mail goes out from {config.smtp.from_address} but is read from "
                  f"{config.mailbox.username}",
            "replies go to smtp.from_address: make sure it delivers into the mailbox ParkDesk reads"))
    else:
        results.append(passed(name))
    return results
