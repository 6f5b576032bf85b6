"""The review app in a real browser: uvicorn on a free port, Debian's Chromium driven by Playwright."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from db.models import Attachment, Contact, Event, Item, Message, Organization
from review.app import create_app
from tests.web import add_user, browser_sign_in, serving

LEAD = "lead@example.com"

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)
SCRIPT_BODY = ("Hello,\n\nthe new dashboard looks great. One odd thing: when I paste this into the notes "
               "field\n\n<script>alert('xss')</script>\n<img src=x onerror=\"alert('img')\">\n\n"
               "the text disappears after saving.\n\nBest regards,\nMaria Rossi\nInitech")
SCORES = {"issue": 0.12, "change_request": 0.08, "question": 0.05, "feedback": 0.75}


def _add(session, n: int, subject: str, category: str, confidence: float, received: datetime,
         contact: Contact, body: str, *, needs_review: bool = False, status: str = "new",
         scores: dict[str, float] | None = None) -> Item:
    item = Item(ref=f"CI-{n:06d}", subject=subject, category=category, confidence=confidence,
                needs_review=needs_review, status=status, received_at=received, contact=contact,
                model_version="intake-spacy-2026.11", lang="zh" if contact.email.endswith(".cn") else "en")
    session.add(item)
    session.flush()
    session.add(Message(item_id=item.id, direction="in", message_id=f"<c{n}@{contact.email.split('@')[1]}>",
                        sender=contact.email, sender_name=contact.name, recipients="support@example.com",
                        subject=subject, sent_at=received - timedelta(seconds=20), received_at=received,
                        body_text=body, new_text=body, raw=b"raw"))
    session.add(Event(item_id=item.id, kind="classified", created_at=received + timedelta(seconds=1),
                      data={"label": category, "confidence": confidence, "needs_review": needs_review,
                            "model_version": "intake-spacy-2026.11",
                            "scores": scores or {category: confidence}}))
    if status == "acknowledged":
        item.acknowledged_at = received + timedelta(minutes=2)
        session.add(Message(item_id=item.id, direction="out", message_id=f"<ack{n}@example.com>",
                            sender="support@example.com", sender_name="Example Support",
                            recipients=contact.email, subject=f"[{item.ref}] {subject}",
                            received_at=item.acknowledged_at, raw=b"raw",
                            body_text=f"Thank you for your message. We have recorded it as {item.ref} "
                                      "and will get back to you shortly.\n\nExample Support"))
        session.add(Event(item_id=item.id, kind="acknowledged", created_at=item.acknowledged_at,
                          data={"message_id": f"<ack{n}@example.com>", "to": contact.email}))
    return item


@pytest.fixture
def seeded(factory) -> dict[str, str]:
    """Four items; the newest carries a script payload, the Chinese one needs review."""
    with factory.begin() as s:
        initech = Organization(name="Initech", domain="initech.example")
        anna = Contact(email="anna.lee@acme.example", name="Anna Lee")
        li = Contact(email="li.lei@example.cn", name="李雷")
        bo = Contact(email="bo.chen@globex.example", name="Bo Chen")
        maria = Contact(email="maria.rossi@initech.example", name="Maria Rossi", organization=initech)
        _add(s, 1, "Login page returns 500 after the update", "issue", 0.93, T0, anna,
             "Since this morning's update the login page returns HTTP 500 for all our users.",
             status="acknowledged")
        _add(s, 2, "关于发票抬头的问题", "question", 0.47, T0 + timedelta(hours=3), li,
             "您好，请问发票抬头可以改成我们公司的全称吗？谢谢！", needs_review=True,
             scores={"question": 0.47, "change_request": 0.31, "issue": 0.14, "feedback": 0.08})
        _add(s, 3, "Please add single sign-on to the client portal", "change_request", 0.88,
             T0 + timedelta(hours=26), bo, "Could you add SSO (SAML) to the portal? Our IT requires it.")
        maria_item = _add(s, 4, "Feedback on the new dashboard", "feedback", 0.75, T0 + timedelta(hours=30),
                          maria, SCRIPT_BODY, status="acknowledged", scores=SCORES)
        s.flush()
        first = s.scalar(select(Message).where(Message.item_id == maria_item.id, Message.direction == "in"))
        first.attachments.append(Attachment(filename="notes-field.png", content_type="image/png",
                                            size=184_320, sha256="b" * 64))
    add_user(factory, LEAD, "admin", name="Lin Lead")
    return {"script": "CI-000004", "review": "CI-000002"}


@pytest.fixture
def base_url(factory, seeded) -> Iterator[str]:
    """The app served by uvicorn in a background thread on a free 127.0.0.1 port."""
    with serving(create_app(factory)) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, base_url) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=True)
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]

    def on_dialog(dialog) -> None:
        pg.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.set_default_timeout(10_000)
    browser_sign_in(pg, base_url, LEAD)
    yield pg
    context.close()


def _queue_refs(page: Page) -> list[str]:
    return page.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.ref)")


def test_queue_lists_items_newest_first_and_opens_an_item(page, base_url, seeded, tmp_path):
    page.goto(base_url + "/")
    expect(page).to_have_title("Queue · Client intake")
    assert _queue_refs(page) == ["CI-000004", "CI-000003", "CI-000002", "CI-000001"]
    expect(page.locator("#counts")).to_contain_text("Showing 1–4 of 4 items")
    expect(page.locator('tr[data-ref="CI-000002"] '
                        'td[data-label="Subject"]')).to_have_text("关于发票抬头的问题")
    expect(page.locator('tr[data-ref="CI-000002"]')).to_contain_text("Needs review")
    expect(page.locator('tr[data-ref="CI-000002"] td[data-label="Confidence"]')).to_have_text("Low")
    expect(page.locator('tr[data-ref="CI-000002"] .band')).to_have_attribute("title", "47.0%")
    page.screenshot(path=str(tmp_path / "review-queue.png"), full_page=True)

    page.get_by_role("link", name=seeded["script"]).click()
    page.wait_for_url(f"{base_url}/items/{seeded['script']}")
    expect(page.locator("h1")).to_have_text("Feedback on the new dashboard")
    body = page.locator("#message-1 pre.body")
    expect(body).to_contain_text("<script>alert('xss')</script>")
    expect(body).to_contain_text("<img src=x onerror=\"alert('img')\">")
    assert page.locator("main script, main img").count() == 0
    expect(page.locator("#message-1 .attachments")).to_contain_text("notes-field.png")
    expect(page.locator("#message-1 .attachments")).to_contain_text("image/png, 180.0 KB")
    expect(page.locator("#message-2")).to_contain_text("Outgoing")
    expect(page.locator("#scores tbody tr").first).to_contain_text("Feedback")
    expect(page.locator("#facts")).to_contain_text("Initech")
    page.screenshot(path=str(tmp_path / "review-item.png"), full_page=True)
    page.wait_for_timeout(300)
    assert page.dialogs == []  # type: ignore[attr-defined]


def test_correcting_the_category(page, base_url, factory, seeded):
    ref = seeded["script"]
    page.goto(f"{base_url}/items/{ref}")
    expect(page.locator("#item-category")).to_have_text("Feedback")
    page.select_option("#category", "issue")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{base_url}/items/{ref}")
    expect(page.locator("#item-category")).to_have_text("Issue")
    expect(page.locator("#category")).to_have_value("issue")
    last = page.locator("#history tbody tr").last
    expect(last).to_contain_text("Corrected")
    expect(last).to_contain_text(LEAD)
    expect(last).to_contain_text("Category changed from Feedback to Issue")
    assert page.dialogs == []  # type: ignore[attr-defined]
    with factory() as s:
        events = s.scalars(select(Event).join(Item).where(Item.ref == ref, Event.kind == "corrected")).all()
        assert [e.data for e in events] == [
            {"from": "feedback", "to": "issue", "model_version": "intake-spacy-2026.11"}]
        assert s.scalar(select(Item.category).where(Item.ref == ref)) == "issue"


def test_needs_review_filter_shows_only_that_item(page, base_url, seeded):
    page.goto(base_url + "/")
    page.get_by_label("Needs review only").check()
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"{base_url}/?*review=1*")
    assert _queue_refs(page) == [seeded["review"]]
    expect(page.locator("h1")).to_have_text("Needs review")
    page.get_by_role("link", name="Queue", exact=True).click()
    page.wait_for_url(base_url + "/")
    assert len(_queue_refs(page)) == 4
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Needs review").click()
    page.wait_for_url(f"{base_url}/?review=1")
    assert _queue_refs(page) == [seeded["review"]]


@pytest.mark.parametrize("path", ["/", "/items/CI-000004"])
def test_pages_fit_a_phone_screen(browser, base_url, seeded, path):
    context = browser.new_context(viewport={"width": 375, "height": 740})
    try:
        pg = context.new_page()
        browser_sign_in(pg, base_url, LEAD)
        pg.goto(base_url + path)
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
