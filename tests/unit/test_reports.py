"""SLA figures on a hand-computed case, their JSON/CSV/HTML renders, and `intake report sla`."""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone

import pytest
from markupsafe import Markup

from cli.main import main
from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import Contact, Event, Item, Message, Organization, User
from reports.policy import parse_policies
from reports.render import (
    CSV_COLUMNS,
    human_duration,
    render_sla,
    render_sla_fragment,
)
from reports.sla import compute_sla, percentile

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
_seq = iter(range(1, 1_000_000))


def _item(session, category: str = "issue", received: datetime = T0, ack_after: timedelta | None = None,
          *, subject: str = "Hello", sender: str = "anna@acme.example", **kw) -> Item:
    n = next(_seq)
    item = Item(ref=f"CI-{n:06d}", subject=subject, category=category, received_at=received,
                acknowledged_at=None if ack_after is None else received + ack_after, **kw)
    session.add(item)
    session.flush()
    session.add(Message(item_id=item.id, direction="in", message_id=f"<m{n}@acme.example>", sender=sender,
                        subject=subject, received_at=received, raw=b"raw"))
    session.flush()
    return item


# --- the hand-computed SLA case ----------------------------------------------------------------------
#
# Two policies. "standard" on the wall clock (issue: acknowledge 5 min, first response 4 h, resolution
# 72 h; question 5 min / 8 h / 48 h; change_request 5 min / 24 h / none; feedback 5 min / 24 h / 120 h).
# "gold" (tier gold) on the "office" calendar, Monday to Friday 09:00-17:00 UTC (issue 15 min / 2 h / 8 h;
# change_request 15 min / 4 h / 8 h; question 15 min / 4 h / 16 h; feedback 15 min / 8 h / 16 h).
# The resolution clock pauses in awaiting_approval. NOW is Monday 2026-11-23 12:00 UTC; the report covers
# received days 2026-11-09 (Monday, W46) .. 2026-11-22 (Sunday, W47), UTC.
#
# item  category        policy    org    assignee  received (UTC)     clocks (counted seconds, state)
# I1    issue           standard  Acme   Ann       Mon 11-16 09:00    ack 180 met, fr 7200 met, res 108000 met
# I2    issue           standard  Acme   Bob       Tue 11-17 10:00    ack 420 missed, fr 18000 missed,
#                                                                     res running 525600 > 259200 breached
# I3    question        standard  -      -         Sun 11-22 20:00    ack running 57600 breached, fr running
# 57600 > 28800 breached, res 57600 on_track
# I4    change_request  gold      Beta   Ann       Fri 11-20 16:00    ack 16:10 = 600 met; fr Mon 10:30 =
#                                                                     1 h Fri + 1.5 h Mon = 9000 met; res
# running 1 h + 3 h = 14400, half: on_track
# I5    change_request  gold      Beta   Bob       Thu 11-19 15:00    ack 60 met, fr 16:30 = 5400 met; res Mon
#       awaiting_approval Thu 16:30 .. Fri 16:00; resolved Mon 11:00: 2 + 8 + 2 = 12 h of office time, less
#       the paused 0.5 + 7 = 7.5 h: 16200 met (unpaused, 43200 would miss the 8 h)
# I6    feedback        (none: the default, standard) Acme  -  Tue 11-10 08:00 (W46)   ack 60 met, fr and res
#                                                                     running 1137600 s: both breached
# I7    issue           standard  Acme   Ann       Sat 11-21 00:00    ack 240 met, fr 10800 met, res running
#                                                                     216000 = 83% of 259200: at_risk
# I8    question        gold      Beta   -         Wed 11-18 18:00    ack 18:20 = 0 met (after hours), fr Thu
# 09:30 = 1800 met, res Thu 16:00 = 25200 met
# I11   change_request  standard  (no contact) Bob Sun 11-22 11:58    ack running 86520 breached, fr running
#                                                                     86520 > 86400 breached, res no target
# I9 (Sun 11-08 23:59) and I10 (Mon 11-23 00:00) fall outside the period.

