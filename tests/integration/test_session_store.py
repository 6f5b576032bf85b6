"""The session and token store on SQLite and PostgreSQL: what ends a session or a token ends it at once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from db.models import ApiToken, User, UserSession
from db.types import utcnow
from review.accounts import end_access, find_user
from review.app import create_app
from review.user_sessions import end_sessions, find_session, sessions_of, start_session
from tests.web import add_user, csrf_from, sign_in

pytestmark = pytest.mark.integration
PM = "pm@example.com"


def browser(app):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    assert sign_in(client, PM).status_code == 303
    client.csrf = csrf_from(client.get("/").text)
    return client


def signed_in_now(client) -> bool:  # type: ignore[no-untyped-def]
    return client.get("/", follow_redirects=False).status_code == 200


def test_sessions_and_tokens_end_at_once_on_each_database(db):
    token = add_user(db, PM)
    app = create_app(db)
    here, phone = browser(app), browser(app)
    stolen = TestClient(app, cookies={"intake_session": phone.cookies["intake_session"]})
    assert signed_in_now(stolen)
    with db() as s:
        assert s.scalar(select(func.count(UserSession.id))) == 2
        first_seen = s.scalar(select(func.min(UserSession.last_seen_at)))
    for _ in range(3):
        assert signed_in_now(here)
    with db() as s:
        assert s.scalar(select(func.min(UserSession.last_seen_at))) == first_seen  # no write per request

    r = phone.post("/logout", data={"csrf_token": phone.csrf}, follow_redirects=False)
    assert r.status_code == 303 and not signed_in_now(stolen) and signed_in_now(here)

    third = browser(app)
    r = here.post("/account/sessions/end-others", data={"csrf_token": here.csrf}, follow_redirects=False)
    assert r.status_code == 303 and not signed_in_now(third) and signed_in_now(here)

    api = TestClient(app, headers={"authorization": f"Bearer {token}"})
    assert api.get("/api/items").status_code == 200
    with db() as s:
        token_id = s.scalar(select(ApiToken.id))
    here.post(f"/account/tokens/{token_id}/revoke", data={"csrf_token": here.csrf})
    assert api.get("/api/items").status_code == 401

    with db.begin() as s:
        s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not signed_in_now(here)


def test_the_store_functions_on_each_database(db):
    add_user(db, PM)
    now = utcnow()
    with db.begin() as s:
        user = find_user(s, PM)
        opened = [start_session(s, user, timedelta(hours=1), "2001:db8::1", "x" * 1000,
                                now) for _ in range(3)]
        stale = start_session(s, user, timedelta(seconds=1), "192.0.2.9", "old", now - timedelta(hours=1))
    with db() as s:
        assert find_session(s, opened[0].key, now) is not None
        assert find_session(s, stale.key, now) is None  # expired
        rows = sessions_of(s, opened[0].viewer.id, now)
        assert {r.id for r in rows} == {o.id for o in opened}
        assert all(len(r.user_agent) == 300 and r.client_address == "2001:db8::1" for r in rows)
    with db.begin() as s:
        assert end_sessions(s, opened[0].viewer.id, now, keep=opened[0].id) == 2
    with db() as s:
        assert find_session(s, opened[0].key, now) is not None and find_session(s, opened[1].key, now) is None
        assert s.scalar(select(func.count(UserSession.id))) == 1  # the expired row went too
    with db.begin() as s:
        ended = end_access(s, opened[0].viewer.id, now)
        assert (ended.sessions, ended.tokens) == (1, 1)
        s.get(User, opened[0].viewer.id).active = False
    with db.begin() as s:
        fresh = start_session(s, find_user(s, PM), timedelta(hours=1), "", "", now)
    with db() as s:
        assert find_session(s, fresh.key, now) is None  # a disabled account's session signs nobody in
