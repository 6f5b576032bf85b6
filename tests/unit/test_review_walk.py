"""Every route of the review app, pages and API, as admin and as PM, with hostile values in every parameter it
reads: never a 500, always the security headers, and nothing but the static files cacheable."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from starlette.datastructures import FormData, ImmutableMultiDict, QueryParams
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import Attachment, Contact, Item, Message, User
from db.status_links import new_link
from db.types import utcnow
from responders.client_mail import ClientMailSettings, schedule_survey
from responders.links import SurveyLinks
from review import auth
from review.app import create_app
from tests.unit.test_review_app import add_item
from tests.unit.test_review_quarantine import add_quarantined
from tests.web import add_user, signed_in, two_clients

HOSTILE = ["\u00b2", "\u0661\u0662", "-1", "0", "99999999999999999999", "1e9", " 1", "1 ", "0x1f", "",
           "x" * 10_000,
           "\x00", "%00", "../..", "<script>alert(1)</script>", "9999-12-31", "0001-01-01", "2026-02-30"]
# What a JSON field may hold besides those strings: other types, numbers past every bound, nesting.
HOSTILE_JSON = [None, True, -1, 0, 2**31, 10**20, 10**400, 1e9, 1.5, 1e400, [], {}, ["CI-000001"], {"a": 1},
                json.loads("[" * 100 + "]" * 100)]
DEEP = 20_000
# Whole bodies, for every route that reads JSON: (content type, body).
HOSTILE_BODIES = [
    (None, b'{"category": "issue"}'), ("text/plain", b'{"category": "issue"}'),
    ("application/x-www-form-urlencoded", b"category=issue"), ("multipart/form-data; boundary=x", b"--x--"),
    ("application/json", b""), ("application/json", b"not json"), ("application/json", b"[]"),
    ("application/json", b'"x"'), ("application/json", b"1"), ("application/json", b"null"),
    ("application/json", b"[" * DEEP + b"]" * DEEP),
    ("application/json", b'{"a":' * (DEEP // 2) + b"1" + b"}" * (DEEP // 2)),  # 60 KB: within the size limit
    ("application/json", b"\xff\xfe{}"), ("application/json", b"\xef\xbb\xbf{}"),
    ("application/json", b'{"x": NaN}'), ("application/json", b'{"x": -Infinity}'),
    ("application/json", b'{"assignee": ' + b"1" * 5000 + b"}"),
    ("application/json", b'{"text": "a\\u0000b"}'),
    ("application/json", b'{"category": "issue", "category": "\\ud800"}'),
    ("application/json", b" " * 100_000),
    ("application/json; charset=latin-1", b'{"category": "issue"}'),
]
# Whole bodies for the form routes: anything but a form with this session's CSRF token.
HOSTILE_FORMS = [
    (None, b""), ("application/json", b'{"csrf_token": "x"}'), ("text/plain", b"csrf_token=x"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data; name=\"text\"; "
                                        b"filename=\"a.txt\"\r\n\r\nhello\r\n--x--\r\n"),
    ("multipart/form-data", b"no boundary"), ("application/x-www-form-urlencoded", b"%ZZ=%ZZ&&&=&csrf_token"),
    ("application/x-www-form-urlencoded", b"a=" + b"x" * 100_000),
    ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % n for n in range(5000))),
]
HOSTILE_HEADERS = [("accept-language", v) for v in ("zh;q=nan", "zh;q=inf", "*;q=1e999", "x" * 10_000,
                                                    ",,;;=")] + [
    ("referer", v) for v in ("http://[::1", "http://testserver/\x7f", "//evil.example/", "x" * 10_000)]
SECURITY = {"content-security-policy": "default-src 'none'", "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin", "x-frame-options": "DENY"}
# the walk must never sign in afresh: that would change the CSRF token
PASSWORD_WRONG = "not the password, ever"


@dataclass(frozen=True)
class Reads:
    """What a route reads. PATH maps each path parameter to the world's valid value for it; QUERY, FORM and
    JSON map each field to a valid value (None: left out unless it is the one being tried)."""

    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, str | None] = field(default_factory=dict)
    form: dict[str, str | None] = field(default_factory=dict)
    json: dict[str, object] = field(default_factory=dict)
    discover: bool = True  # False for a route whose valid request would end the walk (signing out)


QUEUE = {"q": "login", "category": "issue", "status": "new", "sla": "on_track", "assignee": "me", "org": None,
         "since": "2026-01-01", "until": "2026-12-31", "review": "0", "follow_up": "0", "sort": "oldest",
         "page": "1", "mine": "1"}
REF = {"ref": "ref"}
# Every route by name. A new route must be added here (the test fails until it is), with every parameter it
# reads.
TABLE: dict[str, Reads] = {
    "login_page": Reads(query={"next": "/"}),
    "login": Reads(query={"next": "/"}, form={"email": "lead@example.com", "password": PASSWORD_WRONG,
                                              "next": "/"}),
    "logout": Reads(discover=False),
    "language": Reads(form={"language": "en"}),
    "queue": Reads(query=QUEUE),
    "item": Reads(path=REF, query={"template": None}),
    "replies": Reads(),
    "add_reply_template": Reads(form={"name": "walk", "category": "", "lang": "en", "body": "Hello {name}"}),
    "delete_reply_template": Reads(path={"template_id": "missing"}),
    "bulk": Reads(form={"ref": "CI-000001", "action": "category:issue", "back": "/", "confirm": None}),
    "change_category": Reads(path=REF, form={"category": "issue"}),
    "assign": Reads(path=REF, form={"assignee": ""}),
    "change_status": Reads(path=REF, form={"status": "new", "confirm": None}),
    "add_note": Reads(path=REF, form={"text": "A note."}),
    "follow_up": Reads(path=REF, form={"on": "0"}),
    "reply": Reads(path=REF, form={"text": "Thank you.", "cc": None}),
    "assess": Reads(path={"ref": "change_ref"}, form={"scope": "Two screens.", "cost": "3 days",
                                                      "schedule": "May"}),
    "send_assessment": Reads(path={"ref": "change_ref"}, form={"cc": None}),
    "organizations": Reads(),
    "unaffiliated": Reads(query={"page": "1"}),
    "organization": Reads(path={"id": "acme"}, query={"page": "1"}),
    "organization_settings": Reads(path={"organization_id": "acme"}, form={"tier": "", "client_digest": "0",
                                                                                            "name": None}),
    "contact": Reads(path={"id": "anna"}, query={"page": "1", "items": "1"}),
    "attachment": Reads(path={"ref": "ref", "attachment_id": "attachment"}),
    "people": Reads(),
    "person": Reads(path={"user_id": "other"}),
    "person_save": Reads(path={"user_id": "other"}, form={"role": "pm", "active": "1", "organization": None}),
    "quarantine": Reads(query={"page": "1", "done": None}),
    "quarantine_raw": Reads(path={"message_id": "quarantined"}),
    "quarantine_retry": Reads(path={"message_id": "quarantined"}, form={"page": "1"}),
    "quarantine_delete": Reads(path={"message_id": "missing"}, form={"page": "1"}),
    "webhooks": Reads(query={"target": "ops", "status": "failed", "page": "1", "done": None}),
    "webhook_retry": Reads(path={"delivery": "missing"}),
    "sla_policies": Reads(),
    "sla_report": Reads(query={"since": "2026-11-01", "until": "2026-11-30", "by": "week", "format": "html"}),
    "api_items": Reads(query=QUEUE),
    "api_item": Reads(path=REF),
    "api_change_category": Reads(path=REF, json={"category": "issue"}),
    "api_messages": Reads(path=REF),
    "api_schema": Reads(),
    "healthz": Reads(),
    "readyz": Reads(),
    "privacy": Reads(query={"done": None}),
    "privacy_export": Reads(form={"email": "anna@acme.example"}),
    "privacy_erase": Reads(form={"email": "nobody@acme.example", "confirm": "nobody@acme.example"}),
    "api_status": Reads(path=REF, json={"status": "new"}),
    "api_assignee": Reads(path=REF, json={"assignee": None}),
    "api_note": Reads(path=REF, json={"text": "A note."}),
    "api_reply": Reads(path=REF, json={"text": "Thank you.", "cc": []}),
    "api_corrections": Reads(),
    "api_webhooks": Reads(),
    "api_webhook_deliveries": Reads(query={"target": "ops", "status": "sent", "page": "1"}),
    "account": Reads(),
    "account_password": Reads(form={"current": PASSWORD_WRONG, "new": "a new password 1",
                                    "again": "a new password 1"}),
    "account_end_others": Reads(),
    "account_end_session": Reads(path={"session_id": "missing"}),
    "account_time_zone": Reads(form={"time_zone": "Asia/Shanghai"}),
    "account_new_token": Reads(form={"name": "walk", "expires_in": "30d"}),
    "account_revoke_token": Reads(path={"token_id": "missing"}),
    "person_end_sessions": Reads(path={"user_id": "other"}),
    "person_end_session": Reads(path={"user_id": "other", "session_id": "missing"}),
    "person_new_token": Reads(path={"user_id": "other"}, form={"name": "walk", "expires_in": ""}),
    "person_revoke_token": Reads(path={"user_id": "other", "token_id": "missing"}),
    "new_status_link": Reads(path=REF),
    "api_status_link": Reads(path=REF),
    "api_item_survey": Reads(path=REF),
    "api_surveys": Reads(query={"rated": "1"}),
    "client_status": Reads(path={"token": "status_token"}),
    "client_survey": Reads(path={"token": "survey_token", "action": "rating"},
                           query={"saved": None, "rated": None},
                           form={"comment": None, "rating": None}),
    "client_unsubscribe": Reads(path={"token": "survey_token"}),
    "static": Reads(path={"path": "style"}),
    "report_static": Reads(path={"path": "report_style"}),
}


@dataclass
class Walk:
    """The responses that went wrong, and how many requests were sent."""

    problems: list[str] = field(default_factory=list)
    requests: int = 0

    def check(self, who: str, what: str, response) -> None:  # type: ignore[no-untyped-def]
        self.requests += 1
        where = f"{who} {what[:160]!r} -> {response.status_code}"
        if response.status_code >= 500:
            self.problems.append(f"{where}: {response.text[:200]!r}")
        for name, wanted in SECURITY.items():
            if wanted not in response.headers.get(name, ""):
                self.problems.append(f"{where}: no {name}")
        static = what.split(" ", 1)[1].startswith("/static/")
        if not static and "no-store" not in response.headers.get("cache-control", ""):
            self.problems.append(f"{where}: no Cache-Control: no-store")


@pytest.fixture
def cheap_passwords(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Password hashing at its cheapest: the walk signs in with wrong passwords dozens of times, and what it
    tests is the input around the hashing, not the hashing (argon2id at full strength takes 50-400 ms)."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(auth, "_hasher", cheap)
    monkeypatch.setattr(auth, "_DUMMY_HASH", cheap.hash("not anyone's password"))


@pytest.fixture
def world(factory, cheap_passwords) -> dict[str, str]:
    return build_world(factory)


def build_world(factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Two client organizations with items (an issue with an attachment, a change request), a quarantined
    message, and a third person for the people pages; the valid value of every path parameter."""
    with factory.begin() as s:
        acme, globex = two_clients(s)
        issue = add_item(s, 1, email="anna@acme.example")
        add_item(s, 2, email="anna@acme.example", category="change_request", subject="Add a report")
        add_item(s, 3, email="bo@globex.example", category="question", subject="Invoices?")
        message = s.scalar(select(Message).where(Message.item_id == issue.id))
        attachment = Attachment(filename="log.txt", content_type="text/plain", size=3, sha256="a" * 64)
        message.attachments.append(attachment)
        s.flush()
        ids = {"acme": acme.id,
               "anna": s.scalar(select(Contact.id).where(Contact.email == "anna@acme.example")),
               "attachment": attachment.id}
    add_user(factory, "other@example.com", "pm", ("globex.example",))
    with factory() as s:
        other = s.scalar(select(User.id).where(User.email == "other@example.com"))
    return {**{k: str(v) for k, v in ids.items()}, "ref": "CI-000001", "change_ref": "CI-000002",
            "other": str(other), "quarantined": str(add_quarantined(factory, 1)), "missing": "999999",
            "style": "style.css", "report_style": "sla.css", **client_tokens(factory)}


