"""Chat alerts and webhooks end to end: the worker delivers each event, signed, in every platform's shape, to
a local receiver; with the receiver down (and a worker killed meanwhile) every event still arrives exactly
once."""
from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from db.engine import make_engine, make_sessionmaker
from db.models import ChangeAssessment, Contact, Item, Organization, WebhookDelivery
from intake.config import parse_config
from intake.duties import webhook_targets
from responders.sla_warnings import check_sla
from responders.webhooks import WebhookSender
from review.actions import change_status
from review.viewer import Viewer
from tests.integration.conftest import start_worker
from tests.mailgen import client_email
from tests.webhook_receiver import PATHS, Receiver, notify_tables

pytestmark = pytest.mark.integration
PUBLIC = "https://intake.team.example"
KINDS = tuple(PATHS)


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def _extra(receiver: Receiver, table_extra: str = "") -> str:
    return (f'[web]\npublic_url = "{PUBLIC}"\n\n'
            + notify_tables(receiver, "INTAKE_TEST_HOOK", table_extra,
                            langs={"dingtalk": "zh", "feishu": "zh", "wecom": "zh"}))


def _deliveries(url: str) -> list[WebhookDelivery]:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as s:
            return list(s.scalars(select(WebhookDelivery).options(selectinload(WebhookDelivery.item))
                                .order_by(WebhookDelivery.id)))
    finally:
        engine.dispose()


def _stop(worker) -> str:
    worker.send_signal(signal.SIGTERM)
    _, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err
    return err


def _check_shape(call, ref: str) -> None:
    """CALL is its platform's message about REF, with the link to the item."""
    body, link = call.json, f"{PUBLIC}/items/{ref}"
    if call.kind == "webhook":
        assert body["event"] == call.headers["x-intake-event"] and body["id"] == call.delivery
        assert body["item"]["ref"] == ref and body["item"]["url"] == link
        # The client and their organization, for items stored in bulk as for those stored one by one.
        assert body["item"]["client"]["email"].endswith("@client.example")
        assert body["item"]["organization"]["domain"] == "client.example"
    elif call.kind == "slack":
        assert ref in body["text"] and f"<{link}|" in body["blocks"][0]["text"]["text"]
        assert body["blocks"][1]["text"]["type"] == "plain_text"
    elif call.kind == "teams":
        card = body["attachments"][0]
        assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
        assert card["content"]["type"] == "AdaptiveCard" and card["content"]["actions"][0]["url"] == link
    elif call.kind == "dingtalk":
        assert body["msgtype"] == "link" and body["link"]["messageUrl"] == link
        assert ref in body["link"]["title"] and ("新" in body["link"]["title"]
                                                 or "待审核" in body["link"]["title"])
    elif call.kind == "feishu":
        assert body["msg_type"] == "interactive" and ref in body["card"]["header"]["title"]["content"]
        assert body["card"]["elements"][-1]["actions"][0]["url"] == link
    else:
        article = body["news"]["articles"][0]
        assert body["msgtype"] == "news" and article["url"] == link and ref in article["title"]


def test_new_items_reach_every_platform_signed_and_in_its_shape(any_db_url, dovecot, smtp_sink, config_for,
                                                                 receiver):
    cfg = config_for(any_db_url, extra=_extra(receiver))
    worker = start_worker(cfg)
    try:
        dovecot.deliver("support", bytes(client_email(1, "Login page broken", "The login page shows an error "
                                                      "since this morning, please fix it.", "en")))
        dovecot.deliver("support", bytes(client_email(2, "发票问题", "请问上个月的发票什么时候可以开具？",
                                                      "zh")))
        calls = receiver.wait_for(2 * len(KINDS), timeout=60)
    finally:
        err = _stop(worker)
    assert "Traceback" not in err
    assert all(c.valid for c in calls), [(c.kind, c.path) for c in calls if not c.valid]
    assert Counter(c.kind for c in calls) == {k: 2 for k in KINDS}
    rows = _deliveries(any_db_url)
    refs = {r.delivery_id: r.item.ref if r.item else "" for r in rows}
    assert len(rows) == 2 * len(KINDS) and {r.status for r in rows} == {"sent"}
    assert {r.event for r in rows} <= {"new_item", "needs_review"}
    for call in calls:
        _check_shape(call, refs[call.delivery])
    assert "webhook-alerts" in err or "event=webhook_sent" in err


