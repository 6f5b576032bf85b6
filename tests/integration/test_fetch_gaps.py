"""A message the IMAP server leaves out of its FETCH answer is never skipped: it is asked for again, and when
the server still does not hand it over it is quarantined with a record and left untouched in the mailbox;
only one expunged meanwhile is passed over."""
from __future__ import annotations

import threading
from collections import Counter

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import func, select

from cli.serve import build_worker
from cli.shell import open_factory
from db.models import Item, Mailbox, Message
from intake.config import load_config
from intake.imap import REFUSED, UNREADABLE
from tests.integration.conftest import MAILBOX_USER, run_intake, write_config
from tests.mailgen import client_email

pytestmark = pytest.mark.integration

WITHHELD = {2, 3}  # the server never hands these over
LATE = 4  # handed over only when asked for again
EXPUNGED = 5  # expunged by another session between the two FETCHes


def test_a_message_left_out_of_the_fetch_answer_is_asked_again_then_quarantined_not_skipped(
        sqlite_url, dovecot, smtp_sink, tmp_path, monkeypatch):
    path = write_config(tmp_path / "intake.toml", sqlite_url, dovecot, smtp_sink,
                        mailbox_extra='on_processed = "seen"\n')
    assert run_intake(path, "db", "upgrade").returncode == 0
    for n in range(1, 7):
        dovecot.deliver(MAILBOX_USER, bytes(client_email(n, f"Request {n}", "The export button fails.", "en",
                                                         msgid=f"<gap-{n}@c.example>")))
    real_fetch = IMAPClient.fetch
    asked: Counter[int] = Counter()

    def fetch(self, messages, data, modifiers=None):
        answer = real_fetch(self, messages, data, modifiers)
        if data != ["BODY.PEEK[]"]:
            return answer
        for uid in list(answer):
            asked[uid] += 1
            if uid == EXPUNGED:
                other = dovecot.login(MAILBOX_USER)
                other.select_folder("INBOX")
                other.delete_messages([uid])
                other.expunge()
                other.logout()
            if uid in WITHHELD or uid == EXPUNGED or (uid == LATE and asked[uid] == 1):
                del answer[uid]
        return answer

    monkeypatch.setattr(IMAPClient, "fetch", fetch)
    cfg = load_config(path)
    factory = open_factory(cfg)
    worker, _ = build_worker(cfg, factory, threading.Event(), str(path), once=True)
    stats = worker.run_once()
    assert not stats.errors
    assert asked[LATE] == 2 and all(asked[uid] == 2 for uid in WITHHELD) and asked[EXPUNGED] == 1

    with factory() as s:
        rows = {m.uid: m for m in s.scalars(select(Message).where(Message.direction == "in"))}
        assert sorted(rows) == [1, 2, 3, 4, 6]
        for uid in WITHHELD:
            assert rows[uid].status == "quarantined" and rows[uid].error == UNREADABLE
            assert rows[uid].item_id is None
        # Both kept as records of their own: the same (empty) content does not make one a copy of the other.
        assert rows[2].message_id != rows[3].message_id
        items = {i.id for i in s.scalars(select(Item))}
        assert {rows[uid].item_id for uid in (1, 4, 6)} == items and len(items) == 3
        assert s.scalar(select(Mailbox.last_uid)) == 6

    monkeypatch.setattr(IMAPClient, "fetch", real_fetch)
    client = dovecot.login(MAILBOX_USER)
    client.select_folder("INBOX", readonly=True)
    flags = client.get_flags(client.search("ALL"))
    client.logout()
    # What was read is marked as configured; what could not be read is left as the client sent it.
    assert sorted(flags) == [1, 2, 3, 4, 6]
    assert all(b"\\Seen" in flags[uid] for uid in (1, 4, 6))
    assert not any(b"\\Seen" in flags[uid] for uid in WITHHELD)
    assert len(smtp_sink.wait_for(3, timeout=60)) == 3


SERVERBUG = "FETCH failed: NO [SERVERBUG] Internal error occurred."


