"""message identity and processing attempts: Message-ID plus content digest, parse notes, attempts per message,
and an index on the message status for the quarantine

Messages stored before this revision keep an empty digest and are matched by their Message-ID alone, as
before; our own outgoing copies never have one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_digest', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('parse_notes', sa.Text(), server_default='', nullable=False))
        batch_op.drop_constraint('uq_messages_message_id', type_='unique')
        batch_op.create_unique_constraint('uq_messages_message_id_digest', ['message_id', 'content_digest'])
        batch_op.create_index('ix_messages_message_id', ['message_id'], unique=False)
        batch_op.create_index('ix_messages_status', ['status'], unique=False)
    op.create_table(
        'processing_attempts',
        sa.Column('mailbox_id', sa.Integer(), nullable=False),
        sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
        sa.Column('uid', sa.BigInteger(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_by', sa.String(length=128), nullable=False),
        sa.Column('claimed_at', db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['mailbox_id'], ['mailboxes.id'], ondelete='CASCADE',
                                name=op.f('fk_processing_attempts_mailbox_id_mailboxes')),
        sa.PrimaryKeyConstraint('mailbox_id', 'uidvalidity', 'uid', name=op.f('pk_processing_attempts')),
    )


def downgrade() -> None:
    op.drop_table('processing_attempts')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_status')
        batch_op.drop_index('ix_messages_message_id')
        batch_op.drop_constraint('uq_messages_message_id_digest', type_='unique')
        batch_op.create_unique_constraint('uq_messages_message_id', ['message_id'])
        batch_op.drop_column('parse_notes')
        batch_op.drop_column('content_digest')
