"""XSS in a real browser: client-controlled fields full of payloads, every page visited in Chromium, nothing
may run."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page
from sqlalchemy import select

import tests.e2e.test_review_browser as rb
from db.models import (
    CATEGORIES,
    Attachment,
    ChangeAssessment,
    Contact,
    Event,
    Item,
    Mailbox,
    Message,
    Organization,
)
from db.status_links import new_link
from db.types import utcnow
from responders.client_mail import ClientMailSettings, schedule_survey
from responders.links import SurveyLinks
from review.app import create_app
from review.settings import WebSettings
from tests.e2e.xss_payloads import PAYLOADS
from tests.web import add_user, browser_sign_in, serving

pytestmark = pytest.mark.e2e

browser = rb.browser  # the module-scoped Chromium, shared with the other browser tests
base_url = rb.base_url  # uvicorn on 127.0.0.1, serving the database our `seeded` below fills

LEAD = rb.LEAD
SUFFIX = " · Client intake"
SETTLE_MS = 150  # time for timers, autofocus, meta refresh and late image errors to happen after "load"
N = len(PAYLOADS)
ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")

# Before any page script: print() leaves a trace, CSP violations are collected.
INIT_SCRIPT = """
window.__xssPrints = 0;
window.print = function () { window.__xssPrints += 1; };
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || '')), true);
"""

# What the rendered page holds, read from the live DOM.
STATE_JS = """
() => {
  const main = document.querySelector('main');
  const all = [...document.querySelectorAll('*')];
  const onAttrs = all.flatMap(e => [...e.attributes].filter(a => /^on/i.test(a.name))
    .map(a => e.tagName.toLowerCase() + '[' + a.name + ']'));
  const urlAttrs = ['href', 'src', 'action', 'formaction', 'data', 'poster', 'background', 'xlink:href',
                    'srcdoc'];
  const badUrls = [];
  for (const e of all) for (const name of urlAttrs) {
    const value = e.getAttribute(name);
    if (value === null) continue;
    if (name === 'srcdoc') { badUrls.push(e.tagName + ' srcdoc'); continue; }
    let scheme = '';
    try { scheme = new URL(value, document.baseURI).protocol; } catch (err) { continue; }
    const inlineImage = e.tagName === 'IMG' && /^data:image\\//i.test(value.trim());
    if (['javascript:', 'vbscript:', 'data:'].includes(scheme) && !inlineImage) {
      badUrls.push(e.tagName + ' ' + name);
    }
  }
  const q = sel => main ? [...main.querySelectorAll(sel)].map(e => e.outerHTML.slice(0, 100)) : [];
  return {
    scripts: document.scripts.length,
    mainScripts: main ? main.querySelectorAll('script').length : 0,
    onAttrs, badUrls,
    embedded: q('iframe, frame, object, embed, applet, base, meta, link, style, svg, math, ' +
                'form[action^="javascript" i], .message form, .message input, .message button, ' +
                '.message textarea'),
    styleAttrs: q('[style]'),
    xss: window.__xss === undefined ? null : String(window.__xss),
    prints: window.__xssPrints, csp: window.__csp, title: document.title, url: location.href,
    baseURI: document.baseURI, contentType: document.contentType,
  };
}
"""


@dataclass
class Seen:
    """What the listeners caught since the last check."""

    dialogs: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)

    def take(self) -> dict[str, list[str]]:
        out = {"dialogs": self.dialogs[:], "popups": self.popups[:], "foreign requests": self.foreign[:]}
        for caught in (self.dialogs, self.popups, self.foreign):
            caught.clear()
        return out


def as_text(value: str) -> str:
    """VALUE as the HTML parser leaves it in ordinary text: newlines normalized, NUL dropped."""
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")


def as_title(value: str) -> str:
    """VALUE as document.title reports it: NUL replaced, ASCII whitespace collapsed and trimmed."""
    return ASCII_SPACE.sub(" ", value.replace("\x00", "\ufffd")).strip(" ")


def problems(state: dict[str, Any], seen: Seen, url: str | None, title: str | None,
             page_checks: bool = True) -> list[str]:
    """Everything in STATE and SEEN that shows a payload ran or could run; empty when the page is clean."""
    found = [f"{k}: {v}" for k, v in seen.take().items() if v]
    if state["xss"] is not None:
        found.append(f"window.__xss = {state['xss']!r}")
    if state["prints"]:
        found.append(f"print() called {state['prints']} times")
    for key in ("onAttrs", "badUrls", "csp") + (("embedded", "styleAttrs") if page_checks else ()):
        if state[key]:
            found.append(f"{key}: {state[key][:5]}")
    if state["scripts"] or state["mainScripts"]:
        found.append(f"{state['scripts']} script elements")
    if url is not None and state["url"] != url:
        found.append(f"navigated to {state['url']!r}")
    if url is not None and state["baseURI"] != state["url"]:
        found.append(f"base URI changed to {state['baseURI']!r}")
    if title is not None and state["title"] != as_title(title):
        found.append(f"title {state['title']!r}, expected {as_title(title)!r}")
    return found


def visit(page: Page, seen: Seen, url: str, title: str | None, page_checks: bool = True) -> list[str]:
    """Loads URL, opens every <details>, lets it settle, and returns what problems() finds there."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status < 500, f"{url}: {response and response.status}"
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    page.wait_for_timeout(SETTLE_MS)
    return problems(page.evaluate(STATE_JS), seen, url, title, page_checks)


