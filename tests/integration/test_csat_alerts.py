"""A poor satisfaction rating reaches the chat and webhook targets once, with the rating and the comment."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from db.models import Contact, Item, Survey, WebhookDelivery
from responders.alerts import AlertRoute, Alerts
from responders.client_mail import ClientMailSettings, rate

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ALERTS = Alerts((AlertRoute("ops", "webhook", frozenset({"negative_csat"})), AlertRoute("all-new", "slack",
                                                                                        frozenset({"new_item"}))),
                "https://intake.example")


def test_a_poor_rating_is_announced_to_the_targets_that_want_it_and_only_once(db):
    with db.begin() as s:
        contact = Contact(email="ann@client.example", name="Ann", created_at=NOW)
        item = Item(ref="CI-000001", subject="Export fails", category="issue", status="resolved", lang="en",
                    contact=contact, received_at=NOW, created_at=NOW, updated_at=NOW)
        s.add(Survey(item=item, status="sent", to_address=contact.email, scheduled_for=NOW, created_at=NOW))
    settings = ClientMailSettings(base_url="https://intake.example")
    with db.begin() as s:
        survey = s.scalar(select(Survey))
        assert rate(s, survey, survey.item, 4, settings, NOW, ALERTS)  # a good rating: nothing to announce
        survey.comment = "Nobody called back."
        assert rate(s, survey, survey.item, 2, settings, NOW, ALERTS)
        assert rate(s, survey, survey.item, 1, settings, NOW, ALERTS)  # still poor: not announced again
    with db() as s:
        rows = s.scalars(select(WebhookDelivery)).all()
        assert [(r.target, r.event, r.status) for r in rows] == [("ops", "negative_csat", "pending")]
        body = str(rows[0].body)
        assert "CI-000001" in body and "Nobody called back." in body
        assert "https://intake.example/items/CI-000001" in body
