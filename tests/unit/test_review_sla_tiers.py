"""A client's tier and digest on the organization page: admins change them, PMs read them, all else is
refused."""
from __future__ import annotations

import logging
import re

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Organization
from review.app import create_app
from tests.unit.test_review_sla import configured, text_of
from tests.web import add_user, sign_in, signed_in


@pytest.fixture
def acme(factory) -> int:
    with factory.begin() as s:
        org = Organization(name="Acme Corp", domain="acme.example")
        s.add_all([org, Organization(name="Globex", domain="globex.example")])
        s.flush()
        return org.id


@pytest.fixture
def app(factory):
    return create_app(factory, sla=configured())


@pytest.fixture
def pm(app, factory, acme):
    add_user(factory, "pat@example.com", "pm", orgs=("acme.example",))
    with TestClient(app) as c:
        assert sign_in(c, "pat@example.com").status_code == 303
        c.csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/").text).group(1)
        yield c


def stored(factory, org_id: int) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    with factory() as s:
        org = s.get(Organization, org_id)
        return org.tier, org.client_digest


def save(client, org_id: object, tier: str, digest: bool,
         csrf: str | None = None):  # type: ignore[no-untyped-def]
    data = {"csrf_token": client.csrf if csrf is None else csrf, "tier": tier}
    if digest:
        data["client_digest"] = "1"
    return client.post(f"/organizations/{org_id}/settings", data=data, follow_redirects=False)


def test_the_admin_sees_the_form_with_the_configured_tiers(admin, acme):
    html = admin.get(f"/organizations/{acme}").text
    form = re.search(r'<form[^>]*id="settings-form".*?</form>', html, re.S).group(0)
    assert f'action="/organizations/{acme}/settings"' in form and 'name="csrf_token"' in form
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', form)
    assert options == [("", "", "None: the default policy standard"), ("gold", "", "gold: policy gold"),
                       ("platinum", "", "platinum: policy gold")]
    assert 'name="client_digest" value="1" id="client-digest">' in form  # not checked
    facts = text_of(re.search(r'<dl class="facts" id="service-facts">.*?</dl>', html, re.S).group(0))
    assert facts == "Client tier None SLA policy for new items standard Weekly status digest Not sent"


def test_an_admin_sets_the_tier_and_digest_and_the_change_is_logged(admin, factory, acme, caplog):
    caplog.set_level(logging.INFO, logger="review.org_settings")
    r = save(admin, acme, "platinum", True)
    assert r.status_code == 303 and r.headers["location"] == f"/organizations/{acme}"
    assert stored(factory, acme) == ("platinum", True)
    html = admin.get(f"/organizations/{acme}").text
    assert '<p class="flash" role="status" id="flash">Saved the service level of Acme Corp.</p>' in html
    assert '<option value="platinum" selected>' in html and 'id="client-digest" checked>' in html
    assert '<dd id="policy-value">gold</dd>' in html and "Sent to the client's contacts" in html
    line = next(r.getMessage() for r in caplog.records if "organization_settings_changed" in r.getMessage())
    assert (f"organization={acme} domain=acme.example by=lead@example.com policy=gold "
            'tier_from="" tier_to="platinum" client_digest_from="False" client_digest_to="True"') in line
    # Back to none, digest off; the other organization is untouched.
    assert save(admin, acme, "", False).status_code == 303
    assert stored(factory, acme) == ("", False)
    with factory() as s:
        assert s.scalar(select(Organization.tier).where(Organization.domain == "globex.example")) == ""
    assert save(admin, acme, "", False).status_code == 303
    assert "Nothing changed." in admin.get(f"/organizations/{acme}").text


def test_an_unknown_tier_is_refused_with_the_choices(admin, factory, acme):
    r = save(admin, acme, "diamond", True)
    assert r.status_code == 400
    assert ('<p class="flash error" role="alert" id="problem">tier: unknown tier &#39;diamond&#39;; '
            "choose one of gold, platinum, or none</p>") in r.text
    assert 'id="settings-form"' in r.text  # the page again, to correct the choice
    assert stored(factory, acme) == ("", False)
    r = save(admin, acme, "x" * 41, False)
    assert r.status_code == 400 and stored(factory, acme) == ("", False)


def test_without_tiers_in_the_config_only_none_can_be_chosen(factory, acme):
    with TestClient(create_app(factory)) as c:
        signed_in(c, factory)
        html = c.get(f"/organizations/{acme}").text
        assert "The SLA policies name no tiers, so every client gets the default policy." in html
        r = save(c, acme, "gold", False)
        assert (r.status_code == 400
                and "tier: the SLA policies name no tiers, so &#39;gold&#39; cannot be set" in r.text)
        assert save(c, acme, "", True).status_code == 303
    assert stored(factory, acme) == ("", True)


def test_a_tier_the_config_no_longer_names_is_kept_when_only_the_digest_changes(admin, factory, acme):
    with factory.begin() as s:
        s.get(Organization, acme).tier = "silver"
    html = admin.get(f"/organizations/{acme}").text
    assert ('<option value="silver" selected>silver: not named by any policy, the default policy '
            'applies</option>' in html)
    assert "(not named by any policy)" in html and '<dd id="policy-value">standard</dd>' in html
    assert save(admin, acme, "silver", True).status_code == 303
    assert stored(factory, acme) == ("silver", True)
    assert save(admin, acme, "bronze", True).status_code == 400  # another unknown tier is still refused
    assert save(admin, acme, "gold", True).status_code == 303
    assert stored(factory, acme) == ("gold", True)


def test_a_form_without_the_csrf_token_is_refused(admin, factory, acme):
    for csrf in ("", "forged"):
        r = save(admin, acme, "gold", True, csrf=csrf)
        assert r.status_code == 403 and "This form has expired" in r.text
    r = admin.post(f"/organizations/{acme}/settings", data={"tier": "gold"}, follow_redirects=False)
    assert r.status_code == 403
    assert stored(factory, acme) == ("", False)


def test_a_pm_sees_the_settings_read_only_and_may_not_change_them(pm, factory, acme):
    with factory.begin() as s:
        org = s.get(Organization, acme)
        org.tier, org.client_digest = "gold", True
    html = pm.get(f"/organizations/{acme}").text
    assert 'id="settings-form"' not in html and "/settings" not in html
    assert '<dd id="tier-value">gold</dd>' in html and '<dd id="policy-value">gold</dd>' in html
    assert "Sent to the client's contacts" in html
    r = save(pm, acme, "platinum", False)
    assert r.status_code == 403 and "Only admins change a client&#39;s tier and digest." in r.text
    assert stored(factory, acme) == ("gold", True)


def test_unknown_organizations_are_404(admin, acme):
    for org_id in ("999", "abc", str(2**40)):
        r = save(admin, org_id, "gold", False)
        assert r.status_code == 404, org_id
    assert "There is no organization with the number 999." in save(admin, 999, "", False).text


def test_the_settings_are_in_chinese(app, factory, acme):
    with TestClient(app, headers={"accept-language": "zh-CN"}) as c:
        signed_in(c, factory)
        html = c.get(f"/organizations/{acme}").text
        assert "服务水平（SLA）" in html and "客户等级" in html and "无：适用默认策略 standard" in html
        r = save(c, acme, "diamond", False)
        assert "等级：未知等级 &#39;diamond&#39;；请从 gold, platinum 中选择，或不设等级" in r.text