def _add_item(s, n: int, subject: str, contact: Contact, text: str, html: str, sender: str, filename: str,
              follow_up_html: str, note: str) -> Item:
    category = CATEGORIES[n % len(CATEGORIES)]
    item = Item(ref=f"CI-{n:06d}", subject=subject, category=category, confidence=0.5 + (n % 5) / 10,
                needs_review=n % 3 == 0, status="new", contact=contact, model_version="intake-spacy-2026.11",
                received_at=rb.T0 + timedelta(minutes=n))
    s.add(item)
    s.flush()
    first = Message(item_id=item.id, direction="in", message_id=f"<x{n}@client.example>",
                    sender=contact.email,
                    sender_name=sender, recipients=f"support@example.com, {sender}", subject=subject,
                    received_at=item.received_at, body_text=text, new_text=text, body_html=html, raw=b"raw")
    first.attachments.append(Attachment(filename=filename, content_type=f"text/html; name={filename}", size=n,
                                        sha256=f"{n:064d}"))
    s.add(first)
    s.add(Message(item_id=item.id, direction="in", message_id=f"<y{n}@client.example>", sender=contact.email,
                  sender_name=sender, subject=subject, received_at=item.received_at + timedelta(seconds=30),
                  body_text="", new_text="", body_html=follow_up_html, status="quarantined", error=note,
                  raw=b"r"))
    s.add(Event(item_id=item.id, kind="classified", created_at=item.received_at,
                data={"label": category, "confidence": item.confidence,
                      "scores": {category: item.confidence}}))
    s.add(Event(item_id=item.id, kind="note", actor=LEAD, created_at=item.received_at, data={"text": note}))
    s.add(Event(item_id=item.id, kind="delivery_failed", created_at=item.received_at,
                data={"to": contact.email, "error": note}))
    if category == "change_request":
        s.add(ChangeAssessment(item_id=item.id, scope=note, cost=note[:200], schedule=note[:200],
                               assessed_by=LEAD))
    return item


@pytest.fixture
def seeded(factory) -> dict[str, Any]:
    """Two items per payload: one with it in every client-controlled field, one with neighbours mixed in."""
    subjects: dict[str, str] = {}
    with factory.begin() as s:
        for i, p in enumerate(PAYLOADS):
            org = Organization(name=p, domain=f"client{i}.example")
            whole = Contact(email=f"a{i}@client{i}.example", name=p, organization=org)
            mixed = Contact(email=f"b{i}@client{i}.example", name=PAYLOADS[(i + 1) % N], organization=org)
            a = _add_item(s, 2 * i + 1, p, whole, p, p, p, p, p, p)
            b = _add_item(s, 2 * i + 2, p, mixed, *(PAYLOADS[(i + k) % N] for k in range(2, 8)))
            subjects.update({a.ref: a.subject, b.ref: b.subject})
    domains = tuple(f"client{i}.example" for i in range(N))
    for j in range(0, N, 10):  # people named like payloads: assignee lists, filters, the Assignee fact
        add_user(factory, f"pm{j}@example.com", "pm", orgs=domains, name=PAYLOADS[j])
    token = add_user(factory, LEAD, "admin", name="Lin Lead")
    return {"subjects": subjects, "token": token}


