"""The review app's read queries: one page of the queue, and one item with its thread and history."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy.orm import Session, defer, joinedload, raiseload, selectinload

from db.models import Contact, Item, Message

PER_PAGE = 50


@dataclass(frozen=True)
class QueueFilter:
    """Which items the queue shows: empty strings and False mean "any"."""

    category: str = ""
    status: str = ""
    review_only: bool = False
    page: int = 1


@dataclass(frozen=True)
class QueuePage:
    """One page of the queue and the counts around it."""

    items: Sequence[Item]
    total: int
    needs_review: int
    page: int
    per_page: int

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


def _conditions(f: QueueFilter) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if f.category:
        conds.append(Item.category == f.category)
    if f.status:
        conds.append(Item.status == f.status)
    if f.review_only:
        conds.append(Item.needs_review.is_(true()))
    return conds


def queue_page(session: Session, f: QueueFilter, per_page: int = PER_PAGE,
               scope: ColumnElement[bool] | None = None) -> QueuePage:
    """The items matching F (and SCOPE, the viewer's limit), newest first, page F.page of PER_PAGE, with counts."""
    conds = _conditions(f) + ([scope] if scope is not None else [])
    total = session.scalar(select(func.count()).select_from(Item).where(*conds)) or 0
    needs_review = session.scalar(
        select(func.count()).select_from(Item).where(*conds, Item.needs_review.is_(true()))
    ) or 0
    items = session.scalars(
        select(Item)
        .where(*conds)
        .options(joinedload(Item.contact), raiseload("*"))
        .order_by(Item.received_at.desc(), Item.id.desc())
        .limit(per_page)
        .offset((f.page - 1) * per_page)
    ).all()
    return QueuePage(items=items, total=total, needs_review=needs_review, page=f.page, per_page=per_page)


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
            raiseload("*"),
        )
    )


def ping(session: Session) -> bool:
    """Whether the database answers a trivial query."""
    return session.scalar(select(1)) == 1
