"""The local journal: what was done with each message, the outbox, and reference counters.

A SQLite file in ``state_dir``. It is the queue that makes intake exactly-once: every step of
handling a message is recorded before the next one starts, so a crash at any point is finished
by the next run. Losing the journal is survivable: the register's Message-ID column and the
processed folder are enough to avoid duplicates (see ``daemon.intake``).

States of a message (column ``state``):
  ``registering``  a reference is reserved, the row may or may not be in the sheet yet
  ``registered``   the row (or Activity note) is in the sheet; replies are queued in the outbox
  ``done``         all its mail is sent; only the move to the processed folder may be missing
  ``quarantined``  given up on; moved to the quarantine folder
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    identity    TEXT PRIMARY KEY,
    mailbox_key TEXT,
    kind        TEXT NOT NULL DEFAULT '',
    state       TEXT NOT NULL,
    reference   TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_reference ON messages(reference);
CREATE TABLE IF NOT EXISTS failures (
    mailbox_key TEXT PRIMARY KEY,
    attempts    INTEGER NOT NULL,
    last_error  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    identity    TEXT NOT NULL,
    purpose     TEXT NOT NULL,
    message_id  TEXT NOT NULL UNIQUE,
    reference   TEXT NOT NULL DEFAULT '',
    recipient   TEXT NOT NULL,
    raw         BLOB NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state);
CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox(recipient, created_at);
CREATE TABLE IF NOT EXISTS reference_counters (
    day  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS activity_queue (
    id    INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dispatches (
    reference   TEXT PRIMARY KEY,
    department  TEXT NOT NULL,
    priority    TEXT NOT NULL,
    number      INTEGER NOT NULL,
    at          TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions_done (
    reference TEXT NOT NULL,
    key       TEXT NOT NULL,
    at        TEXT NOT NULL,
    PRIMARY KEY (reference, key)
);
CREATE TABLE IF NOT EXISTS attachments (
    identity     TEXT NOT NULL,
    position     INTEGER NOT NULL,
    name         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (identity, position)
);
CREATE TABLE IF NOT EXISTS mailbox_state (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class JournalEntry:
    """What the journal knows about one message."""

    identity: str
    mailbox_key: str
    kind: str
    state: str
    reference: str


@dataclass(frozen=True)
class OutboxItem:
    """One queued outgoing message."""

    id: int
    identity: str
    purpose: str
    message_id: str
    reference: str
    recipient: str
    raw: bytes
    attempts: int


class Journal:
    """The SQLite journal. Every write is committed before the method returns."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def _transaction(self):
        return _Transaction(self._db)

    # --- messages -----------------------------------------------------------------------

    def entry(self, identity: str) -> JournalEntry | None:
        row = self._db.execute(
            "SELECT identity, mailbox_key, kind, state, reference FROM messages WHERE identity=?",
            (identity,),
        ).fetchone()
        return JournalEntry(*row) if row else None

    def record(self, identity: str, *, state: str, mailbox_key: str = "", kind: str = "",
               reference: str = "", now: datetime) -> None:
        """Insert or update a message's state; empty arguments keep what was stored."""
        with self._transaction():
            old = self.entry(identity)
            self._db.execute(
                "INSERT OR REPLACE INTO messages(identity, mailbox_key, kind, state, reference, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (
                    identity,
                    mailbox_key or (old.mailbox_key if old else ""),
                    kind or (old.kind if old else ""),
                    state,
                    reference or (old.reference if old else ""),
                    now.isoformat(),
                ),
            )

    def has_reference(self, reference: str) -> bool:
        """Whether any message ever handled belongs to ``reference`` (archived ones included)."""
        return self._db.execute(
            "SELECT 1 FROM messages WHERE reference=? LIMIT 1", (reference,)).fetchone() is not None

    # --- failures (keyed by mailbox position, since a failing message may have no identity) --

    def add_failure(self, mailbox_key: str, error: str) -> int:
        """Count one more failed attempt; returns the number of attempts so far."""
        with self._transaction():
            row = self._db.execute(
                "SELECT attempts FROM failures WHERE mailbox_key=?", (mailbox_key,)
            ).fetchone()
            attempts = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO failures(mailbox_key, attempts, last_error) VALUES (?,?,?)",
                (mailbox_key, attempts, error[:2000]),
            )
        return attempts

    def clear_failures(self, mailbox_key: str) -> None:
        self._db.execute("DELETE FROM failures WHERE mailbox_key=?", (mailbox_key,))

    # --- references -----------------------------------------------------------------------

    def next_reference_number(self, day: str, at_least: int = 0) -> int:
        """Reserve the next sequence number for ``day`` (e.g. ``"250514"``), above ``at_least``."""
        with self._transaction():
            row = self._db.execute(
                "SELECT last FROM reference_counters WHERE day=?", (day,)
            ).fetchone()
            number = max(row[0] if row else 0, at_least) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO reference_counters(day, last) VALUES (?,?)", (day, number)
            )
        return number

    # --- outbox ---------------------------------------------------------------------------

    def queue_mail(self, *, identity: str, purpose: str, message_id: str, reference: str,
                   recipient: str, raw: bytes, now: datetime) -> bool:
        """Queue a message once: a second call for the same identity and purpose is ignored."""
        with self._transaction():
            exists = self._db.execute(
                "SELECT 1 FROM outbox WHERE identity=? AND purpose=?", (identity, purpose)
            ).fetchone()
            if exists:
                return False
            self._db.execute(
                "INSERT INTO outbox(identity, purpose, message_id, reference, recipient, raw, created_at)"
                " VALUES (?,?,?,?,?,?,?)",
                (identity, purpose, message_id, reference, recipient, raw, now.isoformat()),
            )
        return True

    def pending_mail(self, limit: int = 500, after_id: int = 0) -> list[OutboxItem]:
        """One page of unsent mail, oldest first, after outbox id ``after_id``."""
        rows = self._db.execute(
            "SELECT id, identity, purpose, message_id, reference, recipient, raw, attempts"
            " FROM outbox WHERE state='pending' AND id>? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [OutboxItem(*r) for r in rows]

    def pending_mail_for(self, identity: str) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE identity=? AND state='pending'", (identity,)
        ).fetchone()
        return row[0]

    def mark_sent(self, outbox_id: int, now: datetime) -> None:
        self._db.execute(
            "UPDATE outbox SET state='sent', sent_at=? WHERE id=?", (now.isoformat(), outbox_id)
        )

    def mark_send_failed(self, outbox_id: int, error: str, *, permanent: bool) -> None:
        self._db.execute(
            "UPDATE outbox SET attempts=attempts+1, last_error=?, state=? WHERE id=?",
            (error[:2000], "failed" if permanent else "pending", outbox_id),
        )

    def reference_for_message_id(self, message_id: str) -> str | None:
        """The complaint a message we sent belongs to (for In-Reply-To matching)."""
        row = self._db.execute(
            "SELECT reference FROM outbox WHERE message_id=? AND reference != ''", (message_id,)
        ).fetchone()
        return row[0] if row else None

    def replies_sent_to(self, recipient: str, since: datetime) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM outbox WHERE recipient=? AND created_at>=?",
            (recipient, since.isoformat()),
        ).fetchone()
        return row[0]

    def iter_outbox(self) -> Iterator[tuple[str, str, str]]:
        """(purpose, recipient, state) of every queued message, oldest first."""
        yield from self._db.execute("SELECT purpose, recipient, state FROM outbox ORDER BY id")

    # --- dispatches: which department and priority a complaint was last sent out with -------

    def record_dispatch(self, reference: str, *, department: str, priority: str,
                        now: datetime) -> int:
        """Remember a (re-)dispatch; returns its number (1 for the first slip)."""
        with self._transaction():
            row = self._db.execute(
                "SELECT number FROM dispatches WHERE reference=?", (reference,)
            ).fetchone()
            number = (row[0] if row else 0) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO dispatches(reference, department, priority, number, at)"
                " VALUES (?,?,?,?,?)",
                (reference, department, priority, number, now.isoformat()),
            )
        return number

    def last_dispatch(self, reference: str) -> tuple[str, str, int] | None:
        """(department key, priority key, number) of the latest dispatch, or None."""
        row = self._db.execute(
            "SELECT department, priority, number FROM dispatches WHERE reference=?", (reference,)
        ).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def retime_dispatch(self, reference: str, priority: str) -> None:
        self._db.execute("UPDATE dispatches SET priority=? WHERE reference=?", (priority, reference))

    # --- small attachments of complaints, sent along with their slips ------------------------

    def keep_attachments(self, identity: str, attachments) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM attachments WHERE identity=?", (identity,))
            self._db.executemany(
                "INSERT INTO attachments(identity, position, name, content_type, data)"
                " VALUES (?,?,?,?,?)",
                [(identity, i, a.name, a.content_type, a.data) for i, a in enumerate(attachments)])

    def attachments_of(self, reference: str) -> list[tuple[str, str, bytes]]:
        """(name, content type, data) of the complaint's kept attachments, in order."""
        rows = self._db.execute(
            "SELECT a.name, a.content_type, a.data FROM attachments a"
            " JOIN messages m ON m.identity = a.identity"
            " WHERE m.reference=? AND m.kind='complaint' ORDER BY a.position", (reference,))
        return [(r[0], r[1], r[2]) for r in rows]

    # --- timed steps already taken (aftercare), so each happens once across restarts ---------

    def claim_action(self, reference: str, key: str, now: datetime) -> bool:
        """Record that step ``key`` of ``reference`` is being taken; False if it already was."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO actions_done(reference, key, at) VALUES (?,?,?)",
            (reference, key, now.isoformat()))
        return cursor.rowcount == 1

    # --- Activity events waiting to be appended to the register ------------------------------

    def queue_activity(self, event: dict[str, str]) -> None:
        self._db.execute("INSERT INTO activity_queue(event) VALUES (?)", (json.dumps(event),))

    def queued_activity(self) -> list[tuple[int, dict[str, str]]]:
        rows = self._db.execute("SELECT id, event FROM activity_queue ORDER BY id")
        return [(row[0], json.loads(row[1])) for row in rows]

    def forget_activity(self, ids: list[int]) -> None:
        with self._transaction():
            self._db.executemany("DELETE FROM activity_queue WHERE id=?", [(i,) for i in ids])

    # --- small key/value state (UIDVALIDITY and the like) -----------------------------------

    def get_value(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM mailbox_state WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def set_value(self, name: str, value: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO mailbox_state(name, value) VALUES (?,?)", (name, value)
        )

    def forget_value(self, name: str) -> None:
        self._db.execute("DELETE FROM mailbox_state WHERE name=?", (name,))

    # --- counts for `parkdesk status`, and the health notices (daemon.health) ----------------

    def count_outbox(self, state: str | None = None, *, purpose: str | None = None) -> int:
        """How many outgoing messages are in ``state`` (``pending``, ``sent``, ``failed``) and/or
        of ``purpose`` (e.g. ``quarantine_notice``: one per quarantined message)."""
        where, args = ["1=1"], []
        if state is not None:
            where.append("state=?")
            args.append(state)
        if purpose is not None:
            where.append("purpose=?")
            args.append(purpose)
        return self._db.execute(
            f"SELECT COUNT(*) FROM outbox WHERE {' AND '.join(where)}", args).fetchone()[0]

    def pending_mail_for_purposes(self, purposes: tuple[str, ...]) -> list[OutboxItem]:
        """Unsent mail of the given purposes (e.g. the health alerts), oldest first."""
        marks = ",".join("?" * len(purposes))
        rows = self._db.execute(
            "SELECT id, identity, purpose, message_id, reference, recipient, raw, attempts"
            f" FROM outbox WHERE state='pending' AND purpose IN ({marks}) ORDER BY id",
            tuple(purposes)).fetchall()
        return [OutboxItem(*r) for r in rows]


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on error) around a block."""

    def __init__(self, db: sqlite3.Connection):
        self._db = db

    def __enter__(self):
        self._db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb):
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        return False