@pytest.fixture
def watched(browser, base_url) -> Iterator[tuple[Page, Seen, BrowserContext]]:
    """A signed-in page whose dialogs, popups and requests off 127.0.0.1 are recorded (the latter also
    refused)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=True)
    context.add_init_script(INIT_SCRIPT)
    seen = Seen()

    def on_request(request) -> None:
        if urlsplit(request.url).hostname != "127.0.0.1" and not request.url.startswith(("data:", "about:")):
            seen.foreign.append(request.url)

    def route(r) -> None:
        if urlsplit(r.request.url).hostname == "127.0.0.1":
            r.continue_()
        else:
            r.abort()

    def on_dialog(dialog) -> None:
        seen.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    context.on("request", on_request)
    context.route("**/*", route)
    page = context.new_page()
    page.on("dialog", on_dialog)
    page.on("popup", lambda p: seen.popups.append(p.url))
    page.set_default_timeout(15_000)
    browser_sign_in(page, base_url, LEAD)
    seen.take()
    yield page, seen, context
    context.close()


def test_the_harness_sees_a_payload_that_runs(watched):
    """Positive control: the same listeners and checks catch script that does run (no CSP on about:blank)."""
    page, seen, _ = watched
    page.goto("about:blank")  # set_content on the app's page would keep its CSP, and nothing would run
    page.set_content("<title>control</title><main><img src=x onerror=\"alert('XSS-control')\">"
                     "<div onclick=\"x()\" style=\"color:red\"></div><iframe></iframe>"
                     "<img src=\"https://xss.example/control.png\"><a href=\"javascript:void 0\">j</a>"
                     "<script>window.__xss = 'XSS-control'; print(); window.open('about:blank');</script>"
                     "<script>setTimeout(() => { document.title = 'XSS-control'; }, 0)</script></main>")
    page.wait_for_timeout(SETTLE_MS * 2)
    state = page.evaluate(STATE_JS)
    dialogs = seen.dialogs[:]
    found = problems(state, seen, None, "control")
    assert dialogs == ["alert: XSS-control"]
    for expected in ("dialogs:", "popups:", "foreign requests: ['https://xss.example/control.png']",
                     "window.__xss = 'XSS-control'", "print() called 1 times", "onAttrs:", "badUrls:",
                     "embedded:", "styleAttrs:", "2 script elements", "title 'XSS-control'"):
        assert any(f.startswith(expected) for f in found), (expected, found)


def test_every_queue_page_is_inert(watched, base_url, seeded):
    page, seen, _ = watched
    refs: set[str] = set()
    for start, title in (("/", "Queue"), ("/?review=1", "Needs review")):
        url: str | None = base_url + start
        while url:
            assert visit(page, seen, url, title + SUFFIX) == [], url
            refs.update(page.locator("#queue tbody tr").evaluate_all("rows => rows.map(r => r.dataset.ref)"))
            nxt = page.locator("a[rel=next]")
            url = base_url + nxt.get_attribute("href") if nxt.count() else None
    assert refs == set(seeded["subjects"])


def test_every_item_page_is_inert_and_shows_the_payloads_as_text(watched, base_url, seeded):
    page, seen, _ = watched
    failures = {}
    for ref, subject in seeded["subjects"].items():
        found = visit(page, seen, f"{base_url}/items/{ref}", f"{ref} {subject}{SUFFIX}")
        if page.locator("#item-subject").text_content() != as_text(subject):
            found.append("the subject is not shown as the literal text")
        if page.locator(".body.html").count() == 0:
            found.append("no HTML body was rendered")
        if found:
            failures[ref] = found
    assert failures == {}


def test_payloads_reflected_in_addresses_are_inert(watched, base_url, seeded):
    page, seen, _ = watched
    failures = {}
    for n, p in enumerate(PAYLOADS, start=1):
        for path, title in ((f"/?category={quote(p, safe='')}", "Bad request"),
                            (f"/?page={quote(p, safe='')}", "Bad request"),
                            (f"/items/{quote(p, safe='')}", "Not found")):
            found = visit(page, seen, base_url + path, title + SUFFIX)
            if found:
                failures[f"{n} {path}"] = found
    assert failures == {}


def test_the_json_api_is_served_as_json_and_inert(watched, base_url, seeded):
    page, seen, _ = watched
    page.set_extra_http_headers({"authorization": f"Bearer {seeded['token']}"})
    urls = [f"{base_url}/api/items?page={n}" for n in (1, 2, 3)]
    urls += [f"{base_url}/api/items/{ref}" for ref in seeded["subjects"]]
    urls += [f"{base_url}/api/items/{quote(p, safe='')}" for p in PAYLOADS]
    failures = {}
    for url in urls:
        found = visit(page, seen, url, None, page_checks=False)
        if page.evaluate("document.contentType") != "application/json":
            found.append(f"served as {page.evaluate('document.contentType')}")
        if found:
            failures[url] = found
    assert failures == {}


def test_archive_and_people_pages_are_inert(watched, base_url, seeded):
    """Organization, contact and user names are client- or admin-controlled text on the archive and people
    pages."""
    page, seen, _ = watched
    failures = {}

    def check(path: str, page_checks: bool = True) -> None:
        found = visit(page, seen, base_url + path, None, page_checks)
        if found:
            failures[path] = found

    for listing, link in (("/organizations", "#organizations tbody a"), ("/people", "#people tbody a")):
        check(listing)
        paths = page.locator(link).evaluate_all("links => links.map(a => a.getAttribute('href'))")
        assert len(paths) >= (N if listing == "/organizations" else 2), listing
        for path in paths:
            check(path)
            if path.startswith("/organizations/"):  # the contact named exactly like the payload
                whole = page.locator("a[href^='/contacts/']").first.get_attribute("href")
                check(whole)
    # The SLA report shows organization and people names in tables, chart labels and link titles.
    days = f"since={(rb.T0 - timedelta(days=60)).date()}&until={(rb.T0 + timedelta(days=60)).date()}"
    for by in ("organization", "assignee"):
        check(f"/reports/sla?{days}&by={by}", page_checks=False)  # its own charts are <svg> and a <link>
        assert page.locator("main svg").count() == page.locator("main svg.sla-chart").count() == 3
        assert page.locator("link").evaluate_all("ls => ls.map(l => l.getAttribute('href'))") == [
            "/static/style.css", "/static/reports/sla.css"]
    assert failures == {}


def test_the_quarantine_page_is_inert_and_shows_the_payloads_as_text(watched, base_url, seeded, factory):
    """Quarantined messages carry whatever the sender wrote: subject, sender and the parser's reason."""
    with factory.begin() as s:
        box = Mailbox(name="support", uidvalidity=1, last_uid=N)
        s.add(box)
        s.flush()
        for uid, p in enumerate(PAYLOADS, start=1):
            s.add(Message(direction="in", mailbox_id=box.id, uidvalidity=1, uid=uid,
                          message_id=f"<q{uid}@x.example>",
                          sender=p, subject=p, error=p, raw=p.encode(), size=len(p.encode()),
                          status="quarantined" if uid % 2 else "retry",
                          received_at=rb.T0 + timedelta(days=30, minutes=uid)))
    page, seen, _ = watched
    failures: dict[str, list[str]] = {}
    shown: dict[str, dict[str, str]] = {}
    url: str | None = base_url + "/quarantine"
    while url:
        found = visit(page, seen, url, "Quarantine" + SUFFIX)
        if found:
            failures[url] = found
        for row in page.locator("#quarantine tbody tr").evaluate_all(
                "rows => rows.map(r => Object.fromEntries(['position', 'sender', 'subject', 'reason']"
                ".map(c => [c, r.querySelector('td.' + c).textContent])))"):
            shown[row["position"]] = row
        nxt = page.locator("a[rel=next]")
        url = base_url + nxt.get_attribute("href") if nxt.count() else None
    for uid, p in enumerate(PAYLOADS, start=1):
        row = shown.get(f"support:{uid}")
        if row is None:
            failures[f"support:{uid}"] = ["not listed"]
        elif [row["sender"], row["subject"], row["reason"]] != [as_text(p)] * 3:
            failures[f"support:{uid}"] = ["not shown as the literal text"]
    assert failures == {}


