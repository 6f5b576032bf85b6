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
