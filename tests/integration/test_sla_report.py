"""The SLA report over 1,000 seeded items on SQLite and PostgreSQL: HTML, CSV and JSON agree on every figure,
groups add up to the total, links select the items behind them, and the SVG charts are well-formed."""
from __future__ import annotations

import csv
import io
import json
import random
import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import CATEGORIES, Contact, Event, Item, Organization, OutboxMail, Survey, User
from reports.policy import parse_policies
from reports.render import BREACH_FIGURES, COUNTS, render_sla, sla_to_dict
from reports.sla import BY, compute_sla
from reports.state import refresh_states
from review.params import parse_queue_filter
from review.queries import queue_page

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
SINCE, UNTIL = date(2026, 9, 1), date(2026, 11, 22)
BASE = "https://intake.example/app"
SVG = "{http://www.w3.org/2000/svg}"
FIGURES = (*COUNTS, "compliance", "p50", "p90", "max")
POLICIES = parse_policies(
    {"beijing": {"timezone": "Asia/Shanghai", "country": "CN",
                 "hours": {"weekdays": "09:00-12:00, 13:00-18:00"}}},
    {"standard": {"targets": {"issue": {"acknowledge": "5m", "first_response": "4h", "resolution": "72h"},
                              "question": {"acknowledge": "5m", "first_response": "8h", "resolution": "48h"},
                              "change_request": {"acknowledge": "5m", "first_response": "24h"},
                              "feedback": {"acknowledge": "5m", "first_response": "24h",
                                           "resolution": "5d"}}},
     "gold": {"calendar": "beijing", "tiers": ["gold"],
              "targets": {c: {"acknowledge": "15m", "first_response": "2h",
                              "resolution": "16h"} for c in CATEGORIES}}},
    "standard")


def seed(session, n: int = 1000, seed: int = 20261123) -> None:
    """N items received around SINCE..UNTIL: 9 organizations (two gold), 6 people, every category, some
    resolved, some paused waiting for the client, some without a policy snapshot, client or assignee."""
    rng = random.Random(seed)
    names = ["Acme", "北京数据科技", "Beta GmbH", "R&D <Labs> \"Ltd\"", "=Formula Corp", "Delta", "Epsilon",
             "Zeta Industries International Holdings", "acme (EU)"]
    orgs = [Organization(name=name, domain=f"o{i}.example", tier="gold" if i in (1, 5) else "")
            for i, name in enumerate(names)]
    users = [User(email=f"pm{i}@team.example", name=["Ann", "", "李雷", "bob", "Carla",
                                                     ""][i]) for i in range(6)]
    session.add_all(orgs + users)
    session.flush()
    contacts = [Contact(email=f"c{i}@o{i % len(orgs)}.example", organization_id=orgs[i % len(orgs)].id)
                for i in range(27)] + [Contact(email=f"loose{i}@free.example") for i in range(3)]
    session.add_all(contacts)
    session.flush()
    span = (NOW - datetime(2026, 8, 28, tzinfo=timezone.utc)).total_seconds()
    h = 3600.0
    for k in range(n):
        received = datetime(2026, 8, 28, tzinfo=timezone.utc) + timedelta(seconds=rng.uniform(0, span))
        contact = rng.choice(contacts) if rng.random() > 0.05 else None
        org = next((o for o in orgs if contact and o.id == contact.organization_id), None)
        policy = "gold" if org is not None and org.tier == "gold" else "standard"
        category = rng.choice(CATEGORIES)

        def later(t: datetime | None, seconds: float) -> datetime | None:
            return (None if t is None or t + timedelta(seconds=seconds) > NOW else t
                    + timedelta(seconds=seconds))

        ack = later(received, rng.expovariate(1 / 240)) if rng.random() < 0.93 else None
        first = later(received, rng.lognormvariate(1.2, 1.1) * h) if rng.random() < 0.85 else None
        resolved = later(first, rng.uniform(0.5, 150) * h) if rng.random() < 0.7 else None
        item = Item(ref=f"CI-{k + 1:06d}", category=category, received_at=received, acknowledged_at=ack,
                    first_response_at=first, resolved_at=resolved, contact_id=contact.id if contact else None,
                    assignee_id=rng.choice(users).id if rng.random() < 0.85 else None,
                    sla=None if rng.random() < 0.1 else POLICIES.policies[policy].snapshot(),
                    status="resolved" if resolved else "new")
        session.add(item)
        session.flush()
        if first is not None and rng.random() < 0.3:  # waiting for the client for a while
            paused = first + timedelta(seconds=rng.uniform(0, 20) * h)
            back = paused + timedelta(seconds=rng.uniform(1, 80) * h)
            if paused < NOW:
                session.add(Event(item_id=item.id, kind="status_changed", created_at=paused,
                                  data={"from": "new", "to": "awaiting_approval"}))
                if back < NOW and rng.random() < 0.8:
                    session.add(Event(item_id=item.id, kind="approved", created_at=back,
                                      data={"from": "awaiting_approval", "to": "approved"}))
        if rng.random() < 0.2:  # events that are not status changes change nothing
            session.add(Event(item_id=item.id, kind="note", created_at=received, data={"text": "to: x"}))
    session.commit()