CLIENT_MAIL = ClientMailSettings(base_url="http://127.0.0.1", survey_links=SurveyLinks("x" * 48))


def test_the_clients_status_and_survey_pages_are_inert(watched, seeded, factory):
    """The pages a client opens from our mail show their subject, their messages, our replies, the assessment
    and their own comment: every one of them full of payloads, in both languages."""
    links: dict[str, tuple[str, str, str]] = {}
    with factory.begin() as s:
        for n, item in enumerate(s.scalars(select(Item).order_by(Item.id))):
            item.lang = ("en", "zh")[n % 2]
            status, item.status = item.status, "resolved"
            survey = schedule_survey(s, item, CLIENT_MAIL, utcnow())
            assert survey is not None
            survey.comment = PAYLOADS[n % N]
            item.status = status
            s.add(Message(item_id=item.id, direction="out", message_id=f"<r{n}@team.example>",
                          screening="ours",
                          sender="support@team.example", subject=item.subject,
                          body_text=PAYLOADS[(n + 3) % N],
                          received_at=rb.T0 + timedelta(hours=1, minutes=n), raw=b"r"))
            if item.assessment is not None:
                item.assessment.sent_at = rb.T0
            links[item.ref or ""] = (new_link(s, item.id, utcnow()),
                                     CLIENT_MAIL.survey_links.token(survey.id, item.id), item.subject)
    page, seen, _ = watched
    failures: dict[str, list[str]] = {}
    # Hundreds of pages from one address: the per-address limit is raised for the test (it has tests of its
    # own).
    settings = WebSettings(client_requests_per_minute=1_000_000)
    with serving(create_app(factory, settings, client_mail=CLIENT_MAIL)) as url:
        for ref, (status_token, survey_token, subject) in links.items():
            for path in (f"/s/{status_token}", f"/r/{survey_token}/comment", f"/r/{survey_token}/3",
                         f"/r/{survey_token}/comment?rated=1", f"/r/{survey_token}/unsubscribe"):
                found = visit(page, seen, url + path, None)
                if page.locator("h1").count() != 1:
                    found.append("not the page asked for")
                if path.startswith("/s/") and page.locator("#subject").text_content() != as_text(subject):
                    found.append("the subject is not shown as the literal text")
                if found:
                    failures[f"{ref} {path}"] = found
            comment = page.goto(f"{url}/r/{survey_token}/comment")
            assert comment is not None and comment.status == 200
        for p in PAYLOADS:  # payloads in the address itself
            for path in (f"/s/{quote(p, safe='')}", f"/r/{quote(p, safe='')}/comment"):
                found = visit(page, seen, url + path, None)
                if found:
                    failures[path] = found
    assert failures == {}


