"""What a new client message records on its item: its classification, and the follow-up flag on unhappy
feedback.

Shared by the bulk path (intake.batch_store) and the per-message path (intake.pipeline), which write the
events each its own way.
"""
from __future__ import annotations

import logging
from typing import Any

from classifiers import Prediction
from classifiers.sentiment import is_negative
from db.models import Item
from intake.values import Email

log = logging.getLogger("intake.pipeline")


def classified(pred: Prediction, needs_review: bool) -> dict[str, Any]:
    """The data of an item's "classified" event."""
    return {"label": pred.label, "confidence": round(pred.confidence, 4), "scores": pred.scores,
            "model_version": pred.model_version, "needs_review": needs_review}


def flag_complaint(item: Item, email: Email) -> dict[str, Any] | None:
    """Unhappy feedback is flagged for a PM to follow up (a PM clears the flag, a new complaint sets it
    again): sets ITEM's flag and returns the data of its "follow_up" event, or None when EMAIL is no new
    complaint."""
    if item.category != "feedback" or item.follow_up or not is_negative(email.subject, email.text):
        return None
    item.follow_up = True
    log.info("event=follow_up_flagged ref=%s reason=negative_feedback", item.ref)
    return {"on": True, "reason": "negative feedback", "message_id": email.message_id}
