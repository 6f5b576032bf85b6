"""What each client contact's weekly digest lists: their own open items and those resolved in the period."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session, joinedload

from db.models import Contact, Item, Organization, OutboxMail, Survey


@dataclass(frozen=True)
class DigestItem:
    """One line of a digest."""

    ref: str
    subject: str
    category: str
    status: str
    received_at: datetime
    resolved_at: datetime | None
    survey_open: bool = False      # its satisfaction survey reached the client and is not answered yet
    item_id: int = 0
    status_url: str = ""           # the item's own status link in this digest (set by the one who sends it)


@dataclass(frozen=True)
class ClientDigest:
    """The digest of one contact of an organization that receives digests."""

    contact_id: int
    email: str
    name: str
    organization: str
    lang: str                      # the language of the contact's latest item
    open: tuple[DigestItem, ...]
    resolved: tuple[DigestItem, ...]


def week_bounds(week_start: date, tz: str) -> tuple[datetime, datetime]:
    """The week from Monday WEEK_START 00:00 to the next Monday 00:00 in TZ, as aware datetimes."""
    if week_start.weekday() != 0:
        raise ValueError(f"{week_start.isoformat()} is not a Monday")
    zone = ZoneInfo(tz)
    return (datetime.combine(week_start, time.min, zone),
            datetime.combine(week_start + timedelta(days=7), time.min, zone))


def last_full_week(today: date) -> date:
    """The Monday of the last week that has ended before TODAY."""
    return today - timedelta(days=today.weekday() + 7)


def _line(item: Item, open_surveys: frozenset[int] = frozenset()) -> DigestItem:
    return DigestItem(item.ref or "", item.subject, item.category, item.status, item.received_at,
                      item.resolved_at,
                      item.id in open_surveys, item.id)


def _open_surveys(session: Session, item_ids: list[int]) -> frozenset[int]:
    """Which of ITEM_IDS have a survey that reached the client and awaits their answer."""
    if not item_ids:
        return frozenset()
    return frozenset(session.scalars(
        select(Survey.item_id).join(OutboxMail, OutboxMail.id == Survey.outbox_id)
        .where(Survey.item_id.in_(item_ids), Survey.rating.is_(None),
               OutboxMail.status.in_(("sent", "handed")))))


def client_digests(session: Session, since: datetime, until: datetime) -> list[ClientDigest]:
    """The digests for the period [SINCE, UNTIL): every contact of an organization with digests turned on
    that has an open item received before UNTIL, or an item resolved in the period.

    Only the contact's own items are listed: a digest never shows another client's or colleague's work.
    """
    orgs = select(Organization.id).where(Organization.client_digest.is_(true()))
    items = session.scalars(
        select(Item)
        .join(Item.contact)
        .where(Contact.organization_id.in_(orgs), Item.received_at < until,
               or_(Item.resolved_at.is_(None), (Item.resolved_at >= since) & (Item.resolved_at < until)))
        .options(joinedload(Item.contact).joinedload(Contact.organization))
        .order_by(Item.contact_id, Item.received_at, Item.id)
    ).all()
    surveys = _open_surveys(session, [i.id for i in items])
    by_contact: dict[int, list[Item]] = {}
    for item in items:
        by_contact.setdefault(item.contact_id or 0, []).append(item)
    digests = []
    for contact_id, own in by_contact.items():
        contact = own[0].contact
        assert contact is not None and contact.organization is not None
        digests.append(ClientDigest(
            contact_id=contact_id, email=contact.email, name=contact.name,
            organization=contact.organization.name,
            lang=own[-1].lang,
            open=tuple(_line(i) for i in own if i.resolved_at is None),
            resolved=tuple(_line(i, surveys) for i in own if i.resolved_at is not None)))
    return digests
