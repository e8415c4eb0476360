"""Per-minute request quotas of the Sheets API, per user and per project.

Google counts read and write requests apart (60 per minute per user, 300 per minute
per project by default; a batch request counts as one). The window is a sliding
minute on an injectable clock, so tests reset or advance it instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from .errors import ApiError

HELP_LINK = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [
        {
            "description": "Request a higher quota limit.",
            "url": "https://cloud.google.com/docs/quotas/help/request_increase",
        }
    ],
}


class QuotaTracker:
    """Sliding-minute counters for (user|project, read|write)."""

    def __init__(
        self,
        user_per_minute: int | None = 60,
        project_per_minute: int | None = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user_per_minute = user_per_minute
        self.project_per_minute = project_per_minute
        self.clock = clock
        self.offset = 0.0
        self._events: dict[tuple[str, str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def now(self) -> float:
        return self.clock() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the quota clock forward (tests use it instead of sleeping)."""
        with self._lock:
            self.offset += seconds

    def reset(self) -> None:
        with self._lock:
            self._events.clear()

    def _window(self, key: tuple[str, str, str], now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - 60:
            events.popleft()
        return events

    def charge(self, user: str, project: str, project_number: str, kind: str) -> None:
        """Count one request, or raise Google's 429 if a limit is reached."""
        with self._lock:
            now = self.now()
            user_events = self._window(("user", user, kind), now)
            project_events = self._window(("project", project, kind), now)
            if self.user_per_minute is not None and len(user_events) >= self.user_per_minute:
                raise quota_error(kind, True, self.user_per_minute, project_number)
            if self.project_per_minute is not None and len(project_events) >= self.project_per_minute:
                raise quota_error(kind, False, self.project_per_minute, project_number)
            user_events.append(now)
            project_events.append(now)


def quota_error(kind: str, per_user: bool, limit: int, project_number: str) -> ApiError:
    metric = "Read requests" if kind == "read" else "Write requests"
    limit_name = f"{metric} per minute per user" if per_user else f"{metric} per minute"
    limit_id = ("ReadRequests" if kind == "read" else "WriteRequests") + (
        "PerMinutePerUser" if per_user else "PerMinutePerProject"
    )
    return ApiError(
        429,
        f"Quota exceeded for quota metric '{metric}' and limit '{limit_name}' of service "
        f"'sheets.googleapis.com' for consumer 'project_number:{project_number}'.",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": {
                    "quota_location": "global",
                    "quota_metric": f"sheets.googleapis.com/{kind}_requests",
                    "quota_limit": limit_id,
                    "quota_limit_value": str(limit),
                    "consumer": f"projects/{project_number}",
                    "service": "sheets.googleapis.com",
                },
            },
            HELP_LINK,
        ],
        reason="rateLimitExceeded",
    )
