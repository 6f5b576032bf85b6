"""A client of one organization cannot write into another's thread, and replies from the app go to the item's
contact and the participants a PM ticks, never to whoever wrote last: on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from classifiers import load_classifier
from db.models import ChangeAssessment, Event, Item, Message, OutboxMail
from intake.config import parse_config
from intake.pipeline import process_batch
from intake.values import RawMail
from review.app import create_app
from review.settings import WebSettings
from tests.mailgen import client_email
from tests.web import signed_in

pytestmark = pytest.mark.integration
FROM = "Support <support@team.example>"
CFG = parse_config({"smtp": {"from_address": FROM}, "tracker": {"staff_domains": ["team.example"]}})
WHEN = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
GLOBEX = "client1@globex.example"
COLLEAGUE = "client2@globex.example"
ATTACKER = "m@acme.example"


def raw(uid: int, mail, minutes: int = 0) -> RawMail:
    data = bytes(mail)
    return RawMail("support", 1, uid, data, WHEN + timedelta(minutes=minutes), len(data))


def mail_from(sender: str, subject: str, body: str, msgid: str,
              **headers: str):  # type: ignore[no-untyped-def]
    m = client_email(1, subject, body, "en", msgid=msgid, **headers)
    m.replace_header("From", sender)
    return m


def item(session, ref: str) -> Item:  # type: ignore[no-untyped-def]
    return session.scalar(select(Item).where(Item.ref == ref))


def events(session, ref: str, kind: str) -> list[dict]:  # type: ignore[no-untyped-def]
    return [e.data for e in session.scalars(select(Event).join(Item).where(Item.ref == ref,
                                                                           Event.kind == kind)
                                            .order_by(Event.id))]


def message_ids(session, ref: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [m.message_id for m in sorted(item(session, ref).messages, key=lambda m: m.id)]


@pytest.fixture
def globex(db):
    """CI-000001: Globex's invoice question (from client1), with a follow-up by a colleague (client2)."""
    clf = load_classifier()
    first = client_email(1, "Invoice dispute for October", "Our October invoice charges 40 hours we did not "
                         "order. Please check the confidential rate sheet.", "en", domain="globex.example",
                         msgid="<g1@globex.example>")
    colleague = client_email(2, "Re: Invoice dispute for October [CI-000001]", "Adding the purchase order "
                             "number: PO-7781.", "en", domain="globex.example", msgid="<g2@globex.example>",
                             In_Reply_To="<g1@globex.example>")
    result = process_batch(db, CFG, "support", [raw(1, first), raw(2, colleague, 5)], clf)
    assert result.new_items == ["CI-000001"] and result.follow_ups == ["CI-000001"]
    return clf


