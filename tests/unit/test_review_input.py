"""The review app's strict input (review.params, review.json_body), its headers on every answer (errors and
500s included), no caching of client data, and a PM's assignee filter limited to their organizations."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from db.models import Attachment, Contact, Message, Organization
from review import pages
from review.app import create_app
from review.json_body import MAX_DEPTH, InvalidBody, deeper_than, parse_json
from review.params import (
    FIRST_DAY,
    LAST_DAY,
    MAX_ID,
    InvalidInput,
    choice_param,
    day_param,
    field_id,
    flag_param,
    item_ref,
    page_param,
    parse_queue_filter,
    path_id,
    text_value,
)
from tests.unit.test_review_app import add_item
from tests.web import add_user, sign_in, signed_in

NOT_NUMBERS = ["\u00b2", "\u0661\u0662", "\uff11", "-1", "+1", "0", "1e9", "1.5", "0x1f", "1_000", " 1", "1 ",
               "",
               "99999999999999999999", str(MAX_ID + 1), "1" * 10_000, "\x00", "%00", "<script>"]
SECURITY = {"content-security-policy": "default-src 'none'", "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin", "x-frame-options": "DENY"}


# --- the parsers -----------------------------------------------------------------------------------------

def test_ids_are_ascii_digits_within_32_bits():
    assert path_id("1") == 1 and path_id(str(MAX_ID)) == MAX_ID and path_id("007") == 7
    assert [path_id(v) for v in NOT_NUMBERS] == [None] * len(NOT_NUMBERS)
    assert field_id(" 12 ") == 12 and field_id(None) is None and field_id("\u00b2") is None


def test_pages_are_whole_numbers_from_one_to_the_limit():
    assert page_param({}) == 1 and page_param({"page": ""}) == 1 and page_param({"page": " 3 "}) == 3
    for bad in ["\u00b2", "0", "-1", "1e9", "0x1f", "1000001", "99999999999999999999", "1" * 10_000]:
        with pytest.raises(InvalidInput, match=r"^page: expected a whole number from 1 to 1000000, not '"):
            page_param({"page": bad})
    with pytest.raises(InvalidInput) as caught:
        page_param({"items": "x" * 10_000}, "items")
    assert len(str(caught.value)) < 120, "an error message repeats at most a little of the value"


def test_days_are_iso_dates_within_the_supported_range():
    assert day_param({"since": "2026-11-23"}, "since") == date(2026, 11, 23)
    assert day_param({"since": ""}, "since") is None
    assert day_param({"since": FIRST_DAY.isoformat()}, "since") == FIRST_DAY
    assert day_param({"until": LAST_DAY.isoformat()}, "until") == LAST_DAY
    for bad in ["2026-02-30", "20261123", "2026-W47-1", "2026-11-23T00:00", "\u0662\u0660\u0662\u0666-11-23",
                "1999-12-31", "2101-01-01", "9999-12-31", "0001-01-01"]:
        with pytest.raises(InvalidInput, match="^since: expected a d"):
            day_param({"since": bad}, "since")
    with pytest.raises(InvalidInput,
                       match="^until: expected a day from 2000-01-01 to 2100-12-31, not '9999-12-31'"):
        day_param({"until": "9999-12-31"}, "until")


def test_choices_flags_and_texts():
    assert choice_param({"sort": ""}, "sort", ("a", "b"), "%(name)s %(value)s", default="a") == "a"
    with pytest.raises(InvalidInput, match="^sort '<script>'$"):
        choice_param({"sort": "<script>"}, "sort", ("a", "b"), "%(name)s %(value)s")
    assert flag_param({"review": "1"}, "review") and not flag_param({}, "review")
    with pytest.raises(InvalidInput):
        flag_param({"review": "\u00b9"}, "review")
    assert text_value("  a\nb  ", "note", 10, lines=True) == "a\nb"
    for bad, lines in (("a\x00b", True), ("a\nb", False), ("\x7f", True)):
        with pytest.raises(InvalidInput, match="must not contain control characters"):
            text_value(bad, "note", 10, lines=lines)
    with pytest.raises(InvalidInput, match="^note: at most 10 characters$"):
        text_value("x" * 11, "note", 10)
    assert item_ref("CI-000001") == "CI-000001"
    assert [item_ref(v) for v in ("", "x" * 33, "CI-1\x00", "CI\n1")] == [None] * 4


def test_the_queue_filter_refuses_what_names_nothing():
    assert parse_queue_filter({"assignee": "me"}, me=7).assignee == "7"
    assert parse_queue_filter({"assignee": "007", "org": "12"}).organization == 12
    for query in ({"org": "\u00b2"}, {"org": "99999999999999999999"}, {"assignee": "\u0661\u0662"},
                  {"assignee": "2147483648"}, {"until": "9999-12-31"}, {"since": "0001-01-01"},
                  {"q": "a\x00b"}, {"q": "x" * 201}, {"page": "\u00b2"}):
        with pytest.raises(InvalidInput):
            parse_queue_filter(query)


def test_json_bodies_have_a_size_a_depth_and_no_nul():
    assert parse_json(b'{"text": "a\\nb [{"}', "{}") == {"text": "a\nb [{"}
    assert deeper_than('"[[[[[[" ' * 3 + "[" * MAX_DEPTH, MAX_DEPTH) is False
    for raw, status, words in [
        (b"[" * 20_000 + b"]" * 20_000, 400, "nested more than 20 levels"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, 400, "nested more than 20 levels"),  # 60 KB
        (b"x" * (64 * 1024 + 1), 413, "larger than"),
        (b"\xff{}", 400, "not UTF-8"),
        (b'{"a": NaN}', 400, "not valid JSON"),
        (b'{"a": ' + b"9" * 5000 + b"}", 400, "not valid JSON"),
        (b'{"a": "\\u0000"}', 400, "NUL"),
        (b'{"\\u0000": 1}', 400, "NUL"),
    ]:
        with pytest.raises(InvalidBody, match=words) as caught:
            parse_json(raw, "{}")
        assert caught.value.status == status


# --- over HTTP ---------------------------------------------------------------------------------------------

@pytest.fixture
def acme(factory):
    with factory.begin() as s:
        org = Organization(name="Acme", domain="acme.example")
        globex = Organization(name="Globex", domain="globex.example")
        s.add_all([org, globex, Contact(email="anna@acme.example", name="Anna", organization=org)])
        s.flush()
        add_item(s, 1, email="anna@acme.example")
        add_item(s, 2, email="anna@acme.example", category="change_request")


@pytest.mark.parametrize("path", [
    "/?page=%C2%B2", "/?org=%C2%B2", "/?org=99999999999999999999", "/?assignee=%D9%A1%D9%A2",
    "/?assignee=99999999999999999999", "/?until=9999-12-31", "/?since=0001-01-01", "/?q=a%00b",
    "/reports/sla?until=9999-12-31", "/reports/sla?since=0001-01-01", "/reports/sla?until=9999-12-31&by=week",
    "/reports/sla?since=0001-01-01&by=week", "/reports/sla?since=2026-02-30", "/reports/sla?by=%C2%B2",
    "/organizations/1?page=%C2%B2", "/quarantine?page=99999999999999999999",
])
def test_hostile_query_values_are_a_400_with_one_line(admin, acme, path):
    r = admin.get(path)
    assert r.status_code == 400, r.text[:300]
    message = re.search(r'<p class="error-message">(.*?)</p>', r.text, re.S)
    assert message and "\n" not in message.group(1).strip()
    api = admin.get("/api/items?" + path.split("?", 1)[1]) if path.startswith("/?") else None
    assert api is None or (api.status_code == 400 and "\n" not in api.json()["error"])


@pytest.mark.parametrize("path", ["/items/CI-%00", "/items/" + "x" * 10_000, "/organizations/%C2%B2",
                                  "/organizations/" + "1" * 10_000, "/contacts/99999999999999999999",
                                  "/items/CI-000001/attachments/%C2%B2", "/people/%D9%A1%D9%A2",
                                  "/quarantine/1" + "0" * 30 + "/raw", "/api/items/%00",
                                  "/api/items/CI-%00/messages"])
def test_ids_that_name_nothing_are_a_404(admin, acme, path):
    assert admin.get(path).status_code == 404


def test_the_sla_report_runs_to_the_edge_of_the_supported_range(admin, acme):
    r = admin.get("/reports/sla?since=2099-01-01&until=2100-12-31&by=week")
    assert r.status_code == 200 and "2100-W52" in r.text
    assert admin.get("/reports/sla?since=2000-01-01&until=2000-02-01&by=week").status_code == 200
    r = admin.get("/reports/sla?since=2000-01-01&until=2100-12-31&by=week")
    assert r.status_code == 400 and "at most 732 days" in r.text


def test_hostile_form_and_json_values_are_refused(admin, acme):
    r = admin.post("/items/CI-000001/assign", data={"csrf_token": admin.csrf, "assignee": "\u00b2"})
    assert r.status_code == 400 and "assignee: choose a person from the list" in r.text
    r = admin.post("/items/CI-000001/assign", data={"csrf_token": admin.csrf,
                                                    "assignee": "99999999999999999999"})
    assert r.status_code == 400
    r = admin.post("/items/CI-000001/note", data={"csrf_token": admin.csrf, "text": "a\x00b"})
    assert r.status_code == 400 and "note: must not contain control characters" in r.text
    r = admin.post("/items/CI-000001/follow-up", data={"csrf_token": admin.csrf, "on": "\u00b9"})
    assert r.status_code == 400
    r = admin.post("/items/CI-000001/note", data={"csrf_token": "\u00b2", "text": "hello"})
    assert r.status_code == 403
    for value in (2**31, 10**20, -1, 0, 1.5, True, "3"):
        r = admin.post("/api/items/CI-000001/assignee", json={"assignee": value})
        assert r.status_code == 400 and r.json()["error"].startswith("assignee:"), value
    deep = b"[" * 20_000 + b"]" * 20_000
    r = admin.post("/api/items/CI-000001/status", content=deep, headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json() == {"error": 'body: nested more than 20 levels deep; send '
                                                          '{"status": "in_progress"}'}
    r = admin.post("/api/items/CI-000001/category", content=deep,
                   headers={"content-type": "application/json"})
    assert r.status_code == 400
    r = admin.post("/api/items/CI-000001/notes", json={"text": "a\x00b"})
    assert r.status_code == 400 and "NUL" in r.json()["error"]


# --- headers on every answer -------------------------------------------------------------------------------

def _has_security_headers(r) -> bool:  # type: ignore[no-untyped-def]
    return all(wanted in r.headers.get(name, "") for name, wanted in SECURITY.items())


def test_every_kind_of_answer_has_the_security_headers(factory, acme):
    app = create_app(factory, read_attachment=lambda raw, sha256: b"log")
    with TestClient(app, follow_redirects=False) as c:
        anonymous = {"login": c.get("/login"), "401": c.get("/api/items"), "redirect": c.get("/"),
                     "static": c.get("/static/style.css"), "report static": c.get("/static/reports/sla.css")}
        signed_in(c, factory, "lead@example.com", "admin")
        with factory.begin() as s:
            message = s.scalars(select(Message).where(Message.message_id == "<m1@acme.example>")).one()
            row = Attachment(message_id=message.id, filename="log.txt", content_type="text/plain", size=3,
                             sha256="a" * 64)
            s.add(row)
            s.flush()
            attachment_id = row.id
        answers = {**anonymous, "page": c.get("/"), "api": c.get("/api/items"), "400": c.get("/?page=0"),
                   "403": c.post("/items/CI-000001/note", data={"text": "x"}), "404": c.get("/nowhere"),
                   "api 404": c.get("/api/items/CI-999999"), "405": c.put("/"),
                   "413": c.post("/items/CI-000001/note", content=b"x" * 100_000,
                                 headers={"content-type": "application/x-www-form-urlencoded"}),
                   "download": c.get(f"/items/CI-000001/attachments/{attachment_id}")}
    assert answers["download"].status_code == 200 and answers["413"].status_code == 413
    for what, r in answers.items():
        assert _has_security_headers(r), what
        cache = r.headers.get("cache-control", "")
        if what.endswith("static"):
            assert r.status_code == 200 and "no-store" not in cache, what
        else:
            assert "no-store" in cache, what
            assert len(r.headers.get_list("cache-control")) == 1, what


def test_a_500_has_the_headers_and_no_traceback(factory, acme, monkeypatch):
    app = create_app(factory)

    def boom(request):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret detail /srv/intake/boom.py")

    app.router.routes.extend([Route("/boom", boom), Route("/api/boom", boom)])
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as c:
        signed_in(c, factory, "lead@example.com", "admin")
        page, api = c.get("/boom"), c.get("/api/boom")
        monkeypatch.setattr(pages, "error_page", boom)  # the error page itself fails too
        bare = c.get("/boom")
    assert page.status_code == api.status_code == bare.status_code == 500
    assert "Something went wrong" in page.text and api.json() == {"error": "internal error; see the server "
                                                                           "log"}
    assert bare.text == "Internal Server Error"
    for r in (page, api, bare):
        assert _has_security_headers(r) and "no-store" in r.headers["cache-control"]
        assert "Traceback" not in r.text and "secret detail" not in r.text and "boom.py" not in r.text


# --- the assignee filter -----------------------------------------------------------------------------------

def test_a_pms_assignee_filter_lists_the_people_of_their_organizations(factory, acme):
    add_user(factory, "ann@example.com", "pm", ("acme.example",), name="Ann Acme")
    add_user(factory, "gil@example.com", "pm", ("globex.example",), name="Gil Globex")
    add_user(factory, "lead@example.com", "admin", name="Lin Lead")
    app = create_app(factory)

    def people(html: str) -> set[str]:
        select = html[html.index('<select name="assignee">'):]
        select = select[:select.index("</select>")]
        return set(re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', select))

    with TestClient(app) as pm, TestClient(app) as lead:
        signed_in(pm, factory, "pat@example.com", "pm", ("acme.example",))
        assert sign_in(lead, "lead@example.com").status_code == 303
        pm_page, lead_page = pm.get("/").text, lead.get("/").text
    assert people(pm_page) == {"Ann Acme", "Pat"}
    assert "Gil Globex" not in pm_page and "Lin Lead" not in pm_page  # nor in the bulk "Assign to" list
    assert people(lead_page) == {"Ann Acme", "Gil Globex", "Lin Lead", "Pat"}
