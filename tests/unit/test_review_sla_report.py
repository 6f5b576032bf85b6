"""The SLA report page: the same figures as `intake report sla`, limited to a PM's clients, with downloads."""
from __future__ import annotations

import csv
import io
import json
import re

import pytest
from starlette.testclient import TestClient

from reports.render import render_sla, sla_to_dict
from reports.sla import compute_sla
from review.app import create_app
from tests.unit.test_reports import NOW2, POLICIES, SINCE, UNTIL, _seed_case
from tests.web import add_user, sign_in, signed_in

PERIOD = f"since={SINCE.isoformat()}&until={UNTIL.isoformat()}"


@pytest.fixture
def seeded(factory):
    with factory() as s:
        ids = _seed_case(s)
    return factory, ids


@pytest.fixture
def app(seeded):
    factory, _ = seeded
    return create_app(factory, sla=POLICIES, now=lambda: NOW2)


def expected(factory, by: str = "category", organizations=None):  # type: ignore[no-untyped-def]
    with factory() as s:
        return compute_sla(s, POLICIES, SINCE, UNTIL, by=by, now=NOW2, organizations=organizations)


def cell(html: str, clock: str, group: str, figure: str) -> str:
    table = re.search(rf'<table[^>]*data-clock="{clock}".*?</table>', html, re.S).group(0)
    row = re.search(rf'<tr[^>]*data-group="{group}".*?</tr>', table, re.S).group(0)
    return re.search(rf'data-figure="{figure}"[^>]*data-value="([^"]*)"', row).group(1)


@pytest.mark.parametrize("by", ["category", "organization", "assignee", "week"])
def test_admin_sees_the_same_figures_as_the_command(app, seeded, by):
    factory, _ = seeded
    with TestClient(app) as c:
        signed_in(c, factory)
        page = c.get(f"/reports/sla?{PERIOD}&by={by}")
        assert page.status_code == 200
        downloaded = c.get(f"/reports/sla?{PERIOD}&by={by}&format=json")
    report = expected(factory, by)
    assert downloaded.json() == json.loads(render_sla(report, "json"))
    for group in report.rows:
        for clock in group.clocks:
            assert cell(page.text, clock.clock, group.key, "met") == str(clock.met), (group.key, clock.clock)
            assert cell(page.text, clock.clock, group.key, "measured") == str(clock.measured)
    assert "<svg" in page.text and 'selected>' in page.text


def test_a_pm_sees_only_their_clients(app, seeded):
    factory, ids = seeded
    add_user(factory, "pat@team.example", "pm", orgs=("beta.example",))
    with TestClient(app) as c:
        assert sign_in(c, "pat@team.example").status_code == 303
        data = c.get(f"/reports/sla?{PERIOD}&by=organization&format=json").json()
        page = c.get(f"/reports/sla?{PERIOD}&by=organization").text
    mine = sla_to_dict(expected(factory, "organization", organizations=[ids["beta"]]))
    assert data["all"] == mine["all"] and data["organizations"] == [ids["beta"]]
    assert [g["label"] for g in data["groups"]] == ["Beta"]
    assert data["all"]["items"] < sla_to_dict(expected(factory))["all"]["items"]
    assert "Acme" not in page and "Items of the clients you work on." in page


def test_csv_download_and_bad_requests(app, seeded):
    factory, _ = seeded
    with TestClient(app) as c:
        signed_in(c, factory)
        got = c.get(f"/reports/sla?{PERIOD}&by=week&format=csv")
        assert got.headers["content-type"].startswith("text/csv")
        assert 'attachment; filename="sla-' in got.headers["content-disposition"]
        assert got.text == render_sla(expected(factory, "week"), "csv")
        assert list(csv.reader(io.StringIO(got.text)))[0][0] == "group_by"
        for query, message in [("by=team", "by: unknown grouping"), ("since=2026-11-30&until=2026-11-01",
                                                                       "the first day comes after the last "
                                                                       "day"),
                               ("since=yesterday", "since: expected a date like"),
                               ("format=pdf", "format: unknown format"),
                               ("since=2020-01-01&until=2026-01-01", "at most 732 days")]:
            r = c.get(f"/reports/sla?{query}")
            assert r.status_code == 400 and message in r.text, query


def test_anonymous_users_are_sent_to_sign_in(app):
    with TestClient(app) as c:
        r = c.get(f"/reports/sla?{PERIOD}", follow_redirects=False)
        assert r.status_code in (302, 303) and "/login" in r.headers["location"]


def test_the_report_page_is_in_chinese(app, seeded):
    factory, _ = seeded
    with TestClient(app) as c:
        signed_in(c, factory)
        html = c.get(f"/reports/sla?{PERIOD}", headers={"accept-language": "zh-CN"}).text
    for chinese in ("服务级别报告", "首次回复时长", "变更请求", "各客户的超时事项", "数字的计算方法",
                    "下载 CSV"):
        assert chinese in html, chinese
    text = re.sub(r"<[^>]+>", " ", html)
    for english in ("Time to first response", "Breached items", "How the figures are counted",
                    "Change request"):
        assert english not in text, english
