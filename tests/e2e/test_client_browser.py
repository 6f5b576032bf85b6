"""The clients' status and comment pages in Chromium on a phone-sized screen, in Chinese and English, with and
without JavaScript: what a client sees from the links in our mail."""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from db.models import ChangeAssessment, Contact, Event, Item, Message, Survey
from db.status_links import new_link
from db.types import utcnow
from responders.client_mail import ClientMailSettings, schedule_survey
from responders.links import SurveyLinks
from review.app import create_app
from tests.e2e.test_review_browser import browser  # noqa: F401  (the module's Chromium)
from tests.web import add_user, browser_sign_in, serving

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 740}
MAIL = ClientMailSettings(base_url="http://127.0.0.1", survey_links=SurveyLinks("s" * 48),
                          survey_statuses=("resolved", "implemented"))
NOTE = "INTERNAL: discount agreed with their CFO"


def shot(page: Page, tmp_path: Path, name: str) -> None:
    """A full-page screenshot, kept under CLIENT_SCREENSHOTS when set (to look at), else in the test's tmp
    dir."""
    folder = Path(os.environ.get("CLIENT_SCREENSHOTS", tmp_path))
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _item(s, n: int, lang: str, subject: str, text: str, category: str, status: str) -> Item:
    contact = Contact(email=f"client{n}@client.example", name=f"Client {n}")
    item = Item(ref=f"CI-{n:06d}", subject=subject, category=category, status=status, lang=lang,
                contact=contact,
                received_at=utcnow() - timedelta(hours=2), model_version="m")
    s.add(item)
    s.flush()
    s.add(Message(item_id=item.id, direction="in", message_id=f"<c{n}@client.example>", sender=contact.email,
                  subject=subject, received_at=item.received_at, body_text=text, new_text=text, raw=b"r"))
    s.add(Message(item_id=item.id, direction="out", message_id=f"<o{n}@team.example>",
                  sender="support@team.example",
                  subject="Re: " + subject, received_at=item.received_at + timedelta(minutes=1),
                  screening="ours",
                  body_text=("您好！我们已收到您的邮件。" if lang == "zh"
                             else "Hello, we have received your email.")
                  + " http://127.0.0.1/s/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", raw=b"r"))
    s.add(Event(item_id=item.id, kind="note", actor="mei@team.example", data={"text": NOTE}))
    return item


@pytest.fixture
def links(factory) -> dict[str, str]:
    """A Chinese issue (resolved, with a survey) and an English change request awaiting approval."""
    with factory.begin() as s:
        zh = _item(s, 1, "zh", "导出报表时出错，系统提示 500",
                   "从昨天开始，导出超过一千行的报表时系统报错 500。" * 3,
                   "issue", "in_progress")
        en = _item(s, 2, "en",
                   "Please add single sign-on with our Azure AD tenant for all 400 staff accounts",
                   "We would like our staff to sign in with their company accounts.", "change_request",
                   "awaiting_approval")
        s.add(ChangeAssessment(item_id=en.id,
                               scope="SAML 2.0 sign-in with Azure AD; user provisioning stays manual.",
                               cost="6 person-days", schedule="+2 weeks", sent_at=utcnow()))
        out = {"zh": new_link(s, zh.id, utcnow()), "en": new_link(s, en.id, utcnow())}
        for item in (zh, en):
            item.status = "resolved" if item is zh else "implemented"
            survey = schedule_survey(s, item, MAIL, utcnow())
            out[f"survey-{item.lang}"] = MAIL.survey_links.token(survey.id, item.id)
        en.status = "awaiting_approval"
        zh.status = "in_progress"
    return out


@pytest.fixture
def base_url(factory, links) -> Iterator[str]:
    with serving(create_app(factory, client_mail=MAIL)) as url:
        yield url


