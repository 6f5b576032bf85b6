"""workflow: statuses per category, change-request impact assessments, follow-up flag

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import db.types


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


_STATUS_MOVES = [
    *[(c, "acknowledged", "new") for c in ("issue", "question", "feedback", "change_request")],
    ("issue", "waiting_on_client", "in_progress"),
    *[(c, s, "new") for c in ("question", "feedback", "change_request") for s in ("in_progress", "waiting_on_client")],
    ("question", "resolved", "answered"), ("feedback", "resolved", "closed"), ("change_request", "resolved", "implemented"),
]


def upgrade() -> None:
    op.create_table('change_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('cost', sa.String(length=200), nullable=False),
    sa.Column('schedule', sa.String(length=200), nullable=False),
    sa.Column('assessed_by', sa.String(length=320), nullable=False),
    sa.Column('assessed_at', db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('sent_message_id', sa.String(length=998), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('decided_at', db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=320), nullable=False),
    sa.Column('decision_message_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['decision_message_id'], ['messages.id'], name=op.f('fk_change_assessments_decision_message_id_messages')),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], name=op.f('fk_change_assessments_item_id_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_change_assessments')),
    sa.UniqueConstraint('item_id', name=op.f('uq_change_assessments_item_id'))
    )
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up', sa.Boolean(), server_default='0', nullable=False))
    # The acknowledgment is a timestamp now, not a status; statuses follow each category's workflow.
    for category, old, new in _STATUS_MOVES:
        op.execute(sa.text("UPDATE items SET status = :new WHERE category = :category AND status = :old")
                   .bindparams(new=new, category=category, old=old))



def downgrade() -> None:
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_column('follow_up')

    op.drop_table('change_assessments')
