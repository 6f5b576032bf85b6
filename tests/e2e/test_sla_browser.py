"""SLA in a real browser: filtering the queue by SLA state, an item's clocks, a client's tier, the policies
page."""
from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from db.models import Item, Organization
from review.app import create_app
from tests.e2e.test_review_browser import T0, browser, page, seeded  # noqa: F401  (fixtures)
from tests.unit.test_review_sla import configured
from tests.web import serving

pytestmark = pytest.mark.e2e

NOW = T0 + timedelta(hours=31)
STATES = {"CI-000001": "breached", "CI-000002": "at_risk", "CI-000003": "on_track", "CI-000004": ""}


def shot(page: Page, tmp_path: Path, name: str) -> None:  # noqa: F811
    """A full-page screenshot, kept under SLA_SCREENSHOTS when set (to look at), else in the test's tmp
    dir."""
    folder = Path(os.environ.get("SLA_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.fixture
def base_url(factory, seeded) -> Iterator[str]:  # noqa: F811
    """The seeded items with stored SLA states, the app with configured tiers and a fixed clock."""
    with factory.begin() as s:
        for item in s.scalars(select(Item)):
            item.sla_state = STATES[item.ref]
    with serving(create_app(factory, sla=configured(), now=lambda: NOW)) as url:
        yield url


def queue_refs(page: Page) -> list[str]:  # noqa: F811
    return page.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.ref)")


def test_filtering_the_queue_by_sla_state(page, base_url, tmp_path):  # noqa: F811
    page.goto(base_url + "/")
    expect(page.locator('tr[data-ref="CI-000001"] .sla')).to_have_text("Breached")
    expect(page.locator('tr[data-ref="CI-000002"] .sla')).to_have_text("At risk")
    assert page.locator('tr[data-ref="CI-000004"] .sla').count() == 0
    shot(page, tmp_path, "sla-queue")
    page.locator("select[name=sla]").select_option("at_risk")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"{base_url}/?*sla=at_risk*")
    assert queue_refs(page) == ["CI-000002"]
    expect(page.locator("select[name=sla] option:checked")).to_have_text("At risk (1)")
    # The filter combines with another one and survives it.
    page.locator("select[name=category]").select_option("issue")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"{base_url}/?*category=issue*")
    assert queue_refs(page) == []
    expect(page.locator("#empty")).to_contain_text("No items match these filters.")
    page.get_by_role("link", name="Clear filters").click()
    page.wait_for_url(base_url + "/")
    assert len(queue_refs(page)) == 4


def test_the_item_page_shows_its_clocks(page, base_url, tmp_path):  # noqa: F811
    page.goto(f"{base_url}/items/CI-000001")  # an issue, acknowledged after 2 minutes, 31 hours ago
    clocks = page.locator("#sla-clocks")
    expect(clocks.locator('tr[data-clock="acknowledge"]')).to_contain_text("Met")
    expect(clocks.locator('tr[data-clock="first_response"]')).to_contain_text("1 d 3 h over the target")
    expect(clocks.locator('tr[data-clock="resolution"]')).to_contain_text("1 d 7 h")
    expect(page.locator("#sla-state")).to_have_text("Breached")
    shot(page, tmp_path, "sla-item")


def test_an_admin_sets_a_clients_tier_and_reads_the_policies(page, base_url, factory, tmp_path):  # noqa: F811
    with factory() as s:
        initech = s.scalar(select(Organization.id).where(Organization.domain == "initech.example"))
    page.goto(f"{base_url}/organizations/{initech}")
    page.locator("#tier").select_option("gold")
    page.locator("#client-digest").check()
    page.locator("#settings-form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/organizations/{initech}")
    expect(page.locator("#flash")).to_have_text("Saved the service level of Initech.")
    expect(page.locator("#policy-value")).to_have_text("gold")
    shot(page, tmp_path, "sla-organization")
    with factory() as s:
        org = s.get(Organization, initech)
        assert (org.tier, org.client_digest) == ("gold", True)
    page.locator("#nav-sla").click()
    page.wait_for_url(f"{base_url}/sla/policies")
    expect(page.locator('[data-policy="gold"] .clients')).to_have_text("1 client")
    expect(page.locator('[data-calendar="office"] .zone')).to_have_text("Asia/Shanghai")
    shot(page, tmp_path, "sla-policies")
