"""The client's side, end to end: mail in over real Dovecot, the acknowledgment's status link, the PM
resolving the item, the update and the delayed survey over the SMTP sink, one-click ratings, and the CSAT
figures."""
from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from db.claims import worker_name
from db.engine import make_engine, make_sessionmaker
from db.models import ChangeAssessment, Event, Item, OutboxMail, StatusLink, Survey, User
from db.types import utcnow
from intake.client_settings import client_mail_settings
from intake.config import load_config
from intake.duties import smtp_settings
from responders.sender import drain
from review.app import create_app
from tests.integration.conftest import run_intake
from tests.mailgen import client_email
from tests.web import add_user, csrf_from, sign_in

pytestmark = pytest.mark.integration
PUBLIC = "https://intake.example.com"
DELAY_MINUTES = 0.1  # the survey's delay, short for the test
STATUS_LINK = re.compile(re.escape(PUBLIC) + r"/s/([A-Za-z0-9_\-]+)")
NOTE = "Internal: client is on the legacy plan, do not mention the discount"


def intake(cfg, *args: str) -> str:
    proc = run_intake(cfg, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def parse(raw: bytes):
    return message_from_bytes(raw, policy=default)


def text_of(raw: bytes) -> str:
    return parse(raw).get_body(("plain",)).get_content().replace("\r\n", "\n")


def config(config_for, db_url: str, delay: float = DELAY_MINUTES):
    return config_for(db_url, f'''
[web]
public_url = "{PUBLIC}"

[surveys]
delay_minutes = {delay}
''')


def web_app(cfg_path):
    """The review app as `intake web` builds it, over the test's database and SMTP sink."""
    cfg = load_config(cfg_path)
    engine = make_engine(cfg.database.url)
    factory = make_sessionmaker(engine)
    smtp, name = smtp_settings(cfg), worker_name()
    app = create_app(factory, send_outbox=lambda: drain(factory, smtp, name), sla=cfg.sla.built,
                     client_mail=client_mail_settings(cfg, factory))
    return app, factory, engine


def pm_client(app, factory):
    client = TestClient(app)
    add_user(factory, "mei@team.example", "pm", ("client.example",), name="Mei Wang")
    assert sign_in(client, "mei@team.example").status_code == 303
    return client


def post_form(client, path: str, **fields: str):
    token = csrf_from(client.get(path.rsplit("/", 1)[0]).text)
    return client.post(path, data={**fields, "csrf_token": token}, follow_redirects=False)


def test_status_link_update_survey_and_csat_end_to_end(any_db_url, dovecot, smtp_sink, config_for):
    cfg = config(config_for, any_db_url)
    dovecot.deliver("support", bytes(client_email(
        1, "导出报表时出错", "从昨天开始，导出超过一千行的报表时系统报错 500，请尽快处理。", "zh",
        msgid="<zh-1@client.example>")))
    dovecot.deliver("support", bytes(client_email(
        2, "Login page broken", "Since this morning the login page shows an error 500 for everyone.", "en",
        msgid="<en-2@client.example>")))
    intake(cfg, "db", "upgrade")
    intake(cfg, "run", "--once")

    # The acknowledgments hold status links; only their hashes are stored.
    acks = {parse(m.raw)["In-Reply-To"]: m for m in smtp_sink.wait_for(2)}
    zh_token = STATUS_LINK.search(text_of(acks["<zh-1@client.example>"].raw)).group(1)
    en_token = STATUS_LINK.search(text_of(acks["<en-2@client.example>"].raw)).group(1)
    assert len(zh_token) >= 40 and zh_token != en_token
    assert (f"{PUBLIC}/s/{zh_token}" in parse(acks["<zh-1@client.example>"].raw).get_body(("html",))
            .get_content())

    app, factory, engine = web_app(cfg)
    with factory() as s:
        zh_item = s.scalar(select(Item).where(Item.lang == "zh"))
        en_item = s.scalar(select(Item).where(Item.lang == "en"))
        zh_ref, en_ref = zh_item.ref, en_item.ref
        hashes = set(s.scalars(select(StatusLink.token_hash)))
        assert len(hashes) == 2 and zh_token not in hashes and all(len(h) == 64 for h in hashes)

    pm = pm_client(app, factory)
    assert post_form(pm, f"/items/{zh_ref}/note", text=NOTE).status_code == 303
    with factory.begin() as s:  # the item is Mei's
        s.get(Item,
              zh_item.id).assignee_id = s.scalar(select(User.id).where(User.email == "mei@team.example"))

    # The link shows the item without signing in, in the client's language, without internal notes.
    visitor = TestClient(app)
    page = visitor.get(f"/s/{zh_token}", headers={"accept-language": "en"})
    assert page.status_code == 200
    assert zh_ref in page.text and "导出报表时出错" in page.text
    assert "您的请求" in page.text and 'lang="zh-CN"' in page.text
    assert "从昨天开始" in page.text  # the client's own message
    assert NOTE not in page.text and "Mei" not in page.text and "mei@team.example" not in page.text
    assert en_ref not in page.text
    assert page.headers["x-robots-tag"] == "noindex, nofollow"
    assert page.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "intake_session" not in page.headers.get("set-cookie", "")
    english = visitor.get(f"/s/{en_token}")
    assert english.status_code == 200 and en_ref in english.text and zh_ref not in english.text
    assert "Your request" in english.text

    # A tampered or unknown token is a plain 404.
    tampered = zh_token[:-1] + ("A" if zh_token[-1] != "A" else "B")
    for bad in (tampered, "x" * 43, zh_token + "x", "%00"):
        answer = visitor.get(f"/s/{bad}")
        assert answer.status_code == 404 and zh_ref not in answer.text

    # A PM's "new link" revokes the old one: it answers 404 at once; the new one works.
    api = TestClient(app, headers={"authorization": "Bearer " + add_user(factory, "lead@team.example",
                                                                         "admin")})
    made = api.post(f"/api/items/{en_ref}/status-link")
    assert made.status_code == 201 and made.json()["revoked"] == 1
    assert visitor.get(f"/s/{en_token}").status_code == 404
    fresh = made.json()["url"]
    assert fresh.startswith(f"{PUBLIC}/s/") and visitor.get(fresh.removeprefix(PUBLIC)).status_code == 200
    assert api.delete(f"/api/items/{en_ref}/status-link").json()["revoked"] == 1
    assert visitor.get(fresh.removeprefix(PUBLIC)).status_code == 404

    # The PM resolves the item: the client gets the update (threaded, with the reference and a status link).
    before = len(smtp_sink.messages)
    before_resolving = utcnow()
    assert post_form(pm, f"/items/{zh_ref}/status", status="resolved").status_code == 303
    after_resolving = utcnow()
    update = smtp_sink.wait_for(before + 1)[-1]
    assert update.rcpt_tos == ["client1@client.example"]
    msg = parse(update.raw)
    assert msg["Subject"].endswith(f"[{zh_ref}]") and msg["In-Reply-To"] == "<zh-1@client.example>"
    body = text_of(update.raw)
    assert "已解决" in body and STATUS_LINK.search(body)
    assert visitor.get("/s/" + STATUS_LINK.search(body).group(1)).status_code == 200

    # The survey waits in the outbox for the configured delay, then goes out with the worker's next drain.
    with factory() as s:
        survey = s.scalar(select(Survey))
        assert survey.status == "scheduled"
        delay = timedelta(minutes=DELAY_MINUTES)
        earliest = before_resolving + delay - timedelta(seconds=1)  # slack for a database rounding it
        assert earliest <= survey.scheduled_for <= after_resolving + delay
        due = survey.scheduled_for
    while utcnow() <= due:
        time.sleep(0.2)
    intake(cfg, "run", "--once")
    survey_mail = smtp_sink.wait_for(before + 2)[-1]
    assert survey_mail.rcpt_tos == ["client1@client.example"]
    survey_msg = parse(survey_mail.raw)
    assert zh_ref in survey_msg["Subject"] and survey_msg["Auto-Submitted"] == "auto-generated"
    assert str(survey_msg["List-Unsubscribe"]).strip().startswith(f"<{PUBLIC}/r/")
    links = dict(re.findall(r"^\s+(\d)\S*\s+" + re.escape(PUBLIC) + r"(/r/\S+)$", text_of(survey_mail.raw),
                            re.M))
    assert sorted(links) == ["1", "2", "3", "4", "5"]

    # Opening the "2" link (as a mail scanner does too) only asks; the page's button records the rating, flags
    # the item and tells its assignee.
    asked = visitor.get(links["2"])
    assert asked.status_code == 200 and asked.headers["x-robots-tag"].startswith("noindex")
    with factory() as s:
        # the survey's state follows its mail: sent (the API and the reports read it)
        assert s.scalar(select(Survey.rating)) is None and s.scalar(select(Survey.status)) == "sent"
    rated = visitor.post(links["2"])
    assert rated.status_code == 200 and "您的评分：2 分" in rated.text
    with factory() as s:
        item = s.scalar(select(Item).where(Item.ref == zh_ref))
        assert s.scalar(select(Survey.rating)) == 2 and item.follow_up
        negative = s.scalar(select(Event).where(Event.kind == "csat_negative"))
        assert negative is not None and negative.data["to"] == ["mei@team.example"]
        assert s.scalar(select(OutboxMail.to_address)
                        .where(OutboxMail.kind == "csat_alert")) == "mei@team.example"
    intake(cfg, "run", "--once")
    alert = smtp_sink.wait_for(before + 3)[-1]
    assert alert.rcpt_tos == ["mei@team.example"] and zh_ref in parse(alert.raw)["Subject"]

    # A second click changes the rating; it does not add one.
    assert visitor.post(links["4"]).status_code == 200
    with factory() as s:
        assert [(r.rating) for r in s.scalars(select(Survey))] == [4]
        assert len(s.scalars(select(Event).where(Event.kind == "csat_rated")).all()) == 2

    # A comment is kept with the rating.
    token = links["4"].split("/")[2]
    saved = visitor.post(f"/r/{token}/comment", data={"comment": "修复得很快，谢谢！"},
                         follow_redirects=False)
    assert saved.status_code == 303
    assert "修复得很快" in visitor.get(saved.headers["location"]).text

    # A survey token tampered with, or naming another item, is a 404 too.
    settings = client_mail_settings(load_config(cfg), factory)
    with factory() as s:
        survey_id = s.scalar(select(Survey.id))
    other = settings.survey_links.token(survey_id, en_item.id)
    # The second-last character: the last one carries padding bits, so changing it may leave the same
    # signature.
    tampered = token[:-2] + ("x" if token[-2] != "x" else "y") + token[-1]
    for bad in (tampered, other):
        assert visitor.post(f"/r/{bad}/5").status_code == 404
    with factory() as s:
        assert s.scalar(select(Survey.rating)) == 4

    # The API reads the rating; the SLA report shows the CSAT figures.
    assert api.get(f"/api/items/{zh_ref}/survey").json()["survey"]["rating"] == 4
    report = json.loads(intake(cfg, "report", "sla", "--format", "json"))
    csat = report["csat"]["total"]
    assert csat["surveys_sent"] == 1 and csat["responses"] == 1
    assert csat["response_rate"] == 1.0 and csat["average"] == 4.0 and csat["satisfied_share"] == 1.0
    # Per client, in CSV and HTML alike, and on the app's report page (Mei's client).
    by_org = intake(cfg, "report", "sla", "--format", "csv", "--by", "organization")
    org_rows = {(r["group_by"], r["group"]): r for r in csv.DictReader(io.StringIO(by_org))}
    assert {k: org_rows[("organization", "client.example")][k] for k in ("csat_sent", "csat_responses",
                                                                           "csat_average")} == \
        {"csat_sent": "1", "csat_responses": "1", "csat_average": "4.0000"}
    html = intake(cfg, "report", "sla", "--format", "html")
    assert 'data-figure="csat_average" data-value="4.0000">4.00</td>' in html
    on_page = pm.get("/reports/sla")
    assert on_page.status_code == 200 and 'data-figure="csat_responses" data-value="1">1</td>' in on_page.text
    engine.dispose()


def test_a_survey_waits_and_is_cancelled_when_the_client_writes_again(sqlite_url, dovecot, smtp_sink,
                                                                      config_for):
    cfg = config(config_for, sqlite_url, delay=60)
    dovecot.deliver("support", bytes(client_email(
        3, "How do I export invoices?", "Where can I export all invoices of last year as CSV?", "en",
        msgid="<q-3@client.example>")))
    intake(cfg, "db", "upgrade")
    intake(cfg, "run", "--once")
    ack = parse(smtp_sink.wait_for(1)[0].raw)
    app, factory, engine = web_app(cfg)
    pm = pm_client(app, factory)
    with factory() as s:
        item = s.scalar(select(Item))
        ref, category = item.ref, item.category
    done = {"question": "answered", "issue": "resolved"}.get(category)
    if done is None:  # the classifier's guess is the PM's to correct: make it a question
        assert post_form(pm, f"/items/{ref}/category", category="question").status_code == 303
        done = "answered"
    assert post_form(pm, f"/items/{ref}/status", status=done).status_code == 303
    with factory() as s:
        survey = s.scalar(select(Survey))
        assert survey.status == "scheduled"
        assert s.get(OutboxMail, survey.outbox_id).status == "pending"

    # The client answers before the survey is due: it is cancelled, and never sent.
    reply = client_email(3, str(ack["Subject"]), "Thanks, but the export button is greyed out for me.", "en",
                         msgid="<q-4@client.example>", In_Reply_To=str(ack["Message-ID"]))
    dovecot.deliver("support", bytes(reply))
    sent_before = len(smtp_sink.messages)
    intake(cfg, "run", "--once")
    with factory() as s:
        survey = s.scalar(select(Survey))
        assert survey.status == "cancelled"
        assert s.get(OutboxMail, survey.outbox_id).status == "cancelled"
        assert s.scalar(select(Event.data)
                        .where(Event.kind == "survey_cancelled")) == {"reason": "client_wrote"}
    assert not [m for m in smtp_sink.messages[sent_before:]
                if "How did we do" in str(parse(m.raw)["Subject"])]

    # The client unsubscribes from an earlier survey link: the next update is withheld, and said so.
    settings = client_mail_settings(load_config(cfg), factory)
    visitor = TestClient(app)
    with factory() as s:
        token = settings.survey_links.token(survey.id, survey.item_id)
    assert visitor.post(f"/r/{token}/unsubscribe").status_code == 200
    assert post_form(pm, f"/items/{ref}/status", status="closed", confirm="1").status_code == 303
    assert post_form(pm, f"/items/{ref}/status", status="new").status_code == 303
    before = len(smtp_sink.messages)
    assert post_form(pm, f"/items/{ref}/status", status="answered").status_code == 303
    with factory() as s:
        assert s.scalar(select(Event.data).where(Event.kind == "update_withheld")
                        .order_by(Event.id.desc())) == \
            {"status": "answered", "reason": "opted_out"}
        assert s.scalar(select(Survey.status)) == "suppressed"
    assert len(smtp_sink.messages) == before
    engine.dispose()


def test_a_clients_decision_by_email_schedules_the_survey_as_a_pms_would(any_db_url, dovecot, smtp_sink,
                                                                         config_for):
    """The survey follows the status whoever moves the item: here the client's "reject" by email, read by the
    worker (which signs the survey's links with the same key as the web app)."""
    cfg = config_for(any_db_url, f'''
[web]
public_url = "{PUBLIC}"

[surveys]
delay_minutes = 0
statuses = ["resolved", "answered", "implemented", "rejected"]
''')
    dovecot.deliver("support", bytes(client_email(
        5, "Change request: single sign-on",
        "Please add single sign-on with Azure AD to the portal. This is a new "
        "requirement beyond the agreed scope.", "en", msgid="<cr-5@client.example>")))
    intake(cfg, "db", "upgrade")
    intake(cfg, "run", "--once")
    ack = parse(smtp_sink.wait_for(1)[0].raw)
    engine = make_engine(load_config(cfg).database.url)
    factory = make_sessionmaker(engine)
    with factory.begin() as s:  # the PM's part, as the app records it: assessed, sent for approval
        item = s.scalar(select(Item))
        item.category, item.status, ref = "change_request", "awaiting_approval", item.ref
        s.add(ChangeAssessment(item_id=item.id, scope="SAML sign-in", cost="6 person-days",
                               schedule="+2 weeks",
                               assessed_by="mei@team.example", sent_at=utcnow()))
    dovecot.deliver("support", bytes(client_email(
        5, str(ack["Subject"]), "We reject this, the cost is too high for us this year.", "en",
        msgid="<cr-6@client.example>", In_Reply_To=str(ack["Message-ID"]))))
    intake(cfg, "run", "--once")
    with factory() as s:
        assert s.scalar(select(Item.status)) == "rejected"
        survey = s.scalar(select(Survey))
        assert survey is not None and survey.status in ("scheduled", "sent")
    survey_mail = next(m for m in smtp_sink.wait_for(3) if "How did we do" in str(parse(m.raw)["Subject"]))
    assert ref in parse(survey_mail.raw)["Subject"]
    links = dict(re.findall(r"^\s+(\d)\b.*?" + re.escape(PUBLIC) + r"(/r/\S+)$", text_of(survey_mail.raw),
                            re.M))
    assert sorted(links) == ["1", "2", "3", "4", "5"]
    app, web_factory, web_engine = web_app(cfg)
    assert TestClient(app).post(links["5"]).status_code == 200  # the web app reads the worker's signature
    with factory() as s:
        assert s.scalar(select(Survey.rating)) == 5
    web_engine.dispose()
    engine.dispose()
