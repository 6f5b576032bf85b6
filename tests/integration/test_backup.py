"""`intake db backup` and `intake db restore` on SQLite: a backup taken while the worker's database is written
to is consistent, and restoring it gives back exactly what was backed up."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from tests.integration.conftest import run_intake
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


def _dump(path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_backup_and_restore_round_trip(tmp_path, sqlite_url, dovecot, config_for):
    cfg = config_for(sqlite_url)
    db_file = tmp_path / "intake.db"
    for n in range(1, 4):
        dovecot.deliver("support", bytes(client_email(n, f"Request {n}",
                                                      "The export crashes above 1,000 rows.",
                                                       "en", style="attachment" if n == 2 else "plain")))
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    ran = run_intake(cfg, "run", "--once")
    assert ran.returncode == 0, ran.stderr
    assert "new items: 3" in ran.stdout

    # Another process keeps writing (in WAL mode, most of it still in the log) while the backup is taken.
    stop = threading.Event()
    writes = []

    def write() -> None:
        conn = sqlite3.connect(db_file, timeout=30, isolation_level=None)
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO events (item_id, kind, actor, data, created_at) "
                         "VALUES (1, 'note', 'test', '{}', '2026-12-06 10:00:00.000000')")
            conn.execute("COMMIT")
            writes.append(1)
        conn.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        backup = tmp_path / "backup" / "intake-2026-12-06.db"
        backup.parent.mkdir()
        made = run_intake(cfg, "db", "backup", str(backup))
    finally:
        stop.set()
        writer.join()
    assert made.returncode == 0, made.stderr
    assert "written to" in made.stderr and writes
    assert not (backup.parent / f".{backup.name}.partial").exists()
    saved = _dump(backup)
    conn = sqlite3.connect(backup)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM items").fetchone()[0] == 3
    assert conn.execute("SELECT count(*) FROM attachments").fetchone()[0] >= 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, nothing beside it
    conn.close()
    assert not (backup.parent / f"{backup.name}-wal").exists()

    # The backup never overwrites a file.
    again = run_intake(cfg, "db", "backup", str(backup))
    assert again.returncode == 1 and "exists already" in again.stderr

    # Things change after the backup...
    with sqlite3.connect(db_file) as conn:
        conn.execute("DELETE FROM events WHERE kind = 'note'")
        conn.execute("UPDATE items SET subject = 'changed after the backup'")
    conn.close()
    assert _dump(db_file) != saved

    refused = run_intake(cfg, "db", "restore", str(backup))
    assert refused.returncode == 1 and "--replace" in refused.stderr
    restored = run_intake(cfg, "db", "restore", "--replace", str(backup))
    assert restored.returncode == 0, restored.stderr
    # ...and the restore brings back exactly what was backed up; the app works on it.
    assert _dump(db_file) == saved
    listed = run_intake(cfg, "export", "--format", "jsonl")
    assert listed.returncode == 0 and listed.stdout.count("\n") == 3 and "changed after" not in listed.stdout


def test_restore_refuses_what_is_no_backup(tmp_path, sqlite_url, dovecot, config_for):
    cfg = config_for(sqlite_url)
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    before = _dump(tmp_path / "intake.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    result = run_intake(cfg, "db", "restore", "--replace", str(junk))
    assert result.returncode == 1 and "not a client-intake database" in result.stderr
    missing = run_intake(cfg, "db", "restore", "--replace", str(tmp_path / "nothing.db"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    assert _dump(tmp_path / "intake.db") == before


def test_postgresql_backup_points_to_pg_dump(tmp_path, pg_url, dovecot, config_for):
    result = run_intake(config_for(pg_url), "db", "backup", str(tmp_path / "x.db"))
    assert result.returncode == 1 and "pg_dump" in result.stderr
    assert not (tmp_path / "x.db").exists()
