"""A register, mailbox and mailer in memory, with the same methods the workflow calls.

The end-to-end tests use the real adapters against real servers; these fakes let the
workflow's decisions be tested in milliseconds, and let a test fail a step on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

from daemon.register import RegisterRow, RegisterSnapshot
from daemon.sheet_layout import REGISTER_KEYS


class FakeRegister:
    def __init__(self):
        self.rows: list[dict[str, str]] = []
        self.activity: list[dict[str, str]] = []
        self.departments: list[dict[str, str]] = []
        self.calls: list[str] = []
        self.fail_append = 0

    def ensure_layout(self):
        self.calls.append("ensure_layout")

    def read_register(self):
        self.calls.append("read")
        return RegisterSnapshot(
            [RegisterRow(i + 2, {k: row.get(k, "") for k in REGISTER_KEYS})
             for i, row in enumerate(self.rows)],
            {k: i for i, k in enumerate(REGISTER_KEYS)})

    def append_complaints(self, rows):
        self.calls.append("append")
        if self.fail_append:
            self.fail_append -= 1
            from daemon.register import RegisterUnavailable
            raise RegisterUnavailable("Google Sheets did not answer (test)")
        self.rows.extend(dict(r) for r in rows)

    def append_activity(self, events):
        self.calls.append("activity")
        self.activity.extend(dict(e) for e in events)

    def write_departments(self, rows):
        self.calls.append("departments")
        self.departments = [dict(r) for r in rows]

    def update_rows_by_number(self, updates):
        self.calls.append("update_rows")
        for row_number, values in updates.items():
            self.rows[row_number - 2].update(values)

    def update_cells(self, updates, snapshot=None):
        self.calls.append("update_cells")
        for update in updates:
            [row] = self.by_reference(update.reference)
            row[update.key] = update.value

    def by_reference(self, reference):
        return [r for r in self.rows if r.get("reference") == reference]


@dataclass
class FakeMailbox:
    messages: dict[int, bytes] = field(default_factory=dict)
    folders: dict[str, list[bytes]] = field(default_factory=lambda: {"Processed": [], "Quarantine": []})
    uidvalidity: int = 1
    batch_size: int = 2
    next_uid: int = 1

    def deliver(self, raw: bytes) -> int:
        uid = self.next_uid
        self.messages[uid] = raw
        self.next_uid += 1
        return uid

    def iter_batches(self, batch_size=None):
        uids = sorted(self.messages)
        size = batch_size or self.batch_size
        for start in range(0, len(uids), size):
            yield [SimpleNamespace(uid=u, uidvalidity=self.uidvalidity, raw=self.messages[u])
                   for u in uids[start:start + size] if u in self.messages]

    def _move(self, uids, folder):
        for uid in uids:
            self.folders[folder].append(self.messages.pop(uid))

    def move_to_processed(self, uids):
        self._move(uids, "Processed")

    def move_to_quarantine(self, uids):
        self._move(uids, "Quarantine")


class FakeMailer:
    def __init__(self):
        self.sent = []
        self.fail_temporarily = 0

    def send_all(self, messages):
        results = []
        for message in messages:
            if self.fail_temporarily:
                self.fail_temporarily -= 1
                results.append(SimpleNamespace(message_id=message["Message-ID"], ok=False,
                                               permanent=False, error="451 try again later"))
                continue
            self.sent.append(message)
            results.append(SimpleNamespace(message_id=message["Message-ID"], ok=True,
                                           permanent=False, error=None))
        return results
