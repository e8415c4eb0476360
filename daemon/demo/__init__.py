"""`parkdesk demo`: the park's whole procedure on the embedded default, with no account at all.

A demo park (``park.py``) on a local workbook, Maildir and outbox, in a folder made fresh for
each run (``folder.py``); a scenario (``script.py``) delivers tenants' complaints and the
departments' and tenants' replies and runs the real daemon at each step of a simulated day;
a summary (``summary.py``) reads back the register and the outbox and prints them.

    >>> run = play_demo("parkdesk-demo")        # doctest: +SKIP
    >>> print(format_summary(run))              # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon.demo.folder import DEFAULT_DEMO_DIR, DemoFolderError, prepare_demo_folder
from daemon.demo.script import DemoRun, run_scenario
from daemon.demo.summary import format_summary


@contextmanager
def quiet_logging(level: int = logging.WARNING) -> Iterator[None]:
    """Only warnings and errors from ParkDesk's loggers while the demo runs: the summary is the
    output. The previous level is put back afterwards."""
    logger = logging.getLogger("parkdesk")
    previous = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(previous)


def play_demo(folder: Path | str = DEFAULT_DEMO_DIR) -> DemoRun:
    """Clear what an earlier demo left in ``folder``, then play the whole story there."""
    with quiet_logging():
        return run_scenario(prepare_demo_folder(folder))


__all__ = ["DEFAULT_DEMO_DIR", "DemoFolderError", "DemoRun", "format_summary", "play_demo"]