NOW2 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SINCE, UNTIL = date(2026, 11, 9), date(2026, 11, 22)
POLICIES = parse_policies(
    {"office": {"timezone": "UTC", "hours": {"weekdays": "09:00-17:00"}}},
    {"standard": {"targets": {"issue": {"acknowledge": "5m", "first_response": "4h", "resolution": "72h"},
                              "question": {"acknowledge": "5m", "first_response": "8h", "resolution": "48h"},
                              "change_request": {"acknowledge": "5m", "first_response": "24h"},
                              "feedback": {"acknowledge": "5m", "first_response": "24h",
                                           "resolution": "120h"}}},
     "gold": {"calendar": "office", "tiers": ["gold"],
              "targets": {"issue": {"acknowledge": "15m", "first_response": "2h", "resolution": "8h"},
                          "change_request": {"acknowledge": "15m", "first_response": "4h",
                                             "resolution": "8h"},
                          "question": {"acknowledge": "15m", "first_response": "4h", "resolution": "16h"},
                          "feedback": {"acknowledge": "15m", "first_response": "8h", "resolution": "16h"}}}},
    "standard")


def client_contact(session, name: str, domain: str) -> Contact:  # type: ignore[no-untyped-def]
    """A new organization NAME at DOMAIN and one contact of it, flushed."""
    org = Organization(name=name, domain=domain)
    contact = Contact(email=f"x@{domain}", organization=org)
    session.add_all([org, contact])
    session.flush()
    return contact


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


def _seed_case(session) -> dict[str, int]:
    """The items above; returns the ids of Acme, Beta, Ann and Bob."""
    acme, beta = Organization(name="Acme", domain="acme.example"), Organization(name="Beta",
                                                                                domain="beta.example",
                                                                                 tier="gold")
    ann, bob = User(email="ann@team.example", name="Ann"), User(email="bob@team.example", name="")
    session.add_all([acme, beta, ann, bob])
    session.flush()
    a, b, loose = (Contact(email="x@acme.example", organization_id=acme.id),
                   Contact(email="y@beta.example", organization_id=beta.id), Contact(email="z@else.example"))
    session.add_all([a, b, loose])
    session.flush()
    std, gold = POLICIES.policies["standard"].snapshot(), POLICIES.policies["gold"].snapshot()
    m = timedelta(minutes=1)
    h = timedelta(hours=1)

    def add(ref, category, sla, contact, user, received, ack=None, fr=None, res=None, events=()):
        item = Item(ref=ref, category=category, sla=sla, contact_id=contact.id if contact else None,
                    assignee_id=user.id if user else None, received_at=received, acknowledged_at=ack,
                    first_response_at=fr, resolved_at=res)
        session.add(item)
        session.flush()
        for when, kind, data in events:
            session.add(Event(item_id=item.id, kind=kind, data=data, created_at=when))

    t = utc(11, 16, 9)
    add("I1", "issue", std, a, ann, t, t + 3 * m, t + 2 * h, t + 30 * h)
    t = utc(11, 17, 10)
    add("I2", "issue", std, a, bob, t, t + 7 * m, t + 5 * h)
    add("I3", "question", std, loose, None, utc(11, 22, 20))
    add("I4", "change_request", gold, b, ann, utc(11, 20, 16), utc(11, 20, 16, 10), utc(11, 23, 10, 30))
    add("I5", "change_request", gold, b, bob, utc(11, 19, 15), utc(11, 19, 15, 1), utc(11, 19, 16, 30),
        utc(11, 23, 11), events=[(utc(11, 19, 16, 30), "status_changed",
                                  {"from": "impact_assessed", "to": "awaiting_approval"}),
                                 (utc(11, 20, 16), "approved",
                                  {"from": "awaiting_approval", "to": "approved"}),
                                 (utc(11, 23, 11), "status_changed",
                                  {"from": "approved", "to": "implemented"})])
    t = utc(11, 10, 8)
    add("I6", "feedback", None, a, None, t, t + m)
    t = utc(11, 21, 0)
    add("I7", "issue", std, a, ann, t, t + 4 * m, t + 3 * h)
    add("I8", "question", gold, b, None, utc(11, 18, 18), utc(11, 18, 18, 20), utc(11, 19, 9, 30),
        utc(11, 19, 16))
    t = utc(11, 8, 23, 59)
    add("I9", "issue", std, a, ann, t, t + 2 * m)
    add("I10", "issue", std, a, ann, utc(11, 23, 0))
    add("I11", "change_request", std, None, bob, utc(11, 22, 11, 58))
    session.commit()
    return {"acme": acme.id, "beta": beta.id, "ann": ann.id, "bob": bob.id}


