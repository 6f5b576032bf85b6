"""Records a client's decision on a change request's impact assessment, with the message as evidence."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from db.events import APPROVED, REJECTED, add_event
from db.models import Item, Message


def record_decision(session: Session, item: Item, decision: str, actor: str, now: datetime,
                    evidence: Message | None = None) -> None:
    """Moves ITEM (awaiting approval, its assessment loaded) to DECISION ("approved" or "rejected")."""
    assert decision in (APPROVED, REJECTED)
    old = item.status
    item.status = decision
    if decision == REJECTED and item.resolved_at is None:
        item.resolved_at = now
    if item.assessment is not None:
        item.assessment.decision = decision
        item.assessment.decided_at = now
        item.assessment.decided_by = actor
        item.assessment.decision_message_id = evidence.id if evidence is not None else None
    data: dict[str, object] = {"from": old, "to": decision}
    if evidence is not None:
        data.update(message_id=evidence.message_id, excerpt=(evidence.new_text or evidence.body_text)[:500])
    add_event(session, item.id, decision, now, data, actor=actor)
