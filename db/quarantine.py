"""Quarantined messages: the ones no code could read or store, kept with their raw bytes and the reason.

A quarantined message belongs to no item (an item's message is never taken out of its thread here).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from db.models import Mailbox, Message

QUARANTINED = "quarantined"
RETRY_REQUESTED = "retry"  # an admin asked for another try; the worker runs it through the current code
KEPT = (QUARANTINED, RETRY_REQUESTED)
_IN_QUARANTINE = (Message.status.in_(KEPT), Message.item_id.is_(None))


@dataclass(frozen=True)
class QuarantineEntry:
    """One quarantined message as lists show it (its raw bytes stay in the database)."""

    id: int
    mailbox: str
    uidvalidity: int | None
    uid: int | None
    message_id: str
    sender: str
    subject: str
    received_at: datetime
    size: int
    error: str
    retry_requested: bool


def _entry(m: Message, mailbox: str) -> QuarantineEntry:
    return QuarantineEntry(m.id, mailbox, m.uidvalidity, m.uid, m.message_id, m.sender, m.subject,
                           m.received_at,
                           m.size, m.error, m.status == RETRY_REQUESTED)


def quarantined(session: Session, limit: int = 100, offset: int = 0) -> list[QuarantineEntry]:
    """Quarantined messages, newest first."""
    rows = session.execute(
        select(Message, Mailbox.name).outerjoin(Mailbox, Mailbox.id == Message.mailbox_id)
        .options(defer(Message.raw), defer(Message.body_text), defer(Message.body_html))
        .where(*_IN_QUARANTINE).order_by(Message.received_at.desc(), Message.id.desc())
        .limit(limit).offset(offset)
    ).all()
    return [_entry(m, name or "") for m, name in rows]


def count_quarantined(session: Session) -> int:
    """How many messages are quarantined."""
    return session.scalar(select(func.count(Message.id)).where(*_IN_QUARANTINE)) or 0


def quarantined_ids(session: Session, retry_requested_only: bool = False) -> list[int]:
    """Every quarantined message's id (RETRY_REQUESTED_ONLY: those an admin asked to retry), oldest first."""
    statuses = (RETRY_REQUESTED,) if retry_requested_only else KEPT
    return list(session.scalars(select(Message.id).where(Message.status.in_(statuses),
                                                         Message.item_id.is_(None))
                                .order_by(Message.id)))


def request_retry(session: Session, message_id: int) -> bool:
    """Asks the worker to run the quarantined message MESSAGE_ID again; whether there was such a message."""
    found = quarantined_message(session, message_id, lock=True)
    if found is None:
        return False
    found[0].status = RETRY_REQUESTED
    return True


def quarantined_message(session: Session, message_id: int, lock: bool = False) -> tuple[Message, str] | None:
    """The quarantined message with id MESSAGE_ID and its mailbox's name (LOCK: for this transaction), or
    None."""
    query = (select(Message, Mailbox.name).outerjoin(Mailbox, Mailbox.id == Message.mailbox_id)
             .where(Message.id == message_id, *_IN_QUARANTINE))
    if lock:
        query = query.with_for_update(of=Message)
    found = session.execute(query).first()
    return (found[0], found[1] or "") if found else None


def entry_of(message: Message, mailbox: str) -> QuarantineEntry:
    """The list entry of a quarantined MESSAGE."""
    return _entry(message, mailbox)


def delete_quarantined(session: Session, message_id: int) -> QuarantineEntry | None:
    """Deletes the quarantined message MESSAGE_ID with its raw bytes; what was deleted, or None if not
    found."""
    found = quarantined_message(session, message_id, lock=True)
    if found is None:
        return None
    gone = entry_of(*found)
    session.delete(found[0])
    return gone


def unread_uids(session: Session, mailbox_id: int, uidvalidity: int) -> frozenset[int]:
    """The UIDs of MAILBOX_ID's messages quarantined without their content (the server would not hand it
    over): they stay in the mailbox as they are, never marked or moved."""
    return frozenset(session.scalars(select(Message.uid).where(
        Message.mailbox_id == mailbox_id, Message.uidvalidity == uidvalidity, Message.direction == "in",
        Message.status == QUARANTINED, Message.uid.is_not(None),
        func.coalesce(func.length(Message.raw), 0) == 0)))
