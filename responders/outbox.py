"""Puts outgoing mail into the outbox in the caller's transaction; acknowledgments under a per-sender
limit."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.events import ACK_SUPPRESSED, add_event, event_row
from db.models import Item, Message, OutboxMail
from responders.compose import AckRequest, ack_mail
from responders.mime import Outgoing
from responders.recipients import deliverable

log = logging.getLogger("responders.outbox")


class UndeliverableAddress(ValueError):
    """The recipient is not an address we may send mail to."""


RATE_WINDOW = timedelta(hours=1)


def rate_window_start(now: datetime) -> datetime:
    """The start of the window the per-sender acknowledgment limit counts in."""
    return now - RATE_WINDOW


def acks_sent_since(session: Session, addresses: Iterable[str], since: datetime) -> dict[str, int]:
    """How many acknowledgments each of ADDRESSES was given since SINCE, in one grouped query."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return {}
    rows = session.execute(
        select(OutboxMail.to_address, func.count(OutboxMail.id))
        .where(OutboxMail.to_address.in_(wanted), OutboxMail.kind == "acknowledgment",
               OutboxMail.created_at >= since)
        .group_by(OutboxMail.to_address)
    )
    return {address: count for address, count in rows}


@dataclass
class AckPlan:
    """An acknowledgment as rows to write: the outbox row and the thread's copy, or the event saying why
    not."""

    outbox: list[dict[str, Any]] = field(default_factory=list)
    message: dict[str, Any] | None = None
    event: dict[str, Any] | None = None


def plan_ack(item_id: int, req: AckRequest, from_address: str, team: str, now: datetime, max_per_hour: int,
             recent: int) -> AckPlan:
    """The rows of ITEM_ID's acknowledgment, or of its suppression (no address we may write to, or RECENT
    acknowledgments to that address this hour reach MAX_PER_HOUR); written by the caller."""
    if deliverable(req.to_address) is None:
        # No address, a broken one, a special-use domain, or an internationalized address (SMTPUTF8 would be
        # needed end to end): a PM answers these by hand.
        reason = "no_reply_address" if not req.to_address else (
            "non_ascii_address" if not req.to_address.isascii() else "invalid_address")
        return AckPlan(event=event_row(item_id, ACK_SUPPRESSED, now,
                                       {"reason": reason, "to": req.to_address}))
    if max_per_hour and recent >= max_per_hour:
        return AckPlan(event=event_row(item_id, ACK_SUPPRESSED, now, {
            "reason": "rate_limit", "to": req.to_address, "limit_per_hour": max_per_hour}))
    outbox, message = mail_rows(item_id, ack_mail(req, from_address, team, now), "acknowledgment", req, now)
    return AckPlan(outbox, message)


def mail_rows(item_id: int, out: Outgoing, kind: str, req: AckRequest, now: datetime,
              sender_name: str = "") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The outbox rows of OUT (one per recipient: REQ's, and each address it copies, so that each delivery,
    retry and failure is its own) and the copy of OUT in ITEM_ID's thread, so that a reply to it finds the
    item."""
    rows = [dict(item_id=item_id, kind=kind, message_id=out.message_id, from_address=out.from_address,
                 to_address=address, raw=out.raw, status="pending", attempts=0, claimed_by="",
                 claimed_until=None,
                 last_error="", created_at=now, next_attempt_at=now, sent_at=None)
            for address in (req.to_address, *req.cc)]
    copy = dict(item_id=item_id, direction="out", mailbox_id=None, uidvalidity=None, uid=None,
                message_id=out.message_id, content_digest="", in_reply_to=req.in_reply_to,
                references=out.references, sender=out.from_address, sender_name=sender_name,
                recipients=", ".join((req.to_address, *req.cc)), subject=out.subject, sent_at=now,
                received_at=now,
                body_text=out.text, new_text="", body_html="", lang=req.lang, size=len(out.raw),
                screening="ours",
                status="processed", error="", parse_notes="", raw=out.raw, created_at=now)
    return rows, copy


def enqueue_ack(session: Session, item: Item, req: AckRequest, from_address: str, team: str,
                now: datetime, max_per_hour: int) -> OutboxMail | None:
    """Adds the acknowledgment for ITEM to the outbox; None when it is suppressed (see plan_ack)."""
    recent = acks_sent_since(session, [req.to_address], rate_window_start(now)).get(req.to_address, 0) \
        if max_per_hour else 0
    plan = plan_ack(item.id, req, from_address, team, now, max_per_hour, recent)
    if plan.event is not None:
        e = plan.event
        add_event(session, e["item_id"], e["kind"], e["created_at"], e["data"], e["actor"])
        return None
    rows = [OutboxMail(**row) for row in plan.outbox]
    session.add_all(rows)
    assert plan.message is not None
    session.add(Message(**plan.message))
    return rows[0]


def enqueue(session: Session, item: Item, msg: EmailMessage | Outgoing, kind: str, req: AckRequest,
            now: datetime,
            sender_name: str = "") -> OutboxMail:
    """Adds MSG (of KIND) for ITEM to the outbox, and its copy to the item's thread (see mail_rows); returns
    the row of REQ's recipient.

    Raises UndeliverableAddress when REQ's recipient, or an address it copies, is not one we may send to.
    """
    for address in (req.to_address, *req.cc):
        if deliverable(address) is None:
            raise UndeliverableAddress(address)
    out = msg if isinstance(msg, Outgoing) else Outgoing.of(msg)
    outbox, copy = mail_rows(item.id, out, kind, req, now, sender_name)
    rows = [OutboxMail(**row) for row in outbox]
    session.add_all(rows)
    session.add(Message(**copy))
    return rows[0]


def enqueue_notice(session: Session, msg: EmailMessage, kind: str, now: datetime,
                   item_id: int | None = None) -> OutboxMail | None:
    """Adds MSG, a notice to the team or a digest (of KIND), to the outbox; it is not part of any client
    thread.

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
