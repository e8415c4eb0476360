"""The `parkdesk` command: parse the command line and hand each subcommand to its function.

Each subcommand is registered by an ``add_<name>_command`` function that declares its options
and sets ``handler``: a function taking the parsed arguments and returning the exit code.
Adding a command means writing those two functions and listing the first in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Callable, Sequence

from daemon import __version__
from daemon.config import DEFAULT_CONFIG_NAME, Config, ConfigError, load_config

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="FILE", default=DEFAULT_CONFIG_NAME,
                        help=f"the configuration file (default: {DEFAULT_CONFIG_NAME})")


# --- check-config ----------------------------------------------------------------------------

def add_check_config_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check-config", help="check config.yaml and list every problem in it",
        description="Read the configuration file and say OK, or list every problem with the "
                    "key to fix. Only the file is checked: passwords and the service-account "
                    "key are read when ParkDesk connects.")
    add_config_option(parser)
    parser.set_defaults(handler=run_check_config)


def run_check_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    print("OK")
    print(summarize_config(config))
    print("Only the file was checked: passwords and the service-account key are read when "
          "ParkDesk connects to the mailbox, the SMTP server and the register.")
    return EXIT_OK


def summarize_config(config: Config) -> str:
    """One line saying what the config describes, e.g. for check-config."""
    park = config.park
    return (f"{park.name} ({park.timezone}, {park.language}, references {park.reference_prefix}-...): "
            f"{len(config.departments)} departments, {len(config.categories)} categories, "
            f"{len(config.priorities)} priorities; mail in by {describe_mailbox(config)}, "
            f"out by {describe_smtp(config)}; register: {describe_register(config)}")


def describe_mailbox(config: Config) -> str:
    mailbox = config.mailbox
    if mailbox.backend == "maildir":
        return f"maildir {mailbox.path}"
    return f"imap {mailbox.host}:{mailbox.port} ({mailbox.security})"


def describe_smtp(config: Config) -> str:
    smtp = config.smtp
    if smtp.backend == "outbox":
        return f"outbox {smtp.path}"
    return f"smtp {smtp.host}:{smtp.port} ({smtp.security})"


def describe_register(config: Config) -> str:
    register = config.register
    if register.backend == "workbook":
        return f"workbook {register.path}"
    return f"google sheet {register.spreadsheet_id}"


# --- check ----------------------------------------------------------------------------------

def add_check_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "check", help="try the config, templates, mailbox, SMTP and register; list what to fix",
        description="Try everything ParkDesk needs and print a checklist with a plain fix for "
                    "each failure: the config, the templates (rendered with sample data), the "
                    "mailbox (reach, TLS, login, IDLE, folders), the SMTP server (reach, TLS, "
                    "login), the register "
                    "(shared and writable) and the departments. Missing IMAP folders and a "
                    "missing register layout are created, as the daemon would at its start. "
                    "Exit status 1 if anything failed.")
    add_config_option(parser)
    parser.add_argument("--send-test", metavar="ADDRESS",
                        help="also send a short test message to ADDRESS")
    parser.set_defaults(handler=run_check)


def run_check(args: argparse.Namespace) -> int:
    from daemon.check import format_checklist, run_checks

    results = run_checks(args.config, send_test=args.send_test)
    print(format_checklist(results), end="")
    return EXIT_OK if all(result.ok for result in results) else EXIT_PROBLEM


# --- run ------------------------------------------------------------------------------------

def add_run_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run", help="run the daemon (or one cycle with --once)",
        description="Take complaints from the mailbox into the register, apologise to tenants "
                    "and keep going until stopped (SIGTERM or Ctrl+C). With --once: one full "
                    "cycle, then exit (for cron and tests).")
    add_config_option(parser)
    parser.add_argument("--once", action="store_true", help="run one full cycle and exit")
    parser.add_argument("--verbose", "-v", action="store_true", help="log more detail")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="log lines as plain text (default) or JSON lines, one per event")
    parser.set_defaults(handler=run_daemon)


def run_daemon(args: argparse.Namespace) -> int:
    from daemon.lock import AlreadyRunning
    from daemon.logs import setup_logging
    from daemon.mailbox import MailboxError
    from daemon.mailer import MailerError
    from daemon.register import RegisterError
    from daemon.runner import Daemon

    setup_logging(verbose=args.verbose, log_format=args.log_format)
    try:
        config = load_config(args.config)
        report = Daemon(config).run(once=args.once)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except AlreadyRunning as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except (MailboxError, MailerError, RegisterError) as exc:
        print(f"ParkDesk could not finish: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    if report is not None:
        print(f"{len(report.registered)} complaints registered"
              + (f" ({', '.join(report.registered)})" if report.registered else "")
              + f", {report.notes} replies noted, {report.automated} automatic messages ignored, "
              f"{report.duplicates} duplicates, {report.quarantined} quarantined, "
              f"{len(report.walk_ins)} typed-in rows numbered, {report.mails_sent} emails sent.")
    return EXIT_OK


# --- demo ------------------------------------------------------------------------------------

def add_demo_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", help="see the whole procedure on a demo park, with no account",
        description="Make a demo park in DIR (a local register.xlsx, a Maildir and an outbox "
                    "of .eml files: no account, no server), play a day of complaints and "
                    "replies through the real daemon with a simulated clock, and print the "
                    "register and the emails. Running it again on DIR starts afresh; only the "
                    "demo's own files there are replaced.")
    parser.add_argument("--dir", metavar="DIR", default="parkdesk-demo",
                        help="the folder for the demo's files (default: ./parkdesk-demo)")
    parser.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    import time

    from daemon.demo import DemoFolderError, format_summary, play_demo
    from daemon.mailbox import MailboxError
    from daemon.mailer import MailerError
    from daemon.register import RegisterError

    # No logging set-up: the demo keeps ParkDesk's loggers at WARNING, and Python prints
    # warnings to stderr by itself, so stdout is the summary alone.
    started = time.monotonic()
    try:
        run = play_demo(args.dir)
    except DemoFolderError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except OSError as exc:
        print(f"The demo cannot write into {args.dir}: {exc.strerror or exc}. Choose a folder "
              f"you may write to with --dir.", file=sys.stderr)
        return EXIT_PROBLEM
    except (MailboxError, MailerError, RegisterError) as exc:
        print(f"The demo could not finish: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    print(format_summary(run, elapsed_seconds=time.monotonic() - started), end="")
    return EXIT_OK


# --- report ---------------------------------------------------------------------------------

def add_report_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report", help="print the review: overdue, recurring problems, figures",
        description="Read the register (the Register tab and the archive tabs) and print the "
                    "review: open complaints past a deadline and how far they were escalated, "
                    "recurring problems (the same location, category or tenant 3 or more times "
                    "in 30 days) and similar complaint texts, reopened complaints and low "
                    "satisfaction, and the figures per department for the last complete period "
                    "against the one before.")
    add_config_option(parser)
    parser.add_argument("--period", choices=("week", "month"), default="month",
                        help="compare weeks or months (default: month)")
    parser.add_argument("--format", choices=("text", "html", "csv"), default="text",
                        help="print plain text, an HTML page or CSV (default: text)")
    parser.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace, now: datetime | None = None) -> int:
    from datetime import timezone

    from daemon.register import RegisterError, open_register
    from daemon.review import build_review
    from daemon.review.report import render_review

    try:
        config = load_config(args.config)
        register = open_register(config.register)
        rows = register.read_register()
        archived = [row for tab in register.read_archives().values() for row in tab]
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return EXIT_PROBLEM
    except RegisterError as exc:
        print(f"ParkDesk could not read the register: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
    moment = now or datetime.now(timezone.utc)
    review = build_review(rows, config, moment.astimezone(config.park.tz),
                          period_kind=args.period, archived=archived)
    print(render_review(review, args.format), end="")
    return EXIT_OK


# --- the command line ------------------------------------------------------------------------

def add_init_command(commands: argparse._SubParsersAction) -> None:
    from daemon.setup import add_init_command as add_setup_init_command

    add_setup_init_command(commands)


def add_status_command(commands: argparse._SubParsersAction) -> None:
    from daemon.status import add_status_command as add_daemon_status_command

    add_daemon_status_command(commands)


def add_dashboard_command(commands: argparse._SubParsersAction) -> None:
    from daemon.review.dashboard_command import add_dashboard_command as add_review_dashboard_command

    add_review_dashboard_command(commands)


def add_service_command(commands: argparse._SubParsersAction) -> None:
    from daemon.service import add_service_command as add_daemon_service_command

    add_daemon_service_command(commands)


COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    add_init_command,
    add_check_config_command,
    add_check_command,
    add_run_command,
    add_demo_command,
    add_report_command,
    add_dashboard_command,
    add_status_command,
    add_service_command,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parkdesk",
        description="ParkDesk: the complaint desk of an industrial park (email in, one shared "
                    "register, email out).")
    parser.add_argument("--version", action="version", version=f"parkdesk {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `parkdesk` command; return its exit code (0 OK, 1 a problem, 2 bad usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    return args.handler(args)
