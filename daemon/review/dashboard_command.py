"""``parkdesk dashboard``: rebuild the Dashboard and Recurring tabs of the register now.

The daemon rebuilds them each day (``daemon.review.dashboard.rebuild_dashboard``); this command
does the same on demand and prints what it wrote. Wire it with ``add_dashboard_command`` in
``daemon.cli.COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime


def add_dashboard_command(commands: argparse._SubParsersAction) -> None:
    from daemon.cli import add_config_option

    parser = commands.add_parser(
        "dashboard", help="rebuild the Dashboard and Recurring tabs of the register now",
        description="Read the register (the Register tab and the archive tabs), build the "
                    "review and write the Dashboard tab (figures, overdue complaints, charts of "
                    "complaints per week by category and of sign-for times) and the Recurring "
                    "tab (recurring problems and similar complaints). The data tabs are only read.")
    add_config_option(parser)
    parser.add_argument("--period", choices=("week", "month"), default="month",
                        help="compare weeks or months in the figures (default: month)")
    parser.set_defaults(handler=run_dashboard)


def run_dashboard(args: argparse.Namespace, now: datetime | None = None) -> int:
    from daemon.cli import EXIT_OK, EXIT_PROBLEM
    from daemon.config import ConfigError, load_config
    from daemon.register import RegisterError, open_register
    from daemon.review.dashboard import rebuild_dashboard

    try:
        config = load_config(args.config)
        register = open_register(config.register)
        report = rebuild_dashboard(config, register, now or datetime.now(UTC),
                                   period_kind=args.period)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except RegisterError as exc:
        print(f"ParkDesk could not rebuild the dashboard: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    requests = ", ".join(f"{name} {count}" for name, count in sorted(report.requests.items()))
    print(f"Dashboard rebuilt for {report.period}: {report.dashboard_rows} rows, "
          f"{report.charts} charts; Recurring: {report.recurring_rows} rows ({requests}).")
    return EXIT_OK
