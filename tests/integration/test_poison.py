"""No message holds up a mailbox: batch failures fall back to one at a time, crash loops end in quarantine,
odd senders still make items, and a reused Message-ID does not make a different message vanish."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from classifiers import load_classifier
from db.claims import worker_name
from db.models import Event, Item, Mailbox, Message, OutboxMail, ProcessingAttempt
from intake import parsed, pipeline
from intake.config import parse_config
from intake.pipeline import MAX_CRASHES, process_batch
from intake.values import RawMail
from tests.mailgen import client_batch, client_email

pytestmark = pytest.mark.integration
CFG = parse_config({"smtp": {"from_address": "Support <support@team.example>"},
                    "acknowledgment": {"max_per_sender_per_hour": 100}})
WHEN = datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc)
EMPTY = (b"From: Ann Lee <ann@client.example>\r\nTo: support@team.example\r\nSubject: \r\n"
         b"Message-ID: <empty@client.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n")


def raws(mails: list[bytes], first_uid: int = 1, mailbox: str = "support",
         validity: int = 1) -> list[RawMail]:
    return [RawMail(mailbox, validity, first_uid + i, m, WHEN, len(m)) for i, m in enumerate(mails)]


def normal(count: int) -> list[bytes]:
    return [bytes(m) for m in client_batch(count)]


def test_an_empty_email_among_twenty_gives_twenty_one_items(db):
    mails = normal(10) + [EMPTY] + normal(20)[10:]
    result = process_batch(db, CFG, "support", raws(mails), load_classifier())
    assert len(result.new_items) == 21 and result.acks_queued == 21 and not result.one_by_one
    with db() as s:
        empty = s.scalar(select(Item).join(Message, Message.item_id == Item.id)
                         .where(Message.message_id == "<empty@client.example>"))
        assert empty.needs_review and empty.confidence == pytest.approx(0.25)
        ack = s.scalar(select(OutboxMail).where(OutboxMail.item_id == empty.id))
        assert b"will read it and get back to you" in ack.raw  # neutral: the category is a guess
        others = s.scalar(select(func.count(Item.id)).where(Item.id != empty.id,
                                                            Item.acknowledged_at.is_(None)))
        assert s.scalar(select(func.count(OutboxMail.id))) == 21 and others == 20  # all queued, none sent yet
        assert s.scalar(select(Mailbox.last_uid)) == 21


@pytest.mark.parametrize("stage", ["parse", "classify", "store"])
def test_a_batch_failing_in_any_stage_is_processed_one_by_one(db, monkeypatch, stage):
    poison = b"poison-pill"
    mails = normal(5)
    mails[2] = mails[2].replace(b"Subject: ", b"Subject: " + poison + b" ", 1)
    clf = load_classifier()
    if stage == "parse":
        real = parsed.parse_email

        def parse(data: bytes):
            if poison in data:
                raise RecursionError("maximum recursion depth exceeded")
            return real(data)
        monkeypatch.setattr(parsed, "parse_email", parse)
    elif stage == "classify":
        real_predict = type(clf).predict_many

        def predict(self, emails, batch_size=64):
            if any(poison.decode() in s for s, _ in emails):
                raise IndexError("Out of bounds on buffer access (axis 0)")
            return real_predict(self, emails, batch_size)
        monkeypatch.setattr(type(clf), "predict_many", predict)
    else:
        real_advance = pipeline._advance

        def advance(box, batch, now):
            if len(batch) > 1:
                raise RuntimeError("the batch transaction fails at its end")
            return real_advance(box, batch, now)
        monkeypatch.setattr(pipeline, "_advance", advance)
    result = process_batch(db, CFG, "support", raws(mails), clf)
    # A parser failure is one message's own from the start; the other stages fail the batch as a whole.
    assert result.one_by_one == (stage != "parse") and result.processed_uids == [1, 2, 3, 4, 5]
    with db() as s:
        rows = {m.uid: m for m in s.scalars(select(Message).where(Message.direction == "in"))}
        assert sorted(rows) == [1, 2, 3, 4, 5] and s.scalar(select(Mailbox.last_uid)) == 5
        assert s.scalar(select(func.count(ProcessingAttempt.uid))) == 0
        if stage == "parse":
            assert (rows[3].status == "quarantined" and "RecursionError" in rows[3].error
                    and rows[3].raw == mails[2])
            assert len(result.new_items) == 4 and result.quarantined == 1
        elif stage == "classify":
            # Readable text is never quarantined for the classifier's sake: an item a PM classifies.
            item = s.get(Item, rows[3].item_id)
            assert item.needs_review and len(result.new_items) == 5
        else:
            assert len(result.new_items) == 5 and all(r.item_id for r in rows.values())


def dead_worker() -> str:
    """The claim name of a process on this host that has exited."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True)
    host, _pid, token = worker_name().rsplit(":", 2)
    return f"{host}:{proc.stdout.strip()}:{token}"


