"""items.sla_due_at, for the queue's "due soonest" sort; users.time_zone, the zone a person's times are shown in;
reply_templates, the canned replies admins keep per category and language

sla_due_at: when the first running SLA clock of an open item runs out, kept by the worker's SLA check beside
sla_state (in the past for a breached clock; empty when no clock runs). time_zone: an IANA name, "" for the
configured sla.report_timezone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

import db.types

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sla_due_at', db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_items_sla_due_at', ['sla_due_at'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_zone', sa.String(length=64), server_default='', nullable=False))
    op.create_table(
        'reply_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('category', sa.String(length=32), nullable=False),
        sa.Column('lang', sa.String(length=8), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('created_by', sa.String(length=320), nullable=False),
        sa.Column('created_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )


def downgrade() -> None:
    op.drop_table('reply_templates')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('time_zone')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index('ix_items_sla_due_at')
        batch_op.drop_column('sla_due_at')
