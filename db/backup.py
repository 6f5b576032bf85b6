"""Copies a SQLite database while it is in use (SQLite's online backup API), to back it up or restore it."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from sqlalchemy import Engine


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


def sqlite_path(engine: Engine) -> Path:
    """The file behind a SQLite ENGINE; BackupError for any other database."""
    if engine.dialect.name != "sqlite":
        raise BackupError(f"{engine.dialect.name}: back it up with the database's own tools (for PostgreSQL "
                          "pg_dump, see the README's \"Backups\")")
    name = engine.url.database
    if not name or name == ":memory:":
        raise BackupError("an in-memory database has nothing to back up")
    return Path(name)


def copy_sqlite(source: Path, target: Path, pages_per_step: int = 1024) -> None:
    """Copies the database SOURCE onto TARGET page by page with SQLite's backup API: writers of SOURCE go on
    meanwhile (a step that sees a change starts over), and what TARGET gets is one consistent state, the
    write-ahead log included."""
    # Not opened read-only: a database in WAL mode needs its shared-memory file, which only a writer may
    # create.
    src = sqlite3.connect(source, timeout=30)
    try:
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst, pages=pages_per_step)
        finally:
            dst.close()
    finally:
        src.close()


def backup_sqlite(engine: Engine, target: Path) -> int:
    """Writes a copy of ENGINE's SQLite database to TARGET (a new file; written beside it first, then renamed,
    so a stopped backup never leaves half a file under that name); returns its size in bytes."""
    source = sqlite_path(engine)
    if not source.exists():
        raise BackupError(f"{source} does not exist")
    if target.exists():
        raise BackupError(f"{target} exists already; give a new file name")
    partial = target.with_name(f".{target.name}.partial")
    try:
        copy_sqlite(source, partial)
        # The copy is a plain database file (no -wal beside it): readable as it is.
        with sqlite3.connect(partial) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"backup to {target} failed: {exc}") from None
    return target.stat().st_size


def backup_revision(path: Path) -> str | None:
    """The schema revision recorded in the SQLite file PATH; BackupError when it is no database of ours."""
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise BackupError(f"{path}: the file is damaged ({check})")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a client-intake database ({exc})") from None
    return row[0] if row else None


def restore_sqlite(engine: Engine, backup: Path) -> None:
    """Replaces the content of ENGINE's SQLite database by the backup BACKUP, in place, through the backup API
    (it waits for the database's write lock, and readers never see a half-restored file)."""
    copy_sqlite(backup, sqlite_path(engine))
