"""Chat alerts and webhooks: the [[notify]] config, each platform's message, signatures, answers, the delivery
queue's retries, and hostile text (JSON-escaped, chat markup neutralized)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from typing import get_args
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from db.models import Contact, Item, Organization, WebhookDelivery
from db.webhook_deliveries import Claimed
from intake.config import NOTIFY_EVENTS, ConfigError, NotifyTarget, parse_config
from responders.alerts import EVENTS, TARGETS, AlertRoute, Alerts, enqueue_alert, new_item_events
from responders.chat_formats import Alert, dumps, one_line, payload, teams_escape
from responders.webhook_sign import dingtalk_sign, feishu_sign, signature, verify
from responders.webhooks import Request, WebhookSender, WebhookTarget, build_request, judge
from tests.e2e.xss_payloads import PAYLOADS

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)


def _notify(**table) -> dict:
    return {"notify": [{"name": "team", "target": "slack", "url_env": "SLACK_URL", **table}]}


def test_the_event_and_target_names_agree_between_config_and_responders():
    assert NOTIFY_EVENTS == EVENTS and get_args(NotifyTarget) == TARGETS


@pytest.mark.parametrize("table, message", [
    ({"url": "https://hooks.slack.com/services/x"},
     "notify[0].url: webhook URLs and secrets are credentials"),
    ({"secret": "s"}, "notify[0].secret: webhook URLs and secrets are credentials"),
    ({"target": "discord"}, "notify[0].target: must be one of webhook, slack"),
    ({"url_env": ""}, "notify[0].url_env: give url_env or url_file"),
    ({"url_file": "/run/secrets/u"}, "notify[0].url_env: give url_env or url_file"),
    ({"target": "webhook"}, "notify[0].secret_env: a generic webhook is signed"),
    ({"secret_env": "S"}, "notify[0].secret_env: slack targets take no signing secret"),
    ({"events": ["new_ticket"]}, "notify[0].events[0]: unknown event 'new_ticket'"),
    ({"events": []}, "notify[0].events: list at least one event"),
    ({"categories": ["bug"]}, "notify[0].categories[0]: unknown category 'bug'"),
    ({"language": "fr"}, "notify[0].language: must be one of en, zh"),
    ({"timeout_seconds": 0}, "notify[0].timeout_seconds: must be more than 0"),
    ({"max_attempts": 0}, "notify[0].max_attempts: must be at least 1"),
    ({"channel": "#ops"}, "notify[0].channel: unknown key"),
])
def test_a_wrong_notify_key_stops_with_one_line_naming_it(table, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(_notify(**table))
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_duplicate_target_names_are_refused():
    with pytest.raises(ConfigError, match=r"notify\[1\].name: duplicate target name 'team'"):
        parse_config({"notify": [_notify()["notify"][0]] * 2})


@pytest.mark.parametrize("url", ["ftp://hooks.example/x", "https://", "https:///path", "http://hooks.example:port/",
                                 "hooks.slack.com/services/x", ""])
def test_the_worker_refuses_a_notify_url_that_is_no_web_address_with_a_host(url, monkeypatch):
    """The same rule as `intake doctor`'s: a URL without a host or with a port that is no number would fail at
    every delivery."""
    from intake.duties import webhook_targets

    monkeypatch.setenv("SLACK_URL", url)
    with pytest.raises(ConfigError, match=r"notify.team.url: the URL read from SLACK_URL is not an http"):
        webhook_targets(parse_config(_notify()))


def test_the_worker_takes_a_web_address_with_a_host_and_port(monkeypatch):
    from intake.duties import webhook_targets

    monkeypatch.setenv("SLACK_URL", "https://hooks.example:8443/services/x")
    assert webhook_targets(parse_config(_notify()))["team"].url == "https://hooks.example:8443/services/x"


def test_the_config_gives_the_routes_and_the_links_base():
    cfg = parse_config({**_notify(organizations=["Acme.Example"], categories=["issue"], language="zh",
                                  events=["sla_breached"]), "web": {"public_url": "https://intake.example/"}})
    route = cfg.alerts.routes[0]
    assert (route.name, route.target, route.lang) == ("team", "slack", "zh")
    assert route.wants("sla_breached", "issue", "acme.example")
    assert not route.wants("sla_breached", "question", "acme.example")
    assert not route.wants("sla_breached", "issue", "globex.example")
    assert not route.wants("new_item", "issue", "acme.example")
    assert cfg.alerts.base_url == "https://intake.example"


def _alert(subject: str = "Login broken", name: str = "Ann", org: str = "Acme", **details) -> Alert:
    return Alert(event="new_item", ref="CI-000042", subject=subject, category="issue",
                 url="https://intake.example/items/CI-000042", occurred_at=NOW, client_name=name,
                 client_email="ann@acme.example", organization=org, domain="acme.example", confidence=0.91,
                 details=details)


def test_each_platform_gets_its_own_shape_in_the_configured_language():
    en = {t: json.loads(payload(t, _alert(), "en", "d-1", "x")) for t in TARGETS}
    zh = {t: json.loads(payload(t, _alert(), "zh", "d-1", "x")) for t in TARGETS}
    assert en["webhook"]["event"] == "new_item" and en["webhook"]["id"] == "d-1"
    assert en["webhook"]["item"]["organization"] == {"name": "Acme", "domain": "acme.example"}
    assert en["webhook"]["text"] == "New issue: CI-000042: Login broken"
    assert en["slack"]["blocks"][0]["text"]["text"] == ("*New issue: CI-000042*  "
                                                         "<https://intake.example/items/CI-000042|Open "
                                                         "CI-000042>")
    assert en["teams"]["attachments"][0]["content"]["actions"][0]["title"] == "Open CI-000042"
    assert zh["dingtalk"]["link"]["title"] == "新问题：CI-000042"
    assert zh["feishu"]["card"]["elements"][-1]["actions"][0]["text"]["content"] == "查看 CI-000042"
    assert zh["wecom"]["news"]["articles"][0]["description"].splitlines() == [
        "Login broken", "来自：Ann <ann@acme.example> (Acme)"]


def test_sla_and_csat_details_are_written_out():
    alert = _alert(clocks=[{"clock": "first_response", "state": "breached"}])
    body = json.loads(payload("feishu", Alert(**{**alert.__dict__, "event": "sla_breached"}), "en", "d", "x"))
    texts = [e["text"]["content"] for e in body["card"]["elements"] if e["tag"] == "div"]
    assert "first response: breached" in texts and body["card"]["header"]["template"] == "red"
    csat = Alert(**{**_alert(rating=2, comment="Too slow").__dict__, "event": "negative_csat"})
    slack = json.loads(payload("slack", csat, "en", "d", "x"))
    assert slack["text"] == "Unhappy client: CI-000042 rated 2 of 5: Login broken"


def _plain_texts(value, key=None):
    """Every string in VALUE with the key it sits under."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _plain_texts(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _plain_texts(v, key)
    elif isinstance(value, str):
        yield key, value