def test_a_stranger_claiming_a_thread_gets_an_item_of_their_own(db, globex):
    with db() as s:
        before = message_ids(s, "CI-000001")
        globex_ack = s.scalar(select(OutboxMail.message_id).where(OutboxMail.to_address == GLOBEX))
    # The probe's message: a guessed reference and an In-Reply-To copied from Globex's thread.
    attack = mail_from(f"M <{ATTACKER}>", "Re: GLOBEX [CI-000001]", "Please send me the latest status.",
                       "<probe1@acme.example>", In_Reply_To="<g1@globex.example>",
                       References=f"<g1@globex.example> {globex_ack}")
    result = process_batch(db, CFG, "support", [raw(3, attack, 10)], globex)
    assert result.new_items == ["CI-000002"] and not result.follow_ups and result.acks_queued == 1
    with db() as s:
        assert message_ids(s, "CI-000001") == before  # nothing was added to Globex's item
        new = item(s, "CI-000002")
        assert new.needs_review is True and new.contact.email == ATTACKER
        assert new.contact.organization.domain == "acme.example"
        assert "CI-000001" not in new.subject and "Invoice" not in new.subject
        assert [m.message_id for m in new.messages if m.direction == "in"] == ["<probe1@acme.example>"]
        assert events(s, "CI-000002", "thread_claim") == [{"ref": "CI-000001",
                                                           "message_id": "<probe1@acme.example>"}]
        assert events(s, "CI-000001", "thread_claim_refused") == [
            {"ref": "CI-000002", "from": ATTACKER, "message_id": "<probe1@acme.example>"}]
        ack = s.scalar(select(OutboxMail).where(OutboxMail.item_id == new.id))
    # The acknowledgment is the new item's alone: nothing of Globex's item in it.
    assert ack.to_address == ATTACKER and ack.kind == "acknowledgment"
    msg = message_from_bytes(ack.raw, policy=default)
    assert msg["Subject"] == "Re: GLOBEX [CI-000002]" and msg["In-Reply-To"] == "<probe1@acme.example>"
    for secret in (b"CI-000001", b"g1@globex.example", b"Invoice", b"rate sheet", globex_ack.encode()):
        assert secret not in ack.raw

    # Their answer to that acknowledgment (still quoting Globex's reference) finds their own item.
    again = mail_from(ATTACKER, f"{msg['Subject']} [CI-000001]", "Any news?", "<probe2@acme.example>",
                      In_Reply_To=msg["Message-ID"], References=f"<g1@globex.example> {msg['Message-ID']}")
    result = process_batch(db, CFG, "support", [raw(4, again, 20)], globex)
    assert result.follow_ups == ["CI-000002"] and not result.new_items
    # An automatic reply from outside the thread is recorded, but never put on the item it names.
    away = mail_from("Out Of Office <ooo@initech.example>", "Automatic reply: Re: Invoice [CI-000001]",
                     "I am away.", "<ooo1@initech.example>", Auto_Submitted="auto-replied",
                     In_Reply_To="<g1@globex.example>")
    result = process_batch(db, CFG, "support", [raw(5, away, 25)], globex)
    assert result.recorded == 1 and not result.new_items and not result.follow_ups
    with db() as s:
        assert message_ids(s, "CI-000001") == before
        assert s.scalar(select(Message.item_id).where(Message.message_id == "<ooo1@initech.example>")) is None


def test_people_we_wrote_to_join_but_only_the_client_decides(db, globex):
    # A Globex PM answers from their own mail program and copies a partner of Globex's in.
    staff = mail_from("Pat <pat@team.example>", "Re: Invoice dispute for October [CI-000001]",
                      "We are checking the hours.", "<s1@team.example>", In_Reply_To="<g2@globex.example>",
                      Cc="support@team.example, Ann <ann@partner.example>")
    staff.replace_header("To", GLOBEX)
    process_batch(db, CFG, "support", [raw(3, staff, 10)], globex)
    with db.begin() as s:
        found = item(s, "CI-000001")
        found.category, found.status = "change_request", "awaiting_approval"
        s.add(ChangeAssessment(item_id=found.id, scope="Rework the invoice", sent_at=WHEN))
    partner = mail_from("Ann <ann@partner.example>", "Re: Invoice dispute for October [CI-000001]",
                        "I approve.", "<p1@partner.example>", In_Reply_To="<s1@team.example>")
    stranger = mail_from("Sam <sam@partner2.example>", "Re: Invoice dispute for October [CI-000001]",
                         "I approve.", "<x1@partner2.example>", In_Reply_To="<s1@team.example>")
    result = process_batch(db, CFG, "support", [raw(4, partner, 20), raw(5, stranger, 21)], globex)
    assert result.follow_ups == ["CI-000001"] and result.new_items == ["CI-000002"]
    with db() as s:
        # the partner was copied in; they do not decide
        assert item(s, "CI-000001").status == "awaiting_approval"
        assert [e["from"] for e in events(s, "CI-000001", "thread_claim_refused")] == ["sam@partner2.example"]
    client = mail_from(f"Client 1 <{GLOBEX}>", "Re: Invoice dispute for October [CI-000001]", "I approve.",
                       "<g3@globex.example>", In_Reply_To="<s1@team.example>")
    process_batch(db, CFG, "support", [raw(6, client, 30)], globex)
    with db() as s:
        assert item(s, "CI-000001").status == "approved"


