"""The pipeline against real databases: one item per message, threading, quarantine, sync state."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import TimeoutError as PoolTimeout

from classifiers import load_classifier
from db.models import Event, Item, Mailbox, Message, Organization, OutboxMail
from intake import batch_store, filing, parsed
from intake.config import parse_config
from intake.parse import ParseError
from intake.pipeline import process_batch
from intake.values import RawMail
from tests.mailgen import client_email

pytestmark = pytest.mark.integration
CFG = parse_config({"smtp": {"from_address": "Support <support@team.example>"},
                    "acknowledgment": {"max_per_sender_per_hour": 2}})
WHEN = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def raw(uid: int, mail, validity: int = 1) -> RawMail:
    data = bytes(mail)
    return RawMail("support", validity, uid, data, WHEN, len(data))


def count(factory, model) -> int:
    with factory() as s:
        return s.scalar(select(func.count(model.id)))


def test_batch_creates_items_acks_and_advances_state(db):
    clf = load_classifier()
    mails = [client_email(i, f"Subject {i}", "The report page shows error 500 since this morning.", "en")
             for i in range(3)]
    result = process_batch(db, CFG, "support", [raw(i + 1, m) for i, m in enumerate(mails)], clf)
    assert len(result.new_items) == 3 and result.acks_queued == 3
    with db() as s:
        box = s.scalar(select(Mailbox))
        assert (box.uidvalidity, box.last_uid) == (1, 3)
        items = list(s.scalars(select(Item).order_by(Item.id)))
        assert [i.ref for i in items] == ["CI-000001", "CI-000002", "CI-000003"]
        assert all(i.received_at == WHEN for i in items)
        assert s.scalar(select(func.count(Event.id)).where(Event.kind == "classified")) == 3
    # Fetching the same messages again changes nothing.
    again = process_batch(db, CFG, "support", [raw(i + 1, m) for i, m in enumerate(mails)], clf)
    assert again.duplicates == 3 and not again.new_items
    # The same message seen at another UID (mailbox restored) is still the same message.
    moved = process_batch(db, CFG, "support", [raw(10, mails[0], validity=2)], clf)
    assert moved.duplicates == 1
    assert count(db, Item) == 3 and count(db, OutboxMail) == 3


def test_parse_failure_is_quarantined_with_raw_bytes(db, monkeypatch):
    real = parsed.parse_email

    def flaky(data: bytes):
        if b"poison" in data:
            raise ParseError("cannot parse")
        return real(data)

    monkeypatch.setattr(parsed, "parse_email", flaky)
    bad = client_email(1, "poison", "x", "en")
    good = client_email(2, "fine", "Could you add a PO field to the form?", "en")
    result = process_batch(db, CFG, "support", [raw(1, bad), raw(2, good)], load_classifier())
    assert result.quarantined == 1 and len(result.new_items) == 1
    with db() as s:
        q = s.scalar(select(Message).where(Message.status == "quarantined"))
        assert q.raw == bytes(bad) and q.error == "cannot parse" and q.item_id is None


def test_store_error_quarantines_instead_of_stopping(db, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("contact table exploded")

    monkeypatch.setattr(filing, "upsert_contact", broken)
    monkeypatch.setattr(batch_store, "contacts_for", broken)  # the batch fails, then the message alone
    mail = client_email(1, "x", "Please fix the login.", "en")
    result = process_batch(db, CFG, "support", [raw(1, mail)], load_classifier())
    assert result.quarantined == 1
    with db() as s:
        assert s.scalar(select(func.count(Item.id))) == 0  # the half-made item was rolled back
        row = s.scalar(select(Message))
        assert row.error.startswith("RuntimeError: contact table exploded") and row.raw == bytes(mail)
        assert row.sender == "client1@client.example" and row.message_id == mail["Message-ID"]


def test_an_acknowledgment_that_cannot_be_built_keeps_the_item(db, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(filing, "enqueue_ack", broken)
    monkeypatch.setattr(batch_store, "plan_ack", broken)
    mail = client_email(1, "x", "Please fix the login.", "en")
    result = process_batch(db, CFG, "support", [raw(1, mail)], load_classifier())
    assert len(result.new_items) == 1 and not result.acks_queued and not result.quarantined
    with db() as s:
        event = s.scalar(select(Event).where(Event.kind == "ack_suppressed"))
        assert event.data["reason"] == "build_failed" and "template exploded" in event.data["error"]


def test_threading_and_rate_limit(db):
    clf = load_classifier()
    first = client_email(1, "Login broken", "The login page shows error 500.", "en",
                         msgid="<t1@client.example>")
    process_batch(db, CFG, "support", [raw(1, first)], clf)
    by_ref = client_email(1, "Re: Login broken [CI-000001]", "Any news?", "en")
    by_header = client_email(1, "more", "It also fails on mobile.", "en", In_Reply_To="<t1@client.example>")
    auto = client_email(1, "Out of office", "I am away.", "en", Auto_Submitted="auto-replied")
    result = process_batch(db, CFG, "support", [raw(2, by_ref), raw(3, by_header), raw(4, auto)], clf)
    assert result.follow_ups == ["CI-000001", "CI-000001"] and result.recorded == 1 and not result.new_items
    # The limit is two acknowledgments per sender per hour in this config.
    more = [client_email(1, f"New thing {i}", "Please also add a dark mode.", "en") for i in range(3)]
    result = process_batch(db, CFG, "support", [raw(10 + i, m) for i, m in enumerate(more)], clf)
    assert len(result.new_items) == 3 and result.acks_queued == 1
    with db() as s:
        assert s.scalar(select(func.count(Event.id)).where(Event.kind == "ack_suppressed")) == 2


def _bounce_of(ack_id: str, subject: str, include_id: bool = True) -> bytes:
    inner = f"From: support@team.example\r\nTo: gone@client.example\r\nSubject: {subject}\r\n"
    if include_id:
        inner += f"Message-ID: {ack_id}\r\n"
    return (
        "From: MAILER-DAEMON@mx.client.example\r\nTo: support@team.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-" + ack_id.strip("<>") + ">\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status; boundary=R\r\n\r\n"
        "--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.client.example\r\n\r\n"
        "Final-Recipient: rfc822; gone@client.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--R\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\nWe received your request.\r\n--R--\r\n"
    ).encode()


def test_bounce_and_out_of_office_join_the_item_without_a_reply(db):
    clf = load_classifier()
    process_batch(db, CFG, "support", [raw(1, client_email(1, "Login", "Login fails with error 500.", "en"))],
                  clf)
    with db() as s:
        ack_id = s.scalar(select(OutboxMail.message_id))
    bounce = RawMail("support", 1, 2, _bounce_of(ack_id, "Re: Login [CI-000001]"), WHEN, 900)
    by_subject = RawMail("support", 1, 3, _bounce_of("<lost@team.example>", "Re: Login [CI-000001]", False),
                         WHEN, 900)
    ooo = client_email(1, "Automatic reply: Re: Login [CI-000001]", "I am out of the office.", "en",
                       In_Reply_To=ack_id, X_Auto_Response_Suppress="All")
    unrelated = RawMail("support", 1, 5, _bounce_of("<unknown@team.example>", "Re: something else"), WHEN,
                        900)
    result = process_batch(db, CFG, "support", [bounce, by_subject, raw(4, ooo), unrelated], clf)
    assert result.follow_ups == ["CI-000001"] * 3 and result.recorded == 1 and result.acks_queued == 0
    with db() as s:
        item = s.scalar(select(Item))
        failures = [e.data for e in item.events if e.kind == "delivery_failed"]
        assert len(failures) == 2
        assert failures[0]["to"] == "gone@client.example" and "5.1.1" in failures[0]["error"]
        assert [e.kind for e in item.events].count("auto_reply_received") == 1
        assert s.scalar(select(func.count(OutboxMail.id))) == 1
        lone = s.scalar(select(Message).where(Message.uid == 5))
        assert lone.item_id is None and lone.status == "ignored" and lone.screening == "bounce"


@pytest.mark.parametrize("sender, headers, reason", [
    ("client@acme.example", {"Auto_Submitted": "auto-generated"}, "auto_submitted"),
    ("client@acme.example", {"Precedence": "bulk"}, "list_mail"),
    ("client@acme.example", {"Precedence": "junk"}, "list_mail"),
    ("client@acme.example", {"Precedence": "list"}, "list_mail"),
    ("client@acme.example", {"List_Id": "<news.acme.example>"}, "list_mail"),
    ("client@acme.example", {"X_Autoreply": "yes"}, "auto_submitted"),
    ("client@acme.example", {"X_Autorespond": "yes"}, "auto_submitted"),
    ("client@acme.example", {"X_Auto_Response_Suppress": "All"}, "auto_submitted"),
    ("MAILER-DAEMON@mx.acme.example", {}, "bounce"),
    ("postmaster@acme.example", {}, "bounce"),
    ("noreply@acme.example", {}, "no_reply_sender"),
    ("support@team.example", {}, "from_us"),
])
def test_automatic_mail_is_recorded_but_never_answered(db, sender, headers, reason):
    mail = client_email(1, "Notice", "The login page shows error 500.", "en", **headers)
    mail.replace_header("From", sender)
    result = process_batch(db, CFG, "support", [raw(1, mail)], load_classifier())
    assert result.recorded == 1 and result.acks_queued == 0 and not result.new_items
    with db() as s:
        row = s.scalar(select(Message))
        assert row.screening == reason and row.status == "ignored" and row.raw == bytes(mail)
        assert s.scalar(select(func.count(OutboxMail.id))) == 0


def test_delivery_report_without_a_daemon_sender_is_recorded(db):
    report = (_bounce_of("<x@team.example>", "Re: hello").replace(b"MAILER-DAEMON@mx.client.example",
                                                                    b"ops@client.example")
              .replace(b"Auto-Submitted: auto-replied\r\n", b""))
    result = process_batch(db, CFG, "support", [RawMail("support", 1, 1, report, WHEN, len(report))],
                           load_classifier())
    assert result.recorded == 1 and result.acks_queued == 0
    with db() as s:
        assert s.scalar(select(Message.screening)) == "bounce"


def test_unhappy_feedback_is_flagged_for_follow_up_and_happy_feedback_is_not(db):
    clf = load_classifier()
    unhappy = client_email(1, "Very disappointed with the support",
                           "I am writing to let you know we are very unhappy with the support since the "
                           "project ended. Our requests sit unanswered for days. This is unacceptable.", "en")
    happy = client_email(2, "感谢", "昨天的演示非常成功，领导很满意，辛苦大家了！", "zh")
    process_batch(db, CFG, "support", [raw(1, unhappy), raw(2, happy)], clf)
    with db() as s:
        items = list(s.scalars(select(Item).order_by(Item.id)))
        assert [i.category for i in items] == ["feedback", "feedback"]
        assert [i.follow_up for i in items] == [True, False]
        flagged = s.scalars(select(Event).where(Event.kind == "follow_up")).all()
        assert [(e.item_id, e.data["reason"]) for e in flagged] == [(items[0].id, "negative feedback")]
    # A complaint in a follow-up to the happy item flags it too, once.
    complaint = client_email(3, "Re: 感谢", "不过说实话，上线后的响应太慢了，我们很失望。", "zh",
                             **{"In-Reply-To": happy["Message-ID"]})
    process_batch(db, CFG, "support", [raw(3, complaint)], clf)
    with db() as s:
        second = s.get(Item, items[1].id)
        assert second.follow_up is True
        assert s.scalar(select(func.count(Event.id)).where(Event.kind == "follow_up")) == 2


def test_each_new_item_records_the_sla_policy_of_its_clients_tier(db):
    cfg = parse_config({"smtp": {"from_address": "Support <support@team.example>"}, "sla": {
        "default_policy": "standard",
        "policies": {"standard": {"targets": {"issue": {"acknowledge": "10m", "resolution": "3d"}}},
                     "gold": {"tiers": ["gold"], "targets": {"issue": {"acknowledge": "2m",
                                                                       "resolution": "1d"}}}}}})
    with db.begin() as s:
        s.add(Organization(name="Gold Client", domain="gold.example", tier="gold"))
    mails = [client_email(1, "Export broken", "The export page shows error 500 since this morning.", "en",
                          domain="gold.example"),
             client_email(2, "Export broken", "The export page shows error 500 since this morning.", "en")]
    process_batch(db, cfg, "support", [raw(i + 1, m) for i, m in enumerate(mails)], load_classifier())
    with db() as s:
        gold, plain = s.scalars(select(Item).order_by(Item.id)).all()
        assert gold.sla["policy"] == "gold" and gold.sla["targets"]["issue"]["acknowledge"] == 120.0
        assert (plain.sla["policy"] == "standard"
                and plain.sla["targets"]["issue"]["resolution"] == 3 * 86400.0)
        assert plain.sla["targets"]["question"] == {"acknowledge": None, "first_response": None,
                                                    "resolution": None}


def test_a_staff_reply_from_their_own_mail_client_is_the_first_human_response(db):
    from review.accounts import create_user

    cfg = parse_config({"smtp": {"from_address": "Support <support@team.example>"},
                        "tracker": {"staff_domains": ["team.example"]}})
    with db.begin() as s:
        create_user(s, "pm@agency.example", "Pat", "pm", "correct horse battery staple")
    question = client_email(1, "Invoice address", "Can the invoice show our full company name?", "en")
    process_batch(db, cfg, "support", [raw(1, question)], load_classifier())
    later = datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc)
    answers = []
    for n, sender in ((2, "Pat <pm@agency.example>"), (3, "Lin <lin@team.example>")):
        answer = client_email(n, "Re: Invoice address", "Yes, we will change it on the next invoice.", "en",
                              **{"In-Reply-To": question["Message-ID"], "Cc": "support@team.example"})
        answer.replace_header("From", sender)
        answers.append(RawMail("support", 1, n, bytes(answer), later + timedelta(minutes=n),
                               len(bytes(answer))))
    process_batch(db, cfg, "support", answers, load_classifier())
    with db() as s:
        item = s.scalar(select(Item))
        assert item.first_response_at == later + timedelta(minutes=2)  # the first of the two answers
        assert [(m.sender, m.direction) for m in item.messages if m.uid] == [
            ("client1@client.example", "in"), ("pm@agency.example", "out"), ("lin@team.example", "out")]
        replied = s.scalars(select(Event).where(Event.kind == "replied").order_by(Event.id)).all()
        assert [(e.actor, e.data["via"], e.data["first_response"]) for e in replied] == [
            ("pm@agency.example", "mail", True), ("lin@team.example", "mail", False)]
        assert s.scalar(select(func.count(Item.id))) == 1 and s.scalar(select(func.count(OutboxMail.id))) == 1


def test_no_free_database_connection_is_an_outage_not_a_bad_message(db, monkeypatch):
    """A pool that has no connection free in time says nothing about the mail: the batch is left for later,
    and no message is quarantined for it."""
    def busy(*a, **k):
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached, connection timed out")

    monkeypatch.setattr(batch_store, "contacts_for", busy)
    monkeypatch.setattr(filing, "upsert_contact", busy)
    mail = client_email(1, "x", "Please fix the login.", "en")
    with pytest.raises(PoolTimeout):
        process_batch(db, CFG, "support", [raw(1, mail)], load_classifier())
    assert count(db, Message) == 0 and count(db, Item) == 0
    with db() as s:
        assert (s.scalar(select(Mailbox.last_uid)) or 0) == 0  # the mailbox did not move past it
