"""`intake run` stays up: IDLE push (and polling when IDLE is off), acknowledgments on arrival, clean stop on
signals."""
from __future__ import annotations

import signal

import pytest

from tests.integration.conftest import start_worker
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("idle, sig", [(True, signal.SIGTERM), (False, signal.SIGINT)])
def test_running_worker_acknowledges_new_mail_and_stops_cleanly(sqlite_url, dovecot, smtp_sink, config_for,
                                                                 idle, sig):
    cfg = config_for(sqlite_url, extra="")
    if not idle:
        cfg.write_text(cfg.read_text().replace("poll_seconds = 1.0", "poll_seconds = 1.0\nidle = false"))
    worker = start_worker(cfg)
    try:
        for n in range(3):
            dovecot.deliver("support", bytes(client_email(n, f"Question {n}", "When is the next release?",
                                                          "en")))
            acks = smtp_sink.wait_for(n + 1, timeout=30)
            assert acks[-1].rcpt_tos == [f"client{n}@client.example"]
    finally:
        worker.send_signal(sig)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "event=worker_stopped" in err
    assert f"idle={idle}" in err


def test_running_worker_takes_an_empty_email_among_twenty(any_db_url, dovecot, smtp_sink, config_for):
    """Twenty-one waiting at start (one batch), then an empty one on IDLE: every one an item, every one
    answered."""
    from sqlalchemy import select

    from db.engine import make_engine, make_sessionmaker
    from db.models import Item
    from tests.mailgen import client_batch

    empty = (b"From: Ann Lee <ann@client.example>\r\nTo: support@team.example\r\nSubject: \r\n"
             b"Message-ID: <empty-%d@client.example>\r\n\r\n")
    mails = [bytes(m) for m in client_batch(20)]
    for raw in mails[:10] + [empty % 1] + mails[10:]:
        dovecot.deliver("support", raw)
    worker = start_worker(config_for(any_db_url))
    try:
        smtp_sink.wait_for(21, timeout=60)
        dovecot.deliver("support", empty % 2)
        acks = smtp_sink.wait_for(22, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "event=batch_failed" not in err and "Traceback" not in err
    assert sum(a.rcpt_tos == ["ann@client.example"] for a in acks) == 2
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as s:
        items = list(s.scalars(select(Item)))
        assert len(items) == 22 and all(i.acknowledged_at is not None for i in items)
        flagged = [i for i in items if i.contact is not None and i.contact.email == "ann@client.example"]
        assert len(flagged) == 2 and all(i.needs_review and i.subject == "" for i in flagged)
    engine.dispose()
