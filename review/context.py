"""What every request handler shares: the session factories, the templates, the settings and SLA policies."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from starlette.templating import Jinja2Templates

from db.types import utcnow
from reports.policy import SlaPolicies
from responders.alerts import Alerts
from responders.client_mail import ClientMailSettings
from review.settings import WebSettings
from review.sla_view import builtin_policies
from review.thresholds import ReviewThresholds


@dataclass(frozen=True)
class Context:
    """WRITE opens sessions that change data; READ opens sessions that only read (never blocking the
    worker)."""

    write: sessionmaker[Session]
    read: sessionmaker[Session]
    templates: Jinja2Templates
    settings: WebSettings = field(default_factory=WebSettings)
    # Sends what the outbox holds (the worker does it too, within seconds); None leaves it to the worker.
    send_outbox: Callable[[], object] | None = None
    # Extracts an attachment's bytes from a stored raw message by its SHA-256 (MIME parsing lives in intake).
    read_attachment: Callable[[bytes, str], bytes | None] | None = None
    # The SLA policies and calendars from the config ([sla]); the built-in policy when none are configured.
    sla: SlaPolicies = field(default_factory=builtin_policies)
    # The current time (UTC, aware): the item page's clocks run to it.
    now: Callable[[], datetime] = utcnow
    # SLA report days and weeks begin at midnight here (sla.report_timezone).
    report_timezone: str = "UTC"
    # Client updates, surveys, status links and their pages (the worker's settings); None: none are sent.
    client_mail: ClientMailSettings | None = None
    # The chat and webhook targets ([[notify]]): a PM's decision on a change request is announced to them.
    alerts: Alerts = field(default_factory=Alerts)
    # Where each item's confidence bands are cut: the review threshold the worker flagged it by.
    thresholds: ReviewThresholds = field(default_factory=lambda: ReviewThresholds(0.8))