def test_a_batch_whose_worker_died_is_processed_one_by_one(db):
    mails = normal(4)
    with db.begin() as s:
        s.add(Mailbox(name="support", last_uid=0))
        s.flush()
        box = s.scalar(select(Mailbox))
        for uid in range(1, 5):
            s.add(ProcessingAttempt(mailbox_id=box.id, uidvalidity=1, uid=uid, attempts=0,
                                    claimed_by=dead_worker(),
                                    claimed_at=WHEN))
    result = process_batch(db, CFG, "support", raws(mails), load_classifier())
    assert result.one_by_one and len(result.new_items) == 4
    with db() as s:
        assert s.scalar(select(func.count(ProcessingAttempt.uid))) == 0


def test_a_claim_of_a_live_worker_is_not_a_crash(db):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host, _pid, token = worker_name().rsplit(":", 2)
        with db.begin() as s:
            s.add(Mailbox(name="support", last_uid=0))
            s.flush()
            s.add(ProcessingAttempt(mailbox_id=s.scalar(select(Mailbox.id)), uidvalidity=1, uid=1, attempts=0,
                                    claimed_by=f"{host}:{other.pid}:{token}", claimed_at=WHEN))
        result = process_batch(db, CFG, "support", raws(normal(2)), load_classifier())
    finally:
        other.kill()
        other.wait()
    assert not result.one_by_one and len(result.new_items) == 2


CRASHER = textwrap.dedent("""
    import os, sys
    from classifiers import load_classifier
    from db.engine import make_engine, make_sessionmaker
    from intake import parsed, pipeline
    from intake.config import parse_config
    from intake.values import RawMail

    real = parsed.parse_email

    def parse(data):
        if b"kills-the-worker" in data:
            os._exit(137)  # as hard as a segfault or the OOM killer: nothing is cleaned up
        return real(data)

    parsed.parse_email = parse
    url, folder = sys.argv[1], sys.argv[2]
    names = sorted(os.listdir(folder))
    raws = [RawMail("support", 1, i + 1, open(os.path.join(folder, n), "rb").read())
            for i, n in enumerate(names)]
    cfg = parse_config({"smtp": {"from_address": "Support <support@team.example>"}})
    factory = make_sessionmaker(make_engine(url))
    result = pipeline.process_batch(factory, cfg, "support", raws, load_classifier())
    print(len(result.new_items), result.quarantined, result.one_by_one)
""")


def test_a_message_that_keeps_killing_the_worker_is_quarantined(db, tmp_path):
    """Real process deaths: the batch, then the poison message alone MAX_CRASHES times, then quarantine."""
    url = db.kw["bind"].url.render_as_string(hide_password=False)
    folder = tmp_path / "batch"
    folder.mkdir()
    mails = normal(5)
    mails[1] = mails[1].replace(b"Subject: ", b"Subject: kills-the-worker ", 1)
    for i, m in enumerate(mails):
        (folder / f"{i:02d}.eml").write_bytes(m)
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    outputs = []
    for _ in range(MAX_CRASHES + 2):
        proc = subprocess.run([sys.executable, "-c", CRASHER, url, str(folder)], capture_output=True,
                              text=True,
                              env=env, timeout=120)
        outputs.append((proc.returncode, proc.stdout.strip()))
        if proc.returncode == 0:
            break
    # The batch dies once; then one by one: message 1 is stored, message 2 kills the worker MAX_CRASHES times;
    # the last run finds message 1 stored, quarantines message 2 and stores the three after it.
    assert [rc for rc, _ in outputs] == [137] * (1 + MAX_CRASHES) + [0], outputs
    assert outputs[-1][1] == "3 1 True"
    with db() as s:
        rows = {m.uid: m for m in s.scalars(select(Message).where(Message.direction == "in"))}
        assert sorted(rows) == [1, 2, 3, 4, 5]
        assert rows[2].status == "quarantined" and f"stopped {MAX_CRASHES} times" in rows[2].error
        assert rows[2].raw == mails[1] and rows[1].item_id and rows[5].item_id
        assert s.scalar(select(func.count(Item.id))) == 4
        assert s.scalar(select(func.count(ProcessingAttempt.uid))) == 0
        assert s.scalar(select(Mailbox.last_uid)) == 5


