"""The weekly client digest reaches only the contacts of organizations that asked for it, listing their own
items."""
from __future__ import annotations

import email
import re
from datetime import date, datetime, timedelta, timezone
from email.policy import default

import pytest

from db.models import Contact, Item, Organization, User
from intake.config import parse_config
from reports.digest import last_full_week, week_bounds
from responders.sender import SmtpSettings, drain
from responders.weekly_digest import send_weekly

pytestmark = pytest.mark.integration

WEEK = date(2026, 11, 16)  # Monday


def _at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=timezone.utc)


def _seed(factory) -> None:
    with factory.begin() as s:
        acme = Organization(name="Acme", domain="acme.example", client_digest=True)
        globex = Organization(name="Globex", domain="globex.example", client_digest=False)
        carl = Contact(email="carl@acme.example", name="Carl", organization=acme)
        wang = Contact(email="wang@acme.example", name="王芳", organization=acme)
        idle = Contact(email="idle@acme.example", organization=acme)
        gina = Contact(email="gina@globex.example", organization=globex)

        def item(n: int, contact: Contact, received: datetime, resolved: datetime | None = None,
                 lang: str = "en",
                 status: str = "new") -> Item:
            return Item(ref=f"CI-{n:06d}", category="issue", subject=f"Subject {n}", contact=contact,
                        lang=lang,
                        received_at=received, resolved_at=resolved, status=status)

        s.add_all([
            item(1, carl, _at(2)),                                   # open since before the week
            item(2, carl, _at(17), _at(19), status="resolved"),      # resolved in the week
            item(3, carl, _at(3), _at(10), status="closed"),         # resolved the week before: left out
            item(4, carl, _at(24)),                                  # received after the week: left out
            item(5, wang, _at(18, 3), lang="zh", status="in_progress"),
            item(6, wang, _at(22, 23), _at(22, 23), lang="zh", status="answered"),
            item(7, idle, _at(1), _at(5), status="closed"),          # nothing open or new: no digest
            item(8, gina, _at(18)),                                  # digest not enabled for Globex
        ])


def _refs(text: str) -> set[str]:
    return set(re.findall(r"CI-\d{6}", text))


def test_digest_reaches_only_that_clients_contacts_with_only_their_items(db, smtp_sink):
    cfg = parse_config({"smtp": {"from_address": "Acme Team <team@team.example>"},
                        "acknowledgment": {"team_name": "Acme project team"},
                        "web": {"public_url": "https://intake.example.com"}})
    _seed(db)
    result = send_weekly(db, cfg, WEEK, leads=False, now=_at(23, 7))
    assert sorted(result.digests) == ["carl@acme.example", "wang@acme.example"]
    sent = drain(db, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), "w1")
    assert sent.sent == 2 and not sent.error
    mails = {m.rcpt_tos[0]: email.message_from_bytes(m.raw, policy=default) for m in smtp_sink.messages}
    assert sorted(mails) == ["carl@acme.example", "wang@acme.example"]
    assert all(len(m.rcpt_tos) == 1 for m in smtp_sink.messages)

    carl = mails["carl@acme.example"]
    body = carl.get_content()
    assert _refs(body) == {"CI-000001", "CI-000002"}
    assert carl["Subject"].strip() == "Your requests with Acme project team: week of 2026-11-16 to 2026-11-22"
    assert carl["Auto-Submitted"] == "auto-generated"
    assert "Open (1):" in body and "Resolved this week (1):" in body and "resolved on 2026-11-19" in body

    wang = mails["wang@acme.example"]
    assert _refs(wang.get_content()) == {"CI-000005", "CI-000006"}
    assert wang["Content-Language"] == "zh-CN" and "处理中（1 项）" in wang.get_content()
    assert "本周已解决（1 项）" in wang.get_content()

    # A digest is about several items: each carries a status link of its own, which shows that item.
    from db.status_links import item_for_token  # noqa: PLC0415

    for mail in (carl, wang):
        listed = re.findall(r"- (CI-\d{6}) .*?(?:Where it stands: |处理进度：)https://intake\.example\.com/s/(\S+)",
                            mail.get_content(), re.S)
        assert len(listed) == 2 and len({token for _, token in listed}) == 2
        with db() as s:
            assert all(item_for_token(s, token).ref == ref for ref, token in listed)

    # Run again for the same week: nothing is queued twice.
    again = send_weekly(db, cfg, WEEK, leads=False, now=_at(23, 8))
    assert again.digests == [] and sorted(again.skipped) == ["carl@acme.example", "wang@acme.example"]
    assert drain(db, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), "w1").sent == 0


def test_week_bounds_follow_the_report_time_zone():
    since, until = week_bounds(WEEK, "Asia/Shanghai")
    assert since.astimezone(timezone.utc) == datetime(2026, 11, 15, 16, tzinfo=timezone.utc)
    assert (until - since).days == 7
    with pytest.raises(ValueError, match="not a Monday"):
        week_bounds(date(2026, 11, 17), "UTC")
    assert last_full_week(date(2026, 11, 23)) == WEEK      # a Monday: the week that just ended
    assert last_full_week(date(2026, 11, 22)) == date(2026, 11, 9)


SUMMARY_POLICY = {"policies": {"standard": {"targets": {"issue": {"acknowledge": "5m",
                                                                  "first_response": "1h"}}}}}


