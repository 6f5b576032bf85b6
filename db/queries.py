"""The few queries several packages share."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from email.utils import getaddresses
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from db.free_mail import is_free_mail
from db.models import (
    Base,
    Contact,
    Event,
    Item,
    Mailbox,
    Message,
    Organization,
    OutboxMail,
    User,
    UserOrganization,
)


def lock_mailbox(session: Session, name: str) -> Mailbox:
    """The mailbox row, locked for this transaction (on PostgreSQL), created if new."""
    box = session.scalar(select(Mailbox).where(Mailbox.name == name).with_for_update())
    if box is None:
        box = Mailbox(name=name, last_uid=0)
        session.add(box)
        session.flush()
    return box


def message_known(session: Session, mailbox_id: int, uidvalidity: int, uid: int, message_id: str,
                  digest: str) -> bool:
    """Whether this message was stored already: by its mailbox position, or by Message-ID and content digest.

    A stored message without a digest (our own outgoing copies, messages stored before digests were kept)
    is matched by its Message-ID alone.
    """
    return session.scalar(
        select(Message.id).where(
            ((Message.mailbox_id == mailbox_id) & (Message.uidvalidity == uidvalidity) & (Message.uid == uid))
            | ((Message.message_id == message_id) & Message.content_digest.in_((digest, "")))
        ).limit(1)
    ) is not None


def messages_with_id(session: Session, message_id: str) -> list[int]:
    """The ids of stored messages with MESSAGE_ID (more than one when a mailer reused it), oldest first."""
    return list(session.scalars(select(Message.id).where(Message.message_id == message_id)
                                .order_by(Message.id)))


def items_by_refs(session: Session, refs: Sequence[str]) -> list[Item]:
    """The items with one of REFS, oldest first."""
    if not refs:
        return []
    return list(session.scalars(select(Item).where(Item.ref.in_(list(refs))).order_by(Item.id)))


def item_by_ref(session: Session, refs: Sequence[str]) -> Item | None:
    """The first item with one of REFS."""
    found = items_by_refs(session, refs)
    return found[0] if found else None


def items_by_message_ids(session: Session, ids: Sequence[str]) -> list[Item]:
    """The items of the messages among IDS that belong to one, the nearest message's item first."""
    if not ids:
        return []
    by_id = item_ids_by_message_id(session, ids)
    item_ids = dict.fromkeys(by_id[mid] for mid in ids if mid in by_id)
    return [item for item in (session.get(Item, i) for i in item_ids) if item is not None]


def item_by_message_ids(session: Session, ids: Sequence[str]) -> Item | None:
    """The item of the nearest message among IDS that belongs to one."""
    found = items_by_message_ids(session, ids)
    return found[0] if found else None


def organizations_of(session: Session, addresses: Iterable[str],
                     free_mail: Iterable[str] = ()) -> dict[str, int | None]:
    """The organization id of each of ADDRESSES (keys lowercased): its contact's organization, else for an
    address we have no contact for, its domain's organization (the one upsert_contact would give it).

    None for a contact without an organization, and for a free-mail domain (db.free_mail, plus FREE_MAIL)
    even if an organization row carries that domain: a free-mail address speaks for nobody but itself.
    """
    given = {a.strip() for a in addresses if a and a.strip()}
    wanted = {a.lower() for a in given}
    if not wanted:
        return {}
    found: dict[str, int | None] = {}
    # As written and lowercased: contacts' addresses are stored as they came, and the unique index stays
    # usable.
    contacts = session.execute(select(Contact.email, Contact.organization_id)
                               .where(Contact.email.in_(sorted(given | wanted))).order_by(Contact.id))
    for email, org_id in contacts:
        found.setdefault(email.lower(), org_id)
    extra = tuple(free_mail)
    domains = {a.rpartition("@")[2] for a in wanted - found.keys()}
    domains = {d for d in domains if d and not is_free_mail(d, extra)}
    by_domain: dict[str, int] = {}
    if domains:
        for domain, org_id in session.execute(select(Organization.domain, Organization.id)
                                              .where(func.lower(Organization.domain).in_(sorted(domains)))):
            by_domain[domain.lower()] = org_id
    for address in wanted - found.keys():
        found[address] = by_domain.get(address.rpartition("@")[2])
    return found


def organization_of(session: Session, address: str, free_mail: Iterable[str] = ()) -> int | None:
    """The organization id of ADDRESS, as organizations_of() finds it."""
    return organizations_of(session, [address], free_mail).get(address.strip().lower())


def written_to(session: Session, item_id: int) -> frozenset[str]:
    """Every address (lowercased) our outgoing messages on item ITEM_ID went to: acknowledgments, replies from
    the app and from the team's own mail programs, with their copies."""
    return written_to_many(session, [item_id])[item_id]


def written_to_many(session: Session, item_ids: Iterable[int]) -> dict[int, frozenset[str]]:
    """written_to() of each of ITEM_IDS, in one query."""
    wanted = sorted(set(item_ids))
    found: dict[int, list[str]] = {i: [] for i in wanted}
    if wanted:
        for item_id, recipients in session.execute(select(Message.item_id, Message.recipients).where(
                Message.item_id.in_(wanted), Message.direction == "out")):
            if recipients:
                found[item_id].append(recipients)
    return {i: frozenset(addr.strip().lower() for _name, addr in getaddresses(rows) if addr.strip())
            for i, rows in found.items()}