def _wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_with_the_receiver_down_and_a_worker_killed_every_event_arrives_once(any_db_url, dovecot, smtp_sink,
                                                                             config_for):
    down = Receiver().start()
    port = down.port
    down.stop()  # the port is known, nothing listens: every call is refused
    cfg = config_for(any_db_url, extra=_extra(Receiver(port), 'retry_seconds = 0.5\nmax_attempts = 50\n'))
    worker = start_worker(cfg)
    try:
        for n in range(3):
            dovecot.deliver("support", bytes(client_email(n, f"Question {n}", "When is the next release?",
                                                          "en")))
        smtp_sink.wait_for(3, timeout=60)  # intake is not held up by the dead targets
        _wait_until(lambda: sum(r.attempts > 0 for r in _deliveries(any_db_url)) >= len(KINDS), 60,
                    "failed tries at every target")
    finally:
        worker.kill()  # a crash: claims and queued deliveries are left as they are
        worker.communicate(timeout=30)
    for n in range(3, 5):
        dovecot.deliver("support", bytes(client_email(n, f"Question {n}", "Is the API down?", "en")))
    receiver = Receiver(port).start()
    worker = start_worker(cfg)
    try:
        smtp_sink.wait_for(5, timeout=60)
        _wait_until(lambda: all(r.status == "sent" for r in _deliveries(any_db_url))
                    and len(_deliveries(any_db_url)) == 5 * len(KINDS), 120, "every delivery sent")
    finally:
        err = _stop(worker)
        receiver.stop()
    rows = _deliveries(any_db_url)
    calls = list(receiver.calls)
    assert all(c.valid for c in calls)
    assert sorted(c.delivery for c in calls) == sorted(r.delivery_id for r in rows)  # each once, none lost
    assert Counter(c.kind for c in calls) == {k: 5 for k in KINDS}
    assert "event=outage component=webhook:" not in err or "event=recovered component=webhook:" in err


T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


def test_sla_and_decision_events_follow_the_filters(db, receiver):
    """SLA warnings and a PM's decision on a change request are delivered to the targets whose organizations
    and categories match, through the same sender the worker runs."""
    import os
    import tomllib

    os.environ["INTAKE_TEST_ACME_URL"] = receiver.url("webhook")
    cfg = parse_config({
        **tomllib.loads(_extra(receiver)),
        "sla": {"policies": {"standard": {"targets": {"issue": {"acknowledge": "5m", "first_response": "1h"},
                                                      "change_request": {"first_response": "24h"}}}}},
    } | {"notify": tomllib.loads(_extra(receiver))["notify"] + [
        {"name": "acme-issues", "target": "webhook", "url_env": "INTAKE_TEST_ACME_URL",
         "secret_env": "INTAKE_TEST_HOOK_WEBHOOK_SECRET", "organizations": ["ACME.example"],
         "categories": ["issue"], "events": ["sla_at_risk", "sla_breached", "change_approved"]}]})
    with db.begin() as s:
        acme, globex = Organization(name="Acme", domain="acme.example"), Organization(name="Globex",
                                                                                      domain="globex.example")
        issue = Item(ref="CI-000001", category="issue", subject="Login *broken* <b>", received_at=T0,
                     acknowledged_at=T0, sla=cfg.sla.built.for_tier("").snapshot(),
                     contact=Contact(email="c1@acme.example", name="Carl", organization=acme))
        change = Item(ref="CI-000002", category="change_request", subject="Add SSO",
                      status="awaiting_approval",
                      received_at=T0, acknowledged_at=T0, first_response_at=T0,
                      contact=Contact(email="c2@globex.example", organization=globex))
        s.add_all([issue, change])
        s.flush()
        s.add(ChangeAssessment(item_id=change.id, scope="SSO", assessed_by="pm@team.example"))
    check_sla(db, cfg, T0 + timedelta(minutes=50))  # 50 of 60 minutes: at risk
    check_sla(db, cfg, T0 + timedelta(minutes=70))  # breached
    lead = Viewer(id=1, email="lead@team.example", name="Lead", role="admin", org_ids=frozenset())
    change_status(db, lead, "CI-000002", "approved", alerts=cfg.alerts)
    sender = WebhookSender(db, webhook_targets(cfg), "tests:1:x")
    try:
        result = sender.deliver()
    finally:
        sender.close()
    calls = receiver.wait_for(3 * len(KINDS) + 2)
    assert result.sent == len(calls) == 3 * len(KINDS) + 2 and result.failed == result.retried == 0
    assert all(c.valid for c in calls)
    generic = [c.json for c in calls if c.kind == "webhook"]
    by_target = Counter((g["target"], g["event"], g["item"]["ref"]) for g in generic)
    assert by_target == {("webhook-alerts", "sla_at_risk", "CI-000001"): 1,
                         ("webhook-alerts", "sla_breached", "CI-000001"): 1,
                         ("webhook-alerts", "change_approved", "CI-000002"): 1,
                         ("acme-issues", "sla_at_risk", "CI-000001"): 1,
                         ("acme-issues", "sla_breached", "CI-000001"): 1}
    breached = next(g for g in generic if g["event"] == "sla_breached")
    assert {"clock": "first_response", "state": "breached"} in breached["details"]["clocks"]
    feishu = [c.json for c in calls if c.kind == "feishu"]
    assert {f["card"]["header"]["title"]["content"] for f in feishu} == {
        "服务级别即将超时：CI-000001", "服务级别已超时：CI-000001", "变更请求已批准：CI-000002"}