@pytest.mark.parametrize("target", TARGETS)
def test_hostile_text_is_json_escaped_and_never_markup(target):
    """Every XSS payload of the browser suite as subject, client and organization name: the body is JSON with
    no raw <, > or &, and each platform shows the text as text."""
    for p in PAYLOADS:
        raw = payload(target, _alert(subject=p, name=p, org=p, comment=p), "en", "d", "x")
        assert not set("<>&\u2028\u2029") & set(raw), p
        body = json.loads(raw)
        line = one_line(p)
        if target == "webhook":
            assert body["item"]["subject"] == p and body["item"]["client"]["name"] == p
        elif target == "slack":
            assert body["mrkdwn"] is False and "<" not in body["text"] and ">" not in body["text"]
            assert body["blocks"][1]["text"] == {"type": "plain_text", "text": line or "(no subject)",
                                                 "emoji": False}
            head = body["blocks"][0]["text"]["text"]
            # our link, nothing of the client
            assert head.count("<") == 1 and head.endswith("|Open CI-000042>")
        elif target == "teams":
            blocks = body["attachments"][0]["content"]["body"]
            for block in blocks:
                # Each Markdown character is escaped: removing the escapes gives the text back, nothing
                # renders.
                assert re.search(r"(?<!\\)[*_`\[\]<>#|~]", block["text"].replace("\\\\", "")) is None, block
            assert re.sub(r"\\(.)", r"\1", blocks[1]["text"]) == (line or "(no subject)")
        elif target == "feishu":
            card = body["card"]
            tags = [v for k, v in _plain_texts(card) if k == "tag"]
            assert set(tags) <= {"plain_text", "div", "action", "button"}
        elif target == "dingtalk":
            assert (body["msgtype"] == "link"
                    and body["link"]["messageUrl"].startswith("https://intake.example/"))
        else:
            article = body["news"]["articles"][0]
            assert "<@" not in article["title"] + article["description"]
            assert len(article["title"].encode()) <= 128 and len(article["description"].encode()) <= 512


