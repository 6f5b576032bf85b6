"""Every kind of event an item's history records, and the one way to add one."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from db.models import Event

# Mail that came in.
CLASSIFIED = "classified"                      # a new item: the classifier's label, confidence and scores
MESSAGE_RECEIVED = "message_received"          # the client wrote again on the item's thread
AUTO_REPLY_RECEIVED = "auto_reply_received"    # an automatic reply (out of office, ...) on the thread
DELIVERY_FAILED = "delivery_failed"            # a bounce of our mail, or a send that gave up
THREAD_CLAIM = "thread_claim"                  # a new item whose message named another item's thread...
THREAD_CLAIM_REFUSED = "thread_claim_refused"  # ...and on that item: its sender may not join the thread
MESSAGE_ID_COLLISION = "message_id_collision"  # a message reusing a Message-ID we stored before
FOLLOW_UP = "follow_up"                        # flagged for a PM's follow-up (unhappy feedback, a PM's flag)
NOTE = "note"                                  # free text: a PM's note, or why a message was kept short

# Mail that went out.
ACKNOWLEDGED = "acknowledged"
ACK_SUPPRESSED = "ack_suppressed"              # no acknowledgment, and why (screening, rate limit, failure)
REPLIED = "replied"                            # a team member answered (from the app or their mail client)
UPDATE_SENT = "update_sent"                    # the client was told of a status or category change
UPDATE_WITHHELD = "update_withheld"
SURVEY_SCHEDULED = "survey_scheduled"
SURVEY_WITHHELD = "survey_withheld"
SURVEY_CANCELLED = "survey_cancelled"

# The client's answers on their pages.
CSAT_RATED = "csat_rated"
CSAT_COMMENT = "csat_comment"
CSAT_NEGATIVE = "csat_negative"  # what a chat or webhook announcement of a poor rating listens for

# PMs' work on the item.
ASSIGNED = "assigned"
STATUS_CHANGED = "status_changed"
CONFIRMED = "confirmed"                        # the classifier's category confirmed
CORRECTED = "corrected"                        # the category corrected
ASSESSED = "assessed"                          # a change request's impact assessment written...
ASSESSMENT_SENT = "assessment_sent"            # ...and sent to the client
STATUS_LINK_CREATED = "status_link_created"
STATUS_LINK_REVOKED = "status_link_revoked"

# A change request's decision, by the client (or recorded by a PM); the kind is the decision.
APPROVED = "approved"
REJECTED = "rejected"

# The SLA check warned the responsible people of a clock at risk or breached.
SLA_WARNING = "sla_warning"

KINDS = frozenset({
    CLASSIFIED, MESSAGE_RECEIVED, AUTO_REPLY_RECEIVED, DELIVERY_FAILED, THREAD_CLAIM, THREAD_CLAIM_REFUSED,
    MESSAGE_ID_COLLISION, FOLLOW_UP, NOTE, ACKNOWLEDGED, ACK_SUPPRESSED, REPLIED, UPDATE_SENT,
    UPDATE_WITHHELD,
    SURVEY_SCHEDULED, SURVEY_WITHHELD, SURVEY_CANCELLED, CSAT_RATED, CSAT_COMMENT, CSAT_NEGATIVE, ASSIGNED,
    STATUS_CHANGED, CONFIRMED, CORRECTED, ASSESSED, ASSESSMENT_SENT, STATUS_LINK_CREATED, STATUS_LINK_REVOKED,
    APPROVED, REJECTED, SLA_WARNING,
})

SYSTEM = "system"  # the actor of what the program did by itself


def event_row(item_id: int, kind: str, now: datetime, data: dict[str, Any] | None = None,
              actor: str = SYSTEM) -> dict[str, Any]:
    """The values of one event row, for inserting many at once; KIND must be one of KINDS."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    return dict(item_id=item_id, kind=kind, actor=actor, created_at=now, data={} if data is None else data)


def add_event(session: Session, item_id: int, kind: str, now: datetime, data: dict[str, Any] | None = None,
              actor: str = SYSTEM) -> Event:
    """Adds an event of KIND to item ITEM_ID's history in SESSION (written with the session's next flush)."""
    event = Event(**event_row(item_id, kind, now, data, actor))
    session.add(event)
    return event
