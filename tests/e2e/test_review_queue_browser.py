"""Searching, filtering, assigning and bulk changes in a real browser, checked on the page and in the
database."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from db.models import Event, Item, User
from tests.e2e.test_review_browser import base_url, browser, page, seeded  # noqa: F401  (fixtures)
from tests.web import add_user

pytestmark = pytest.mark.e2e


def queue_refs(page: Page) -> list[str]:  # noqa: F811
    return page.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.ref)")


def search(page: Page, base: str, words: str) -> list[str]:  # noqa: F811
    page.goto(base + "/")
    page.locator("input[name=q]").fill(words)
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"{base}/?q=*")
    return queue_refs(page)


def test_search_finds_items_by_words_reference_and_chinese_text(page, base_url, seeded):  # noqa: F811
    assert search(page, base_url, "single sign-on") == ["CI-000003"]
    assert search(page, base_url, "发票") == ["CI-000002"]
    assert search(page, base_url, "CI-000001") == ["CI-000001"]
    assert search(page, base_url, "HTTP 500") == ["CI-000001"]  # words from the message text, not the subject
    assert search(page, base_url, "nothing matches this") == []
    expect(page.locator(".empty")).to_be_visible()
    # The search stays in the box and combines with a filter.
    search(page, base_url, "the")
    expect(page.locator("input[name=q]")).to_have_value("the")
    page.locator("select[name=category]").select_option("change_request")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"{base_url}/?*category=change_request*")
    assert queue_refs(page) == ["CI-000003"]


def test_assigning_on_the_item_page_and_filtering_by_assignee(page, base_url, factory, seeded):  # noqa: F811
    add_user(factory, "pat@example.com", "pm", orgs=("initech.example",), name="Pat Park")
    ref = seeded["script"]  # Maria Rossi of Initech
    page.goto(f"{base_url}/items/{ref}")
    options = page.locator("#assignee option").all_text_contents()
    assert "Pat Park" in options and "Lin Lead" in options
    page.locator("#assignee").select_option(label="Pat Park")
    page.locator("#assign-form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/items/{ref}")
    expect(page.locator("#facts")).to_contain_text("Pat Park")
    expect(page.locator("#history tbody tr").last).to_contain_text("Assigned to pat@example.com")
    with factory() as s:
        pat = s.scalar(select(User).where(User.email == "pat@example.com"))
        assert s.scalar(select(Item.assignee_id).where(Item.ref == ref)) == pat.id
        assert s.scalar(select(Event.kind).join(Item).where(Item.ref == ref)
                        .order_by(Event.id.desc())) == "assigned"
    page.goto(base_url + "/")
    page.locator("select[name=assignee]").select_option(label="Pat Park")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"{base_url}/?*assignee=*")
    assert queue_refs(page) == [ref]


def test_bulk_changes_apply_where_the_workflow_allows_and_say_where_not(page, base_url, factory,  # noqa: F811
                                                                        seeded):  # noqa: F811
    page.goto(base_url + "/")
    for ref in ("CI-000002", "CI-000003"):  # a question and a change request
        page.locator(f"#queue tr[data-ref='{ref}'] input[type=checkbox]").check()
    page.locator("#bulk-form select[name=action]").select_option("status:answered")
    page.locator("#bulk-form .bulk button[type=submit]").click()
    page.wait_for_url(base_url + "/")
    flash = page.locator("#flash")
    expect(flash).to_contain_text("1 of 2 items changed")
    expect(flash).to_contain_text("CI-000003")
    expect(page.locator("#queue tr[data-ref='CI-000002'] .status")).to_have_text("Answered")
    with factory() as s:
        statuses = dict(s.execute(select(Item.ref, Item.status).where(Item.ref.in_(["CI-000002",
                                                                                    "CI-000003"]))).all())
    assert statuses == {"CI-000002": "answered", "CI-000003": "new"}
    # Bulk category change on a selection, then the counts in the filter follow.
    page.locator("#queue tr[data-ref='CI-000003'] input[type=checkbox]").check()
    page.locator("#queue tr[data-ref='CI-000002'] input[type=checkbox]").check()
    page.locator("#bulk-form select[name=action]").select_option("category:issue")
    page.locator("#bulk-form .bulk button[type=submit]").click()
    page.wait_for_url(base_url + "/")
    expect(page.locator("#flash")).to_contain_text("2 of 2 items changed")
    expect(page.locator("select[name=category] option[value=issue]")).to_contain_text("(3)")
    with factory() as s:
        corrected = s.scalars(select(Item.ref).join(Event).where(Event.kind == "corrected")
                              .order_by(Item.ref)).all()
    assert corrected == ["CI-000002", "CI-000003"]
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_a_chinese_browser_gets_chinese_pages_and_the_choice_sticks(browser, base_url, seeded):  # noqa: F811
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.goto(base_url + "/login")
    expect(pg.locator("html")).to_have_attribute("lang", "zh-CN")
    pg.locator("input[name=email]").fill("lead@example.com")
    pg.locator("input[name=password]").fill("correct horse battery staple")
    pg.locator("form button[type=submit]").click()
    pg.wait_for_url(base_url + "/")
    nav = pg.get_by_role("navigation").first
    expect(nav).not_to_contain_text("Needs review")
    assert "Sign out" not in pg.locator("header.topbar").inner_text()
    pg.goto(f"{base_url}/items/CI-000003")
    pg.locator("#language-en").click()  # the switch keeps the PM on the same page, now in English
    pg.wait_for_url(f"{base_url}/items/CI-000003")
    expect(pg.locator("html")).to_have_attribute("lang", "en")
    expect(pg.locator("header.topbar")).to_contain_text("Sign out")
    pg.goto(base_url + "/")
    # saved for the user, over the browser's wish
    expect(pg.locator("header.topbar")).to_contain_text("Needs review")
    context.close()