@pytest.fixture
def seeded(any_db_url):
    engine = make_engine(any_db_url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with factory() as s:
        seed(s)
        # Every seventh item's client answered the survey (ratings 1 to 5 in turn), every eleventh got one
        # only.
        for n, item_id in enumerate(s.scalars(select(Item.id).order_by(Item.id))):
            if n % 7 == 0 or n % 11 == 0:
                mail = OutboxMail(item_id=item_id, kind="survey", message_id=f"<s{n}@x.example>",
                                  status="sent",
                                  from_address="s@x.example", to_address="c@x.example", raw=b"",
                                  created_at=NOW)
                s.add(mail)
                s.flush()
                s.add(Survey(item_id=item_id, status="scheduled", scheduled_for=NOW, created_at=NOW,
                             outbox_id=mail.id,
                             rating=(n // 7) % 5 + 1 if n % 7 == 0 else None,
                             rated_at=NOW if n % 7 == 0 else None))
        # the stored states the queue's sla filter reads, as the worker keeps them
        refresh_states(s, POLICIES, NOW)
        s.commit()
    yield factory
    engine.dispose()


# --- reading the three formats back ------------------------------------------------------------------

def _num(text: str | None) -> float | None:
    return None if text in ("", None) else float(text)


# The satisfaction figures as the HTML and CSV name them, and as JSON does (reports.csat).
CSAT = {"csat_sent": "surveys_sent", "csat_responses": "responses", "csat_response_rate": "response_rate",
        "csat_average": "average", "csat_satisfied_share": "satisfied_share"}


def json_figures(doc: dict) -> dict[tuple[str, str, str], float | None]:
    out = {}
    for g in [*doc["groups"], doc["all"]]:
        out[(g["key"], "", "items")] = g["items"]
        out[(g["key"], "", "breached_items")] = g["breached_items"]
        for clock, c in g["clocks"].items():
            for k in FIGURES:
                out[(g["key"], clock, k)] = c["seconds"][k] if k in ("p50", "p90", "max") else c[k]
        for k, name in CSAT.items():
            out[(g["key"], "csat", k)] = g["csat"][name]
    return out


def csv_figures(text: str, report) -> dict[tuple[str, str, str], float | None]:
    out: dict = {}
    keys = iter([g.key for g in report.rows for _ in range(3)])  # the rows come in report order
    for row in csv.DictReader(io.StringIO(text)):
        key = next(keys)
        out[(key, "", "items")] = _num(row["items"])
        out[(key, "", "breached_items")] = _num(row["breached_items"])
        for k in FIGURES:
            out[(key, row["clock"], k)] = _num(row[f"{k}_seconds" if k in ("p50", "p90", "max") else k])
        for k in CSAT:
            out[(key, "csat", k)] = _num(row[k])
    return out


class _Cells(HTMLParser):
    """Every figure cell of the HTML tables: data attributes, link, and the groups' order per table."""

    def __init__(self) -> None:
        super().__init__()
        self.table = self.group = ""
        self.cell: dict | None = None
        self.cells: list[dict] = []
        self.order: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.table = a.get("data-table", "")
        elif tag == "tr" and "data-group" in a:
            self.group = a["data-group"]
            self.order.setdefault(self.table, []).append(self.group)
        elif tag == "td" and "data-figure" in a:
            clock = a.get("data-clock") or ("" if self.table == "overview" else self.table)
            self.cell = {"table": self.table, "group": self.group, "clock": clock, "figure": a["data-figure"],
                         "value": a["data-value"], "href": None}
            self.cells.append(self.cell)
        elif tag == "a" and self.cell is not None:
            self.cell["href"] = a["href"]

    def handle_endtag(self, tag):
        if tag == "td":
            self.cell = None


def html_cells(page: str) -> _Cells:
    parser = _Cells()
    parser.feed(page)
    return parser


# --- the tests ---------------------------------------------------------------------------------------

def _check_formats_agree(report) -> None:
    doc = json.loads(render_sla(report, "json", base_url=BASE))
    assert doc == sla_to_dict(report, BASE)
    from_json = json_figures(doc)
    from_csv = csv_figures(render_sla(report, "csv"), report)
    cells = html_cells(render_sla(report, "html", base_url=BASE))
    keys = [g.key for g in report.rows]
    assert [g["key"] for g in doc["groups"]] + ["all"] == keys
    assert all(order == keys for order in cells.order.values()) and len(cells.order) == 5
    from_html: dict = {}
    for c in cells.cells:
        key = (c["group"], c["clock"], c["figure"])
        value = _num(c["value"])
        assert from_html.setdefault(key, value) == value, key  # the overview and clock tables agree too
    assert set(from_json) == set(from_csv) == set(from_html)
    for key, value in from_json.items():
        assert from_csv[key] == value and from_html[key] == value, (report.by, key, value, from_csv[key],
                                                                     from_html[key])


def _check_sums(report) -> None:
    doc = sla_to_dict(report)
    total = doc["all"]
    assert sum(g["items"] for g in doc["groups"]) == total["items"]
    assert sum(g["breached_items"] for g in doc["groups"]) == total["breached_items"]
    for clock, t in total["clocks"].items():
        for k in COUNTS:
            assert sum(g["clocks"][clock][k] for g in doc["groups"]) == t[k], (report.by, clock, k)
        for c in [g["clocks"][clock] for g in doc["groups"]] + [t]:
            assert c["items"] == (c["met"] + c["missed"] + c["breached_open"] + c["at_risk"] + c["on_track"]
                                  + c["no_target"])
            assert c["measured"] == c["met"] + c["missed"] + c["breached_open"]
            assert c["compliance"] == (round(c["met"] / c["measured"], 4) if c["measured"] else None)
    assert sum(doc["charts"]["response_times"]["counts"]["first_response"]) == \
        total["clocks"]["first_response"]["stopped"]


def _check_links(report, session) -> None:
    cells = html_cells(render_sla(report, "html", base_url=BASE))
    groups = {g.key: g for g in report.rows}
    linked = 0
    for c in cells.cells:
        g = groups[c["group"]]
        if c["table"] == "csat":  # the queue cannot select surveyed items: satisfaction figures link nowhere
            assert c["href"] is None
            continue
        if c["href"] is None:
            assert c["value"] in ("", "0") or (report.by == "organization" and g.id is None), c
            continue
        linked += 1
        url = urlsplit(c["href"])
        assert f"{url.scheme}://{url.netloc}{url.path}" == BASE + "/"
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        expected = {"since": g.since.isoformat(), "until": g.until.isoformat()}
        if report.by == "category" and g.by != "all":
            expected["category"] = g.key
        elif report.by == "organization" and g.by != "all":
            expected["org"] = str(g.id)
        elif report.by == "assignee" and g.by != "all":
            expected["assignee"] = "none" if g.id is None else str(g.id)
        if c["figure"] in BREACH_FIGURES:
            expected["sla"] = "breached"
        assert params == expected, c
    assert linked > 100
    for g in report.rows:  # the queue, given a group's links, finds exactly the group's (breached) items
        params = g.queue_params()
        if params is not None:
            assert queue_page(session, parse_queue_filter(params), per_page=1).total == g.items, g.key
            breached = parse_queue_filter(g.queue_params(breached=True))
            assert queue_page(session, breached, per_page=1).total == g.breached_items, g.key


def _check_charts(report) -> None:
    page = render_sla(report, "html")
    svgs = [ET.fromstring(svg) for svg in re.findall(r"<svg\b.*?</svg>", page, flags=re.DOTALL)]
    assert len(svgs) == 3
    bars = [[r for r in svg.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()] for svg in svgs]
    assert len(bars[0]) == 6
    heights = [float(r.get("height")) for r in bars[0]]
    counts = report.distributions["first_response"]
    assert (heights.index(max(heights)), sum(1 for h in heights if h > 0)) == \
        (counts.index(max(counts)), sum(1 for n in counts if n))
    measured = sum(1 for w in report.weeks for m in ("first_response", "resolution") if w.clock(m).measured)
    assert len(bars[1]) == measured and measured >= 2 * 11
    # nine organizations and "(no organization)"
    assert len(bars[2]) == len(report.breached_by_organization) == 10
    labels = {t.text for t in svgs[2].iter(f"{SVG}text")}
    assert 'R&D <Labs> "Ltd"' in labels and "(no organization)" in labels
    for svg in svgs:
        assert svg.get("role") == "img" and svg.find(f"{SVG}title").text


def _check_all(factory) -> dict:
    docs = {}
    with factory() as s:
        for by in BY:
            report = compute_sla(s, POLICIES, SINCE, UNTIL, by=by, now=NOW)
            assert 900 < report.total.items < 1000  # a few were received outside the period
            _check_formats_agree(report)
            _check_sums(report)
            _check_links(report, s)
            docs[by] = sla_to_dict(report)
        _check_charts(report)
    totals = [doc["all"] for doc in docs.values()]
    assert all(t == totals[0] for t in totals)  # the grouping never changes the total
    return docs


def test_formats_agree_sums_links_and_charts_on_each_backend(seeded):
    docs = _check_all(seeded)
    t = docs["category"]["all"]["clocks"]
    # the seed gives every kind of clock
    assert all(t[m][k] > 0 for m in ("first_response", "resolution") for k in ("met", "missed",
                                                                               "breached_open"))
    assert t["resolution"]["at_risk"] + t["resolution"]["on_track"] > 0 and t["resolution"]["no_target"] > 0
    # satisfaction: answered and unanswered surveys, ratings low and high (reports.csat)
    csat = docs["category"]["csat"]["total"]
    assert csat["surveys_sent"] > csat["responses"] > 0 and 1 < csat["average"] < 5
    assert csat == docs["category"]["all"]["csat"]
    for by, doc in docs.items():
        assert sum(g["surveys_sent"] for g in doc["csat"]["groups"]) == csat["surveys_sent"], by
        assert sum(g["responses"] for g in doc["csat"]["groups"]) == csat["responses"], by


def test_sqlite_and_postgresql_give_the_same_report(sqlite_url, pg_url):
    docs = []
    for url in (sqlite_url, pg_url):
        engine = make_engine(url)
        upgrade(engine)
        factory = make_sessionmaker(engine)
        with factory() as s:
            seed(s, n=300, seed=7)
            report = compute_sla(s, POLICIES, SINCE, UNTIL, by="organization", now=NOW)
            docs.append(json.loads(render_sla(report, "json")))
        engine.dispose()
    assert docs[0] == docs[1]
