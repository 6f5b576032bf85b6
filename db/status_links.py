"""Status links: random tokens for an item's client view, stored as SHA-256, found, and revoked."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from db.models import Item, StatusLink

# 32 random bytes: 43 URL-safe characters, far beyond guessing; a lookup by hash needs no constant-time
# compare.
TOKEN_BYTES = 32
MAX_TOKEN_LENGTH = 100


def token_hash(token: str) -> str:
    """The stored form of a status-link token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_link(session: Session, item_id: int, now: datetime, actor: str = "system") -> str:
    """A fresh token for ITEM_ID's client view, its hash added to SESSION; the token itself is not kept."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(StatusLink(item_id=item_id, token_hash=token_hash(token), created_by=actor, created_at=now))
    return token


def new_link_row(item_id: int, now: datetime) -> tuple[str, dict[str, object]]:
    """A fresh token and the row that stores its hash, for callers that insert rows in bulk."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, dict(item_id=item_id, token_hash=token_hash(token), created_by="system", created_at=now,
                       revoked_at=None)


def item_for_token(session: Session, token: str) -> Item | None:
    """The item a live (not revoked) status-link TOKEN shows, or None."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.isascii():
        return None
    return session.scalar(select(Item).join(StatusLink, StatusLink.item_id == Item.id)
                          .where(StatusLink.token_hash == token_hash(token), StatusLink.revoked_at.is_(None)))


def revoke_links(session: Session, item_id: int, now: datetime) -> int:
    """Revokes every live status link of ITEM_ID; how many there were."""
    result = session.execute(update(StatusLink).where(StatusLink.item_id == item_id,
                                                      StatusLink.revoked_at.is_(None))
                             .values(revoked_at=now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def live_links(session: Session, item_id: int) -> int:
    """How many live status links ITEM_ID has."""
    return len(session.scalars(select(StatusLink.id).where(StatusLink.item_id == item_id,
                                                            StatusLink.revoked_at.is_(None))).all())
