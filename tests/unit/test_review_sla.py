"""SLA in the review app: the queue's state column, filter and counts, the item page's clocks, the policies
page."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Contact, Event, Organization
from reports.policy import parse_policies
from review.app import create_app
from review.i18n import speaking
from review.pages import queue_url
from review.queries import QueueFilter, queue_page
from review.sla_view import duration_text
from tests.unit.test_review_app import T0, add_item
from tests.unit.test_review_i18n import DATA, EMAIL_OR_REF, ENGLISH_RUN, visible_texts
from tests.web import add_user, sign_in, signed_in

ZH = {"accept-language": "zh-CN,zh;q=0.9"}
# A business calendar (no public holidays, so nothing depends on a holiday library's data) and two policies.
CALENDARS = {"office": {"timezone": "Asia/Shanghai", "hours": {"weekdays": "09:00-18:00"}}}
POLICIES = {
    "standard": {"targets": {"issue": {"acknowledge": "5m", "first_response": "4h", "resolution": "3d"},
                             "question": {"first_response": "8h"}}},
    "gold": {"calendar": "office", "tiers": ["gold", "platinum"],
             "targets": {"issue": {"first_response": "4h", "resolution": "16h"}}},
}
SHANGHAI_MONDAY_9 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai


def configured():  # type: ignore[no-untyped-def]
    return parse_policies(CALENDARS, POLICIES, "standard")


def refs(html: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-ref="([^"]+)"', html)


def row(html: str, ref: str) -> str:
    found = re.search(rf'<tr[^>]*data-ref="{ref}".*?</tr>', html, re.S)
    assert found, ref
    return found.group(0)


def text_of(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def add_states(factory, states: dict[int, str]) -> None:  # type: ignore[no-untyped-def]
    """Items CI-00000N with the stored SLA states; even numbers are questions, odd ones issues."""
    with factory.begin() as s:
        for n, state in states.items():
            item = add_item(s, n, category="question" if n % 2 == 0 else "issue",
                            received=T0 + timedelta(hours=n), subject=f"Item {n}")
            item.sla_state = state


STATES = {1: "on_track", 2: "at_risk", 3: "breached", 4: "", 5: "met", 6: "breached"}


@pytest.fixture
def client(factory):
    add_states(factory, STATES)
    with TestClient(create_app(factory)) as c:
        yield signed_in(c, factory)


# --- the queue --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("query, expected", [
    ("sla=on_track", ["CI-000001"]),
    ("sla=at_risk", ["CI-000002"]),
    ("sla=breached", ["CI-000006", "CI-000003"]),
    ("sla=met", ["CI-000005"]),
    ("sla=breached&category=question", ["CI-000006"]),
    ("sla=&sort=newest", ["CI-000006", "CI-000005", "CI-000004", "CI-000003", "CI-000002", "CI-000001"]),
])
def test_the_queue_filters_by_sla_state_in_pages_and_the_api(client, query, expected):
    r = client.get(f"/?{query}")
    assert r.status_code == 200
    assert refs(r.text) == expected
    api = client.get(f"/api/items?{query}").json()
    assert [i["ref"] for i in api["items"]] == expected and api["total"] == len(expected)


@pytest.mark.parametrize("value", ["late", "none", "ON_TRACK", "missed"])
def test_an_unknown_sla_state_is_a_400_that_names_the_choices(client, value):
    r = client.get(f"/?sla={value}")
    assert r.status_code == 400
    assert f"sla: unknown SLA state &#39;{value}&#39;; use one of on_track, at_risk, breached, met" in r.text
    r = client.get(f"/api/items?sla={value}")
    assert r.status_code == 400
    assert (r.json()["error"] == f"sla: unknown SLA state '{value}'; use one of on_track, at_risk, breached, "
                                 "met")


def test_the_queue_shows_a_badge_per_state_and_nothing_for_unmeasured_items(client):
    html = client.get("/").text
    assert "<th scope=\"col\">SLA</th>" in html
    for n, state, name in [(1, "on_track", "On track"), (2, "at_risk", "At risk"),
                           (3, "breached", "Breached"),
                           (5, "met", "Met")]:
        assert f'<span class="sla sla-{state}">{name}</span>' in row(html, f"CI-00000{n}")
    assert '<td data-label="SLA" class="sla-cell"></td>' in row(html, "CI-000004")
    assert html.count('class="sla sla-') == 5
    api = {i["ref"]: i["sla_state"] for i in client.get("/api/items").json()["items"]}
    assert api["CI-000002"] == "at_risk" and api["CI-000004"] == ""


def test_counts_per_sla_state_follow_the_other_filters_and_the_choice_is_kept(client):
    html = client.get("/").text
    for name, n in [("On track", 1), ("At risk", 1), ("Breached", 2), ("Met", 1)]:
        assert f"{name} ({n})</option>" in html
    html = client.get("/?sla=breached&category=question").text
    assert '<option value="breached" selected>Breached (1)</option>' in html
    # the questions, not narrowed by the SLA filter itself
    assert "On track (0)" in html and "At risk (1)" in html
    assert "Question (1)" in html and "Issue (1)" in html    # the categories under the SLA filter
    assert "Clear filters" in html
    assert 'name="back" value="/?category=question&amp;sla=breached"' in html


def test_the_queue_url_carries_the_sla_filter():
    assert queue_url(QueueFilter(sla="met")) == "/?sla=met"
    assert queue_url(QueueFilter(sla="at_risk", status="new", page=3)) == "/?status=new&sla=at_risk&page=3"
    assert queue_url(QueueFilter()) == "/"


def test_a_pm_filters_only_their_own_items_by_sla_state(factory):
    add_states(factory, STATES)
    with factory.begin() as s:
        acme = Organization(name="Acme", domain="acme.example")
        s.add(acme)
        s.flush()
        # Items 1-6 are Anna's, now of Acme; item 7, of a client of no organization, is breached too.
        s.scalar(select(Contact).where(Contact.email == "anna@acme.example")).organization_id = acme.id
        add_item(s, 7, email="bo@other.example", subject="Not Acme").sla_state = "breached"
    add_user(factory, "pat@example.com", "pm", orgs=("acme.example",))
    with TestClient(create_app(factory)) as pat:
        assert sign_in(pat, "pat@example.com").status_code == 303
        html = pat.get("/?sla=breached").text
        assert refs(html) == ["CI-000006", "CI-000003"] and "Breached (2)" in html


def test_the_sla_filter_and_counts_on_each_database(db):
    """The same query on SQLite and PostgreSQL (the db fixture runs both)."""
    add_states(db, STATES)
    with db() as s:
        page = queue_page(s, QueueFilter(sla="breached"))
        assert [i.ref for i in page.items] == ["CI-000006", "CI-000003"] and page.total == 2
        assert page.by_sla == {"on_track": 1, "at_risk": 1, "breached": 2, "": 1, "met": 1}
        assert page.by_category == {"issue": 1, "question": 1}
        questions = queue_page(s, QueueFilter(sla="at_risk", category="question"))
        assert [i.ref for i in questions.items] == ["CI-000002"]
        assert questions.by_sla == {"at_risk": 1, "": 1, "breached": 1}
    with TestClient(create_app(db)) as c:
        signed_in(c, db)
        assert refs(c.get("/?sla=met").text) == ["CI-000005"]
        assert c.get("/api/items?sla=late").status_code == 400


def test_sla_states_and_the_filter_are_in_chinese(client):
    html = client.get("/?sla=at_risk", headers=ZH).text
    assert '<option value="at_risk" selected>有超时风险 (1)</option>' in html
    assert "全部 SLA 状态" in html and '<span class="sla sla-at_risk">有超时风险</span>' in html
    r = client.get("/?sla=late", headers=ZH)
    assert r.status_code == 400 and "SLA：未知的 SLA 状态 &#39;late&#39;" in r.text


# --- the item page ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds, days, text", [
    (None, False, "\u2014"), (0, False, "0 s"), (45, False, "45 s"), (300, False, "5 min"),
    (12_600, False, "3 h 30 min"), (14_400, False, "4 h"), (259_200, False, "72 h"), (259_200, True, "3 d"),
    (246_600, True, "2 d 20 h"), (3_600 * 23, True, "23 h"), (119.6, False, "2 min"),
    (14_399, False, "3 h 59 min"),
])
def test_durations_are_short_and_human(seconds, days, text):
    assert duration_text(seconds, days) == text


def test_durations_in_chinese():
    with speaking("zh"):
        assert duration_text(12_600) == "3 小时 30 分钟" and duration_text(259_200, True) == "3 天"


def clocks(html: str) -> dict[str, str]:
    """The item page's clocks as text by clock code."""
    return {name: text_of(body) for name, body in
            re.findall(r'<tr data-clock="(\w+)">(.*?)</tr>', html, re.S)}


