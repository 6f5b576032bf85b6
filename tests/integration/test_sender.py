"""The outbox sender against a real SMTP server: in-order delivery, outages, retries, no double sends."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from db.models import Event, Item, OutboxMail
from db.types import utcnow
from deploy.mailserver import free_port
from responders.sender import SmtpSettings, drain

pytestmark = pytest.mark.integration


def _fill(factory, n: int) -> None:
    with factory.begin() as s:
        for i in range(n):
            item = Item(ref=f"CI-{i + 1:06d}", category="question", subject=f"s{i}")
            s.add(item)
            s.flush()
            s.add(OutboxMail(item_id=item.id, message_id=f"<ack{i}@team.example>",
                             from_address="support@team.example",
                             to_address=f"client{i}@client.example",
                             raw=f"Subject: ack {i}\r\nMessage-ID: "
                                 f"<ack{i}@team.example>\r\n\r\nhi\r\n".encode()))


def _settings(sink) -> SmtpSettings:
    return SmtpSettings(host=sink.host, port=sink.port, max_attempts=3)


def test_sends_in_order_and_marks_items(db, smtp_sink):
    _fill(db, 5)
    result = drain(db, _settings(smtp_sink), "w1")
    assert result.sent == 5 and not result.error
    assert [m.rcpt_tos[0] for m in smtp_sink.messages] == [f"client{i}@client.example" for i in range(5)]
    with db() as s:
        assert all(i.acknowledged_at is not None and i.status == "new" for i in s.scalars(select(Item)))
        events = list(s.scalars(select(Event).where(Event.kind == "acknowledged").order_by(Event.item_id)))
        assert [e.data for e in events] == [{"message_id": f"<ack{i}@team.example>",
                                             "to": f"client{i}@client.example"}
                                            for i in range(5)]
        assert all(o.status == "sent" and o.attempts == 1 and o.sent_at
                   for o in s.scalars(select(OutboxMail)))
    assert drain(db, _settings(smtp_sink), "w1").sent == 0


def test_smtp_down_keeps_mail_until_it_is_back(db, smtp_sink):
    _fill(db, 3)
    down = SmtpSettings(host="127.0.0.1", port=free_port(), max_attempts=3)
    result = drain(db, down, "w1")
    assert result.sent == 0 and result.retried == 3 and "connect" in result.error
    with db() as s:
        rows = list(s.scalars(select(OutboxMail)))
        assert all(r.status == "pending" and r.attempts == 1 for r in rows)
        created = {r.id: r.created_at for r in rows}
    # Not due yet: backoff holds them back.
    assert drain(db, _settings(smtp_sink), "w1").sent == 0
    with db.begin() as s:
        s.execute(update(OutboxMail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    assert drain(db, _settings(smtp_sink), "w1").sent == 3
    assert [m.rcpt_tos[0] for m in smtp_sink.messages] == [f"client{i}@client.example" for i in range(3)]
    with db() as s:
        assert {r.id: r.created_at for r in s.scalars(select(OutboxMail))} == created


def test_temporary_refusal_retries_then_fails(db, smtp_sink):
    _fill(db, 1)
    smtp_sink.refuse = True
    for _ in range(3):
        with db.begin() as s:
            s.execute(update(OutboxMail).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        drain(db, _settings(smtp_sink), "w1")
    with db() as s:
        row = s.scalar(select(OutboxMail))
        assert row.status == "failed" and row.attempts == 3 and "451" in row.last_error


def test_two_drains_at_once_never_send_twice(db, smtp_sink):
    _fill(db, 40)
    results = []
    threads = [threading.Thread(target=lambda n=n: results.append(drain(db, _settings(smtp_sink), f"w{n}")))
               for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.sent for r in results) == 40
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == sorted(f"client{i}@client.example"
                                                                       for i in range(40))


def test_the_record_connection_returns_to_the_pool_with_durable_commits(pg_url, smtp_sink):
    """The per-message records commit without waiting for the WAL; the pooled connection they used must not
    carry that setting on to other work (PostgreSQL)."""
    from db.engine import make_engine, make_sessionmaker
    from db.migrate import upgrade

    engine = make_engine(pg_url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    _fill(factory, 3)
    assert drain(factory, _settings(smtp_sink), "w1").sent == 3
    # Every connection the pool holds now, checked out together: the sender's is among them.
    idle = engine.pool.checkedin()
    conns = [engine.connect() for _ in range(idle)]
    settings = [c.exec_driver_sql("SHOW synchronous_commit").scalar() for c in conns]
    assert idle >= 1 and settings == ["on"] * idle
    for c in conns:
        c.close()
    with factory() as s:
        assert [o.status for o in s.scalars(select(OutboxMail))] == ["sent"] * 3
    engine.dispose()