def test_two_workers_delivering_at_once_send_each_alert_once(db, receiver):
    """Rows are claimed (FOR UPDATE SKIP LOCKED on PostgreSQL) before they are sent: two workers draining the
    same queue at the same time never make the same call."""
    import threading

    from responders.alerts import AlertRoute, Alerts, enqueue_alert
    from responders.webhooks import WebhookTarget

    alerts = Alerts((AlertRoute("erp", "webhook"),), PUBLIC)
    with db.begin() as s:
        org = Organization(name="Acme", domain="acme.example")
        for n in range(1, 121):
            item = Item(ref=f"CI-{n:06d}", category="issue", subject=f"Item {n}",
                        contact=Contact(email=f"c{n}@acme.example", organization=org))
            s.add(item)
            s.flush()
            enqueue_alert(s, alerts, ("new_item",), item, T0)
    target = {"erp": WebhookTarget("erp", "webhook", receiver.url("webhook"), "whsec-test-0123456789")}
    senders = [WebhookSender(db, target, f"tests:{n}:x") for n in (1, 2)]
    start = threading.Barrier(2)
    results = []

    def run(sender: WebhookSender) -> None:
        start.wait()
        results.append(sender.deliver())

    threads = [threading.Thread(target=run, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in senders:
        s.close()
    calls = receiver.wait_for(120)
    assert sum(r.sent for r in results) == 120 and all(c.valid for c in calls)
    assert len({c.delivery for c in calls}) == len(calls) == 120


def test_sighup_brings_new_targets_to_a_running_worker(sqlite_url, dovecot, smtp_sink, config_for, receiver):
    """[[notify]] is read again on SIGHUP, as the mailboxes are: no restart to add a chat target."""
    import threading

    # puts the targets' URLs and secrets in the environment the worker inherits
    with_targets = _extra(receiver)
    cfg = config_for(sqlite_url, extra=f'[web]\npublic_url = "{PUBLIC}"\n')
    worker = start_worker(cfg)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(worker.stderr), daemon=True)
    reader.start()
    try:
        dovecot.deliver("support", bytes(client_email(1, "Before the reload", "Is the API down?", "en")))
        smtp_sink.wait_for(1, timeout=60)
        config_for(sqlite_url, extra=with_targets)  # the same file, now with a target of each kind
        worker.send_signal(signal.SIGHUP)
        _wait_until(lambda: any("event=config_reloaded" in line for line in list(lines)), 60, "the reload")
        dovecot.deliver("support", bytes(client_email(2, "After the reload", "The export fails with 500.",
                                                      "en")))
        calls = receiver.wait_for(len(KINDS), timeout=60)
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
        reader.join(timeout=10)
    log = "".join(lines)
    assert "Traceback" not in log and "event=notify_reloaded" in log
    assert all(c.valid for c in calls) and Counter(c.kind for c in calls) == {k: 1 for k in KINDS}
    rows = _deliveries(sqlite_url)
    assert len(rows) == len(KINDS) and {r.item.subject for r in rows} == {"After the reload"}
    for call in calls:
        _check_shape(call, rows[0].item.ref)
