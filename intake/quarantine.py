"""Quarantined messages put right: each one run again through the current code exactly once, or deleted.

After an upgrade that fixes what made a message fail, `retry` stores it as it would be stored today: an item
with its acknowledgment, a follow-up, or a record. The quarantined row is replaced in the same transaction, so
two retries at once (or a retry and the worker) cannot store it twice; a message that still fails stays
quarantined with the new reason. Deleting one is `db.quarantine.delete_quarantined`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from classifiers import Classifier
from db.quarantine import QUARANTINED, quarantined_ids, quarantined_message
from db.types import utcnow
from intake.config import Config
from intake.filing import DATABASE_DOWN, store_one
from intake.parsed import parse_one
from intake.pipeline import classify_one, model_of
from intake.values import RawMail

log = logging.getLogger("intake.quarantine")


@dataclass(frozen=True)
class RetryOutcome:
    """What a retry did with one quarantined message."""

    message: int  # the quarantined message's id
    # new, follow_up, recorded, duplicate, quarantined (still), or gone (no such quarantined message)
    kind: str
    ref: str = ""
    error: str = ""
    ack_queued: bool = False


class _StillQuarantined(Exception):
    """The message fails again with the current code."""


def retry(factory: sessionmaker[Session], cfg: Config, ids: Sequence[int],
          classifier: Classifier) -> list[RetryOutcome]:
    """Runs the quarantined messages IDS through the current code, each in its own transaction."""
    return [_retry_one(factory, cfg, message_id, classifier) for message_id in ids]


def _retry_one(factory: sessionmaker[Session], cfg: Config, message_id: int,
               classifier: Classifier) -> RetryOutcome:
    now = utcnow()
    with factory.begin() as session:
        found = quarantined_message(session, message_id, lock=True)
        if found is None:
            return RetryOutcome(message_id, "gone")
        row, mailbox = found
        if not row.raw:
            # Nothing was ever read (the server withheld the content, or the message was empty): running it
            # again would only overwrite the reason, which says what to do instead.
            row.status = QUARANTINED
            log.warning("event=quarantine_retry_failed message=%s error=%r", message_id, row.error)
            return RetryOutcome(message_id, "quarantined", error=row.error or "")
        raw = RawMail(mailbox, row.uidvalidity or 0, row.uid or 0, row.raw, row.received_at, row.size)
        parsed = parse_one(raw, cfg, cfg.own_addresses())
        pred = classify_one(parsed, classifier)
        savepoint = session.begin_nested()
        try:
            session.delete(row)  # the message is stored anew under the same mailbox position
            session.flush()
            if row.mailbox_id is None:
                raise _StillQuarantined("the message has no mailbox position to be stored under")
            outcome = store_one(session, cfg, row.mailbox_id, parsed, pred, now)
            if outcome.kind == "quarantined":
                raise _StillQuarantined(parsed.error)
            savepoint.commit()
        except DATABASE_DOWN:
            raise
        except Exception as exc:
            savepoint.rollback()
            reason = str(exc) if isinstance(exc, _StillQuarantined) else f"{type(exc).__name__}: {exc}"
            row.error, row.status = reason[:2000], QUARANTINED
            log.warning("event=quarantine_retry_failed message=%s error=%r", message_id, reason)
            return RetryOutcome(message_id, "quarantined", error=reason)
    log.info("event=quarantine_retried message=%s outcome=%s ref=%s", message_id, outcome.kind, outcome.ref)
    return RetryOutcome(message_id, outcome.kind, outcome.ref, ack_queued=outcome.ack_queued)


def retry_requested(factory: sessionmaker[Session], cfg: Config,
                    classifier: Classifier | Callable[[], Classifier]) -> list[RetryOutcome]:
    """Retries the quarantined messages an admin asked to run again (from the web app).

    CLASSIFIER may be a function giving the model, called only when there is something to retry.
    """
    with factory() as session:
        ids = quarantined_ids(session, retry_requested_only=True)
    if not ids:
        return []
    return retry(factory, cfg, ids, model_of(classifier))
