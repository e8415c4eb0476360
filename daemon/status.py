"""`parkdesk status`: how ParkDesk is doing, in a few plain lines.

It reads the journal in ``state_dir`` (the last good cycle, the open health problems, the
outbox and the quarantine) and the register (open and overdue complaints), and prints one line
each. It never takes the daemon's lock and changes nothing, so it is safe while ``parkdesk run``
is working. Labels are bilingual when the park's language is Chinese, like the sheet headers.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone

from daemon.config import Config, ConfigError, load_config
from daemon.health import ALERT, PROBLEM_LABELS, HealthState, minutes_between, read_health
from daemon.intake.rows import format_time
from daemon.journal import Journal

EXIT_OK, EXIT_PROBLEM = 0, 1

LABELS = {
    "title": ("ParkDesk 运行状态", "ParkDesk status"),
    "last_good": ("上次正常运行", "Last good cycle"),
    "health": ("运行状况", "Health"),
    "outbox": ("待发邮件", "Outbox"),
    "quarantine": ("已隔离邮件", "Quarantined mail"),
    "open": ("未结投诉", "Open complaints"),
    "overdue": ("逾期投诉", "Overdue complaints"),
}


def label(key: str, language: str) -> str:
    chinese, english = LABELS[key]
    return f"{chinese} {english}" if language == "zh-CN" else english


@dataclass
class ParkStatus:
    """Everything `parkdesk status` prints; ``register_error`` set if the register was unreadable."""

    now: datetime
    health: HealthState
    outbox_pending: int
    outbox_failed: int
    quarantined: int
    open_complaints: int | None = None
    overdue: list[str] = field(default_factory=list)  # "C-... sign-for 12 min late"
    overdue_complaints: int = 0  # complaints with a deadline passed (one may have two)
    register_error: str = ""
    journal_found: bool = True
    alerts_unsent: int = 0  # health alerts queued but not sent yet (SMTP down too?)


def format_ago(then: datetime, now: datetime) -> str:
    """``"3 minutes ago"``, ``"2 hours 5 minutes ago"``, ``"4 days ago"``."""
    minutes = minutes_between(then, now)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {rest} min ago"
    return f"{hours // 24} days ago"


def read_journal_status(config: Config, now: datetime) -> ParkStatus:
    path = config.state_dir / "journal.sqlite3"
    if not path.exists():
        return ParkStatus(now, HealthState(None, {}), 0, 0, 0, journal_found=False)
    journal = Journal(path)
    try:
        return ParkStatus(now, read_health(journal), journal.count_outbox("pending"),
                          journal.count_outbox("failed"),
                          journal.count_outbox(purpose="quarantine_notice"),
                          alerts_unsent=journal.count_outbox("pending", purpose=ALERT))
    finally:
        journal.close()


def read_register_status(status: ParkStatus, config: Config, register) -> None:
    """Open and overdue complaints from the Register tab (archived ones are closed)."""
    from daemon.register import RegisterError
    from daemon.review import OPEN_STATUSES, find_overdue
    from daemon.review.report import STAGE_LABELS, format_minutes
    from daemon.sla import cell, read_status

    try:
        rows = register.read_register()
    except RegisterError as error:
        status.register_error = str(error)
        return
    status.open_complaints = sum(read_status(cell(row, "status")) in OPEN_STATUSES for row in rows)
    overdue = find_overdue(rows, config, status.now)
    status.overdue = [f"{item.reference} {STAGE_LABELS.get(item.stage, item.stage)} "
                      f"{format_minutes(item.minutes_late)} late" for item in overdue]
    status.overdue_complaints = len({item.reference for item in overdue})


def describe_alert(problem, status: ParkStatus, config: Config) -> str:
    """Where the alert about ``problem`` stands, in a few words."""
    recipients = ", ".join(config.health.alert_to or config.service_center)
    if problem.alerted:
        if status.alerts_unsent:
            return f"alert for {recipients} not sent yet (is SMTP down too?)"
        return f"alert sent to {recipients}"
    threshold = config.health.alert_after_minutes
    if problem.at_once or minutes_between(problem.since, status.now) >= threshold:
        return f"alert due: sent at the daemon's next cycle to {recipients}"
    return f"alert after {threshold} min"


def is_silent(status: ParkStatus, config: Config) -> bool:
    """No good cycle for longer than ``health.alert_after_minutes``, and no failure recorded
    either: nothing is running (the daemon cycles at least once a minute)."""
    last = status.health.last_good_cycle
    return (last is not None and not status.health.problems
            and minutes_between(last, status.now) > config.health.alert_after_minutes)


def format_status(status: ParkStatus, config: Config) -> str:
    language, tz, now = config.park.language, config.park.tz, status.now
    lines = [f"{label('title', language)}: {config.park.name} ({format_time(now.astimezone(tz))})"]
    if not status.journal_found:
        lines.append(f"ParkDesk has not run yet: there is no journal in {config.state_dir} "
                     f"(state_dir). Start it with: parkdesk run")
    last = status.health.last_good_cycle
    lines.append(f"{label('last_good', language)}: " + (
        f"{format_time(last.astimezone(tz))} ({format_ago(last, now)})" if last else "none yet"))
    problems = status.health.problems
    if is_silent(status, config):
        lines.append(f"{label('health', language)}: NOT RUNNING? no cycle for "
                     f"{format_ago(last, now).removesuffix(' ago')}: check that ParkDesk runs "
                     f"(systemd: systemctl status parkdesk; Windows: Task Scheduler; cron: the "
                     f"job's schedule, which may simply be longer than "
                     f"health.alert_after_minutes = {config.health.alert_after_minutes})")
    elif not problems:
        lines.append(f"{label('health', language)}: OK")
    else:
        lines.append(f"{label('health', language)}: FAILING")
        for problem in problems.values():
            told = describe_alert(problem, status, config)
            lines.append(f"  - {PROBLEM_LABELS[problem.name]}: since "
                         f"{format_time(problem.since.astimezone(tz))} "
                         f"({minutes_between(problem.since, now)} min; {told}); "
                         f"last error: {problem.last_error}")
    lines.append(f"{label('outbox', language)}: {status.outbox_pending} waiting to be sent"
                 + (f", {status.outbox_failed} refused for good (see the log)"
                    if status.outbox_failed else ""))
    lines.append(f"{label('quarantine', language)}: {status.quarantined} "
                 f"(in the mailbox folder {config.mailbox.quarantine_folder})")
    if status.register_error:
        lines.append(f"{label('open', language)}: unknown, the register cannot be read: "
                     f"{status.register_error}")
    else:
        lines.append(f"{label('open', language)}: {status.open_complaints}")
        overdue = status.overdue
        deadlines = (f"{len(overdue)} deadlines passed: " if len(overdue) > status.overdue_complaints
                     else "")
        lines.append(f"{label('overdue', language)}: {status.overdue_complaints}"
                     + (f" ({deadlines}{'; '.join(overdue[:10])}{'; ...' if len(overdue) > 10 else ''})"
                        if overdue else ""))
    return "\n".join(lines) + "\n"


def collect_status(config: Config, now: datetime, register=None) -> ParkStatus:
    """The journal's part, then the register's (opened from the config unless given)."""
    from daemon.register import RegisterError, open_register

    status = read_journal_status(config, now)
    workbook = config.register.path if config.register.backend == "workbook" else None
    if register is None and workbook is not None and not workbook.exists():
        status.open_complaints = 0  # reading would create the file: status changes nothing
        return status
    try:
        register = register or open_register(config.register)
    except RegisterError as error:
        status.register_error = str(error)
        return status
    read_register_status(status, config, register)
    return status


# --- the command -------------------------------------------------------------------------------

def add_status_command(commands: argparse._SubParsersAction) -> None:
    from daemon.cli import add_config_option

    parser = commands.add_parser(
        "status", help="print the last good cycle, health, outbox, quarantine, open and overdue",
        description="Say how ParkDesk is doing: when its last good cycle was, whether intake, "
                    "sending or waiting mail is failing (and since when), how many emails wait "
                    "in the outbox, how many messages were quarantined, and how many complaints "
                    "are open and overdue in the register. Safe while the daemon runs; changes "
                    "nothing. Exit status 1 if something is failing or cannot be read, or no cycle ran for longer than health.alert_after_minutes.")
    add_config_option(parser)
    parser.set_defaults(handler=run_status)


def run_status(args: argparse.Namespace, now: datetime | None = None) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    moment = (now or datetime.now(timezone.utc)).astimezone(config.park.tz)
    status = collect_status(config, moment)
    print(format_status(status, config), end="")
    healthy = (not status.health.problems and not status.register_error
               and not is_silent(status, config))
    return EXIT_OK if healthy else EXIT_PROBLEM
