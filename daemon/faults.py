"""Fault points: named places where a test can make the daemon die as if the power went out.

``fault_point("after_append")`` does nothing unless the environment variable
``PARKDESK_CRASH_AT`` names that point; then the process kills itself with SIGKILL (no
cleanup, no flush, exactly like a crash). Crash tests run the real daemon as a subprocess with
it set, restart it without, and check that nothing was lost or done twice.
"""

from __future__ import annotations

import os
import signal

CRASH_VARIABLE = "PARKDESK_CRASH_AT"


def fault_point(name: str) -> None:
    if os.environ.get(CRASH_VARIABLE) == name:
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