def test_json_escaping_keeps_the_value():
    value = {"s": "</script><b>&amp;\u2028\u2029\"'", "n": [1, None]}
    text = dumps(value)
    assert json.loads(text) == value and "</" not in text and "&" not in text
    assert teams_escape("*a* [b](c)") == "\\*a\\* \\[b\\]\\(c\\)"


def test_our_signature_verifies_and_refuses_tampering_and_replay():
    body = b'{"event":"new_item"}'
    good = {"X-Intake-Timestamp": "1764988800", "X-Intake-Signature": signature("k", 1764988800, body)}
    expected = hmac.new(b"k", b"1764988800." + body, hashlib.sha256).hexdigest()
    assert good["X-Intake-Signature"] == "sha256=" + expected
    assert verify("k", {k.lower(): v for k, v in good.items()}, body, 1764988800 + 10)
    assert not verify("k", good, body + b" ", 1764988800)
    assert not verify("other", good, body, 1764988800)
    assert not verify("k", good, body, 1764988800 + 3600)


def test_dingtalk_and_feishu_signatures_follow_their_documented_recipes():
    # DingTalk: HMAC-SHA256 keyed with the secret over "<ms>\n<secret>", base64; Feishu: keyed with
    # "<s>\n<secret>" over nothing, base64.
    assert dingtalk_sign("SECabc", 1700000000000) == base64.b64encode(
        hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()).decode()
    assert feishu_sign("abc", 1700000000) == base64.b64encode(
        hmac.new(b"1700000000\nabc", b"", hashlib.sha256).digest()).decode()


def _row(target: str, body: str = '{"msgtype":"link"}', n: int = 1, attempts: int = 0) -> Claimed:
    return Claimed(n, f"d-{n}", target, "new_item", "CI-000001", body, attempts)


def test_requests_are_signed_as_each_platform_wants():
    now = 1764988800.5
    generic = build_request(WebhookTarget("g", "webhook", "https://r.example/h", "k"), _row("g"), now)
    assert verify("k", generic.headers, generic.body, now)
    assert generic.headers["X-Intake-Delivery"] == "d-1" and generic.headers["X-Intake-Event"] == "new_item"
    ding = build_request(WebhookTarget("d", "dingtalk", "https://oapi.dingtalk.com/robot/send?access_token=t",
                                       "SECx"), _row("d"), now)
    query = parse_qs(urlsplit(ding.url).query)
    assert query["access_token"] == ["t"] and query["timestamp"] == ["1764988800500"]
    assert query["sign"] == [dingtalk_sign("SECx", 1764988800500)]
    fs = build_request(WebhookTarget("f", "feishu", "https://open.feishu.cn/x", "fk"),
                       _row("f", '{"msg_type":"interactive","card":{}}'), now)
    assert json.loads(fs.body) == {"timestamp": "1764988800", "sign": feishu_sign("fk", 1764988800),
                                   "msg_type": "interactive", "card": {}}
    plain = build_request(WebhookTarget("s", "slack", "https://hooks.slack.com/x"), _row("s"), now)
    assert plain.url == "https://hooks.slack.com/x" and "X-Intake-Signature" not in plain.headers


@pytest.mark.parametrize("kind, status, text, verdict", [
    ("slack", 200, "ok", (True, False)),
    ("webhook", 204, "", (True, False)),
    ("dingtalk", 200, '{"errcode":0,"errmsg":"ok"}', (True, False)),
    ("dingtalk", 200, '{"errcode":310000,"errmsg":"sign not match"}', (False, False)),
    ("wecom", 200, '{"errcode":93000,"errmsg":"invalid webhook url"}', (False, False)),
    ("feishu", 200, '{"code":19021,"msg":"sign match fail"}', (False, False)),
    ("feishu", 200, '{"StatusCode":0,"StatusMessage":"success"}', (True, False)),
    ("teams", 404, "gone", (False, True)),
    ("slack", 429, "rate limited", (False, False)),
    ("webhook", 503, "down", (False, False)),
    ("webhook", 302, "", (False, False)),
])
def test_answers_are_judged_per_platform(kind, status, text, verdict):
    ok, error, permanent = judge(kind, status, text)
    assert (ok, permanent) == verdict and (ok or error)


