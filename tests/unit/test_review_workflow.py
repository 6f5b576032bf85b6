"""Working on items through the review app: workflow moves, assignment, notes, replies and change requests."""
from __future__ import annotations

from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from classifiers.approval import decision
from db.models import ChangeAssessment, Event, Item, Message, Organization, OutboxMail, User
from db.workflow import WORKFLOWS, WorkflowError, check_move, next_statuses, status_for_category
from review.app import create_app
from tests.unit.test_review_app import add_item
from tests.web import add_user, signed_in


@pytest.fixture
def client(factory):
    """Signed in as a PM of Acme; CI-000001 is Acme's issue, CI-000002 Acme's change request."""
    with factory.begin() as s:
        acme = Organization(name="Acme", domain="acme.example")
        s.add(acme)
        s.flush()
        add_item(s, 1, email="anna@acme.example", subject="Export fails", organization=acme)
        add_item(s, 2, email="anna@acme.example", subject="Please add SSO", category="change_request")
    sent: list[int] = []
    app = create_app(factory, send_outbox=lambda: sent.append(1))
    with TestClient(app) as c:
        signed_in(c, factory, email="pm@example.com", role="pm", orgs=("acme.example",))
        c.sent = sent
        yield c


def _post(client, ref: str, action: str, **form: str):
    return client.post(f"/items/{ref}/{action}", data={**form, "csrf_token": client.csrf},
                       follow_redirects=False)


def _item(factory, ref: str) -> Item:
    with factory() as s:
        return s.scalar(select(Item).where(Item.ref == ref))


def _kinds(factory, ref: str) -> list[str]:
    with factory() as s:
        return list(s.scalars(select(Event.kind).join(Item).where(Item.ref == ref).order_by(Event.id)))


def test_workflow_rules():
    assert set(WORKFLOWS) == {"issue", "question", "feedback", "change_request"}
    for category, flow in WORKFLOWS.items():
        for status in flow:
            assert set(next_statuses(category, status)) <= set(flow), (category, status)
    check_move("issue", "new", "in_progress")
    with pytest.raises(WorkflowError, match="can move to"):
        check_move("question", "new", "in_progress")
    with pytest.raises(WorkflowError):
        check_move("change_request", "new", "approved")  # only after an assessment was sent
    assert status_for_category("question", "in_progress") == "new"
    assert status_for_category("issue", "in_progress") == "in_progress"


def test_moving_an_issue_through_its_workflow(client, factory):
    page = client.get("/items/CI-000001").text
    assert 'value="in_progress"' in page and 'value="answered"' not in page
    assert _post(client, "CI-000001", "status", status="in_progress").status_code == 303
    assert _item(factory, "CI-000001").status == "in_progress"
    assert _post(client, "CI-000001", "status", status="resolved").status_code == 303
    item = _item(factory, "CI-000001")
    assert item.status == "resolved" and item.resolved_at is not None
    assert _post(client, "CI-000001", "status", status="in_progress").status_code == 303  # reopened
    assert _item(factory, "CI-000001").resolved_at is None
    r = _post(client, "CI-000001", "status", status="answered")
    assert r.status_code == 400 and "can move to" in r.text
    assert _kinds(factory, "CI-000001").count("status_changed") == 3


def test_assigning_only_to_people_of_that_organization(client, factory):
    add_user(factory, "other@example.com", "pm", orgs=())
    add_user(factory, "mate@example.com", "pm", orgs=("acme.example",), name="Mia Mate")
    with factory() as s:
        ids = {u.email: u.id for u in s.scalars(select(User))}
    page = client.get("/items/CI-000001").text
    assert "Mia Mate" in page and "other@example.com" not in page
    r = _post(client, "CI-000001", "assign", assignee=str(ids["other@example.com"]))
    assert r.status_code == 400 and "does not work on this client" in r.text
    assert _post(client, "CI-000001", "assign", assignee=str(ids["mate@example.com"])).status_code == 303
    assert _item(factory, "CI-000001").assignee_id == ids["mate@example.com"]
    assert _post(client, "CI-000001", "assign", assignee="").status_code == 303
    assert _item(factory, "CI-000001").assignee_id is None
    assert _post(client, "CI-000001", "assign", assignee="abc").status_code == 400


def test_notes_stay_internal_and_replies_go_out_threaded(client, factory):
    assert _post(client, "CI-000001", "note",
                 text="Checked the logs: a timeout in the export job.").status_code == 303
    assert _post(client, "CI-000001", "note", text="   ").status_code == 400
    with factory() as s:
        assert s.scalar(select(OutboxMail)) is None
    assert "a timeout in the export job" in client.get("/items/CI-000001").text
    r = _post(client, "CI-000001", "reply", text="We found the cause and deploy a fix tonight.")
    assert r.status_code == 303 and client.sent == [1]
    with factory() as s:
        mail = s.scalar(select(OutboxMail).where(OutboxMail.kind == "reply"))
        copy = s.scalar(select(Message).where(Message.message_id == mail.message_id))
        item = s.scalar(select(Item).where(Item.ref == "CI-000001"))
    msg = message_from_bytes(mail.raw, policy=default)
    assert msg["In-Reply-To"] == "<m1@acme.example>" and "<m1@acme.example>" in msg["References"]
    assert (msg["Subject"] == "Re: Export fails [CI-000001]"
            and msg["To"].addresses[0].addr_spec == "anna@acme.example")
    assert "deploy a fix tonight" in msg.get_content() and "CI-000001" in msg.get_content()
    assert "Auto-Submitted" not in msg
    assert copy.direction == "out" and copy.item_id == item.id and item.first_response_at is not None
    assert _kinds(factory, "CI-000001")[-2:] == ["note", "replied"]


