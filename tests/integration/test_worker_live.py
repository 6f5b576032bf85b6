"""`intake run` stays up: IDLE push (and polling when IDLE is off), acknowledgments on arrival, clean stop on signals."""
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
            dovecot.deliver("support", bytes(client_email(n, f"Question {n}", "When is the next release?", "en")))
            acks = smtp_sink.wait_for(n + 1, timeout=30)
            assert acks[-1].rcpt_tos == [f"client{n}@client.example"]
    finally:
        worker.send_signal(sig)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err
    assert "event=worker_stopped" in err
    assert f"idle={idle}" in err