@pytest.fixture
def case(factory):
    with factory() as s:
        ids = _seed_case(s)
    return factory, ids


def _report(case, by="category", **kw):
    factory, _ids = case
    with factory() as s:
        return compute_sla(s, POLICIES, SINCE, UNTIL, by=by, now=NOW2, **kw)


def fig(c) -> tuple:
    """items, measured, met, missed, breached_open, at_risk, on_track, no_target, stopped, p50, p90, max."""
    return (c.items, c.measured, c.met, c.missed, c.breached_open, c.at_risk, c.on_track, c.no_target,
            c.stopped,
            c.p50_seconds, c.p90_seconds, c.max_seconds)


def test_percentile_linear_interpolation():
    xs = [float(x) for x in range(1, 11)]
    assert percentile(xs, 50) == pytest.approx(5.5)
    assert percentile(xs, 90) == pytest.approx(9.1)
    assert percentile(xs, 0) == 1 and percentile(xs, 100) == 10
    assert percentile([7.0], 90) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_by_category_hand_computed(case):
    r = _report(case)
    assert [g.key for g in r.groups] == ["issue", "change_request", "question", "feedback"]
    issue, cr, question, feedback = r.groups
    # issue: I1, I2, I7. ack [180, 240, 420]: p50 240, p90 = 240 + 0.8 * 180 = 384.
    assert (issue.items, issue.breached_items) == (3, 1)
    assert fig(issue.clock("acknowledge")) == (3, 3, 2, 1, 0, 0, 0, 0, 3, 240.0, 384.0, 420.0)
    assert issue.clock("acknowledge").compliance == pytest.approx(2 / 3)
    # fr [7200, 10800, 18000]: p90 = 10800 + 0.8 * 7200 = 16560.
    assert fig(issue.clock("first_response")) == (3, 3, 2, 1, 0, 0, 0, 0, 3, 10800.0, 16560.0, 18000.0)
    # res: I1 met (108000), I2 breached while open, I7 at risk: measured 2, compliance 1/2.
    assert fig(issue.clock("resolution")) == (3, 2, 1, 0, 1, 1, 0, 0, 1, 108000.0, 108000.0, 108000.0)
    assert issue.clock("resolution").compliance == 0.5
    # change_request: I4, I5 (gold, business hours), I11 (standard, unacknowledged).
    # ack [60, 600]: p50 330, p90 = 60 + 0.9 * 540 = 546; fr [5400, 9000]: p50 7200, p90 8640.
    assert (cr.items, cr.breached_items) == (3, 1)
    assert fig(cr.clock("acknowledge")) == (3, 3, 2, 0, 1, 0, 0, 0, 2, 330.0, 546.0, 600.0)
    assert fig(cr.clock("first_response")) == (3, 3, 2, 0, 1, 0, 0, 0, 2, 7200.0, 8640.0, 9000.0)
    # res: I4 on track (4 of 8 office hours), I5 met after its pause (16200), I11 has no target.
    assert fig(cr.clock("resolution")) == (3, 1, 1, 0, 0, 0, 1, 1, 1, 16200.0, 16200.0, 16200.0)
    assert cr.clock("resolution").compliance == 1.0
    # question: I3 (unacknowledged, running 16 h), I8 (gold, received after hours: 0 s to acknowledge).
    assert (question.items, question.breached_items) == (2, 1)
    assert fig(question.clock("acknowledge")) == (2, 2, 1, 0, 1, 0, 0, 0, 1, 0.0, 0.0, 0.0)
    assert fig(question.clock("first_response")) == (2, 2, 1, 0, 1, 0, 0, 0, 1, 1800.0, 1800.0, 1800.0)
    assert fig(question.clock("resolution")) == (2, 1, 1, 0, 0, 0, 1, 0, 1, 25200.0, 25200.0, 25200.0)
    # feedback: I6 only, under the default policy (no snapshot): acknowledged in 60 s, then nothing for 13
    # days.
    assert fig(feedback.clock("acknowledge")) == (1, 1, 1, 0, 0, 0, 0, 0, 1, 60.0, 60.0, 60.0)
    assert fig(feedback.clock("first_response")) == (1, 1, 0, 0, 1, 0, 0, 0, 0, None, None, None)
    assert feedback.clock("first_response").compliance == 0.0
    assert fig(feedback.clock("resolution")) == (1, 1, 0, 0, 1, 0, 0, 0, 0, None, None, None)


