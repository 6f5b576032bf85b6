"""User accounts: creating PMs and admins, their organizations, passwords and API tokens."""
from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import USER_ROLES, ApiToken, Organization, User
from db.types import utcnow
from review.auth import hash_password, new_api_token

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


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


def set_password(user: User, password: str) -> None:
    """Replaces USER's password; sessions signed before the change stop working."""
    user.password_hash = hash_password(password)
    user.session_epoch = (user.session_epoch or 0) + 1


def organizations_by_domain(session: Session, domains: Iterable[str]) -> list[Organization]:
    """The organizations with DOMAINS; AccountError naming the first unknown one."""
    found = []
    for domain in domains:
        domain = domain.strip().lower()
        org = session.scalar(select(Organization).where(Organization.domain == domain))
        if org is None:
            raise AccountError(f"organization: no organization with the domain {domain!r}")
        found.append(org)
    return found


def set_organizations(user: User, organizations: Iterable[Organization]) -> None:
    """Makes ORGANIZATIONS exactly the ones USER works on."""
    user.organizations = sorted(set(organizations), key=lambda o: o.name)


def issue_token(session: Session, user: User, name: str = "") -> str:
    """A new API token for USER; only its hash is stored, so this is the one time it can be read."""
    token, digest = new_api_token()
    session.add(ApiToken(user_id=user.id, name=name.strip()[:100], token_hash=digest, created_at=utcnow()))
    session.flush()
    return token
