"""Who is working on what: worker names, telling a dead worker's claims apart, and per-message attempts."""
from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.models import ProcessingAttempt

# A claim by a worker on another host counts as abandoned after this long (we cannot ask its kernel).
FOREIGN_CLAIM_SECONDS = 600


def worker_name() -> str:
    """A name for this process's claims: `host:pid:token`, so a restarted worker can tell its dead
    predecessor's."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def claimant_gone(claimant: str, worker: str) -> bool:
    """Whether CLAIMANT was a process on this host that no longer runs (names as made by `worker_name`)."""
    parts = claimant.rsplit(":", 2)
    if claimant == worker or len(parts) != 3 or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False  # another host's claims wait for their time to run out
    if int(parts[1]) == os.getpid():
        return True  # our pid under another token: an earlier process that had our pid (a container's pid 1)
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, but another user's
        return False
    return False


def _abandoned(row: ProcessingAttempt, worker: str, now: datetime) -> bool:
    """Whether ROW's worker died while processing it (not: is still at it, or is us)."""
    if row.claimed_by == worker:
        return False  # our own earlier try, ended by an error we saw (a database outage): not a crash
    if claimant_gone(row.claimed_by, worker):
        return True
    foreign = row.claimed_by.rsplit(":", 2)[0] != socket.gethostname()
    return foreign and row.claimed_at < now - timedelta(seconds=FOREIGN_CLAIM_SECONDS)


@dataclass(frozen=True)
class BatchClaim:
    """What claiming a batch found: UIDs a dead worker was processing, and how often each was started
    alone."""

    crashed: frozenset[int]
    attempts: dict[int, int]


def claim_batch(session: Session, mailbox_id: int, uidvalidity: int, uids: Sequence[int], worker: str,
                now: datetime) -> BatchClaim:
    """Marks UIDS as being processed by WORKER (commit before processing); reports what earlier tries left."""
    rows = list(session.scalars(select(ProcessingAttempt).where(
        ProcessingAttempt.mailbox_id == mailbox_id, ProcessingAttempt.uidvalidity == uidvalidity,
        ProcessingAttempt.uid.in_(list(uids)))))
    crashed = frozenset(r.uid for r in rows if _abandoned(r, worker, now))
    attempts = {r.uid: r.attempts for r in rows}
    if rows:
        session.execute(update(ProcessingAttempt).where(
            ProcessingAttempt.mailbox_id == mailbox_id, ProcessingAttempt.uidvalidity == uidvalidity,
            ProcessingAttempt.uid.in_(list(attempts))).values(claimed_by=worker, claimed_at=now))
    fresh = [u for u in uids if u not in attempts]
    if fresh:
        session.execute(ProcessingAttempt.__table__.insert(), [
            {"mailbox_id": mailbox_id, "uidvalidity": uidvalidity, "uid": u, "attempts": 0,
             "claimed_by": worker,
             "claimed_at": now} for u in fresh])
    return BatchClaim(crashed, attempts)


def start_alone(session: Session, mailbox_id: int, uidvalidity: int, uid: int, worker: str,
                now: datetime, count: bool = True) -> int:
    """Counts one more start of UID processed on its own (commit before processing; COUNT false: claims it
    without counting, a restart after an end the caller saw); returns the count."""
    row = session.get(ProcessingAttempt, (mailbox_id, uidvalidity, uid))
    if row is None:
        row = ProcessingAttempt(mailbox_id=mailbox_id, uidvalidity=uidvalidity, uid=uid, attempts=0)
        session.add(row)
    if count or not row.attempts:
        row.attempts += 1
    row.claimed_by, row.claimed_at = worker, now
    return row.attempts


def release(session: Session, mailbox_id: int, uidvalidity: int, uids: Sequence[int]) -> None:
    """Forgets the attempts of UIDS, in the transaction that stores them."""
    session.execute(delete(ProcessingAttempt).where(
        ProcessingAttempt.mailbox_id == mailbox_id, ProcessingAttempt.uidvalidity == uidvalidity,
        ProcessingAttempt.uid.in_(list(uids))))
