"""The account page in a real browser: the sessions listed, "sign out everywhere else" ending another
browser's."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from review.app import create_app
from tests.e2e.test_review_browser import LEAD, browser  # noqa: F401, F811  (the module-scoped Chromium)
from tests.web import add_user, browser_sign_in, serving

pytestmark = pytest.mark.e2e


@pytest.fixture
def base_url(factory) -> Iterator[str]:
    add_user(factory, LEAD, "admin", name="Lin Lead")
    with serving(create_app(factory)) as url:
        yield url


def test_sign_out_everywhere_else_ends_the_other_browsers_session(browser, base_url, tmp_path):  # noqa: F811
    desk = browser.new_context(viewport={"width": 1280, "height": 800}, user_agent="Desk browser")
    laptop = browser.new_context(viewport={"width": 1280, "height": 800}, user_agent="Laptop browser")
    try:
        here, there = desk.new_page(), laptop.new_page()
        for page in (here, there):
            page.set_default_timeout(10_000)
        browser_sign_in(here, base_url, LEAD)
        here.get_by_role("link", name="Lin Lead").click()
        here.wait_for_url(base_url + "/account")
        expect(here.locator("h1")).to_have_text("Your account")
        sessions = here.locator("#session-list tbody tr")
        expect(sessions).to_have_count(1)
        expect(sessions.first).to_contain_text("this browser")
        expect(sessions.first).to_contain_text("Desk browser")
        expect(sessions.first).to_contain_text("127.0.0.1")

        browser_sign_in(there, base_url, LEAD)
        here.reload()
        expect(sessions).to_have_count(2)
        expect(here.locator("#session-list")).to_contain_text("Laptop browser")
        here.screenshot(path=str(tmp_path / "account.png"), full_page=True)

        here.get_by_role("button", name="Sign out everywhere else").click()
        here.wait_for_url(base_url + "/account")
        expect(here.locator("#flash")).to_have_text("Signed out 1 other session.")
        expect(sessions).to_have_count(1)
        expect(sessions.first).to_contain_text("this browser")

        there.goto(base_url + "/organizations")
        there.wait_for_url(base_url + "/login?next=%2Forganizations")
        expect(there.locator("h1")).to_have_text("Sign in")
        here.goto(base_url + "/")
        expect(here.locator("#who")).to_have_text("Lin Lead")  # this browser is still signed in
    finally:
        desk.close()
        laptop.close()
