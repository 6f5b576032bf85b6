"""Safe actions: neutral first choices, the workflow's forward step as the main button, a confirmation page
before rejecting, closing and large bulk changes, and a notice after every action."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Event, Item, Organization, User
from review.app import create_app
from tests.unit.test_review_app import T0, add_item
from tests.web import signed_in


@pytest.fixture
def client(factory):
    with factory.begin() as s:
        acme = Organization(name="Acme", domain="acme.example")
        s.add(acme)
        s.flush()
        add_item(s, 1, subject="Login broken", received=T0, email="anna@acme.example", organization=acme)
        add_item(s, 2, subject="Please add SSO", category="change_request", received=T0 + timedelta(hours=1),
                 email="anna@acme.example", organization=acme)
        for n in range(3, 10):
            add_item(s, n, subject=f"Question {n}", category="question", received=T0 + timedelta(hours=n),
                     email="anna@acme.example", organization=acme)
    with TestClient(create_app(factory)) as c:
        yield signed_in(c, factory)


def statuses(factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return dict(s.execute(select(Item.ref, Item.status)).all())


def flash(html: str) -> str:
    found = re.search(r'<p class="flash" role="status" id="flash">(.*?)</p>', html, re.S)
    return found.group(1) if found else ""


def form_fields(html: str) -> list[tuple[str, str]]:
    return re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)


def test_the_lists_start_with_a_neutral_choice(client):
    queue = client.get("/").text
    bulk = queue[queue.index('name="action"'):]
    assert re.match(r'name="action"[^>]*>\s*<option value="" selected>Choose…</option>', bulk)
    assert bulk.count(" selected>") == 1
    item = client.get("/items/CI-000002").text  # a new change request: Rejected and Closed only
    status = item[item.index('<select id="status"'):item.index("</select>",
                                                               item.index('<select id="status"'))]
    assert re.findall(r'<option value="([^"]*)"', status) == ["", "rejected", "closed"]
    assert '<option value="" selected>Choose…</option>' in status


def test_the_forward_step_is_the_main_button(client):
    item = client.get("/items/CI-000001").text  # a new issue
    assert '<input type="hidden" name="status" value="in_progress">' in item
    assert '<button type="submit" id="forward">Move to In progress</button>' in item
    assert '<button type="submit" class="secondary">Move</button>' in item
    cr = client.get("/items/CI-000002").text  # its forward step is the assessment
    assert 'id="forward"' not in cr
    assert "Assess the change request below to move it on." in cr
    assert '<button type="submit">Save assessment</button>' in cr
    r = client.post("/items/CI-000001/status", data={"csrf_token": client.csrf, "status": "in_progress"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert flash(client.get("/items/CI-000001").text) == "Moved from New to In progress."


def test_the_empty_choice_changes_nothing(client, factory):
    before = statuses(factory)
    r = client.post("/items/CI-000001/status", data={"csrf_token": client.csrf, "status": ""})
    assert r.status_code == 400 and "choose where to move the item first" in r.text
    r = client.post("/bulk", data={"csrf_token": client.csrf, "back": "/", "action": "",
                                   "ref": ["CI-000001"]},
                    follow_redirects=False)
    assert r.status_code == 303
    assert flash(client.get("/").text) == "Choose what to do with the selected items first."
    assert statuses(factory) == before


def test_rejecting_asks_first_on_a_page_without_scripts(client, factory):
    r = client.post("/items/CI-000002/status", data={"csrf_token": client.csrf, "status": "rejected"})
    assert r.status_code == 200
    assert "<h1 id=\"confirm-h\">Reject CI-000002?</h1>" in r.text and "Please add SSO" in r.text
    assert "<script" not in r.text and "script-src" not in r.headers["content-security-policy"]
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert ('csrf_token', client.csrf) in form_fields(r.text)
    assert ("status", "rejected") in form_fields(r.text) and ("confirm", "1") in form_fields(r.text)
    assert 'href="/items/CI-000002" id="confirm-cancel"' in r.text
    assert statuses(factory)["CI-000002"] == "new"  # asked, not done
    r = client.post("/items/CI-000002/status", data=dict(form_fields(r.text)), follow_redirects=False)
    assert r.status_code == 303
    assert statuses(factory)["CI-000002"] == "rejected"
    assert flash(client.get("/items/CI-000002").text) == "Moved from New to Rejected."


def test_closing_asks_first_and_a_move_the_workflow_refuses_is_refused_without_asking(client, factory):
    r = client.post("/items/CI-000001/status", data={"csrf_token": client.csrf, "status": "closed"})
    assert r.status_code == 200 and "Close CI-000001?" in r.text
    r = client.post("/items/CI-000001/status", data={"csrf_token": client.csrf, "status": "rejected"})
    assert r.status_code == 400 and "can move to" in r.text
    r = client.post("/items/CI-000404/status", data={"csrf_token": client.csrf, "status": "closed"})
    assert r.status_code == 404
    assert statuses(factory)["CI-000001"] == "new"


def test_a_bulk_change_of_more_than_five_items_asks_first(client, factory):
    refs = [f"CI-00000{n}" for n in range(3, 9)]  # six questions
    form = {"csrf_token": client.csrf, "back": "/?sort=oldest", "action": "status:answered", "ref": refs}
    r = client.post("/bulk", data=form)
    assert r.status_code == 200 and "Change 6 items?" in r.text
    assert "With the selected items: Set status: Answered" in r.text and ", ".join(refs) in r.text
    fields = form_fields(r.text)
    assert [v for k, v in fields if k == "ref"] == refs and ("back", "/?sort=oldest") in fields
    assert 'href="/?sort=oldest" id="confirm-cancel"' in r.text
    assert set(statuses(factory)[ref] for ref in refs) == {"new"}
    data: dict[str, object] = {}
    for k, v in fields:
        data.setdefault(k, []).append(v)  # type: ignore[union-attr]
    r = client.post("/bulk", data=data, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?sort=oldest"
    assert set(statuses(factory)[ref] for ref in refs) == {"answered"}
    assert flash(client.get("/?sort=oldest").text) == "6 of 6 items changed."


def test_five_items_change_at_once_unless_they_close(client, factory):
    refs = [f"CI-00000{n}" for n in range(3, 8)]
    form = {"csrf_token": client.csrf, "back": "/", "ref": refs}
    r = client.post("/bulk", data={**form, "action": "status:answered"}, follow_redirects=False)
    assert r.status_code == 303
    r = client.post("/bulk", data={**form, "ref": refs[:1], "action": "status:closed"})
    assert r.status_code == 200 and "Change 1 item?" in r.text
    assert statuses(factory)["CI-000003"] == "answered"
    with factory() as s:
        lead = s.scalar(select(User.id))
    r = client.post("/bulk", data={**form, "ref": refs[:2], "action": f"assign:{lead}"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert flash(client.get("/").text) == "2 of 2 items changed."


@pytest.mark.parametrize("path, data, notice", [
    ("assign", {"assignee": ""}, "Assigned to nobody."),
    ("note", {"text": "Called the client"}, "Note added."),
    ("follow-up", {"on": "1"}, "Flagged for follow-up."),
    ("category", {"category": "question"}, "Category changed from Issue to Question."),
    ("category", {"category": "issue"}, "Category confirmed: Issue."),
])
def test_every_action_ends_with_a_notice(client, factory, path, data, notice):
    r = client.post(f"/items/CI-000001/{path}", data={"csrf_token": client.csrf, **data},
                    follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/items/CI-000001").text
    assert flash(page) == notice
    assert flash(client.get("/items/CI-000001").text) == ""  # shown once


def test_notices_are_in_the_language_of_the_person_who_acted(client, factory):
    with factory() as s:
        lead = s.scalar(select(User).where(User.email == "lead@example.com"))
        lead_id = lead.id
    zh = {"accept-language": "zh-CN"}
    client.post("/items/CI-000001/assign", data={"csrf_token": client.csrf, "assignee": str(lead_id)},
                headers=zh,
                follow_redirects=False)
    assert flash(client.get("/items/CI-000001", headers=zh).text) == "已分配给 lead@example.com。"
    r = client.post("/items/CI-000002/status", data={"csrf_token": client.csrf, "status": "rejected"},
                    headers=zh)
    assert "拒绝 CI-000002？" in r.text and "是的，拒绝" in r.text
    with factory() as s:
        assert s.scalar(select(Event.kind).order_by(Event.id.desc())) == "assigned"
