"""The review app in Simplified Chinese and English: a complete catalog, the browser's language by default,
the user's saved choice over it, no English left on Chinese pages, and a JSON API that stays English."""
from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Attachment, ChangeAssessment, Contact, Event, Message, Organization, User
from review import pages
from review.app import create_app
from review.i18n import browser_language
from tests.unit.test_review_app import T0, add_item
from tests.web import csrf_from, sign_in, signed_in

REVIEW = Path(__file__).resolve().parents[2] / "review"
REPORTS = REVIEW.parent / "reports"
CATALOG = REVIEW / "locales" / "zh" / "LC_MESSAGES" / "messages.po"
TEMPLATE = REVIEW / "locales" / "messages.pot"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
ZH = {"accept-language": "zh-CN,zh;q=0.9"}
EN = {"accept-language": "en-US"}
EMAIL = "lead@example.com"


# --- the catalog ---------------------------------------------------------------------------------------

def extracted() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """Every message the app marks for translation, as (context, msgid) -> (msgid[, plural]), as pybabel finds
    them."""
    with (REVIEW / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = {**DEFAULT_KEYWORDS, "_": None, "N_": None}
    found: dict[tuple[str | None, str], tuple[str, ...]] = {}
    for where in (REVIEW, REPORTS):  # the app embeds the SLA report, so its text is in the same catalog
        for _file, _line, message, _comments, context in extract_from_dir(str(where), method_map, options_map,
                                                                             keywords=keywords):
            ids = (message,) if isinstance(message, str) else tuple(message)
            found[(context, ids[0])] = ids
    return found


def catalog():  # type: ignore[no-untyped-def]
    with CATALOG.open("rb") as f:
        return read_po(f, locale="zh")


def test_every_message_has_a_chinese_translation_with_the_same_placeholders():
    messages = extracted()
    assert len(messages) >= 150, f"only {len(messages)} messages extracted: are the templates marked?"
    zh = catalog()
    assert zh.num_plurals == 1
    problems = []
    for (context, msgid), ids in sorted(messages.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        entry = zh.get(msgid, context)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        if isinstance(entry.id, tuple) != (len(ids) > 1):
            problems.append(f"plural form differs: {msgid!r}")
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for text in strings:
            if not text or not text.strip():
                problems.append(f"untranslated: {msgid!r}")
            elif set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {msgid!r} -> {text!r}")
            elif "%" in PLACEHOLDER.sub("", text):
                problems.append(f"a stray % (templates format every message): {text!r}")
            elif text == msgid and re.search(r"[A-Za-z]{3}", text):
                problems.append(f"left in English: {msgid!r}")
    assert not problems, "\n".join(problems)


def test_the_catalogs_hold_exactly_what_the_app_uses():
    """No stale entries in the Chinese catalog, and the .pot is the current extraction (see
    review/babel.cfg)."""
    used = set(extracted())
    in_po = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog() if m.id}
    assert in_po == used, (f"stale: {sorted(in_po - used, key=str)[:5]}, missing: "
                           f"{sorted(used - in_po, key=str)[:5]}")
    with TEMPLATE.open("rb") as f:
        in_pot = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(f) if m.id}
    assert in_pot == used, ("review/locales/messages.pot is out of date: run the pybabel commands in "
                            "review/babel.cfg")


@pytest.mark.parametrize(("header", "language"), [
    ("zh-CN,zh;q=0.9", "zh"), ("zh-TW", "zh"), ("zh", "zh"), ("en-US,en;q=0.9", "en"), ("", "en"),
    ("fr-FR,fr;q=0.9", "en"), ("fr;q=0.9,zh;q=0.8,en;q=0.5", "zh"), ("en;q=0.5,zh-CN;q=0.9", "zh"),
    ("zh;q=0", "en"), ("*", "en"), ("zh;q=abc,en", "en"),
])
def test_the_browser_language_is_negotiated(header, language):
    assert browser_language(header) == language


# --- pages over HTTP -------------------------------------------------------------------------------------

