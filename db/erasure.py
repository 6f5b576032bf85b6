"""Erases a contact: their address, name and what they wrote go from every table; their items stay, stripped
of personal data, so the SLA figures do not change. Recorded in the audit log."""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, func, or_, select, true
from sqlalchemy.orm import Session

from db.audit import record
from db.models import (
    Attachment,
    ChangeAssessment,
    Contact,
    Event,
    Item,
    Message,
    OutboxMail,
    Survey,
    WebhookDelivery,
)

ERASED = "[erased]"
ERASED_ADDRESS = "erased@erased.invalid"
BATCH = 200


@dataclass(frozen=True)
class Erasure:
    """What an erasure changed."""

    contact_id: int
    items: int
    messages: int
    attachments: int
    outbox: int
    events: int
    mentions: int  # other rows (other people's messages, notes) that named the contact


def find_contact(session: Session, email: str) -> Contact | None:
    """The contact with address EMAIL (any case)."""
    return session.scalars(select(Contact).where(func.lower(Contact.email) == email.strip().lower())).first()


def contact_item_ids(session: Session, contact_id: int) -> list[int]:
    return list(session.scalars(select(Item.id).where(Item.contact_id == contact_id).order_by(Item.id)))


def contact_message_ids(session: Session, email: str, item_ids: list[int]) -> list[int]:
    """The messages on the contact's items (in and out) and the ones they sent anywhere else (quarantined
    too)."""
    return list(session.scalars(select(Message.id).where(
        or_(Message.item_id.in_(item_ids),
            func.lower(Message.sender) == email.lower())).order_by(Message.id)))


def erase_contact(session: Session, email: str, actor: str, now: datetime) -> Erasure | None:
    """Erases the contact EMAIL in SESSION's transaction; None when there is no such contact."""
    contact = find_contact(session, email)
    if contact is None:
        return None
    address = contact.email.lower()
    # Every name they wrote under (the contact keeps the first one seen).
    names = {contact.name, *session.scalars(select(Message.sender_name).distinct()
                                            .where(func.lower(Message.sender) == address))}
    needles = _needles(address, names)
    item_ids = contact_item_ids(session, contact.id)
    message_ids = contact_message_ids(session, address, item_ids)
    attachments = session.execute(delete(Attachment).where(Attachment.message_id.in_(message_ids))).rowcount
    for chunk in _chunks(message_ids):
        for m in session.scalars(select(Message).where(Message.id.in_(chunk))):
            m.sender = ERASED_ADDRESS if m.direction == "in" else m.sender
            m.sender_name = m.recipients = m.subject = m.body_text = m.new_text = m.body_html = ""
            m.parse_notes = m.error = ""
            m.raw, m.raw_purged_at = b"", now
            m.message_id, m.in_reply_to, m.references = (_erased_ids(m.message_id),
                                                         _erased_ids(m.in_reply_to),
                                                         _erased_ids(m.references))
    outbox = 0
    for row in session.scalars(select(OutboxMail).where(or_(OutboxMail.item_id.in_(item_ids),
                                                            func.lower(OutboxMail.to_address) == address))):
        row.to_address, row.raw, row.last_error = ERASED_ADDRESS, b"", ""
        row.message_id = _erased_ids(row.message_id)
        outbox += 1
    for item in session.scalars(select(Item).where(Item.id.in_(item_ids))):
        item.subject = ""
    for a in session.scalars(select(ChangeAssessment).where(ChangeAssessment.item_id.in_(item_ids))):
        a.scope = a.cost = a.schedule = ""
        a.decided_by = "" if a.decided_by.lower() == address else a.decided_by
    for survey in session.scalars(select(Survey).where(Survey.item_id.in_(item_ids))):
        survey.comment, survey.to_address = "", ERASED_ADDRESS
    # The chat and webhook messages about their items quote their subject, name and address: kept as a record
    # that one was sent, without what it said; one not yet delivered is not sent any more.
    for delivery in session.scalars(select(WebhookDelivery).where(WebhookDelivery.item_id.in_(item_ids))):
        delivery.body, delivery.last_error = json.dumps({"erased": True}), ""
        if delivery.status == "pending":
            delivery.status, delivery.last_error = "failed", "the client's data was erased before delivery"
    events = 0
    for e in session.scalars(select(Event).where(or_(Event.item_id.in_(item_ids),
                                                     func.lower(Event.actor) == address))):
        e.data = _scrubbed(e.data, needles)
        e.actor = "" if e.actor.lower() == address else e.actor
        events += 1
    session.flush()
    mentions = _sweep(session, needles, set(message_ids))
    contact.email, contact.name = f"erased-{contact.id}@erased.invalid", ""
    erased = Erasure(contact.id, len(item_ids), len(message_ids), attachments, outbox, events, mentions)
    record(session, actor, "erase", {"contact": contact.id, "items": erased.items,
                                     "messages": erased.messages,
                                     "attachments": erased.attachments, "outbox": erased.outbox,
                                     "events": erased.events, "mentions": erased.mentions})
    return erased


def _needles(address: str, names: Iterable[str]) -> list[str]:
    # A name of one or two letters would match too much of other people's text to be replaced safely; longer
    # names first, so that "Anna Lindqvist" goes whole rather than leaving "Lindqvist".
    found = {n.strip() for n in names if len(n.strip()) >= 3 and n.strip().lower() != address}
    return [address, *sorted(found, key=len, reverse=True)]