def test_the_item_page_shows_the_three_clocks_under_the_built_in_policy(factory):
    with factory.begin() as s:
        item = add_item(s, 1, received=T0)
        item.acknowledged_at = T0 + timedelta(minutes=2)
    app = create_app(factory, now=lambda: T0 + timedelta(hours=3, minutes=30))
    with TestClient(app) as c:
        signed_in(c, factory)
        html = c.get("/items/CI-000001").text
    assert '<span class="sla sla-at_risk" id="sla-state">At risk</span>' in html
    policy = text_of(re.search(r'<p class="meta" id="sla-policy">(.*?)</p>', html, re.S).group(1))
    assert policy == ("Policy standard, counted around the clock (24/7). "
                      "No policy was recorded when this item arrived; the default policy applies.")
    shown = clocks(html)
    assert shown["acknowledge"] == "Acknowledgment 5 min 2 min 2026-11-02 09:02 UTC Met"
    assert shown["first_response"] == "First response 4 h 3 h 30 min (30 min left) Running At risk"
    assert shown["resolution"] == "Resolution 3 d 3 h 30 min (2 d 20 h left) Running On track"
    assert "Only working time counts" not in html


def test_the_item_page_counts_working_time_on_the_recorded_policys_calendar(factory):
    policies = configured()
    with factory.begin() as s:
        item = add_item(s, 1, received=SHANGHAI_MONDAY_9)
        item.sla = policies.for_tier("gold").snapshot()
    # Monday 20:00 in Shanghai: nine working hours (09:00-18:00) have passed.
    app = create_app(factory, sla=policies, now=lambda: SHANGHAI_MONDAY_9 + timedelta(hours=11))
    with TestClient(app) as c:
        signed_in(c, factory)
        html = c.get("/items/CI-000001").text
        api = c.get("/api/items/CI-000001").json()["sla"]
    assert "Policy gold, counted on the calendar office (Asia/Shanghai)." in html
    assert '<span class="sla sla-breached" id="sla-state">Breached</span>' in html
    shown = clocks(html)
    assert shown["acknowledge"] == "Acknowledgment \u2014 9 h Running Not measured"
    assert shown["first_response"] == "First response 4 h 9 h (5 h over the target) Running Breached"
    assert shown["resolution"] == "Resolution 16 h 9 h (7 h left) Running On track"
    assert "Only working time counts: outside working hours and on holidays the clocks stand still." in html
    assert api["policy"] == "gold" and api["calendar"] == "office" and api["state"] == "breached"
    assert api["clocks"]["first_response"] == {"target_seconds": 14_400.0, "counted_seconds": 32_400.0,
                                               "state": "breached", "stopped_at": None}
    assert api["clocks"]["acknowledge"]["target_seconds"] is None


