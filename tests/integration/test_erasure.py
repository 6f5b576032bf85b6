"""`intake client export` and `intake client erase` through the real worker, web actions and database: after
an erasure, a dump of the whole database (SQLite's iterdump, PostgreSQL's pg_dump) holds no trace of the
contact's address, name or text, the items are still there, and the SLA report's figures are unchanged."""
from __future__ import annotations

import json
import sqlite3
import subprocess
import zipfile
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from db.engine import make_engine, make_sessionmaker
from db.models import AuditEntry, Contact, Item, Message, Survey, User, WebhookDelivery
from reports.policy import parse_policies
from reports.render import sla_to_dict
from reports.sla import compute_sla
from responders.alerts import AlertRoute, Alerts, enqueue_alert
from review.actions import Outgoing, add_note, change_status, reply
from review.viewer import Viewer
from tests.conftest import PG_ADMIN_URL
from tests.integration.conftest import run_intake

pytestmark = pytest.mark.integration

ADDRESS = "anna.lin@acme.example"
NAME = "林安娜"
LATIN_NAME = "Anna Lindqvist"  # how a colleague writes her name
TEXTS = ("项目代号青松的导出功能在一千行以上崩溃", "Bluefinch dashboard export stops at row 1000")
OUT = Outgoing("Acme Support <support@team.example>", "Acme project team")


def _mail(sender: str, subject: str, body: str, cc: str = "") -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, "support@team.example", subject
    if cc:
        m["Cc"] = cc
    m["Date"] = format_datetime(datetime.now(timezone.utc))
    m["Message-ID"] = make_msgid(domain="acme.example")
    m.set_content(body)
    if "Bluefinch" in body:
        m.add_attachment(b"row,value\n" + b"1000,Bluefinch\n" * 20, maintype="text", subtype="csv",
                         filename="bluefinch-export.csv")
    return bytes(m)


def _dump(url: str) -> str:
    """The whole database as text: SQL statements with text as it is and binary data as hex."""
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            return "\n".join(conn.iterdump())
        finally:
            conn.close()
    schema = parse_qs(urlsplit(url).query)["options"][0].split("=", 1)[1]
    admin = urlsplit(PG_ADMIN_URL)
    done = subprocess.run(["pg_dump", "--no-owner", "--schema", schema, "-h", admin.hostname or "127.0.0.1",
                           "-p", str(admin.port or 5432), "-U", admin.username or "postgres",
                           admin.path.lstrip("/")], capture_output=True, text=True, check=True)
    return done.stdout


def _traces(dump: str, needle: str) -> list[str]:
    """Where NEEDLE shows in DUMP: as text (any case), as JSON escapes, or as hex (binary columns)."""
    low = dump.lower()
    spellings = {needle.lower(), json.dumps(needle)[1:-1].lower(), needle.encode().hex()}
    return [s for s in spellings if s in low]


def _sla(factory, since: date, until: date) -> list[dict]:
    policies = parse_policies({}, {}, "")
    now = datetime.now(timezone.utc) + timedelta(hours=1)
    with factory() as session:
        reports = [sla_to_dict(compute_sla(session, policies, since, until, by=by, now=now))
                   for by in ("category", "organization")]
    for r in reports:
        r.pop("generated_at")
    return reports


