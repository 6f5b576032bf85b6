"""The admin's quarantine page over HTTP: the list, raw downloads, retry and delete, who may, and hostile
input."""
from __future__ import annotations

import ast
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Mailbox, Message
from db.quarantine import QUARANTINED, RETRY_REQUESTED
from review.params import path_id
from review.present import label_text
from tests.unit.test_review_i18n import EMAIL_OR_REF, ENGLISH_RUN, PLACEHOLDER, catalog, visible_texts
from tests.web import signed_in

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
RAW = b"From: anna@acme.example\r\nSubject: broken\r\n\r\n\x00\xff binary <script>alert(1)</script>\r\n"
HOSTILE_IDS = ["\u00b2", "99999999999999999999", "-1", "abc", "\u0661\u0662", "1.5", "%20"]
REVIEW = Path(__file__).resolve().parents[2] / "review"


def add_quarantined(factory, n: int, *, status: str = QUARANTINED, raw: bytes = RAW, error: str = "",
                    subject: str = "", sender: str = "", received: datetime | None = None) -> int:
    """A quarantined message at UID N of the "support" mailbox, as the worker stores one; its id."""
    with factory.begin() as s:
        box = s.scalar(select(Mailbox).where(Mailbox.name == "support"))
        if box is None:
            box = Mailbox(name="support", uidvalidity=7, last_uid=0)
            s.add(box)
            s.flush()
        row = Message(direction="in", mailbox_id=box.id, uidvalidity=7, uid=n,
                      message_id=f"<q{n}@acme.example>",
                      received_at=received or T0 + timedelta(minutes=n), size=len(raw), raw=raw,
                      status=status,
                      error=error or f"not an email message: no header fields and no readable text ({n})",
                      subject=subject, sender=sender)
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def pm(app, factory):
    with TestClient(app) as c:
        yield signed_in(c, factory, "pat@example.com", "pm")


def status_of(factory, message_id: int) -> str | None:
    with factory() as s:
        row = s.get(Message, message_id)
        return None if row is None else row.status


def row_html(html: str, message_id: int) -> str:
    found = re.search(r'<tr data-message="%d".*?</tr>' % message_id, html, re.S)
    assert found, f"no row for message {message_id}"
    return found.group(0)


def post(client, message_id: int | str, action: str, **extra: str):  # type: ignore[no-untyped-def]
    return client.post(f"/quarantine/{message_id}/{action}", data={"csrf_token": client.csrf, **extra},
                       follow_redirects=False)


def test_admin_sees_the_quarantined_messages_newest_first(admin, factory):
    old = add_quarantined(factory, 1, subject="Export fails", sender="anna@acme.example",
                          error="ParseError: bad header\nsecond line of the reason")
    new = add_quarantined(factory, 2, status=RETRY_REQUESTED)
    with factory.begin() as s:  # an ordinary message is not in quarantine
        s.add(Message(direction="in", message_id="<ok@acme.example>", received_at=T0, raw=b"x",
                      status="processed",
                      subject="Fine and stored"))
    page = admin.get("/quarantine")
    assert page.status_code == 200
    html = page.text
    assert re.findall(r'<tr data-message="(\d+)"', html) == [str(new), str(old)]
    assert "Fine and stored" not in html
    first = row_html(html, old)
    assert "support:1" in first and "anna<wbr>@acme.example" in first and "Export fails" in first
    assert "ParseError: bad header\nsecond line of the reason" in first  # the whole reason, lines kept
    assert "2026-12-01 09:01" in first and f"{len(RAW)} B" in first
    assert f'href="/quarantine/{old}/raw"' in first
    assert f'action="/quarantine/{old}/retry"' in first and f'action="/quarantine/{old}/delete"' in first
    assert first.count(f'name="csrf_token" value="{admin.csrf}"') == 2
    assert "Retry requested" not in first and "Quarantined" in first
    assert "Retry requested" in row_html(html, new) and "(no subject)" in row_html(html, new)
    assert "within seconds, once" in html and "2 messages" in html
    nav = re.search(r'<a href="/quarantine" id="nav-quarantine">(.*?)</a>', html, re.S)
    assert nav and re.sub(r"<[^>]+>", "", nav.group(1)).split() == ["Quarantine", "2"]


