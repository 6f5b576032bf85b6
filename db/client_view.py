"""Queries behind what clients see and answer: the messages of their view, surveys, suppressions, opt-outs."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.events import ACK_SUPPRESSED, SURVEY_CANCELLED, add_event
from db.models import Contact, Event, Item, Message, OutboxMail, Survey

# Mail sent to the client that their view shows; notices to the team and internal mail never are.
CLIENT_KINDS = ("acknowledgment", "reply", "assessment", "update")


def exchanged_messages(session: Session, item_id: int) -> list[Message]:
    """The messages exchanged with the client on ITEM_ID, oldest first: what they sent us (mail taken in, not
    automatic replies or quarantined mail) and what we sent them. Raw bytes are not loaded."""
    rows = session.scalars(select(Message).where(Message.item_id == item_id, Message.status == "processed")
                           .order_by(Message.received_at, Message.id))
    return [m for m in rows if m.direction == "out" or not m.screening]


def latest_incoming(session: Session, item_id: int) -> Message | None:
    """The newest message the client sent on ITEM_ID, the one an update answers in the thread."""
    return session.scalar(select(Message).where(Message.item_id == item_id, Message.direction == "in",
                                                Message.status == "processed")
                          .order_by(Message.received_at.desc(), Message.id.desc()).limit(1))


def suppressed_reason(session: Session, item_id: int) -> str:
    """Why ITEM_ID's acknowledgment was not sent (rate limit, no address we may write to), else ""."""
    data = session.scalar(select(Event.data).where(Event.item_id == item_id, Event.kind == ACK_SUPPRESSED)
                          .order_by(Event.id.desc()).limit(1))
    return str((data or {}).get("reason", "suppressed")) if data is not None else ""


def survey_of(session: Session, item_id: int) -> Survey | None:
    """ITEM_ID's survey, if one was ever scheduled."""
    return session.scalar(select(Survey).where(Survey.item_id == item_id))


def cancel_pending_survey(session: Session, item_id: int, now: datetime) -> bool:
    """Cancels ITEM_ID's survey when it is still waiting in the outbox (the client wrote again); whether it
    was."""
    return bool(cancel_pending_surveys(session, [item_id], now))


def cancel_pending_surveys(session: Session, item_ids: Iterable[int], now: datetime) -> set[int]:
    """cancel_pending_survey() for each of ITEM_IDS, with two queries whatever their number; the items whose
    survey was cancelled."""
    wanted = sorted(set(item_ids))
    if not wanted:
        return set()
    surveys = {s.outbox_id: s for s in session.scalars(select(Survey).where(
        Survey.item_id.in_(wanted), Survey.status == "scheduled", Survey.outbox_id.is_not(None)))}
    if not surveys:
        return set()
    mails = session.scalars(select(OutboxMail).where(OutboxMail.id.in_(sorted(surveys)),
                                                     OutboxMail.status == "pending").with_for_update())
    done = set()
    for mail in mails:  # a survey on its way or sent is too late to take back
        survey = surveys[mail.id]
        mail.status, mail.last_error = "cancelled", "the client wrote again before the survey was due"
        survey.status = "cancelled"
        add_event(session, survey.item_id, SURVEY_CANCELLED, now, {"reason": "client_wrote"})
        done.add(survey.item_id)
    return done


def opt_out(session: Session, contact_id: int, now: datetime) -> None:
    """Marks the contact as not wanting updates or surveys any more."""
    contact = session.get(Contact, contact_id)
    if contact is not None and contact.opted_out_at is None:
        contact.opted_out_at = now


def item_of_survey(session: Session, survey_id: int, item_id: int) -> tuple[Survey, Item] | None:
    """The survey SURVEY_ID with its item, when it belongs to ITEM_ID (what a survey token names)."""
    survey = session.get(Survey, survey_id)
    if survey is None or survey.item_id != item_id:
        return None
    return survey, survey.item
