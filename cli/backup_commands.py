"""`intake db backup PATH` and `intake db restore PATH`: a consistent copy of a SQLite database while it is in
use, and putting one back (PostgreSQL: pg_dump and pg_restore, see the README)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cli.shell import UserError
from intake.config import Config


def cmd_db_backup(cfg: Config, args: argparse.Namespace) -> int:
    from db.backup import BackupError, backup_sqlite
    from db.engine import make_engine

    engine = make_engine(cfg.database.url)
    try:
        size = backup_sqlite(engine, Path(args.path))
    except BackupError as exc:
        raise UserError(f"db backup: {exc}") from None
    finally:
        engine.dispose()
    print(f"backup of {engine.url.database} written to {args.path} ({size:,} bytes)", file=sys.stderr)
    return 0


def cmd_db_restore(cfg: Config, args: argparse.Namespace) -> int:
    from db.backup import BackupError, backup_revision, restore_sqlite, sqlite_path
    from db.engine import make_engine
    from db.revision import HEAD_REVISION

    engine = make_engine(cfg.database.url)
    try:
        target = sqlite_path(engine)
        revision = backup_revision(Path(args.path))
        if target.exists() and not args.replace:
            raise UserError(f"db restore: {target} exists; add --replace to overwrite everything in it with "
                            "the backup (stop the worker and the web app first)")
        restore_sqlite(engine, Path(args.path))
    except BackupError as exc:
        raise UserError(f"db restore: {exc}") from None
    finally:
        engine.dispose()
    print(f"{target} restored from {args.path} (schema revision {revision})", file=sys.stderr)
    if revision != HEAD_REVISION:
        print(f"the backup's schema is at {revision}, this version needs {HEAD_REVISION}: run `intake db "
              "upgrade`",
              file=sys.stderr)
    return 0


def add_backup_commands(db: Any) -> None:
    """Adds `backup` and `restore` to the `intake db` subcommands DB."""
    backup = db.add_parser("backup", help="copy the SQLite database to PATH, while it is in use",
                           description="Writes a consistent copy of the SQLite database to PATH (a new file) "
                           "with SQLite's online backup API; the worker and the web app may keep running. "
                           "For PostgreSQL use pg_dump (see the README).")
    backup.add_argument("path", metavar="PATH")
    backup.set_defaults(func=cmd_db_backup)
    restore = db.add_parser("restore", help="replace the SQLite database by the backup at PATH",
                            description="Replaces the content of the configured SQLite database by the "
                            "backup at PATH. Stop the worker and the web app first. Then run `intake db "
                            "upgrade` if the backup is from an older version.")
    restore.add_argument("path", metavar="PATH")
    restore.add_argument("--replace", action="store_true", help="overwrite an existing database")
    restore.set_defaults(func=cmd_db_restore)