def test_total_hand_computed(case):
    total = _report(case).total
    assert (total.key, total.items, total.breached_items) == ("all", 9, 4)  # I2, I3, I6, I11
    # ack met: I1 I4 I5 I6 I7 I8; missed I2; open breaches I3 I11. Stopped [0, 60, 60, 180, 240, 420, 600]:
    # p50 = x[3] = 180; p90: h = 5.4, 420 + 0.4 * 180 = 492.
    assert fig(total.clock("acknowledge")) == (9, 9, 6, 1, 2, 0, 0, 0, 7, 180.0, 492.0, 600.0)
    # fr met: I1 I4 I5 I7 I8; missed I2; open breaches I3 I6 I11. Stopped [1800, 5400, 7200, 9000, 10800,
    # 18000]: p50: h = 2.5, 7200 + 0.5 * 1800 = 8100; p90: h = 4.5, 10800 + 0.5 * 7200 = 14400.
    assert fig(total.clock("first_response")) == (9, 9, 5, 1, 3, 0, 0, 0, 6, 8100.0, 14400.0, 18000.0)
    assert total.clock("first_response").compliance == pytest.approx(5 / 9)
    # res met: I1 I5 I8; open breaches I2 I6; at risk I7; on track I3 I4; no target I11.
    # Stopped [16200, 25200, 108000]: p90: h = 1.8, 25200 + 0.8 * 82800 = 91440.
    assert fig(total.clock("resolution")) == (9, 5, 3, 0, 2, 1, 2, 1, 3, 25200.0, 91440.0, 108000.0)
    assert total.clock("resolution").compliance == 0.6


def test_by_organization_assignee_and_week(case):
    _f, ids = case
    org = _report(case, "organization")
    assert [(g.key, g.label, g.id, g.items, g.breached_items) for g in org.groups] == [
        (str(ids["acme"]), "Acme", ids["acme"], 4, 2),      # I1 I2 I6 I7; breached I2 I6
        (str(ids["beta"]), "Beta", ids["beta"], 3, 0),      # I4 I5 I8
        ("none", "(no organization)", None, 2, 2)]          # I3 (contact without one), I11 (no contact)
    assert fig(org.groups[0].clock("first_response"))[:5] == (4, 4, 2, 1, 1)
    assert fig(org.groups[1].clock("resolution"))[:7] == (3, 2, 2, 0, 0, 0, 1)
    who = _report(case, "assignee")
    assert [(g.label, g.id, g.items, g.breached_items) for g in who.groups] == [
        ("Ann", ids["ann"], 3, 0), ("bob@team.example", ids["bob"], 3, 2), ("(unassigned)", None, 3, 2)]
    assert fig(who.groups[0].clock("acknowledge")) == (3, 3, 3, 0, 0, 0, 0, 0, 3, 240.0, 528.0, 600.0)
    weeks = _report(case, "week")
    assert [(g.key, g.since, g.until, g.items, g.breached_items) for g in weeks.groups] == [
        ("2026-W46", date(2026, 11, 9), date(2026, 11, 15), 1, 1),
        ("2026-W47", date(2026, 11, 16), date(2026, 11, 22), 8, 3)]
    for r in (org, who, weeks):  # the total does not depend on the grouping
        assert fig(r.total.clock("resolution")) == fig(_report(case).total.clock("resolution"))


