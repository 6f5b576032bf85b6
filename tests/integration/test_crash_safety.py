"""SIGKILLed at random moments while draining mail, the worker loses nothing, doubles nothing, acknowledges
all."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.claims import worker_name
from db.models import Event, Item, OutboxMail
from db.types import utcnow
from responders.sender import HANDED, SmtpSettings, book_handed, drain, release_dead_claims
from responders.sent_journal import journal_for
from tests.crashkill import CrashReport, crash_drain

pytestmark = pytest.mark.integration


def _assert_guarantees(report: CrashReport, kills: int) -> None:
    print(report.summary())
    assert report.kills >= kills, report.summary()
    assert report.problems() == [], report.summary()
    # The kills must have hit the moments that matter, or the run proves little.
    assert report.kill_phases.get("batch", 0) >= 1, report.summary()
    assert report.kill_phases.get("send", 0) >= 1, report.summary()


def test_thousand_messages_survive_repeated_sigkill_on_sqlite(sqlite_url, dovecot, smtp_sink, config_for,
                                                              tmp_path):
    report = crash_drain(dovecot, smtp_sink, config_for(sqlite_url), sqlite_url, messages=1000, kills=12,
                         seed=7,
                         log_dir=tmp_path / "logs")
    _assert_guarantees(report, 10)


def test_two_workers_survive_repeated_sigkill_on_postgresql(pg_url, dovecot, smtp_sink, config_for, tmp_path):
    """Two workers share the mailbox and the outbox (the scale-out setup); one of them is killed each time."""
    # Ten kills over a thousand emails: two of them aimed inside a batch and two mid-send, while a backlog
    # lasts.
    report = crash_drain(dovecot, smtp_sink, config_for(pg_url), pg_url, messages=1000, kills=10, seed=11,
                         workers=2, log_dir=tmp_path / "logs")
    _assert_guarantees(report, 9)


def _dead_worker_name() -> str:
    """A worker name of this host whose process has ended."""
    dead = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    name = worker_name().rsplit(":", 2)
    name[1] = str(dead.pid)
    dead.kill()
    dead.wait()
    return ":".join(name)


def _fill(factory, claimants: list[str]) -> None:
    now = utcnow()
    with factory.begin() as s:
        for n, who in enumerate(claimants):
            s.add(OutboxMail(message_id=f"<ack{n}@team.example>", from_address="support@team.example",
                             to_address=f"client{n}@client.example", raw=b"Subject: ack\r\n\r\nhi\r\n",
                             claimed_by=who, claimed_until=now + timedelta(seconds=300)))


def test_claims_of_a_killed_worker_are_released_at_once(db, smtp_sink):
    """A restarted worker sends what its killed predecessor had claimed, not five minutes later."""
    dead_name = _dead_worker_name()
    alive = worker_name().rsplit(":", 2)
    alive[1] = "1"  # pid 1 lives (and may be another user's)
    other_host = "elsewhere.example:4242:0badcafe"
    _fill(db, [dead_name, ":".join(alive), other_host])
    me = worker_name()
    with db.begin() as s:
        assert release_dead_claims(s, me, utcnow()) == [dead_name]
    result = drain(db, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), me)
    assert result.sent == 1 and [m.rcpt_tos for m in smtp_sink.messages] == [["client0@client.example"]]
    with db() as s:
        assert [r.status
                for r in s.scalars(select(OutboxMail).order_by(OutboxMail.id))] == ["sent", "pending",
                                                                                            "pending"]


def test_same_pid_under_another_token_is_an_earlier_process(db):
    """In a container the worker is pid 1 every time: a claim with our pid but not our token is a dead
    one's."""
    me = worker_name()
    earlier = me.rsplit(":", 1)[0] + ":00000000"
    _fill(db, [earlier, me])
    with db.begin() as s:
        assert release_dead_claims(s, me, utcnow()) == [earlier]


