"""Keys for signing links, made once at random and kept in the database when the config names none."""
from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import SigningKey
from db.types import utcnow


def stored_key(factory: sessionmaker[Session], name: str) -> str:
    """The key NAME, made now if it does not exist yet (two processes making it at once agree on one)."""
    with factory() as session:
        found = session.scalar(select(SigningKey.key).where(SigningKey.name == name))
    if found:
        return found
    try:
        with factory.begin() as session:
            session.add(SigningKey(name=name, key=secrets.token_urlsafe(48), created_at=utcnow()))
    except IntegrityError:
        pass  # another process made it first: theirs is the key
    with factory() as session:
        key = session.scalar(select(SigningKey.key).where(SigningKey.name == name))
    assert key
    return key


def stored_key_in(session: Session, name: str) -> str:
    """stored_key() inside SESSION's transaction (the worker's batch): made in a savepoint if missing, so
    a key another process made at the same moment wins without rolling the caller's work back."""
    found = session.scalar(select(SigningKey.key).where(SigningKey.name == name))
    if found:
        return found
    try:
        with session.begin_nested():
            session.add(SigningKey(name=name, key=secrets.token_urlsafe(48), created_at=utcnow()))
    except IntegrityError:
        pass  # another process made it first: theirs is the key
    key = session.scalar(select(SigningKey.key).where(SigningKey.name == name))
    assert key
    return key
