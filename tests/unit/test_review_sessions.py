"""Server-side sessions over HTTP: what ends a session (and a copy of its cookie), what leaves the others
alone."""
from __future__ import annotations

import base64
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update
from starlette.testclient import TestClient

from cli.main import main
from db.models import ApiToken, User, UserSession
from db.types import utcnow
from review.auth import token_hash
from tests.web import PASSWORD, add_user, csrf_from, sign_in, signed_in

COOKIE = "intake_session"
PM = "pm@example.com"


def browser(app, factory, email: str = PM, role: str = "pm"):  # type: ignore[no-untyped-def]
    """A TestClient signed in as EMAIL (made an account first when it has none), with no API token:
    what it can do, its session cookie does."""
    with factory() as s:
        known = s.scalar(select(User).where(User.email == email)) is not None
    client = TestClient(app)
    if known:
        assert sign_in(client, email).status_code == 303
        client.csrf = csrf_from(client.get("/").text)
    else:
        signed_in(client, factory, email=email, role=role)
        del client.headers["authorization"]
    return client


def copy_of(app, client):  # type: ignore[no-untyped-def]
    """Another browser holding a copy of CLIENT's session cookie, as someone who took it would."""
    return TestClient(app, cookies={COOKIE: client.cookies[COOKIE]})


def signed_in_now(client) -> bool:  # type: ignore[no-untyped-def]
    r = client.get("/", follow_redirects=False)
    assert r.status_code in (200, 303), r.status_code
    if r.status_code == 303:
        assert r.headers["location"].startswith("/login?next=")
    return r.status_code == 200


def cookie_key(client) -> str:  # type: ignore[no-untyped-def]
    """The session key in CLIENT's cookie (the part before the signature is base64 JSON)."""
    payload = client.cookies[COOKIE].split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert list(data) == ["sid"], data  # no user id, no CSRF token, no notice: nothing but the key
    return data["sid"]


def session_id(factory, client) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(select(UserSession.id).where(UserSession.key_hash == token_hash(cookie_key(client))))


def sessions_in_table(factory, email: str = PM) -> int:
    with factory() as s:
        return s.scalar(select(func.count(UserSession.id)).join(User, User.id == UserSession.user_id)
                        .where(User.email == email)) or 0