def _seed(factory, n: int, target: str = "t") -> None:
    with factory.begin() as s:
        org = Organization(name="Acme", domain="acme.example")
        item = Item(ref="CI-000001", category="issue", subject="x", contact=Contact(email="a@acme.example",
                                                                                     organization=org))
        s.add(item)
        s.flush()
        alerts = Alerts((AlertRoute(target, "slack"),), "https://intake.example")
        for _ in range(n):
            assert enqueue_alert(s, alerts, new_item_events(False), item, NOW) == 1


def _rows(factory) -> list[WebhookDelivery]:
    with factory() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_a_dead_target_costs_one_try_per_pass_and_its_rows_wait_in_order(factory):
    _seed(factory, 3)
    calls: list[str] = []

    def refused(request: Request, timeout: float) -> tuple[int, str]:
        calls.append(request.headers["X-Intake-Delivery"])
        raise ConnectionRefusedError(111, "Connection refused")

    sender = WebhookSender(factory, {"t": WebhookTarget("t", "slack", "http://127.0.0.1:9/x",
                                                        retry_seconds=60)},
                           "w:1:a", poster=refused)
    result = sender.deliver()
    rows = _rows(factory)
    assert len(calls) == 1 and (result.sent, result.retried, result.failed) == (0, 1, 0)
    assert [r.attempts for r in rows] == [1, 0, 0] and {r.status for r in rows} == {"pending"}
    assert len({r.next_attempt_at for r in rows}) == 1 and rows[0].next_attempt_at > rows[0].created_at
    assert rows[1].last_error.startswith("waiting for t: an earlier call failed")
    assert sender.deliver().sent == 0 and len(calls) == 1  # nothing is due before the backoff ends

    def ok(request: Request, timeout: float) -> tuple[int, str]:
        calls.append(request.headers["X-Intake-Delivery"])
        return 200, "ok"

    with factory.begin() as s:  # the backoff is over
        for row in s.scalars(select(WebhookDelivery)):
            row.next_attempt_at = NOW
    sender._post = ok
    assert sender.deliver().sent == 3
    sender.close()
    rows = _rows(factory)
    assert calls[1:] == [r.delivery_id for r in rows] and {r.status for r in rows} == {"sent"}


def test_a_refused_message_fails_alone_and_a_target_gives_up_after_its_attempts(factory):
    _seed(factory, 3)
    answers = iter([(400, "invalid_payload"), (200, "ok"), (500, "oops")])
    sender = WebhookSender(factory, {"t": WebhookTarget("t", "slack", "http://x", max_attempts=1)}, "w:1:a",
                           poster=lambda r, t: next(answers))
    result = sender.deliver()
    sender.close()
    rows = _rows(factory)
    assert [r.status for r in rows] == ["failed", "sent", "failed"] and result.failed == 2
    assert rows[0].last_status == 400 and "invalid_payload" in rows[0].last_error


def test_rows_of_an_unconfigured_target_stay_queued(factory):
    _seed(factory, 1, target="removed")
    sender = WebhookSender(factory, {"t": WebhookTarget("t", "slack", "http://x")}, "w:1:a",
                           poster=lambda r, t: (200, "ok"))
    assert sender.deliver().sent == 0
    sender.close()
    assert [r.status for r in _rows(factory)] == ["pending"]


def test_errors_never_show_the_url_or_its_token(factory):
    _seed(factory, 1)
    url = "https://oapi.dingtalk.com/robot/send?access_token=s3cret"

    def broken(request: Request, timeout: float) -> tuple[int, str]:
        raise ValueError(f"URL can't contain control characters. {request.url!r} echoes access_token=s3cret")

    sender = WebhookSender(factory, {"t": WebhookTarget("t", "dingtalk", url)}, "w:1:a", poster=broken)
    sender.deliver()
    sender.close()
    (row,) = _rows(factory)
    assert row.attempts == 1 and "s3cret" not in row.last_error and "<redacted>" in row.last_error
