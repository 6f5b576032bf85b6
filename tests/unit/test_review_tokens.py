"""API tokens you can manage: listed, created (shown once), revoked and expired on the account and person
pages."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update
from starlette.testclient import TestClient

from db.models import ApiToken, User
from db.types import utcnow
from review.accounts import find_user, issue_token, parse_lifetime, revoke_token, token_state
from review.auth import token_hash
from tests.unit.test_review_sessions import PM, browser
from tests.web import add_user

TOKEN = re.compile(r'<code id="new-token-value">(cit_[^<]+)</code>')


def api(app, token: str) -> int:  # type: ignore[no-untyped-def]
    return TestClient(app).get("/api/items", headers={"authorization": f"Bearer {token}"}).status_code


def test_a_token_made_on_the_account_page_is_shown_once_and_revoked_at_once(app, factory):
    client = browser(app, factory)
    r = client.post("/account/tokens", data={"csrf_token": client.csrf, "name": "weekly export",
                                             "expires_in": "90d"}, follow_redirects=False)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    token = TOKEN.search(r.text).group(1)
    assert api(app, token) == 200
    page = client.get("/account").text
    assert token not in page and "weekly export" in page  # listed, never shown again
    with factory() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        assert row.name == "weekly export"
        assert abs(row.expires_at - (row.created_at + timedelta(days=90))) < timedelta(seconds=1)
    assert re.search(rf'<tr data-token="{row.id}".*?Revoke', page, re.S)
    r = client.post(f"/account/tokens/{row.id}/revoke", data={"csrf_token": client.csrf},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert api(app, token) == 401
    page = client.get("/account").text
    assert f"API token {row.id} is revoked" in page
    assert re.search(rf'<tr data-token="{row.id}" id="token-{row.id}" class="inactive">.*?revoked ', page,
                     re.S)


def test_only_ones_own_tokens_are_listed_and_revoked_from_the_account_page(app, factory):
    theirs = add_user(factory, "other@example.com")
    client = browser(app, factory)
    with factory() as s:
        their_id = s.scalar(select(ApiToken.id).where(ApiToken.token_hash == token_hash(theirs)))
    assert f'data-token="{their_id}"' not in client.get("/account").text
    r = client.post(f"/account/tokens/{their_id}/revoke", data={"csrf_token": client.csrf},
                    follow_redirects=False)
    assert r.status_code == 404 and api(app, theirs) == 200
    for bad in ("abc", "0", "99999999999"):
        r = client.post(f"/account/tokens/{bad}/revoke", data={"csrf_token": client.csrf},
                        follow_redirects=False)
        assert r.status_code == 404


def test_the_token_form_offers_lifetimes_and_refuses_others(app, factory):
    client = browser(app, factory)
    page = client.get("/account").text
    tokens = page[page.index('<section id="tokens">'):]
    assert re.findall(r'<option value="([^"]*)"', tokens) == ["", "30d", "90d", "365d"]
    r = client.post("/account/tokens", data={"csrf_token": client.csrf, "name": "x", "expires_in": "9999d"})
    assert r.status_code == 400 and "expires: choose one of the lifetimes offered" in r.text
    r = client.post("/account/tokens", data={"csrf_token": client.csrf, "name": "never ends"})
    token = TOKEN.search(r.text).group(1)
    with factory() as s:
        assert s.scalar(select(ApiToken.expires_at).where(ApiToken.token_hash == token_hash(token))) is None


def test_an_expired_token_is_refused(app, factory):
    add_user(factory, PM)
    with factory.begin() as s:
        token = issue_token(s, find_user(s, PM), "short-lived", timedelta(hours=1))
    assert api(app, token) == 200
    with factory.begin() as s:
        s.execute(update(ApiToken).where(ApiToken.token_hash == token_hash(token))
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert api(app, token) == 401
    with factory() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        assert token_state(row, utcnow()) == "expired"
    assert "expired" in browser(app, factory).get("/account").text


def test_an_admin_manages_a_persons_tokens_on_the_person_page(app, factory, admin):
    pats = add_user(factory, PM)
    with factory() as s:
        pat_id = s.scalar(select(User.id).where(User.email == PM))
    page = admin.get(f"/people/{pat_id}").text
    assert 'id="token-list"' in page and "tests" in page
    r = admin.post(f"/people/{pat_id}/tokens", data={"csrf_token": admin.csrf, "name": "for Pat's script",
                                                     "expires_in": "30d"})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    made = TOKEN.search(r.text).group(1)
    assert api(app, made) == 200 and api(app, pats) == 200
    with factory() as s:
        made_row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(made)))
        assert made_row.user_id == pat_id
    r = admin.post(f"/people/{pat_id}/tokens/{made_row.id}/revoke", data={"csrf_token": admin.csrf},
                   follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/people/{pat_id}"
    assert api(app, made) == 401 and api(app, pats) == 200
    # The token must be the person's: another user's token number on this page is not found.
    with factory() as s:
        admins_token = s.scalar(select(ApiToken.id).join(User).where(User.email == "lead@example.com"))
    r = admin.post(f"/people/{pat_id}/tokens/{admins_token}/revoke", data={"csrf_token": admin.csrf},
                   follow_redirects=False)
    assert r.status_code == 404
    assert admin.get("/api/items").status_code == 200


def test_pms_cannot_manage_other_peoples_tokens(app, factory):
    token = add_user(factory, "other@example.com")
    client = browser(app, factory)
    with factory() as s:
        other_id = s.scalar(select(User.id).where(User.email == "other@example.com"))
        token_id = s.scalar(select(ApiToken.id).where(ApiToken.user_id == other_id))
    assert client.get(f"/people/{other_id}").status_code == 403
    for path in (f"/people/{other_id}/tokens", f"/people/{other_id}/tokens/{token_id}/revoke"):
        assert client.post(path, data={"csrf_token": client.csrf, "name": "mine now"}).status_code == 403
    assert api(app, token) == 200
    with factory() as s:
        assert len(s.scalars(select(ApiToken).where(ApiToken.user_id == other_id)).all()) == 1


def test_lifetimes_and_revocation_rules():
    assert parse_lifetime("90d") == timedelta(days=90) and parse_lifetime(" 12H ") == timedelta(hours=12)
    for bad in ("", "0d", "90", "d", "-1d", "1w", "1.5d", "99999d", "١٢d"):
        try:
            parse_lifetime(bad)
        except ValueError as exc:
            assert "such as 90d or 12h" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
    now = utcnow()
    row = ApiToken(created_at=now, expires_at=now + timedelta(hours=1))
    assert token_state(row, now) == "active" and token_state(row, now + timedelta(hours=1)) == "expired"
    row.revoked_at = now
    assert token_state(row, now) == "revoked"


def test_revoking_twice_keeps_the_first_time(factory):
    token = add_user(factory, PM)
    with factory.begin() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
        first = revoke_token(s, row.id).revoked_at
    with factory.begin() as s:
        assert revoke_token(s, row.id).revoked_at == first
        assert revoke_token(s, row.id + 100) is None
