"""sla_state: each item's live SLA state, kept by the worker's SLA check, for the queue's column and filter

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_state', sa.String(length=16), server_default='', nullable=False))
        batch_op.create_index('ix_items_sla_state', ['sla_state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_sla_state')
        batch_op.drop_column('sla_state')
