"""Processes one fetched batch: parse, screen, classify, thread, store and enqueue acknowledgments in one transaction."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from classifiers import Classifier, Prediction
from classifiers.approval import decision
from classifiers.sentiment import is_negative
from db.changes import record_decision
from db.models import Attachment, Event, Item, Message, User
from db.queries import item_by_message_ids, item_by_ref, lock_mailbox, message_known, upsert_contact
from db.types import utcnow
from intake.bounces import read_bounce
from intake.config import Config
from intake.parse import ParseError, parse_email, synthetic_message_id
from intake.screen import screen
from intake.threads import format_reference, references_in_subject, thread_ids
from intake.values import Email, RawMail
from responders.compose import AckRequest
from responders.outbox import enqueue_ack

log = logging.getLogger("intake.pipeline")


@dataclass
class BatchResult:
    """What one batch did, message by message."""

    new_items: list[str] = field(default_factory=list)
    follow_ups: list[str] = field(default_factory=list)
    recorded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    acks_queued: int = 0
    processed_uids: list[int] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return len(self.new_items) + len(self.follow_ups) + self.recorded + self.quarantined


@dataclass(frozen=True)
class Parsed:
    raw: RawMail
    email: Email | None
    error: str = ""


def parse_batch(raws: Sequence[RawMail], cfg: Config) -> list[Parsed]:
    """Parses and screens every message; a failure becomes an error to quarantine."""
    own = cfg.own_addresses()
    out = []
    for raw in raws:
        try:
            email = parse_email(raw.raw)
        except ParseError as exc:
            out.append(Parsed(raw, None, str(exc)))
            continue
        out.append(Parsed(raw, screen(email, own, raw.size, cfg.tracker.max_message_bytes)))
    return out


def classify_batch(parsed: Sequence[Parsed], classifier: Classifier) -> dict[int, Prediction]:
    """Predictions for every parsed email, keyed by UID, in one pass over the batch."""
    todo = [p for p in parsed if p.email is not None]
    # The classifier reads the whole text and keeps only what the client wrote now, as in training.
    preds = classifier.predict_many([(p.email.subject, p.email.text) for p in todo])  # type: ignore[union-attr]
    return {p.raw.uid: pred for p, pred in zip(todo, preds)}


def _message_row(p: Parsed, mailbox_id: int, email: Email | None, now: datetime) -> Message:
    raw = p.raw
    received = raw.internal_date or now
    if email is None:
        return Message(direction="in", mailbox_id=mailbox_id, uidvalidity=raw.uidvalidity, uid=raw.uid,
                       message_id=synthetic_message_id(raw.raw), received_at=received, size=raw.size or len(raw.raw),
                       status="quarantined", error=p.error[:2000], raw=raw.raw)
    return Message(
        direction="in", mailbox_id=mailbox_id, uidvalidity=raw.uidvalidity, uid=raw.uid,
        message_id=email.message_id, in_reply_to=email.in_reply_to, references=" ".join(email.references),
        sender=email.sender[:320], sender_name=email.sender_name[:300], recipients=", ".join(email.recipients),
        subject=email.subject, sent_at=email.date, received_at=received, body_text=email.text,
        new_text=email.new_text, body_html=email.html, lang=email.lang, size=raw.size or len(raw.raw),
        screening=email.screening.reason or ("oversize" if email.screening.oversize else ""),
        raw=raw.raw,
        attachments=[Attachment(filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256)
                     for a in email.attachments],
    )


def _store_one(session: Session, cfg: Config, mailbox_id: int, p: Parsed, pred: Prediction | None,
               now: datetime) -> tuple[str, str, bool]:
    """Stores one message; returns (outcome, item reference, acknowledgment queued)."""
    email = p.email
    msgid = email.message_id if email else synthetic_message_id(p.raw.raw)
    if message_known(session, mailbox_id, p.raw.uidvalidity, p.raw.uid, msgid):
        return "duplicate", "", False
    row = _message_row(p, mailbox_id, email, now)
    if p.raw.truncated:
        row.error = f"oversize: {p.raw.size} bytes; only the headers were fetched, the message stays in the mailbox"
    if email is None:
        session.add(row)
        return "quarantined", "", False
    prefix = cfg.tracker.reference_prefix
    item = item_by_ref(session, references_in_subject(email.subject, prefix)) or item_by_message_ids(
        session, thread_ids(email))
    if email.screening.bounce:
        bounce = read_bounce(p.raw.raw)
        returned = item_by_message_ids(session, list(bounce.message_ids)) or item_by_ref(
            session, [r for s in bounce.subjects for r in references_in_subject(s, prefix)])
        if returned is not None:
            row.item = returned
            session.add(row)
            session.add(Event(item_id=returned.id, kind="delivery_failed", created_at=now,
                              data={"to": ", ".join(bounce.recipients), "message_id": email.message_id,
                                    "error": f"bounced ({bounce.status or 'no status'})"}))
            return "follow_up", returned.ref or "", False
    if item is not None and _is_staff(session, cfg, email.sender):
        return _staff_reply(session, item, row, email, now)
    if item is not None:
        row.item = item
        session.add(row)
        kind = "auto_reply_received" if email.screening.reason else "message_received"
        session.add(Event(item_id=item.id, kind=kind, created_at=now,
                          data={"message_id": email.message_id, "from": email.sender, "screening": row.screening}))
        if not email.screening.reason:
            _client_decision(session, item, row, email, now)
            _flag_complaint(session, item, email, now)
        return "follow_up", item.ref or "", False
    if email.screening.reason:
        row.status = "ignored"
        session.add(row)
        return "recorded", "", False
    assert pred is not None
    contact = upsert_contact(session, email.sender, email.sender_name)
    tier = contact.organization.tier if contact is not None and contact.organization is not None else ""
    item = Item(subject=email.subject, category=pred.label, confidence=pred.confidence,
                sla=cfg.sla.built.for_tier(tier).snapshot(),
                needs_review=pred.needs_review(cfg.classifier.review_threshold), model_version=pred.model_version,
                status="new", lang=email.lang, contact=contact, received_at=row.received_at, created_at=now)
    session.add(item)
    session.flush()
    item.ref = format_reference(prefix, item.id)
    row.item = item
    session.add(row)
    session.add(Event(item_id=item.id, kind="classified", created_at=now,
                      data={"label": pred.label, "confidence": round(pred.confidence, 4), "scores": pred.scores,
                            "model_version": pred.model_version, "needs_review": item.needs_review}))
    if row.error:
        session.add(Event(item_id=item.id, kind="note", created_at=now, data={"text": row.error}))
    _flag_complaint(session, item, email, now)
    queued = False
    if cfg.acknowledgment.enabled:
        req = AckRequest(ref=item.ref, category=item.category, lang=email.lang,
                         to_address=email.reply_to or email.sender, to_name=email.sender_name,
                         subject=email.subject, in_reply_to=email.message_id, references=email.references)
        queued = enqueue_ack(session, item, req, cfg.smtp.from_address, cfg.acknowledgment.team_name, now,
                             cfg.acknowledgment.max_per_sender_per_hour) is not None
    return "new", item.ref, queued


def _client_decision(session: Session, item: Item, row: Message, email: Email, now: datetime) -> None:
    """A client's "approve" or "reject" in answer to an impact assessment moves the change request on."""
    if item.category != "change_request" or item.status != "awaiting_approval":
        return
    client = item.contact.email if item.contact else ""
    if email.sender.rpartition("@")[2].lower() != client.rpartition("@")[2].lower():
        return  # someone else in the thread (our own staff, a forwarded copy) does not decide for the client
    found = decision(email.subject, email.text)
    if found:
        session.flush()  # the message's id is the evidence
        record_decision(session, item, found, email.sender, now, evidence=row)
        log.info("event=client_decision ref=%s decision=%s message_id=%s", item.ref, found, email.message_id)