def test_a_paused_resolution_clock_and_a_calendar_no_longer_configured(factory):
    policies = configured()
    with factory.begin() as s:
        item = add_item(s, 1, received=T0, status="awaiting_approval")
        item.sla = {**policies.for_tier("gold").snapshot(), "calendar": "old-office"}
        s.add(Event(item_id=item.id, kind="status_changed", actor="pm@example.com",
                    created_at=T0 + timedelta(hours=1),
                    data={"from": "new", "to": "awaiting_approval"}))
    app = create_app(factory, sla=policies, now=lambda: T0 + timedelta(hours=3))
    with TestClient(app) as c:
        signed_in(c, factory)
        html = c.get("/items/CI-000001").text
        api = c.get("/api/items/CI-000001").json()["sla"]
    assert ("Policy gold, recorded with the calendar old-office, which is no longer configured: "
            "time is counted around the clock.") in html
    assert (clocks(html)["resolution"] == "Resolution 16 h 1 h (15 h left) Paused: waiting for the client On "
                                          "track")
    assert api["paused"] is True and api["clocks"]["resolution"]["counted_seconds"] == 3600.0


def test_stopped_clocks_show_when_they_stopped_and_whether_they_met_the_target(factory):
    with factory.begin() as s:
        item = add_item(s, 1, received=T0, status="resolved")
        item.acknowledged_at = T0 + timedelta(minutes=9)
        item.first_response_at = T0 + timedelta(hours=1)
        item.resolved_at = T0 + timedelta(hours=5)
    app = create_app(factory, now=lambda: T0 + timedelta(days=10))
    with TestClient(app) as c:
        signed_in(c, factory)
        html = c.get("/items/CI-000001").text
        api = c.get("/api/items/CI-000001").json()["sla"]
    assert api["state"] == "breached" and api["clocks"]["acknowledge"] == {
        "target_seconds": 300.0, "counted_seconds": 540.0, "state": "missed",
        "stopped_at": "2026-11-02T09:09:00Z"}
    shown = clocks(html)
    assert (shown["acknowledge"] == "Acknowledgment 5 min 9 min (4 min over the target) 2026-11-02 09:09 UTC "
                                    "Missed")
    assert shown["first_response"] == "First response 4 h 1 h 2026-11-02 10:00 UTC Met"
    assert shown["resolution"] == "Resolution 3 d 5 h 2026-11-02 14:00 UTC Met"
    # a missed clock stays a breach
    assert '<span class="sla sla-breached" id="sla-state">Breached</span>' in html