@pytest.fixture
def data(factory):
    """An organization with a contact, an issue with a full history, a change request with its assessment."""
    with factory.begin() as s:
        acme = Organization(name="Acme Corporation", domain="acme.example")
        s.add(acme)
        s.flush()
        s.add(Contact(email="anna@acme.example", name="Anna Lee", organization_id=acme.id))
        s.flush()
        issue = add_item(s, 1, subject="Export to Excel fails on large reports", needs_review=True,
                         confidence=0.48, body="The export button shows error 500 when the report is big.")
        issue.follow_up = True
        issue.acknowledged_at = T0 + timedelta(minutes=1)
        message = s.scalar(select(Message).where(Message.item_id == issue.id))
        message.attachments.append(Attachment(filename="error screenshot.png", content_type="image/png",
                                              size=48_213, sha256="0" * 64))
        s.add(Message(item_id=issue.id, direction="in", message_id="<auto1@acme.example>",
                      sender="anna@acme.example", subject="Out of office until Monday",
                      received_at=T0 + timedelta(hours=1),
                      body_text="I am away until Monday next week.", screening="auto_submitted",
                      status="ignored",
                      raw=b"raw"))
        when = T0 + timedelta(minutes=5)
        for kind, data, actor in [
            ("acknowledged", {"to": "anna@acme.example"}, "system"),
            ("ack_suppressed", {"reason": "rate_limit", "to": "anna@acme.example", "limit_per_hour": 5},
             "system"),
            ("auto_reply_received", {"from": "anna@acme.example", "screening": "auto_submitted"}, "system"),
            ("message_received", {"from": "anna@acme.example"}, "system"),
            ("corrected", {"from": "question", "to": "issue"}, EMAIL),
            ("confirmed", {"category": "issue"}, EMAIL),
            ("status_changed", {"from": "new", "to": "in_progress"}, EMAIL),
            ("assigned", {"to": EMAIL}, EMAIL),
            ("assigned", {"to": ""}, EMAIL),
            ("replied", {"to": "anna@acme.example"}, EMAIL),
            ("note", {"text": "Checked with the reporting team today"}, EMAIL),
            ("follow_up", {"on": True}, EMAIL),
            ("delivery_failed", {"to": "anna@acme.example", "error": "bounced (5.1.1)"}, "system"),
        ]:
            s.add(Event(item_id=issue.id, kind=kind, actor=actor, created_at=when, data=data))
        change = add_item(s, 2, subject="Please add single sign-on", category="change_request",
                          status="awaiting_approval", received=T0 + timedelta(hours=3))
        s.add(ChangeAssessment(item_id=change.id, scope="SAML single sign-on for the portal",
                               cost="8 person-days",
                               schedule="+1 week", assessed_by=EMAIL, sent_at=T0 + timedelta(hours=4)))
        for kind, data in [("assessed", {"cost": "8 person-days", "schedule": "+1 week"}),
                           ("assessment_sent", {"to": "anna@acme.example"}),
                           ("approved", {"excerpt": "Yes, please go ahead"})]:
            s.add(Event(item_id=change.id, kind=kind, actor=EMAIL, created_at=T0 + timedelta(hours=4),
                        data=data))
        add_item(s, 3, subject="如何导出报表？", category="question", received=T0 + timedelta(hours=2),
                 email="li@example.cn", name="李雷")


@pytest.fixture
def app(factory, data):  # type: ignore[no-untyped-def]
    return create_app(factory)


def browser(app, headers: dict[str, str], factory=None, email: str = EMAIL):  # type: ignore[no-untyped-def]
    """A TestClient sending HEADERS (its Accept-Language), signed in as an admin when FACTORY is given."""
    client = TestClient(app, headers=headers)
    if factory is not None:
        signed_in(client, factory, email)
    return client


def test_the_login_page_follows_the_browser(app):
    zh = browser(app, ZH).get("/login")
    assert zh.status_code == 200
    assert '<html lang="zh-CN">' in zh.text
    for text in ("<title>登录 · 客户来信受理</title>", "<h1>登录</h1>", "邮箱", "密码", ">登录</button>"):
        assert text in zh.text
    assert "Sign in" not in zh.text and "Password" not in zh.text
    en = browser(app, EN).get("/login")
    assert '<html lang="en">' in en.text and "<h1>Sign in</h1>" in en.text and "Password" in en.text
    assert "登录" not in en.text