def _pattern(needles: Iterable[str]) -> re.Pattern[str]:
    """Finds the NEEDLES as whole words where words have edges: erasing "Client 1" leaves "Client 10" alone,
    while a Chinese name is found inside a sentence (Chinese has no spaces between words)."""
    def one(n: str) -> str:
        head = "(?<![A-Za-z0-9])" if n[:1].isascii() and n[:1].isalnum() else ""
        tail = "(?![A-Za-z0-9])" if n[-1:].isascii() and n[-1:].isalnum() else ""
        return head + re.escape(n) + tail

    return re.compile("|".join(one(n) for n in needles), re.IGNORECASE)


def _erased_ids(value: str) -> str:
    """Message-IDs replaced by stand-ins made from their digests: a thread still hangs together, nobody reads
    the address some mailers put in them."""
    if not value:
        return value
    return " ".join(f"<erased.{hashlib.sha256(v.encode()).hexdigest()[:24]}@erased.invalid>"
                    for v in value.split())


def _scrubbed(value: Any, needles: list[str]) -> Any:
    """VALUE (an event's data) with every text that could be personal replaced: kept are numbers, flags, and
    single words without "@" that name none of NEEDLES (statuses, categories, clocks, references,
    versions)."""
    if isinstance(value, dict):
        return {k: _scrubbed(v, needles) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, needles) for v in value]
    if isinstance(value, str):
        plain = value and not any(c.isspace() for c in value) and "@" not in value
        return value if plain and not _pattern(needles).search(value) else ERASED
    return value


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), BATCH):
        yield ids[start:start + BATCH]


def _like(text: str) -> str:
    """A LIKE pattern finding TEXT anywhere, its wildcards and backslashes taken literally (escape "!")."""
    return "%" + text.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def _bytes_like(column: Any, text: str) -> Any:
    """COLUMN (binary) holds TEXT's UTF-8 bytes, as a LIKE both databases run on binary data (a "_" in TEXT
    matches any byte: the rows found are checked again in Python)."""
    return column.op("LIKE")(b"%" + text.replace("%", "_").encode() + b"%")


def _sweep(session: Session, needles: list[str], done: set[int]) -> int:
    """Replaces the contact's address and name wherever else they are written: other people's messages
    (copies, quotes, raw bytes), notes and other events, item subjects, the outbox. Returns how many rows
    changed."""
    pattern = _pattern(needles)
    raw_pattern = re.compile(b"|".join(re.escape(n.encode()) for n in needles), re.IGNORECASE)

    def sub(text: str) -> str:
        return pattern.sub(lambda hit: ERASED_ADDRESS if "@" in hit.group(0) else ERASED, text)

    def sub_raw(raw: bytes) -> bytes:
        return raw_pattern.sub(lambda hit: (ERASED_ADDRESS if b"@" in hit.group(0) else ERASED).encode(), raw)

    changed = 0
    texts = [Message.sender, Message.sender_name, Message.recipients, Message.subject, Message.body_text,
             Message.new_text, Message.body_html, Message.in_reply_to, Message.references,
             Message.parse_notes]
    found = or_(*[c.ilike(_like(n), escape="!") for c in texts for n in needles],
                *[_bytes_like(Message.raw, n) for n in needles])
    for m in session.scalars(select(Message).where(found, Message.id.not_in(done) if done else true())):
        before = [getattr(m, c.key) for c in texts] + [bytes(m.raw or b"")]
        for column in texts:
            setattr(m, column.key, sub(getattr(m, column.key)))
        m.raw = sub_raw(bytes(m.raw or b""))
        changed += before != [getattr(m, c.key) for c in texts] + [m.raw]
    # JSON keeps non-ASCII text as \u escapes: look for both spellings.
    spelled = {s for n in needles for s in (n, json.dumps(n)[1:-1])}
    for e in session.scalars(select(Event).where(or_(*[cast(Event.data, Text).ilike(_like(s), escape="!")
                                                       for s in spelled],
                                                     *[Event.actor.ilike(_like(n),
                                                                         escape="!") for n in needles]))):
        data, actor = _replaced(e.data, sub), sub(e.actor)
        if (data, actor) != (e.data, e.actor):
            e.data, e.actor = data, actor
            changed += 1
    for item in session.scalars(select(Item).where(or_(*[Item.subject.ilike(_like(n),
                                                                            escape="!") for n in needles]))):
        subject = sub(item.subject)
        changed += subject != item.subject
        item.subject = subject
    for delivery in session.scalars(select(WebhookDelivery).where(
            or_(*[WebhookDelivery.body.ilike(_like(s), escape="!") for s in spelled]))):
        body = json.dumps(_replaced(json.loads(delivery.body), sub))
        changed += body != delivery.body
        delivery.body = body
    for row in session.scalars(select(OutboxMail).where(or_(*[_bytes_like(OutboxMail.raw,
                                                                          n) for n in needles]))):
        raw = sub_raw(bytes(row.raw))
        changed += raw != bytes(row.raw)
        row.raw = raw
    return changed


def _replaced(value: Any, sub: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        return {k: _replaced(v, sub) for k, v in value.items()}
    if isinstance(value, list):
        return [_replaced(v, sub) for v in value]
    return sub(value) if isinstance(value, str) else value
