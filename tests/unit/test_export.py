"""The item export (JSON lines, CSV with spreadsheet-safe cells), and the export with the SLA figures on
PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import Contact, Item, Message, Organization, User
from reports.export import FIELDS, write_export
from reports.render import spreadsheet_safe
from reports.sla import compute_sla
from tests.unit.test_reports import MIN, NOW2, POLICIES, SINCE, T0, UNTIL, _item, _seed_case, fig


def _export_items(session) -> None:
    contact = Contact(email="li@example.cn", name="李")
    session.add(contact)
    session.flush()
    _item(session, "question", T0 + 2 * MIN, subject="登录页面报错，请帮忙", sender="li@example.cn",
          contact_id=contact.id, confidence=0.912345, lang="zh", status="acknowledged")
    first = _item(session, "issue", T0, 90 * timedelta(seconds=1), subject="=cmd|' /C calc'!A0",
                  confidence=0.5, needs_review=True)
    # a later inbound reply and an outbound acknowledgment do not change the exported message_id/sender
    session.add(Message(item_id=first.id, direction="out", message_id="<ack@team.example>",
                        sender="support@team.example", raw=b"raw"))
    session.add(Message(item_id=first.id, direction="in", message_id="<reply@acme.example>",
                        sender="bob@acme.example", raw=b"raw"))
    session.flush()


def _check_records(recs: list[dict]) -> None:
    assert [r["category"] for r in recs] == ["issue", "question"]  # ordered by received_at
    a, b = recs
    assert a["received_at"] == "2026-11-02T09:00:00Z" and a["acknowledged_at"] == "2026-11-02T09:01:30Z"
    assert a["sender"] == "anna@acme.example" and a["message_id"].startswith("<m")
    assert a["needs_review"] in (True, "true") and str(a["confidence"]) == "0.5"
    assert b["subject"] == "登录页面报错，请帮忙" and b["lang"] == "zh" and b["status"] == "acknowledged"
    assert b["sender"] == "li@example.cn" and str(b["confidence"]) == "0.9123"
    assert b["acknowledged_at"] in (None, "") and b["received_at"] == "2026-11-02T09:02:00Z"


def test_export_jsonl(factory):
    with factory() as s:
        _export_items(s)
        s.commit()
        out = io.StringIO()
        assert write_export(s, "jsonl", out) == 2
    text = out.getvalue()
    assert "登录页面报错" in text  # ensure_ascii=False
    recs = [json.loads(line) for line in text.splitlines()]
    assert all(tuple(r) == FIELDS for r in recs)
    _check_records(recs)
    assert recs[0]["subject"] == "=cmd|' /C calc'!A0"  # JSON is data, not a spreadsheet: left as is
    assert recs[0]["needs_review"] is True and recs[1]["acknowledged_at"] is None


def test_export_csv(factory):
    with factory() as s:
        _export_items(s)
        s.commit()
        out = io.StringIO(newline="")
        assert write_export(s, "csv", out) == 2
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert tuple(rows[0].keys()) == FIELDS
    _check_records(rows)
    assert rows[0]["subject"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["needs_review"] == "true" and rows[1]["needs_review"] == "false"


def test_export_names_organization_assignee_and_sla_and_csv_starts_with_a_bom(factory):
    with factory() as s:
        _export_items(s)
        acme = Organization(name="Acme Corporation", domain="acme.example")
        pat = User(email="pat@team.example", name="Pat", role="pm", password_hash="x")
        s.add_all([acme, pat])
        s.flush()
        first = s.scalar(select(Item).order_by(Item.received_at))
        anna = Contact(email="anna@acme.example", name="Anna", organization_id=acme.id)
        s.add(anna)
        s.flush()
        first.contact_id, first.assignee_id = anna.id, pat.id
        first.sla_state, first.sla_due_at = "at_risk", T0 + timedelta(hours=4)
        s.commit()
        out = io.StringIO(newline="")
        write_export(s, "csv", out, bom=True)
    text = out.getvalue()
    assert text.startswith("\ufeffref,") and text.encode("utf-8")[:3] == b"\xef\xbb\xbf"
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert (rows[0]["organization"], rows[0]["assignee"], rows[0]["sla_state"], rows[0]["sla_due_at"]) == (
        "Acme Corporation", "pat@team.example", "at_risk", "2026-11-02T13:00:00Z")
    assert (rows[1]["organization"], rows[1]["assignee"], rows[1]["sla_due_at"]) == ("", "", "")
    with factory() as s:
        plain = io.StringIO(newline="")
        write_export(s, "csv", plain)
    assert plain.getvalue().startswith("ref,")


def test_export_empty_and_unknown_format(factory):
    with factory() as s:
        out = io.StringIO()
        assert write_export(s, "csv", out) == 0
        assert out.getvalue().strip() == ",".join(FIELDS)
        with pytest.raises(ValueError, match="jsonl, csv"):
            write_export(s, "xlsx", io.StringIO())


@pytest.mark.parametrize("text, safe", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("\rx", "'\rx"), ("plain", "plain"), ("", ""), ("a=b", "a=b"),
])
def test_spreadsheet_safe(text, safe):
    assert spreadsheet_safe(text) == safe


# --- PostgreSQL --------------------------------------------------------------------------------------

def test_sla_and_export_on_postgresql(pg_url):
    engine = make_engine(pg_url)
    try:
        upgrade(engine)
        pg = make_sessionmaker(engine)
        with pg() as s:
            _seed_case(s)
            _export_items(s)
            s.commit()
        with pg() as s:
            report = compute_sla(s, POLICIES, SINCE, UNTIL, now=NOW2)
            out = io.StringIO()
            n = write_export(s, "jsonl", out)
    finally:
        engine.dispose()
    total = report.total  # the case's nine items; the export's two are from 2026-11-02, before the period
    assert fig(total.clock("first_response")) == (9, 9, 5, 1, 3, 0, 0, 0, 6, 8100.0, 14400.0, 18000.0)
    assert fig(total.clock("resolution")) == (9, 5, 3, 0, 2, 1, 2, 1, 3, 25200.0, 91440.0, 108000.0)
    assert report.group("change_request").clock("resolution").met == 1  # the paused one, on business hours
    recs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert n == 13 and len(recs) == 13
    _check_records(recs[:2])
