"""Puts outgoing mail into the outbox in the caller's transaction; acknowledgments under a per-sender limit."""
from __future__ import annotations

from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Event, Item, Message, OutboxMail
from responders.compose import AckRequest, build_ack


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
    if not req.to_address.isascii():
        # Internationalized addresses need SMTPUTF8 end to end; a PM answers these by hand.
        session.add(Event(item_id=item.id, kind="ack_suppressed", created_at=now,
                          data={"reason": "non_ascii_address", "to": req.to_address}))
        return None
    if max_per_hour and acks_sent_recently(session, req.to_address, now) >= max_per_hour:
        session.add(Event(item_id=item.id, kind="ack_suppressed", created_at=now,
                          data={"reason": "rate_limit", "to": req.to_address, "limit_per_hour": max_per_hour}))
        return None
    return enqueue(session, item, build_ack(req, from_address, team, now), "acknowledgment", req, now)


def enqueue(session: Session, item: Item, msg: EmailMessage, kind: str, req: AckRequest, now: datetime,
            sender_name: str = "") -> OutboxMail:
    """Adds MSG (of KIND) for ITEM to the outbox, and its copy to the item's thread."""
    raw = msg.as_bytes()
    mail = OutboxMail(item_id=item.id, kind=kind, message_id=msg["Message-ID"],
                      from_address=parseaddr(str(msg["From"]))[1], to_address=req.to_address, raw=raw,
                      created_at=now, next_attempt_at=now)
    session.add(mail)
    # The sent copy is a message of the thread, so a reply to it finds the item.
    session.add(Message(item_id=item.id, direction="out", message_id=msg["Message-ID"],
                        in_reply_to=req.in_reply_to, references=str(msg.get("References", "")),
                        sender=mail.from_address, sender_name=sender_name, recipients=req.to_address,
                        subject=str(msg["Subject"]), sent_at=now, received_at=now,
                        body_text=msg.get_body(("plain",)).get_content(), lang=req.lang, size=len(raw),
                        screening="ours", raw=raw))
    return mail


def enqueue_notice(session: Session, msg: EmailMessage, kind: str, now: datetime,
                   item_id: int | None = None) -> OutboxMail:
    """Adds MSG, a notice to the team or a digest (of KIND), to the outbox; it is not part of any client thread."""
    mail = OutboxMail(item_id=item_id, kind=kind, message_id=msg["Message-ID"],
                      from_address=parseaddr(str(msg["From"]))[1], to_address=parseaddr(str(msg["To"]))[1],
                      raw=msg.as_bytes(), created_at=now, next_attempt_at=now)
    session.add(mail)
    return mail