def test_senders_without_a_usable_address_still_make_items_without_acknowledgments(db):
    odd = [
        b"From: nobody at all\r\nSubject: The export fails\r\nMessage-ID: <o1@x.example>\r\n\r\nIt "
        b"fails.\r\n",
        b"Subject: No From header\r\nMessage-ID: <o2@x.example>\r\n\r\nPlease add a PO field to the "
        b"form.\r\n",
        b"From: pete(his account)@silly.test(his host)\r\nSubject: Question\r\nMessage-ID: "
        b"<o3@x.example>\r\n\r\n"
        b"How do I export the report?\r\n",
        b"From: big bug bb@bug.com\r\nSubject: Broken\r\nMessage-ID: <o4@x.example>\r\n\r\nThe login page "
        b"crashes.\r\n",
        b"From: tim@powerupdev.com concierge@powerupdev.com\r\nSubject: Thanks\r\nMessage-ID: "
        b"<o5@x.example>\r\n\r\n"
        b"Great work on the release.\r\n",
    ]
    result = process_batch(db, CFG, "support", raws(odd), load_classifier())
    assert len(result.new_items) == 5 and result.acks_queued == 2
    with db() as s:
        sent_to = sorted(s.scalars(select(OutboxMail.to_address)))
        assert sent_to == ["bb@bug.com", "tim@powerupdev.com"]
        reasons = {e.data["reason"] for e in s.scalars(select(Event).where(Event.kind == "ack_suppressed"))}
        assert reasons == {"no_reply_address", "invalid_address"}
        senders = {m.message_id: m.sender
                   for m in s.scalars(select(Message).where(Message.direction == "in"))}
        assert senders["<o3@x.example>"] == "pete@silly.test" and senders["<o1@x.example>"] == ""
        assert all(i.contact_id is None for i in s.scalars(select(Item).join(Message).where(
            Message.message_id.in_(["<o1@x.example>", "<o2@x.example>"]))))


def test_a_reused_message_id_keeps_both_messages_and_a_copy_is_still_one(db):
    clf = load_classifier()
    first = client_email(1, "Export fails", "The export crashes above 1,000 rows.", "en",
                         msgid="<same@mailer.example>")
    other = client_email(2, "Add a field", "Please add a PO number field.", "en",
                         msgid="<same@mailer.example>")
    copy = b"Delivered-To: sales@team.example\r\nReceived: from mx; Tue, 1 Dec 2026\r\n" + bytes(first)
    process_batch(db, CFG, "support", raws([bytes(first)]), clf)
    result = process_batch(db, CFG, "support", raws([bytes(other)], first_uid=2), clf)
    assert len(result.new_items) == 1
    again = process_batch(db, CFG, "sales", raws([copy], mailbox="sales"), clf)  # the same message elsewhere
    assert again.duplicates == 1
    with db() as s:
        rows = list(s.scalars(select(Message).where(Message.message_id == "<same@mailer.example>")
                              .order_by(Message.id)))
        assert len(rows) == 2 and rows[0].item_id != rows[1].item_id
        event = s.scalar(select(Event).where(Event.kind == "message_id_collision"))
        assert event.item_id == rows[1].item_id and event.data["others"] == [rows[0].id]
    # A reply to that Message-ID threads onto the message that had it first.
    reply = client_email(1, "Re: Export fails", "Any news?", "en", In_Reply_To="<same@mailer.example>")
    follow = process_batch(db, CFG, "support", raws([bytes(reply)], first_uid=3), clf)
    assert len(follow.follow_ups) == 1 and not follow.new_items
    with db() as s:
        assert s.scalar(select(Message.item_id).where(Message.uid == 3)) == rows[0].item_id


def test_database_outages_while_a_message_is_processed_alone_do_not_count_as_crashes(db, monkeypatch):
    # The batch fails at its end, so each message goes alone; the third one's transaction then meets a
    # database outage more often than the crash limit. It must be stored once the database is back.
    from sqlalchemy.exc import OperationalError

    mails = normal(3)
    real_advance = pipeline._advance
    outages = {"left": MAX_CRASHES + 2}

    def advance(box, batch, now):
        if len(batch) > 1:
            raise RuntimeError("the batch transaction fails at its end")
        if batch[0].uid == 3 and outages["left"]:
            outages["left"] -= 1
            raise OperationalError("COMMIT", {}, Exception("database is locked"))
        return real_advance(box, batch, now)

    monkeypatch.setattr(pipeline, "_advance", advance)
    worker = worker_name()
    for _ in range(MAX_CRASHES + 2):
        with pytest.raises(OperationalError):
            process_batch(db, CFG, "support", raws(mails), load_classifier(), worker=worker)
    result = process_batch(db, CFG, "support", raws(mails), load_classifier(), worker=worker)
    assert (result.quarantined, len(result.new_items), result.duplicates) == (0, 1, 2)
    with db() as s:
        rows = {m.uid: m for m in s.scalars(select(Message).where(Message.direction == "in"))}
        assert sorted(rows) == [1, 2, 3] and all(r.item_id and r.status == "processed" for r in rows.values())
        assert s.scalar(select(func.count(ProcessingAttempt.uid))) == 0
