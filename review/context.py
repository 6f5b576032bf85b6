"""What every request handler shares: the session factories and the templates."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker
from starlette.templating import Jinja2Templates


@dataclass(frozen=True)
class Context:
    """WRITE opens sessions that change data; READ opens sessions that only read (never blocking the worker)."""

    write: sessionmaker[Session]
    read: sessionmaker[Session]
    templates: Jinja2Templates
