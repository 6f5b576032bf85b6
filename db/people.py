"""Who answers for an item: its active assignee, else the active PMs of its client, else the admins."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, true
from sqlalchemy.orm import Session

from db.models import Item, Organization, User


def responsible_people(session: Session, item: Item, cache: dict[int | None, Sequence[User]] | None = None
                       ) -> tuple[Sequence[User], bool]:
    """Who is told about ITEM (SLA warnings, poor ratings): its active assignee, else the active PMs of its
    organization, else the admins. The flag says whether the recipient is the assignee. CACHE keeps the answer
    per organization."""
    if item.assignee is not None and item.assignee.active:
        return [item.assignee], True
    org_id = item.contact.organization_id if item.contact is not None else None
    cache = {} if cache is None else cache
    if org_id not in cache:
        active = select(User).where(User.active.is_(true())).order_by(User.id)
        people: Sequence[User] = []
        if org_id is not None:
            people = session.scalars(active.where(User.organizations.any(Organization.id == org_id))).all()
        cache[org_id] = people or session.scalars(active.where(User.role == "admin")).all()
    return cache[org_id], False
