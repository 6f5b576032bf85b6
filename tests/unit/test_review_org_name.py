"""An organization's display name, changed by an admin on its page; shown instead of its domain."""
from __future__ import annotations

from sqlalchemy import select

from db.models import Organization
from tests.unit.test_review_sla_tiers import acme, app, pm  # noqa: F401  (fixtures)


def test_an_admin_renames_a_client_and_a_pm_cannot(admin, pm, acme, factory):  # noqa: F811
    html = admin.get(f"/organizations/{acme}").text
    assert ('<input id="org-display-name" name="name" maxlength="300" value="Acme Corp" '
            'placeholder="acme.example">' in html)
    r = admin.post(f"/organizations/{acme}/settings", data={"csrf_token": admin.csrf,
                                                            "name": "Acme Adventures",
                                                            "tier": ""}, follow_redirects=False)
    assert r.status_code == 303
    page = admin.get(f"/organizations/{acme}").text
    assert ("Saved the settings of Acme Adventures." in page
            and "<h1 id=\"org-name\">Acme Adventures</h1>" in page)
    assert "Acme Adventures" in admin.get("/organizations").text
    # Leaving the name out keeps it; a PM may not change it.
    admin.post(f"/organizations/{acme}/settings", data={"csrf_token": admin.csrf, "tier": ""})
    r = pm.post(f"/organizations/{acme}/settings", data={"csrf_token": pm.csrf, "name": "Mine now",
                                                         "tier": ""})
    assert r.status_code == 403
    r = admin.post(f"/organizations/{acme}/settings", data={"csrf_token": admin.csrf, "name": "A\x00B",
                                                            "tier": ""})
    assert r.status_code == 400
    with factory() as s:
        assert s.scalar(select(Organization.name).where(Organization.id == acme)) == "Acme Adventures"
