"""The quarantine page in a real browser: an admin finds it in the top bar and asks for a retry."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from db.models import Mailbox, Message
from db.quarantine import QUARANTINED, RETRY_REQUESTED
from tests.e2e.test_review_browser import LEAD, T0, base_url, browser, page, seeded  # noqa: F401  (fixtures)
from tests.web import browser_sign_in

pytestmark = pytest.mark.e2e

OUTLOOK = Path(__file__).resolve().parents[1] / "data" / "mails" / "mail-parser" / "mail_outlook_1.eml"


@pytest.fixture
def quarantined(factory) -> list[int]:
    """Two quarantined messages: an Outlook .msg file (older) and a header the old parser choked on
    (newer)."""
    ids = []
    with factory.begin() as s:
        box = Mailbox(name="support", uidvalidity=3, last_uid=9)
        s.add(box)
        s.flush()
        for uid, raw, subject, sender, error in (
            (8, OUTLOOK.read_bytes(), "", "", "not an email message: no header fields and no readable text"),
            (9, b"From: anna.lee@acme.example\r\nSubject: Invoice =?x-bad?Q?=FF?=\r\n\r\nSee attached.\r\n",
             "Invoice", "anna.lee@acme.example", "RecursionError: maximum recursion depth exceeded"),
        ):
            row = Message(direction="in", mailbox_id=box.id, uidvalidity=3, uid=uid, message_id=f"<q{uid}@x>",
                          received_at=T0 + timedelta(hours=uid), size=len(raw), raw=raw, status=QUARANTINED,
                          subject=subject, sender=sender, error=error)
            s.add(row)
            s.flush()
            ids.append(row.id)
    return ids


def test_an_admin_asks_for_a_retry_from_the_quarantine_page(page, base_url, factory,  # noqa: F811
                                                            quarantined):
    outlook, invoice = quarantined
    page.goto(base_url + "/")
    nav = page.get_by_role("navigation", name="Main").get_by_role("link", name="Quarantine")
    expect(nav).to_have_text("Quarantine 2")
    nav.click()
    page.wait_for_url(base_url + "/quarantine")
    expect(page).to_have_title("Quarantine · Client intake")
    rows = page.locator("#quarantine tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_have_attribute("data-message", str(invoice))
    row = page.locator(f'tr[data-message="{invoice}"]')
    expect(row.locator("td.reason")).to_have_text("RecursionError: maximum recursion depth exceeded")
    expect(row.locator("td.state")).to_have_text("Quarantined")

    row.get_by_role("button", name="Retry").click()
    page.wait_for_url(base_url + "/quarantine?done=retry")
    expect(page.locator("#flash")).to_have_text(
        "Retry requested: the worker runs the message through the current code within seconds.")
    expect(page.locator(f'tr[data-message="{invoice}"] td.state')).to_have_text("Retry requested")
    expect(page.locator(f'tr[data-message="{outlook}"] td.state')).to_have_text("Quarantined")
    # Delete hides behind a second step: nothing is lost by a stray click.
    expect(page.locator(f'tr[data-message="{outlook}"]').get_by_role("button",
                                                                     name="Delete for good")).to_be_hidden()
    with factory() as s:
        assert s.get(Message, invoice).status == RETRY_REQUESTED
        assert s.get(Message, outlook).status == QUARANTINED
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_the_quarantine_page_fits_a_phone_screen(browser, base_url, quarantined):  # noqa: F811
    context = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        pg = context.new_page()
        browser_sign_in(pg, base_url, LEAD)
        pg.goto(base_url + "/quarantine")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
