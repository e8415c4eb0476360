"""The `parkdesk init` command: ask, write config.yaml, put the register in place, say what next.

``add_init_command(commands)`` declares the command and its flags (every question has one, for
use without a prompt: ``--non-interactive``/``--yes``); ``run_init(args)`` is its handler. The
steps, each stopping with a plain message when it cannot go on:

1. answers: from the flags, asked at the prompt when missing (``daemon.setup.questions``);
   without a prompt a missing or wrong answer is an error listing every flag to fix (exit 2);
2. the text of config.yaml, checked by ``daemon.config`` before anything is written;
3. an existing file is never replaced without ``--force`` (interactive: a yes/no question),
   and then the old one is kept as ``config.yaml.bak-<time>``; a file that already says exactly
   this is left alone, so running init again with the same answers changes nothing there;
4. for a Google register without a spreadsheet id, a new sheet (its id goes into the file);
   a config.yaml written before names its sheet, which is adopted rather than made anew;
5. the file, written atomically; then the register's layout built or repaired (never its data);
6. the secrets to set and the next steps, in the park's language.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from daemon.config import (
    DEFAULT_CONFIG_NAME,
    ConfigError,
    load_config,
    parse_config,
    read_yaml,
)
from daemon.register.errors import RegisterError
from daemon.setup.answers import (
    AnswerError,
    InitAnswers,
    parse_yes_no,
    service_account_email,
)
from daemon.setup.config_text import render_config
from daemon.setup.messages import closing_text
from daemon.setup.presets import PRESET_LIST
from daemon.setup.questions import (
    FLAG_ONLY,
    QUESTIONS,
    AnswersIncomplete,
    Dialog,
    InitAborted,
    collect_answers,
)
from daemon.setup.register_setup import (
    RegisterOutcome,
    create_google_sheet,
    set_up_register,
)

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
LIST_FLAGS = ("service_center", "leadership")


def add_init_command(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "init", help="write a starter config.yaml and set up the register",
        description="Ask the park's settings (name, language, time zone, mail provider, "
                    "addresses, departments, register), write a commented config.yaml, create "
                    "or repair the register's layout (a Google Sheet or a local .xlsx) and say "
                    "which environment variables to set for the passwords. Every question has "
                    "a flag; with --non-interactive nothing is asked. Running it again with the "
                    "same answers repairs the register and never touches its data.")
    parser.add_argument("--output", "-o", metavar="FILE", default=DEFAULT_CONFIG_NAME,
                        help=f"the config file to write (default: {DEFAULT_CONFIG_NAME})")
    parser.add_argument("--non-interactive", "--yes", "-y", dest="non_interactive",
                        action="store_true",
                        help="ask nothing: take the flags and the defaults; a missing answer is "
                             "an error (exit status 2)")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing config file (the old one is kept as a backup)")
    presets = ", ".join(preset.key for preset in PRESET_LIST)
    helps = {
        "provider": f"the mail provider preset: {presets}",
        "service_center": "a service center address (repeat the flag or separate with commas)",
        "leadership": "a leader's address (repeat the flag or separate with commas)",
        "register_backend": "google (a Google Sheet) or workbook (a local .xlsx file)",
        "spreadsheet_id": "an existing sheet's id or address (default: create a new sheet)",
        "workbook_path": "the workbook file, relative to the config file's folder "
                         "(default: register.xlsx)",
    }
    for question in QUESTIONS:
        action = "append" if question.key in LIST_FLAGS else "store"
        parser.add_argument(question.flag, dest=question.key, action=action, metavar="VALUE",
                            help=helps.get(question.key, question.label))
    parser.add_argument("--department", dest="departments", action="append", metavar="SPEC",
                        help="a department as key:name:head or key:name:head:member,member "
                             "(repeat for each department)")
    for key, (flag, _, default) in FLAG_ONLY.items():
        parser.add_argument(flag, dest=key, metavar="VALUE", help=f"default: {default}")
    parser.set_defaults(handler=run_init)


def given_answers(args: argparse.Namespace) -> dict[str, Any]:
    """The flags' values by question key (lists joined with commas; departments as a list)."""
    given: dict[str, Any] = {}
    for key in [question.key for question in QUESTIONS] + list(FLAG_ONLY) + ["departments"]:
        value = getattr(args, key, None)
        if value is None:
            continue
        given[key] = ",".join(value) if key in LIST_FLAGS else value
    return given


def _print_error(text: str) -> None:
    print(text, file=sys.stderr)


