"""`intake quarantine` through the console script: list, show, delete and retry against real Dovecot, SMTP and
databases; a retry stores a message exactly once, even two retries at once on PostgreSQL."""
from __future__ import annotations

import json
import os
import subprocess
import time
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import func, select

from classifiers import load_classifier
from cli.main import main
from db.engine import make_engine, make_sessionmaker
from db.models import Item, Message, OutboxMail
from db.quarantine import QUARANTINED
from intake import parsed
from intake.config import load_config
from intake.parse import ParseError
from intake.pipeline import process_batch
from intake.values import RawMail
from review.present import file_size
from tests.integration.conftest import intake_command, run_intake
from tests.mailgen import client_email

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "mails"
OUTLOOK = (DATA / "mail-parser" / "mail_outlook_1.eml").read_bytes()  # a .msg file: no header fields, no text
CONTROLS = bytes(range(1, 9)) * 64  # control bytes only: nothing to read either
OLD_PARSER = "unreadable to the old parser"
NOT_EMAIL = "not an email message: no header fields and no readable text"  # what the current parser says


def intake(cfg: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """Runs `intake ARGS` with CFG and checks its exit CODE."""
    proc = run_intake(cfg, *args)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def intake_bytes(cfg: Path, *args: str) -> bytes:
    """The exact bytes `intake ARGS` writes to stdout."""
    proc = subprocess.run(intake_command(cfg, *args), capture_output=True, timeout=120, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def listed(cfg: Path) -> list[dict]:
    return [json.loads(line) for line in intake(cfg, "quarantine", "list", "--format",
                                                "json").stdout.splitlines()]


def on_server(dovecot) -> dict[int, bytes]:
    """UID -> the bytes Dovecot holds (it rewrites NUL bytes on delivery)."""
    imap = dovecot.login("support")
    try:
        imap.select_folder("INBOX", readonly=True)
        return {uid: data[b"BODY[]"] for uid, data in imap.fetch(imap.search(), ["BODY.PEEK[]"]).items()}
    finally:
        imap.logout()


def counts(db_url: str) -> tuple[int, int]:
    """(items, outbox rows) in the database at DB_URL."""
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as s:
            return s.scalar(select(func.count(Item.id))), s.scalar(select(func.count(OutboxMail.id)))
    finally:
        engine.dispose()


def test_list_show_delete_and_a_retry_that_still_fails(sqlite_url, dovecot, smtp_sink, config_for, tmp_path):
    cfg = config_for(sqlite_url)
    good = [bytes(client_email(n, subject, body, "en")) for n, subject, body in (
        (1, "Export fails", "The export to Excel fails above 1,000 rows."),
        (2, "Invoice address", "Could you change the address on our invoices?"),
        (3, "Great release", "The new dashboard is much faster, thank you!"))]
    for raw in (good[0], OUTLOOK, good[1], CONTROLS, good[2]):
        dovecot.append("support", raw)
    intake(cfg, "db", "upgrade")
    assert intake(cfg, "quarantine", "list").stdout == "no quarantined messages\n"
    assert "no quarantined messages to retry" in intake(cfg, "quarantine", "retry", "--all").stdout
    run = intake(cfg, "run", "--once").stdout
    assert "new items: 3" in run and "quarantined: 2" in run
    assert len(smtp_sink.wait_for(3)) == 3

    entries = listed(cfg)
    assert [e["uid"] for e in entries] == [4, 2]  # newest first: the same internal date, so by id
    held = on_server(dovecot)
    for e in entries:
        assert e["mailbox"] == "support" and e["error"] == NOT_EMAIL
        assert set(e) == {"id", "mailbox", "uidvalidity", "uid", "message_id", "sender", "subject",
                          "received_at",
                          "size", "error", "retry_requested"}
        assert e["retry_requested"] is False and datetime.fromisoformat(e["received_at"]).tzinfo is not None
        assert intake_bytes(cfg, "quarantine", "show", str(e["id"]), "--raw") == held[e["uid"]]
    controls, outlook = entries
    table = intake(cfg, "quarantine", "list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "RECEIVED", "(UTC)"] and table[-1] == "2 quarantined messages"
    assert [line.split()[0] for line in table[1:-1]] == [str(controls["id"]), str(outlook["id"])]
    assert ("support:2" in table[2] and file_size(outlook["size"]) in table[2]
            and "not an email message" in table[2])
    page = intake(cfg, "quarantine", "list", "--limit", "1").stdout.splitlines()
    assert len(page) == 3 and page[-1] == "showing 1-1 of 2 quarantined messages; more with --offset 1"

    shown = intake(cfg, "quarantine", "show", str(outlook["id"])).stdout
    assert f"id:          {outlook['id']}" in shown and "reason:\n  not an email message" in shown
    assert "\x00" not in shown and "\\x" in shown  # the .msg file's bytes, escaped
    out = tmp_path / "outlook.eml"
    proc = intake(cfg, "quarantine", "show", str(outlook["id"]), "--out", str(out))
    assert out.read_bytes() == held[2] and f"{len(held[2])} bytes" in proc.stderr

    gone = intake(cfg, "quarantine", "delete", str(controls["id"])).stdout
    assert gone.startswith(f"deleted #{controls['id']} (support:4, ")
    assert [e["id"] for e in listed(cfg)] == [outlook["id"]]
    refused = intake(cfg, "quarantine", "delete", str(controls["id"]), code=1)
    assert refused.stderr.strip().endswith(f"intake: quarantine: no quarantined message {controls['id']}")
    assert "no quarantined message" in intake(cfg, "quarantine", "show", str(controls["id"]), code=1).stderr

    again = intake(cfg, "quarantine", "retry", str(outlook["id"]), code=1).stdout
    assert again == f"#{outlook['id']}: still quarantined: {NOT_EMAIL}\n"
    assert "still quarantined" in intake(cfg, "quarantine", "retry", "--all", code=1).stdout
    assert [e["id"] for e in listed(cfg)] == [outlook["id"]]
    assert counts(sqlite_url) == (3, 3)


def test_retry_after_an_upgrade_stores_the_message_exactly_once(sqlite_url, dovecot, smtp_sink, config_for,
                                                                monkeypatch, capsys):
    # Read in the worker's own process, where the old parser below is patched in (not in reading processes).
    cfg = config_for(sqlite_url, extra="[classifier]\nprocesses = 0\n")
    late = client_email(1, "Export fails", "The export to Excel fails above 1,000 rows.", "en",
                        msgid="<late@client.example>")
    dovecot.deliver("support", bytes(late))
    dovecot.deliver("support", bytes(client_email(2, "Invoice address", "Please change our invoice address.",
                                                  "en")))
    intake(cfg, "db", "upgrade")
    real = parsed.parse_email

    def old_parser(data: bytes):  # the code before the upgrade: this message made it fail
        if b"<late@client.example>" in data:
            raise ParseError(OLD_PARSER)
        return real(data)

    monkeypatch.setattr(parsed, "parse_email", old_parser)
    assert main(["--config", str(cfg), "run", "--once"]) == 0  # the worker itself, over IMAP
    monkeypatch.undo()
    assert "quarantined: 1" in capsys.readouterr().out
    assert len(smtp_sink.wait_for(1)) == 1
    [entry] = listed(cfg)
    assert (entry["error"], entry["uid"], entry["subject"]) == (OLD_PARSER, 1, "")
    assert entry["message_id"].endswith("@client-intake.invalid>")  # unread: the raw bytes' own identity

    done = intake(cfg, "quarantine", "retry", str(entry["id"]))
    assert done.stdout == f"#{entry['id']}: new item CI-000002, acknowledgment queued\n"
    assert "sent 1" in done.stderr
    acks = smtp_sink.wait_for(2)
    ack = message_from_bytes(acks[1].raw, policy=default)
    assert ack["In-Reply-To"] == "<late@client.example>" and ack["Subject"].endswith("[CI-000002]")
    assert acks[1].rcpt_tos == ["client1@client.example"]

    second = intake(cfg, "quarantine", "retry", str(entry["id"]))
    assert second.stdout == f"#{entry['id']}: not in quarantine\n"
    assert listed(cfg) == [] and counts(sqlite_url) == (2, 2)
    assert "new items: 0" in intake(cfg, "run", "--once").stdout  # the worker knows the message too
    time.sleep(1)
    assert len(smtp_sink.messages) == 2
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        row = s.scalar(select(Message).where(Message.message_id == "<late@client.example>"))
        assert row.status == "processed" and row.item_id is not None and row.uid == 1 and row.error == ""
    engine.dispose()


def test_two_retries_at_once_on_postgresql_store_one_item(pg_url, dovecot, smtp_sink, config_for,
                                                          monkeypatch):
    cfg = config_for(pg_url)
    intake(cfg, "db", "upgrade")
    mail = bytes(client_email(1, "Login", "The login page shows error 500 since this morning.", "en"))
    monkeypatch.setattr(parsed, "parse_email", lambda data: (_ for _ in ()).throw(ParseError(OLD_PARSER)))
    engine = make_engine(pg_url)
    factory = make_sessionmaker(engine)
    when = datetime(2026, 12, 2, 9, 0, tzinfo=timezone.utc)
    result = process_batch(factory, load_config(str(cfg)), "support",
                           [RawMail("support", 1, 1, mail, when, len(mail))],
                           load_classifier())
    monkeypatch.undo()
    assert result.quarantined == 1
    [entry] = listed(cfg)

    runs = [subprocess.Popen(intake_command(cfg, "quarantine", "retry", str(entry["id"])),
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy()) for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], outputs
    assert sorted(out for out,
                  _err in outputs) == [f"#{entry['id']}: new item CI-000001, acknowledgment queued\n",
                                                    f"#{entry['id']}: not in quarantine\n"]
    assert counts(pg_url) == (1, 1)
    assert len(smtp_sink.wait_for(1)) == 1
    time.sleep(1)
    assert len(smtp_sink.messages) == 1
    with factory() as s:
        assert s.scalar(select(func.count(Message.id)).where(Message.status == QUARANTINED)) == 0
    engine.dispose()
