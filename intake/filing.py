"""Files one stored message where it belongs: a new item, a follow-up on its thread, a bounce of our mail,
a staff reply, a client's decision, or a record without an item."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session

from classifiers import Prediction
from classifiers.approval import decision
from db.changes import record_decision
from db.client_view import cancel_pending_survey
from db.events import (
    ACK_SUPPRESSED,
    AUTO_REPLY_RECEIVED,
    CLASSIFIED,
    DELIVERY_FAILED,
    FOLLOW_UP,
    MESSAGE_ID_COLLISION,
    MESSAGE_RECEIVED,
    NOTE,
    REPLIED,
    THREAD_CLAIM,
    THREAD_CLAIM_REFUSED,
    add_event,
)
from db.models import Item, Message, StatusLink, User
from db.queries import (
    item_by_message_ids,
    item_by_ref,
    items_by_message_ids,
    items_by_refs,
    message_known,
    messages_with_id,
    organization_of,
    upsert_contact,
    written_to,
)
from db.status_links import new_link_row
from intake.bounces import Bounce, read_bounce
from intake.client_settings import client_mail_settings
from intake.config import Config
from intake.item_events import classified, flag_complaint
from intake.parsed import Parsed, message_row, reason
from intake.participants import Parties, first_joinable, speaks_for_client
from intake.threads import format_reference, references_in_subject, thread_ids, without_references
from intake.values import Email
from responders.alerts import enqueue_alert, new_item_events
from responders.client_mail import item_moved
from responders.compose import AckRequest, reply_promise
from responders.links import status_url
from responders.outbox import enqueue_ack

log = logging.getLogger("intake.pipeline")  # the name operators filter the pipeline's log lines on

# The database is gone or busy (down, or no connection free in the pool in time): nothing about the message is
# decided, the batch is retried later.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


class Outcome(NamedTuple):
    """What storing one message did."""

    kind: Literal["new", "follow_up", "recorded", "quarantined", "duplicate"]
    ref: str = ""
    ack_queued: bool = False
    label: str = ""  # a new item's category, and whether it is flagged for review
    flagged: bool = False


def store_one(session: Session, cfg: Config, mailbox_id: int, p: Parsed, pred: Prediction | None,
               now: datetime) -> Outcome:
    """Stores one message: as a new item, a follow-up, a record without item, or quarantined."""
    msgid = p.message_id
    if message_known(session, mailbox_id, p.raw.uidvalidity, p.raw.uid, msgid, p.digest):
        return Outcome("duplicate")
    reused = messages_with_id(session, msgid)  # a different message under a Message-ID we stored before
    row = message_row(p, mailbox_id, now)
    if p.raw.truncated:
        row.error = (f"oversize: {p.raw.size} bytes; only the headers were fetched, the message stays in the "
                     "mailbox")
    outcome = _file(session, cfg, row, p, pred, now) if not p.error else _kept(session, row)
    if reused:
        _note_collision(session, row, reused, now)
    return outcome


def _file(session: Session, cfg: Config, row: Message, p: Parsed, pred: Prediction | None,
          now: datetime) -> Outcome:
    """Decides where the message ROW belongs and stores it there, with one function per outcome."""
    email = p.email
    assert email is not None
    prefix = cfg.tracker.reference_prefix
    # The items the message names: by a reference in its subject first, then by the Message-IDs it answers.
    claimed = list(dict.fromkeys([*items_by_refs(session, references_in_subject(email.subject, prefix)),
                                  *items_by_message_ids(session, thread_ids(email))]))
    if email.screening.bounce:
        bounce = read_bounce(p.raw.raw)
        returned = item_by_message_ids(session, list(bounce.message_ids)) or item_by_ref(
            session, [r for s in bounce.subjects for r in references_in_subject(s, prefix)])
        if returned is not None:
            return _bounce(session, returned, row, email, bounce, now)
    if claimed and _is_staff(session, cfg, email.sender):
        return _staff_reply(session, claimed[0], row, email, now)
    item = _joined(session, cfg, claimed, email.sender)
    if item is not None:
        return _follow_up(session, cfg, item, row, email, now)
    if email.screening.reason:
        return _screened(session, row, email, claimed)
    assert pred is not None
    return _new_item(session, cfg, row, email, pred, now, claimed[0] if claimed else None)


def _bounce(session: Session, returned: Item, row: Message, email: Email, bounce: Bounce,
            now: datetime) -> Outcome:
    """A bounce of our mail about RETURNED: kept on that item, with the failed delivery in its history."""
    row.item = returned
    session.add(row)
    add_event(session, returned.id, DELIVERY_FAILED, now,
              {"to": ", ".join(bounce.recipients), "message_id": email.message_id,
               "error": f"bounced ({bounce.status or 'no status'})"})
    return Outcome("follow_up", returned.ref or "")


def _follow_up(session: Session, cfg: Config, item: Item, row: Message, email: Email,
               now: datetime) -> Outcome:
    """A message on ITEM's thread from someone who may join it: the client writing again, or an automatic
    reply."""
    row.item = item
    session.add(row)
    kind = AUTO_REPLY_RECEIVED if email.screening.reason else MESSAGE_RECEIVED
    add_event(session, item.id, kind, now,
              {"message_id": email.message_id, "from": email.sender, "screening": row.screening})
    if not email.screening.reason:
        # The client wrote again: a survey still waiting would ask about work they are still talking about.
        cancel_pending_survey(session, item.id, now)
        _client_decision(session, cfg, item, row, email, now)
        _flag_complaint(session, item, email, now)
    return Outcome("follow_up", item.ref or "")


def _screened(session: Session, row: Message, email: Email, claimed: list[Item]) -> Outcome:
    """Automatic mail (an auto-reply, a bounce, list mail, our own) on no thread it may join: kept, no
    item."""
    row.status = "ignored"
    session.add(row)
    if claimed:  # automatic mail from outside the thread: kept, never put on the item it names
        log.warning("event=thread_claim_refused claimed=%s from=%s message_id=%s screening=%s",
                    claimed[0].ref, email.sender, email.message_id, row.screening)
    return Outcome("recorded")


def _parties(session: Session, item: Item, with_written_to: bool = True) -> Parties:
    """Who ITEM's thread belongs to (intake.participants): its contact, their organization, whom we wrote
    to."""
    contact = item.contact
    return Parties.of(contact.email if contact else "", contact.organization_id if contact else None,
                      written_to(session, item.id) if with_written_to else ())


def _joined(session: Session, cfg: Config, claimed: list[Item], sender: str) -> Item | None:
    """The first of the CLAIMED items whose thread SENDER may join, or None."""
    if not claimed:
        return None
    organization = organization_of(session, sender, cfg.tracker.free_mail_domains) if sender else None
    return first_joinable(sender, organization, [(item, _parties(session, item)) for item in claimed])


def _new_item(session: Session, cfg: Config, row: Message, email: Email, pred: Prediction,
              now: datetime, claimed: Item | None = None) -> Outcome:
    """A client's new request: an item, its classification, and the acknowledgment in the outbox.

    CLAIMED: the item whose thread the message named although its sender is none of that thread's
    participants. The message becomes an item of its own, flagged for review and linked to CLAIMED by an event
    on each; nothing of CLAIMED (its reference, subject or Message-IDs) goes into the acknowledgment.
    """
    prefix = cfg.tracker.reference_prefix
    contact = upsert_contact(session, email.sender, email.sender_name, cfg.tracker.free_mail_domains)
    tier = contact.organization.tier if contact is not None and contact.organization is not None else ""
    subject = email.subject if claimed is None else without_references(email.subject, prefix)
    needs_review = claimed is not None or pred.needs_review(cfg.classifier.review_threshold,
                                                            cfg.classifier.model_thresholds)
    item = Item(subject=subject, category=pred.label, confidence=pred.confidence,
                sla=cfg.sla.built.for_tier(tier).snapshot(),
                needs_review=needs_review, model_version=pred.model_version,
                status="new", lang=email.lang, contact=contact, received_at=row.received_at, created_at=now)
    session.add(item)
    session.flush()
    item.ref = format_reference(prefix, item.id)
    row.item = item
    session.add(row)
    add_event(session, item.id, CLASSIFIED, now, classified(pred, item.needs_review))
    if row.error:
        add_event(session, item.id, NOTE, now, {"text": row.error})
    if claimed is not None:
        _refuse_claim(session, item, claimed, email, now)
    _flag_complaint(session, item, email, now)
    enqueue_alert(session, cfg.alerts, new_item_events(item.needs_review), item, now)
    queued = False
    if cfg.acknowledgment.enabled:
        token, link = new_link_row(item.id, now) if cfg.client_view.status_links else ("", None)
        req = AckRequest(ref=item.ref, category=item.category, lang=email.lang,
                         to_address=email.reply_to or email.sender, to_name=email.sender_name,
                         subject=subject, in_reply_to=email.message_id,
                         references=email.references if claimed is None else (), neutral=item.needs_review,
                         status_url=status_url(cfg.web.base_url, token),
                         reply_within=reply_promise(item.sla) if item.needs_review else None)
        # the item's own rows first: a failure there is the message's, not the acknowledgment's
        session.flush()
        try:
            with session.begin_nested():
                queued = enqueue_ack(session, item, req, cfg.smtp.from_address,
                                     cfg.acknowledgment.team_for(req.lang),
                                     now,
                                     cfg.acknowledgment.max_per_sender_per_hour) is not None
                if queued and link is not None:
                    session.add(StatusLink(**link))
        except DATABASE_DOWN:
            raise
        except Exception as exc:  # the client's request is kept; only the automatic answer is lost
            log.exception("event=ack_failed ref=%s", item.ref)
            add_event(session, item.id, ACK_SUPPRESSED, now,
                      {"reason": "build_failed", "error": reason(exc)[:500]})
    return Outcome("new", item.ref, queued, item.category, item.needs_review)


def _refuse_claim(session: Session, item: Item, claimed: Item, email: Email, now: datetime) -> None:
    """Links ITEM, new, to CLAIMED, the item whose thread its message named without its sender belonging
    there."""
    add_event(session, item.id, THREAD_CLAIM, now, {"ref": claimed.ref, "message_id": email.message_id})
    add_event(session, claimed.id, THREAD_CLAIM_REFUSED, now,
              {"ref": item.ref, "from": email.sender, "message_id": email.message_id})
    log.warning("event=thread_claim_refused ref=%s claimed=%s from=%s message_id=%s", item.ref, claimed.ref,
                email.sender, email.message_id)


def _kept(session: Session, row: Message) -> Outcome:
    session.add(row)
    return Outcome("quarantined")


def _note_collision(session: Session, row: Message, others: list[int], now: datetime) -> None:
    """Records that ROW, a message of its own, reuses the Message-ID of OTHERS."""
    session.flush()
    log.warning("event=message_id_collision message_id=%s message=%s others=%s", row.message_id, row.id,
                ",".join(map(str, others)))
    if row.item_id is not None:
        add_event(session, row.item_id, MESSAGE_ID_COLLISION, now,
                  {"message_id": row.message_id, "message": row.id, "others": others})


def _client_decision(session: Session, cfg: Config, item: Item, row: Message, email: Email,
                     now: datetime) -> None:
    """A client's "approve" or "reject" in answer to an impact assessment moves the change request on."""
    if item.category != "change_request" or item.status != "awaiting_approval":
        return
    organization = organization_of(session, email.sender, cfg.tracker.free_mail_domains)
    if not speaks_for_client(email.sender, organization, _parties(session, item, with_written_to=False)):
        # Only the contact or their organization decides: not someone we copied in, nor a stranger at the same
        # free-mail domain, nor our own staff.
        return
    found = decision(email.subject, email.text)
    if found:
        session.flush()  # the message's id is the evidence
        record_decision(session, item, found, email.sender, now, evidence=row)
        # The same update and survey as when a PM records the decision: the survey links are signed here too.
        item_moved(session, item, client_mail_settings(cfg, session=session), now)
        enqueue_alert(session, cfg.alerts, (f"change_{found}",), item, now, decided_by=email.sender)
        log.info("event=client_decision ref=%s decision=%s message_id=%s", item.ref, found, email.message_id)


