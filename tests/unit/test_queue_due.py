"""Most urgent first: each open item's due time (the first running SLA clock to run out), the queue's
"due soonest" sort with breached items on top, time left and age on the rows, the API's due time, and
"My queue"."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Event, Item, Organization, User
from reports.calendar import WallClock
from reports.calendar_config import build_calendar
from reports.clock import deadline
from reports.policy import parse_policies
from reports.state import refresh_states
from review.app import create_app
from review.sla_view import age_text, time_left_text
from tests.unit.test_review_app import add_item
from tests.web import add_user, sign_in, signed_in

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=timezone.utc)  # a Wednesday
POLICIES = {"standard": {"targets": {"issue": {"acknowledge": "5m", "first_response": "4h",
                                               "resolution": "3d"},
                                     "question": {"first_response": "8h"},
                                     "change_request": {"resolution": "2d"}}}}


def policies():  # type: ignore[no-untyped-def]
    return parse_policies({}, POLICIES, "standard")


def refs(html: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-ref="([^"]+)"', html)


def row(html: str, ref: str) -> str:
    found = re.search(rf'<tr[^>]*data-ref="{ref}".*?</tr>', html, re.S)
    assert found, ref
    return found.group(0)


# --- deadlines ---------------------------------------------------------------------------------------------

def test_a_deadline_on_the_wall_clock_adds_back_the_time_paused():
    start = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    assert deadline(WallClock(), start, 3600) == start + timedelta(hours=1)
    # Thirty minutes paused after ten: the hour runs out thirty minutes later.
    pauses = [(start + timedelta(minutes=10), start + timedelta(minutes=40))]
    assert deadline(WallClock(), start, 3600, pauses) == start + timedelta(minutes=90)
    # Two pauses, the second reached only once the first is added back.
    pauses.append((start + timedelta(minutes=80), start + timedelta(minutes=100)))
    assert deadline(WallClock(), start, 3600, pauses) == start + timedelta(minutes=110)


def test_a_deadline_on_a_business_calendar_skips_the_night_and_the_weekend():
    office = build_calendar("office", timezone="Asia/Shanghai", hours={"weekdays": "09:00-18:00"})
    friday_5pm = datetime(2026, 11, 6, 9, 0, tzinfo=timezone.utc)  # 17:00 in Shanghai
    # Four working hours from Friday 17:00: one hour on Friday, three on Monday morning (12:00 Shanghai).
    assert deadline(office, friday_5pm, 4 * 3600) == datetime(2026, 11, 9, 4, 0, tzinfo=timezone.utc)


# --- the stored due time
# -------------------------------------------------------------------------------------

def test_the_sla_check_stores_when_the_first_running_clock_runs_out(factory):
    with factory.begin() as s:
        issue = add_item(s, 1, received=NOW - timedelta(hours=1))
        issue.acknowledged_at = NOW - timedelta(minutes=59)  # first response (4 h) runs out before resolution
        late = add_item(s, 2, category="question", received=NOW - timedelta(hours=10))
        done = add_item(s, 3, category="question", received=NOW - timedelta(hours=2), status="answered")
        done.first_response_at = done.resolved_at = NOW - timedelta(hours=1)
        waiting = add_item(s, 4, category="change_request", received=NOW - timedelta(days=1),
                           status="awaiting_approval")
        s.add(Event(item_id=waiting.id, kind="status_changed", created_at=NOW - timedelta(hours=20),
                    data={"from": "impact_assessed", "to": "awaiting_approval"}))
        refresh_states(s, policies(), NOW)
    with factory() as s:
        due = dict(s.execute(select(Item.ref, Item.sla_due_at)).all())
        state = dict(s.execute(select(Item.ref, Item.sla_state)).all())
    assert due["CI-000001"] == NOW + timedelta(hours=3)          # 4 h first response, 1 h gone
    assert due["CI-000002"] == NOW - timedelta(hours=2) and state["CI-000002"] == "breached"
    assert due["CI-000003"] is None                              # nothing runs
    assert due["CI-000004"] is None and state["CI-000004"] == "on_track"  # paused while awaiting approval

    # The client's answer restarts the clock: 4 h counted before the pause, 2 d in all.
    with factory.begin() as s:
        waiting = s.scalar(select(Item).where(Item.ref == "CI-000004"))
        waiting.status = "approved"
        s.add(Event(item_id=waiting.id, kind="approved", created_at=NOW, data={"to": "approved"}))
        late = s.scalar(select(Item).where(Item.ref == "CI-000002"))
        late.first_response_at = late.resolved_at = NOW
        late.status = "answered"
        refresh_states(s, policies(), NOW + timedelta(minutes=1))
    with factory() as s:
        due = dict(s.execute(select(Item.ref, Item.sla_due_at)).all())
    assert due["CI-000004"] == NOW + timedelta(days=2) - timedelta(hours=4)
    assert due["CI-000002"] is None  # resolved: no longer due, though its state stays breached


# --- the queue
# -----------------------------------------------------------------------------------------------

@pytest.fixture
def urgent(factory):
    """Five items: two on track with different due times, one breached, one without a due time, one met."""
    with factory.begin() as s:
        acme = Organization(name="Acme", domain="acme.example")
        s.add(acme)
        s.flush()
        rows = [  # n, received hours ago, state, due in hours (None: none)
            (1, 30, "on_track", 5.0), (2, 1, "at_risk", 1 + 20 / 60), (3, 50, "breached", -3.5),
            (4, 2, "", None), (5, 3, "met", None)]
        for n, age, state, due in rows:
            item = add_item(s, n, subject=f"Item {n}", received=NOW - timedelta(hours=age),
                            email="anna@acme.example", organization=acme)
            item.sla_state = state
            item.sla_due_at = None if due is None else NOW + timedelta(hours=due)
    return acme


@pytest.fixture
def client(factory, urgent):
    with TestClient(create_app(factory, now=lambda: NOW)) as c:
        yield signed_in(c, factory)


def test_the_queue_puts_breached_items_on_top_then_the_soonest_due(client):
    html = client.get("/").text
    assert refs(html) == ["CI-000003", "CI-000002", "CI-000001", "CI-000004", "CI-000005"]
    assert '<option value="due" selected>Due soonest</option>' in html
    assert refs(client.get("/?sort=newest").text) == ["CI-000002", "CI-000004", "CI-000005", "CI-000001",
                                                       "CI-000003"]
    api = client.get("/api/items").json()["items"]
    assert [i["ref"] for i in api] == ["CI-000003", "CI-000002", "CI-000001", "CI-000004", "CI-000005"]
    assert api[1]["sla_due_at"] == "2026-11-04T13:20:00Z" and api[3]["sla_due_at"] is None
    assert [i["ref"] for i in client.get("/api/items?sort=due&sla=on_track").json()["items"]] == ["CI-000001"]


def test_rows_show_time_left_or_overdue_and_the_age(client):
    html = client.get("/").text
    assert ('<time class="due" datetime="2026-11-04T13:20:00Z" title="Due 2026-11-04 13:20 UTC">'
            "1 h 20 min left</time>") in row(html, "CI-000002")
    assert ('<time class="due overdue" datetime="2026-11-04T08:30:00Z" title="Due 2026-11-04 08:30 UTC">'
            "overdue by 3 h 30 min</time>") in row(html, "CI-000003")
    assert 'class="due' not in row(html, "CI-000004")
    assert ">1 d 6 h</time>" in row(html, "CI-000001") and ">2 d 2 h</time>" in row(html, "CI-000003")


def test_the_chinese_queue_says_the_same(client):
    html = client.get("/", headers={"accept-language": "zh-CN"}).text
    assert "剩余 1 小时 20 分钟" in row(html, "CI-000002")
    assert "已超时 3 小时 30 分钟" in row(html, "CI-000003")


def test_time_left_and_age_texts():
    assert time_left_text(NOW + timedelta(days=2, hours=3, minutes=5), NOW) == "2 d 3 h left"
    assert time_left_text(NOW - timedelta(seconds=40), NOW) == "overdue by 40 s"
    assert time_left_text(None, NOW) == ""
    assert age_text(NOW - timedelta(minutes=75), NOW) == "1 h 15 min"


def test_my_queue_holds_my_items_and_the_unassigned_of_my_clients(factory, urgent):
    add_user(factory, "pat@example.com", "pm", orgs=("acme.example",), name="Pat")
    add_user(factory, "sam@example.com", "pm", orgs=("acme.example",), name="Sam")
    with factory.begin() as s:
        pat, sam = (s.scalar(select(User.id).where(User.email == e)) for e in ("pat@example.com",
                                                                               "sam@example.com"))
        items = {i.ref: i for i in s.scalars(select(Item))}
        items["CI-000001"].assignee_id = sam
        items["CI-000002"].assignee_id = pat
        other = Organization(name="Globex", domain="globex.example")
        s.add(other)
        s.flush()
        add_item(s, 6, subject="Globex's item", received=NOW, email="bo@globex.example", organization=other)
        s.scalar(select(Item).where(Item.ref == "CI-000006")).assignee_id = pat  # assigned, even outside
    with TestClient(create_app(factory, now=lambda: NOW)) as c:
        signed_in(c, factory, "lead@example.com", "admin")
        assert refs(c.get("/?mine=1").text) == []  # an admin with nothing assigned and no organizations
        c.post("/logout", data={"csrf_token": c.csrf})
    with TestClient(create_app(factory, now=lambda: NOW)) as c:
        assert sign_in(c, "pat@example.com").status_code == 303
        html = c.get("/?mine=1").text
        assert "<h1>My queue</h1>" in html
        assert refs(html) == ["CI-000003", "CI-000002", "CI-000004", "CI-000005"]  # not Sam's CI-000001
        assert 'href="/?mine=1" id="nav-mine"' in html
