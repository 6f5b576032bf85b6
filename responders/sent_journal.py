"""On SQLite, records each message the SMTP server took in a small file of its own, beside the database.

The record must be on disk before the next message goes out, so that a crash sends at most the message in
flight
again. In the database itself that record is a write, and SQLite has one writer at a time: each one waited for
the worker's batch transaction (tens of milliseconds), and over a backlog the sending fell seconds behind the
storing. The journal is a separate SQLite file with its own lock, so a record takes a fraction of a
millisecond
whatever the database is doing; the drain books the records into the database once per batch sent, and every
drain first books what a stopped one left there.
"""
from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

_SCHEMA = "CREATE TABLE IF NOT EXISTS sent (outbox_id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, at TEXT)"
_journals: dict[str, SentJournal] = {}
_lock = threading.Lock()


class SentJournal:
    """Records of outbox rows handed to the SMTP server and not booked in the database yet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # Autocommit, WAL, synchronous NORMAL: a record survives the process being killed, as the database
        # does.
        self._conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)

    def record(self, outbox_id: int, message_id: str, at: datetime) -> None:
        """Notes that the SMTP server took outbox row OUTBOX_ID (whose mail has MESSAGE_ID) at AT."""
        with self._lock:
            self._conn.execute("INSERT OR REPLACE INTO sent VALUES (?, ?, ?)",
                               (outbox_id, message_id, at.isoformat()))

    def entries(self, ids: list[int] | None = None) -> list[tuple[int, str, datetime]]:
        """The records (of IDS, or all), as (outbox id, Message-ID, time taken)."""
        with self._lock:
            rows = self._conn.execute("SELECT outbox_id, message_id, at FROM sent ORDER BY "
                                      "outbox_id").fetchall()
        wanted = set(ids) if ids is not None else None
        return [(r[0], r[1], datetime.fromisoformat(r[2])) for r in rows if wanted is None or r[0] in wanted]

    def forget(self, ids: list[int]) -> None:
        """Drops the records of IDS, once they are booked in the database (or found stale)."""
        if ids:
            with self._lock:
                self._conn.executemany("DELETE FROM sent WHERE outbox_id = ?", [(i,) for i in ids])


def journal_for(engine: Engine) -> SentJournal | None:
    """The journal beside ENGINE's SQLite file (one per file in this process); None for PostgreSQL or
    memory."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    path = Path(database).resolve().with_name(Path(database).name + "-sent")
    with _lock:
        journal = _journals.get(str(path))
        if journal is None:
            journal = _journals[str(path)] = SentJournal(path)
        return journal
