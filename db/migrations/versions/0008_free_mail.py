"""free-mail providers are no organizations: their contacts are detached and the organizations removed

Senders at gmail.com, qq.com, 163.com and the other providers of db.free_mail are private people; an
organization for such a domain would show a PM every sender there. Their items become the admins' (no
organization) until an admin links a contact to a real one. Nothing is deleted but the organization rows
and PMs' assignments to them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db.free_mail import FREE_MAIL_DOMAINS

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    organizations = sa.table('organizations', sa.column('id', sa.Integer), sa.column('domain', sa.String))
    contacts = sa.table('contacts', sa.column('organization_id', sa.Integer))
    assignments = sa.table('user_organizations', sa.column('organization_id', sa.Integer))
    ids = [row.id for row in bind.execute(sa.select(organizations.c.id).where(
        organizations.c.domain.in_(sorted(FREE_MAIL_DOMAINS))))]
    if not ids:
        return
    bind.execute(contacts.update().where(contacts.c.organization_id.in_(ids)).values(organization_id=None))
    bind.execute(assignments.delete().where(assignments.c.organization_id.in_(ids)))
    bind.execute(organizations.delete().where(organizations.c.id.in_(ids)))


def downgrade() -> None:
    pass  # which contacts belonged to those organizations is not kept: they stay without one
