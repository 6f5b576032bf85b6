"""Records a PM's category correction: the new category, the review flag cleared, a "corrected" event."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session, sessionmaker

from db.events import CONFIRMED, CORRECTED, add_event
from db.types import utcnow
from db.workflow import status_for_category
from responders.client_mail import ClientMailSettings, send_update, told_category
from review.queries import lock_item

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Correction:
    """What a correction did: CHANGED is False when the item already had that category."""

    ref: str
    old: str
    new: str
    changed: bool


def correct_category(factory: sessionmaker[Session], ref: str, category: str, actor: str,
                     scope: ColumnElement[bool] | None = None,
                     client: ClientMailSettings | None = None) -> Correction | None:
    """Sets the category of the item REF (already validated) in one transaction, as ACTOR; with CLIENT, a
    client whose acknowledgment named the old category is told the new one.

    None when there is no such item within SCOPE (the viewer's limit).
    """
    with factory.begin() as session:
        # Locked so two PMs correcting at once record each other's "from" correctly.
        item = lock_item(session, ref, scope)
        if item is None:
            return None
        old = item.category
        if old == category:
            if item.needs_review:
                # Keeping the predicted category is a review too: the item leaves the review queue.
                item.needs_review = False
                add_event(session, item.id, CONFIRMED, utcnow(),
                          {"category": category, "model_version": item.model_version}, actor=actor)
            return Correction(ref, old, category, changed=False)
        told = client is not None and client.category_updates and told_category(session, item)
        item.category = category
        item.status = status_for_category(category, item.status)
        item.needs_review = False
        add_event(session, item.id, CORRECTED, utcnow(),
                  {"from": old, "to": category, "model_version": item.model_version}, actor=actor)
        if told and client is not None:
            send_update(session, item, "category", client, utcnow(), actor)
    log.info("event=category_corrected ref=%s from=%s to=%s actor=%s", ref, old, category, actor)
    return Correction(ref, old, category, changed=True)