def test_chart_data_hand_computed(case):
    r = _report(case, "assignee")
    # fr stopped: 1800 (< 1 h); 5400, 7200, 9000, 10800 (1-4 h); 18000 (4-8 h).
    assert r.distributions["first_response"] == (1, 4, 1, 0, 0, 0)
    assert r.distributions["acknowledge"] == (7, 0, 0, 0, 0, 0)
    assert r.distributions["resolution"] == (0, 0, 2, 0, 1, 0)  # 16200, 25200; 108000 = 30 h
    w46, w47 = r.weeks
    assert (w46.clock("first_response").met, w46.clock("first_response").measured) == (0, 1)  # I6
    assert (w47.clock("first_response").met, w47.clock("first_response").measured) == (5, 8)
    # I1 I5 I8 met, I2 breached
    assert (w47.clock("resolution").met, w47.clock("resolution").measured) == (3, 4)
    assert [(o.name, o.breached_items) for o in r.breached_by_organization] == [("Acme", 2),
                                                                                ("(no organization)", 2)]


def test_time_zone_and_organizations(case):
    _f, ids = case
    # In Shanghai (UTC+8) the days run from 11-08 16:00 to 11-22 16:00 UTC: I9 comes in, I3 goes out.
    r = _report(case, "week", tz="Asia/Shanghai")
    assert (r.start, r.end) == (utc(11, 8, 16), utc(11, 22, 16))
    assert r.total.items == 9
    assert [(g.key, g.items) for g in r.groups] == [("2026-W46", 2), ("2026-W47", 7)]  # I6 and I9 in W46
    only = _report(case, "organization", organizations=[ids["beta"]])
    assert [g.label for g in only.groups] == ["Beta"]
    assert only.total.items == 3 and only.organizations == (ids["beta"],)
    assert _report(case, organizations=[]).total.items == 0


def test_empty_period_and_bad_arguments(case):
    factory, _ids = case
    with factory() as s:
        empty = compute_sla(s, POLICIES, date(2025, 1, 1), date(2025, 1, 1), now=NOW2)
        assert [g.items for g in empty.rows] == [0, 0, 0, 0, 0]
        assert (empty.total.clock("acknowledge").compliance is None
                and empty.total.clock("acknowledge").p50_seconds is None)
        assert [w.key for w in empty.weeks] == ["2025-W01"]
        with pytest.raises(ValueError, match="comes after"):
            compute_sla(s, POLICIES, UNTIL, SINCE, now=NOW2)
        with pytest.raises(ValueError, match="by: unknown"):
            compute_sla(s, POLICIES, SINCE, UNTIL, by="colour", now=NOW2)
        with pytest.raises(ValueError, match="tz"):
            compute_sla(s, POLICIES, SINCE, UNTIL, now=NOW2, tz="Mars/Base")
        with pytest.raises(TypeError, match="since"):
            compute_sla(s, POLICIES, NOW2, UNTIL, now=NOW2)


def test_other_categories_come_after_the_four(factory):
    with factory() as s:
        _item(s, "spam", T0, MIN)
        s.commit()
        r = compute_sla(s, POLICIES, T0.date(), T0.date(), now=NOW2)
    assert [g.key for g in r.groups] == ["issue", "change_request", "question", "feedback", "spam"]
    assert r.group("spam").clock("acknowledge").no_target == 1  # the policy has no targets for it
    assert r.group("spam").queue_params() is None  # the queue cannot filter on it: no link


# --- renders -----------------------------------------------------------------------------------------

