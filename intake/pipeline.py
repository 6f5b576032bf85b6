"""Processes one fetched batch: parse, screen, classify, thread, store and enqueue acknowledgments in one
transaction.

No message can hold up a mailbox: a batch that fails as a whole, in any stage, is processed again one
message at a time, and a message that still fails is quarantined with its raw bytes and the reason. A batch
whose worker died is processed one at a time as well, and a message that keeps killing workers is
quarantined instead of being retried forever (db.claims).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from classifiers import LABELS, Classifier, Prediction
from classifiers.approval import decision
from classifiers.prediction import NO_TEXT
from db.changes import record_decision
from db.claims import claim_batch, release, start_alone, worker_name
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
from db.models import Item, Mailbox, Message, StatusLink, User
from db.queries import (
    item_by_message_ids,
    item_by_ref,
    items_by_message_ids,
    items_by_refs,
    lock_mailbox,
    message_known,
    messages_with_id,
    organization_of,
    upsert_contact,
    written_to,
)
from db.status_links import new_link_row
from db.types import utcnow
from intake.batch_follow_ups import store_follow_ups
from intake.batch_store import split_batch, store_bulk
from intake.bounces import Bounce, read_bounce
from intake.client_settings import client_mail_settings
from intake.config import Config
from intake.identity import content_digest
from intake.item_events import classified, flag_complaint
from intake.parsed import Parsed, message_row, parse_one, reason
from intake.participants import Parties, first_joinable, speaks_for_client
from intake.prepare import Prepared, prepare
from intake.threads import format_reference, references_in_subject, thread_ids, without_references
from intake.values import Email, RawMail
from responders.alerts import enqueue_alert, new_item_events
from responders.client_mail import item_moved
from responders.compose import AckRequest, reply_promise
from responders.links import status_url
from responders.outbox import enqueue_ack

log = logging.getLogger("intake.pipeline")

# The database is gone or busy (down, or no connection free in the pool in time): nothing about the message is
# decided, the batch is retried later.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
# A message alone that was being processed this many times when its worker died is quarantined.
MAX_CRASHES = 3
_WORKER = worker_name()  # this process's name on its claims, unless the caller gives one
# Messages this process was processing alone when the database went away: it saw that end, so the next start
# is no crash and does not count toward MAX_CRASHES (a message is never quarantined for the database's sake).
_OUTAGE_ENDED: set[tuple[str, int, int]] = set()


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
    classified: list[tuple[str, bool]] = field(default_factory=list)  # new items' categories, flagged or not
    screened: list[str] = field(default_factory=list)  # the screening reason of each message that had one
    one_by_one: bool = False  # the batch failed as a whole, or its worker died: processed message by message

    @property
    def stored(self) -> int:
        return len(self.new_items) + len(self.follow_ups) + self.recorded + self.quarantined


class Outcome(NamedTuple):
    """What storing one message did."""

    kind: Literal["new", "follow_up", "recorded", "quarantined", "duplicate"]
    ref: str = ""
    ack_queued: bool = False
    label: str = ""  # a new item's category, and whether it is flagged for review
    flagged: bool = False


def classify_one(p: Parsed, classifier: Classifier) -> Prediction | None:
    """P's prediction on its own (None when it has no parsed email); a classifier failure is an unsure
    guess."""
    if p.email is None:
        return None
    try:
        return classifier.predict_many([(p.email.subject, p.email.text)])[0]
    except Exception:  # the text is readable: keep it as an item for a PM to classify
        log.exception("event=classify_failed mailbox=%s uid=%s", p.raw.mailbox, p.raw.uid)
        return _unsure(classifier)


def _unsure(classifier: Classifier) -> Prediction:
    """The prediction of an email the classifier could not read: every category equally likely."""
    share = 1.0 / len(LABELS)
    return Prediction(label=LABELS[0], confidence=share, lang=NO_TEXT, model_version=classifier.version,
                      scores={label: share for label in LABELS})


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


def _quarantine(session: Session, mailbox_id: int, p: Parsed, now: datetime,
                minimal: bool = False) -> Outcome:
    """Keeps P's raw bytes as a quarantined message with P.error as the reason (unless it is stored
    already)."""
    if message_known(session, mailbox_id, p.raw.uidvalidity, p.raw.uid, p.message_id, p.digest):
        return Outcome("duplicate")
    session.add(message_row(p, mailbox_id, now, minimal))
    return Outcome("quarantined")


def _record(result: BatchResult, outcome: Outcome, p: Parsed) -> None:
    email = p.email
    if email is not None and email.screening.reason and outcome.kind not in ("quarantined", "duplicate"):
        result.screened.append(email.screening.reason)
    if outcome.kind == "new":
        result.new_items.append(outcome.ref)
        result.classified.append((outcome.label, outcome.flagged))
        log.info("event=item_created ref=%s from=%s uid=%s", outcome.ref, email.sender if email else "",
                 p.raw.uid)
    elif outcome.kind == "follow_up":
        result.follow_ups.append(outcome.ref)
        log.info("event=follow_up ref=%s uid=%s", outcome.ref, p.raw.uid)
    elif outcome.kind == "recorded":
        result.recorded += 1
        log.info("event=not_acknowledged reason=%s uid=%s", email.screening.reason if email else "",
                 p.raw.uid)
    elif outcome.kind == "quarantined":
        result.quarantined += 1
        log.warning("event=quarantined mailbox=%s uid=%s message_id=%s error=%r", p.raw.mailbox, p.raw.uid,
                    p.message_id, p.error)
    else:
        result.duplicates += 1
    result.acks_queued += outcome.ack_queued
    if not p.raw.unreadable:  # what could not be read is left where it is, for the admin to find
        result.processed_uids.append(p.raw.uid)


def _store_with_retry(session: Session, cfg: Config, mailbox_id: int, p: Parsed, pred: Prediction | None,
                      now: datetime) -> tuple[Outcome, Parsed]:
    """Stores P in a savepoint; a failure of this message alone quarantines it (returned with the reason)."""
    for _attempt in (1, 2):
        try:
            with session.begin_nested():
                return store_one(session, cfg, mailbox_id, p, pred, now), p
        except IntegrityError:
            # Another worker stored the same message (or contact) a moment ago: look again.
            continue
        except DATABASE_DOWN:
            raise
        except Exception as exc:  # one bad message must never stop the batch
            # The warning comes once, as event=quarantined; the traceback is for whoever debugs it.
            log.debug("event=store_failed mailbox=%s uid=%s", p.raw.mailbox, p.raw.uid, exc_info=True)
            bad = Parsed(p.raw, p.email, p.digest, reason(exc))
            with session.begin_nested():
                return _quarantine(session, mailbox_id, bad, now), bad
    return Outcome("duplicate"), p


def _advance(box: Mailbox, raws: Sequence[RawMail], now: datetime) -> None:
    box.uidvalidity = raws[0].uidvalidity
    box.last_uid = max(box.last_uid or 0, *(r.uid for r in raws))
    box.last_sync_at = now


def model_of(classifier: Classifier | Callable[[], Classifier]) -> Classifier:
    """The model itself, from a function giving it when the caller loads it only on demand."""
    return classifier if isinstance(classifier, Classifier) else classifier()


def _together(factory: sessionmaker[Session], cfg: Config, mailbox: str, raws: Sequence[RawMail],
              classifier: Classifier | Callable[[], Classifier], prepared: Prepared | None) -> BatchResult:
    """The batch in one pass: parsed, classified together, stored in one transaction (plain new mail in
    bulk)."""
    result = BatchResult()
    prepared = prepared or prepare(raws, cfg, model_of(classifier))
    parsed, preds = prepared.parsed, prepared.preds
    now = utcnow()
    with factory.begin() as session:
        box = lock_mailbox(session, mailbox)
        split = split_batch(session, cfg, box.id, parsed)
        outcomes: dict[int, tuple[Outcome, Parsed]] = {i: (Outcome("duplicate"),
                                                           parsed[i]) for i in split.known}
        for stored in store_bulk(session, cfg, box.id, parsed, split.bulk, preds, now):
            kind = "new" if stored.ref else "recorded"
            outcome = Outcome(kind, stored.ref, stored.ack_queued, stored.label, stored.flagged)
            outcomes[stored.index] = (outcome, parsed[stored.index])
        joined, left = store_follow_ups(session, cfg, box.id, parsed, split.threaded, now)
        for i, ref in joined:
            outcomes[i] = (Outcome("follow_up", ref), parsed[i])
        session.flush()  # the bulk rows are what the messages stored one by one may follow up on
        for i in sorted([*split.one_by_one, *left]):
            p = parsed[i]
            outcomes[i] = _store_with_retry(session, cfg, box.id, p, preds.get(p.raw.uid), now)
        for i in sorted(outcomes):
            _record(result, *outcomes[i])
        _advance(box, raws, now)
        release(session, box.id, raws[0].uidvalidity, [r.uid for r in raws])
    return result


def _alone(factory: sessionmaker[Session], cfg: Config, mailbox: str, raw: RawMail, classifier: Classifier,
           worker: str, result: BatchResult) -> None:
    """RAW on its own, in its own transactions; whatever fails quarantines it and moves the mailbox past
    it."""
    now = utcnow()
    key = (mailbox, raw.uidvalidity, raw.uid)
    with factory.begin() as session:
        box = lock_mailbox(session, mailbox)
        starts = start_alone(session, box.id, raw.uidvalidity, raw.uid, worker, now,
                             count=key not in _OUTAGE_ENDED)
    _OUTAGE_ENDED.discard(key)
    p = Parsed(raw, None, content_digest(raw.raw))
    try:
        if starts > MAX_CRASHES:
            raise RuntimeError(f"the worker stopped {starts - 1} times while processing this message; it is "
                               "quarantined so that the mail after it is not held up")
        p = parse_one(raw, cfg, cfg.own_addresses())
        pred = classify_one(p, classifier)
        with factory.begin() as session:
            box = lock_mailbox(session, mailbox)
            outcome, p = _store_with_retry(session, cfg, box.id, p, pred, now)
            _advance(box, [raw], now)
            release(session, box.id, raw.uidvalidity, [raw.uid])
    except DATABASE_DOWN:
        _OUTAGE_ENDED.add(key)
        raise
    except Exception as exc:
        p = Parsed(raw, p.email, p.digest, reason(exc))
        try:
            outcome = _quarantine_alone(factory, mailbox, p, now)
        except DATABASE_DOWN:
            _OUTAGE_ENDED.add(key)
            raise
    _record(result, outcome, p)


def _quarantine_alone(factory: sessionmaker[Session], mailbox: str, p: Parsed, now: datetime) -> Outcome:
    """Quarantines P in a transaction of its own; if even what was read of it is refused, with its bytes
    alone."""
    for minimal in (False, True):
        try:
            with factory.begin() as session:
                box = lock_mailbox(session, mailbox)
                outcome = _quarantine(session, box.id, p, now, minimal)
                _advance(box, [p.raw], now)
                release(session, box.id, p.raw.uidvalidity, [p.raw.uid])
            return outcome
        except DATABASE_DOWN:
            raise
        except Exception:
            if minimal:
                raise
            log.exception("event=quarantine_failed mailbox=%s uid=%s detail=\"keeping the raw bytes alone\"",
                          mailbox, p.raw.uid)
    raise AssertionError("unreachable")


def process_batch(factory: sessionmaker[Session], cfg: Config, mailbox: str, raws: Sequence[RawMail],
                  classifier: Classifier | Callable[[], Classifier], worker: str = "",
                  prepared: Prepared | None = None) -> BatchResult:
    """Stores RAWS and advances the mailbox's sync state; never stops on a message, only on the database.

    CLASSIFIER may be a function giving the model, called only when a message is read here (not in PREPARED).
    WORKER names this process on its claims (one name per process by default). PREPARED: RAWS already read and
    classified (intake.prepare); a batch processed one message at a time is read again here.
    """
    if not raws:
        return BatchResult()
    if prepared is None:
        # Loaded before the batch is claimed: a worker stopped while its model loads has not crashed on it.
        classifier = model_of(classifier)
    worker = worker or _WORKER
    uidvalidity = raws[0].uidvalidity
    with factory.begin() as session:
        box = lock_mailbox(session, mailbox)
        claim = claim_batch(session, box.id, uidvalidity, [r.uid for r in raws], worker, utcnow())
    if claim.crashed:
        log.warning("event=batch_after_crash mailbox=%s uids=%s detail=\"a worker died processing these; "
                    "processing them one at a time\"", mailbox, ",".join(map(str, sorted(claim.crashed))))
    else:
        try:
            return _together(factory, cfg, mailbox, raws, classifier, prepared)
        except DATABASE_DOWN:
            raise
        except Exception:
            log.exception("event=batch_failed mailbox=%s first_uid=%s count=%d detail=\"processing the batch "
                          "one message at a time\"", mailbox, raws[0].uid, len(raws))
    result = BatchResult(one_by_one=True)
    # Loaded before any message is started on its own: a stop while it loads must not count as that message's.
    classifier = model_of(classifier)
    for raw in raws:
        _alone(factory, cfg, mailbox, raw, classifier, worker, result)
    return result