def run_init(args: argparse.Namespace, *, input_fn: Callable[[str], str] = input,
             out: Callable[[str], None] = print, err: Callable[[str], None] = _print_error,
             now: Callable[[], datetime] = datetime.now) -> int:
    """The handler of `parkdesk init`; returns the exit status (0 done, 1 a problem, 2 usage)."""
    output = Path(args.output).expanduser().absolute()
    dialog = None if args.non_interactive else Dialog(input_fn, out)
    force = bool(args.force)
    try:
        if dialog is not None:
            out("ParkDesk init: 回答以下问题,直接回车采用 [方括号] 中的默认值。\n"
                "Answer the questions below; press Enter to take the default in [brackets].")
            if output.exists() and not force:
                force = dialog.ask(f"{args.output} 已存在,是否替换(旧文件会备份)? {args.output} "
                                   f"exists; replace it (the old one is kept as a backup)? yes/no",
                                   parse_yes_no, "no")
                if not force:
                    err(f"{args.output} was left as it is; nothing was written.")
                    return EXIT_PROBLEM
        answers = collect_answers(given_answers(args), dialog=dialog,
                                  existing_spreadsheet_id=existing_spreadsheet_id(output))
    except AnswersIncomplete as exc:
        err("parkdesk init cannot write the config; give these answers as flags:\n"
            + "\n".join(f"  {problem}" for problem in exc.problems))
        return EXIT_USAGE
    except InitAborted as exc:
        err(str(exc))
        return EXIT_USAGE

    text = render_config(answers, output.parent)
    problems = config_text_problems(text, output)
    if problems:
        err("The answers do not make a valid config:\n" + "\n".join(f"  {p}" for p in problems))
        return EXIT_USAGE
    if output.exists() and not force and not _says_the_same(output, text, answers):
        err(f"{args.output} already exists, and ParkDesk does not replace it. Run init again with "
            f"--force to replace it (the old file is kept as a backup), or write another file "
            f"with --output.")
        return EXIT_PROBLEM

    if answers.register_backend == "google" and answers.spreadsheet_id is None:
        try:
            spreadsheet_id = create_google_sheet(answers.credentials_file, answers.api_endpoint,
                                                 answers.park_name)
        except RegisterError as exc:
            err(f"The Google Sheet could not be created: {exc}\nNothing was written. Fix that "
                f"and run init again, or create the sheet yourself, share it with the service "
                f"account as Editor and give its address with --spreadsheet-id.")
            return EXIT_PROBLEM
        answers = _with_spreadsheet(answers, spreadsheet_id)
        text = render_config(answers, output.parent)

    try:
        written, backup = write_config(output, text, now())
    except OSError as exc:
        err(f"{args.output} could not be written ({exc.strerror or exc}); choose a folder you "
            f"may write to with --output.")
        return EXIT_PROBLEM

    outcome, status = _set_up_register(output, args.output, err)
    key_owner = (service_account_email(answers.credentials_file)
                 if answers.register_backend == "google" and answers.credentials_file else None)
    out(closing_text(answers, path=args.output, written=written,
                     backup=str(backup) if backup else None, outcome=outcome,
                     service_account=key_owner))
    return status


def _with_spreadsheet(answers: InitAnswers, spreadsheet_id: str) -> InitAnswers:
    from dataclasses import replace

    return replace(answers, spreadsheet_id=spreadsheet_id)


def _says_the_same(output: Path, text: str, answers: InitAnswers) -> bool:
    """The existing file is exactly what would be written (a new sheet would change it)."""
    if answers.register_backend == "google" and answers.spreadsheet_id is None:
        return False
    try:
        return output.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _set_up_register(output: Path, shown: str,
                     err: Callable[[str], None]) -> tuple[RegisterOutcome | None, int]:
    try:
        config = load_config(output)
        return set_up_register(config), EXIT_OK
    except ConfigError as exc:
        err(str(exc))
    except (RegisterError, OSError) as exc:
        err(f"The config was written, but the register could not be set up: {exc}\n"
            f"Fix that, then run `parkdesk init` again with the same answers (the register's "
            f"data is never touched) or `parkdesk check --config {shown}`.")
    return None, EXIT_PROBLEM


def existing_spreadsheet_id(path: Path) -> str | None:
    """The Google Sheet an existing config file names, if any (read loosely: any file may be there)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    register = data.get("register") if isinstance(data, dict) else None
    if not isinstance(register, dict) or register.get("backend", "google") != "google":
        return None
    spreadsheet_id = register.get("spreadsheet_id")
    if not isinstance(spreadsheet_id, str):
        return None
    from daemon.setup.answers import parse_spreadsheet_id
    from daemon.setup.config_text import PLACEHOLDER_SPREADSHEET_ID

    try:
        found = parse_spreadsheet_id(spreadsheet_id)
    except AnswerError:
        return None
    return found if found != PLACEHOLDER_SPREADSHEET_ID else None


def config_text_problems(text: str, output: Path) -> list[str]:
    """What daemon.config finds wrong with the text (a new sheet's id not yet known is fine)."""
    try:
        data, duplicates = read_yaml(text)
        parse_config(data, config_dir=output.parent, source_name=output.name,
                     known_problems=duplicates)
    except ConfigError as exc:
        return exc.problems
    return []


def write_config(output: Path, text: str, moment: datetime) -> tuple[bool, Path | None]:
    """Write ``text`` to ``output`` atomically; the old file, if different, is kept as a backup.

    Returns (written, backup path): (False, None) when the file already holds exactly ``text``.
    """
    backup = None
    mode = 0o644  # config.yaml holds no secret
    if output.exists():
        mode = output.stat().st_mode & 0o777
        if output.read_bytes() == text.encode("utf-8"):
            return False, None
        backup = _backup_path(output, moment)
        backup.write_bytes(output.read_bytes())
    output.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True, backup


def _backup_path(output: Path, moment: datetime) -> Path:
    stamp = moment.strftime("%Y%m%d-%H%M%S")
    candidate = output.with_name(f"{output.name}.bak-{stamp}")
    number = 1
    while candidate.exists():
        number += 1
        candidate = output.with_name(f"{output.name}.bak-{stamp}-{number}")
    return candidate
