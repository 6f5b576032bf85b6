"""The webhook delivery log over HTTP: the admin page, its retry, the API and its OpenAPI entry, who may see
them."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import Contact, Item, Organization, WebhookDelivery
from responders.alerts import AlertRoute, Alerts, enqueue_alert
from review.app import create_app
from tests.web import add_user, signed_in

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
ALERTS = Alerts((AlertRoute("ops-slack", "slack"), AlertRoute("erp", "webhook")), "https://intake.example")


@pytest.fixture
def seeded(factory) -> dict[str, int]:
    with factory.begin() as s:
        item = Item(ref="CI-000007", category="issue", subject="Printer on fire",
                    contact=Contact(email="a@acme.example", organization=Organization(name="Acme",
                                                                                        domain="acme.example")))
        s.add(item)
        s.flush()
        assert enqueue_alert(s, ALERTS, ("new_item",), item, NOW) == 2
        s.flush()
        slack, erp = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        slack.status, slack.sent_at, slack.attempts, slack.last_status = "sent", NOW, 1, 200
        erp.status, erp.attempts, erp.last_status, erp.last_error = "failed", 12, 503, "HTTP 503: down"
        # A target removed from the configuration keeps its log.
        s.add(WebhookDelivery(delivery_id="old-1", target="legacy", kind="teams", event="new_item",
                              item_id=item.id,
                              body="{}", status="pending", next_attempt_at=NOW, created_at=NOW))
        return {"slack": slack.id, "erp": erp.id}


@pytest.fixture
def admin_client(factory):
    with TestClient(create_app(factory, alerts=ALERTS)) as c:
        yield signed_in(c, factory, email="lead@example.com", role="admin")


def test_the_admin_sees_each_target_and_every_delivery(admin_client, seeded):
    page = admin_client.get("/webhooks")
    assert page.status_code == 200
    for text in ("ops-slack", "erp", "legacy", "(no longer configured)", "HTTP 503: down", "CI-000007"):
        assert text in page.text
    failed = admin_client.get("/webhooks?status=failed&target=erp")
    assert (failed.text.count('data-delivery="') == 1
            and f'action="/webhooks/{seeded["erp"]}/retry"' in failed.text)
    assert admin_client.get("/webhooks?status=lost").status_code == 400


def test_retry_queues_a_failed_delivery_again(admin_client, seeded, factory):
    r = admin_client.post(f"/webhooks/{seeded['erp']}/retry", data={"csrf_token": admin_client.csrf},
                          follow_redirects=False)
    assert r.status_code == 303
    with factory() as s:
        row = s.get(WebhookDelivery, seeded["erp"])
        assert (row.status, row.attempts) == ("pending", 0)
    # A sent delivery, or one that does not exist, is not retried.
    for target in (seeded["slack"], 999999, "x"):
        assert admin_client.post(f"/webhooks/{target}/retry",
                                 data={"csrf_token": admin_client.csrf}).status_code == 404
    assert admin_client.post(f"/webhooks/{seeded['erp']}/retry").status_code in (400, 403)  # no CSRF token


def test_the_api_lists_targets_and_deliveries(admin_client, seeded):
    targets = admin_client.get("/api/webhooks").json()["targets"]
    assert [(t["name"], t["target"], t["configured"], t["pending"], t["sent"],
             t["failed"]) for t in targets] == [
        ("ops-slack", "slack", True, 0, 1, 0), ("erp", "webhook", True, 0, 0, 1),
        ("legacy", "", False, 1, 0, 0)]
    page = admin_client.get("/api/webhooks/deliveries?target=erp").json()
    assert page["total"] == 1 and page["per_page"] == 50
    (d,) = page["deliveries"]
    assert (d["event"], d["ref"], d["status"], d["http_status"], d["attempts"]) == ("new_item", "CI-000007",
                                                                                  "failed", 503, 12)
    assert d["payload"]["item"]["url"] == "https://intake.example/items/CI-000007"
    assert admin_client.get("/api/webhooks/deliveries?status=x").status_code == 400
    spec = admin_client.get("/api/openapi.json").json()
    assert {"/api/webhooks", "/api/webhooks/deliveries"} <= set(spec["paths"])
    assert "Delivery" in spec["components"]["schemas"]


def test_pms_do_not_see_the_log(factory, seeded):
    token = add_user(factory, "pm@example.com", "pm")
    with TestClient(create_app(factory, alerts=ALERTS)) as c:
        signed_in(c, factory, email="pm2@example.com", role="pm")
        assert c.get("/webhooks").status_code == 404
        assert 'href="/webhooks"' not in c.get("/").text
        c.headers["authorization"] = f"Bearer {token}"
        assert c.get("/api/webhooks").status_code == 403
        assert c.get("/api/webhooks/deliveries").status_code == 403
