"""No lost wake-ups: mail that arrives while a sync runs is taken right away, not at the next safety
re-sync."""
from __future__ import annotations

import threading

import pytest

from cli.serve import load_in_background
from cli.shell import open_factory
from intake import imap
from intake.config import MailboxConfig, load_config
from intake.imap import MailboxClient
from intake.worker import Worker
from tests.integration.conftest import MAILBOX_PASSWORD, MAILBOX_USER, run_intake
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


def mail(n: int) -> bytes:
    return bytes(client_email(n, f"Question {n}", "When is the next release?", "en",
                              msgid=f"<gap-{n}@client.example>"))


def deliver_during_first_fetch(monkeypatch, dovecot) -> threading.Event:
    """Makes the first FETCH deliver a new message just before it runs: after the SEARCH of the sync, so the
    server announces it (EXISTS) in the FETCH's answer, which nobody reads; IDLE then has nothing new to
    say."""
    original = MailboxClient.fetch
    done = threading.Event()

    def fetch(self: MailboxClient, uids: list[int], max_bytes: int, *rest):
        if not done.is_set():
            done.set()
            dovecot.deliver(MAILBOX_USER, mail(2))
        return original(self, uids, max_bytes, *rest)

    monkeypatch.setattr(MailboxClient, "fetch", fetch)
    return done


def test_the_gap_is_real_and_the_check_before_idle_sees_it(sqlite_url, dovecot, config_for, monkeypatch):
    """The control: after such a sync IDLE stays silent about the new message, while the check finds it."""
    cfg = load_config(config_for(sqlite_url))
    dovecot.deliver(MAILBOX_USER, mail(1))
    delivered = deliver_during_first_fetch(monkeypatch, dovecot)
    client = MailboxClient(cfg.mailboxes[0], MAILBOX_PASSWORD)
    client.connect()
    try:
        assert [r.uid for batch in client.batches(0, 10**6) for r in batch] == [1]
        assert delivered.is_set()
        client.client.idle()
        try:
            # Dovecot checks the mailbox every second: three seconds of silence mean it will not tell.
            heard = client.client.idle_check(timeout=3)
        finally:
            client.client.idle_done()
        assert not [r for r in heard if len(r) >= 2 and r[1] == b"EXISTS"], heard
        assert client.has_pending()
        assert client.wait_for_mail(3600, threading.Event()) is True  # returns at once instead of idling
        assert [r.uid for batch in client.batches(1, 10**6) for r in batch] == [2]
        assert not client.has_pending()

        # The check's own SEARCH has the same gap: mail arriving while it runs is announced in its answer,
        # missing from its result (Dovecot searches the view it had when the command began).
        search = client.client.search

        def search_after_delivery(criteria):
            dovecot.deliver(MAILBOX_USER, mail(3))
            return search(criteria)

        monkeypatch.setattr(client.client, "search", search_after_delivery)
        assert client.has_pending()
        monkeypatch.setattr(client.client, "search", search)
        assert [r.uid for batch in client.batches(2, 10**6) for r in batch] == [3]
        assert not client.has_pending()
    finally:
        client.close()


def test_the_worker_processes_mail_that_arrived_during_its_sync_without_waiting_for_the_resync(
        sqlite_url, dovecot, smtp_sink, config_for, monkeypatch):
    # the safety re-sync is an hour away
    path = config_for(sqlite_url, extra="[worker]\nresync_seconds = 3600\n")
    assert run_intake(path, "db", "upgrade").returncode == 0
    cfg = load_config(path)
    dovecot.deliver(MAILBOX_USER, mail(1))
    delivered = deliver_during_first_fetch(monkeypatch, dovecot)
    stop = threading.Event()
    worker = Worker(cfg, open_factory(cfg), load_in_background(None), stop)
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    try:
        acks = smtp_sink.wait_for(2, timeout=60)  # without the check: only after the hour-long re-sync
    finally:
        stop.set()
        thread.join(timeout=60)
    assert delivered.is_set()
    assert sorted(a.rcpt_tos[0] for a in acks) == ["client1@client.example", "client2@client.example"]
    assert not thread.is_alive()


def test_while_mail_keeps_coming_the_client_looks_again_instead_of_waiting_for_idle_news(dovecot,
                                                                                           monkeypatch):
    """Dovecot holds IDLE news back for half a second; right after new mail the client looks every tenth of a
    second instead, and idles only once the mailbox has been quiet for a while."""
    monkeypatch.setattr(imap, "BUSY_SECONDS", 30.0)  # wide enough that a slow delivery still falls inside it
    box = MailboxConfig(name="support", host=dovecot.host, port=dovecot.port, security="none",
                        username=MAILBOX_USER)
    dovecot.deliver(MAILBOX_USER, mail(1))
    client = MailboxClient(box, MAILBOX_PASSWORD)
    client.connect()
    try:
        assert [r.uid for batch in client.batches(0, 10**6) for r in batch] == [1]
        idled = []
        idle = client.client.idle
        monkeypatch.setattr(client.client, "idle", lambda: idled.append(1) or idle())
        threading.Timer(0.3, lambda: dovecot.deliver(MAILBOX_USER, mail(2))).start()
        assert client.wait_for_mail(3600, threading.Event()) is True
        assert idled == []  # found by looking, not announced by IDLE
        assert [r.uid for batch in client.batches(1, 10**6) for r in batch] == [2]
        client.last_mail -= 60  # quiet for longer than the busy time: now it idles
        stop = threading.Event()
        threading.Timer(1.0, stop.set).start()
        assert client.wait_for_mail(3600, stop) is False
        assert idled == [1]
    finally:
        client.close()
