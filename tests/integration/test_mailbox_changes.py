"""Mailboxes as they change under the worker: processed-mail actions, recreated folders, oversize mail,
several boxes."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from cli.main import main
from db.engine import make_engine, make_sessionmaker
from db.models import Event, Item, Mailbox, Message
from tests.mailgen import client_email

pytestmark = pytest.mark.integration


def _run(cfg) -> None:
    assert main(["--config", str(cfg), "db", "upgrade"]) == 0
    assert main(["--config", str(cfg), "run", "--once"]) == 0


def _session(url):
    return make_sessionmaker(make_engine(url))()


def _box_setting(cfg, text: str) -> None:
    cfg.write_text(cfg.read_text().replace("poll_seconds = 1.0", f"poll_seconds = 1.0\n{text}"))


@pytest.mark.parametrize("action", ["keep", "seen", "move"])
def test_processed_mail_action(sqlite_url, dovecot, smtp_sink, config_for, action):
    cfg = config_for(sqlite_url)
    _box_setting(cfg, f'on_processed = "{action}"' + ('\nmove_to = "Processed/Intake"' if action == "move"
                                                      else ""))
    dovecot.deliver("support", bytes(client_email(1, "Hello", "When is the release?", "en")))
    _run(cfg)
    imap = dovecot.login("support")
    inbox = imap.select_folder("INBOX", readonly=True)
    flags = imap.get_flags(imap.search())
    if action == "move":
        assert inbox[b"EXISTS"] == 0
        assert imap.select_folder("Processed/Intake", readonly=True)[b"EXISTS"] == 1
    else:
        assert inbox[b"EXISTS"] == 1
        assert (b"\\Seen" in next(iter(flags.values()))) == (action == "seen")
    imap.logout()
    assert len(smtp_sink.wait_for(1)) == 1


def test_recreated_folder_resyncs_without_duplicates(sqlite_url, dovecot, smtp_sink, config_for):
    cfg = config_for(sqlite_url)
    _box_setting(cfg, 'folder = "Clients"')
    old = [bytes(client_email(n, f"Mail {n}", "The login page shows error 500.", "en")) for n in range(2)]
    for raw in old:
        dovecot.deliver("support", raw, folder="Clients")
    _run(cfg)
    with _session(sqlite_url) as s:
        first_validity = s.scalar(select(Mailbox.uidvalidity))
    imap = dovecot.login("support")
    imap.delete_folder("Clients")
    imap.create_folder("Clients")
    imap.logout()
    # Restored from a backup: the same messages again, in a new order, plus one new one.
    for raw in [old[1], old[0], bytes(client_email(9, "New", "Could you add a PO field?", "en"))]:
        dovecot.append("support", raw, folder="Clients")
    _run(cfg)
    with _session(sqlite_url) as s:
        box = s.scalar(select(Mailbox))
        assert box.uidvalidity != first_validity and box.last_uid == 3
        assert len(s.scalars(select(Item)).all()) == 3
        assert len(s.scalars(select(Message).where(Message.direction == "in")).all()) == 3
    assert len(smtp_sink.wait_for(3)) == 3


def test_oversize_message_becomes_an_item_from_its_headers(sqlite_url, dovecot, smtp_sink, config_for):
    cfg = config_for(sqlite_url)
    cfg.write_text(cfg.read_text() + "\n[tracker]\nmax_message_bytes = 20000\n")
    big = client_email(1, "Huge logs", "The import fails, logs attached.", "en")
    big.add_attachment(b"x" * 60000, maintype="application", subtype="octet-stream", filename="dump.bin")
    dovecot.deliver("support", bytes(big))
    _run(cfg)
    with _session(sqlite_url) as s:
        msg = s.scalar(select(Message).where(Message.direction == "in"))
        assert msg.item_id is not None and msg.size > 20000
        assert b"dump.bin" not in msg.raw and b"Subject: Huge logs" in msg.raw  # headers only
        notes = s.scalars(select(Event).where(Event.kind == "note")).all()
        assert "oversize" in notes[0].data["text"]
    imap = dovecot.login("support")
    assert imap.select_folder("INBOX", readonly=True)[b"EXISTS"] == 1  # the full message stays
    imap.logout()
    assert len(smtp_sink.wait_for(1)) == 1


def test_two_mailboxes_in_one_worker(sqlite_url, dovecot, smtp_sink, config_for):
    dovecot.add_user("sales", "imap-secret")
    cfg = config_for(sqlite_url)
    text = cfg.read_text()
    box = text[text.index("[[mailboxes]]"):text.index("[smtp]")]
    cfg.write_text(text.replace("[smtp]", box.replace('name = "support"', 'name = "sales"')
                                .replace('username = "support"', 'username = "sales"') + "[smtp]"))
    cc = bytes(client_email(1, "To both", "When is the release?", "en", msgid="<both@client.example>"))
    dovecot.deliver("support", cc)
    dovecot.deliver("sales", cc)
    dovecot.deliver("sales", bytes(client_email(2, "Sales only", "What does the extra module cost?", "en")))
    _run(cfg)
    with _session(sqlite_url) as s:
        assert sorted(s.scalars(select(Mailbox.name))) == ["sales", "support"]
        assert len(s.scalars(select(Item)).all()) == 2  # the copy in the second box is the same message
    assert len(smtp_sink.wait_for(2)) == 2


def test_processed_action_interrupted_by_a_crash_is_finished_on_restart(sqlite_url, dovecot, smtp_sink,
                                                                        config_for,
                                                                        monkeypatch):
    from intake.imap import MailboxClient

    cfg = config_for(sqlite_url)
    _box_setting(cfg, 'on_processed = "seen"')
    for n in range(3):
        dovecot.deliver("support", bytes(client_email(n, f"Mail {n}", "When is the release?", "en")))
    # The worker dies between the commit and marking the messages seen.
    monkeypatch.setattr(MailboxClient, "after_commit", lambda self, uids: None)
    _run(cfg)
    imap = dovecot.login("support")
    imap.select_folder("INBOX", readonly=True)
    assert len(imap.search(["UNSEEN"])) == 3
    monkeypatch.undo()
    assert main(["--config", str(cfg), "run", "--once"]) == 0
    imap.select_folder("INBOX", readonly=True)
    assert imap.search(["UNSEEN"]) == []
    imap.logout()
    assert len(smtp_sink.wait_for(3)) == 3