@pytest.fixture(params=[True, False], ids=["js", "no-js"])
def phone(request, browser) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                  java_script_enabled=request.param, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def fits(page: Page) -> None:
    """Nothing wider than the phone's screen: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px screen"


def test_the_status_page_on_a_phone_in_chinese(phone, base_url, links, tmp_path):
    response = phone.goto(f"{base_url}/s/{links['zh']}")
    assert response.status == 200 and response.headers["x-robots-tag"] == "noindex, nofollow"
    expect(phone).to_have_title("CI-000001 · 您的请求")
    expect(phone.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(phone.locator("#ref")).to_have_text("CI-000001")
    expect(phone.locator("#status")).to_have_text("处理中")
    expect(phone.locator("#next")).to_contain_text("我们正在修复")
    expect(phone.locator("#promise")).to_be_visible()
    expect(phone.locator(".client-message")).to_have_count(2)
    expect(phone.locator(".client-message.ours")).to_contain_text("/s/…")  # our mail's link, never its token
    assert NOTE not in phone.content() and "AAAAAAAAAAAAAAAAAAAA" not in phone.content()
    fits(phone)
    shot(phone, tmp_path, "status-zh")


def test_the_status_page_on_a_phone_in_english_with_the_assessment(phone, base_url, links, tmp_path):
    phone.goto(f"{base_url}/s/{links['en']}")
    expect(phone).to_have_title("CI-000002 · Your request")
    expect(phone.locator("#status")).to_have_text("Waiting for your approval")
    expect(phone.locator("#assessment")).to_contain_text("6 person-days")
    expect(phone.locator("#assessment")).to_contain_text("reply to our assessment email")
    assert phone.locator("#promise").count() == 0  # waiting for the client: no promise while paused
    fits(phone)
    shot(phone, tmp_path, "status-en")


def test_a_wrong_link_is_a_plain_not_found_page(phone, base_url, links):
    response = phone.goto(f"{base_url}/s/{links['en'][:-2]}zz")
    assert response.status == 404
    expect(phone.locator("h1")).to_have_text("Not found")
    assert "CI-00000" not in phone.content()
    fits(phone)


@pytest.mark.parametrize("lang, chosen, thanks, saved", [
    ("zh", "您选择了 2 分（满分 5 分）。", "谢谢！您的评分：2 分（满分 5 分）。", "谢谢：您的意见已保存。"),
    ("en", "You chose 2 of 5.", "Thank you! Your rating: 2 of 5.", "Thank you: your comment is saved."),
])
def test_rating_and_commenting_on_a_phone(phone, base_url, links, factory, tmp_path, lang, chosen, thanks,
                                          saved):
    token = links[f"survey-{lang}"]
    # the survey email's "2" link: it asks; a scanner's visit records nothing
    phone.goto(f"{base_url}/r/{token}/2")
    expect(phone.locator("#confirm")).to_contain_text(chosen)
    expect(phone.locator("#rate-2")).to_have_class(re.compile(r"\basked\b"))
    fits(phone)
    shot(phone, tmp_path, f"asked-{lang}")
    with factory() as s:
        assert s.scalar(select(Survey.rating).join(Item,
                                                   Item.id == Survey.item_id)
                        .where(Item.lang == lang)) is None
    phone.locator("#send-rating").click()
    expect(phone.locator("#thanks")).to_have_text(thanks)
    expect(phone.locator("#confirm")).to_have_count(0)
    expect(phone.locator("#rate-2")).to_have_attribute("aria-current", "true")
    fits(phone)
    shot(phone, tmp_path, f"rated-{lang}")
    phone.locator("#rate-4").click()  # a second click changes the rating
    expect(phone.locator("#rate-4")).to_have_attribute("aria-current", "true")
    phone.locator("#comment").fill("很快就修好了" if lang == "zh" else "Fixed quickly, thanks")
    phone.get_by_role("button", name="提交意见" if lang == "zh" else "Send comment").click()
    expect(phone.locator("#saved")).to_have_text(saved)
    expect(phone.locator("#comment")).to_have_value("很快就修好了" if lang == "zh"
                                                    else "Fixed quickly, thanks")
    fits(phone)
    shot(phone, tmp_path, f"commented-{lang}")
    with factory() as s:
        survey = s.scalar(select(Survey).join(Item, Item.id == Survey.item_id).where(Item.lang == lang))
        assert survey.rating == 4 and survey.comment.startswith(("很快", "Fixed"))


def test_a_pm_makes_a_new_link_and_the_old_one_stops_working(browser, base_url, links, factory):  # noqa: F811
    add_user(factory, "lead@example.com", "admin", name="Lin Lead")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    browser_sign_in(page, base_url, "lead@example.com")
    page.goto(f"{base_url}/items/CI-000001")
    expect(page.locator("#status-links")).to_contain_text("1 live link")
    page.locator("#status-link-form button").click()
    flash = page.locator("#flash").text_content() or ""
    found = re.search(r"http://127\.0\.0\.1(/s/[A-Za-z0-9_\-]+)", flash)
    assert found, flash
    expect(page.locator("#status-links")).to_contain_text("1 live link")
    page.reload()
    assert found.group(1) not in page.content()  # shown once
    assert page.goto(f"{base_url}/s/{links['zh']}").status == 404
    assert page.goto(base_url + found.group(1)).status == 200
    expect(page.locator("#ref")).to_have_text("CI-000001")
    context.close()
