"""The demo folder: made fresh for every run, without ever touching a file the demo did not make.

The demo writes ``config.yaml``, ``register.xlsx``, ``maildir/``, ``outbox/`` and ``state/``
into its folder, and a marker file ``.parkdesk-demo`` first of all. Running the demo again on
the same folder removes exactly those (and only when the marker is there and ``config.yaml``
is still the demo park's), so the story starts afresh. Anything else in the folder stays.
A folder holding one of those names without the marker is refused: it may be a real park's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from daemon.demo.park import (
    CONFIG_NAME,
    DOMAIN,
    MAILDIR_NAME,
    OUTBOX_NAME,
    REGISTER_NAME,
    STATE_NAME,
)
from daemon.register.workbook import lock_files

DEFAULT_DEMO_DIR = "parkdesk-demo"
MARKER_NAME = ".parkdesk-demo"
MARKER_TEXT = ("This folder was made by `parkdesk demo`. Running it again here removes "
               f"{CONFIG_NAME}, {REGISTER_NAME}, {MAILDIR_NAME}/, {OUTBOX_NAME}/ and "
               f"{STATE_NAME}/ and makes them afresh; nothing else is touched.\n")
DEMO_ENTRIES: tuple[str, ...] = (CONFIG_NAME, REGISTER_NAME, MAILDIR_NAME, OUTBOX_NAME, STATE_NAME)


class DemoFolderError(Exception):
    """The demo cannot use this folder; the message says why and what to do."""


def exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


def check_demo_folder(folder: Path) -> list[str]:
    """The demo's entries already in ``folder`` (to be removed); DemoFolderError if the folder
    is not the demo's to clear."""
    if exists(folder) and not folder.is_dir():
        raise DemoFolderError(f"{folder} is a file, not a folder. Choose a folder for the demo "
                              f"with --dir, e.g. parkdesk demo --dir {DEFAULT_DEMO_DIR}")
    present = [name for name in DEMO_ENTRIES if exists(folder / name)]
    if not present:
        return []
    other = (f"Choose another folder (parkdesk demo --dir {DEFAULT_DEMO_DIR}-2), or move "
             f"those files away yourself.")
    if not (folder / MARKER_NAME).is_file():
        raise DemoFolderError(
            f"{folder} already holds {', '.join(present)}, not made by the demo (there is no "
            f"{MARKER_NAME} file), and the demo never replaces files it did not make. {other}")
    config = folder / CONFIG_NAME
    if exists(config) and not _is_demo_config(config):
        raise DemoFolderError(
            f"{config} is not the demo park's config any more (it was changed or replaced), so "
            f"the demo will not remove it. {other}")
    register = folder / REGISTER_NAME
    open_locks = lock_files(register)
    if open_locks:
        raise DemoFolderError(
            f"{register} is open in a spreadsheet program (lock file {open_locks[0].name}). "
            f"Close it and run the demo again.")
    _check_no_daemon_running(folder / STATE_NAME)
    return present


def _is_demo_config(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return f"@{DOMAIN}" in text and "parkdesk demo" in text


def _check_no_daemon_running(state_dir: Path) -> None:
    """Refuse while a ParkDesk started on the demo's config holds its state folder."""
    if not state_dir.is_dir():
        return
    from daemon.lock import AlreadyRunning, StateLock

    try:
        StateLock(state_dir).acquire().release()
    except AlreadyRunning:
        raise DemoFolderError(
            f"A ParkDesk is running on the demo folder ({state_dir} is in use). Stop it, then "
            f"run the demo again.") from None


def prepare_demo_folder(folder: Path | str) -> Path:
    """Make ``folder`` ready for a fresh demo: create it, or clear what an earlier demo left.

    Returns the folder as an absolute path. Raises DemoFolderError when the folder holds files
    the demo did not make under one of its names.
    """
    folder = Path(folder).expanduser().absolute()
    present = check_demo_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER_NAME).write_text(MARKER_TEXT, encoding="utf-8")
    for name in present:
        remove_entry(folder / name)
    return folder


def remove_entry(path: Path) -> None:
    """Remove one of the demo's files or folders; a symbolic link is removed, never followed."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)
