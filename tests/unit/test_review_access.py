"""Sign-in, sessions, CSRF, API tokens and organization limits of the review app, over HTTP."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select
from starlette.routing import Route
from starlette.testclient import TestClient

from db.models import ApiToken, Event, Item, User
from review.accounts import find_user, set_password
from review.app import create_app
from review.auth import LoginLimiter
from review.guard import PUBLIC_PREFIXES, safe_next
from review.settings import WebSettings
from tests.unit.test_review_app import add_item
from tests.web import PASSWORD, add_user, csrf_from, sign_in, signed_in, two_clients

REF = "CI-000001"


@pytest.fixture
def two_orgs(factory):
    """CI-000001 from Acme, CI-000002 from Globex, CI-000003 from a free-mail sender of no organization."""
    with factory.begin() as s:
        acme, globex = two_clients(s)
        add_item(s, 1, email="anna@acme.example", subject="Acme export fails")
        add_item(s, 2, email="bo@globex.example", subject="Globex invoice question", category="question")
        add_item(s, 3, email="someone@mail.example", subject="Free-mail feedback", category="feedback")


def _concrete(path: str) -> str:
    return (path.replace("{ref}", REF).replace("{path:path}", "style.css").replace("{attachment_id}", "1")
            .replace("{user_id}", "1"))


def _routes(app, api: bool, method: str) -> list[str]:
    found = []
    for r in app.routes:
        if isinstance(r, Route) and method in (r.methods or ()):
            if r.path in ("/login", "/healthz", "/readyz") or r.path.startswith("/api") != api:
                continue
            # the clients' pages: their token is the key (test_client_pages)
            if r.path.startswith(PUBLIC_PREFIXES):
                continue
            found.append(_concrete(r.path))
    assert found, f"no {method} routes found"
    return found


def test_every_page_sends_anonymous_users_to_sign_in(app, factory, two_orgs):
    with TestClient(app) as c:
        for path in _routes(app, api=False, method="GET"):
            r = c.get(path, follow_redirects=False)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login?next="), path
            assert REF not in r.text
        for path in _routes(app, api=False, method="POST"):
            r = c.post(path, data={"category": "issue"}, follow_redirects=False)
            assert r.status_code in (303, 403), path
        with factory() as s:
            assert s.scalar(select(Event).where(Event.kind == "corrected")) is None
        login = c.get("/login")
        assert login.status_code == 200 and 'name="password"' in login.text


def test_every_api_route_refuses_anonymous_and_bad_tokens(app, factory, two_orgs):
    with TestClient(app) as c:
        for headers in ({}, {"authorization": "Bearer cit_not-a-real-token"},
                        {"authorization": "Basic eDp5"}):
            for method in ("GET", "POST"):
                for path in _routes(app, api=True, method=method) if method == "GET" or headers else []:
                    r = c.request(method, path, headers=headers, json={"category": "issue"})
                    assert r.status_code == 401, (method, path, headers)
                    assert ("Bearer" in r.json()["error"]
                            and r.headers["www-authenticate"].startswith("Bearer"))
        assert c.get("/healthz").status_code == 200
        assert c.get("/readyz").json() == {"ok": True, "database": "ok"}  # says nothing about the data


def test_sign_in_then_out(app, factory, two_orgs):
    add_user(factory, "lead@example.com", "admin", name="Lin Lead")
    with TestClient(app) as c:
        r = sign_in(c, "LEAD@example.com ")
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert ("httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
                and "secure" not in cookie.lower())
        queue = c.get("/")
        assert queue.status_code == 200 and "Lin Lead" in queue.text and REF in queue.text
        r = c.post("/logout", data={"csrf_token": csrf_from(queue.text)}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert c.get("/", follow_redirects=False).status_code == 303


def test_sign_in_returns_to_the_page_asked_for_but_never_off_site(app, factory, two_orgs):
    add_user(factory, "lead@example.com", "admin")
    with TestClient(app) as c:
        r = c.get(f"/items/{REF}?x=1", follow_redirects=False)
        assert r.headers["location"] == "/login?next=%2Fitems%2FCI-000001%3Fx%3D1"
        page = c.get(r.headers["location"])
        r = c.post("/login", data={"email": "lead@example.com", "password": PASSWORD,
                                   "csrf_token": csrf_from(page.text), "next": f"/items/{REF}?x=1"},
                   follow_redirects=False)
        assert r.headers["location"] == f"/items/{REF}?x=1"
    for bad in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "",
                None):
        assert safe_next(bad) == "/"


def test_wrong_passwords_and_unknown_users_get_one_message(app, factory):
    add_user(factory, "pm@example.com")
    with TestClient(app) as c:
        wrong = sign_in(c, "pm@example.com", "not the password")
        unknown = sign_in(c, "nobody@example.com", "not the password")
        empty = sign_in(c, "pm@example.com", "")
        for r in (wrong, unknown, empty):
            assert r.status_code == 401 and "The email or password is not right." in r.text
        assert c.get("/", follow_redirects=False).status_code == 303


def test_failed_sign_ins_are_limited_per_account(factory):
    add_user(factory, "pm@example.com")
    app = create_app(factory, WebSettings(login_failures=3, login_window=600))
    with TestClient(app) as c:
        for _ in range(3):
            assert sign_in(c, "pm@example.com", "guess guess guess").status_code == 401
        r = sign_in(c, "pm@example.com")  # right password, but too late
        assert r.status_code == 429 and "Too many failed sign-ins" in r.text
        assert c.get("/", follow_redirects=False).status_code == 303


def test_limiter_window_and_reset():
    now = [1000.0]
    lim = LoginLimiter(max_failures=2, window=60, clock=lambda: now[0])
    lim.failed("a")
    assert lim.retry_after("a") == 0
    lim.failed("a")
    assert lim.retry_after("a") == pytest.approx(60)
    assert lim.retry_after("b") == 0
    now[0] += 30
    assert lim.retry_after("a", "b") == pytest.approx(30)
    now[0] += 31
    assert lim.retry_after("a") == 0
    lim.failed("a")
    lim.failed("a")
    lim.succeeded("a")
    assert lim.retry_after("a") == 0


def test_forms_without_the_right_csrf_token_are_refused(app, factory, two_orgs):
    with TestClient(app) as c:
        signed_in(c, factory)
        del c.headers["authorization"]  # a browser: session cookie only
        posts = _routes(app, api=False, method="POST") + ["/login"]
        for path in posts:
            for form in ({"category": "question"}, {"category": "question", "csrf_token": "forged"},
                         {"category": "question", "csrf_token": ""}):
                r = c.post(path, data=form, follow_redirects=False)
                assert r.status_code == 403, (path, form)
                assert "expired or was not sent from this site" in r.text
        with factory() as s:
            assert s.scalar(select(Item.category).where(Item.ref == REF)) == "issue"
        assert c.get("/").status_code == 200  # still signed in: the logout post was refused too
        # The token of another session does not work either.
        with TestClient(app) as other:
            signed_in(other, factory, email="other@example.com")
            r = c.post(f"/items/{REF}/category", data={"category": "question", "csrf_token": other.csrf},
                       follow_redirects=False)
            assert r.status_code == 403


def test_a_password_change_ends_existing_sessions(app, factory, two_orgs):
    with TestClient(app) as c:
        signed_in(c, factory, email="pm@example.com")
        del c.headers["authorization"]
        assert c.get("/").status_code == 200
        with factory.begin() as s:
            set_password(find_user(s, "pm@example.com"), "a brand new passphrase")
        assert c.get("/", follow_redirects=False).status_code == 303
        assert sign_in(c, "pm@example.com", "a brand new passphrase").status_code == 303


def test_disabled_users_and_revoked_tokens_are_refused(app, factory, two_orgs):
    with TestClient(app) as c:
        signed_in(c, factory, email="pm@example.com")
        assert c.get("/api/items").status_code == 200
        with factory.begin() as s:
            for t in s.scalars(select(ApiToken)):
                t.revoked_at = t.created_at
        assert c.get("/api/items").status_code == 401
        with factory.begin() as s:
            find_user(s, "pm@example.com").active = False
        del c.headers["authorization"]
        assert c.get("/", follow_redirects=False).status_code == 303


def test_tokens_are_stored_hashed_and_passwords_with_argon2(factory):
    token = add_user(factory, "pm@example.com")
    with factory() as s:
        user = s.scalar(select(User))
        stored = s.scalar(select(ApiToken.token_hash))
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
    assert token.startswith("cit_") and len(token) > 40 and token not in stored and len(stored) == 64


def test_secure_cookies_when_served_over_https(factory):
    add_user(factory, "pm@example.com")
    app = create_app(factory, WebSettings(https_only=True))
    with TestClient(app, base_url="https://review.example") as c:
        r = sign_in(c, "pm@example.com")
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


# --- organizations ------------------------------------------------------------------------------


def _refs(html: str) -> list[str]:
    return re.findall(r'data-ref="([^"]+)"', html)


def test_a_pm_sees_and_changes_only_their_organizations_items(app, factory, two_orgs):
    with TestClient(app) as c:
        signed_in(c, factory, email="pm@example.com", role="pm", orgs=("acme.example",))
        assert _refs(c.get("/").text) == [REF]
        assert [i["ref"] for i in c.get("/api/items").json()["items"]] == [REF]
        assert c.get("/api/items").json()["total"] == 1
        assert c.get(f"/items/{REF}").status_code == 200
        for other in ("CI-000002", "CI-000003"):
            assert c.get(f"/items/{other}").status_code == 404
            assert other not in c.get(f"/items/{other}").text.replace(f"reference {other}", "")
            assert c.get(f"/api/items/{other}").status_code == 404
            assert c.post(f"/items/{other}/category", data={"category": "issue", "csrf_token": c.csrf},
                          follow_redirects=False).status_code == 404
            assert c.post(f"/api/items/{other}/category", json={"category": "issue"}).status_code == 404
        with factory() as s:
            assert s.scalar(select(Event).where(Event.kind == "corrected")) is None
        r = c.post(f"/api/items/{REF}/category", json={"category": "question"})
        assert r.status_code == 200 and r.json()["to"] == "question"


def test_admins_see_every_organization_and_pms_without_organizations_see_nothing(app, factory, two_orgs):
    with TestClient(app) as admin:
        signed_in(admin, factory, email="lead@example.com", role="admin")
        assert sorted(_refs(admin.get("/").text)) == ["CI-000001", "CI-000002", "CI-000003"]
    with TestClient(app) as pm:
        signed_in(pm, factory, email="new@example.com", role="pm")
        assert _refs(pm.get("/").text) == [] and pm.get("/api/items").json()["total"] == 0


def test_token_use_is_noted_to_the_minute(app, factory, two_orgs):
    with TestClient(app) as c:
        signed_in(c, factory, email="pm@example.com")
        assert c.get("/api/items").status_code == 200
        with factory() as s:
            first = s.scalar(select(ApiToken.last_used_at))
        assert first is not None
        assert c.get("/api/items").status_code == 200  # within the minute: no write
        with factory.begin() as s:
            assert s.scalar(select(ApiToken.last_used_at)) == first
            s.scalar(select(ApiToken)).last_used_at = first - timedelta(minutes=2)
        assert c.get("/api/items").status_code == 200
        with factory() as s:
            assert s.scalar(select(ApiToken.last_used_at)) > first
