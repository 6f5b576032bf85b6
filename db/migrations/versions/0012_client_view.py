"""clients' view: status links (hashed tokens), satisfaction surveys, opt-out of updates, signing keys

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.types import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts') as batch:
        batch.add_column(sa.Column('opted_out_at', UTCDateTime(), nullable=True))
    op.create_table(
        'status_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), sa.ForeignKey('items.id', name='fk_status_links_item_id_items'),
                  nullable=False),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('created_by', sa.String(320), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('revoked_at', UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_status_links'),
        sa.UniqueConstraint('token_hash', name='uq_status_links_token_hash'),
    )
    op.create_index('ix_status_links_item_id', 'status_links', ['item_id'])
    op.create_table(
        'surveys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('item_id', sa.Integer(), sa.ForeignKey('items.id', name='fk_surveys_item_id_items'),
                  nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('outbox_id', sa.Integer(), sa.ForeignKey('outbox.id', name='fk_surveys_outbox_id_outbox'),
                  nullable=True),
        sa.Column('to_address', sa.String(320), nullable=False),
        sa.Column('scheduled_for', UTCDateTime(), nullable=False),
        sa.Column('rating', sa.Integer(), nullable=True),
        sa.Column('rated_at', UTCDateTime(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=False, server_default=''),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_surveys'),
        sa.UniqueConstraint('item_id', name='uq_surveys_item_id'),
    )
    op.create_table(
        'signing_keys',
        sa.Column('name', sa.String(40), nullable=False),
        sa.Column('key', sa.String(128), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('name', name='pk_signing_keys'),
    )


def downgrade() -> None:
    op.drop_table('signing_keys')
    op.drop_table('surveys')
    op.drop_index('ix_status_links_item_id', table_name='status_links')
    op.drop_table('status_links')
    with op.batch_alter_table('contacts') as batch:
        batch.drop_column('opted_out_at')
