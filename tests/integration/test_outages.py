"""The running worker survives IMAP and SMTP outages: nothing lost or duplicated, each outage logged once."""
from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from db.engine import make_engine, make_sessionmaker
from db.models import Item, OutboxMail
from deploy.smtp_sink import SmtpSink
from tests.integration.conftest import start_worker
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


@contextmanager
def _worker(cfg: Path) -> Iterator[list[str]]:
    """Runs the worker for the block; yields a list that receives its stderr once it stopped cleanly.

    A failing block kills the worker and adds its log to the failure, which is where the cause shows.
    """
    proc = start_worker(cfg)
    log: list[str] = []
    try:
        yield log
    except BaseException as exc:
        proc.kill()
        _, err = proc.communicate(timeout=30)
        raise AssertionError(f"{exc}\n--- worker log ---\n{err}") from exc
    log.append(_stop(proc))


def _counts(url: str) -> tuple[int, int]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        found = (s.scalar(select(func.count(Item.id))), s.scalar(select(func.count(OutboxMail.id))))
    engine.dispose()
    return found


def test_imap_server_restart(sqlite_url, dovecot, smtp_sink, config_for):
    with _worker(config_for(sqlite_url)) as log:
        dovecot.deliver("support", bytes(client_email(1, "Before", "When is the release?", "en")))
        smtp_sink.wait_for(1, timeout=30)
        dovecot.stop()
        time.sleep(4)  # the worker notices and retries with backoff meanwhile
        dovecot.start()
        dovecot.deliver("support", bytes(client_email(2, "After", "Could you add a PO field?", "en")))
        acks = smtp_sink.wait_for(2, timeout=90)
    err = log[0]
    assert [a.rcpt_tos[0] for a in acks] == ["client1@client.example", "client2@client.example"]
    assert _counts(sqlite_url) == (2, 2)
    assert err.count("event=outage component=imap:support") == 1, err
    assert err.count("event=recovered component=imap:support") == 1, err


def test_smtp_outage_keeps_acknowledgments_until_it_is_back(sqlite_url, dovecot, smtp_sink, config_for):
    port = smtp_sink.port
    with _worker(config_for(sqlite_url)) as log:
        # One acknowledged mail first: the worker is up and connected before the outage starts.
        dovecot.deliver("support", bytes(client_email(9, "Warm-up", "When is the next release?", "en")))
        smtp_sink.wait_for(1, timeout=60)
        smtp_sink.stop()
        for n in range(3):
            dovecot.deliver("support", bytes(client_email(n, f"Mail {n}", "The login page shows error 500.",
                                                          "en")))
        deadline = time.monotonic() + 60
        while _counts(sqlite_url)[0] < 4 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _counts(sqlite_url) == (4, 4)
        time.sleep(3)  # a few failed sends while the server is down
        with SmtpSink(port=port) as back:
            acks = back.wait_for(3, timeout=90)
            assert [a.rcpt_tos[0] for a in acks] == [f"client{n}@client.example" for n in range(3)]
            time.sleep(1)
            assert len(back.messages) == 3
    err = log[0]
    assert err.count("event=outage component=smtp") == 1, err
    assert err.count("event=recovered component=smtp") == 1, err


def test_database_outage_marks_nothing_done_and_resumes(pg_url, dovecot, smtp_sink, config_for):
    from urllib.parse import urlsplit, urlunsplit

    from tests.tcpproxy import TcpProxy

    parts = urlsplit(pg_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.start()
    via_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    try:
        with _worker(config_for(via_proxy)) as log:
            dovecot.deliver("support", bytes(client_email(1, "Before", "When is the release?", "en")))
            smtp_sink.wait_for(1, timeout=30)
            proxy.stop()
            dovecot.deliver("support", bytes(client_email(2, "During", "Could you add a PO field?", "en")))
            time.sleep(10)  # long enough for the worker to meet the outage (the log is checked below)
            assert len(smtp_sink.messages) == 1  # nothing can be stored, so nothing is acknowledged
            proxy.start()
            acks = smtp_sink.wait_for(2, timeout=90)
            time.sleep(2)
    finally:
        proxy.stop()
    err = log[0]
    assert [a.rcpt_tos[0] for a in acks] == ["client1@client.example", "client2@client.example"]
    assert len(smtp_sink.messages) == 2
    assert _counts(pg_url) == (2, 2)
    assert err.count("event=outage component=database") == 1, err
    assert err.count("event=recovered component=database") == 1, err
