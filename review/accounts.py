"""User accounts: creating PMs and admins, their organizations, passwords, and API tokens and their
lifetimes."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, object_session

from db.free_mail import is_free_mail
from db.models import USER_ROLES, ApiToken, Organization, User
from db.types import utcnow
from review.auth import hash_password, new_api_token
from review.user_sessions import end_sessions

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LIFETIME = re.compile(r"^([0-9]{1,6})([dh])$")
MAX_TOKEN_LIFETIME = timedelta(days=3660)  # ten years: anything longer is "no expiry", which is the default


class AccountError(ValueError):
    """A request about accounts that cannot be done as asked; the message says why."""


def normalize_email(email: str) -> str:
    """EMAIL trimmed and lowercased, or AccountError when it is not an address."""
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise AccountError(f"email: {email!r} is not an email address")
    return email


def find_user(session: Session, email: str) -> User | None:
    """The user with EMAIL (any case), or None."""
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(session: Session, email: str, name: str, role: str, password: str) -> User:
    """Adds a user; AccountError for a taken email or an unknown role, WeakPassword for a short password."""
    email = normalize_email(email)
    if role not in USER_ROLES:
        raise AccountError(f"role: must be one of {', '.join(USER_ROLES)}, not {role!r}")
    if find_user(session, email) is not None:
        raise AccountError(f"email: a user {email} already exists")
    user = User(email=email, name=name.strip(), role=role, password_hash=hash_password(password),
                active=True, created_at=utcnow())
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True)
class Ended:
    """What ending a user's access did: how many sessions were ended and API tokens revoked."""

    sessions: int
    tokens: int


def end_access(session: Session, user_id: int, now: datetime, keep_session: int | None = None) -> Ended:
    """Ends all of USER_ID's sessions (but KEEP_SESSION) and revokes all their live API tokens."""
    sessions = end_sessions(session, user_id, now, keep=keep_session)
    revoked = session.execute(update(ApiToken).where(ApiToken.user_id == user_id,
                                                     ApiToken.revoked_at.is_(None),
                                                     or_(ApiToken.expires_at.is_(None),
                                                         ApiToken.expires_at > now))
                              .values(revoked_at=now))
    return Ended(sessions=sessions, tokens=int(revoked.rowcount))  # type: ignore[attr-defined]


def set_password(user: User, password: str) -> Ended:
    """Replaces USER's password, ends all their sessions and revokes all their API tokens: people change a
    password when they fear the account leaked, and a leaked session or token must not outlive that.
    USER must belong to an open database session; WeakPassword (nothing changed) for a short password."""
    session = object_session(user)
    if session is None:
        raise ValueError("set_password: the user must belong to an open database session")
    user.password_hash = hash_password(password)
    return end_access(session, user.id, utcnow())


def organizations_by_domain(session: Session, domains: Iterable[str],
                            free_mail: Iterable[str] = ()) -> list[Organization]:
    """The organizations with DOMAINS; AccountError naming the first unknown one, or one of a free-mail
    provider (db.free_mail, plus FREE_MAIL)."""
    found = []
    for domain in domains:
        domain = domain.strip().lower()
        if is_free_mail(domain, free_mail):
            raise AccountError(f"organization: {domain} is a free-mail provider, not a client; its senders "
                               "belong to no organization (link a contact to one on its page)")
        org = session.scalar(select(Organization).where(Organization.domain == domain))
        if org is None:
            raise AccountError(f"organization: no organization with the domain {domain!r}")
        found.append(org)
    return found


def set_organizations(user: User, organizations: Iterable[Organization]) -> None:
    """Makes ORGANIZATIONS exactly the ones USER works on."""
    user.organizations = sorted(set(organizations), key=lambda o: o.name)


def parse_lifetime(text: str) -> timedelta:
    """A token lifetime written as days or hours ("90d", "12h"); AccountError otherwise."""
    found = _LIFETIME.match(text.strip().lower())
    lifetime = None
    if found:
        number = int(found.group(1))
        lifetime = timedelta(days=number) if found.group(2) == "d" else timedelta(hours=number)
    if lifetime is None or not timedelta(0) < lifetime <= MAX_TOKEN_LIFETIME:
        raise AccountError(f"expires-in: use a number of days or hours up to ten years, such as 90d or 12h, "
                           f"not {text!r}")
    return lifetime


def issue_token(session: Session, user: User, name: str = "", expires_in: timedelta | None = None) -> str:
    """A new API token for USER, valid for EXPIRES_IN (None: until revoked); only its hash is stored, so this
    is the one time it can be read."""
    token, digest = new_api_token()
    now = utcnow()
    session.add(ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=digest, created_at=now,
                         expires_at=now + expires_in if expires_in is not None else None))
    session.flush()
    return token


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    """USER_ID's API tokens, revoked and expired ones included, the newest first."""
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)
                                .order_by(ApiToken.id.desc())))


def token_state(token: ApiToken, now: datetime) -> str:
    """Whether TOKEN is "active", "revoked" or "expired" at NOW."""
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def revoke_token(session: Session, token_id: int, user_id: int | None = None) -> ApiToken | None:
    """Revokes the API token TOKEN_ID (only if it is USER_ID's, when given) at once; None when there is no
    such token. Revoking a revoked token keeps its first revocation time."""
    query = select(ApiToken).where(ApiToken.id == token_id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    token = session.scalar(query)
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()
    return token
