"""The client archive's read queries: organizations and contacts with item counts, their items and
messages."""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from sqlalchemy import ColumnElement, Select, case, func, select
from sqlalchemy.orm import Session, defer, joinedload, raiseload

from db.models import Contact, Item, Message, Organization
from db.workflow import DONE

PER_PAGE = 50

T = TypeVar("T")
E = TypeVar("E")


@dataclass(frozen=True)
class Counts:
    """How many items there are, how many of them are open, and when the latest one arrived."""

    items: int = 0
    open: int = 0
    latest: datetime | None = None


@dataclass(frozen=True)
class Row(Generic[E]):
    """An organization or contact with the counts of its items."""

    entity: E
    counts: Counts


@dataclass(frozen=True)
class Unaffiliated:
    """The contacts without an organization, together: how many, and the counts of their items."""

    contacts: int
    counts: Counts


@dataclass(frozen=True)
class Slice(Generic[T]):
    """One page of a list, newest first, and where it sits in the whole."""

    rows: Sequence[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def first(self) -> int:
        """The 1-based position of the first row on this page (0 when the page is empty)."""
        return (self.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.per_page + len(self.rows)


def _count_columns() -> tuple[ColumnElement[int], ColumnElement[int], ColumnElement[datetime]]:
    """Item count, open item count and latest arrival, for a query outer-joined to Item."""
    is_open = Item.status.not_in(sorted(DONE))  # every status that does not end the work
    return (func.count(Item.id), func.count(case((is_open, Item.id))), func.max(Item.received_at))


def _counts(items: int | None, open_: int | None, latest: datetime | None) -> Counts:
    return Counts(items=items or 0, open=open_ or 0, latest=latest)


def organization_rows(session: Session, only: Collection[int] | None = None) -> list[Row[Organization]]:
    """Organizations by name with their items' counts; ONLY limits them to those ids (None: all)."""
    stmt = (
        select(Organization, *_count_columns())
        .outerjoin(Contact, Contact.organization_id == Organization.id)
        .outerjoin(Item, Item.contact_id == Contact.id)
        .group_by(Organization.id)
        .order_by(Organization.name, Organization.id)
        .options(raiseload("*"))
    )
    if only is not None:
        stmt = stmt.where(Organization.id.in_(only))
    return [Row(org, _counts(n, o, latest)) for org, n, o, latest in session.execute(stmt)]


def unaffiliated(session: Session) -> Unaffiliated:
    """The number of contacts without an organization and the counts of their items."""
    contacts = session.scalar(select(func.count()).select_from(Contact)
                              .where(Contact.organization_id.is_(None))) or 0
    n, o, latest = session.execute(
        select(*_count_columns()).select_from(Item).join(Contact, Item.contact_id == Contact.id)
        .where(Contact.organization_id.is_(None))
    ).one()
    return Unaffiliated(contacts=contacts, counts=_counts(n, o, latest))


def organization(session: Session, organization_id: int) -> Organization | None:
    """The organization with ORGANIZATION_ID, or None."""
    return session.scalar(select(Organization).where(Organization.id == organization_id)
                          .options(raiseload("*")))


def contact_rows(session: Session, organization_id: int | None) -> list[Row[Contact]]:
    """The contacts of ORGANIZATION_ID (None: those without one) by name and email, with their items'
    counts."""
    where = (Contact.organization_id.is_(None) if organization_id is None
             else Contact.organization_id == organization_id)
    stmt = (
        select(Contact, *_count_columns())
        .outerjoin(Item, Item.contact_id == Contact.id)
        .where(where)
        .group_by(Contact.id)
        .order_by(Contact.name, Contact.email)
        .options(raiseload("*"))
    )
    return [Row(c, _counts(n, o, latest)) for c, n, o, latest in session.execute(stmt)]


def contact(session: Session, contact_id: int) -> Contact | None:
    """The contact with CONTACT_ID and its organization, or None."""
    return session.scalar(select(Contact).where(Contact.id == contact_id)
                          .options(joinedload(Contact.organization), raiseload("*")))


def _page(session: Session, stmt: Select[tuple[T]], page: int, per_page: int) -> Slice[T]:
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)).all()
    return Slice(rows=rows, total=total, page=page, per_page=per_page)


def organization_items(session: Session, organization_id: int | None, page: int,
                       per_page: int = PER_PAGE) -> Slice[Item]:
    """Page PAGE of the items of ORGANIZATION_ID's contacts (None: contacts without one), newest first."""
    where = (Contact.organization_id.is_(None) if organization_id is None
             else Contact.organization_id == organization_id)
    stmt = (
        select(Item)
        .where(Item.contact_id.in_(select(Contact.id).where(where)))
        .options(joinedload(Item.contact), raiseload("*"))
        .order_by(Item.received_at.desc(), Item.id.desc())
    )
    return _page(session, stmt, page, per_page)


def contact_items(session: Session, contact_id: int, page: int, per_page: int = PER_PAGE) -> Slice[Item]:
    """Page PAGE of CONTACT_ID's items, newest first."""
    stmt = (
        select(Item)
        .where(Item.contact_id == contact_id)
        .options(raiseload("*"))
        .order_by(Item.received_at.desc(), Item.id.desc())
    )
    return _page(session, stmt, page, per_page)


def contact_messages(session: Session, contact_id: int, page: int,
                     per_page: int = PER_PAGE) -> Slice[Message]:
    """Page PAGE of every message, in or out, on CONTACT_ID's items, newest first; bodies are not loaded."""
    stmt = (
        select(Message)
        .where(Message.item_id.in_(select(Item.id).where(Item.contact_id == contact_id)))
        .options(
            joinedload(Message.item),
            defer(Message.raw, raiseload=True), defer(Message.body_text, raiseload=True),
            defer(Message.new_text, raiseload=True), defer(Message.body_html, raiseload=True),
            raiseload("*"),
        )
        .order_by(Message.received_at.desc(), Message.id.desc())
    )
    return _page(session, stmt, page, per_page)


def tier_counts(session: Session) -> dict[str, int]:
    """How many organizations have each client tier ("" for none)."""
    rows = session.execute(select(Organization.tier, func.count()).group_by(Organization.tier))
    return {tier or "": n for tier, n in rows}
