"""The review app's read queries: one page of the queue, and one item with its thread and history."""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select, true
from sqlalchemy.orm import Session, defer, joinedload, raiseload, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from db.models import Contact, Item, Message, Organization, User, UserOrganization

PER_PAGE = 50
# The stored SLA states the queue shows and filters by; "" (nothing measured or not checked yet) shows
# nothing.
SLA_STATES = ("on_track", "at_risk", "breached", "met")


# Most urgent first: open items with a broken target on top (the longest overdue first), then by when the
# first running clock runs out, then the items no clock runs for, newest first.
_BREACHED_OPEN = case((and_(Item.sla_state == "breached", Item.resolved_at.is_(None)), 0), else_=1)
SORTS = {
    "due": (_BREACHED_OPEN, Item.sla_due_at.is_(None), Item.sla_due_at.asc(), Item.received_at.desc(),
            Item.id.desc()),
    "newest": (Item.received_at.desc(), Item.id.desc()),
    "oldest": (Item.received_at.asc(), Item.id.asc()),
    "confidence": (Item.confidence.asc(), Item.id.desc()),
    "updated": (Item.updated_at.desc(), Item.id.desc()),
}


@dataclass(frozen=True)
class QueueFilter:
    """Which items the queue shows: empty strings, None and False mean "any"."""

    category: str = ""
    status: str = ""
    review_only: bool = False
    page: int = 1
    organization: int | None = None
    assignee: str = ""           # "" any, "none" nobody, or a user id
    since: date | None = None    # received on or after this day (UTC)
    until: date | None = None    # received on or before this day (UTC)
    q: str = ""                  # words searched in the subject and the messages' text
    follow_up: bool = False
    sort: str = "due"
    sla: str = ""                # one of SLA_STATES: the item's stored SLA state
    # a user's id: items assigned to them, and unassigned items of their organizations
    mine: int | None = None


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue and the counts around it."""

    items: Sequence[Item]
    total: int
    needs_review: int
    page: int
    per_page: int
    by_category: dict[str, int] = field(default_factory=dict)  # counts under the other filters
    by_status: dict[str, int] = field(default_factory=dict)
    by_sla: dict[str, int] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The 1-based position of the first item on this page (0 when the page is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.items)


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search(q: str) -> ColumnElement[bool]:
    # Substring matching works for Chinese (no word boundaries) as for English; every word must match.
    conds = []
    for word in q.split()[:8]:
        pattern = _like(word)
        # The client's own words (new_text) rather than whole bodies: quoted history would match everywhere.
        in_messages = select(Message.item_id).where(Message.item_id.is_not(None),
                                                    Message.new_text.ilike(pattern, escape="\\"))
        conds.append(or_(Item.subject.ilike(pattern, escape="\\"), Item.ref.ilike(pattern, escape="\\"),
                         Item.id.in_(in_messages)))
    return and_(*conds)


def _conditions(f: QueueFilter, skip: str = "") -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.category and skip != "category":
        conds.append(Item.category == f.category)
    if f.status and skip != "status":
        conds.append(Item.status == f.status)
    if f.sla and skip != "sla":
        conds.append(Item.sla_state == f.sla)
    if f.review_only:
        conds.append(Item.needs_review.is_(true()))
    if f.follow_up:
        conds.append(Item.follow_up.is_(true()))
    if f.organization is not None:
        conds.append(Item.contact_id.in_(select(Contact.id).where(Contact.organization_id == f.organization)))
    if f.assignee == "none":
        conds.append(Item.assignee_id.is_(None))
    elif f.assignee:
        conds.append(Item.assignee_id == int(f.assignee))
    if f.since:
        conds.append(Item.received_at >= datetime.combine(f.since, time.min, timezone.utc))
    if f.until:
        conds.append(Item.received_at < datetime.combine(f.until + timedelta(days=1), time.min, timezone.utc))
    if f.q.strip():
        conds.append(_search(f.q))
    if f.mine is not None:
        theirs = select(UserOrganization.organization_id).where(UserOrganization.user_id == f.mine)
        conds.append(or_(Item.assignee_id == f.mine,
                         and_(Item.assignee_id.is_(None),
                              Item.contact_id.in_(select(Contact.id)
                                                  .where(Contact.organization_id.in_(theirs))))))
    return conds


def _counts(session: Session, column: ColumnElement[str], conds: list[ColumnElement[bool]]) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).select_from(Item).where(*conds).group_by(column))
    return {key: n for key, n in rows}


def queue_page(session: Session, f: QueueFilter, per_page: int = PER_PAGE,
               scope: ColumnElement[bool] | None = None) -> QueuePage:
    """The items matching F (and SCOPE, the viewer's limit), sorted, page F.page of PER_PAGE, with counts."""
    limit = [scope] if scope is not None else []
    conds = _conditions(f) + limit
    total, needs_review = session.execute(
        select(func.count(),
               func.count().filter(Item.needs_review.is_(true()))).select_from(Item).where(*conds)
    ).one()
    items = session.scalars(
        select(Item)
        .where(*conds)
        .options(joinedload(Item.contact), joinedload(Item.assignee), raiseload("*"))
        .order_by(*SORTS.get(f.sort, SORTS["due"]))
        .limit(per_page)
        .offset((f.page - 1) * per_page)
    ).all()
    return QueuePage(items=items, total=total, needs_review=needs_review, page=f.page, per_page=per_page,
                     by_category=_counts(session, Item.category, _conditions(f, skip="category") + limit),
                     by_status=_counts(session, Item.status, _conditions(f, skip="status") + limit),
                     by_sla=_counts(session, Item.sla_state, _conditions(f, skip="sla") + limit))


def item_detail(session: Session, ref: str) -> Item | None:
    """The item with REF, its client, messages (without raw bytes), attachments and events loaded."""
    return session.scalar(
        select(Item)
        .where(Item.ref == ref)
        .options(
            joinedload(Item.contact).joinedload(Contact.organization),
            joinedload(Item.assignee),
            selectinload(Item.messages).options(
                defer(Message.raw, raiseload=True), selectinload(Message.attachments)
            ),
            selectinload(Item.events),
            selectinload(Item.assessment),
            raiseload("*"),
        )
    )


def lock_item(session: Session, ref: str, scope: ColumnElement[bool] | None,
              *options: ORMOption) -> Item | None:
    """The item REF within SCOPE (the viewer's limit), locked to this transaction on PostgreSQL, or None.

    Changes read the item through here so two PMs changing it at once see each other's result.
    """
    query = select(Item).where(Item.ref == ref).options(*options)
    if scope is not None:
        query = query.where(scope)
    return session.scalar(query.with_for_update(of=Item))


def assignable_users(session: Session, organization_id: int | None) -> Sequence[User]:
    """Active users who may take an item of ORGANIZATION_ID: admins, and PMs working on it."""
    works_there = User.organizations.any(Organization.id == organization_id) if organization_id else false()
    return session.scalars(select(User).where(User.active.is_(true()), or_(User.role == "admin", works_there))
                           .order_by(User.name, User.email)).all()


def filter_choices(session: Session, org_ids: Collection[int] | None,
                   me: int | None = None) -> tuple[Sequence[Organization], Sequence[User]]:
    """The organizations (ORG_IDS, or all when None) and the people the queue can be filtered by: for a PM
    (ORG_IDS given) the active people who work on those organizations and ME, for an admin every active
    user."""
    orgs = select(Organization).order_by(Organization.name)
    users = select(User).where(User.active.is_(true())).order_by(User.name, User.email)
    if org_ids is not None:
        orgs = orgs.where(Organization.id.in_(org_ids))
        # A PM learns nothing of the people (or the existence) of other clients' teams.
        users = users.where(or_(User.organizations.any(Organization.id.in_(org_ids)), User.id == me))
    return session.scalars(orgs).all(), session.scalars(users).all()