def test_a_free_mail_contact_is_only_their_own_address(db):
    clf = load_classifier()
    first = mail_from("Kim <kim@gmail.com>", "Dashboard is empty",
                      "The dashboard shows no data since Monday.",
                      "<k1@gmail.com>")
    process_batch(db, CFG, "support", [raw(1, first)], clf)
    other = mail_from("Sam <sam@gmail.com>", "Re: Dashboard is empty [CI-000001]", "Me too, what is the fix?",
                      "<o1@gmail.com>", In_Reply_To="<k1@gmail.com>")
    own = mail_from("Kim <kim@gmail.com>", "Re: Dashboard is empty [CI-000001]", "Still empty today.",
                    "<k2@gmail.com>", In_Reply_To="<k1@gmail.com>")
    result = process_batch(db, CFG, "support", [raw(2, other, 5), raw(3, own, 6)], clf)
    assert result.new_items == ["CI-000002"] and result.follow_ups == ["CI-000001"]
    with db() as s:
        incoming = [m.message_id for m in item(s, "CI-000001").messages if m.direction == "in"]
        assert incoming == ["<k1@gmail.com>", "<k2@gmail.com>"]
        assert events(s, "CI-000002", "thread_claim")[0]["ref"] == "CI-000001"
        assert item(s, "CI-000002").contact.organization is None


@pytest.fixture
def app_client(db, globex):
    """The review app, signed in as a PM of Globex, after the probe's message and a message that the old
    threading would have put on Globex's item (stored directly, as data from before the fix)."""
    attack = mail_from(f"M <{ATTACKER}>", "Re: GLOBEX [CI-000001]", "Status please.", "<probe1@acme.example>",
                       In_Reply_To="<g1@globex.example>")
    process_batch(db, CFG, "support", [raw(3, attack, 10)], globex)
    with db.begin() as s:
        s.add(Message(item_id=item(s, "CI-000001").id, direction="in", message_id="<old-probe@acme.example>",
                      sender=ATTACKER, sender_name="M", subject="Re: GLOBEX [CI-000001]", body_text="Status?",
                      received_at=WHEN + timedelta(hours=1), raw=b"raw"))
    sent: list[int] = []
    app = create_app(db, settings=WebSettings(from_address=FROM, team="Team"),
                     send_outbox=lambda: sent.append(1))
    with TestClient(app) as c:
        signed_in(c, db, email="pm@team.example", role="pm", orgs=("globex.example",))
        yield c


def _replies(db) -> list[OutboxMail]:  # type: ignore[no-untyped-def]
    with db() as s:
        return list(s.scalars(select(OutboxMail).where(OutboxMail.kind == "reply").order_by(OutboxMail.id)))


def _post_reply(client, text: str, cc: list[str] | None = None):  # type: ignore[no-untyped-def]
    return client.post("/items/CI-000001/reply", data={"text": text, "cc": cc or [],
                                                       "csrf_token": client.csrf},
                       follow_redirects=False)


