"""Test and benchmark knobs: request counts per method, injected failures."""

from __future__ import annotations

import threading
from collections import Counter


class RequestCounts:
    """Requests seen, keyed by discovery method id (``sheets.spreadsheets.values.append``),
    plus ``reads`` and ``writes`` totals of Sheets API requests (what its quotas count)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, method_id: str, kind: str | None) -> None:
        with self._lock:
            self._counts[method_id] += 1
            if kind == "read":
                self._counts["reads"] += 1
            elif kind == "write":
                self._counts["writes"] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            out = dict(self._counts)
        out.setdefault("reads", 0)
        out.setdefault("writes", 0)
        return out

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


class FaultPlan:
    """The next N API requests fail with a chosen HTTP status."""

    def __init__(self) -> None:
        self._pending: list[int] = []
        self._lock = threading.Lock()

    def fail_next(self, count: int, status: int = 500) -> None:
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        with self._lock:
            self._pending.extend([status] * count)

    def take(self) -> int | None:
        with self._lock:
            return self._pending.pop(0) if self._pending else None

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)