def test_the_empty_page_and_the_top_bar_without_a_count(admin):
    html = admin.get("/quarantine").text
    assert "No quarantined messages" in html and "<table" not in html
    assert re.search(r'<a href="/quarantine" id="nav-quarantine">Quarantine</a>', html)


def test_pms_find_nothing_there(pm, factory):
    qid = add_quarantined(factory, 1)
    assert "/quarantine" not in pm.get("/").text
    assert pm.get("/quarantine").status_code == 404
    assert pm.get(f"/quarantine/{qid}/raw").status_code == 404
    assert post(pm, qid, "retry").status_code == 404
    assert post(pm, qid, "delete").status_code == 404
    assert status_of(factory, qid) == QUARANTINED


def test_raw_download_is_the_exact_bytes_as_an_inert_attachment(admin, factory):
    qid = add_quarantined(factory, 1)
    r = admin.get(f"/quarantine/{qid}/raw")
    assert r.status_code == 200 and r.content == RAW
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-disposition"].startswith(f'attachment; filename="message-{qid}.eml"')
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers.get_list("content-security-policy")[0]
    assert r.headers["cache-control"] == "private, no-store"


def test_retry_asks_the_worker_and_a_second_request_is_harmless(admin, factory):
    qid = add_quarantined(factory, 1)
    for _ in range(2):
        r = post(admin, qid, "retry", page="1")
        assert r.status_code == 303 and r.headers["location"] == "/quarantine?done=retry"
        assert status_of(factory, qid) == RETRY_REQUESTED
    html = admin.get(r.headers["location"]).text
    assert re.search(r'<p class="flash" role="status" id="flash">Retry requested: the worker runs', html)
    assert "Retry requested" in row_html(html, qid)
    zh = admin.get("/quarantine?done=retry", headers={"accept-language": "zh-CN"}).text
    assert "已请求重试：收件程序将在几秒内" in zh and "隔离区" in zh


def test_the_redirect_keeps_the_page_and_ignores_a_bad_one(admin, factory):
    qid = add_quarantined(factory, 1)
    assert post(admin, qid, "retry", page="2").headers["location"] == "/quarantine?page=2&done=retry"
    assert post(admin, qid, "retry", page="\u00b2").headers["location"] == "/quarantine?done=retry"
    assert "flash" not in admin.get("/quarantine?done=%3Cscript%3E").text


def test_delete_removes_the_message_and_its_bytes(admin, factory):
    keep, gone = add_quarantined(factory, 1), add_quarantined(factory, 2)
    r = post(admin, gone, "delete")
    assert r.status_code == 303 and r.headers["location"] == "/quarantine?done=delete"
    assert status_of(factory, gone) is None and status_of(factory, keep) == QUARANTINED
    html = admin.get(r.headers["location"]).text
    assert "Deleted the message and its raw bytes." in html and f'data-message="{gone}"' not in html
    assert admin.get(f"/quarantine/{gone}/raw").status_code == 404
    assert post(admin, gone, "delete").status_code == 404


def test_posts_without_the_csrf_token_are_refused(admin, factory):
    qid = add_quarantined(factory, 1)
    for action in ("retry", "delete"):
        r = admin.post(f"/quarantine/{qid}/{action}", data={}, follow_redirects=False)
        assert r.status_code == 403
        r = admin.post(f"/quarantine/{qid}/{action}", data={"csrf_token": "forged"}, follow_redirects=False)
        assert r.status_code == 403
    assert status_of(factory, qid) == QUARANTINED


