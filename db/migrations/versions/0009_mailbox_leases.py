"""mailbox leases: several workers share the mailboxes, each served by one worker at a time

mailbox_leases holds one row per configured mailbox (owner, expiry, a generation bumped by every write);
workers holds one heartbeated row per running worker, so each can compute its fair share.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mailbox_leases',
        sa.Column('mailbox', sa.String(length=200), nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=False),
        sa.Column('generation', sa.BigInteger(), nullable=False),
        sa.Column('acquired_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('renewed_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column('expires_at', db.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('mailbox', name=op.f('pk_mailbox_leases')),
    )
    op.create_table(
        'workers',
        sa.Column('name', sa.String(length=128), nullable=False),
        sa.Column('started_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('seen_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_workers')),
    )


def downgrade() -> None:
    op.drop_table('workers')
    op.drop_table('mailbox_leases')
