"""Puts outgoing mail into the outbox in the caller's transaction; acknowledgments under a per-sender limit."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Event, Item, Message, OutboxMail
from responders.compose import AckRequest, build_ack
from responders.recipients import deliverable

log = logging.getLogger("responders.outbox")


class UndeliverableAddress(ValueError):
    """The recipient is not an address we may send mail to."""


def acks_sent_recently(session: Session, address: str, now: datetime) -> int:
    """How many acknowledgments ADDRESS was given in the last hour."""
    return session.scalar(
        select(func.count(OutboxMail.id)).where(
            OutboxMail.to_address == address,
            OutboxMail.kind == "acknowledgment",
            OutboxMail.created_at >= now - timedelta(hours=1),
        )
    ) or 0


def enqueue_ack(session: Session, item: Item, req: AckRequest, from_address: str, team: str,
                now: datetime, max_per_hour: int) -> OutboxMail | None:
    """Adds the acknowledgment for ITEM to the outbox; None when the sender's rate limit is reached."""
    if deliverable(req.to_address) is None:
        # No address, a broken one, a special-use domain, or an internationalized address (SMTPUTF8 would be
        # needed end to end): a PM answers these by hand.
        reason = "no_reply_address" if not req.to_address else (
            "non_ascii_address" if not req.to_address.isascii() else "invalid_address")
        session.add(Event(item_id=item.id, kind="ack_suppressed", created_at=now,
                          data={"reason": reason, "to": req.to_address}))
        return None
    if max_per_hour and acks_sent_recently(session, req.to_address, now) >= max_per_hour:
        session.add(Event(item_id=item.id, kind="ack_suppressed", created_at=now,
                          data={"reason": "rate_limit", "to": req.to_address, "limit_per_hour": max_per_hour}))
        return None
    return enqueue(session, item, build_ack(req, from_address, team, now), "acknowledgment", req, now)


def enqueue(session: Session, item: Item, msg: EmailMessage, kind: str, req: AckRequest, now: datetime,
            sender_name: str = "") -> OutboxMail:
    """Adds MSG (of KIND) for ITEM to the outbox, and its copy to the item's thread; returns the row of REQ's
    recipient. Each address REQ copies gets a row of its own (the same message), so its delivery, retries and
    failure are its own.

    Raises UndeliverableAddress when REQ's recipient, or an address it copies, is not one we may send to.
    """
    for address in (req.to_address, *req.cc):
        if deliverable(address) is None:
            raise UndeliverableAddress(address)
    raw = msg.as_bytes()
    rows = [OutboxMail(item_id=item.id, kind=kind, message_id=msg["Message-ID"],
                       from_address=parseaddr(str(msg["From"]))[1], to_address=address, raw=raw,
                       created_at=now, next_attempt_at=now)
            for address in (req.to_address, *req.cc)]
    session.add_all(rows)
    mail = rows[0]
    # The sent copy is a message of the thread, so a reply to it finds the item.
    session.add(Message(item_id=item.id, direction="out", message_id=msg["Message-ID"],
                        in_reply_to=req.in_reply_to, references=str(msg.get("References", "")),
                        sender=mail.from_address, sender_name=sender_name,
                        recipients=", ".join((req.to_address, *req.cc)),
                        subject=str(msg["Subject"]), sent_at=now, received_at=now,
                        body_text=msg.get_body(("plain",)).get_content(), lang=req.lang, size=len(raw),
                        screening="ours", raw=raw))
    return mail


def enqueue_notice(session: Session, msg: EmailMessage, kind: str, now: datetime,
                   item_id: int | None = None) -> OutboxMail | None:
    """Adds MSG, a notice to the team or a digest (of KIND), to the outbox; it is not part of any client thread.

    None, and nothing queued, when its recipient is not an address we may send to.
    """
    to_address = parseaddr(str(msg["To"]))[1]
    if deliverable(to_address) is None:
        log.warning("event=notice_not_sent kind=%s to=%r reason=undeliverable_address", kind, to_address)
        return None
    mail = OutboxMail(item_id=item_id, kind=kind, message_id=msg["Message-ID"],
                      from_address=parseaddr(str(msg["From"]))[1], to_address=to_address,
                      raw=msg.as_bytes(), created_at=now, next_attempt_at=now)
    session.add(mail)
    return mail