def test_failed_sign_in_is_explained_in_the_browsers_language(app, factory):
    browser(app, EN, factory)  # makes the account
    zh = browser(app, ZH)
    r = sign_in(zh, EMAIL, "wrong password")
    assert r.status_code == 401 and "邮箱或密码不正确。" in r.text and "not right" not in r.text


def test_signed_in_pages_are_in_chinese_for_a_chinese_browser(app, factory):
    client = browser(app, ZH, factory)
    expected = {
        "/": ["工单队列", "待复核", "退出登录", "问题", "变更请求", "咨询", "负责人", "置信度", "筛选",
              "第 1–3 个，共 3 个工单", "1 个待复核", "最新优先", "仅看待复核", "设置状态：待审批", "需跟进",
              "如何导出报表？", "Export to Excel fails on large reports"],
        "/items/CI-000001": ["返回工单队列", "详情", "编号", "接收时间", "回执时间", "分类器评分",
                             "处理此工单",
                             "发送回复", "内部备注", "处理记录", "操作人", "系统", "自动分类", "收到自动回复",
                             "分类由“咨询”改为“问题”", "状态由“新建”改为“处理中”",
                             "已向 anna@acme.example 发送回执",
                             "未发送回执：anna@acme.example 已达到每小时 5 封回执的上限",
                             "筛查结果：自动发送。",
                             "已忽略。", "附件", "47.1 KB", "取消跟进标记",
                             "问题（置信度 48%，模型 spacy-1.0），已标记为待复核"],
        "/items/CI-000002": ["影响评估", "范围", "成本", "工期",
                             "已评估影响：成本 8 person-days，工期 +1 week",
                             "已将评估发送给 anna@acme.example 审批", "变更已批准：“Yes, please go ahead”",
                             "已于 <time", "发送给客户，等待客户答复。", "待审批"],
        "/organizations": ["客户", "组织", "域名", "未结", "最新工单（UTC）", "1 个组织",
                           "无所属组织的联系人"],
        "/organizations/1": ["全部客户", "联系人", "1 位联系人", "工单"],
        "/people": ["人员", "姓名", "角色", "管理员", "登录权限", "已启用", "新建账号："],
        "/contacts/1": ["邮箱", "组织", "邮件", "方向", "收到"],
    }
    for path, texts in expected.items():
        r = client.get(path)
        assert r.status_code == 200, path
        assert '<html lang="zh-CN">' in r.text, path
        for text in texts:
            assert text in r.text, (path, text)
        for english in ("Sign out", "Needs review", "Back to the queue", "Reference", "Category changed"):
            assert english not in r.text, (path, english)
    person = client.get("/people/1")
    assert "管理员：查看和更改所有工单，管理人员" in person.text and "保存" in person.text


def test_pages_are_in_english_for_an_english_browser(app, factory):
    client = browser(app, EN, factory)
    for path, texts in {
        "/": ["Queue", "Needs review", "Sign out", "Showing 1&ndash;3 of 3 items", "1 needs review",
              "Change request"],
        "/items/CI-000001": ["Back to the queue", "Classifier scores", "History",
                             "Category changed from Question to Issue",
                             "Automatic reply from anna@acme.example (auto_submitted)",
                             "Screening: auto_submitted."],
        "/organizations": ["Clients", "Latest item (UTC)", "1 organization"],
        "/people": ["People", "Sign-in", "active"],
    }.items():
        r = client.get(path)
        assert r.status_code == 200 and '<html lang="en">' in r.text, path
        for text in texts:
            assert text in r.text, (path, text)
        assert not re.search(r"[\u4e00-\u9fff]", r.text.replace("中文", "").replace("如何导出报表？", "")
                             .replace("李雷", "")), path


