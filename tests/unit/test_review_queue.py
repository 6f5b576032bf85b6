"""The queue's search, filters by client, assignee and dates, sorting, counts, and bulk changes."""
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
        add_item(s, 1, subject="Export to Excel fails", body="The export button shows error 500.",
                 received=T0, email="anna@acme.example", organization=acme)
        add_item(s, 2, subject="发票抬头修改", body="请问发票抬头可以改成全称吗？", category="question",
                 received=T0 + timedelta(days=1), email="li@example.cn", confidence=0.4, needs_review=True)
        add_item(s, 3, subject="Please add a dark mode", body="Our users ask for 100% dark_mode support.",
                 category="change_request", received=T0 + timedelta(days=2), email="bo@globex.example")
    with TestClient(create_app(factory)) as c:
        yield signed_in(c, factory)


def refs(html: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-ref="([^"]+)"', html)


@pytest.mark.parametrize("query,expected", [
    ("q=export", ["CI-000001"]),
    ("q=ERROR+500", ["CI-000001"]),             # words from the message text, any case, all must match
    ("q=export+invoice", []),
    ("q=发票", ["CI-000002"]),                   # Chinese substrings
    ("q=CI-000003", ["CI-000003"]),
    ("q=100%25", ["CI-000003"]),                 # % and _ are literal, not wildcards
    ("q=_", ["CI-000003"]),
    ("since=2026-11-03", ["CI-000003", "CI-000002"]),
    ("until=2026-11-02", ["CI-000001"]),
    ("since=2026-11-03&until=2026-11-03", ["CI-000002"]),
    ("sort=oldest", ["CI-000001", "CI-000002", "CI-000003"]),
    ("sort=confidence", ["CI-000002", "CI-000003", "CI-000001"]),
    ("assignee=none", ["CI-000003", "CI-000002", "CI-000001"]),
])
def test_search_dates_and_sorting(client, query, expected):
    assert refs(client.get(f"/?{query}").text) == expected
    assert [i["ref"] for i in client.get(f"/api/items?{query}").json()["items"]] == expected


def test_filter_by_client_and_assignee(client, factory):
    with factory() as s:
        acme = s.scalar(select(Organization)).id
        me = s.scalar(select(User)).id
    assert refs(client.get(f"/?org={acme}").text) == ["CI-000001"]
    client.post("/items/CI-000002/assign", data={"assignee": str(me), "csrf_token": client.csrf})
    assert refs(client.get(f"/?assignee={me}").text) == ["CI-000002"]
    assert refs(client.get("/?assignee=me").text) == ["CI-000002"]
    assert refs(client.get("/?assignee=none").text) == ["CI-000003", "CI-000001"]


def test_counts_per_category_and_status_follow_the_other_filters(client):
    html = client.get("/?q=export").text
    assert "Issue (1)" in html and "Question (0)" in html and "New (1)" in html
    html = client.get("/?category=question").text
    # not narrowed by itself
    assert "Issue (1)" in html and "Question (1)" in html and "Change request (1)" in html
    assert "New (1)" in html


@pytest.mark.parametrize("query,word", [
    ("since=yesterday", "since:"), ("until=2026-13-01", "until:"),
    ("since=2026-11-05&until=2026-11-01", "since:"),
    ("org=acme", "org:"), ("assignee=bob", "assignee:"), ("sort=random", "sort:"), ("q=" + "x" * 201, "q:"),
    ("follow_up=maybe", "follow_up:"),
])
def test_bad_filters_are_400_with_the_reason(client, query, word):
    r = client.get(f"/?{query}")
    assert r.status_code == 400 and word in r.text
    assert client.get(f"/api/items?{query}").status_code == 400


def test_bulk_changes_apply_item_by_item(client, factory):
    form = {"csrf_token": client.csrf, "back": "/?sort=oldest",
            "ref": ["CI-000001", "CI-000002", "CI-000404"],
            "action": "status:in_progress"}
    r = client.post("/bulk", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/?sort=oldest"
    page = client.get("/?sort=oldest").text
    assert ("1 of 3 items changed." in page and "CI-000002: status: question items" in page
            and "CI-000404: no such item" in page)
    with factory() as s:
        status = dict(s.execute(select(Item.ref, Item.status)).all())
    assert status == {"CI-000001": "in_progress", "CI-000002": "new", "CI-000003": "new"}

    r = client.post("/bulk", data={**form, "ref": ["CI-000002", "CI-000003"], "action": "category:feedback"},
                    follow_redirects=False)
    assert r.status_code == 303
    with factory() as s:
        assert s.scalars(select(Item.category).where(Item.ref.in_(["CI-000002", "CI-000003"]))).all() == [
            "feedback", "feedback"]
        assert len(s.scalars(select(Event).where(Event.kind == "corrected")).all()) == 2
    assert client.post("/bulk", data={**form, "action": "explode"}).status_code == 400
    r = client.post("/bulk", data={"csrf_token": client.csrf, "action": "status:closed"},
                    follow_redirects=False)
    assert "Select at least one item first." in client.get(r.headers["location"]).text
    r = client.post("/bulk", data={**form, "back": "https://evil.example/"}, follow_redirects=False)
    assert r.headers["location"] == "/"