def test_the_cookie_holds_only_the_key_and_the_table_only_its_hash(app, factory):
    client = browser(app, factory)
    key = cookie_key(client)
    with factory() as s:
        row = s.scalar(select(UserSession))
        assert row.key_hash == token_hash(key) and key not in row.key_hash
        assert row.csrf_secret == client.csrf and row.csrf_secret not in client.cookies[COOKIE]
        assert row.expires_at - row.created_at == timedelta(hours=12)
        assert row.user_agent.startswith("testclient") and row.client_address == "testclient"
    # Page views leave the cookie alone: it is set at sign-in, never re-signed (and so never prolonged).
    assert "set-cookie" not in client.get("/account").headers


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, factory):
    client = browser(app, factory)
    stolen = copy_of(app, client)
    assert signed_in_now(stolen)
    r = client.post("/logout", data={"csrf_token": client.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not signed_in_now(stolen)
    assert not signed_in_now(client)
    assert sessions_in_table(factory) == 0
    # The copy's forms are refused as well: no session, no CSRF token, nothing changes.
    r = stolen.post("/language", data={"csrf_token": client.csrf, "language": "zh"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_signing_out_of_one_session_leaves_the_others(app, factory):
    laptop, phone = browser(app, factory), browser(app, factory)
    assert sessions_in_table(factory) == 2
    laptop.post("/logout", data={"csrf_token": laptop.csrf})
    assert not signed_in_now(laptop) and signed_in_now(phone)
    assert sessions_in_table(factory) == 1


def test_sign_out_everywhere_else(app, factory):
    here, phone, tablet = browser(app, factory), browser(app, factory), browser(app, factory)
    stolen = copy_of(app, phone)
    page = here.get("/account").text
    assert len(re.findall(r'<tr data-session="\d+"', page)) == 3 and page.count('id="this-session"') == 1
    r = here.post("/account/sessions/end-others", data={"csrf_token": here.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    page = here.get("/account").text
    assert "Signed out 2 other sessions." in page
    assert not signed_in_now(phone) and not signed_in_now(tablet) and not signed_in_now(stolen)
    assert signed_in_now(here)
    assert len(re.findall(r'<tr data-session="\d+"', page)) == 1 and 'id="this-session"' in page
    assert "Signed out 2 other sessions." not in here.get("/account").text  # a notice is shown once


def test_one_session_is_ended_from_the_account_page_and_only_ones_own(app, factory):
    here, phone = browser(app, factory), browser(app, factory)
    other = browser(app, factory, email="other@example.com")
    r = here.post(f"/account/sessions/{session_id(factory, other)}/end", data={"csrf_token": here.csrf},
                  follow_redirects=False)
    assert r.status_code == 404 and signed_in_now(other)
    assert f'id="session-{session_id(factory, phone)}"' in here.get("/account").text
    r = here.post(f"/account/sessions/{session_id(factory, phone)}/end", data={"csrf_token": here.csrf},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    assert not signed_in_now(phone) and signed_in_now(here)
    # Ending the session one is in is signing out.
    r = here.post(f"/account/sessions/{session_id(factory, here)}/end", data={"csrf_token": here.csrf},
                  follow_redirects=False)
    assert r.headers["location"] == "/login" and not signed_in_now(here)
    r = here.post("/account/sessions/abc/end", data={"csrf_token": here.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_a_password_change_on_the_web_ends_every_other_session_and_revokes_tokens(app, factory):
    token = add_user(factory, PM)
    here, phone = browser(app, factory), browser(app, factory)
    stolen = copy_of(app, here)
    api = TestClient(app, headers={"authorization": f"Bearer {token}"})
    assert api.get("/api/items").status_code == 200
    refused = [
        ({"current": "not my password", "new": "a brand new passphrase", "again": "a brand new passphrase"},
         "The current password is not right"),
        ({"current": PASSWORD, "new": "a brand new passphrase", "again": "another passphrase"}, "differ"),
        ({"current": PASSWORD, "new": "short", "again": "short"}, "at least 10 characters"),
    ]
    for form, message in refused:
        r = here.post("/account/password", data={"csrf_token": here.csrf, **form}, follow_redirects=False)
        assert r.status_code == 400 and message in r.text
    assert signed_in_now(phone) and api.get("/api/items").status_code == 200  # nothing changed
    r = here.post("/account/password", data={"csrf_token": here.csrf, "current": PASSWORD,
                                             "new": "a brand new passphrase",
                                             "again": "a brand new passphrase"},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/account"
    # this browser stays signed in, on a new key
    assert "1 API token was revoked" in here.get("/account").text
    assert not signed_in_now(stolen) and not signed_in_now(phone)
    assert api.get("/api/items").status_code == 401
    assert sessions_in_table(factory) == 1
    assert sign_in(TestClient(app), PM, PASSWORD).status_code == 401
    assert sign_in(TestClient(app), PM, "a brand new passphrase").status_code == 303


def test_wrong_current_passwords_count_as_failed_sign_ins(factory):
    from review.app import create_app
    from review.settings import WebSettings

    app = create_app(factory, WebSettings(login_failures=2, login_window=600))
    here = browser(app, factory)
    for _ in range(2):
        r = here.post("/account/password", data={"csrf_token": here.csrf, "current": "a guess at it",
                                                 "new": "a brand new passphrase",
                                                 "again": "a brand new passphrase"})
        assert r.status_code == 400
    r = here.post("/account/password", data={"csrf_token": here.csrf, "current": PASSWORD,
                                             "new": "a brand new passphrase",
                                             "again": "a brand new passphrase"})
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    assert sign_in(TestClient(app), PM).status_code == 429  # the same limit as the sign-in form's


def test_a_password_change_on_the_command_line_ends_sessions_and_revokes_tokens(app, factory, sqlite_url,
                                                                                tmp_path,
                                                                               monkeypatch, capsys):
    token = add_user(factory, PM)
    here, phone = browser(app, factory), browser(app, factory)
    stolen = copy_of(app, here)
    config = tmp_path / "intake.toml"
    config.write_text(f'[database]\nurl = "{sqlite_url}"\n')
    monkeypatch.setattr("sys.stdin", io.StringIO("changed on the command line\n"))
    assert main(["--config", str(config), "user", "password", PM, "--password-stdin"]) == 0
    assert "ended 2 sessions and revoked 1 API token" in capsys.readouterr().out
    for client in (here, phone, stolen):
        assert not signed_in_now(client)
    assert TestClient(app).get("/api/items", headers={"authorization": f"Bearer {token}"}).status_code == 401


def test_disabling_an_account_ends_its_sessions_and_revokes_its_tokens(app, factory, admin):
    token = add_user(factory, PM)
    pat = browser(app, factory)
    stolen = copy_of(app, pat)
    with factory() as s:
        pat_id = s.scalar(select(User.id).where(User.email == PM))
    r = admin.post(f"/people/{pat_id}", data={"csrf_token": admin.csrf, "role": "pm"}, follow_redirects=False)
    assert r.status_code == 303
    assert not signed_in_now(pat) and not signed_in_now(stolen)
    assert TestClient(app).get("/api/items", headers={"authorization": f"Bearer {token}"}).status_code == 401
    # Enabled again: old sessions and tokens stay dead, a new sign-in works.
    r = admin.post(f"/people/{pat_id}", data={"csrf_token": admin.csrf, "role": "pm", "active": "1"},
                   follow_redirects=False)
    assert r.status_code == 303 and not signed_in_now(stolen)
    assert TestClient(app).get("/api/items", headers={"authorization": f"Bearer {token}"}).status_code == 401
    assert sign_in(TestClient(app), PM).status_code == 303


def test_an_admin_ends_someone_elses_sessions_from_the_person_page(app, factory, admin):
    pat, phone = browser(app, factory), browser(app, factory)
    with factory() as s:
        pat_id = s.scalar(select(User.id).where(User.email == PM))
        phone_session = s.scalar(select(func.max(UserSession.id)).where(UserSession.user_id == pat_id))
    page = admin.get(f"/people/{pat_id}").text
    assert len(re.findall(r'<tr data-session="\d+"', page)) == 2 and 'id="this-session"' not in page
    r = admin.post(f"/people/{pat_id}/sessions/{phone_session}/end", data={"csrf_token": admin.csrf},
                   follow_redirects=False)
    assert r.status_code == 303 and not signed_in_now(phone) and signed_in_now(pat)
    r = admin.post(f"/people/{pat_id}/sessions/end", data={"csrf_token": admin.csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/people/{pat_id}"
    assert "Signed out 1 session." in admin.get(f"/people/{pat_id}").text
    assert not signed_in_now(pat) and signed_in_now(admin)
    # A PM may not, not even with a valid form.
    other = browser(app, factory, email="other@example.com")
    pat = browser(app, factory)
    r = other.post(f"/people/{pat_id}/sessions/end", data={"csrf_token": other.csrf}, follow_redirects=False)
    assert r.status_code == 403 and signed_in_now(pat)


def test_an_expired_session_is_refused(app, factory):
    client = browser(app, factory)
    with factory.begin() as s:
        s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert not signed_in_now(client)


def test_a_session_whose_row_is_gone_is_refused(app, factory):
    client = browser(app, factory)
    with factory.begin() as s:
        s.execute(delete(UserSession))
    assert not signed_in_now(client)


def test_a_cookie_signed_with_the_apps_secret_still_needs_a_live_key(factory):
    from itsdangerous import TimestampSigner

    from review.app import create_app
    from review.settings import WebSettings

    app = create_app(factory, WebSettings(secret_key="s" * 48))
    client = browser(app, factory)
    with factory() as s:
        stored = s.scalar(select(UserSession.key_hash))

    def minted(data: dict[str, object]):  # type: ignore[no-untyped-def]
        """A browser with a cookie made by someone who knows the signing secret."""
        value = TimestampSigner("s" * 48).sign(base64.b64encode(json.dumps(data).encode())).decode()
        return TestClient(app, cookies={COOKIE: value})

    assert signed_in_now(minted({"sid": cookie_key(client)}))  # the genuine key: the control
    for data in ({"sid": stored}, {"sid": "x" * 43}, {"sid": 1}, {"sid": "x" * 5000}, {"uid": 1, "epoch": 0}):
        assert not signed_in_now(minted(data)), data


def test_expired_sessions_are_cleared_at_sign_in_and_signing_in_again_replaces_the_session(app, factory):
    client = browser(app, factory)
    with factory.begin() as s:
        s.execute(update(UserSession).values(expires_at=utcnow() - timedelta(minutes=5)))
    assert sign_in(client, PM).status_code == 303
    assert sessions_in_table(factory) == 1  # the expired row is gone, the new one is there
    assert sign_in(client, PM).status_code == 303
    assert sessions_in_table(factory) == 1  # the same browser again: its session was replaced


def test_last_seen_is_noted_to_the_minute_not_on_every_request(app, factory):
    client = browser(app, factory)
    with factory() as s:
        first = s.scalar(select(UserSession.last_seen_at))
    for path in ("/", "/account", "/organizations"):
        assert client.get(path).status_code == 200
    with factory.begin() as s:
        assert s.scalar(select(UserSession.last_seen_at)) == first  # within the minute: no write
        s.execute(update(UserSession).values(last_seen_at=first - timedelta(minutes=2)))
    assert client.get("/").status_code == 200
    with factory() as s:
        assert s.scalar(select(UserSession.last_seen_at)) > first


def test_a_notice_waits_in_the_session_not_in_the_cookie(app, factory):
    client = browser(app, factory)
    r = client.post("/bulk", data={"csrf_token": client.csrf, "back": "/", "action": "status:closed"},
                    follow_redirects=False)
    assert r.status_code == 303
    cookie_key(client)  # only the key in it
    with factory() as s:
        assert s.scalar(select(UserSession.flash)) == "Select at least one item first."
    assert "Select at least one item first." in client.get("/").text
    assert "Select at least one item first." not in client.get("/").text
    with factory() as s:
        assert s.scalar(select(UserSession.flash)) == ""


def test_api_calls_ignore_the_session_cookie(app, factory):
    client = browser(app, factory)
    assert client.get("/api/items").status_code == 401  # a session is no API credential
    token = add_user(factory, "other@example.com")
    r = client.get("/api/items", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "set-cookie" not in r.headers
    assert signed_in_now(client)


@pytest.mark.parametrize("path", ["/account", "/account/sessions/end-others", "/account/tokens"])
def test_the_account_forms_need_a_session_and_the_csrf_token(app, factory, path):
    client = browser(app, factory)
    anonymous = TestClient(app)
    r = anonymous.post(path, data={}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    if path != "/account":
        r = client.post(path, data={"csrf_token": "forged"}, follow_redirects=False)
        assert r.status_code == 403
    assert sessions_in_table(factory) == 1
    with factory() as s:
        assert s.scalar(select(func.count(ApiToken.id))) == 1  # the one the test account was made with


def test_signing_in_still_rehashes_a_weaker_password_hash(app, factory):
    from argon2 import PasswordHasher

    from review.auth import needs_rehash, verify_password

    add_user(factory, PM)
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with factory.begin() as s:
        s.execute(update(User).where(User.email == PM).values(password_hash=weak))
    assert needs_rehash(weak)
    client = browser(app, factory)
    with factory() as s:
        stored = s.scalar(select(User.password_hash).where(User.email == PM))
    assert stored != weak and not needs_rehash(stored) and verify_password(stored, PASSWORD)
    assert signed_in_now(client) and sessions_in_table(factory) == 1
