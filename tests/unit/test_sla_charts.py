"""The SLA charts: tick values, empty data, a long period's week labels, escaping and translation."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import pytest

from db.models import Item
from reports.charts import (
    breaches_chart,
    nice_ticks,
    response_time_chart,
    sla_charts,
    weekly_compliance_chart,
)
from reports.policy import parse_policies
from reports.sla import compute_sla
from tests.unit.test_reports import client_contact

SVG = "{http://www.w3.org/2000/svg}"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
POLICIES = parse_policies({}, {}, "")


def identity(message: str, **values: object) -> str:
    return message % values if values else message


def bars(svg: ET.Element) -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]


@pytest.mark.parametrize("top, ticks", [
    (0, [0, 1]), (1, [0, 1]), (3, [0, 1, 2, 3]), (7, [0, 2, 4, 6, 8]), (87, [0, 20, 40, 60, 80, 100]),
    (100, [0, 20, 40, 60, 80, 100]), (324, [0, 100, 200, 300, 400]), (1000, [0, 200, 400, 600, 800, 1000]),
])
def test_nice_ticks(top, ticks):
    assert nice_ticks(top) == ticks


def test_empty_period_gives_valid_empty_charts(factory):
    with factory() as s:
        report = compute_sla(s, POLICIES, date(2026, 11, 16), date(2026, 11, 22), now=NOW)
    times = ET.fromstring(response_time_chart(report, identity))
    assert len(bars(times)) == 6 and {float(b.get("height")) for b in bars(times)} == {0.0}
    weekly = ET.fromstring(weekly_compliance_chart(report, identity))
    assert bars(weekly) == [] and [t.text for t in weekly.iter(f"{SVG}text")].count("–") == 2
    orgs = ET.fromstring(breaches_chart(report, identity))
    assert bars(orgs) == [] and "No breached items in this period." in {t.text
                                                                        for t in orgs.iter(f"{SVG}text")}


def test_a_year_of_weeks_keeps_labels_apart(factory):
    with factory() as s:
        report = compute_sla(s, POLICIES, date(2025, 11, 24), date(2026, 11, 22), now=NOW)
    assert len(report.weeks) == 52
    weekly = ET.fromstring(weekly_compliance_chart(report, identity))
    labels = [t for t in weekly.iter(f"{SVG}text") if (t.text or "").startswith("W")]
    xs = [float(t.get("x")) for t in labels]
    assert 10 < len(labels) < 52 and min(b - a for a, b in zip(xs, xs[1:], strict=False)) >= 44


def test_labels_are_escaped_translated_and_linked(factory):
    with factory() as s:
        contact = client_contact(s, "A & B <Ltd>", "ab.example")
        org_id = contact.organization_id
        s.add(Item(ref="CI-1", category="issue", received_at=datetime(2026, 11, 17, 9, tzinfo=timezone.utc),
                   contact_id=contact.id))  # never acknowledged: breached
        s.commit()
        report = compute_sla(s, POLICIES, date(2026, 11, 16), date(2026, 11, 22), now=NOW)
    charts = sla_charts(report, lambda m, **v: "T:" + identity(m, **v), base_url="http://x.example")
    assert "A &amp; B &lt;Ltd&gt;" in charts["organizations"] and "<Ltd>" not in charts["organizations"]
    orgs = ET.fromstring(charts["organizations"])
    assert orgs.find(f"{SVG}title").text == "T:Breached items per client organization"
    (link,) = orgs.iter(f"{SVG}a")
    assert link.get("href") == f"http://x.example/?org={org_id}&since=2026-11-16&until=2026-11-22&sla=breached"
    assert "T:First response" in {t.text for t in ET.fromstring(charts["weekly"]).iter(f"{SVG}text")}
    for svg in charts.values():
        assert "style=" not in svg


def test_the_weekly_legend_leaves_room_for_chinese_names(factory):
    with factory() as s:
        report = compute_sla(s, POLICIES, date(2026, 11, 16), date(2026, 11, 22), now=NOW)
    names = {"First response": "首次回复", "Resolution": "解决"}
    weekly = ET.fromstring(weekly_compliance_chart(report, lambda m, **v: names.get(m, identity(m, **v))))
    first, second = (float(r.get("x")) for r in weekly.iter(f"{SVG}rect") if r.get("class") == "legend")
    label = next(t for t in weekly.iter(f"{SVG}text") if t.text == "首次回复")
    # Four wide characters at 12 px take about 48 px; the next entry starts a gap after them, as in English.
    assert second - float(label.get("x")) >= 4 * 12 + 16
    assert float(label.get("x")) > first