def test_the_clocks_are_in_chinese(factory):
    with factory.begin() as s:
        add_item(s, 1, received=T0)
    app = create_app(factory, now=lambda: T0 + timedelta(hours=3, minutes=30))
    with TestClient(app, headers=ZH) as c:
        signed_in(c, factory)
        html = c.get("/items/CI-000001").text
    shown = clocks(html)
    assert shown["first_response"] == "首次回复 4 小时 3 小时 30 分钟 (剩余 30 分钟) 计时中 有超时风险"
    assert "策略 standard，全天候（7×24 小时）计时。" in html


# --- the policies page --------------------------------------------------------------------------------------

@pytest.fixture
def policies_app(factory):
    with factory.begin() as s:
        s.add_all([Organization(name="Gold Co", domain="gold.example", tier="gold"),
                   Organization(name="Plain Co", domain="plain.example"),
                   Organization(name="Lost Co", domain="lost.example", tier="bronze")])
    return create_app(factory, sla=configured())


def test_admins_see_the_configured_policies_tiers_targets_and_calendars(policies_app, factory):
    with TestClient(policies_app) as c:
        signed_in(c, factory)
        assert '<a href="/sla/policies" id="nav-sla">SLA policies</a>' in c.get("/").text
        r = c.get("/sla/policies")
    assert r.status_code == 200
    html = r.text
    assert ("Policies are set in the configuration file (section [sla]) and take effect when the app "
            "restarts." in html)
    assert '<dd id="default-policy">standard</dd>' in html
    assert "once 75% of a target is used" in html and "Awaiting approval" in html
    standard = re.search(r'<section[^>]*data-policy="standard".*?</section>', html, re.S).group(0)
    gold = re.search(r'<section[^>]*data-policy="gold".*?</section>', html, re.S).group(0)
    assert html.index('data-policy="standard"') < html.index('data-policy="gold"')  # the default first
    assert "Default" in standard and "Default" not in gold
    assert "Around the clock (24/7)" in standard and '<dd class="calendar">office</dd>' in gold
    assert "gold, platinum" in text_of(gold)
    # Plain Co and Lost Co (unknown tier) get the default
    assert "2 clients" in standard and "1 client" in gold
    issue = text_of(re.search(r'<tr data-category="issue">.*?</tr>', standard, re.S).group(0))
    assert issue == "Issue 5 min 4 h 3 d"
    feedback = re.search(r'<tr data-category="feedback">.*?</tr>', gold, re.S).group(0)
    assert feedback.count("&mdash;") == 3
    assert text_of(re.search(r'<tr data-category="issue">.*?</tr>', gold,
                             re.S).group(0)) == "Issue \u2014 4 h 16 h"
    office = text_of(re.search(r'<section[^>]*data-calendar="office".*?</section>', html, re.S).group(0))
    assert "Asia/Shanghai" in office and "Monday 09:00-18:00" in office and "Sunday closed" in office
    assert "Used by gold" in office


def test_the_built_in_policy_page_says_there_are_no_calendars(factory):
    with TestClient(create_app(factory)) as c:
        signed_in(c, factory)
        html = c.get("/sla/policies").text
    assert "No business calendars are configured: every policy counts around the clock." in html
    assert '<dd id="default-policy">standard</dd>' in html


def test_pms_may_not_see_the_policies_page(policies_app, factory):
    add_user(factory, "pat@example.com", "pm", orgs=("gold.example",))
    with TestClient(policies_app) as pat:
        assert sign_in(pat, "pat@example.com").status_code == 303
        assert "/sla/policies" not in pat.get("/").text
        r = pat.get("/sla/policies")
        assert r.status_code == 403 and "Only admins see the SLA policies." in r.text
    with TestClient(policies_app) as anonymous:
        r = anonymous.get("/sla/policies", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_the_policies_page_has_no_english_left_in_chinese(policies_app, factory):
    with TestClient(policies_app, headers=ZH) as c:
        signed_in(c, factory)
        html = c.get("/sla/policies").text
    assert "SLA 策略" in html and "星期一" in html and "休息" in html and "2 个客户" in html
    leftovers = []
    for text in visible_texts(html):
        rest = EMAIL_OR_REF.sub(" ", text)
        for data in DATA:
            rest = rest.replace(data, " ")
        leftovers.extend(m.group(0) for m in ENGLISH_RUN.finditer(rest))
    assert not leftovers
