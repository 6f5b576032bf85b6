"""What every request handler shares: the session factories, the templates and the settings."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker
from starlette.templating import Jinja2Templates

from review.settings import WebSettings


@dataclass(frozen=True)
class Context:
    """WRITE opens sessions that change data; READ opens sessions that only read (never blocking the worker)."""

    write: sessionmaker[Session]
    read: sessionmaker[Session]
    templates: Jinja2Templates
    settings: WebSettings = field(default_factory=WebSettings)
    # Sends what the outbox holds (the worker does it too, within seconds); None leaves it to the worker.
    send_outbox: Callable[[], object] | None = None
    # Extracts an attachment's bytes from a stored raw message by its SHA-256 (MIME parsing lives in intake).
    read_attachment: Callable[[bytes, str], bytes | None] | None = None
