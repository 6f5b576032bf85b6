"""Surveys whose mail went out are marked sent

Until now a survey stayed "scheduled" after the SMTP server took its mail; the sender now marks it "sent" when
it books the mail. This brings the surveys sent before that in line. Downgrading leaves them as they are
(both states mean the survey exists; "sent" only says more).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""
from __future__ import annotations

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE surveys SET status = 'sent' WHERE status = 'scheduled' AND outbox_id IN "
               "(SELECT id FROM outbox WHERE status = 'sent')")


def downgrade() -> None:
    pass