def _is_staff(session: Session, cfg: Config, sender: str) -> bool:
    """Whether SENDER is one of the team: a user of the app, or an address in a staff domain."""
    if not sender:
        return False
    domain = sender.rpartition("@")[2]
    if domain in {d.lower() for d in cfg.tracker.staff_domains}:
        return True
    return session.scalar(select(User.id).where(User.email == sender, User.active.is_(True))) is not None


def _staff_reply(session: Session, item: Item, row: Message, email: Email, now: datetime) -> tuple[str, str, bool]:
    """A team member answered from their own mail client with the support address in copy: our message,
    and the first human response if none came before."""
    row.item, row.direction = item, "out"
    session.add(row)
    answered = row.received_at  # when our server got it; the Date header is the sender's clock
    first = item.first_response_at is None or answered < item.first_response_at
    if first:
        item.first_response_at = answered
    session.add(Event(item_id=item.id, kind="replied", actor=email.sender, created_at=now,
                      data={"message_id": email.message_id, "via": "mail", "first_response": first}))
    log.info("event=staff_reply ref=%s from=%s", item.ref, email.sender)
    return "follow_up", item.ref or "", False


def _flag_complaint(session: Session, item: Item, email: Email, now: datetime) -> None:
    """Unhappy feedback is flagged for a PM to follow up; a PM clears the flag, a new complaint sets it again."""
    if item.category != "feedback" or item.follow_up or not is_negative(email.subject, email.text):
        return
    item.follow_up = True
    session.add(Event(item_id=item.id, kind="follow_up", created_at=now,
                      data={"on": True, "reason": "negative feedback", "message_id": email.message_id}))
    log.info("event=follow_up_flagged ref=%s reason=negative_feedback", item.ref)


