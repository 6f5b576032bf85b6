"""The webhook delivery queue: claiming due rows, booking each call's outcome, and the delivery log's
queries."""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from db.claims import claimant_gone
from db.models import WebhookDelivery

PENDING, SENT, FAILED = "pending", "sent", "failed"
STATUSES = (PENDING, SENT, FAILED)


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery, as the sending threads need it (no ORM object crosses threads)."""

    id: int
    delivery_id: str
    target: str
    event: str
    ref: str
    body: str
    attempts: int


def release_dead_claims(session: Session, worker: str, now: datetime) -> list[str]:
    """Frees the claims of crashed workers on this host, so their deliveries go out now, not when claims run
    out."""
    owners = session.scalars(select(WebhookDelivery.claimed_by).distinct().where(
        WebhookDelivery.status == PENDING, WebhookDelivery.claimed_until >= now))
    dead = [o for o in owners if claimant_gone(o, worker)]
    if dead:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.status == PENDING,
                                                      WebhookDelivery.claimed_by.in_(dead))
                        .values(claimed_until=None))
    return dead


def claim(session: Session, worker: str, targets: Collection[str], now: datetime, claim_seconds: float,
          limit: int) -> list[Claimed]:
    """Claims up to LIMIT due deliveries to TARGETS for WORKER (no other worker sends them meanwhile), oldest
    first.

    Rows of targets this worker does not know (removed from its configuration) stay pending, in the log.
    """
    if not targets:
        return []
    due = (select(WebhookDelivery.id)
           .where(WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now,
                  WebhookDelivery.target.in_(sorted(targets)),
                  or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now))
           .order_by(WebhookDelivery.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                    .values(claimed_by=worker, claimed_until=now + timedelta(seconds=claim_seconds)))
    rows = session.scalars(select(WebhookDelivery).options(selectinload(WebhookDelivery.item))
                           .where(WebhookDelivery.id.in_(ids)).order_by(WebhookDelivery.id))
    return [Claimed(r.id, r.delivery_id, r.target, r.event, r.item.ref or "" if r.item else "", r.body,
                    r.attempts)
            for r in rows]


def mark_sent(session: Session, row_id: int, status: int, now: datetime) -> None:
    """Books ROW_ID as delivered (the target answered STATUS)."""
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(
        status=SENT, sent_at=now, attempts=WebhookDelivery.attempts + 1, claimed_until=None,
        last_status=status,
        last_error=""))


def mark_failed(session: Session, row_id: int, error: str, status: int | None,
                retry_at: datetime | None) -> None:
    """Books a failed call of ROW_ID: tried again at RETRY_AT, or for good (failed) when RETRY_AT is None."""
    values: dict[str, object] = dict(attempts=WebhookDelivery.attempts + 1, claimed_until=None,
                                     last_error=error[:2000], last_status=status)
    if retry_at is None:
        values["status"] = FAILED
    else:
        values["next_attempt_at"] = retry_at
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row_id).values(**values))


def postpone(session: Session, ids: Sequence[int], until: datetime, reason: str) -> None:
    """Puts IDS back unsent until UNTIL without counting a try: their target just failed on an earlier row."""
    if ids:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id.in_(list(ids))).values(
            next_attempt_at=until, claimed_until=None, last_error=reason[:2000]))


def retry_failed(session: Session, row_id: int, now: datetime) -> bool:
    """An admin's "try again" on a failed delivery: pending, due now, its tries counted afresh."""
    done = session.execute(update(WebhookDelivery).where(WebhookDelivery.id == row_id,
                                                         WebhookDelivery.status == FAILED)
                           .values(status=PENDING, attempts=0, next_attempt_at=now, claimed_until=None))
    return bool(done.rowcount)


@dataclass(frozen=True)
class TargetCounts:
    """How many deliveries to one target are pending, sent and failed, and when the latest one went out."""

    target: str
    pending: int = 0
    sent: int = 0
    failed: int = 0
    last_sent_at: datetime | None = None


def counts_by_target(session: Session) -> dict[str, TargetCounts]:
    """Each target's counts, for every target that has deliveries."""
    rows = session.execute(select(WebhookDelivery.target, WebhookDelivery.status,
                                  func.count(WebhookDelivery.id),
                                  func.max(WebhookDelivery.sent_at))
                           .group_by(WebhookDelivery.target, WebhookDelivery.status))
    found: dict[str, dict[str, object]] = {}
    for target, status, count, last in rows:
        entry = found.setdefault(target, {"target": target})
        if status in STATUSES:
            entry[status] = count
        if last is not None and (entry.get("last_sent_at") is None
                                 or last > entry["last_sent_at"]):  # type: ignore
            entry["last_sent_at"] = last
    return {t: TargetCounts(**v) for t, v in found.items()}  # type: ignore[arg-type]


def deliveries(session: Session, target: str | None, status: str | None, limit: int,
               offset: int) -> tuple[int, list[WebhookDelivery]]:
    """The delivery log, newest first, optionally of one target and one status: the total and one page."""
    query = select(WebhookDelivery)
    if target:
        query = query.where(WebhookDelivery.target == target)
    if status:
        query = query.where(WebhookDelivery.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = list(session.scalars(query.options(selectinload(WebhookDelivery.item))
                                .order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)))
    return total, rows
