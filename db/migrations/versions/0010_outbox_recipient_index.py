"""outbox: an index on (to_address, created_at) for the per-recipient acknowledgment limit

Every batch counts the acknowledgments its senders were given in the last hour; without this index that
count read the whole outbox, once per batch, so a large outbox made every batch slower.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
from __future__ import annotations

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_outbox_to_created', 'outbox', ['to_address', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_outbox_to_created', table_name='outbox')
