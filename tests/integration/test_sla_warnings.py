"""At-risk warnings: one email per clock and item, to the assignee or the organization's PMs, over real
SMTP."""
from __future__ import annotations

import email
import time
from datetime import datetime, timedelta, timezone
from email.policy import default

import pytest
from sqlalchemy import select

from db.engine import make_engine, make_sessionmaker
from db.models import Contact, Event, Item, Organization, OutboxMail, User
from intake.config import parse_config
from reports.state import WARNING_EVENT
from responders.sender import SmtpSettings, drain
from responders.sla_warnings import check_sla
from tests.integration.conftest import start_worker
from tests.mailgen import client_email

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
POLICY = """
[sla]
at_risk_share = 0.75
[sla.policies.standard.targets]
issue = { acknowledge = "5m", first_response = "1h", resolution = "8h" }
question = { first_response = "1h" }
"""


def _cfg(extra: str = "") -> object:
    import tomllib

    return parse_config({**tomllib.loads(POLICY + extra),
                         "smtp": {"from_address": "Support <support@team.example>"},
                         "web": {"public_url": "https://intake.team.example"}})


def _seed(factory, cfg) -> dict[str, int]:
    snapshot = cfg.sla.built.for_tier("").snapshot()
    with factory.begin() as s:
        acme = Organization(name="Acme", domain="acme.example")
        globex = Organization(name="Globex", domain="globex.example")
        lonely = Organization(name="Lonely", domain="lonely.example")
        ann = User(email="ann@team.example", name="Ann", role="pm")
        li = User(email="li@team.example", name="李雷", role="pm", language="zh", organizations=[globex])
        gone = User(email="gone@team.example", name="Gone", role="pm", active=False, organizations=[globex])
        boss = User(email="boss@team.example", name="Boss", role="admin")
        s.add_all([acme, globex, lonely, ann, li, gone, boss])
        s.flush()
        items = {
            # Assigned: the assignee alone is warned.
            "assigned": Item(ref="CI-000001", category="issue", subject="Login broken", assignee_id=ann.id,
                             contact=Contact(email="c1@acme.example", name="Carl", organization=acme)),
            # Unassigned at Globex: its active PM (in Chinese), not the disabled one.
            "globex": Item(ref="CI-000002", category="question", subject="发票在哪里？", lang="zh",
                           contact=Contact(email="c2@globex.example", organization=globex)),
            # Nobody works on Lonely: the admins are warned.
            "lonely": Item(ref="CI-000003", category="question", subject="Hours?",
                           contact=Contact(email="c3@lonely.example", organization=lonely)),
        }
        for item in items.values():
            item.received_at, item.acknowledged_at, item.sla = T0, T0 + timedelta(seconds=30), snapshot
            s.add(item)
        s.flush()
        return {k: v.id for k, v in items.items()}


def _outbox(factory) -> list[tuple[int | None, str]]:
    with factory() as s:
        return [(r.item_id, r.to_address)
                for r in s.scalars(select(OutboxMail).where(OutboxMail.kind == "sla_warning")
                                                           .order_by(OutboxMail.id))]


def test_each_clock_warns_once_to_the_right_people(db, smtp_sink):
    cfg = _cfg()
    ids = _seed(db, cfg)
    # 40 minutes into a 1 h target: on track, nothing sent; states are stored.
    first = check_sla(db, cfg, T0 + timedelta(minutes=40))
    assert (first.warned, first.emails) == (0, 0) and first.changed == 3
    with db() as s:
        assert {i.ref: i.sla_state for i in s.scalars(select(Item))} == dict.fromkeys(
            ("CI-000001", "CI-000002", "CI-000003"), "on_track")
    # 46 minutes: 76% of the first-response target used, at risk for all three.
    at_risk = check_sla(db, cfg, T0 + timedelta(minutes=46))
    assert at_risk.warned == 3 and at_risk.emails == 3
    assert _outbox(db) == [(ids["assigned"], "ann@team.example"), (ids["globex"], "li@team.example"),
                           (ids["lonely"], "boss@team.example")]
    # Later checks, even once breached, send nothing more for that clock.
    for minutes in (47, 61, 120):
        again = check_sla(db, cfg, T0 + timedelta(minutes=minutes))
        assert again.emails == 0
    with db() as s:
        warnings = [e.data for e in s.scalars(select(Event).where(Event.kind == WARNING_EVENT))]
        # The at-risk warnings, then each clock's breach, recorded (and announced to chat targets), not
        # emailed.
        assert [(w["state"], w.get("suppressed")) for w in warnings] == [("at_risk", None)] * 3 + [
            ("breached", "warned_at_risk")] * 3
        assert s.get(Item, ids["assigned"]).sla_state == "breached"
    # Ann answers at 50 minutes (late): the resolution clock of the issue (8 h) then warns once at 6 h.
    with db.begin() as s:
        s.get(Item, ids["assigned"]).first_response_at = T0 + timedelta(minutes=50)
    assert check_sla(db, cfg, T0 + timedelta(hours=5)).emails == 0
    late = check_sla(db, cfg, T0 + timedelta(hours=6, minutes=1))
    assert (late.warned, late.emails) == (1, 1)
    assert check_sla(db, cfg, T0 + timedelta(hours=7)).emails == 0
    assert len(_outbox(db)) == 4

    # Through the real SMTP server: exactly these four messages, each to its one person.
    result = drain(db, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), "w1")
    assert result.sent == 4 and not result.error
    got = [(m.rcpt_tos, email.message_from_bytes(m.raw, policy=default)) for m in smtp_sink.messages]
    assert [r for r, _ in got] == [["ann@team.example"], ["li@team.example"], ["boss@team.example"],
                                   ["ann@team.example"]]
    ann_first, li_msg, boss_msg, ann_late = (m for _, m in got)
    assert ann_first["Subject"].strip() == "[CI-000001] SLA at risk: Login broken"
    assert ann_first["Auto-Submitted"] == "auto-generated"
    body = ann_first.get_content()
    assert "first response: at risk, 46 min counted of a 1 h target" in body
    assert "https://intake.team.example/items/CI-000001" in body and "You are the item's assignee." in body
    assert li_msg["Subject"].strip() == "[CI-000002] 服务级别即将超时: 发票在哪里？"
    assert "首次回复：有超时风险" in li_msg.get_content() and "Globex 的项目经理" in li_msg.get_content()
    assert "Lonely" in boss_msg.get_content()
    assert "resolution: at risk, 6 h 1 min counted of a 8 h target" in ann_late.get_content()


