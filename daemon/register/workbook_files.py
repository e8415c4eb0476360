"""The workbook file on disk: lock files of programs that have it open (and the plain message
naming who), its signature and digest, and the pieces of an atomic save (write and fsync a
temporary file, fsync the folder, clean up temporary files crashed saves left)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

from openpyxl.workbook.workbook import Workbook

STALE_TEMP_SECONDS = 3600


def lock_files(path: Path) -> list[Path]:
    """Lock files next to ``path`` that say a program has it open, e.g. ``~$register.xlsx``.

    Excel and WPS write ``~$<name>``; LibreOffice writes ``.~lock.<name>#``.
    """
    candidates = (path.with_name(f"~${path.name}"), path.with_name(f".~lock.{path.name}#"))
    return [lock for lock in candidates if lock.exists()]


def lock_holder(lock: Path) -> str:
    """Who holds a LibreOffice lock (its first field), "" if unknown."""
    if not lock.name.startswith(".~lock."):
        return ""
    try:
        first = lock.read_text(encoding="utf-8", errors="replace").split(",", 1)[0].strip()
    except OSError:
        return ""
    return first[:60]


def describe_lock(path: Path, locks: Sequence[Path]) -> str:
    """The plain message for staff: which program has the file open and what to do."""
    lock = locks[0]
    program = "LibreOffice" if lock.name.startswith(".~lock.") else "Excel"
    holder = lock_holder(lock)
    by = f" (opened by {holder})" if holder else ""
    also = " or WPS" if program == "Excel" else ""
    return (
        f"{path.name} is open in {program}{also}{by}: close {path.name} in {program} so ParkDesk "
        f"can save. 请在 {program} 中关闭 {path.name}，以便 ParkDesk 保存。 If nobody has it open, "
        f"delete the lock file {lock.name} next to it."
    )


def file_signature(path: Path) -> tuple[int, int, int] | None:
    """What tells that a file changed: (inode, size, mtime in ns); None if it does not exist."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def file_digest(path: Path) -> str:
    """SHA-256 of the file's content (a few milliseconds for a large register)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_workbook(workbook: Workbook, target: Path) -> None:
    """Save ``workbook`` to ``target`` and flush it to the disk."""
    workbook.save(target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); nothing to do on Windows."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def temp_path_for(path: Path) -> Path:
    """The hidden file a save goes to before it replaces ``path``."""
    return path.with_name(f".{path.name}.parkdesk-{os.getpid()}.tmp")


def remove_stale_temps(path: Path, *, now: float | None = None) -> None:
    """Delete temporary files that crashed saves left behind (older than an hour)."""
    now = time.time() if now is None else now
    for stale in path.parent.glob(f".{path.name}.parkdesk-*.tmp"):
        try:
            if now - stale.stat().st_mtime > STALE_TEMP_SECONDS:
                stale.unlink()
        except OSError:
            pass
