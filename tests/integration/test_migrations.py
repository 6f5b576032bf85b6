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


def test_surveys_whose_mail_went_out_are_marked_sent_by_the_upgrade(any_db_url):
    from sqlalchemy import text

    from tests.integration.conftest import old_row

    engine = make_engine(any_db_url)
    upgrade(engine, "0015")
    with engine.begin() as conn:
        states = {}
        for n, (mail_status, survey_status) in enumerate([("sent", "scheduled"), ("pending", "scheduled"),
                                                          ("cancelled", "cancelled")], 1):
            item = old_row(conn, "items", ref=f"CI-00000{n}", category="question")
            mail = old_row(conn, "outbox", item_id=item, kind="survey", status=mail_status, raw=b"",
                           message_id=f"<s{n}@team.example>", to_address="a@client.example",
                           from_address="support@team.example")
            states[old_row(conn, "surveys", item_id=item, outbox_id=mail, status=survey_status)] = n
    upgrade(engine)
    with engine.connect() as conn:
        got = {states[i]: status for i, status in conn.execute(text("SELECT id, status FROM surveys"))}
    assert got == {1: "sent", 2: "scheduled", 3: "cancelled"}
    engine.dispose()
