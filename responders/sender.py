"""Drains the outbox over SMTP: claims rows, sends them in order on one connection, retries with backoff."""
from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from db.claims import claimant_gone
from db.events import ACKNOWLEDGED, DELIVERY_FAILED, SYSTEM, add_event
from db.models import Event, Item, OutboxMail, Survey
from db.types import utcnow
from responders.sent_journal import SentJournal, journal_for

log = logging.getLogger("responders.sender")

CLAIM_SECONDS = 300
BATCH = 50
# Taken by the SMTP server, not booked yet: booked (status "sent", the item's acknowledgment) per batch sent.
HANDED = "handed"


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the SMTP server; the password is already resolved."""

    host: str
    port: int
    security: str = "none"  # ssl | starttls | none
    username: str = ""
    password: str | None = None
    ca_file: str = ""
    timeout: float = 30.0
    max_attempts: int = 10


@dataclass
class DrainResult:
    """What one drain did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    error: str = ""
    # For each acknowledgment sent: seconds from its message's arrival in the mailbox to the SMTP server
    # taking
    # it (booked in this drain; one booked after a crash is not timed).
    ack_seconds: list[float] = field(default_factory=list)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try: 10 s doubling, at most one hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


def _ssl_context(settings: SmtpSettings) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=settings.ca_file or None)


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    """An authenticated SMTP connection with certificate checks unless security is none."""
    if settings.security == "ssl":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                              context=_ssl_context(settings))
    else:
        conn = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.security == "starttls":
            conn.starttls(context=_ssl_context(settings))
    if settings.username:
        conn.login(settings.username, settings.password or "")
    return conn


def release_dead_claims(session: Session, worker: str, now: datetime) -> list[str]:
    """Frees the claims of crashed workers on this host, so their mail goes out now, not when the claims run
    out."""
    owners = session.scalars(select(OutboxMail.claimed_by).distinct().where(
        OutboxMail.status == "pending", OutboxMail.claimed_until >= now))
    dead = [o for o in owners if claimant_gone(o, worker)]
    if dead:
        session.execute(update(OutboxMail).where(OutboxMail.status == "pending",
                                                 OutboxMail.claimed_by.in_(dead))
                        .values(claimed_until=None))
        log.warning("event=claims_released workers=%s", ",".join(dead))
    return dead


class Claimed(NamedTuple):
    """A claimed outbox row, as the drain sends it (REF: its item's reference, or None)."""

    id: int
    message_id: str
    from_address: str
    to_address: str
    raw: bytes
    ref: str | None


