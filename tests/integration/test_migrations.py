"""Migrations build exactly the schema the models describe, on SQLite and PostgreSQL, and can be undone."""
from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from db.engine import make_engine
from db.migrate import alembic_config, current_revision, head_revision, upgrade
from db.models import Base

pytestmark = pytest.mark.integration


def test_migrations_match_models_and_downgrade(any_db_url):
    engine = make_engine(any_db_url)
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert current_revision(engine) is None
    upgrade(engine)  # and back up again
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_stored_mail_is_compressed_with_lz4_on_postgresql(pg_url):
    """pglz spent most of PostgreSQL's time in a drain on mail it could not shrink; lz4 (or none) is
    stored."""
    from sqlalchemy import text

    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            lz4 = "lz4" in (conn.scalar(text(
                "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")) or [])
            found = conn.execute(text(
                "SELECT attrelid::regclass::text, attcompression, attstorage FROM pg_attribute "
                "WHERE attname = 'raw' AND attrelid IN ('messages'::regclass, 'outbox'::regclass) "
                "ORDER BY 1")).all()
    finally:
        engine.dispose()
    expected = ("l", "x") if lz4 else ("", "e")
    assert [(r[0], r[1], r[2]) for r in found] == [("messages", *expected), ("outbox", *expected)]