def test_item_already_breached_gets_one_warning_saying_so(db):
    cfg = _cfg()
    ids = _seed(db, cfg)
    result = check_sla(db, cfg, T0 + timedelta(hours=3))
    assert result.warned == 3
    with db() as s:
        subjects = [email.message_from_bytes(r.raw, policy=default)["Subject"]
                    for r in s.scalars(select(OutboxMail).where(OutboxMail.item_id == ids["assigned"]))]
    assert [x.strip() for x in subjects] == ["[CI-000001] SLA breached: Login broken"]


def test_resolved_items_get_their_final_state_and_no_warning(db):
    cfg = _cfg()
    ids = _seed(db, cfg)
    with db.begin() as s:
        item = s.get(Item, ids["assigned"])
        item.first_response_at, item.resolved_at, item.status = (T0 + timedelta(minutes=20),
                                                                 T0 + timedelta(hours=2),
                                                                  "resolved")
    check_sla(db, cfg, T0 + timedelta(hours=3))
    with db() as s:
        assert s.get(Item, ids["assigned"]).sla_state == "met"
    assert all(to != "ann@team.example" for _, to in _outbox(db))


def test_running_worker_warns_once_through_smtp(sqlite_url, dovecot, smtp_sink, config_for):
    """The worker's own loop: a client mail arrives, becomes at risk, then breached; one warning in all."""
    cfg = config_for(sqlite_url, extra="""
[web]
public_url = "https://intake.team.example"
[sla]
check_seconds = 5
at_risk_share = 0.5
[sla.policies.fast.targets]
issue = { first_response = "12s" }
change_request = { first_response = "12s" }
question = { first_response = "12s" }
feedback = { first_response = "12s" }
""")
    worker = start_worker(cfg)
    try:
        factory = make_sessionmaker(make_engine(sqlite_url))
        with factory.begin() as s:
            s.add(User(email="admin@team.example", name="Admin", role="admin"))
        dovecot.deliver("support", bytes(client_email(1, "Where do I find the invoice?", "Where is it?",
                                                      "en")))
        smtp_sink.wait_for(1, timeout=30)  # the acknowledgment
        warnings = smtp_sink.wait_for(2, timeout=40)
        time.sleep(15)  # past the breach and at least two more checks
        assert len(smtp_sink.messages) == 2
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert warnings[1].rcpt_tos == ["admin@team.example"]
    warning = email.message_from_bytes(warnings[1].raw, policy=default)
    assert "SLA " in warning["Subject"] and "first response" in warning.get_content()
    assert "event=sla_warning " in err


def test_items_first_seen_long_after_arrival_are_recorded_not_emailed(db):
    """After an upgrade or a long outage, old items must not flood the team with warnings."""
    cfg = _cfg()
    _seed(db, cfg)
    result = check_sla(db, cfg, T0 + timedelta(days=3))
    assert result.warned == 4 and result.emails == 0 and _outbox(db) == []  # the issue: both clocks
    with db() as s:
        events = list(s.scalars(select(Event).where(Event.kind == WARNING_EVENT)))
        assert len(events) == 4 and all(e.data["suppressed"] == "stale" for e in events)
        assert {i.sla_state for i in s.scalars(select(Item))} == {"breached"}
    assert check_sla(db, cfg, T0 + timedelta(days=3, minutes=5)).warned == 0


def test_the_item_history_says_who_was_warned(db):
    from starlette.testclient import TestClient  # noqa: PLC0415

    from review.app import create_app  # noqa: PLC0415
    from tests.web import signed_in  # noqa: PLC0415

    cfg = _cfg()
    _seed(db, cfg)
    check_sla(db, cfg, T0 + timedelta(minutes=46))
    with TestClient(create_app(db, sla=cfg.sla.built)) as c:
        signed_in(c, db, email="lead@team.example")
        en = c.get("/items/CI-000001").text
        zh = c.get("/items/CI-000001", headers={"accept-language": "zh-CN"}).text
        api = c.get("/api/items/CI-000001").json()
    assert "SLA warning: first response at risk, emailed to ann@team.example" in en
    assert "服务级别提醒：首次回复有超时风险，已发邮件给 ann@team.example" in zh
    assert any(e["kind"] == "sla_warning" and e["data"]["clock"] == "first_response" for e in api["events"])
