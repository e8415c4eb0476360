"""SheetsEmulator: the server object tests, benchmarks and the CLI start and steer.

with SheetsEmulator() as emu:               # or emu.start() ... emu.stop()
    key = write_service_account_key(emu.base_url, "robot@park.iam.gserviceaccount.com", path)
    sid = emu.create_spreadsheet("robot@park.iam.gserviceaccount.com", title="Register")
    emu.fail_next(2, status=503); emu.set_latency(0.05); emu.request_counts()
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable

from .auth import register_key
from .knobs import FaultPlan, RequestCounts
from .quota import QuotaTracker
from .server import make_server
from .store import ROLE_RANK, Store, new_spreadsheet


class SheetsEmulator:
    """A Google Sheets + Drive API emulator on a real HTTP port."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        data_path: str | Path | None = None,
        latency: float = 0.0,
        user_quota_per_minute: int | None = 60,
        project_quota_per_minute: int | None = 300,
        clock: Callable[[], float] = time.monotonic,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.store = Store(data_path)
        self.quota = QuotaTracker(user_quota_per_minute, project_quota_per_minute, clock)
        self.latency = latency
        self.counts = RequestCounts()
        self.faults = FaultPlan()
        self.verbose = verbose
        self.last_internal_error: BaseException | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "SheetsEmulator":
        if self._server is not None:
            return self
        self._server = make_server(self, self.host, self.port)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="sheets-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def serve_forever(self) -> None:
        """Run in the calling thread (the CLI)."""
        self._server = make_server(self, self.host, self.port)
        self.port = self._server.server_address[1]
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "SheetsEmulator":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # -- state ---------------------------------------------------------------------------
    def register_key(
        self, key_id: str, email: str, public_key_pem: str, project_id: str, client_id: str = ""
    ) -> None:
        register_key(self.store, key_id, email, public_key_pem, project_id, client_id)

    def create_spreadsheet(self, owner_email: str, title: str = "Untitled spreadsheet") -> str:
        """A new spreadsheet (one 1000x26 'Sheet1') owned by ``owner_email``."""
        with self.store.lock:
            book = self.store.add(new_spreadsheet(title, owner_email))
            self.store.save()
            return book.id

    def share(self, spreadsheet_id: str, email: str, role: str = "writer") -> None:
        if role not in ROLE_RANK or role == "owner":
            raise ValueError(f"role must be reader, commenter or writer, not {role!r}")
        with self.store.lock:
            book = self.store.spreadsheet(spreadsheet_id)
            if book is None:
                raise KeyError(spreadsheet_id)
            for perm in book.permissions:
                if perm.get("emailAddress", "").lower() == email.lower():
                    if perm["role"] != "owner":
                        perm["role"] = role
                    break
            else:
                book.permissions.append({"type": "user", "role": role, "emailAddress": email})
            self.store.save()

    def set_without_google_account(self, *addresses: str) -> None:
        """These addresses have no Google account: Drive refuses to share with them without
        the invitation email (sendNotificationEmail=false), as Google does."""
        with self.store.lock:
            self.store.without_google_account = {address.lower() for address in addresses}

    def reset(self) -> None:
        """Forget spreadsheets, tokens, counts, quotas and pending failures (keys stay)."""
        with self.store.lock:
            self.store.clear()
            self.store.save()
        self.counts.reset()
        self.faults.clear()
        self.quota.reset()

    # -- knobs ---------------------------------------------------------------------------
    def request_counts(self) -> dict[str, int]:
        return self.counts.snapshot()

    def reset_counts(self) -> None:
        self.counts.reset()

    def fail_next(self, n: int, status: int = 500) -> None:
        self.faults.fail_next(n, status)

    def set_latency(self, seconds: float) -> None:
        self.latency = max(0.0, float(seconds))

    def set_quota(self, user_per_minute: int | None, project_per_minute: int | None) -> None:
        self.quota.user_per_minute = user_per_minute
        self.quota.project_per_minute = project_per_minute

    def reset_quota(self) -> None:
        self.quota.reset()

    def advance_clock(self, seconds: float) -> None:
        self.quota.advance(seconds)
