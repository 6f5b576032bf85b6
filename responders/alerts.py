"""Queues chat alerts and webhook calls for an item's event, in the caller's transaction, one row per target.

The events, and where they are queued:

- ``new_item``: a client's new request was stored (intake.pipeline, intake.batch_store);
- ``needs_review``: the same, when the classifier was unsure and the item waits for a PM's review; a target
  that wants both gets this one alone for such an item;
- ``sla_at_risk`` and ``sla_breached``: the worker's SLA check warned about one of the item's clocks;
- ``change_approved`` and ``change_rejected``: a change request's decision was recorded (the client's mail,
  or a PM);
- ``negative_csat``: a client gave a satisfaction rating of 1 or 2 (responders.client_mail.announce_negative,
  in the transaction that stores the rating).
"""
from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.models import Contact, Item, WebhookDelivery
from responders.chat_formats import Alert, payload

EVENTS = ("new_item", "needs_review", "sla_at_risk", "sla_breached", "negative_csat", "change_approved",
          "change_rejected")
TARGETS = ("webhook", "slack", "teams", "dingtalk", "feishu", "wecom")


@dataclass(frozen=True)
class AlertRoute:
    """One configured target: which events it wants, for which organizations (domains) and categories (empty:
    all), and the language its messages are written in."""

    name: str
    target: str
    events: frozenset[str] = frozenset(EVENTS)
    organizations: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    lang: str = "en"

    def wants(self, event: str, category: str, organization: str) -> bool:
        return (event in self.events and (not self.categories or category in self.categories)
                and (not self.organizations or organization.lower() in self.organizations))


@dataclass(frozen=True)
class Alerts:
    """Every configured target, and the app's address for the links to items."""

    routes: tuple[AlertRoute, ...] = ()
    base_url: str = "http://127.0.0.1:8025"


def new_item_events(needs_review: bool) -> tuple[str, ...]:
    """The events of a new item, the first a target wants being the one it gets."""
    return ("needs_review", "new_item") if needs_review else ("new_item",)


def alert_of(item: Item, event: str, base_url: str, now: datetime, details: dict[str, Any],
             contact: Contact | None = None) -> Alert:
    """What a message about ITEM's EVENT says; CONTACT (default: ITEM's) with its organization loaded."""
    contact = contact or item.contact
    org = contact.organization if contact is not None else None
    assignee = item.assignee if item.assignee_id is not None else None
    return Alert(event=event, ref=item.ref or "", subject=item.subject or "", category=item.category,
                 status=item.status, needs_review=bool(item.needs_review),
                 confidence=float(item.confidence or 0),
                 client_name=contact.name if contact is not None else "",
                 client_email=contact.email if contact is not None else "",
                 organization=org.name if org is not None else "",
                 domain=org.domain if org is not None else "",
                 assignee=assignee.email if assignee is not None else "", lang=item.lang or "",
                 url=f"{base_url.rstrip('/')}/items/{item.ref}", occurred_at=now, details=details)


def alert_rows(alerts: Alerts, events: Sequence[str], item: Item, now: datetime, *,
               contact: Contact | None = None,
               **details: Any) -> list[dict[str, Any]]:
    """The delivery rows for ITEM: for each target, the first of EVENTS it wants (none if it wants none).
    CONTACT: ITEM's contact when ITEM is a plain row's object without one (a batch's new items)."""
    if not alerts.routes:
        return []
    contact = contact or item.contact
    domain = contact.organization.domain if contact is not None and contact.organization is not None else ""
    rows: list[dict[str, Any]] = []
    made: dict[str, Alert] = {}
    for route in alerts.routes:
        event = next((e for e in events if route.wants(e, item.category, domain)), None)
        if event is None:
            continue
        alert = made.get(event) or made.setdefault(event, alert_of(item, event, alerts.base_url, now, details,
                                                                   contact))
        delivery_id = str(uuid.uuid4())
        rows.append(dict(delivery_id=delivery_id, target=route.name, kind=route.target, event=event,
                         item_id=item.id, body=payload(route.target, alert, route.lang, delivery_id,
                                                       route.name),
                         status="pending", attempts=0, next_attempt_at=now, claimed_by="", claimed_until=None,
                         last_error="", last_status=None, created_at=now, sent_at=None))
    return rows


def enqueue_alert(session: Session, alerts: Alerts, events: Sequence[str], item: Item, now: datetime,
                  **details: Any) -> int:
    """Queues ITEM's alert to every target that wants one of EVENTS, in SESSION's transaction (see
    alert_rows); DETAILS go into the message (clocks, rating, comment). Returns how many were queued."""
    rows = alert_rows(alerts, events, item, now, **details)
    session.add_all([WebhookDelivery(**row) for row in rows])
    return len(rows)

