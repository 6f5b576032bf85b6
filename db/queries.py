"""The few queries several packages share."""
from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Contact, Event, Item, Mailbox, Message, Organization


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
    return list(session.scalars(select(Message.id).where(Message.message_id == message_id).order_by(Message.id)))


def item_by_ref(session: Session, refs: Sequence[str]) -> Item | None:
    """The first item with one of REFS."""
    if not refs:
        return None
    return session.scalar(select(Item).where(Item.ref.in_(list(refs))).order_by(Item.id).limit(1))


def item_by_message_ids(session: Session, ids: Sequence[str]) -> Item | None:
    """The item of the nearest message among IDS that belongs to one."""
    if not ids:
        return None
    rows = session.execute(
        select(Message.message_id, Message.item_id).where(Message.message_id.in_(list(ids)),
                                                          Message.item_id.is_not(None)).order_by(Message.id.desc())
    ).all()
    by_id = {mid: item_id for mid, item_id in rows}  # a reused Message-ID names its first message
    for mid in ids:
        if mid in by_id:
            return session.get(Item, by_id[mid])
    return None


def upsert_contact(session: Session, email: str, name: str) -> Contact | None:
    """The contact for EMAIL, created with its organization (by domain) when new."""
    if not email:
        return None
    contact = session.scalar(select(Contact).where(Contact.email == email))
    if contact is not None:
        if name and not contact.name:
            contact.name = name
        return contact
    domain = email.rpartition("@")[2]
    org = session.scalar(select(Organization).where(Organization.domain == domain)) if domain else None
    if org is None and domain:
        org = Organization(name=domain, domain=domain)
        session.add(org)
        session.flush()
    contact = Contact(email=email, name=name, organization=org)
    session.add(contact)
    session.flush()
    return contact


def corrected_examples(session: Session) -> list[tuple[str, str, str, str]]:
    """(subject, client text, category, language) of every item whose category a PM corrected or confirmed."""
    corrected = select(Event.item_id).where(Event.kind.in_(("corrected", "confirmed"))).distinct().scalar_subquery()
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
