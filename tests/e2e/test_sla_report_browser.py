"""The SLA report in Chromium: its charts draw, and a figure's link opens the queue with exactly those
items."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from reports.state import refresh_states
from review.app import create_app
from tests.e2e.test_review_browser import browser, page  # noqa: F401  (fixtures)
from tests.integration.test_sla_report import NOW, POLICIES, seed
from tests.web import add_user, browser_sign_in, serving

pytestmark = pytest.mark.e2e
PERIOD = "since=2026-09-01&until=2026-11-22"


@pytest.fixture
def base_url(sqlite_url) -> Iterator[str]:
    engine = make_engine(sqlite_url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    with factory() as s:
        seed(s)
        refresh_states(s, POLICIES, NOW)
        s.commit()
    add_user(factory, "lead@example.com", "admin")
    with serving(create_app(factory, sla=POLICIES, now=lambda: NOW)) as url:
        yield url


def shown_total(page: Page) -> int:  # noqa: F811
    return int(re.search(r"of (\d+) items?", page.locator("#counts").inner_text()).group(1))


def test_a_breach_figure_opens_the_queue_with_those_items(page, base_url):  # noqa: F811
    browser_sign_in(page, base_url, "lead@example.com")
    page.goto(f"{base_url}/reports/sla?{PERIOD}&by=organization")
    expect(page.locator("svg.sla-chart")).to_have_count(3)
    assert page.locator("svg.sla-chart rect.bar").count() > 20
    cell = page.locator('table[data-table="overview"] tr[data-group]:not([data-group="none"]):not(.total) '
                        'td[data-figure="breached_items"]').first
    expected = int(cell.get_attribute("data-value"))
    assert expected > 0
    cell.locator("a").click()
    page.wait_for_url(re.compile(r".*sla=breached.*"))
    assert shown_total(page) == expected
    expect(page.locator("select[name=sla] option:checked")).to_contain_text("Breached")
    # The same group's items figure leads to all of that client's items of the period.
    page.go_back()
    items = page.locator('table[data-table="overview"] tr[data-group]:not([data-group="none"]):not(.total) '
                         'td[data-figure="items"]').first
    count = int(items.get_attribute("data-value"))
    items.locator("a").click()
    page.wait_for_url(re.compile(r".*org=\d+.*"))
    assert shown_total(page) == count
