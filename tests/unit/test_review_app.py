"""The review app through HTTP: queue order, filters and pages, the item page, escaping, corrections, JSON
API."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from db.models import Attachment, Contact, Event, Item, Message, Organization
from review.app import create_app
from review.present import event_summary, file_size, percent, utc_text
from tests.web import signed_in

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
XSS_BODY = 'Hi team,\n<script>alert(1)</script>\n<img src=x onerror="alert(2)">\nThanks'


@pytest.fixture
def client(factory):
    with TestClient(create_app(factory)) as c:
        yield signed_in(c, factory)


def add_item(session, n: int, *, subject: str = "Login page broken", category: str = "issue",
             confidence: float = 0.91, needs_review: bool = False, status: str = "new",
             received: datetime = T0, email: str = "anna@acme.example", name: str = "Anna Lee",
             body: str = "The login page shows an error.", organization: Organization | None = None) -> Item:
    """Item N with its client's first message and classification; the contact joins ORGANIZATION when
    given."""
    contact = session.scalar(select(Contact).where(Contact.email == email))
    if contact is None:
        contact = Contact(email=email, name=name)
    if organization is not None:
        contact.organization = organization
    item = Item(ref=f"CI-{n:06d}", subject=subject, category=category, confidence=confidence,
                needs_review=needs_review, status=status, received_at=received, contact=contact,
                model_version="spacy-1.0", lang="en")
    session.add(item)
    session.flush()
    session.add(Message(item_id=item.id, direction="in", message_id=f"<m{n}@acme.example>", sender=email,
                        sender_name=name, recipients="support@example.com", subject=subject,
                        sent_at=received, received_at=received, body_text=body, new_text=body, raw=b"raw"))
    session.add(Event(item_id=item.id, kind="classified", created_at=received,
                      data={"label": category, "confidence": confidence, "model_version": "spacy-1.0",
                            "needs_review": needs_review,
                            "scores": {"issue": 0.7, "question": 0.2, "feedback": 0.06,
                                       "change_request": 0.04}}))
    session.flush()
    return item


def refs_in(html: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-ref="([^"]+)"', html)


@pytest.fixture
def three(factory):
    """Three items received out of insertion order: CI-000002 newest, CI-000003 needs review."""
    with factory.begin() as s:
        add_item(s, 1, subject="Login page broken", received=T0)
        add_item(s, 2, subject="Please add CSV export", category="change_request", status="acknowledged",
                 received=T0 + timedelta(hours=5), email="bo@globex.example", name="Bo Chen")
        add_item(s, 3, subject="如何重置密码？", category="question", confidence=0.42, needs_review=True,
                 received=T0 + timedelta(hours=2), email="li@example.cn", name="李雷")


# --- queue -------------------------------------------------------------------------------------------

def test_queue_lists_items_newest_first_with_their_facts(client, three):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert refs_in(html) == ["CI-000002", "CI-000003", "CI-000001"]
    assert '<a href="/items/CI-000002">CI-000002</a>' in html
    assert '<th scope="col">Age</th>' in html
    assert '<time datetime="2026-11-02T14:00:00Z" title="Received (UTC): 2026-11-02 14:00">' in html
    assert "Bo Chen" in html and "bo<wbr>@globex.example" in html
    assert "如何重置密码？" in html and "李雷" in html and "li<wbr>@example.cn" in html
    assert "Change request" in html
    assert '<span class="band band-low" title="42.0%">Low</span>' in html
    assert '<span class="band band-medium" title="91.0%">Medium</span>' in html
    assert "Acknowledged" in html
    assert html.count('class="badge review"') == 1
    row3 = re.search(r'<tr[^>]*data-ref="CI-000003".*?</tr>', html, re.S).group(0)
    assert "Needs review" in row3 and 'class="needs-review"' in row3
    assert "Showing 1&ndash;3 of 3 items" in html


@pytest.mark.parametrize("query, expected", [
    ("category=issue", ["CI-000001"]),
    ("category=question", ["CI-000003"]),
    ("status=acknowledged", ["CI-000002"]),
    ("status=new", ["CI-000003", "CI-000001"]),
    ("review=1", ["CI-000003"]),
    ("review=0", ["CI-000002", "CI-000003", "CI-000001"]),
    ("category=issue&review=1", []),
    ("category=&status=&page=", ["CI-000002", "CI-000003", "CI-000001"]),
])
def test_queue_filters(client, three, query, expected):
    r = client.get(f"/?{query}")
    assert r.status_code == 200
    assert refs_in(r.text) == expected
    api = client.get(f"/api/items?{query}").json()
    assert [i["ref"] for i in api["items"]] == expected
    assert api["total"] == len(expected)


def test_queue_filter_form_keeps_the_chosen_values(client, three):
    html = client.get("/?category=question&status=new&review=1").text
    assert '<option value="question" selected>' in html
    assert '<option value="new" selected>' in html
    assert 'name="review" value="1" checked' in html
    assert "Clear filters" in html


@pytest.mark.parametrize("query, word", [
    ("category=bug", "category"), ("status=open", "status"), ("review=maybe", "review"),
    ("page=0", "page"), ("page=abc", "page"), ("page=99999999999", "page"),
])
def test_queue_rejects_bad_filters_with_400(client, three, query, word):
    r = client.get(f"/?{query}")
    assert r.status_code == 400
    assert f"{word}:" in r.text
    r = client.get(f"/api/items?{query}")
    assert r.status_code == 400
    assert r.json()["error"].startswith(f"{word}:")


def test_queue_paginates_fifty_per_page(client, factory):
    with factory.begin() as s:
        for n in range(1, 121):
            add_item(s, n, received=T0 + timedelta(minutes=n), needs_review=n % 10 == 0)
    first = client.get("/").text
    assert len(refs_in(first)) == 50
    assert refs_in(first)[0] == "CI-000120"
    assert "Showing 1&ndash;50 of 120 items" in first
    assert "12 need review" in first
    assert "Page 1 of 3" in first and 'href="/?page=2"' in first
    last = client.get("/?page=3").text
    assert refs_in(last) == [f"CI-{n:06d}" for n in range(20, 0, -1)]
    assert "Showing 101&ndash;120 of 120 items" in last
    assert 'href="/?page=2" rel="prev"' in last
    reviewed = client.get("/?review=1").text
    assert len(refs_in(reviewed)) == 12 and "Page" not in reviewed.split("</table>")[1]
    beyond = client.get("/?page=9")
    assert beyond.status_code == 200 and refs_in(beyond.text) == []
    assert "There is no page 9" in beyond.text
    api = client.get("/api/items?page=2").json()
    assert api["total"] == 120 and len(api["items"]) == 50 and api["page"] == 2 and api["per_page"] == 50
    assert api["items"][0]["ref"] == "CI-000070"


def test_queue_empty_states(client, factory):
    r = client.get("/")
    assert r.status_code == 200 and "No items yet." in r.text and "<table" not in r.text
    with factory.begin() as s:
        add_item(s, 1)
    r = client.get("/?category=feedback")
    assert "No items match these filters." in r.text and "<table" not in r.text
    assert client.get("/api/items?category=feedback").json() == {"items": [], "total": 0, "page": 1,
                                                                  "per_page": 50}


# --- item page ---------------------------------------------------------------------------------------

@pytest.fixture
def full_item(factory):
    """One item with an organization, a two-message thread (in + out), an attachment and a history."""
    with factory.begin() as s:
        org = Organization(name="Acme Corp", domain="acme.example")
        item = add_item(s, 7, subject="Export fails <b>sometimes</b>", confidence=0.58, needs_review=True,
                        organization=org)
        item.acknowledged_at = T0 + timedelta(minutes=3)
        item.status = "acknowledged"
        first = s.scalars(select(Message).where(Message.item_id == item.id)).one()
        first.attachments.append(Attachment(filename="error log.txt", content_type="text/plain", size=2048,
                                            sha256="a" * 64))
        # Stored before the incoming one, but arrived after it: the thread is shown by arrival.
        s.add(Message(item_id=item.id, direction="out", message_id="<ack7@example.com>",
                      sender="support@example.com", sender_name="Support", recipients="anna@acme.example",
                      subject="Re: Export fails", received_at=T0 + timedelta(minutes=3),
                      body_text="We received your message (CI-000007).", raw=b"raw"))
        s.add(Event(item_id=item.id, kind="acknowledged", created_at=T0 + timedelta(minutes=3),
                    data={"message_id": "<ack7@example.com>", "to": "anna@acme.example"}))
        s.add(Event(item_id=item.id, kind="ack_suppressed", created_at=T0 + timedelta(minutes=1),
                    data={"reason": "rate_limit", "to": "anna@acme.example", "limit_per_hour": 5}))
    return "CI-000007"


def test_item_page_shows_facts_thread_scores_and_history(client, full_item):
    r = client.get(f"/items/{full_item}")
    assert r.status_code == 200
    html = r.text
    assert "<title>CI-000007 Export fails &lt;b&gt;sometimes&lt;/b&gt; · Client intake</title>" in html
    facts = html[html.index('id="facts"'):html.index("</dl>", html.index('id="facts"'))]
    for text in ("CI-000007", "Anna Lee", "anna@acme.example", "Acme Corp", "Issue", "Low", "58.0%",
                 "Acknowledged", "2026-11-02 09:00 UTC", "2026-11-02 09:03 UTC"):
        assert text in facts, text
    assert "spacy-1.0" not in facts  # the model version is in the history
    assert 'id="needs-review"' in html
    # messages in arrival order, with direction, addresses, date, subject, body and attachments
    incoming, outgoing = html.index('id="message-1"'), html.index('id="message-2"')
    assert html.index("Incoming", incoming) < outgoing < html.index("Outgoing")
    assert "Anna Lee &lt;anna@acme.example&gt;" in html
    assert "Support &lt;support@example.com&gt;" in html
    assert '<pre class="body">The login page shows an error.</pre>' in html
    assert "We received your message (CI-000007)." in html
    assert "error log.txt" in html and "text/plain, 2.0 KB" in html
    # scores, highest first, from the "classified" event
    scores = html[html.index('id="scores"'):html.index("</table>", html.index('id="scores"'))]
    assert [m for m in re.findall(r'<th scope="row">([^<]+)</th>', scores)] == [
        "Issue", "Question", "Feedback", "Change request"]
    assert "70%" in scores and "4%" in scores
    # history oldest first, with readable summaries
    history = html[html.index('id="history"'):]
    kinds = re.findall(r'<span class="kind">([^<]+)</span>', history)
    assert kinds == ["Classified", "Ack suppressed", "Acknowledged"]
    assert "Issue at 58%, model spacy-1.0, flagged for review" in history
    assert "anna@acme.example reached the limit of 5 acknowledgments per hour" in history
    assert "Acknowledgment sent to anna@acme.example" in history
    # the category form
    form = html[html.index('<form class="category-form"'):html.index("</form>",
                                                                     html.index('class="category-form"'))]
    assert 'method="post" action="/items/CI-000007/category"' in form
    assert re.findall(r'<option value="([^"]+)"', form) == ["issue", "change_request", "question", "feedback"]
    assert '<option value="issue" selected>' in form


def test_message_bodies_are_escaped_text_never_html(client, factory):
    with factory.begin() as s:
        item = add_item(s, 9, subject='<img src=x onerror="alert(3)">', body=XSS_BODY)
        s.add(Message(item_id=item.id, direction="in", message_id="<html9@acme.example>",
                      sender="anna@acme.example", subject="HTML only", received_at=T0 + timedelta(hours=1),
                      body_text="", new_text="", raw=b"raw",
                      body_html='<p>Hello</p><script>alert("html")</script><img src=x onerror=alert(4)>'))
        s.add(Event(item_id=item.id, kind="note", created_at=T0, data={"text": "<script>alert(5)</script>"}))
    r = client.get("/items/CI-000009")
    assert r.status_code == 200
    html = r.text
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    assert "&lt;img src=x onerror=&#34;alert(3)&#34;&gt;" in html
    assert "&lt;script&gt;alert(5)&lt;/script&gt;" in html
    # the HTML-only body is shown sanitized: formatting kept, script and handler gone, the image blocked
    assert "alert(4)" not in html and "alert(&#34;html&#34;)" not in html
    assert '<div class="body html"><p>Hello</p><span title="remote image blocked">' in html
    # and no script could run even if something slipped through
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    queue = client.get("/").text
    assert "<img" not in queue.lower() and "&lt;img src=x onerror=&#34;alert(3)&#34;&gt;" in queue


def test_item_without_scores_or_events(client, factory):
    with factory.begin() as s:
        item = Item(ref="CI-000011", subject="", category="feedback", contact=None)
        s.add(item)
    html = client.get("/items/CI-000011").text
    assert "(no subject)" in html
    assert "No classifier scores were recorded for this item." in html
    assert "No messages are stored for this item." in html
    assert "Nothing has happened to this item yet." in html


def test_unknown_reference_is_404(client, three):
    r = client.get("/items/CI-999999")
    assert r.status_code == 404
    assert "There is no item with the reference CI-999999." in r.text and "Back to the queue" in r.text
    r = client.post("/items/CI-999999/category", data={"category": "issue", "csrf_token": client.csrf},
                    follow_redirects=False)
    assert r.status_code == 404
    r = client.get("/api/items/CI-999999")
    assert r.status_code == 404 and r.json() == {"error": "no item with the reference CI-999999"}
    r = client.get("/no/such/page")
    assert r.status_code == 404 and "There is no page at this address." in r.text
    assert client.get("/api/nothing").json() == {"error": "Not Found"}


# --- corrections -------------------------------------------------------------------------------------

def _events(factory, ref: str, kind: str) -> list[Event]:
    with factory() as s:
        return list(s.scalars(select(Event).join(Item).where(Item.ref == ref, Event.kind == kind)
                              .order_by(Event.id)))


def _item(factory, ref: str) -> Item:
    with factory() as s:
        return s.scalars(select(Item).where(Item.ref == ref)).one()


def test_correcting_the_category_records_an_event_and_clears_review(client, factory, three):
    r = client.post("/items/CI-000003/category", data={"category": "issue", "csrf_token": client.csrf},
                    follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/items/CI-000003"
    item = _item(factory, "CI-000003")
    assert item.category == "issue" and item.needs_review is False
    [event] = _events(factory, "CI-000003", "corrected")
    assert event.actor == "lead@example.com"
    assert event.data == {"from": "question", "to": "issue", "model_version": "spacy-1.0"}
    assert event.created_at.tzinfo is not None
    page = client.get("/items/CI-000003").text
    assert '<span class="cat cat-issue" id="item-category">Issue</span>' in page
    assert 'id="needs-review"' not in page
    assert "Category changed from Question to Issue" in page
    assert "CI-000003" not in refs_in(client.get("/?review=1").text)


def test_choosing_the_same_category_confirms_it(client, factory, three):
    r = client.post("/items/CI-000003/category", data={"category": "question", "csrf_token": client.csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/items/CI-000003"
    assert _events(factory, "CI-000003", "corrected") == []
    assert len(_events(factory, "CI-000003", "confirmed")) == 1
    assert _item(factory, "CI-000003").needs_review is False
    assert "Category Question confirmed" in client.get("/items/CI-000003").text
    # Confirming again records nothing more.
    client.post("/items/CI-000003/category", data={"category": "question", "csrf_token": client.csrf})
    assert len(_events(factory, "CI-000003", "confirmed")) == 1


@pytest.mark.parametrize("form", [{"category": "bug"}, {"category": ""}, {}, {"category": "Issue"}])
def test_invalid_category_is_400_and_stores_nothing(client, factory, three, form):
    before = _item(factory, "CI-000003")
    r = client.post("/items/CI-000003/category", data={**form, "csrf_token": client.csrf},
                    follow_redirects=False)
    assert r.status_code == 400
    assert "category:" in r.text and "issue, change_request, question, feedback" in r.text
    assert 'href="/items/CI-000003"' in r.text
    after = _item(factory, "CI-000003")
    assert (after.category, after.needs_review, after.updated_at) == (
        before.category, before.needs_review, before.updated_at)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(Event.kind == "corrected")) == 0


# --- JSON API ----------------------------------------------------------------------------------------

def test_api_lists_items(client, three):
    r = client.get("/api/items")
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 3
    assert [i["ref"] for i in body["items"]] == ["CI-000002", "CI-000003", "CI-000001"]
    third = body["items"][1]
    assert third == {
        "ref": "CI-000003", "url": "/items/CI-000003", "subject": "如何重置密码？", "category": "question",
        "confidence": 0.42, "confidence_band": "low", "needs_review": True, "status": "new", "lang": "en",
        "model_version": "spacy-1.0",
        "client": {"name": "李雷", "email": "li@example.cn"}, "received_at": "2026-11-02T11:00:00Z",
        "acknowledged_at": None, "first_response_at": None, "resolved_at": None, "sla_state": "",
        "sla_due_at": None,
    }


def test_api_gives_each_item_the_confidence_band_the_queue_shows(client, factory):
    with factory.begin() as s:
        for n, confidence in ((1, 0.42), (2, 0.91), (3, 0.97)):
            add_item(s, n, subject=f"Item {n}", confidence=confidence, needs_review=confidence < 0.8,
                     received=T0 + timedelta(hours=n))
    bands = {i["ref"]: i["confidence_band"] for i in client.get("/api/items").json()["items"]}
    assert bands == {"CI-000001": "low", "CI-000002": "medium", "CI-000003": "high"}
    html = client.get("/").text
    for ref, band in bands.items():
        assert f'class="band band-{band}"' in html.split(f'data-ref="{ref}"')[1].split("</tr>")[0]
    assert client.get("/api/items/CI-000003").json()["confidence_band"] == "high"


def test_api_item_has_messages_events_and_scores(client, full_item):
    r = client.get(f"/api/items/{full_item}")
    assert r.status_code == 200
    body = r.json()
    assert body["ref"] == "CI-000007" and body["client"]["organization"] == "Acme Corp"
    assert [m["direction"] for m in body["messages"]] == ["in", "out"]
    first = body["messages"][0]
    assert first["body_text"] == "The login page shows an error."
    assert first["attachments"] == [{"filename": "error log.txt", "content_type": "text/plain", "size": 2048,
                                     "sha256": "a" * 64}]
    assert "raw" not in first and "body_html" not in first
    assert [e["kind"] for e in body["events"]] == ["classified", "ack_suppressed", "acknowledged"]
    assert body["events"][0]["data"]["scores"]["issue"] == 0.7
    assert body["scores"] == {"issue": 0.7, "question": 0.2, "feedback": 0.06, "change_request": 0.04}


def test_api_corrects_the_category(client, factory, three):
    r = client.post("/api/items/CI-000003/category", json={"category": "feedback"})
    assert r.status_code == 200
    body = r.json()
    assert body["changed"] is True and body["from"] == "question" and body["to"] == "feedback"
    assert body["item"]["category"] == "feedback" and body["item"]["needs_review"] is False
    [event] = _events(factory, "CI-000003", "corrected")
    assert event.data == {"from": "question", "to": "feedback", "model_version": "spacy-1.0"}
    again = client.post("/api/items/CI-000003/category", json={"category": "feedback"}).json()
    assert again["changed"] is False
    assert len(_events(factory, "CI-000003", "corrected")) == 1
    history = client.get("/api/items/CI-000003").json()["events"]
    assert history[-1]["kind"] == "corrected"
    assert history[-1]["summary"] == "Category changed from Question to Feedback"


@pytest.mark.parametrize("kwargs, status, message", [
    ({"json": {"category": "bug"}}, 400, "category: unknown category 'bug'"),
    ({"json": {}}, 400, "category: missing"),
    ({"json": ["issue"]}, 400, "body: expected a JSON object"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "body: not valid JSON"),
    ({"data": {"category": "issue"}}, 415, "Content-Type: application/json"),
])
def test_api_rejects_bad_corrections(client, factory, three, kwargs, status, message):
    r = client.post("/api/items/CI-000003/category", **kwargs)
    assert r.status_code == status
    assert message in r.json()["error"]
    assert _events(factory, "CI-000003", "corrected") == []
    assert _item(factory, "CI-000003").category == "question"


def test_api_correction_of_unknown_item_is_404(client, three):
    r = client.post("/api/items/CI-999999/category", json={"category": "issue"})
    assert r.status_code == 404


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"ok": True}


def test_static_stylesheet_is_served(client):
    r = client.get("/static/style.css")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/css")
    assert "@media" in r.text and "http" not in r.text


def test_large_bodies_are_refused(client, three):
    r = client.post("/items/CI-000003/category", data={"category": "issue", "csrf_token": client.csrf,
                                                          "pad": "x" * 100_000})
    assert r.status_code == 413


# --- display helpers ---------------------------------------------------------------------------------

def test_display_helpers():
    assert utc_text(datetime(2026, 1, 2, 4, 5, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-02 03:05 UTC"
    assert utc_text(None) == "\u2014"
    assert percent(0.824) == "82%" and percent(1.0) == "100%"
    assert [file_size(n) for n in (0, 1023, 1024, 5 * 1024 * 1024)] == ["0 B", "1023 B", "1.0 KB", "5.0 MB"]
    assert event_summary("corrected", {"from": "issue", "to": "change_request"}) == (
        "Category changed from Issue to Change request")
    assert event_summary("custom", {"b": [1, 2], "a": "x"}) == "a: x; b: [1, 2]"
    assert event_summary("custom", {"text": "y" * 1000}).endswith("\u2026")


def test_items_without_an_address_we_can_answer_say_so(client, factory):
    with factory.begin() as s:
        add_item(s, 1, email="anna@acme.example")
        add_item(s, 2, email="pete@silly.test", subject="Special-use domain")
        nobody = add_item(s, 3, email="x@acme.example", subject="No From header")
        nobody.contact = None
        s.add(Message(item_id=nobody.id, direction="in", message_id="<notes@x>", received_at=T0, raw=b"raw",
                      parse_notes="From: no usable address in 'nobody at all'\nblank lines before the header "
                                  "fields skipped"))
    html = client.get("/").text
    rows = {ref: row for ref, row in re.findall(r'data-ref="([^"]+)"(.*?)</tr>', html, re.S)}
    assert "No reply address" not in rows["CI-000001"]
    assert "No reply address" in rows["CI-000002"] and "No reply address" in rows["CI-000003"]
    page = client.get("/items/CI-000003").text
    assert "No reply address" in page and "Read with repairs" in page
    assert "From: no usable address in &#39;nobody at all&#39;" in page
