"""Each person's time zone: times on pages in it with the zone named, the team's zone (sla.report_timezone)
by default, chosen on the account page."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.models import User
from review.app import create_app
from tests.unit.test_review_app import T0, add_item
from tests.web import signed_in


@pytest.fixture
def items(factory):
    with factory.begin() as s:
        add_item(s, 1, received=T0)  # 2026-11-02 09:00 UTC


def test_times_follow_the_persons_choice(factory, items):
    with TestClient(create_app(factory)) as client:
        signed_in(client, factory)
        assert "2026-11-02 09:00 UTC" in client.get("/items/CI-000001").text
        r = client.post("/account/time-zone", data={"csrf_token": client.csrf, "time_zone": "Asia/Shanghai"},
                        follow_redirects=False)
        assert r.status_code == 303
        account = client.get("/account").text
        assert "Times are now shown in Asia/Shanghai." in account
        assert '<option value="Asia/Shanghai" selected>' in account
        item = client.get("/items/CI-000001").text
        assert "2026-11-02 17:00 Asia/Shanghai" in item and "09:00 UTC" not in item
        assert 'title="Received: 2026-11-02 17:00 Asia/Shanghai"' in client.get("/").text
        with factory() as s:
            assert s.scalar(select(User.time_zone)) == "Asia/Shanghai"
        r = client.post("/account/time-zone", data={"csrf_token": client.csrf, "time_zone": "Mars/Olympus"})
        assert r.status_code == 400 and "time zone: choose one from the list" in r.text
        client.post("/account/time-zone", data={"csrf_token": client.csrf, "time_zone": ""})
        assert "2026-11-02 09:00 UTC" in client.get("/items/CI-000001").text


def test_the_teams_zone_is_the_default(factory, items):
    with TestClient(create_app(factory, report_timezone="America/New_York")) as client:
        signed_in(client, factory)
        assert "2026-11-02 04:00 America/New_York" in client.get("/items/CI-000001").text
        assert "The team's time zone (America/New_York)" in client.get("/account").text
