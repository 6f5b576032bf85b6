"""SLA figures, their JSON/CSV/HTML renders and the item export, on SQLite and PostgreSQL."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest

from db.engine import make_engine, make_sessionmaker
from db.migrate import upgrade
from db.models import Contact, Item, Message
from reports.export import FIELDS, write_export
from reports.render import CSV_COLUMNS, human_duration, render_sla, spreadsheet_safe
from reports.sla import compute_sla, percentile

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
MIN = timedelta(minutes=1)
_seq = iter(range(1, 1_000_000))


def _item(session, category: str = "issue", received: datetime = T0, ack_after: timedelta | None = None,
          *, subject: str = "Hello", sender: str = "anna@acme.example", **kw) -> Item:
    n = next(_seq)
    item = Item(ref=f"CI-{n:06d}", subject=subject, category=category, received_at=received,
                acknowledged_at=None if ack_after is None else received + ack_after, **kw)
    session.add(item)
    session.flush()
    session.add(Message(item_id=item.id, direction="in", message_id=f"<m{n}@acme.example>", sender=sender,
                        subject=subject, received_at=received, raw=b"raw"))
    session.flush()
    return item


def _minutes_1_to_10(session, category: str = "issue") -> None:
    for m in range(1, 11):
        _item(session, category, T0 + m * timedelta(hours=1), m * MIN)


# --- percentiles and SLA figures ---------------------------------------------------------------------

def test_percentile_linear_interpolation():
    xs = [float(x) for x in range(1, 11)]
    assert percentile(xs, 50) == pytest.approx(5.5)
    assert percentile(xs, 90) == pytest.approx(9.1)
    assert percentile(xs, 0) == 1 and percentile(xs, 100) == 10
    assert percentile([7.0], 90) == 7.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_known_set_exact_figures(factory):
    with factory() as s:
        _minutes_1_to_10(s)
        s.commit()
        report = compute_sla(s, 5, now=NOW)
    issue = report.row("issue")
    assert (issue.items, issue.acknowledged, issue.pending, issue.overdue) == (10, 10, 0, 0)
    assert issue.p50_seconds == 330.0  # 5.5 min
    assert issue.p90_seconds == 546.0  # 9.1 min
    assert issue.max_seconds == 600.0
    assert issue.within_target == 5  # 1..5 minutes, the 5-minute one included
    assert issue.within_target_share == 0.5
    assert report.total.items == 10 and report.total.p50_seconds == 330.0
    assert report.target_minutes == 5.0 and report.generated_at == NOW


def test_all_categories_present_in_order_and_empty_ones_are_none(factory):
    with factory() as s:
        _item(s, "question", T0, 2 * MIN)
        s.commit()
        report = compute_sla(s, 5, now=NOW)
    assert [r.category for r in report.rows] == ["issue", "change_request", "question", "feedback", "all"]
    empty = report.row("feedback")
    assert (empty.items, empty.acknowledged, empty.within_target) == (0, 0, 0)
    assert empty.p50_seconds is None and empty.p90_seconds is None and empty.max_seconds is None
    assert empty.within_target_share is None
    assert report.row("question").p50_seconds == 120.0


def test_unacknowledged_pending_then_overdue(factory):
    now = T0 + 10 * MIN
    with factory() as s:
        _item(s, "issue", T0, 3 * MIN)                       # within target
        _item(s, "issue", T0, 7 * MIN)                       # acknowledged late
        _item(s, "issue", now - 2 * MIN)                     # waiting 2 min: pending, not counted
        _item(s, "issue", now - 5 * MIN)                     # waiting exactly the target: still pending
        _item(s, "issue", now - 6 * MIN)                     # waiting 6 min: overdue, counted as missed
        s.commit()
        r = compute_sla(s, 5, now=now).row("issue")
    assert (r.items, r.acknowledged, r.pending, r.overdue, r.within_target) == (5, 2, 2, 1, 1)
    assert r.measured == 3
    assert r.within_target_share == pytest.approx(1 / 3)
    assert r.p50_seconds == 300.0 and r.max_seconds == 420.0  # percentiles over acknowledged items only


def test_only_pending_items_give_no_share(factory):
    with factory() as s:
        _item(s, "feedback", NOW - MIN)
        s.commit()
        r = compute_sla(s, 5, now=NOW).row("feedback")
    assert (r.items, r.pending, r.measured) == (1, 1, 0)
    assert r.within_target_share is None and r.p50_seconds is None


def test_negative_duration_counts_as_zero(factory):
    with factory() as s:
        _item(s, "change_request", T0, -2 * MIN)
        s.commit()
        r = compute_sla(s, 5, now=NOW).row("change_request")
    assert r.p50_seconds == 0.0 and r.max_seconds == 0.0 and r.within_target == 1


def test_since_until_filters_half_open(factory):
    with factory() as s:
        for day in range(5):
            _item(s, "question", T0 + timedelta(days=day), (day + 1) * MIN)
        s.commit()
        report = compute_sla(s, 5, since=T0 + timedelta(days=1), until=T0 + timedelta(days=3), now=NOW)
    r = report.row("question")
    assert r.items == 2  # days 1 and 2; day 3 is excluded (until is exclusive)
    assert r.p50_seconds == 150.0 and r.max_seconds == 180.0
    assert report.since == T0 + timedelta(days=1) and report.until == T0 + timedelta(days=3)


def test_other_categories_get_their_own_row_before_all(factory):
    with factory() as s:
        _item(s, "issue", T0, MIN)
        _item(s, "spam", T0, MIN)
        s.commit()
        report = compute_sla(s, 5, now=NOW)
    assert [r.category for r in report.rows][-2:] == ["spam", "all"]
    assert report.total.items == 2


def test_bad_arguments(factory):
    with factory() as s:
        with pytest.raises(ValueError, match="target_minutes"):
            compute_sla(s, -1, now=NOW)
        with pytest.raises(ValueError, match="since"):
            compute_sla(s, 5, since=datetime(2026, 1, 1), now=NOW)


# --- renders -----------------------------------------------------------------------------------------

@pytest.fixture
def report(factory):
    now = T0 + timedelta(days=1)
    with factory() as s:
        _minutes_1_to_10(s)
        _item(s, "question", now - 9 * MIN)  # overdue
        s.commit()
        return compute_sla(s, 5, since=T0, now=now)


def test_render_json(report):
    doc = json.loads(render_sla(report, "json"))
    assert doc["report"] == "sla" and doc["version"] == 1
    assert doc["generated_at"] == "2026-11-03T09:00:00Z"
    assert doc["target_minutes"] == 5.0 and doc["target_seconds"] == 300.0
    assert doc["period"] == {"since": "2026-11-02T09:00:00Z", "until": None}
    assert [c["category"] for c in doc["categories"]] == ["issue", "change_request", "question", "feedback"]
    issue = doc["categories"][0]
    assert issue == {"category": "issue", "items": 10, "acknowledged": 10, "pending": 0, "overdue": 0,
                     "within_target": 5, "measured": 10, "within_target_share": 0.5,
                     "ack_seconds": {"p50": 330.0, "p90": 546.0, "max": 600.0}}
    question = doc["categories"][2]
    assert question["overdue"] == 1 and question["within_target_share"] == 0.0
    assert question["ack_seconds"] == {"p50": None, "p90": None, "max": None}
    assert doc["all"]["category"] == "all" and doc["all"]["items"] == 11
    assert doc["all"]["within_target_share"] == pytest.approx(5 / 11)


def test_render_csv(report):
    rows = list(csv.DictReader(io.StringIO(render_sla(report, "csv"))))
    assert tuple(rows[0].keys()) == CSV_COLUMNS
    assert [r["category"] for r in rows] == ["issue", "change_request", "question", "feedback", "all"]
    issue = rows[0]
    assert (issue["items"], issue["within_target"], issue["within_target_share"]) == ("10", "5", "0.5000")
    assert (issue["p50_seconds"], issue["p90_seconds"], issue["max_seconds"]) == ("330.0", "546.0", "600.0")
    assert issue["target_minutes"] == "5"
    feedback = rows[3]
    assert feedback["items"] == "0" and feedback["p50_seconds"] == "" and feedback["within_target_share"] == ""
    assert rows[4]["within_target_share"] == "0.4545"


def test_render_html(report):
    page = render_sla(report, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert '<table id="sla">' in page and "<svg" in page and "</svg>" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external resources
    row = page.split('data-category="issue">', 1)[1].split("</tr>", 1)[0]
    cells = [c.split("</td>")[0].strip() for c in row.split("<td>")[1:]]
    assert cells == ["issue", "10", "10", "0", "0", "5", "50.0%", "5 min 30 s", "9 min 6 s", "10 min"]
    assert 'data-category="feedback"' in page and "—" in page
    assert 'class="total" data-category="all"' in page
    assert "<title>issue: 50.0%</title>" in page and "no data" in page
    assert "within 5 min" in page and "since 2026-11-02 09:00 UTC" in page and "2026-11-03 09:00 UTC" in page


def test_render_unknown_format(report):
    with pytest.raises(ValueError, match="json, csv, html"):
        render_sla(report, "xml")


@pytest.mark.parametrize("seconds, text", [
    (None, "—"), (0, "0 s"), (0.4, "0.4 s"), (45, "45 s"), (72, "1 min 12 s"), (300, "5 min"),
    (9.96, "10 s"), (59.6, "1 min"), (7500, "2 h 5 min"), (3 * 86400 + 4 * 3600 + 5, "3 d 4 h"),
])
def test_human_duration(seconds, text):
    assert human_duration(seconds) == text


# --- export ------------------------------------------------------------------------------------------

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
            _minutes_1_to_10(s)
            _export_items(s)
            s.commit()
        with pg() as s:
            report = compute_sla(s, 5, now=NOW)
            out = io.StringIO()
            n = write_export(s, "jsonl", out)
    finally:
        engine.dispose()
    issue = report.row("issue")
    assert (issue.items, issue.acknowledged, issue.within_target) == (11, 11, 6)
    assert issue.p50_seconds == 300.0 and issue.max_seconds == 600.0
    assert report.row("question").items == 1
    recs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert n == 12 and len(recs) == 12
    _check_records(recs[:2])