def _is_staff(session: Session, cfg: Config, sender: str) -> bool:
    """Whether SENDER is one of the team: a user of the app, or an address in a staff domain."""
    if not sender:
        return False
    domain = sender.rpartition("@")[2]
    if domain in {d.lower() for d in cfg.tracker.staff_domains}:
        return True
    return session.scalar(select(User.id).where(User.email == sender, User.active.is_(True))) is not None


def _staff_reply(session: Session, item: Item, row: Message, email: Email, now: datetime) -> Outcome:
    """A team member answered from their own mail client with the support address in copy: our message,
    and the first human response if none came before."""
    row.item, row.direction = item, "out"
    session.add(row)
    answered = row.received_at  # when our server got it; the Date header is the sender's clock
    first = item.first_response_at is None or answered < item.first_response_at
    if first:
        item.first_response_at = answered
    add_event(session, item.id, REPLIED, now, {"message_id": email.message_id, "via": "mail",
                                               "first_response": first},
              actor=email.sender)
    log.info("event=staff_reply ref=%s from=%s", item.ref, email.sender)
    return Outcome("follow_up", item.ref or "")


def _flag_complaint(session: Session, item: Item, email: Email, now: datetime) -> None:
    """Flags ITEM for a PM's follow-up when EMAIL is unhappy feedback (intake.item_events)."""
    data = flag_complaint(item, email)
    if data is not None:
        add_event(session, item.id, FOLLOW_UP, now, data)