def test_render_json_hand_computed(case):
    doc = json.loads(render_sla(_report(case), "json", base_url="https://intake.example"))
    assert doc["report"] == "sla" and doc["version"] == 2 and doc["by"] == "category"
    assert doc["generated_at"] == "2026-11-23T12:00:00Z"
    assert doc["period"] == {"since": "2026-11-09", "until": "2026-11-22", "timezone": "UTC",
                             "start": "2026-11-09T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    issue = doc["groups"][0]
    assert issue["clocks"]["acknowledge"] == {
        "items": 3, "measured": 3, "met": 2, "missed": 1, "breached_open": 0, "at_risk": 0, "on_track": 0,
        "no_target": 0, "stopped": 3, "compliance": 0.6667, "seconds": {"p50": 240.0, "p90": 384.0,
                                                                        "max": 420.0}}
    assert issue["links"] == {
        "items": "https://intake.example/?category=issue&since=2026-11-09&until=2026-11-22",
        "breached": "https://intake.example/?category=issue&since=2026-11-09&until=2026-11-22&sla=breached"}
    assert doc["all"]["clocks"]["first_response"]["compliance"] == 0.5556
    assert doc["all"]["breached_items"] == 4
    charts = doc["charts"]
    assert charts["response_times"]["counts"]["first_response"] == [1, 4, 1, 0, 0, 0]
    assert charts["response_times"]["buckets"][1] == {"label": "1–4 h", "from_seconds": 3600.0,
                                                      "to_seconds": 14400.0}
    assert charts["weekly_compliance"][1]["first_response"] == {"met": 5, "measured": 8, "compliance": 0.625}
    assert [o["breached_items"] for o in charts["breached_by_organization"]] == [2, 2]


def test_render_csv_hand_computed(case):
    rows = list(csv.DictReader(io.StringIO(render_sla(_report(case, "organization"), "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 4 * 3  # Acme, Beta, (no organization), all; three clocks each
    acme_fr = rows[1]
    assert (acme_fr["group_by"], acme_fr["group"], acme_fr["clock"]) == ("organization", "Acme",
                                                                         "first_response")
    assert (acme_fr["items"], acme_fr["measured"], acme_fr["met"],
            acme_fr["compliance"]) == ("4", "4", "2", "0.5000")
    assert rows[-1]["group_by"] == "all" and rows[-1]["clock"] == "resolution"
    assert (rows[-1]["p90_seconds"], rows[-1]["compliance"],
            rows[-1]["breached_items"]) == ("91440.0", "0.6000", "4")
    none = next(r for r in rows if r["group"] == "(no organization)")
    assert none["group_id"] == "" and none["p50_seconds"] == "" and none["compliance"] == "0.0000"


def _html_cells(page: str) -> dict[tuple[str, str, str, str], tuple[str, str | None]]:
    """(table, group, clock, figure) -> (data-value, link) from the HTML tables."""
    from html.parser import HTMLParser

    cells: dict = {}

    class Parser(HTMLParser):
        table = group = ""
        cell: dict | None = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "table":
                self.table = a.get("data-table", "")
            elif tag == "tr":
                self.group = a.get("data-group", "")
            elif tag == "td" and "data-figure" in a:
                clock = a.get("data-clock") or (self.table if self.table != "overview" else "")
                self.cell = {"key": (self.table, self.group, clock, a["data-figure"]),
                             "value": a["data-value"],
                             "href": None}
                cells[self.cell["key"]] = self.cell
            elif tag == "a" and self.cell is not None:
                self.cell["href"] = a["href"]

        def handle_endtag(self, tag):
            if tag == "td":
                self.cell = None

    Parser().feed(page)
    return {k: (v["value"], v["href"]) for k, v in cells.items()}


def test_render_html_hand_computed(case):
    _f, ids = case
    page = render_sla(_report(case, "organization"), "html", base_url="http://127.0.0.1:8025")
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    cells = _html_cells(page)
    acme = str(ids["acme"])
    base = f"http://127.0.0.1:8025/?org={acme}&since=2026-11-09&until=2026-11-22"
    assert cells[("first_response", acme, "first_response", "met")] == ("2", base)
    assert cells[("first_response", acme, "first_response", "missed")] == ("1", base + "&sla=breached")
    # nothing behind a zero
    assert cells[("first_response", acme, "first_response", "at_risk")] == ("0", None)
    assert cells[("overview", acme, "", "breached_items")] == ("2", base + "&sla=breached")
    assert cells[("overview", "all", "first_response", "compliance")] == (
        "0.5556", "http://127.0.0.1:8025/?since=2026-11-09&until=2026-11-22")
    assert cells[("resolution", "all", "resolution", "p90")][0] == "91440.0"
    # (no organization): the queue cannot select those items, so the figures are not links.
    assert cells[("overview", "none", "", "breached_items")] == ("2", None)
    assert cells[("acknowledge", str(ids["beta"]), "acknowledge", "p50")][0] == "60.0"
    assert ">2 h 15 min<" in page and ">1 d 1 h<" in page  # 8100 s and 91440 s for people, in the all rows
    assert ">55.6%<" in page


def test_fragment_is_csp_safe_translated_and_escaped(factory):
    with factory() as s:
        contact = client_contact(s, '<b>"Evil" & Co</b>', "evil.example")
        _item(s, "issue", T0, 9 * MIN, contact_id=contact.id)
        s.commit()
        report = compute_sla(s, POLICIES, T0.date(), T0.date(), by="organization", now=NOW2)
    marked = render_sla_fragment(report, gettext=lambda m: f"«{m}»")
    assert isinstance(marked, Markup)
    assert ("<html" not in marked and "<style" not in marked and "style=" not in marked
            and "<head" not in marked)
    assert ("«Time to first response»" in marked and "«Items»" in marked
            and "«Breached items per client organization»" in marked)
    assert "<b>" not in marked and "&lt;b&gt;&#34;Evil&#34; &amp; Co&lt;/b&gt;" in marked
    plain = render_sla_fragment(report)  # the other language's render left nothing behind
    assert "«" not in plain and "Time to first response" in plain
    rows = list(csv.DictReader(io.StringIO(render_sla(report, "csv"))))
    assert rows[0]["group"] == '<b>"Evil" & Co</b>'
    for svg in re.findall(r"<svg.*?</svg>", str(marked), flags=re.DOTALL):
        ET.fromstring(svg)  # well-formed XML despite the name


def test_render_unknown_format(case):
    with pytest.raises(ValueError, match="json, csv, html"):
        render_sla(_report(case), "xml")


@pytest.mark.parametrize("seconds, text", [
    (None, "—"), (0, "0 s"), (0.4, "0.4 s"), (45, "45 s"), (72, "1 min 12 s"), (300, "5 min"),
    (9.96, "10 s"), (59.6, "1 min"), (7500, "2 h 5 min"), (3 * 86400 + 4 * 3600 + 5, "3 d 4 h"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


def test_human_duration_in_chinese():
    assert human_duration(3 * 86400 + 4 * 3600, "zh") == "3 天 4 小时"
    assert human_duration(90, "zh") == "1 分钟 30 秒" and human_duration(2.5, "zh") == "2.5 秒"


# --- the command line -------------------------------------------------------------------------------

@pytest.fixture
def cli_config(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_sessionmaker(engine)() as s:
        _seed_case(s)
    engine.dispose()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{url}"\n[web]\npublic_url = "https://intake.example/"\n')
    return str(cfg)


def test_cli_report_sla_json_and_html(cli_config, tmp_path, capsys):
    assert main(["--config", cli_config, "report", "sla", "--since", "2026-11-09", "--until", "2026-11-22",
                 "--by", "week"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["by"] == "week" and doc["period"]["since"] == "2026-11-09"
    assert [(g["key"], g["items"]) for g in doc["groups"]] == [("2026-W46", 1), ("2026-W47", 8)]
    assert doc["groups"][0]["links"]["items"] == "https://intake.example/?since=2026-11-09&until=2026-11-15"
    out = tmp_path / "sla.html"
    assert main(["--config", cli_config, "report", "sla", "--since", "2026-11-09", "--until", "2026-11-22",
                 "--format", "html", "--out", str(out), "--base-url", ""]) == 0
    assert "(9 items) written to" in capsys.readouterr().err
    html = out.read_text(encoding="utf-8")
    assert 'href="/?category=issue&amp;since=2026-11-09&amp;until=2026-11-22"' in html


def test_cli_report_sla_defaults_to_four_weeks_until_today(cli_config, capsys):
    assert main(["--config", cli_config, "report", "sla", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    today = datetime.now(timezone.utc).date()
    assert rows[-1]["group_by"] == "all" and rows[-1]["until"] == today.isoformat()
    assert rows[-1]["since"] == (today - timedelta(days=27)).isoformat()


@pytest.mark.parametrize("args, error", [
    (["--since", "2026-13-01"], "intake: --since: expected a date like 2026-11-23, not '2026-13-01'"),
    (["--until", "yesterday"], "intake: --until: expected a date like 2026-11-23, not 'yesterday'"),
    (["--since", "2026-11-30", "--until", "2026-11-01"],
     "intake: --since: 2026-11-30 comes after --until 2026-11-01"),
    (["--base-url", "intake.example"],
     "intake: --base-url: must start with http:// or https://, not 'intake.example'"),
])
def test_cli_report_sla_errors_are_one_line(cli_config, capsys, args, error):
    assert main(["--config", cli_config, "report", "sla", *args]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == error and captured.out == ""
