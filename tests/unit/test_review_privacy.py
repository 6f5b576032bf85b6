"""The admins' client-data page: export a contact as a zip, erase a contact (the address typed twice), the
audit log; other users do not see it."""
from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import AuditEntry, Contact, Item, Message, OutboxMail
from reports import contact_export
from tests.unit.test_review_app import add_item
from tests.web import signed_in


def _two_items(factory) -> None:
    with factory.begin() as session:
        add_item(session, 1, subject="Login page broken for Anna Lee")
        add_item(session, 2, email="bo@acme.example", name="Bo Chen", body="Anna Lee asked me to write.")


@pytest.mark.parametrize("spool", [16 * 1024 * 1024, 1])  # in memory, and on disk as a large export goes
def test_export_is_a_zip_of_the_contacts_data(admin, factory, monkeypatch, spool):
    monkeypatch.setattr(contact_export, "SPOOL_BYTES", spool)
    monkeypatch.setattr(contact_export, "RAW_CHUNK", 1)  # each raw mail read on its own
    _two_items(factory)
    with factory.begin() as session:  # a follow-up without its bytes (purged), and our reply to her
        item = session.scalar(select(Item).where(Item.ref == "CI-000001"))
        session.add(Message(item_id=item.id, direction="in", message_id="<m1b@acme.example>",
                            sender="anna@acme.example", new_text="Still broken.", raw=b""))
        session.add(Message(item_id=item.id, direction="in", message_id="<m1c@acme.example>",
                            sender="anna@acme.example", new_text="And now?", raw=b"raw 3"))
        session.add(OutboxMail(item_id=item.id, kind="acknowledgment", message_id="<ack1@team.example>",
                               from_address="support@team.example", to_address="anna@acme.example",
                               raw=b"our reply", status="sent", created_at=item.received_at))
    r = admin.post("/privacy/export", data={"email": "Anna@Acme.Example", "csrf_token": admin.csrf})
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert json.loads(z.read("contact.json"))["name"] == "Anna Lee"
        assert [i["ref"] for i in json.loads(z.read("items.json"))] == ["CI-000001"]
        messages = json.loads(z.read("messages.json"))
        assert [m["text"] for m in messages] == ["The login page shows an error.", "Still broken.",
                                                 "And now?"]
        assert [z.read(m["eml"]) if m["eml"] else None for m in messages] == [b"raw", None, b"raw 3"]
        [sent] = json.loads(z.read("sent.json"))
        assert z.read(sent["eml"]) == b"our reply"
    page = admin.get("/privacy")
    assert page.status_code == 200 and "export" in page.text and "lead@example.com" in page.text


def test_erase_needs_the_address_twice_and_then_erases(admin, factory):
    _two_items(factory)
    r = admin.post("/privacy/erase", data={"email": "anna@acme.example", "confirm": "ana@acme.example",
                                           "csrf_token": admin.csrf})
    assert r.status_code == 400 and "nothing was erased" in r.text
    with factory() as session:
        assert session.scalar(select(Contact).where(Contact.email == "anna@acme.example")) is not None
    r = admin.post("/privacy/erase", data={"email": "anna@acme.example", "confirm": "anna@acme.example",
                                           "csrf_token": admin.csrf}, follow_redirects=True)
    assert r.status_code == 200 and "The contact was erased" in r.text
    with factory() as session:
        assert session.scalar(select(Contact).where(Contact.email == "anna@acme.example")) is None
        assert session.scalar(select(Item.subject).where(Item.ref == "CI-000001")) == ""
        bo = session.scalar(select(Message.new_text).where(Message.sender == "bo@acme.example"))
        assert bo == "[erased] asked me to write."
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.action, entry.actor, entry.data["items"]) == ("erase", "lead@example.com", 1)
    missing = admin.post("/privacy/erase", data={"email": "anna@acme.example", "confirm": "anna@acme.example",
                                                 "csrf_token": admin.csrf})
    assert missing.status_code == 404


def test_a_pm_does_not_see_the_page(app, factory):
    _two_items(factory)
    with TestClient(app) as c:
        pm = signed_in(c, factory, email="mei@example.com", role="pm")
        assert pm.get("/privacy").status_code == 404
        r = pm.post("/privacy/export", data={"email": "anna@acme.example", "csrf_token": pm.csrf})
        assert r.status_code == 404 and not r.headers["content-type"].startswith("application/octet")