def claim(session: Session, worker: str, now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Claims due rows for WORKER so that no other drain sends them; oldest first."""
    due = (
        select(OutboxMail.id)
        .where(OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now,
               or_(OutboxMail.claimed_until.is_(None), OutboxMail.claimed_until < now))
        .order_by(OutboxMail.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list(session.scalars(due))
    if not ids:
        return []
    session.execute(
        update(OutboxMail).where(OutboxMail.id.in_(ids))
        .values(claimed_by=worker, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    )
    # Only what sending needs, as plain rows: loading the rows and their items as objects cost more than the
    # send.
    return [Claimed(*row) for row in session.execute(
        select(OutboxMail.id, OutboxMail.message_id, OutboxMail.from_address, OutboxMail.to_address,
               OutboxMail.raw,
               Item.ref)
        .outerjoin(Item, OutboxMail.item_id == Item.id).where(OutboxMail.id.in_(ids))
        .order_by(OutboxMail.id))]



# Built once: building and cache-keying a statement cost more than running it, and these run per message sent.
_HANDED = (update(OutboxMail).where(OutboxMail.id == bindparam("row_id"))
           .values(status=HANDED, sent_at=bindparam("now")))
_JOURNALED = (update(OutboxMail).where(OutboxMail.id == bindparam("row_id"),
                                      OutboxMail.message_id == bindparam("mid"),
                                       OutboxMail.status == "pending")
              .values(status=HANDED, sent_at=bindparam("now")))
_ACKNOWLEDGED = (update(Item).where(Item.id == bindparam("item_id"), Item.acknowledged_at.is_(None))
                 .values(acknowledged_at=bindparam("now")))
_ACK_EVENT = insert(Event).values(item_id=bindparam("item_id"), kind=ACKNOWLEDGED,
                                  created_at=bindparam("now"),
                                  actor=SYSTEM, data=bindparam("data"))


# The driver's own SQL (PostgreSQL): no statement to compile or cache-key per message, and psycopg prepares
# it once it has run a few times; a BEGIN; SET LOCAL; UPDATE; COMMIT string, parsed and planned by the server
# for every message, held a 10,000-email backlog on PostgreSQL about 10% lower (README, Benchmarks).
_HANDED_SQL = "UPDATE outbox SET status = %(status)s, sent_at = %(now)s WHERE id = %(row_id)s"


def _open_marks(engine: Engine) -> Connection:
    """A PostgreSQL connection for the per-message records: autocommit, commits not waiting for the WAL."""
    conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    conn.exec_driver_sql("SET synchronous_commit TO OFF")
    return conn


def _close_marks(conn: Connection) -> None:
    """Puts the setting back before the connection returns to the pool, where other work uses it."""
    try:
        conn.exec_driver_sql("RESET synchronous_commit")
    except Exception:  # a broken connection: closing it discards it
        conn.invalidate()
    conn.close()


def _mark_handed(engine: Engine, marks: Connection | None, row_id: int, now: datetime) -> None:
    """Records that the SMTP server took row ROW_ID, in a transaction of its own, before the next message
    goes.

    On PostgreSQL (MARKS: from _open_marks, held for the batch) this is one statement in one round trip, its
    plan prepared by the driver after the first few, and its commit does not wait for the WAL to reach the
    disk: the worker can crash without losing it; only a crash of the database server itself could, and then
    the last few messages would go out twice.
    """
    if marks is not None:
        marks.exec_driver_sql(_HANDED_SQL, {"status": HANDED, "now": now, "row_id": row_id})
        return
    with engine.begin() as conn:
        conn.execute(_HANDED, {"row_id": row_id, "now": now})


def mark_handed(engine: Engine, row_id: int, at: datetime) -> None:
    """Records that the SMTP server took row ROW_ID at AT (to be booked by book_handed), in the database."""
    _mark_handed(engine, None, row_id, at)


def book_handed(engine: Engine, ids: list[int], ack_seconds: list[float] | None = None) -> int:
    """Books the rows among IDS that were handed to the SMTP server: sent, and for an acknowledgment its
    item's
    acknowledgment time and event; in one transaction. A row is booked once, whoever books it. ACK_SECONDS
    gets each booked acknowledgment's time from its item's arrival to its sending."""
    if not ids:
        return 0
    with engine.begin() as conn:
        return _book(conn, ids, ack_seconds)


def book_journal(engine: Engine, journal: SentJournal, ids: list[int] | None = None,
                 ack_seconds: list[float] | None = None) -> int:
    """Books the rows the SMTP server took according to JOURNAL (those among IDS, or all), then forgets them
    (ACK_SECONDS: as for book_handed).

    A record counts only for the row it was made for (same id, same Message-ID, still pending): one left from
    before a restore of an older database does nothing.
    """
    entries = journal.entries(ids)
    if not entries:
        return 0
    with engine.begin() as conn:
        conn.execute(_JOURNALED, [{"row_id": i, "mid": m, "now": at} for i, m, at in entries])
        booked = _book(conn, [e[0] for e in entries], ack_seconds)
    journal.forget([e[0] for e in entries])
    return booked


def _book(conn: Connection, ids: list[int], ack_seconds: list[float] | None) -> int:
    done = conn.execute(
        update(OutboxMail).where(OutboxMail.id.in_(ids), OutboxMail.status == HANDED)
        .values(status="sent", claimed_until=None, attempts=OutboxMail.attempts + 1)
        .returning(OutboxMail.id, OutboxMail.item_id, OutboxMail.kind, OutboxMail.message_id,
                   OutboxMail.to_address, OutboxMail.sent_at)).all()
    surveys = [r.id for r in done if r.kind == "survey"]
    if surveys:  # the survey's own state follows its mail ("cancelled" stays: the mail was taken back first)
        conn.execute(update(Survey).where(Survey.outbox_id.in_(surveys), Survey.status == "scheduled")
                     .values(status="sent"))
    acks = [{"item_id": r.item_id, "now": r.sent_at, "data": {"message_id": r.message_id, "to": r.to_address}}
            for r in done if r.item_id is not None and r.kind == "acknowledgment"]
    if acks:
        conn.execute(_ACKNOWLEDGED, [{"item_id": a["item_id"], "now": a["now"]} for a in acks])
        conn.execute(_ACK_EVENT, acks)
        if ack_seconds is not None:
            sent = {a["item_id"]: a["now"] for a in acks}
            arrived = conn.execute(select(Item.id, Item.received_at).where(Item.id.in_(sorted(sent))))
            ack_seconds.extend((sent[item_id] - received).total_seconds() for item_id, received in arrived
                               if sent[item_id] is not None)
    return len(done)


def book_left_over(engine: Engine, worker: str, now: datetime) -> int:
    """Books rows handed to the SMTP server by a drain that stopped before booking them (a crash): this
    worker's,
    those of dead processes on this host, and those whose claim ran out; on SQLite, whatever the journal
    holds."""
    journal = journal_for(engine)
    booked = book_journal(engine, journal) if journal is not None else 0
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMail.id, OutboxMail.claimed_by, OutboxMail.claimed_until)
                            .where(OutboxMail.status == HANDED)).all()
    ids = [r.id for r in rows if r.claimed_by == worker or claimant_gone(r.claimed_by, worker)
           or r.claimed_until is None or r.claimed_until < now]
    booked += book_handed(engine, ids)
    if booked:
        log.warning("event=sent_mail_booked count=%d detail=\"handed to SMTP before a stop, booked now\"",
                    booked)
    return booked


def _mark_failed(session: Session, row_id: int, error: str, now: datetime, max_attempts: int,
                 permanent: bool) -> str:
    row = session.get(OutboxMail, row_id)
    assert row is not None
    row.attempts += 1
    row.last_error = error[:2000]
    row.claimed_until = None
    if permanent or row.attempts >= max_attempts:
        row.status = "failed"
        if row.item_id is not None:
            add_event(session, row.item_id, DELIVERY_FAILED, now,
                      {"to": row.to_address, "error": row.last_error})
        return "failed"
    row.next_attempt_at = now + backoff(row.attempts)
    return "retry"


def _release(factory: sessionmaker[Session], ids: list[int], error: str, settings: SmtpSettings) -> int:
    with factory.begin() as session:
        now = utcnow()
        for row_id in ids:
            _mark_failed(session, row_id, error, now, settings.max_attempts, permanent=False)
    return len(ids)


class SmtpLink:
    """One SMTP connection kept open across drains, opened when first needed and again after a failure."""

    IDLE_CHECK_SECONDS = 20.0  # servers drop idle clients (often after 60 s or more): check with NOOP first

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.conn: smtplib.SMTP | None = None
        self._used = 0.0

    def get(self) -> smtplib.SMTP:
        """The open connection (connecting if there is none); raises OSError or SMTPException."""
        if self.conn is not None and time.monotonic() - self._used > self.IDLE_CHECK_SECONDS:
            try:
                if self.conn.noop()[0] != 250:
                    self.close()
            except (OSError, smtplib.SMTPException):
                self.close()
        if self.conn is None:
            self.conn = connect(self.settings)
        self._used = time.monotonic()
        return self.conn

    def close(self) -> None:
        """Says goodbye to the server (or just closes the socket when it is gone)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            conn.close()


def drain(factory: sessionmaker[Session], settings: SmtpSettings, worker: str,
          link: SmtpLink | None = None) -> DrainResult:
    """Sends every due outbox row; rows that fail stay for a later drain.

    LINK: a connection kept across drains (the worker's); without one, the drain opens and closes its own.
    """
    own = link is None
    link = link or SmtpLink(settings)
    try:
        return _drain(factory, settings, worker, link)
    finally:
        if own:
            link.close()


def _drain(factory: sessionmaker[Session], settings: SmtpSettings, worker: str,
           link: SmtpLink) -> DrainResult:
    result = DrainResult()
    engine = factory.kw["bind"]
    journal = journal_for(engine)
    # Booked first: a row a stopped drain handed over must not be claimed and sent again.
    book_left_over(engine, worker, utcnow())
    with factory.begin() as session:
        release_dead_claims(session, worker, utcnow())
    while True:
        with factory.begin() as session:
            rows = claim(session, worker, utcnow())
            batch = [(r.id, r.message_id, r.from_address, r.to_address, r.raw, r.ref or "") for r in rows]
        if not batch:
            return result
        try:
            conn = link.get()
        except (OSError, smtplib.SMTPException, socket.timeout) as exc:
            result.error = f"smtp connect: {exc}"
            result.retried += _release(factory, [b[0] for b in batch], result.error, settings)
            return result
        handed: list[int] = []
        marks: Connection | None = None
        try:
            for row_id, message_id, sender, to, raw, ref in batch:
                try:
                    conn.sendmail(sender, [to], raw)
                except smtplib.SMTPRecipientsRefused as exc:
                    code = next(iter(exc.recipients.values()))[0]
                    outcome = _record_failure(factory, row_id, str(exc), settings,
                                              permanent=500 <= code < 600)
                    result.failed += outcome == "failed"
                    result.retried += outcome == "retry"
                    continue
                except smtplib.SMTPResponseException as exc:
                    outcome = _record_failure(factory, row_id, f"{exc.smtp_code} {exc.smtp_error!r}",
                                              settings,
                                              permanent=500 <= exc.smtp_code < 600)
                    result.failed += outcome == "failed"
                    result.retried += outcome == "retry"
                    continue
                # Recorded at once, each in its own short transaction, so that after a crash at most the
                # message
                # in flight is sent again; the rest of the booking is done once for the batch.
                if journal is not None:
                    journal.record(row_id, message_id, utcnow())
                else:
                    if marks is None and engine.dialect.name == "postgresql":
                        marks = _open_marks(engine)
                    _mark_handed(engine, marks, row_id, utcnow())
                handed.append(row_id)
                result.sent += 1
                log.info("event=ack_sent ref=%s to=%s", ref, to)
        except (OSError, smtplib.SMTPException) as exc:
            link.close()
            result.error = f"smtp: {exc}"
            with factory() as session:
                pending = list(session.scalars(select(OutboxMail.id).where(
                    OutboxMail.id.in_([b[0] for b in batch]), OutboxMail.status == "pending",
                    OutboxMail.claimed_by == worker, OutboxMail.claimed_until.is_not(None))))
            # What the server took is booked below, not retried (the journal's rows are still pending here).
            pending = [row_id for row_id in pending if row_id not in handed]
            result.retried += _release(factory, pending, result.error, settings)
            return result
        finally:
            if marks is not None:
                _close_marks(marks)
                marks = None
            if journal is not None:
                book_journal(engine, journal, handed, result.ack_seconds)
            else:
                book_handed(engine, handed, result.ack_seconds)


def _record_failure(factory: sessionmaker[Session], row_id: int, error: str, settings: SmtpSettings,
                    permanent: bool) -> str:
    with factory.begin() as session:
        outcome = _mark_failed(session, row_id, error, utcnow(), settings.max_attempts, permanent)
    log.warning("event=ack_send_failed outbox_id=%s outcome=%s error=%r", row_id, outcome, error)
    return outcome
