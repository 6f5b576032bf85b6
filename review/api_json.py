"""What the JSON API says of items, messages and events (review.present turns the values into text)."""
from __future__ import annotations

from typing import Any

from db.models import Attachment, Event, Item, Message
from review.present import event_summary, history, iso_utc, item_band, item_url, latest_event, scores, thread
from review.thresholds import ReviewThresholds


def item_json(item: Item, thresholds: ReviewThresholds) -> dict[str, Any]:
    """The queue's view of an item (its contact must be loaded); THRESHOLDS: the review thresholds, where the
    confidence bands are cut."""
    contact = item.contact
    return {
        "ref": item.ref,
        "url": item_url(item.ref) if item.ref else None,
        "subject": item.subject,
        "category": item.category,
        "confidence": item.confidence,
        "confidence_band": item_band(item, thresholds),
        "needs_review": item.needs_review,
        "status": item.status,
        "lang": item.lang,
        "model_version": item.model_version,
        "client": None if contact is None else {"name": contact.name, "email": contact.email},
        "received_at": iso_utc(item.received_at),
        "acknowledged_at": iso_utc(item.acknowledged_at),
        "first_response_at": iso_utc(item.first_response_at),
        "resolved_at": iso_utc(item.resolved_at),
        "sla_state": item.sla_state,
        "sla_due_at": iso_utc(item.sla_due_at),
    }


def _attachment_json(a: Attachment) -> dict[str, Any]:
    return {"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}


def message_json(m: Message) -> dict[str, Any]:
    """A message without its raw bytes; the HTML body is left out, the flag says whether there was one."""
    return {
        "direction": m.direction,
        "message_id": m.message_id,
        "from": m.sender,
        "from_name": m.sender_name,
        "to": m.recipients,
        "subject": m.subject,
        "sent_at": iso_utc(m.sent_at),
        "received_at": iso_utc(m.received_at),
        "body_text": m.body_text,
        "new_text": m.new_text,
        "has_html": bool(m.body_html),
        "lang": m.lang,
        "size": m.size,
        "status": m.status,
        "screening": m.screening,
        "error": m.error,
        "parse_notes": m.parse_notes.splitlines() if m.parse_notes else [],
        "attachments": [_attachment_json(a) for a in m.attachments],
    }


def event_json(e: Event) -> dict[str, Any]:
    """An event with its data and readable summary."""
    return {"kind": e.kind, "actor": e.actor, "created_at": iso_utc(e.created_at), "data": e.data,
            "summary": event_summary(e.kind, e.data)}


def item_detail_json(item: Item, thresholds: ReviewThresholds) -> dict[str, Any]:
    """An item with its client's organization, thread and history (all must be loaded)."""
    out = item_json(item, thresholds)
    contact = item.contact
    if out["client"] is not None and contact is not None:
        out["client"]["organization"] = contact.organization.name if contact.organization else None
    out["assignee"] = item.assignee.email if item.assignee else None
    out["messages"] = [message_json(m) for m in thread(item.messages)]
    out["events"] = [event_json(e) for e in history(item.events)]
    out["scores"] = dict(scores(latest_event(item.events, "classified")))
    return out
