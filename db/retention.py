"""Retention: the raw bytes (and with them the attachments) of messages whose item closed long enough ago are
removed; the item, the messages' texts and the history stay, so the SLA figures do not change."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from db.audit import record
from db.models import Attachment, Item, Message
from db.workflow import DONE


@dataclass(frozen=True)
class PurgeSummary:
    """What a purge removes (or removed): how many messages' raw bytes, how many bytes, on how many items, and
    how many attachments lose their content."""

    messages: int
    bytes: int
    items: int
    attachments: int


def _due(cutoff: datetime):  # type: ignore[no-untyped-def]
    """The messages whose raw bytes are due: of items done (resolved, closed...) before CUTOFF, not yet
    purged."""
    return (select(Message.id).join(Item, Message.item_id == Item.id)
            .where(Item.status.in_(DONE), Item.resolved_at.is_not(None), Item.resolved_at < cutoff,
                   Message.raw_purged_at.is_(None)))


def purge_preview(session: Session, cutoff: datetime) -> PurgeSummary:
    """What purge(CUTOFF) would remove now."""
    due = _due(cutoff).subquery()
    messages, size, items = session.execute(
        select(func.count(Message.id), func.coalesce(func.sum(func.length(Message.raw)), 0),
               func.count(func.distinct(Message.item_id))).where(Message.id.in_(select(due.c.id)))).one()
    attachments = session.scalar(select(func.count(Attachment.id))
                                 .where(Attachment.message_id.in_(select(due.c.id))))
    return PurgeSummary(int(messages), int(size), int(items), int(attachments or 0))


def purge(session: Session, cutoff: datetime, now: datetime, actor: str, days: int) -> PurgeSummary:
    """Removes the raw bytes of the messages due (items done before CUTOFF), records it in the audit log, and
    returns what was removed. Attachment rows (name, type, size, SHA-256) stay: the history still says what
    was sent."""
    summary = purge_preview(session, cutoff)
    if summary.messages:
        session.execute(update(Message).where(Message.id.in_(_due(cutoff).scalar_subquery()))
                        .values(raw=b"", raw_purged_at=now), execution_options={"synchronize_session": False})
        record(session, actor, "purge", {"days": days, "cutoff": cutoff.isoformat(),
                                         "messages": summary.messages,
                                         "bytes": summary.bytes, "items": summary.items,
                                         "attachments": summary.attachments})
    return summary