def test_mail_handed_to_smtp_before_a_crash_is_booked_once_and_not_sent_again(db, smtp_sink):
    """A worker killed between the SMTP server's OK and the batch's booking: the next drain books what it
    handed over (sent, the item acknowledged, one event) and sends nothing twice; a live worker's rows are its
    own."""
    dead_name = _dead_worker_name()
    other_host = "elsewhere.example:4242:0badcafe"
    now = utcnow()
    with db.begin() as s:
        for n, who in enumerate([dead_name, other_host]):
            item = Item(ref=f"CI-{n + 1:06d}", category="question", subject=f"s{n}")
            s.add(item)
            s.flush()
            s.add(OutboxMail(item_id=item.id, message_id=f"<ack{n}@team.example>",
                             from_address="support@team.example",
                             to_address=f"client{n}@client.example", raw=b"Subject: ack\r\n\r\nhi\r\n",
                             status=HANDED, sent_at=now, claimed_by=who,
                             claimed_until=now + timedelta(seconds=300)))
    result = drain(db, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), worker_name())
    assert result.sent == 0 and smtp_sink.messages == []
    engine = db.kw["bind"]
    with db() as s:
        ids = list(s.scalars(select(OutboxMail.id).order_by(OutboxMail.id)))
        item_ids = list(s.scalars(select(Item.id).order_by(Item.id)))
    assert book_handed(engine, ids) == 1  # the other host's row, once; the dead worker's was booked already
    assert book_handed(engine, ids) == 0
    with db() as s:
        assert [(o.status, o.attempts) for o in s.scalars(select(OutboxMail).order_by(OutboxMail.id))] == [
            ("sent", 1), ("sent", 1)]
        assert all(i.acknowledged_at == now for i in s.scalars(select(Item)))
        events = s.scalars(select(Event).where(Event.kind == "acknowledged").order_by(Event.item_id))
        assert [(e.item_id, e.data["to"]) for e in events] == [(item_ids[0], "client0@client.example"),
                                                               (item_ids[1], "client1@client.example")]


def test_mail_journaled_before_a_crash_on_sqlite_is_booked_once_and_not_sent_again(factory, smtp_sink):
    """On SQLite the server's OK is kept in the journal beside the database: a drain killed before booking it
    leaves a record there; the next drain books it (sent, acknowledged, one event) and sends only the rest.
    A record that does not match its row's Message-ID (a restored older database) books nothing."""
    engine = factory.kw["bind"]
    journal = journal_for(engine)
    assert journal is not None and journal.path.name.endswith("-sent")
    dead_name = _dead_worker_name()
    now = utcnow()
    with factory.begin() as s:
        for n in range(3):
            item = Item(ref=f"CI-{n + 1:06d}", category="question", subject=f"s{n}")
            s.add(item)
            s.flush()
            s.add(OutboxMail(item_id=item.id, message_id=f"<ack{n}@team.example>",
                             from_address="support@team.example",
                             to_address=f"client{n}@client.example", raw=b"Subject: ack\r\n\r\nhi\r\n",
                             claimed_by=dead_name, claimed_until=now + timedelta(seconds=300)))
    with factory() as s:
        ids = list(s.scalars(select(OutboxMail.id).order_by(OutboxMail.id)))
    journal.record(ids[0], "<ack0@team.example>", now)           # taken by the server, then the crash
    journal.record(ids[1], "<another@team.example>", now)        # a stale record for what is now another row
    result = drain(factory, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), worker_name())
    assert result.sent == 2
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == ["client1@client.example",
                                                                 "client2@client.example"]
    assert journal.entries() == []
    with factory() as s:
        assert [o.status for o in s.scalars(select(OutboxMail).order_by(OutboxMail.id))] == ["sent"] * 3
        assert s.scalars(select(Item).where(Item.ref == "CI-000001")).one().acknowledged_at == now
        events = list(s.scalars(select(Event).where(Event.kind == "acknowledged")))
        assert sorted(e.data["to"] for e in events) == [f"client{n}@client.example" for n in range(3)]


def test_sending_on_sqlite_leaves_the_journal_empty_and_books_each_row_once(factory, smtp_sink):
    with factory.begin() as s:
        for n in range(5):
            s.add(OutboxMail(message_id=f"<ack{n}@team.example>", from_address="support@team.example",
                             to_address=f"client{n}@client.example", raw=b"Subject: ack\r\n\r\nhi\r\n"))
    journal = journal_for(factory.kw["bind"])
    assert journal is not None
    result = drain(factory, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), worker_name())
    assert result.sent == 5 and len(smtp_sink.messages) == 5
    assert journal.entries() == []
    with factory() as s:
        assert [(o.status, o.attempts) for o in s.scalars(select(OutboxMail))] == [("sent", 1)] * 5