def messages_in(session: Session, item_id: int) -> list[Message]:
    """The incoming messages of item ITEM_ID (raw bytes not loaded), newest first."""
    return list(session.scalars(select(Message).where(Message.item_id == item_id, Message.direction == "in")
                                .order_by(Message.received_at.desc(), Message.id.desc())))


def upsert_contact(session: Session, email: str, name: str, free_mail: Iterable[str] = ()) -> Contact | None:
    """The contact for EMAIL, created with its organization (by domain) when new.

    Senders of free-mail providers (db.free_mail, plus FREE_MAIL) get no organization: they are people,
    not a client, and an admin links them to one.
    """
    if not email:
        return None
    contact = session.scalar(select(Contact).where(Contact.email == email))
    if contact is not None:
        if name and not contact.name:
            contact.name = name
        return contact
    domain = email.rpartition("@")[2]
    org = None
    if domain and not is_free_mail(domain, free_mail):
        org = session.scalar(select(Organization).where(Organization.domain == domain))
        if org is None:
            org = Organization(name=domain, domain=domain)
            session.add(org)
            session.flush()
    contact = Contact(email=email, name=name, organization=org)
    session.add(contact)
    session.flush()
    return contact


def detach_free_mail(session: Session, extra: Iterable[str]) -> list[str]:
    """Removes the organizations of the free-mail domains EXTRA (configured, beyond the shipped list, which
    migration 0008 handled): their contacts keep their items without an organization. Returns the domains."""
    domains = sorted({d.strip().lower() for d in extra if d.strip()})
    if not domains:
        return []
    orgs = list(session.scalars(select(Organization).where(Organization.domain.in_(domains))))
    ids = [o.id for o in orgs]
    if ids:
        session.execute(update(Contact).where(Contact.organization_id.in_(ids)).values(organization_id=None))
        session.execute(delete(UserOrganization).where(UserOrganization.organization_id.in_(ids)))
        session.execute(delete(Organization).where(Organization.id.in_(ids)))
    return [o.domain for o in orgs]


def corrected_examples(session: Session) -> list[tuple[str, str, str, str]]:
    """(subject, client text, category, language) of every item whose category a PM corrected or confirmed."""
    corrected = select(Event.item_id).where(Event.kind.in_(("corrected",
                                                            "confirmed"))).distinct().scalar_subquery()
    first_in = (
        select(Message.item_id, func.min(Message.id).label("mid"))
        .where(Message.direction == "in", Message.item_id.in_(corrected))
        .group_by(Message.item_id)
        .subquery()
    )
    rows = session.execute(
        select(Message.subject, Message.new_text, Message.body_text, Item.category, Item.lang)
        .join(first_in, first_in.c.mid == Message.id)
        .join(Item, Item.id == Message.item_id)
        .order_by(Item.id)
    ).all()
    return [(subject, new or body, category, lang) for subject, new, body, category, lang in rows]


def insert_missing(session: Session, model: type[Base], rows: list[dict[str, Any]], key: str) -> None:
    """Inserts ROWS into MODEL's table in one statement, skipping any whose unique KEY is taken (by a row
    another worker wrote meanwhile, say): the caller reads the rows back by KEY. On PostgreSQL a row another
    transaction is still writing is waited for, so reading back afterwards finds it."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    build = postgresql_insert if dialect == "postgresql" else sqlite_insert
    session.execute(build(table).on_conflict_do_nothing(index_elements=[key]), rows)


def active_user_addresses(session: Session, addresses: Iterable[str]) -> set[str]:
    """Those of ADDRESSES (as written) that are the address of an active user of the app."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return set()
    return set(session.scalars(select(User.email).where(User.email.in_(wanted), User.active.is_(True))))


def item_ids_by_message_id(session: Session, message_ids: Iterable[str]) -> dict[str, int]:
    """The item of each of MESSAGE_IDS that belongs to one (a reused Message-ID names its first message's)."""
    wanted = sorted(set(message_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Message.message_id, Message.item_id).where(
        Message.message_id.in_(wanted), Message.item_id.is_not(None)).order_by(Message.id.desc()))
    return {mid: item_id for mid, item_id in rows}


def outbox_figures(session: Session) -> tuple[dict[str, int], datetime | None]:
    """Outgoing mail counted by status (a row handed to the SMTP server but not booked yet counts as sent),
    and when the oldest pending one was queued (None: none pending)."""
    counts: dict[str, int] = {}
    for status, count in session.execute(select(OutboxMail.status, func.count()).group_by(OutboxMail.status)):
        key = "sent" if status == "handed" else status
        counts[key] = counts.get(key, 0) + count
    oldest = session.scalar(select(func.min(OutboxMail.created_at)).where(OutboxMail.status == "pending"))
    return counts, oldest


def open_sla_states(session: Session) -> dict[str, int]:
    """Open (unresolved) items counted by their stored SLA state."""
    rows = session.execute(select(Item.sla_state, func.count()).where(Item.resolved_at.is_(None))
                           .group_by(Item.sla_state))
    return {state: count for state, count in rows}
