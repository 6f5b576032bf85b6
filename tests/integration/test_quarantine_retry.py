"""Quarantined messages run again through the current code exactly once, on both databases."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from classifiers import load_classifier
from db.models import Item, Message, OutboxMail
from db.quarantine import RETRY_REQUESTED, count_quarantined, delete_quarantined, quarantined, request_retry
from intake import parsed, quarantine
from intake.config import parse_config
from intake.imap import UNREADABLE
from intake.parse import ParseError
from intake.pipeline import process_batch
from intake.values import RawMail
from tests.mailgen import client_email

pytestmark = pytest.mark.integration
CFG = parse_config({"smtp": {"from_address": "Support <support@team.example>"}})
WHEN = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
NOT_EMAIL = b"\x00\x01\x02\x03" * 64


def quarantine_with_old_code(db, monkeypatch, mails: list[bytes]) -> list[int]:
    """Stores MAILS as a parser that fails on all of them would (the code before an upgrade); their ids."""
    def broken(data: bytes):
        raise ParseError("unreadable to the old parser")

    monkeypatch.setattr(parsed, "parse_email", broken)
    result = process_batch(db, CFG, "support", [RawMail("support", 1, i + 1, m, WHEN, len(m))
                                                for i, m in enumerate(mails)], load_classifier())
    monkeypatch.undo()
    assert result.quarantined == len(mails)
    with db() as s:
        return [e.id for e in sorted(quarantined(s), key=lambda e: e.uid or 0)]


def test_retry_stores_what_the_current_code_reads_and_only_once(db, monkeypatch):
    mail = bytes(client_email(1, "Export fails", "The export crashes above 1,000 rows.", "en"))
    [qid] = quarantine_with_old_code(db, monkeypatch, [mail])
    [done] = quarantine.retry(db, CFG, [qid], load_classifier())
    assert done.kind == "new" and done.ref == "CI-000001" and done.ack_queued
    [again] = quarantine.retry(db, CFG, [qid], load_classifier())
    assert again.kind == "gone"
    with db() as s:
        row = s.scalar(select(Message).where(Message.direction == "in"))
        assert (row.status, row.uid, row.raw) == ("processed", 1, mail) and row.item_id is not None
        assert s.scalar(select(func.count(Item.id))) == 1 and s.scalar(select(func.count(OutboxMail.id))) == 1
        assert count_quarantined(s) == 0
    # The worker fetching the message again (same mailbox position) knows it.
    refetch = process_batch(db, CFG, "support", [RawMail("support", 1, 1, mail, WHEN, len(mail))],
                            load_classifier())
    assert refetch.duplicates == 1


def test_what_still_cannot_be_read_stays_quarantined_with_the_new_reason(db, monkeypatch):
    [qid] = quarantine_with_old_code(db, monkeypatch, [NOT_EMAIL])
    [out] = quarantine.retry(db, CFG, [qid], load_classifier())
    assert out.kind == "quarantined" and "not an email message" in out.error
    with db() as s:
        [entry] = quarantined(s)
        assert entry.id == qid and "not an email message" in entry.error and not entry.retry_requested


def test_an_admins_retry_request_is_run_by_the_worker_once(db, monkeypatch):
    good = bytes(client_email(2, "Add a field", "Please add a PO number field to the order form.", "en"))
    ids = quarantine_with_old_code(db, monkeypatch, [good, NOT_EMAIL])
    with db.begin() as s:
        assert request_retry(s, ids[0]) and request_retry(s, ids[1])
        assert not request_retry(s, 999_999)
    with db() as s:
        assert [e.retry_requested for e in quarantined(s)] == [True, True]
        assert s.get(Message, ids[0]).status == RETRY_REQUESTED
    outcomes = quarantine.retry_requested(db, CFG, load_classifier())
    assert sorted(o.kind for o in outcomes) == ["new", "quarantined"]
    assert quarantine.retry_requested(db, CFG, load_classifier()) == []  # nothing asked any more
    with db() as s:
        assert [e.retry_requested for e in quarantined(s)] == [False]


def test_two_retries_at_once_store_one_item(db, monkeypatch):
    mail = bytes(client_email(3, "Login", "The login page shows error 500.", "en"))
    [qid] = quarantine_with_old_code(db, monkeypatch, [mail])
    clf = load_classifier()
    results: list = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        results.extend(quarantine.retry(db, CFG, [qid], clf))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r.kind for r in results) == ["gone", "new"]
    with db() as s:
        assert s.scalar(select(func.count(Item.id))) == 1 and s.scalar(select(func.count(OutboxMail.id))) == 1


def test_delete_removes_the_message_and_its_bytes(db, monkeypatch):
    [qid] = quarantine_with_old_code(db, monkeypatch, [NOT_EMAIL])
    with db.begin() as s:
        gone = delete_quarantined(s, qid)
    assert gone is not None and gone.id == qid
    with db.begin() as s:
        assert delete_quarantined(s, qid) is None
    with db() as s:
        assert s.get(Message, qid) is None


def test_a_message_the_server_never_handed_over_keeps_its_reason_when_retried(db):
    # Its record holds no bytes: running it again could only replace "copy it into the folder again" with a
    # parser's complaint about empty input.
    unread = RawMail("support", 1, 7, b"", WHEN, 0, unreadable=UNREADABLE)
    assert process_batch(db, CFG, "support", [unread], load_classifier()).quarantined == 1
    with db() as s:
        [entry] = quarantined(s)
        qid = entry.id
    with db.begin() as s:
        assert request_retry(s, qid)
    [out] = quarantine.retry_requested(db, CFG, load_classifier())
    assert (out.kind, out.error) == ("quarantined", UNREADABLE)
    with db() as s:
        [entry] = quarantined(s)
        assert (entry.id, entry.error, entry.retry_requested) == (qid, UNREADABLE, False)
        row = s.get(Message, qid)
        assert (row.status, row.raw, row.uid) == ("quarantined", b"", 7)
        assert s.scalar(select(func.count(Item.id))) == 0