def test_error_pages_are_translated(app, factory, monkeypatch):
    client = browser(app, ZH, factory)
    r = client.get("/no/such/page")
    assert r.status_code == 404 and '<html lang="zh-CN">' in r.text
    assert "未找到" in r.text and "此地址没有对应的页面。" in r.text and "返回工单队列" in r.text
    assert "Not found" not in r.text and "There is no page" not in r.text
    r = client.get("/items/CI-999999")
    assert r.status_code == 404 and "不存在编号为 CI-999999 的工单。" in r.text
    r = client.get("/?page=abc")
    assert (r.status_code == 400 and "请求无效" in r.text
            and "page：应为 1 到 1000000 之间的整数，而不是 &#39;abc&#39;" in r.text)
    r = client.get("/?since=2026-12-01&until=2026-11-01")
    assert "日期：起始日期晚于截止日期" in r.text
    r = client.get("/organizations/999")
    assert r.status_code == 404 and "不存在编号为 999 的组织。" in r.text and "返回" in r.text
    r = client.post("/bulk", data={"action": "status:closed"})
    assert r.status_code == 403 and "此表单已过期，或并非从本站提交。" in r.text
    r = client.post("/items/CI-000001/note", data={"csrf_token": client.csrf, "text": "  "})
    assert r.status_code == 400 and "备注：请先填写内容" in r.text
    r = client.post("/items/CI-000003/status", data={"csrf_token": client.csrf, "status": "implemented"})
    assert r.status_code == 400
    assert "状态：处于“新建”状态的咨询工单只能改为已答复、已关闭，不能改为“已实施”" in r.text
    r = client.put("/")
    assert r.status_code == 405 and "此地址不接受这种请求。" in r.text

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    monkeypatch.setattr(pages, "queue_page", broken)
    with TestClient(app, headers=ZH, raise_server_exceptions=False) as quiet:
        quiet.cookies = client.cookies
        r = quiet.get("/")
    assert r.status_code == 500 and "出错了" in r.text and "页面无法显示，错误已记录。" in r.text
    assert '<html lang="zh-CN">' in r.text


def test_english_error_messages_are_unchanged(app, factory):
    client = browser(app, EN, factory)
    r = client.post("/items/CI-000003/status", data={"csrf_token": client.csrf, "status": "implemented"})
    assert (r.status_code == 400
            and "status: question items in &#39;new&#39; can move to answered, closed" in r.text)
    r = client.get("/?page=abc")
    assert "page: expected a whole number from 1 to 1000000, not &#39;abc&#39;" in r.text


def test_bulk_summary_is_in_the_users_language(app, factory):
    client = browser(app, ZH, factory)
    r = client.post("/bulk", data={"csrf_token": client.csrf, "back": "/", "action": "status:answered",
                                   "ref": ["CI-000003", "CI-000001", "CI-000404"]}, follow_redirects=True)
    assert "已更改 1 个工单（共 3 个）。" in r.text
    assert "未更改：CI-000001：状态：处于“新建”状态的问题工单只能改为" in r.text
    assert "CI-000404：工单不存在" in r.text


def test_the_json_api_stays_english_for_a_chinese_user(app, factory):
    client = browser(app, ZH, factory)
    client.post("/language", data={"csrf_token": client.csrf, "language": "zh"})
    item = client.get("/api/items/CI-000001").json()
    summaries = [e["summary"] for e in item["events"]]
    assert "Category changed from Question to Issue" in summaries
    assert "Automatic reply from anna@acme.example (auto_submitted)" in summaries
    r = client.get("/api/items?page=abc")
    assert r.status_code == 400 and r.json()["error"].startswith("page: expected a whole number")
    r = client.post("/api/items/CI-000003/status", json={"status": "implemented"})
    assert r.status_code == 400 and r.json()["error"].startswith("status: question items in 'new' can move "
                                                                 "to")
    assert not re.search(r"[\u4e00-\u9fff]", r.text)


# --- the user's choice ------------------------------------------------------------------------------------

def saved_language(factory, email: str = EMAIL) -> str:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(User.language).where(User.email == email))