def test_a_change_request_is_assessed_and_sent_for_approval(client, factory):
    r = _post(client, "CI-000002", "assessment/send")
    assert r.status_code == 400 and "assess the change request first" in r.text
    assert _post(client, "CI-000001", "assessment", scope="x").status_code == 400  # an issue
    r = _post(client, "CI-000002", "assessment", scope="SAML SSO for the portal, two IdPs",
              cost="8 person-days",
              schedule="+1 week")
    assert r.status_code == 303 and _item(factory, "CI-000002").status == "impact_assessed"
    assert _post(client, "CI-000002", "assessment/send").status_code == 303
    with factory() as s:
        a = s.scalar(select(ChangeAssessment))
        mail = s.scalar(select(OutboxMail).where(OutboxMail.kind == "assessment"))
    assert _item(factory, "CI-000002").status == "awaiting_approval" and a.sent_message_id == mail.message_id
    body = message_from_bytes(mail.raw, policy=default).get_content()
    assert "SAML SSO for the portal" in body and "8 person-days" in body and '"approve"' in body
    # A PM can record the client's answer (given by phone, say) from the status menu.
    assert _post(client, "CI-000002", "status", status="approved").status_code == 303
    with factory() as s:
        a = s.scalar(select(ChangeAssessment))
    assert (a.decision, a.decided_by, a.decision_message_id) == ("approved", "pm@example.com", None)
    assert _post(client, "CI-000002", "status", status="implemented").status_code == 303


def test_recategorizing_keeps_a_status_only_where_the_new_workflow_has_it(client, factory):
    _post(client, "CI-000001", "status", status="in_progress")
    _post(client, "CI-000001", "category", category="question")
    item = _item(factory, "CI-000001")
    assert (item.category, item.status) == ("question", "new")


def test_follow_up_flag(client, factory):
    assert _post(client, "CI-000001", "follow-up", on="1").status_code == 303
    assert _item(factory, "CI-000001").follow_up is True
    assert 'id="follow-up"' in client.get("/items/CI-000001").text
    _post(client, "CI-000001", "follow-up", on="0")
    assert _item(factory, "CI-000001").follow_up is False


@pytest.mark.parametrize("body,expected", [
    ("Approve.", "approved"), ("We approve the change, go ahead.", "approved"), ("同意", "approved"),
    ("批准，请尽快安排。", "approved"), ("OK to proceed.", "approved"),
    ("不同意这个报价", "rejected"), ("We do not approve this.", "rejected"),
    ("Not approved, too expensive.", "rejected"),
    ("拒绝，预算不够。", "rejected"),
    ("Can you approve a smaller scope?", ""), ("Thanks, we will discuss internally.", ""),
    ("Thanks\n\nOn Mon, 2 Nov 2026, Support wrote:\n> please reply approve or reject", ""),
    ("I approve\n\nOn Mon, 2 Nov 2026, Support wrote:\n> please reply approve or reject", "approved"),
    ("请问能否先做一半？", ""),
])
def test_reading_the_clients_decision(body, expected):
    assert decision("Re: Impact assessment [CI-000002]", body) == expected


# --- the same through the JSON API ---------------------------------------------------------------


def test_api_changes_status_assignee_notes_and_replies(client, factory):
    assert client.post("/api/items/CI-000001/status", json={"status": "in_progress"}).json() == {
        "ref": "CI-000001", "result": {"from": "new", "to": "in_progress"}}
    r = client.post("/api/items/CI-000001/status", json={"status": "answered"})
    assert r.status_code == 400 and "can move to" in r.json()["error"]
    with factory() as s:
        me = s.scalar(select(User).where(User.email == "pm@example.com")).id
    assert client.post("/api/items/CI-000001/assignee", json={"assignee": me}).json()["result"] == {
        "assignee": "pm@example.com"}
    assert client.post("/api/items/CI-000001/assignee",
                       json={"assignee": None}).json()["result"] == {"assignee": None}
    assert client.post("/api/items/CI-000001/assignee", json={"assignee": "me"}).status_code == 400
    assert client.post("/api/items/CI-000001/notes", json={"text": "from a script"}).status_code == 200
    assert client.post("/api/items/CI-000001/notes", json={"text": ""}).status_code == 400
    r = client.post("/api/items/CI-000001/replies", json={"text": "Fixed, please check."})
    assert r.status_code == 200 and r.json()["result"]["message_id"].startswith("<")
    assert client.post("/api/items/CI-000001/replies", content=b"text=hi",
                       headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 415
    msgs = client.get("/api/items/CI-000001/messages").json()["messages"]
    assert [m["direction"] for m in msgs] == ["in", "out"]
    assert _kinds(factory, "CI-000001")[-4:] == ["assigned", "assigned", "note", "replied"]


def test_api_lists_corrections_and_describes_itself(client, factory):
    client.post("/api/items/CI-000002/category", json={"category": "question"})
    [c] = client.get("/api/corrections").json()["corrections"]
    assert c["ref"] == "CI-000002" and c["kind"] == "corrected" and c["data"]["to"] == "question"
    schema = client.get("/api/openapi.json").json()
    assert schema["openapi"].startswith("3.")
    api_paths = {r.path for r in client.app.routes if getattr(r, "path", "").startswith("/api")}
    assert api_paths == set(schema["paths"])
