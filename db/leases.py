"""Mailbox leases: which worker serves which mailbox, renewed by heartbeats, taken over when a worker dies.

Every write is a conditional UPDATE (owner, or generation for a takeover), atomic on SQLite and PostgreSQL
alike, so two workers can never both think they took the same lease. Times are the workers' clocks: hosts
sharing a database must keep them in step (NTP) to well within the lease's length.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from db.claims import claimant_gone
from db.models import MailboxLease, WorkerPresence

# A worker row this long past its expiry is forgotten (only so the table does not grow forever).
FORGET_WORKERS_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Lease:
    """One mailbox's lease as stored."""

    mailbox: str
    owner: str
    generation: int
    expires_at: datetime | None

    def held_by_other(self, me: str, now: datetime) -> bool:
        """Whether another worker that may still be alive holds it (same-host owners are asked their
        kernel)."""
        if not self.owner or self.owner == me:
            return False
        if self.expires_at is None or self.expires_at <= now:
            return False
        return not claimant_gone(self.owner, me)


def owners(session: Session, now: datetime) -> dict[str, str]:
    """The owner of each mailbox whose lease has not expired at NOW, by mailbox name."""
    return {name: lease.owner for name, lease in all_leases(session).items()
            if lease.owner and lease.expires_at and lease.expires_at > now}


def all_leases(session: Session) -> dict[str, Lease]:
    """Every stored lease, by mailbox name."""
    rows = session.execute(select(MailboxLease.mailbox, MailboxLease.owner, MailboxLease.generation,
                                  MailboxLease.expires_at))
    return {r.mailbox: Lease(r.mailbox, r.owner, r.generation, r.expires_at) for r in rows}


def ensure_rows(session: Session, mailboxes: Iterable[str]) -> None:
    """Creates a free lease row for each of MAILBOXES that has none (two workers doing so at once is fine)."""
    names = sorted(set(mailboxes))  # one order for everyone: concurrent inserts cannot deadlock
    if not names:
        return
    from sqlalchemy.dialects import postgresql, sqlite  # here: a worker on SQLite never needs PostgreSQL's

    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(MailboxLease).values([{"mailbox": n, "owner": "", "generation": 0} for n in names])
                    .on_conflict_do_nothing(index_elements=["mailbox"]))


def acquire(session: Session, mailbox: str, me: str, now: datetime, seconds: float) -> bool:
    """Takes MAILBOX's lease for ME if it is free, expired, ours, or its owner died on this host."""
    ensure_rows(session, [mailbox])
    row = session.execute(select(MailboxLease.owner, MailboxLease.generation, MailboxLease.expires_at)
                          .where(MailboxLease.mailbox == mailbox)).one()
    if Lease(mailbox, row.owner, row.generation, row.expires_at).held_by_other(me, now):
        return False
    done = session.execute(update(MailboxLease).where(MailboxLease.mailbox == mailbox,
                                                      MailboxLease.generation == row.generation).values(
        owner=me, generation=MailboxLease.generation + 1, acquired_at=now, renewed_at=now,
        expires_at=now + timedelta(seconds=seconds)))
    return done.rowcount == 1


def renew(session: Session, me: str, now: datetime, seconds: float, mailbox: str | None = None) -> set[str]:
    """Extends ME's leases (or only MAILBOX's); returns the mailboxes ME still holds (an empty set: none).

    A lease another worker took over is simply not renewed: its mailbox is missing from the answer.
    """
    where = [MailboxLease.owner == me] + ([MailboxLease.mailbox == mailbox] if mailbox is not None else [])
    session.execute(update(MailboxLease).where(*where).values(
        generation=MailboxLease.generation + 1, renewed_at=now, expires_at=now + timedelta(seconds=seconds)))
    return set(session.scalars(select(MailboxLease.mailbox).where(*where)))


def release(session: Session, me: str, mailboxes: Sequence[str] | None = None) -> None:
    """Gives up ME's leases on MAILBOXES (all of them by default), so another worker may take them at once."""
    where = [MailboxLease.owner == me] + ([MailboxLease.mailbox.in_(list(mailboxes))] if mailboxes is not None
                                          else [])
    session.execute(update(MailboxLease).where(*where).values(owner="",
                                                              generation=MailboxLease.generation + 1,
                                                              expires_at=None))


def check_in(session: Session, me: str, now: datetime, seconds: float) -> None:
    """Records that worker ME is alive for SECONDS more (the heartbeat of its presence)."""
    expires = now + timedelta(seconds=seconds)
    done = session.execute(update(WorkerPresence).where(WorkerPresence.name == me).values(seen_at=now,
                                                                                          expires_at=expires))
    if done.rowcount == 0:
        session.add(WorkerPresence(name=me, started_at=now, seen_at=now, expires_at=expires))
    session.execute(delete(WorkerPresence).where(WorkerPresence.expires_at < now - FORGET_WORKERS_AFTER))


def live_workers(session: Session, me: str, now: datetime) -> list[str]:
    """The workers alive as far as anyone can tell (ME always among them), by name."""
    rows = session.execute(select(WorkerPresence.name, WorkerPresence.expires_at))
    alive = {r.name for r in rows if r.expires_at > now and not claimant_gone(r.name, me)}
    return sorted(alive | {me})


def check_out(session: Session, me: str) -> None:
    """Worker ME stops: its leases are released and its presence removed."""
    release(session, me)
    session.execute(delete(WorkerPresence).where(WorkerPresence.name == me))
