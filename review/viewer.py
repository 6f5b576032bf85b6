"""Who is asking: the signed-in user or API token owner, and which items that person may see."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session, selectinload

from db.models import ApiToken, Contact, Item, User
from review.auth import TOKEN_PREFIX, token_hash


@dataclass(frozen=True)
class Viewer:
    """A signed-in user. ORG_IDS are the organizations a PM works on; admins see everything."""

    id: int
    email: str
    name: str
    role: str
    org_ids: frozenset[int]
    language: str = ""
    time_zone: str = ""          # "" for the configured default

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def item_filter(self) -> ColumnElement[bool] | None:
        """The condition on Item that limits a PM to their organizations' clients; None for admins."""
        if self.is_admin:
            return None
        return Item.contact_id.in_(select(Contact.id).where(Contact.organization_id.in_(self.org_ids)))

    @property
    def org_limit(self) -> frozenset[int] | None:
        """The organizations this viewer is limited to; None for admins (no limit)."""
        return None if self.is_admin else self.org_ids

    def works_on(self, organization_id: int | None) -> bool:
        """Whether this viewer may see ORGANIZATION_ID's clients (None: senders of no organization, admins
        only)."""
        return self.is_admin or organization_id in self.org_ids

    def may_see(self, item: Item) -> bool:
        """Whether this viewer may see ITEM (its contact loaded)."""
        return self.works_on(item.contact.organization_id if item.contact else None)


def viewer_of(user: User) -> Viewer:
    """The Viewer for USER, whose organizations must be loaded."""
    return Viewer(id=user.id, email=user.email, name=user.name, role=user.role,
                  org_ids=frozenset(o.id for o in user.organizations), language=user.language,
                  time_zone=user.time_zone)


# last_used_at is kept to the minute: an API call then needs no write transaction (on SQLite a
# write lock shared with the worker) unless the token's last noted use is older than this.
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


def token_owner(session: Session, token: str, now: datetime) -> tuple[Viewer, int, datetime | None] | None:
    """The owner of the API TOKEN (known, not revoked, not expired at NOW, owner active), the token's id and
    its last noted use."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token),
                                                ApiToken.revoked_at.is_(None),
                                                or_(ApiToken.expires_at.is_(None),
                                                    ApiToken.expires_at > now)))
    if row is None:
        return None
    user = session.scalar(select(User).where(User.id == row.user_id)
                          .options(selectinload(User.organizations)))
    if user is None or not user.active:
        return None
    return viewer_of(user), row.id, row.last_used_at


def note_token_use(session: Session, token_id: int, now: datetime) -> None:
    """Records that the token TOKEN_ID was used at NOW."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
