"""The schema revision a database is at and the one the code needs, read without importing Alembic (fast
start)."""
from __future__ import annotations

from sqlalchemy import Engine, column, inspect, select, table

# The newest migration in db/migrations/versions; tests/unit/test_startup_imports.py checks it against
# Alembic's.
HEAD_REVISION = "0016"


def stored_revision(engine: Engine) -> str | None:
    """The revision recorded in the database's alembic_version table, or None when it was never migrated."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.scalar(select(column("version_num")).select_from(table("alembic_version")))


def schema_problem(engine: Engine) -> str | None:
    """What keeps the database behind ENGINE from serving this code: unreachable, or not at HEAD_REVISION;
    None when it is ready."""
    try:
        rev = stored_revision(engine)
    except Exception as exc:  # any driver error means "not reachable"; its text says why
        return f"cannot connect: {' '.join(str(exc).split())[:300]}"
    if rev != HEAD_REVISION:
        return f"schema is at {rev or 'nothing'}, code needs {HEAD_REVISION}; run `intake db upgrade`"
    return None