def _refusing_fetch(monkeypatch, refuse, item: str = "BODY.PEEK[", answer: str = SERVERBUG) -> None:
    """Makes the server answer NO (ANSWER) to every FETCH of ITEM (by its start) that REFUSE(uids) picks."""
    real_fetch = IMAPClient.fetch

    def fetch(self, messages, data, modifiers=None):
        if any(str(d).startswith(item) for d in data) and refuse(list(messages)):
            raise IMAPClientError(answer)
        return real_fetch(self, messages, data, modifiers)

    monkeypatch.setattr(IMAPClient, "fetch", fetch)


def _deliver(dovecot, count: int) -> None:
    for n in range(1, count + 1):
        dovecot.deliver(MAILBOX_USER, bytes(client_email(n, f"Request {n}", "The export button fails.", "en",
                                                         msgid=f"<refused-{n}@c.example>")))


@pytest.mark.parametrize("batch_size", [50, 1])
def test_a_message_the_server_refuses_while_it_hands_over_others_is_quarantined_not_retried_forever(
        sqlite_url, dovecot, smtp_sink, tmp_path, monkeypatch, batch_size):
    path = write_config(tmp_path / "intake.toml", sqlite_url, dovecot, smtp_sink,
                        mailbox_extra=f'on_processed = "seen"\nbatch_size = {batch_size}\n')
    assert run_intake(path, "db", "upgrade").returncode == 0
    _deliver(dovecot, 4)
    _refusing_fetch(monkeypatch, lambda uids: 2 in uids)  # alone or in a batch (batch_size 1: alone)
    cfg = load_config(path)
    factory = open_factory(cfg)
    worker, _ = build_worker(cfg, factory, threading.Event(), str(path), once=True)
    stats = worker.run_once()
    assert not stats.errors
    with factory() as s:
        rows = {m.uid: m for m in s.scalars(select(Message).where(Message.direction == "in"))}
        assert sorted(rows) == [1, 2, 3, 4]
        assert rows[2].status == "quarantined" and rows[2].item_id is None
        assert rows[2].error == REFUSED.format(SERVERBUG)
        assert all(rows[uid].item_id is not None for uid in (1, 3, 4))
        assert s.scalar(select(Mailbox.last_uid)) == 4
    # The next connect finishes the processed-mail action a crash may have left undone, but not on it.
    again, _ = build_worker(cfg, factory, threading.Event(), str(path), once=True)
    assert not again.run_once().errors
    client = dovecot.login(MAILBOX_USER)
    client.select_folder("INBOX", readonly=True)
    flags = client.get_flags(client.search("ALL"))
    client.logout()
    assert [uid for uid in sorted(flags) if b"\\Seen" in flags[uid]] == [1, 3, 4]


@pytest.mark.parametrize("refusal", ["all content", "bodies only", "one message, passing"])
def test_a_server_that_refuses_every_message_or_for_now_quarantines_none_and_is_tried_again(
        sqlite_url, dovecot, smtp_sink, tmp_path, monkeypatch, refusal):
    # Bodies only: the store is down while headers still come from the index, and batches of one message.
    path = write_config(tmp_path / "intake.toml", sqlite_url, dovecot, smtp_sink,
                        mailbox_extra="batch_size = 1\n" if refusal == "bodies only" else "")
    assert run_intake(path, "db", "upgrade").returncode == 0
    _deliver(dovecot, 3)
    if refusal == "all content":
        _refusing_fetch(monkeypatch, lambda uids: True)
    elif refusal == "bodies only":
        _refusing_fetch(monkeypatch, lambda uids: True, item="BODY.PEEK[]")
    else:
        _refusing_fetch(monkeypatch, lambda uids: 2 in uids,
                        answer="FETCH failed: NO [UNAVAILABLE] Temporary failure, try again later.")
    cfg = load_config(path)
    factory = open_factory(cfg)
    worker, _ = build_worker(cfg, factory, threading.Event(), str(path), once=True)
    assert worker.run_once().errors  # reported, and nothing set aside
    with factory() as s:
        assert s.scalar(select(func.count(Message.id))) == 0
        assert not s.scalar(select(Mailbox.last_uid))
    monkeypatch.undo()
    again, _ = build_worker(cfg, factory, threading.Event(), str(path), once=True)
    assert not again.run_once().errors
    with factory() as s:
        assert s.scalar(select(func.count(Item.id))) == 3
