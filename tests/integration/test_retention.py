"""`intake purge`: raw messages (and with them the attachments) of items closed more than retention.raw_days
ago go; the items, their texts and history stay, and so do the SLA figures. --dry-run changes nothing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from db.engine import make_engine, make_sessionmaker
from db.models import Attachment, AuditEntry, Item, Message
from intake.parse import attachment_data
from reports.policy import parse_policies
from reports.render import sla_to_dict
from reports.sla import compute_sla
from review.app import create_app
from tests.integration.conftest import run_intake
from tests.mailgen import client_email
from tests.web import signed_in

pytestmark = pytest.mark.integration


def _sla(factory) -> dict:
    now = datetime.now(timezone.utc)
    with factory() as session:
        report = sla_to_dict(compute_sla(session, parse_policies({}, {}, ""),
                                         (now - timedelta(days=60)).date(),
                                         now.date(), now=now))
    report.pop("generated_at")
    return report


def test_purge_removes_old_raw_messages_only(any_db_url, dovecot, smtp_sink, config_for):
    cfg = config_for(any_db_url, extra="[retention]\nraw_days = 30\n")
    for n in range(1, 4):
        dovecot.deliver("support", bytes(client_email(n, f"Export {n}",
                                                      "The export crashes above 1,000 rows.", "en",
                                                      style="attachment")))
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    assert "new items: 3" in run_intake(cfg, "run", "--once").stdout
    engine = make_engine(any_db_url)
    factory = make_sessionmaker(engine)
    now = datetime.now(timezone.utc)
    with factory.begin() as session:
        old, recent, _open = session.scalars(select(Item.id).order_by(Item.id)).all()
        # Closed 40 days ago (due), closed 5 days ago (not yet), and one still open.
        for item_id, days in ((old, 40), (recent, 5)):
            session.execute(update(Item).where(Item.id == item_id).values(
                status="closed", resolved_at=now - timedelta(days=days),
                received_at=now - timedelta(days=days + 1)))
        # The client's message and our acknowledgment's copy.
        old_count, old_size = session.execute(select(func.count(Message.id),
                                                     func.sum(func.length(Message.raw)))
                                              .where(Message.item_id == old)).one()
    assert old_count == 2
    before = _sla(factory)

    dry = run_intake(cfg, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert (f"would remove the raw bytes of 2 messages ({old_size:,} bytes) on 1 items, with the content of "
            "2 attachments") in dry.stdout
    with factory() as session:
        assert session.scalar(select(func.count(Message.id)).where(Message.raw_purged_at.is_not(None))) == 0

    done = run_intake(cfg, "purge")
    assert done.returncode == 0 and "removed the raw bytes of 2 messages" in done.stdout
    with factory() as session:
        purged = session.scalars(select(Message).where(Message.item_id == old,
                                                       Message.direction == "in")).one()
        assert bytes(session.scalar(select(Message.raw).where(Message.id == purged.id))) == b""
        assert purged.raw_purged_at is not None and "1,000 rows" in purged.new_text  # the text stays
        assert session.scalar(select(func.count(Attachment.id))
                              .where(Attachment.message_id == purged.id)) == 2
        assert session.scalar(select(func.count(Message.id)).where(Message.raw_purged_at.is_not(None))) == 2
        kept = session.scalars(select(Message.raw).where(Message.item_id.in_([recent, _open]),
                                                         Message.direction == "in")).all()
        assert len(kept) == 2 and all(len(raw) > 1000 for raw in kept)
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "purge")).one()
        assert entry.data["messages"] == 2 and entry.data["days"] == 30
    assert _sla(factory) == before
    assert "removed the raw bytes of 0 messages" in run_intake(cfg, "purge").stdout

    # The item page still lists the attachments; downloading one says it is gone, without an error.
    app = create_app(factory, read_attachment=attachment_data)
    with TestClient(app) as c:
        signed_in(c, factory)
        with factory() as session:
            ref = session.scalar(select(Item.ref).where(Item.id == old))
            attachment = session.scalar(select(Attachment.id).where(Attachment.message_id == purged.id))
        r = c.get(f"/items/{ref}/attachments/{attachment}")
        assert r.status_code == 410 and "retention" in r.text
    engine.dispose()


def test_purge_without_retention_keeps_everything(sqlite_url, dovecot, smtp_sink, config_for):
    cfg = config_for(sqlite_url)
    assert run_intake(cfg, "db", "upgrade").returncode == 0
    result = run_intake(cfg, "purge")
    assert result.returncode == 0 and "kept forever" in result.stderr
