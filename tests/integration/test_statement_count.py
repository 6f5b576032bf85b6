"""A batch of new emails is stored with a fixed number of SQL statements, whatever its size.

Counted with SQLAlchemy's cursor events on SQLite and PostgreSQL, so that per-message queries cannot come
back unnoticed: storing 50 new emails must take no more statements than storing 5.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from classifiers import load_classifier
from db.models import Attachment, Event, Item, Message, OutboxMail
from intake.config import parse_config
from intake.pipeline import process_batch
from intake.values import RawMail
from tests.mailgen import STYLES, client_email, corpus_texts

pytestmark = pytest.mark.integration
CFG = parse_config({"smtp": {"from_address": "Support <support@team.example>"}})
# Locks, claims, the known-message and thread lookups, contacts, organizations, rate limits, and the bulk
# inserts and updates: a constant, with room for a query or two more, but far below one per email.
MAX_STATEMENTS = 40


@contextmanager
def counted(factory: sessionmaker[Session]) -> Iterator[list[str]]:
    """The SQL statements run through FACTORY's engine meanwhile (an executemany counts once)."""
    engine = factory.kw["bind"]
    seen: list[str] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany):  # noqa: ARG001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def _batch(first_uid: int, count: int) -> list[RawMail]:
    texts = corpus_texts("train")
    raws = []
    for n in range(first_uid, first_uid + count):
        t = texts[n % len(texts)]
        # Senders of 7 organizations, a third of them new to the database; one in ten with an attachment.
        mail = client_email(n, t["subject"], t["body"], t["lang"], STYLES[n % len(STYLES)],
                            domain=f"org{n % 7}.example")
        data = bytes(mail)
        raws.append(RawMail("support", 1, n, data, None, len(data)))
    return raws


def test_storing_a_batch_takes_a_fixed_number_of_statements(db):
    clf = load_classifier()
    process_batch(db, CFG, "support", _batch(1, 3), clf)  # the mailbox and a few contacts exist already
    with counted(db) as small:
        few = process_batch(db, CFG, "support", _batch(10, 5), clf)
    with counted(db) as large:
        many = process_batch(db, CFG, "support", _batch(100, 50), clf)
    assert len(few.new_items) == 5 and len(many.new_items) == 50 and many.acks_queued == 50
    assert not many.one_by_one
    assert len(large) <= len(small) <= MAX_STATEMENTS, "\n".join(large)
    with db() as s:
        assert s.scalar(select(func.count(Item.id))) == 58
        assert s.scalar(select(func.count(OutboxMail.id))) == 58
        assert s.scalar(select(func.count(Message.id)).where(Message.direction == "in")) == 58
        assert s.scalar(select(func.count(Event.id)).where(Event.kind == "classified")) == 58
        assert s.scalar(select(func.count(Attachment.id))) > 0
        refs = list(s.scalars(select(Item.ref).order_by(Item.id)))
        assert refs == [f"CI-{i:06d}" for i in range(1, 59)]


def _answers(first_uid: int, originals: list[RawMail], by_ref: bool) -> list[RawMail]:
    """A client's answer to each of ORIGINALS, from the same sender: naming the item's reference in the
    subject (BY_REF), else answering the original's Message-ID."""
    raws = []
    for k, original in enumerate(originals):
        n = original.uid
        headers = {} if by_ref else {"In_Reply_To": f"<orig-{n}@org{n % 7}.example>",
                                     "References": f"<orig-{n}@org{n % 7}.example>"}
        subject = f"Re: [CI-{n:06d}] any news?" if by_ref else "Re: any news?"
        mail = client_email(n, subject, "Any update on this? It still happens every morning.", "en",
                            domain=f"org{n % 7}.example",
                            msgid=f"<answer-{first_uid + k}@org{n % 7}.example>",
                            **headers)
        data = bytes(mail)
        raws.append(RawMail("support", 1, first_uid + k, data, None, len(data)))
    return raws


def _originals(count: int) -> list[RawMail]:
    raws = []
    for n in range(1, count + 1):
        data = bytes(client_email(n, f"Export fails {n}", "The export button fails since Monday.", "en",
                                  domain=f"org{n % 7}.example", msgid=f"<orig-{n}@org{n % 7}.example>"))
        raws.append(RawMail("support", 1, n, data, None, len(data)))
    return raws


def test_follow_ups_on_stored_threads_take_a_fixed_number_of_statements(db):
    clf = load_classifier()
    originals = _originals(60)
    assert len(process_batch(db, CFG, "support", originals, clf).new_items) == 60
    with counted(db) as small:
        few = process_batch(db, CFG, "support", _answers(100, originals[:4], by_ref=True), clf)
    # Half name the item's reference, half answer the original's Message-ID; ten strangers name a thread too.
    batch = _answers(200, originals[4:24], by_ref=True) + _answers(220, originals[24:44], by_ref=False)
    strangers = []
    for k, original in enumerate(originals[44:54]):
        n = original.uid
        data = bytes(client_email(500 + k, f"Re: [CI-{n:06d}] me too", "Same problem here.", "en",
                                  domain="elsewhere.example", msgid=f"<stranger-{k}@elsewhere.example>"))
        strangers.append(RawMail("support", 1, 240 + k, data, None, len(data)))
    # nothing to read: quarantined, names nothing
    unreadable = RawMail("support", 1, 260, b"\r\n\r\n", None, 4)
    with counted(db) as large:
        many = process_batch(db, CFG, "support", batch + strangers + [unreadable], clf)
    assert len(few.follow_ups) == 4 and len(many.follow_ups) == 40 and len(many.new_items) == 10
    assert many.quarantined == 1 and not many.one_by_one
    # The strangers' messages are new items of their own, made one by one: allow for those alone.
    assert len(large) <= MAX_STATEMENTS + 10 * 25, "\n".join(large)
    with counted(db) as only_follow_ups:
        again = process_batch(db, CFG, "support", _answers(300, originals[:50], by_ref=False), clf)
    assert len(again.follow_ups) == 50 and len(small) <= len(only_follow_ups) + 5
    assert len(only_follow_ups) <= MAX_STATEMENTS, "\n".join(only_follow_ups)
    with db() as s:
        # Every answer is on its own original's item, with its event; the strangers' are on new items.
        pairs = s.execute(select(Message.message_id, Item.ref).join(Item, Message.item_id == Item.id)
                          .where(Message.message_id.like("<answer-%"))).all()
        assert len(pairs) == 4 + 40 + 50
        by_answer = dict(pairs)
        for k, original in enumerate(originals[4:24]):
            assert by_answer[f"<answer-{200 + k}@org{original.uid % 7}.example>"] == f"CI-{original.uid:06d}"
        for k, original in enumerate(originals[24:44]):
            assert by_answer[f"<answer-{220 + k}@org{original.uid % 7}.example>"] == f"CI-{original.uid:06d}"
        assert s.scalar(select(func.count(Event.id)).where(Event.kind == "message_received")) == 94
        stranger_items = s.scalars(select(Item.ref).join(Message, Message.item_id == Item.id)
                                   .where(Message.message_id.like("<stranger-%"))).all()
        assert len(set(stranger_items)) == 10 and all(int(r[3:]) > 60 for r in stranger_items)
