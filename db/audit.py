"""The audit log of what was done to client data (erasures, exports, purges): who, when, what; no personal
data."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AuditEntry
from db.types import utcnow


def record(session: Session, actor: str, action: str, data: dict[str, Any]) -> AuditEntry:
    """Adds an entry to the log (in SESSION's transaction, so it is there exactly when the change is)."""
    entry = AuditEntry(created_at=utcnow(), actor=actor, action=action, data=data)
    session.add(entry)
    return entry


def recent(session: Session, limit: int = 50) -> Sequence[AuditEntry]:
    """The newest entries first."""
    return session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
