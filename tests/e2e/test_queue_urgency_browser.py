"""The PM's morning in a real browser, in English and Chinese: most urgent first with time left and age,
My queue, the forward step, confirmation pages before a reject and a large bulk change, notices, a person's
time zone, and canned replies."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email import message_from_bytes
from email.policy import default

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from db.models import Contact, Item, Organization, OutboxMail, ReplyTemplate, User
from review.app import create_app
from tests.e2e.test_review_browser import browser  # noqa: F401  (fixture)
from tests.web import PASSWORD, add_user, serving

pytestmark = pytest.mark.e2e

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=timezone.utc)
LEAD, PAT = "lead@example.com", "pat@example.com"
TEXT = {
    "en": {"due": "Due soonest", "left": "1 h 20 min left", "long_overdue": "overdue by 8 d 6 h",
           "age": "2 d 2 h",
           "mine": "My queue", "reject": "Reject CI-000002?", "yes_reject": "Yes, reject",
           "rejected": "Moved from New to Rejected.", "bulk": "Change 6 items?",
           "changed": "6 of 6 items changed.",
           "forward": "Move to In progress", "moved": "Moved from New to In progress.", "cancel": "Cancel"},
    "zh": {"due": "最先到期", "left": "剩余 1 小时 20 分钟", "long_overdue": "已超时 8 天 6 小时",
           "age": "2 天 2 小时",
           "mine": "我的队列", "reject": "拒绝 CI-000002？", "yes_reject": "是的，拒绝",
           "rejected": "状态已从“新建”改为“已拒绝”。", "bulk": "更改 6 个工单？",
           "changed": "已更改 6 个工单（共 6 个）。",
           "forward": "移至“处理中”", "moved": "状态已从“新建”改为“处理中”。", "cancel": "取消"},
}


@pytest.fixture
def morning(factory) -> None:
    """Acme's items: one breached, one due in 1 h 20 min, one in 5 h, a new change request, six new questions;
    Pat (a PM of Acme) has CI-000001, Sam (also of Acme) CI-000004; Globex's item is nobody's."""
    with factory.begin() as s:
        acme = Organization(name="Acme", domain="acme.example")
        globex = Organization(name="Globex", domain="globex.example")
        anna = Contact(email="anna@acme.example", name="Anna Lee", organization=acme)
        bo = Contact(email="bo@globex.example", name="Bo Chen", organization=globex)
        s.add_all([acme, globex, anna, bo])
        rows = [  # n, category, subject, hours ago, state, due in hours
            (1, "issue", "Export fails above 1,000 rows", 30, "on_track", 5.0),
            (2, "change_request", "Please add single sign-on", 1, "at_risk", 1 + 20 / 60),
            (3, "issue", "登录页面报错 500", 50, "breached", -3.5),
            *((n, "question", f"Question {n}", n, "", None) for n in range(4, 10)),
            (10, "question", "Globex question", 2, "", None),
        ]
        for n, category, subject, age, state, due in rows:
            s.add(Item(ref=f"CI-{n:06d}", subject=subject, category=category, confidence=0.9, status="new",
                       received_at=NOW - timedelta(hours=age), contact=bo if n == 10 else anna, lang="en",
                       sla_state=state, sla_due_at=None if due is None else NOW + timedelta(hours=due)))
    add_user(factory, LEAD, "admin", name="Lin Lead")
    add_user(factory, PAT, "pm", orgs=("acme.example",), name="Pat Park")
    add_user(factory, "sam@example.com", "pm", orgs=("acme.example",), name="Sam Soto")
    with factory.begin() as s:
        ids = dict(s.execute(select(User.email, User.id)).all())
        s.scalar(select(Item).where(Item.ref == "CI-000001")).assignee_id = ids[PAT]
        s.scalar(select(Item).where(Item.ref == "CI-000004")).assignee_id = ids["sam@example.com"]


@pytest.fixture
def base_url(factory, morning) -> Iterator[str]:
    with serving(create_app(factory, now=lambda: NOW)) as url:
        yield url


def open_page(browser: Browser, base_url: str, lang: str, email: str = LEAD) -> Page:  # noqa: F811
    context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US",
                                  viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(base_url + "/login")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(base_url + "/")
    return page


@pytest.fixture(params=["en", "zh"])
def lang(request) -> str:
    return request.param


def refs(page: Page) -> list[str]:
    return page.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.ref)")


def statuses(factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return dict(s.execute(select(Item.ref, Item.status)).all())


def test_the_queue_puts_breached_first_then_due_soonest_with_time_left_and_age(browser, base_url,  # noqa: F811
                                                                               lang, tmp_path, factory):
    t = TEXT[lang]
    with factory.begin() as s:  # the widest labels a row has: flagged, awaiting approval, a long overdue time
        item = s.scalar(select(Item).where(Item.ref == "CI-000002"))
        item.needs_review, item.status, item.confidence = True, "awaiting_approval", 0.5
        s.scalar(select(Item).where(Item.ref == "CI-000003")).sla_due_at = NOW - timedelta(days=8, hours=6)
    page = open_page(browser, base_url, lang)
    assert refs(page)[:3] == ["CI-000003", "CI-000002", "CI-000001"]
    expect(page.locator("select[name=sort] option:checked")).to_have_text(t["due"])
    expect(page.locator("tr[data-ref='CI-000003'] .due.overdue")).to_have_text(t["long_overdue"])
    expect(page.locator("tr[data-ref='CI-000002'] .due")).to_have_text(t["left"])
    expect(page.locator("tr[data-ref='CI-000002'] .due")).to_have_attribute("title",
                                                                            "Due 2026-11-04 13:20 UTC"
                                                                             if lang == "en" else
                                                                             "到期时间 2026-11-04 13:20 UTC")
    expect(page.locator("tr[data-ref='CI-000003'] .age")).to_have_text(t["age"])
    # At desktop width every column, the assignee's last, is in view without scrolling sideways.
    assert page.evaluate("() => { const t = document.querySelector('.table-wrap'); "
                         "return t.scrollWidth <= t.clientWidth; }")
    page.screenshot(path=str(tmp_path / f"queue-{lang}.png"), full_page=True)
    page.locator("select[name=sort]").select_option("newest")
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"{base_url}/?*sort=newest*")
    assert refs(page)[0] == "CI-000002"
    page.context.close()


def test_my_queue_shows_mine_and_the_unassigned_items_of_my_clients(browser, base_url, lang):  # noqa: F811
    page = open_page(browser, base_url, lang, PAT)
    page.get_by_role("navigation").get_by_role("link", name=TEXT[lang]["mine"]).click()
    page.wait_for_url(f"{base_url}/?mine=1")
    expect(page.locator("h1")).to_have_text(TEXT[lang]["mine"])
    # Not Sam's CI-000004; not Globex's CI-000010 (not Pat's client); breached and soonest due first.
    assert refs(page) == ["CI-000003", "CI-000002", "CI-000001", "CI-000005", "CI-000006", "CI-000007",
                          "CI-000008", "CI-000009"]
    page.context.close()


def test_the_forward_step_is_one_click_with_a_notice(browser, base_url, lang, factory):  # noqa: F811
    page = open_page(browser, base_url, lang)
    page.goto(f"{base_url}/items/CI-000001")
    forward = page.locator("#forward")
    expect(forward).to_have_text(TEXT[lang]["forward"])
    forward.click()
    page.wait_for_url(f"{base_url}/items/CI-000001")
    expect(page.locator("#flash")).to_have_text(TEXT[lang]["moved"])
    assert statuses(factory)["CI-000001"] == "in_progress"
    page.reload()
    expect(page.locator("#flash")).to_have_count(0)
    page.context.close()


def test_rejecting_asks_on_a_second_page(browser, base_url, lang, factory):  # noqa: F811
    page = open_page(browser, base_url, lang)
    page.goto(f"{base_url}/items/CI-000002")
    expect(page.locator("#status")).to_have_value("")  # nothing pre-selected
    expect(page.locator("#forward")).to_have_count(0)  # the assessment moves a change request on
    page.locator("#status").select_option("rejected")
    page.locator("#status-form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/items/CI-000002/status")
    expect(page.locator("#confirm h1")).to_have_text(TEXT[lang]["reject"])
    assert statuses(factory)["CI-000002"] == "new"
    assert page.locator("script").count() == 0
    page.locator("#confirm-cancel").click()
    page.wait_for_url(f"{base_url}/items/CI-000002")
    assert statuses(factory)["CI-000002"] == "new"
    page.locator("#status").select_option("rejected")
    page.locator("#status-form button[type=submit]").click()
    page.get_by_role("button", name=TEXT[lang]["yes_reject"]).click()
    page.wait_for_url(f"{base_url}/items/CI-000002")
    expect(page.locator("#flash")).to_have_text(TEXT[lang]["rejected"])
    assert statuses(factory)["CI-000002"] == "rejected"
    page.context.close()


def test_a_bulk_change_of_six_items_asks_first(browser, base_url, lang, factory):  # noqa: F811
    page = open_page(browser, base_url, lang)
    questions = [f"CI-00000{n}" for n in range(4, 10)]
    expect(page.locator("#bulk-form select[name=action]")).to_have_value("")
    for ref in questions:
        page.locator(f"#queue tr[data-ref='{ref}'] input[type=checkbox]").check()
    page.locator("#bulk-form select[name=action]").select_option("status:answered")
    page.locator("#bulk-form .bulk button[type=submit]").click()
    page.wait_for_url(f"{base_url}/bulk")
    expect(page.locator("#confirm h1")).to_have_text(TEXT[lang]["bulk"])
    expect(page.locator("#confirm")).to_contain_text(", ".join(questions))
    assert {statuses(factory)[r] for r in questions} == {"new"}
    page.locator("#confirm-yes").click()
    page.wait_for_url(base_url + "/")
    expect(page.locator("#flash")).to_have_text(TEXT[lang]["changed"])
    assert {statuses(factory)[r] for r in questions} == {"answered"}
    page.context.close()


def test_a_persons_time_zone_changes_the_times_shown(browser, base_url, lang):  # noqa: F811
    page = open_page(browser, base_url, lang)
    page.goto(f"{base_url}/items/CI-000001")  # received 30 h before 2026-11-04 12:00 UTC
    expect(page.locator("#facts")).to_contain_text("2026-11-03 06:00 UTC")
    page.locator("#who").click()
    page.wait_for_url(f"{base_url}/account")
    page.locator("#time-zone-choice").select_option("Asia/Shanghai")
    page.locator("#time-zone-form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/account")
    expect(page.locator("#flash")).to_contain_text("Asia/Shanghai")
    page.goto(f"{base_url}/items/CI-000001")
    expect(page.locator("#facts")).to_contain_text("2026-11-03 14:00 Asia/Shanghai")
    expect(page.locator("#facts")).not_to_contain_text("UTC")
    page.goto(base_url + "/")
    expect(page.locator("tr[data-ref='CI-000002'] .due")).to_have_attribute(
        "title", ("Due " if lang == "en" else "到期时间 ") + "2026-11-04 21:20 Asia/Shanghai")
    page.context.close()


def test_a_canned_reply_is_inserted_and_edited_before_sending(browser, base_url, lang, factory):  # noqa: F811
    with factory.begin() as s:
        s.add(ReplyTemplate(name="Looking into it" if lang == "en" else "正在处理", category="issue",
                            lang=lang,
                            body="Dear {name}, we are looking into {ref}." if lang == "en"
                            else "{name}您好，我们正在处理 {ref}。"))
        s.scalar(select(Item).where(Item.ref == "CI-000001")).lang = lang
    page = open_page(browser, base_url, lang)
    page.goto(f"{base_url}/items/CI-000001")
    page.locator("#template-pick button[type=submit]").click()
    page.wait_for_url(f"{base_url}/items/CI-000001?template=*")
    expected = ("Dear Anna Lee, we are looking into CI-000001." if lang == "en"
                else "Anna Lee您好，我们正在处理 CI-000001。")
    expect(page.locator("#reply-text")).to_have_value(expected)
    page.locator("#reply-text").fill(expected + " " + ("It is the export." if lang == "en"
                                                       else "是导出的问题。"))
    page.locator("#reply-form button[type=submit]").click()
    page.wait_for_url(f"{base_url}/items/CI-000001")
    expect(page.locator("#flash")).to_have_text("Reply sent to the client." if lang == "en"
                                                else "已向客户发送回复。")
    with factory() as s:
        sent = s.scalar(select(OutboxMail.raw).where(OutboxMail.kind == "reply"))
    assert expected in message_from_bytes(sent, policy=default).get_body(("plain",)).get_content()
    page.context.close()