# The clients' pages read signed survey links: the walk's app signs them with this key.
WALK_MAIL = ClientMailSettings(survey_links=SurveyLinks("w" * 48))


def client_tokens(factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """A status link and a survey link of CI-000001, and a rating."""
    with factory.begin() as s:
        item = s.scalar(select(Item).where(Item.ref == "CI-000001"))
        status_token = new_link(s, item.id, utcnow())
        item.status = "resolved"
        survey = schedule_survey(s, item, WALK_MAIL, utcnow())
        assert survey is not None
        item.status = "new"
        return {"status_token": status_token,
                "survey_token": WALK_MAIL.survey_links.token(survey.id, item.id),
                "rating": "3"}


@pytest.fixture
def app(factory):  # type: ignore[no-untyped-def]
    return create_app(factory, client_mail=WALK_MAIL)


@contextmanager
def recording() -> Iterator[list[tuple[str, str]]]:
    """Records every query parameter and form field the app reads, as ("query" | "form", name)."""
    seen: list[tuple[str, str]] = []
    kinds = {QueryParams: "query", FormData: "form"}
    with pytest.MonkeyPatch.context() as patch:
        for method in ("__getitem__", "getlist", "__contains__"):  # get() goes through __getitem__
            original = getattr(ImmutableMultiDict, method)

            def spy(self, key, _original=original):  # type: ignore[no-untyped-def]
                if type(self) in kinds:
                    seen.append((kinds[type(self)], key))
                return _original(self, key)

            patch.setattr(ImmutableMultiDict, method, spy)
        yield seen


def _routes(app) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(name, method, path template) of every route and mount; HEAD is GET's twin and left out."""
    found = []
    for r in app.routes:
        if isinstance(r, Route):
            found += [(r.name, m, r.path) for m in sorted(r.methods or ()) if m != "HEAD"]
        elif isinstance(r, Mount):
            found.append((r.name, "GET", r.path + "/{path}"))
    return found


def _url(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(value, safe=""))
    return template


def _send(client, method: str, url: str, reads: Reads, *,
          form: dict | None = None,  # type: ignore[no-untyped-def]
          body: dict | None = None, raw: tuple[str | None, bytes] | None = None, headers: dict | None = None):
    extra = dict(headers or {})
    if raw is not None:
        content_type, content = raw
        if content_type:
            extra["content-type"] = content_type
        return client.request(method, url, content=content, headers=extra)
    if reads.json or body is not None:
        return client.request(method, url, content=json.dumps(body if body is not None
                                                              else reads.json).encode(),
                              headers={"content-type": "application/json", **extra})
    if method == "POST":
        data = {"csrf_token": client.csrf, **{k: v for k, v in (form or {}).items() if v is not None}}
        return client.request(method, url, data=data, headers=extra)
    return client.request(method, url, headers=extra)


def _valid(reads: Reads, world: dict[str, str]) -> dict[str, str]:
    return {name: world[key] for name, key in reads.path.items()}


def test_every_route_has_an_entry_and_reads_nothing_else(app, factory, world):
    routes = _routes(app)
    names = {name for name, _method, _path in routes}
    assert not names - TABLE.keys(), ("routes without an entry in TABLE (add what they read): "
                                      f"{names - TABLE.keys()}")
    assert not TABLE.keys() - names, f"entries in TABLE for routes that are gone: {TABLE.keys() - names}"
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as c:
        signed_in(c, factory, "lead@example.com", "admin")
        with recording() as seen:
            unread = []
            for name, method, template in routes:
                reads = TABLE[name]
                if not reads.discover:
                    continue
                seen.clear()
                url = _url(template, _valid(reads, world))
                query = {k: v for k, v in reads.query.items() if v is not None}
                r = _send(c, method, url + ("?" + "&".join(f"{k}={quote(v)}" for k, v in query.items())
                                            if query else ""), reads, form=reads.form)
                assert r.status_code < 500, (name, r.text[:300])
                declared = {("query", k) for k in reads.query} | {("form", k) for k in reads.form}
                unread += [f"{name} reads {kind} {key!r}" for kind, key in seen
                           if (kind, key) not in declared and key != "csrf_token"]
    assert not unread, f"add to TABLE: {sorted(set(unread))}"


def _with_query(url: str, query: dict[str, str]) -> str:
    return url + ("?" + "&".join(f"{quote(k)}={quote(v, safe='')}" for k,
                                 v in query.items()) if query else "")


def _cases(reads: Reads, method: str, template: str, world: dict[str, str],
           shared: bool, values: list[str] = HOSTILE) -> Iterator[tuple[str, str, dict]]:
    """(what, url, how to send) for each hostile value in each parameter of a route; SHARED adds the cases
    that do not depend on who asks (the CSRF token and whole bodies are read before anything else)."""
    valid = _valid(reads, world)
    query = {k: v for k, v in reads.query.items() if v is not None}
    url = _url(template, valid)
    for param in reads.path:
        for value in values:
            yield "", _with_query(_url(template, {**valid, param: value}), query), {"form": reads.form}
    for param in reads.query:
        for value in values:
            yield "", _with_query(url, {**query, param: value}), {"form": reads.form}
        yield "(repeated)", url + f"?{param}=1&{param}=2", {"form": reads.form}
    for param in reads.form:
        for value in values:
            yield f"form {param}={value[:20]!r}", url, {"form": {**reads.form, param: value}}
    for param in reads.json:
        for value in values + (HOSTILE_JSON if values is HOSTILE else []):
            yield f"json {param}={str(value)[:20]!r}", url, {"body": {**reads.json, param: value}}
    if not shared:
        return
    if method == "POST" and not reads.json:
        for value in values:
            yield f"csrf_token={value[:20]!r}", url, {"raw": ("application/x-www-form-urlencoded",
                                                              b"csrf_token=" + quote(value).encode())}
        for raw in HOSTILE_FORMS:
            yield f"body {raw[0]} {raw[1][:30]!r}", url, {"raw": raw}
    if reads.json:
        for raw in HOSTILE_BODIES:
            yield f"body {raw[0]} {raw[1][:30]!r}", url, {"raw": raw}


def test_hostile_values_in_every_parameter_never_give_500(factory, world, capsys):
    """Pages as an admin and as a PM, the API with a PM's token; the cases that do not depend on who asks
    (CSRF tokens, whole bodies) once."""
    walk_every_route(factory, world, HOSTILE, capsys)


# PostgreSQL refuses NUL in text where SQLite stores it: every text a request can carry is tried there too.
NUL_VALUES = ["\x00", "a\x00b", "%00", "\x01\x7f"]


def test_nul_and_control_values_on_postgresql(pg_url, cheap_passwords, capsys):
    engine = make_engine(pg_url)
    upgrade(engine)
    factory = make_sessionmaker(engine)
    try:
        walk_every_route(factory, build_world(factory), NUL_VALUES, capsys)
    finally:
        engine.dispose()


def walk_every_route(factory, world: dict[str, str], values: list[str],
                     capsys) -> None:  # type: ignore[no-untyped-def]
    """Sends VALUES into every parameter of every route and fails on any 500 or missing security header."""
    app = create_app(factory, client_mail=WALK_MAIL)
    walk, started, cases = Walk(), time.monotonic(), 0
    routes = _routes(app)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as admin, \
            TestClient(app, raise_server_exceptions=False, follow_redirects=False) as pm:
        signed_in(admin, factory, "lead@example.com", "admin")
        signed_in(pm, factory, "pat@example.com", "pm", ("acme.example",))
        for name, method, template in routes:
            reads = TABLE[name]
            users = [("pm token", pm)] if template.startswith("/api/") else [("admin", admin), ("pm", pm)]
            for n, (who, client) in enumerate(users):
                for what, url, how in _cases(reads, method, template, world, shared=n == 0, values=values):
                    cases += 1
                    walk.check(who, f"{method} {url} {what}", _send(client, method, url, reads, **how))
        for who, client in (("admin", admin), ("pm", pm)):
            for header, value in HOSTILE_HEADERS:
                for method, url in (("GET", "/"), ("GET", "/api/items"), ("POST", "/language")):
                    cases += 1
                    walk.check(who, f"{method} {url} {header}={value[:20]!r}",
                               _send(client, method, url, TABLE["language"], form={"language": "en"},
                                     headers={header: value.encode("utf-8")}))
    seconds = time.monotonic() - started
    with capsys.disabled():
        print(f"\nwalk: {len(routes)} routes, {cases} cases, {walk.requests} requests in {seconds:.1f} s")
    assert not walk.problems, f"{len(walk.problems)} problems, first ones:\n" + "\n".join(walk.problems[:30])
