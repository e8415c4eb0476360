"""One ParkDesk per state_dir: an exclusive lock on ``state_dir/parkdesk.lock``.

The operating system drops the lock when the process dies, even by SIGKILL, so a crash never
leaves a stale lock behind.
"""

from __future__ import annotations

import os
from pathlib import Path


class AlreadyRunning(Exception):
    """Another ParkDesk holds the lock on this state_dir."""


class StateLock:
    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "parkdesk.lock"
        self._file = None

    def acquire(self) -> "StateLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            _lock(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunning(
                f"Another ParkDesk is already running with state_dir {self.path.parent} "
                f"(process {holder}). Stop it first, or give this one its own state_dir."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._file = handle
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "StateLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _lock(handle) -> None:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