def test_erase_leaves_no_trace_and_the_sla_figures(any_db_url, dovecot, smtp_sink, config_for, tmp_path):
    cfg = config_for(any_db_url)
    dovecot.deliver("support", _mail(f"{NAME} <{ADDRESS}>", "导出崩溃", TEXTS[0]))
    dovecot.deliver("support", _mail(f"{LATIN_NAME} <{ADDRESS}>", "Dashboard export", TEXTS[1]))
    dovecot.deliver("support", _mail("Bo Chen <bo@acme.example>", "Invoice question",
                                     f"Hello, I copied {LATIN_NAME} ({ADDRESS}) on this. When is the invoice "
                                     "due?",
                                     cc=f"{LATIN_NAME} <{ADDRESS}>"))
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    ran = run_intake(cfg, "run", "--once")
    assert ran.returncode == 0 and "new items: 3" in ran.stdout, ran.stdout + ran.stderr

    engine = make_engine(any_db_url)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        pm = User(email="mei@team.example", name="Mei", role="admin")
        session.add(pm)
        session.flush()
        me = Viewer(pm.id, pm.email, pm.name, "admin", frozenset())
        anna_refs = list(session.scalars(select(Item.ref).join(Contact).where(Contact.email == ADDRESS)
                                         .order_by(Item.id)))
        bo_ref = session.scalar(select(Item.ref).join(Contact).where(Contact.email == "bo@acme.example"))
    assert len(anna_refs) == 2 and bo_ref
    reply(factory, me, anna_refs[0], f"Dear {NAME}, we reproduced it: {TEXTS[0]}.", OUT)
    add_note(factory, me, anna_refs[0], f"Phoned {LATIN_NAME}; she confirmed Bluefinch.")
    add_note(factory, me, bo_ref, f"{LATIN_NAME} ({ADDRESS}) is in copy, she may call.")
    change_status(factory, me, anna_refs[0], "closed")
    run_intake(cfg, "run", "--once")  # sends the reply
    with factory.begin() as session:  # her survey comment, and chat alerts about her item (one still pending)
        item = session.scalar(select(Item).where(Item.ref == anna_refs[0]))
        session.add(Survey(item=item, status="sent", to_address=ADDRESS, rating=2,
                           comment=f"Still: {TEXTS[1]}"))
        alerts = Alerts((AlertRoute("ops", "webhook"), AlertRoute("team", "slack")), "http://127.0.0.1")
        assert enqueue_alert(session, alerts, ("negative_csat",), item, datetime.now(timezone.utc),
                             rating=2, comment=TEXTS[1]) == 2
        session.flush()
        session.scalars(select(WebhookDelivery)).first().status = "sent"
    today = datetime.now(timezone.utc).date()
    before = _sla(factory, today - timedelta(days=1), today + timedelta(days=1))
    dump = _dump(any_db_url)
    assert all(_traces(dump, n) for n in (ADDRESS, NAME, LATIN_NAME, *TEXTS))  # the check can see them

    # The export holds everything, the raw messages as .eml.
    zipped = tmp_path / "anna.zip"
    exported = run_intake(cfg, "client", "export", ADDRESS.upper(), "--out", str(zipped))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(zipped) as z:
        assert json.loads(z.read("contact.json"))["email"] == ADDRESS
        items = json.loads(z.read("items.json"))
        messages = json.loads(z.read("messages.json"))
        emls = [n for n in z.namelist() if n.startswith("messages/")]
        sent = [n for n in z.namelist() if n.startswith("sent/")]
        assert sorted(i["ref"] for i in items) == anna_refs
        assert any(TEXTS[0] in m["text"] for m in messages) and any(TEXTS[1] in m["text"] for m in messages)
        assert any(a["filename"] == "bluefinch-export.csv" for m in messages for a in m["attachments"])
        # Her two messages, her copy on Bo's message (she sent nothing there: not hers) and our reply.
        assert {m["sender"] for m in messages if m["direction"] == "in"} == {ADDRESS}
        assert len(emls) == len([m for m in messages if m["eml"]]) >= 2
        assert b"Bluefinch" in z.read(next(n for n in emls if b"Bluefinch" in z.read(n)))
        assert len(sent) >= 3  # two acknowledgments and the reply
        assert any(any(h["kind"] == "note" for h in i["history"]) for i in items)

    asked = run_intake(cfg, "client", "erase", ADDRESS)
    assert asked.returncode == 1 and "--yes" in asked.stderr and "2 items" in asked.stderr
    erased = run_intake(cfg, "client", "erase", ADDRESS, "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "2 items kept without personal data" in erased.stdout

    dump = _dump(any_db_url)
    for needle in (ADDRESS, NAME, LATIN_NAME, *TEXTS, "bluefinch-export.csv", "Bluefinch"):
        assert not _traces(dump, needle), f"{needle!r} is still in the database"
    assert _sla(factory, today - timedelta(days=1), today + timedelta(days=1)) == before
    with factory() as session:
        assert session.scalar(select(func.count(Item.id))) == 3
        bo_text = session.scalar(select(Message.new_text).where(Message.sender == "bo@acme.example"))
        assert "When is the invoice due?" in bo_text and "[erased]" in bo_text  # Bo's own words stay
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "erase")).one()
        assert entry.data["items"] == 2 and entry.actor.startswith("cli")
        assert session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).one()
    again = run_intake(cfg, "client", "erase", ADDRESS, "--yes")
    assert again.returncode == 1 and "no contact" in again.stderr
    with factory() as session:  # the alert not yet sent goes nowhere now
        assert sorted(session.scalars(select(WebhookDelivery.status))) == ["failed", "sent"]
    engine.dispose()