def test_unknown_and_stored_messages_are_not_found(admin, factory):
    with factory.begin() as s:
        stored = Message(direction="in", message_id="<ok@acme.example>", received_at=T0, raw=b"x",
                         status="processed")
        s.add(stored)
        s.flush()
        stored_id = stored.id
    for message_id in (stored_id, 424242):
        assert admin.get(f"/quarantine/{message_id}/raw").status_code == 404
        assert post(admin, message_id, "retry").status_code == 404
        assert post(admin, message_id, "delete").status_code == 404
    assert status_of(factory, stored_id) == "processed"


@pytest.mark.parametrize("bad", HOSTILE_IDS)
def test_hostile_ids_are_404_never_500(admin, factory, bad):
    add_quarantined(factory, 1)
    assert admin.get(f"/quarantine/{bad}/raw").status_code == 404
    assert admin.post(f"/quarantine/{bad}/retry", data={"csrf_token": admin.csrf}).status_code == 404
    assert admin.post(f"/quarantine/{bad}/delete", data={"csrf_token": admin.csrf}).status_code == 404
    assert admin.get(f"/quarantine?page={bad}").status_code in (200, 400)  # " " is no page number: page 1


def test_fifty_per_page(admin, factory):
    ids = [add_quarantined(factory, n) for n in range(1, 53)]
    first = admin.get("/quarantine").text
    assert len(re.findall(r'<tr data-message="', first)) == 50 and "Showing 1&ndash;50 of 52" in first
    assert 'href="/quarantine?page=2" rel="next"' in first
    second = admin.get("/quarantine?page=2").text
    assert re.findall(r'<tr data-message="(\d+)"', second) == [str(ids[1]), str(ids[0])]
    assert 'name="page" value="2"' in second
    beyond = admin.get("/quarantine?page=3").text
    assert "There is no page 3" in beyond and 'href="/quarantine"' in beyond


def test_client_text_is_escaped(admin, factory):
    qid = add_quarantined(factory, 1, subject="<script>alert('s')</script>",
                          sender="<img src=x onerror=alert(1)>",
                          error="<b onmouseover=alert(2)>reason</b>")
    row = row_html(admin.get("/quarantine").text, qid)
    assert "<script>" not in row and "<img" not in row and "<b " not in row
    assert "&lt;script&gt;" in row and "&lt;b onmouseover=alert(2)&gt;reason&lt;/b&gt;" in row


@pytest.mark.parametrize("done", ["retry", "delete"])
def test_the_chinese_page_has_no_english_left(admin, factory, done):
    add_quarantined(factory, 1, status=RETRY_REQUESTED, subject="发票抬头", sender="li@example.cn",
                    error="解析失败")
    add_quarantined(factory, 2, error="解析失败")
    html = admin.get(f"/quarantine?done={done}", headers={"accept-language": "zh-CN"}).text
    assert "<h1>隔离区</h1>" in html and "已请求重试" in html and "已隔离" in html and "永久删除" in html
    ui_english = {m.id for m in catalog() if isinstance(m.id, str) and m.id and not PLACEHOLDER.search(m.id)}
    leftovers = [t for t in visible_texts(html) if t in ui_english]
    leftovers += [m.group(0) for t in visible_texts(html)
                  for m in ENGLISH_RUN.finditer(EMAIL_OR_REF.sub(" ", t))]
    assert leftovers == []


def test_message_statuses_have_names():
    assert label_text("retry") == "Retry requested" and label_text("quarantined") == "Quarantined"


def test_path_ids_are_ascii_digits_only():
    assert path_id("12") == 12
    assert [path_id(v) for v in HOSTILE_IDS] == [None] * len(HOSTILE_IDS)


def test_the_web_app_does_not_import_the_worker():
    """The design's arrows: review/ may use db/, never intake/ (the worker does the retry)."""
    offenders = []
    for path in REVIEW.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names if n == "intake" or n.startswith("intake.")]
    assert offenders == []
