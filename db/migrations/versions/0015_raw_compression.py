"""On PostgreSQL, stored mail (messages.raw, outbox.raw) is compressed with lz4 instead of pglz

pglz compressed a backlog's mail at about 50 MB/s and saved almost nothing (attachments are base64 of
already compressed files), so it was most of PostgreSQL's time in a drain; lz4 is about five times as fast for
the same size. A server built without lz4 stores these columns uncompressed instead. Only new values change:
rows already stored keep their compression until they are written again. SQLite stores them as they are.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

_COLUMNS = (("messages", "raw"), ("outbox", "raw"))


def _has_lz4(bind: sa.Connection) -> bool:
    # default_toast_compression exists from PostgreSQL 14 on; it lists lz4 only on servers built with it.
    row = bind.execute(sa.text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")).first()
    return row is not None and "lz4" in (row[0] or [])


def _set(compression: str, storage: str) -> None:
    """Sets COMPRESSION on the stored-mail columns, or STORAGE on a server built without lz4."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    change = f"SET COMPRESSION {compression}" if _has_lz4(bind) else f"SET STORAGE {storage}"
    for table, col in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {col} {change}")


def upgrade() -> None:
    _set("lz4", "EXTERNAL")


def downgrade() -> None:
    _set("pglz", "EXTENDED")