def test_the_webhook_delivery_log_is_inert_and_shows_the_payloads_as_text(watched, base_url, seeded, factory):
    """The delivery log shows target names from the config and answers from the targets' servers: any text."""
    from db.models import WebhookDelivery
    from responders.alerts import AlertRoute, Alerts, enqueue_alert

    with factory.begin() as s:
        items = {i.ref: i for i in s.query(Item).filter(Item.ref.in_(list(seeded["subjects"])))}
        for n, p in enumerate(PAYLOADS, start=1):
            item = items[f"CI-{2 * n - 1:06d}"]  # its subject, client and organization are the payload
            enqueue_alert(s, Alerts((AlertRoute(p[:100], "webhook"),), "http://127.0.0.1"), ("new_item",),
                          item,
                          rb.T0)
        s.flush()
        for n, row in enumerate(s.query(WebhookDelivery).order_by(WebhookDelivery.id), start=1):
            p = PAYLOADS[n - 1]
            row.status, row.attempts, row.last_status, row.last_error = "failed", 12, 500, p
    page, seen, _ = watched
    failures: dict[str, list[str]] = {}
    shown: list[dict[str, str]] = []
    url: str | None = base_url + "/webhooks"
    while url:
        found = visit(page, seen, url, "Chat alerts and webhooks" + SUFFIX)
        if found:
            failures[url] = found
        shown += page.locator("#deliveries tbody tr").evaluate_all(
            "rows => rows.map(r => ({target: r.querySelector('td.target').textContent, "
            "error: r.querySelector('td.error').textContent}))")
        nxt = page.locator("a[rel=next]")
        url = base_url + nxt.get_attribute("href") if nxt.count() else None
    names = page.locator("#targets td.name a").evaluate_all("links => links.map(a => a.textContent)")
    assert sorted(names) == sorted(as_text(p[:100]) for p in PAYLOADS)
    expected = sorted((as_text(p[:100]), "HTTP 500 " + as_text(p)) for p in PAYLOADS)
    assert sorted((r["target"], r["error"]) for r in shown) == expected
    for p in PAYLOADS[:: max(1, N // 10)]:  # a target's own filtered log, reached through its link
        # A name with a control character is refused with the error page; the others filter the log.
        check = visit(page, seen, f"{base_url}/webhooks?target={quote(p[:100], safe='')}", None)
        if check:
            failures[p] = check
    assert failures == {}