def test_the_saved_choice_beats_the_browser_and_outlives_the_session(app, factory):
    client = browser(app, EN, factory)
    assert "Sign out" in client.get("/").text
    switch = client.get("/organizations").text
    assert 'value="zh"' in switch and ">中文</button>" in switch and 'value="en"' not in switch
    r = client.post("/language", data={"csrf_token": client.csrf, "language": "zh"},
                    headers={"referer": "http://testserver/organizations?page=1"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/organizations?page=1"
    assert saved_language(factory) == "zh"
    page = client.get("/").text
    assert '<html lang="zh-CN">' in page and "退出登录" in page and "Sign out" not in page
    assert 'value="en"' in page and ">English</button>" in page

    fresh = TestClient(app, headers=EN)  # another browser, English, same person
    assert "Sign in" in fresh.get("/login").text  # not signed in yet: the browser decides
    assert sign_in(fresh, EMAIL).status_code == 303
    assert "退出登录" in fresh.get("/").text

    r = fresh.post("/language", data={"csrf_token": csrf_from(fresh.get("/").text), "language": "en"},
                   headers={"referer": "http://testserver/items/CI-000001"}, follow_redirects=False)
    assert r.headers["location"] == "/items/CI-000001"
    assert saved_language(factory) == "en"
    chinese_browser = client.get("/", headers=ZH).text
    assert '<html lang="en">' in chinese_browser and "Sign out" in chinese_browser


def test_the_switch_refuses_unknown_languages_and_never_leaves_the_site(app, factory):
    client = browser(app, ZH, factory)
    r = client.post("/language", data={"csrf_token": client.csrf, "language": "fr"}, follow_redirects=False)
    assert r.status_code == 400 and "语言：必须是 en, zh 之一" in r.text
    assert saved_language(factory) == ""
    r = client.post("/language", data={"language": "zh"}, follow_redirects=False)
    assert r.status_code == 403 and saved_language(factory) == ""
    for referer in ("https://evil.example/phish", "http://testserver//evil.example/", "javascript:alert(1)",
                    "http://testserver\\@evil.example/", "", "/relative"):
        r = client.post("/language", data={"csrf_token": client.csrf, "language": "en"},
                        headers={"referer": referer} if referer else {}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", referer
        assert not r.headers["location"].startswith("//")
    anonymous = TestClient(app, headers=ZH)
    r = anonymous.post("/language", data={"language": "en"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


# --- no English left
# -----------------------------------------------------------------------------------------

class _Text(HTMLParser):
    """The visible text of a page and the attributes people see or hear, less message bodies and code."""

    SKIP = {"script", "style", "pre", "code", "textarea"}
    SHOWN = ("aria-label", "placeholder", "title", "alt", "data-label")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []

    def _skipping(self) -> bool:
        return any(skip for _tag, skip in self.stack)

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        classes = (dict(attrs).get("class") or "").split()
        skip = tag in self.SKIP or "body" in classes  # message bodies: the client's words
        if tag not in ("input", "meta", "link", "br", "wbr", "img", "hr"):
            self.stack.append((tag, skip))
        if not (skip or self._skipping()):
            self.parts.extend(v for k, v in attrs if k in self.SHOWN and v)

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if not self._skipping() and data.strip():
            self.parts.append(data.strip())


def visible_texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


# What the fixture's data says in English (subjects, names, notes, costs...): allowed on Chinese pages.
DATA = ["Export to Excel fails on large reports", "Please add single sign-on", "Login page broken",
        "Out of office until Monday", "Anna Lee", "Lead", "Acme Corporation",
        "SAML single sign-on for the portal",
        "Checked with the reporting team today", "Yes, please go ahead", "8 person-days", "+1 week",
        "error screenshot.png", "bounced (5.1.1)", "image/png", "spacy-1.0", "English"]
ENGLISH_RUN = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[\s,.:;!?()/]+[A-Za-z][A-Za-z'’-]*){2,}")
EMAIL_OR_REF = re.compile(r"[\w.+-]+@[\w.-]+|CI-\d+|\d{4}-\d{2}-\d{2}( \d{2}:\d{2})?( UTC)?")


@pytest.mark.parametrize("path", ["/", "/?review=1", "/items/CI-000001", "/items/CI-000002",
                                  "/items/CI-000003"])
def test_chinese_pages_have_no_english_left_but_data(app, factory, path):
    client = browser(app, ZH, factory)
    html = client.get(path).text
    ui_english = {m.id for m in catalog() if isinstance(m.id, str) and m.id and not PLACEHOLDER.search(m.id)}
    leftovers = []
    for text in visible_texts(html):
        if text in ui_english:
            leftovers.append(text)  # a whole label left untranslated, however short
        rest = EMAIL_OR_REF.sub(" ", text)
        for data in DATA:
            rest = rest.replace(data, " ")
        leftovers.extend(m.group(0) for m in ENGLISH_RUN.finditer(rest))
    assert not leftovers, f"English on the Chinese page {path}: {leftovers}"
    assert "Sign out" not in html and "Needs review" not in html
