"""Server-side sign-in sessions: starting, finding, listing and ending the rows of user_sessions."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload

from db.models import User, UserSession
from review.auth import new_session_key, token_hash
from review.viewer import Viewer, viewer_of

# last_seen_at is kept to the minute: a page view then needs no write transaction (on SQLite a write lock
# shared with the worker) unless the session's last noted visit is older than this.
SEEN_RESOLUTION = timedelta(minutes=1)
MAX_KEY = 100  # keys are 43 characters; a longer cookie value is not worth hashing
MAX_ADDRESS = 64
MAX_USER_AGENT = 300


@dataclass
class OpenSession:
    """The session a request runs in: its row, the key from the cookie, who signed in, its CSRF token and
    the notice waiting for the next page. ENDED means the request signed out (the cookie is then dropped)."""

    id: int
    key: str
    viewer: Viewer
    csrf: str
    flash: str = ""
    ended: bool = False


def start_session(session: Session, user: User, lifetime: timedelta, address: str, user_agent: str,
                  now: datetime) -> OpenSession:
    """A new session for USER ending LIFETIME after NOW (expired sessions of everyone are cleared on the way);
    USER's organizations must be loaded. The key is in the result only: the table keeps its SHA-256."""
    delete_expired(session, now)
    key, digest = new_session_key()
    row = UserSession(key_hash=digest, user_id=user.id, created_at=now, last_seen_at=now,
                      expires_at=now + lifetime,
                      client_address=address[:MAX_ADDRESS], user_agent=user_agent[:MAX_USER_AGENT],
                      csrf_secret=secrets.token_urlsafe(32), flash="")
    session.add(row)
    session.flush()
    return OpenSession(id=row.id, key=key, viewer=viewer_of(user), csrf=row.csrf_secret)


def find_session(session: Session, key: str, now: datetime) -> tuple[UserSession, Viewer] | None:
    """The live session with KEY and who it belongs to; None when it was ended, has expired or its user may
    no longer sign in."""
    if not key or len(key) > MAX_KEY:
        return None
    found = session.execute(
        select(UserSession, User).join(User, User.id == UserSession.user_id)
        .where(UserSession.key_hash == token_hash(key), UserSession.expires_at > now, User.active.is_(True))
        .options(selectinload(User.organizations))).first()
    if found is None:
        return None
    row, user = found
    return row, viewer_of(user)


def note_seen(session: Session, session_id: int, now: datetime) -> None:
    """Records that the session SESSION_ID was used at NOW."""
    session.execute(update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now))


def save_flash(session: Session, session_id: int, flash: str) -> None:
    """Keeps FLASH for the session's next page ("" when it was shown)."""
    session.execute(update(UserSession).where(UserSession.id == session_id).values(flash=flash))


def sessions_of(session: Session, user_id: int, now: datetime) -> list[UserSession]:
    """USER_ID's live sessions, the most recently used first."""
    return list(session.scalars(select(UserSession).where(UserSession.user_id == user_id,
                                                          UserSession.expires_at > now)
                                .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())))


def end_session(session: Session, session_id: int, user_id: int) -> bool:
    """Ends USER_ID's session SESSION_ID; False when USER_ID has no such session."""
    done = session.execute(delete(UserSession).where(UserSession.id == session_id,
                                                     UserSession.user_id == user_id))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def end_sessions(session: Session, user_id: int, now: datetime, keep: int | None = None) -> int:
    """Ends every session of USER_ID but KEEP (the caller's own, when it stays signed in); how many of them
    were live (expired ones are deleted too, uncounted)."""
    session.execute(delete(UserSession).where(UserSession.user_id == user_id, UserSession.expires_at <= now))
    query = delete(UserSession).where(UserSession.user_id == user_id)
    if keep is not None:
        query = query.where(UserSession.id != keep)
    return int(session.execute(query).rowcount)  # type: ignore[attr-defined]


def delete_expired(session: Session, now: datetime) -> int:
    """Deletes every expired session (they sign nobody in; this only keeps the table small)."""
    return int(session.execute(delete(UserSession).where(UserSession.expires_at <= now))
               .rowcount)  # type: ignore[attr-defined]