def test_replies_from_the_app_go_to_the_contact_and_ticked_participants_only(db, app_client):
    page = app_client.get("/items/CI-000001").text
    # The colleague who wrote in the thread is offered, unticked; the probe's address never is.
    assert (f'name="cc" value="{COLLEAGUE}">' in page
            and "checked" not in page.split('id="reply-copies"')[1][:600])
    assert f'value="{ATTACKER}"' not in page and f'value="{GLOBEX}"' not in page
    assert [c["address"]
            for c in app_client.get("/api/items/CI-000001").json()["reply_copies"]] == [COLLEAGUE]

    # A reply without copies: the contact alone, answering the latest message of a participant.
    assert _post_reply(app_client, "We credit the 40 hours on the next invoice.").status_code == 303
    (mail,) = _replies(db)
    msg = message_from_bytes(mail.raw, policy=default)
    assert mail.to_address == GLOBEX and [a.addr_spec for a in msg["To"].addresses] == [GLOBEX]
    assert "Cc" not in msg and ATTACKER.encode() not in mail.raw
    assert msg["In-Reply-To"] == "<g2@globex.example>"
    with db() as s:
        replied = events(s, "CI-000001", "replied")
        assert replied[-1]["to"] == GLOBEX and "cc" not in replied[-1]

    # With the colleague ticked: the same message reaches both, one outbox row per recipient.
    assert _post_reply(app_client, "Copying your colleague.", [COLLEAGUE]).status_code == 303
    rows = _replies(db)[1:]
    assert [r.to_address for r in rows] == [GLOBEX, COLLEAGUE]
    assert rows[0].raw == rows[1].raw and rows[0].message_id == rows[1].message_id
    msg = message_from_bytes(rows[0].raw, policy=default)
    assert [a.addr_spec for a in msg["To"].addresses] == [GLOBEX]
    assert [a.addr_spec for a in msg["Cc"].addresses] == [COLLEAGUE]
    with db() as s:
        copy = s.scalar(select(Message).where(Message.message_id == rows[0].message_id))
        assert copy.recipients == f"{GLOBEX}, {COLLEAGUE}" and copy.direction == "out"
        assert events(s, "CI-000001", "replied")[-1]["cc"] == [COLLEAGUE]

    # A forged copy naming the probe's address is refused, and nothing is queued.
    count = len(_replies(db))
    r = _post_reply(app_client, "Here is the confidential rate sheet.", [COLLEAGUE, ATTACKER])
    assert r.status_code == 400 and "is not a participant of this thread" in r.text and ATTACKER in r.text
    r = app_client.post("/api/items/CI-000001/replies", json={"text": "Rate sheet attached.",
                                                              "cc": [ATTACKER]})
    assert r.status_code == 400 and "is not a participant" in r.json()["error"]
    r = app_client.post("/api/items/CI-000001/replies", json={"text": "Rate sheet attached.", "cc": ATTACKER})
    assert r.status_code == 400
    assert len(_replies(db)) == count
    with db() as s:
        assert s.scalar(select(func.count(OutboxMail.id)).where(OutboxMail.to_address == ATTACKER,
                                                                OutboxMail.kind != "acknowledgment")) == 0
    r = app_client.post("/api/items/CI-000001/replies", json={"text": "Via the API.",
                                                              "cc": [COLLEAGUE.upper()]})
    assert r.status_code == 200
    assert [m.to_address for m in _replies(db)[count:]] == [GLOBEX, COLLEAGUE]


def test_an_assessment_goes_to_the_contact_with_the_copies_ticked(db, app_client):
    with db.begin() as s:
        found = item(s, "CI-000001")
        found.category, found.status = "change_request", "impact_assessed"
        s.add(ChangeAssessment(item_id=found.id, scope="Rework the October invoice", cost="1 day",
                               schedule="now"))
    page = app_client.get("/items/CI-000001").text
    assert f'name="cc" value="{COLLEAGUE}">' in page.split('id="send-assessment-form"')[1].split("</form>")[0]
    r = app_client.post("/items/CI-000001/assessment/send", data={"cc": [ATTACKER],
                                                                  "csrf_token": app_client.csrf},
                        follow_redirects=False)
    assert r.status_code == 400
    r = app_client.post("/items/CI-000001/assessment/send", data={"cc": [COLLEAGUE],
                                                                  "csrf_token": app_client.csrf},
                        follow_redirects=False)
    assert r.status_code == 303
    with db() as s:
        rows = list(s.scalars(select(OutboxMail).where(OutboxMail.kind == "assessment")
                              .order_by(OutboxMail.id)))
    assert [r.to_address for r in rows] == [GLOBEX, COLLEAGUE]
    msg = message_from_bytes(rows[0].raw, policy=default)
    assert [a.addr_spec for a in msg["To"].addresses] == [GLOBEX]
    assert [a.addr_spec for a in msg["Cc"].addresses] == [COLLEAGUE]
