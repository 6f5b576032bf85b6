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

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from classifiers import LABELS, Classifier, Prediction
from classifiers.prediction import NO_TEXT
from db.claims import claim_batch, release, start_alone, worker_name
from db.models import Mailbox
from db.queries import (
    lock_mailbox,
    message_known,
)
from db.types import utcnow
from intake.batch_follow_ups import store_follow_ups
from intake.batch_store import split_batch, store_bulk
from intake.config import Config
from intake.filing import DATABASE_DOWN, Outcome, store_one
from intake.identity import content_digest
from intake.parsed import Parsed, message_row, parse_one, reason
from intake.prepare import Prepared, prepare
from intake.values import RawMail

log = logging.getLogger("intake.pipeline")

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
