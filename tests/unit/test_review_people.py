"""The admin's people pages over HTTP: assigning PMs to organizations, roles, disabling, and who may do it."""
from __future__ import annotations

import re

from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Organization, User
from review.accounts import find_user
from tests.unit.test_review_access import two_orgs  # noqa: F401  (fixture)
from tests.web import add_user, sign_in, signed_in


def ids(factory) -> dict[str, int]:
    with factory() as s:
        found = {o.domain: o.id for o in s.scalars(select(Organization))}
        found.update({u.email: u.id for u in s.scalars(select(User))})
    return found


def save(client, user_id: int, role: str = "pm", active: bool = True,
         orgs: tuple[int, ...] = ()):  # type: ignore[no-untyped-def]
    data: dict[str, object] = {"csrf_token": client.csrf, "role": role,
                               "organization": [str(o) for o in orgs]}
    if active:
        data["active"] = "1"
    return client.post(f"/people/{user_id}", data=data, follow_redirects=False)


def test_admin_assigns_a_pm_to_organizations_and_the_pm_sees_exactly_those(app, factory,
                                                                           two_orgs):  # noqa: F811
    add_user(factory, "pat@example.com", "pm", orgs=("acme.example",), name="Pat PM")
    known = ids(factory)
    with TestClient(app) as admin, TestClient(app) as pat:
        signed_in(admin, factory)
        assert sign_in(pat, "pat@example.com").status_code == 303
        assert "CI-000001" in pat.get("/").text and "CI-000002" not in pat.get("/").text
        listing = admin.get("/people").text
        row = re.search(r'<tr data-user="%d".*?</tr>' % known["pat@example.com"], listing, re.S).group(0)
        assert "Pat PM" in row and "Acme" in row and "Globex" not in row
        form = admin.get(f"/people/{known['pat@example.com']}").text
        assert re.search(r'value="%d" checked' % known["acme.example"], form)
        r = save(admin, known["pat@example.com"], orgs=(known["globex.example"],))
        assert r.status_code == 303 and r.headers["location"] == "/people"
        assert "Saved Pat PM." in admin.get("/people").text
        # The PM's very next request sees the new organizations: no sign-out needed.
        queue = pat.get("/").text
        assert "CI-000002" in queue and "CI-000001" not in queue
        assert pat.get("/items/CI-000001").status_code == 404
        assert pat.get("/items/CI-000002").status_code == 200


def test_pms_cannot_see_or_change_people(app, factory, two_orgs):  # noqa: F811
    known_pm = add_user(factory, "pat@example.com", "pm", orgs=("acme.example",))
    assert known_pm
    known = ids(factory)
    with TestClient(app) as pat:
        signed_in(pat, factory, "pm2@example.com", "pm", orgs=("acme.example",))
        assert pat.get("/people").status_code == 403
        assert pat.get(f"/people/{known['pat@example.com']}").status_code == 403
        r = save(pat, known["pat@example.com"], role="admin", orgs=(known["globex.example"],))
        assert r.status_code == 403
        assert "/people" not in pat.get("/").text
    with factory() as s:
        pat_user = find_user(s, "pat@example.com")
        assert pat_user.role == "pm" and [o.domain for o in pat_user.organizations] == ["acme.example"]


def test_disabling_a_user_ends_their_session_and_the_last_admin_stays(app, factory, two_orgs):  # noqa: F811
    add_user(factory, "pat@example.com", "pm", orgs=("acme.example",))
    with TestClient(app) as admin, TestClient(app) as pat:
        signed_in(admin, factory)
        known = ids(factory)
        assert sign_in(pat, "pat@example.com").status_code == 303
        assert save(admin, known["pat@example.com"], active=False).status_code == 303
        assert pat.get("/", follow_redirects=False).status_code == 303  # sent to sign in
        assert sign_in(pat, "pat@example.com").status_code != 303
        # Nobody can remove the last way in: the admin cannot demote or disable themself.
        for role, active in (("pm", True), ("admin", False)):
            r = save(admin, known["lead@example.com"], role=role, active=active)
            assert r.status_code == 400 and "your own admin rights" in r.text
        # Making Pat admin, then Pat may demote the first admin.
        assert save(admin, known["pat@example.com"], role="admin").status_code == 303
        assert sign_in(pat, "pat@example.com").status_code == 303
        pat.csrf = re.search(r'name="csrf_token" value="([^"]+)"', pat.get("/").text).group(1)
        assert save(pat, known["lead@example.com"], role="pm").status_code == 303
    with factory() as s:
        assert find_user(s, "lead@example.com").role == "pm" and find_user(s,
                                                                           "pat@example.com").role == "admin"


def test_bad_people_input_gets_a_clear_error_and_changes_nothing(app, factory, two_orgs):  # noqa: F811
    add_user(factory, "pat@example.com", "pm", orgs=("acme.example",))
    known = ids(factory)
    with TestClient(app) as admin:
        signed_in(admin, factory)
        pat = known["pat@example.com"]
        r = save(admin, pat, role="owner")
        assert r.status_code == 400 and "role: must be one of" in r.text
        r = admin.post(f"/people/{pat}", data={"csrf_token": admin.csrf, "role": "pm", "organization": "x1"})
        assert r.status_code == 400 and "organization numbers" in r.text
        r = save(admin, pat, orgs=(999999,))
        assert r.status_code == 400 and "no longer exists" in r.text
        assert admin.get("/people/999999").status_code == 404
        assert admin.get("/people/abc").status_code == 404
        assert save(admin, 999999).status_code == 404
        r = admin.post(f"/people/{pat}", data={"role": "admin"}, follow_redirects=False)
        assert r.status_code == 403
    with factory() as s:
        user = find_user(s, "pat@example.com")
        assert user.role == "pm" and [o.domain
                                      for o in user.organizations] == ["acme.example"] and user.active
