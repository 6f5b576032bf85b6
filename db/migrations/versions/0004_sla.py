"""sla: the policy recorded on each item, the at-risk warning time, client tiers and digests

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import db.types


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('sla_warned_at', db.types.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier', sa.String(length=40), server_default='', nullable=False))
        batch_op.add_column(sa.Column('client_digest', sa.Boolean(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('client_digest')
        batch_op.drop_column('tier')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('sla_warned_at')
        batch_op.drop_column('sla')