def _quarantine_after_error(session: Session, mailbox_id: int, p: Parsed, error: str, now: datetime) -> None:
    bad = Parsed(p.raw, None, error)
    if not message_known(session, mailbox_id, p.raw.uidvalidity, p.raw.uid, synthetic_message_id(p.raw.raw)):
        session.add(_message_row(bad, mailbox_id, None, now))


def _record(result: BatchResult, outcome: str, ref: str, queued: bool, p: Parsed) -> None:
    email = p.email
    if outcome == "new":
        result.new_items.append(ref)
        log.info("event=item_created ref=%s from=%s uid=%s", ref, email.sender if email else "", p.raw.uid)
    elif outcome == "follow_up":
        result.follow_ups.append(ref)
        log.info("event=follow_up ref=%s uid=%s", ref, p.raw.uid)
    elif outcome == "recorded":
        result.recorded += 1
        log.info("event=not_acknowledged reason=%s uid=%s", email.screening.reason if email else "", p.raw.uid)
    elif outcome == "quarantined":
        result.quarantined += 1
        log.warning("event=quarantined uid=%s error=%s", p.raw.uid, p.error)
    else:
        result.duplicates += 1
    result.acks_queued += queued


def _store_with_retry(session: Session, cfg: Config, mailbox_id: int, p: Parsed, pred: Prediction | None,
                      now: datetime) -> tuple[str, str, bool]:
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return _store_one(session, cfg, mailbox_id, p, pred, now)
        except IntegrityError:
            # Another worker stored the same message (or contact) a moment ago: look again.
            continue
        except Exception as exc:  # one bad message must never stop the batch
            log.exception("event=store_failed uid=%s", p.raw.uid)
            with session.begin_nested():
                _quarantine_after_error(session, mailbox_id, p, f"{type(exc).__name__}: {exc}", now)
            return "quarantined", "", False
    return "duplicate", "", False


def process_batch(factory: sessionmaker[Session], cfg: Config, mailbox: str, raws: Sequence[RawMail],
                  classifier: Classifier) -> BatchResult:
    """Stores RAWS and advances the mailbox's sync state in one transaction."""
    result = BatchResult()
    if not raws:
        return result
    parsed = parse_batch(raws, cfg)
    preds = classify_batch(parsed, classifier)
    now = utcnow()
    with factory.begin() as session:
        box = lock_mailbox(session, mailbox)
        for p in parsed:
            outcome = _store_with_retry(session, cfg, box.id, p, preds.get(p.raw.uid), now)
            _record(result, *outcome, p)
            result.processed_uids.append(p.raw.uid)
        uidvalidity = raws[0].uidvalidity
        box.uidvalidity = uidvalidity
        box.last_uid = max(box.last_uid or 0, *(r.uid for r in raws))
        box.last_sync_at = now
    return result