def _summary_seed(factory, cfg) -> None:
    snapshot = cfg.sla.built.for_tier("").snapshot()
    acme = Organization(name="Acme", domain="acme.example")
    contact = Contact(email="carl@acme.example", organization=acme)

    def issue(ref: str, received: datetime, ack_min: float, reply_min: float | None) -> Item:
        return Item(ref=ref, category="issue", subject=f"Issue {ref}", contact=contact, sla=snapshot,
                    received_at=received, acknowledged_at=received + timedelta(minutes=ack_min),
                    first_response_at=None if reply_min is None else received + timedelta(minutes=reply_min))

    with factory.begin() as s:
        s.add_all([
            User(email="lead@team.example", name="Lee", role="admin"),
            User(email="zhang@team.example", name="张伟", role="admin", language="zh"),
            User(email="pm@team.example", name="Pat", role="pm"),
            User(email="gone@team.example", role="admin", active=False),
            issue("CI-000001", _at(16), 1, 30),      # both met
            issue("CI-000002", _at(17), 10, 120),    # acknowledgment missed, first response missed
            issue("CI-000003", _at(18), 1, None),    # no answer yet: breached while open
            issue("CI-000004", _at(20), 2, 50),      # both met
            issue("CI-000005", _at(10), 1, 10),      # the week before: both met
        ])


def test_team_summary_goes_to_the_leads_with_hand_checked_figures(db, smtp_sink):
    from responders.sla_warnings import check_sla  # noqa: PLC0415

    cfg = parse_config({"sla": SUMMARY_POLICY, "web": {"public_url": "https://intake.team.example"},
                        "acknowledgment": {"team_name": "Acme project team"}})
    _summary_seed(db, cfg)
    now = _at(23, 7)
    check_sla(db, cfg, now)  # stores the open items' states, as the worker does
    result = send_weekly(db, cfg, WEEK, clients=False, now=now)
    assert result.summaries == ["lead@team.example", "zhang@team.example"]
    assert drain(db, SmtpSettings(host=smtp_sink.host, port=smtp_sink.port), "w1").sent == 2
    mails = {m.rcpt_tos[0]: email.message_from_bytes(m.raw, policy=default) for m in smtp_sink.messages}
    assert sorted(mails) == ["lead@team.example", "zhang@team.example"]

    lead = mails["lead@team.example"]
    text = lead.get_body(("plain",)).get_content()
    assert "Items received: 4 (the week before: 1); with a target missed or breached: 2." in text
    # Acknowledged within 5 min: 1, 2 of 4 items (no. 2 took 10 min); the week before 1 of 1.
    assert "Acknowledgment: 3 of 4 within target (75.0%); the week before 100.0%" in text
    # First response within 1 h: no. 1 (30 min) and no. 4 (50 min); no. 2 late, no. 3 still open and past it.
    # Stopped: 30, 50, 120 min: median 50 min; p90 = 50 + 0.8 * (120 - 50) = 106 min.
    assert ("First response: 2 of 4 within target (50.0%); the week before 100.0%; median 50 min, "
            "90% within 1 h 46 min; still open: 1 breached, 0 at risk") in text
    assert "Resolution: nothing measured" in text
    assert "- Acme: 2" in text
    assert "Open items past a target now (2):" in text
    assert "- CI-000002 Issue CI-000002: https://intake.team.example/items/CI-000002" in text
    assert "https://intake.team.example/reports/sla?since=2026-11-16&until=2026-11-22&by=organization" in text

    attachment = next(lead.iter_attachments())
    assert attachment.get_filename() == "sla-report-2026-11-16.html"
    html = attachment.get_content()
    assert 'data-figure="items"' in html and "<svg" in html

    zh = mails["zhang@team.example"].get_body(("plain",)).get_content()
    assert "首次回复：4 项中 2 项达标（50.0%）；上周 100.0%" in zh

    again = send_weekly(db, cfg, WEEK, clients=False, now=_at(23, 8))
    assert again.summaries == [] and sorted(again.skipped) == ["lead@team.example", "zhang@team.example"]
    other = send_weekly(db, cfg, WEEK, clients=False, now=_at(23, 8), to=["boss@client.example"])
    assert other.summaries == ["boss@client.example"]


def test_weekly_command_sends_through_smtp_once(sqlite_url, smtp_sink, tmp_path):
    from tests.integration.conftest import run_intake  # noqa: PLC0415

    cfg = tmp_path / "intake.toml"
    cfg.write_text(f'''
[database]
url = "{sqlite_url}"
[smtp]
host = "{smtp_sink.host}"
port = {smtp_sink.port}
from_address = "Acme Team <team@team.example>"
''', encoding="utf-8")
    from db.engine import make_engine, make_sessionmaker  # noqa: PLC0415

    assert run_intake(cfg, "db", "upgrade").returncode == 0
    factory = make_sessionmaker(make_engine(sqlite_url))
    _seed(factory)
    with factory.begin() as s:
        s.add(User(email="lead@team.example", name="Lee", role="admin"))
    done = run_intake(cfg, "report", "weekly", "--week-of", "2026-11-19")
    assert done.returncode == 0, done.stderr
    assert ("week of 2026-11-16: 1 SLA summaries, 2 client digests queued" in done.stderr
            and "sent 3" in done.stderr)
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == ["carl@acme.example", "lead@team.example",
                                                                 "wang@acme.example"]
    again = run_intake(cfg, "report", "weekly", "--week-of", "2026-11-16")
    assert again.returncode == 0 and "3 already sent for this week" in again.stderr
    assert len(smtp_sink.messages) == 3
    bad = run_intake(cfg, "report", "weekly", "--week-of", "19.11.2026")
    assert bad.returncode == 1 and "--week-of: expected a date like" in bad.stderr
