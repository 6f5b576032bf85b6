"""Black-box flow: client mail in Dovecot, `intake run --once`, items in the tracker, acknowledgments over
SMTP."""
from __future__ import annotations

import json
import subprocess
from email import message_from_bytes
from email.policy import default

import pytest
from sqlalchemy import func, select

from classifiers.lang import detect_language
from db.engine import make_engine, make_sessionmaker
from db.models import Item, Mailbox, Message, OutboxMail
from responders.recipients import deliverable
from tests.corpus import corpus_files
from tests.integration.conftest import run_intake
from tests.mailgen import client_batch, client_email

pytestmark = pytest.mark.integration


def intake(cfg, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs the installed console script as a user would."""
    proc = run_intake(cfg, *args)
    assert proc.returncode == 0, proc.stderr
    return proc


def _parse(raw: bytes):
    return message_from_bytes(raw, policy=default)


def test_fifty_emails_end_to_end(any_db_url, dovecot, smtp_sink, config_for):
    cfg = config_for(any_db_url)
    sent = client_batch(50)
    for m in sent:
        dovecot.deliver("support", bytes(m))
    intake(cfg, "db", "upgrade")
    out = intake(cfg, "run", "--once")
    assert "new items: 50" in out.stdout

    records = [json.loads(line) for line in intake(cfg, "export", "--format", "jsonl").stdout.splitlines()]
    assert len(records) == 50
    by_msgid = {r["message_id"]: r for r in records}
    assert set(by_msgid) == {m["Message-ID"] for m in sent}

    acks = smtp_sink.wait_for(50, timeout=60)
    assert len(acks) == 50
    clients = {m["Message-ID"]: m for m in sent}
    for ack in acks:
        msg = _parse(ack.raw)
        original = clients[msg["In-Reply-To"]]
        client_addr = original["From"].addresses[0].addr_spec
        assert ack.rcpt_tos == [client_addr]
        assert msg["To"].addresses[0].addr_spec == client_addr
        ref = by_msgid[msg["In-Reply-To"]]["ref"]
        assert msg["Subject"].endswith(f"[{ref}]")
        assert msg["Auto-Submitted"] == "auto-replied"
        client_lang = detect_language(original["Subject"] + original.get_body(("plain",
                                                                               "html")).get_content())
        assert msg["Content-Language"] == ("zh-CN" if client_lang == "zh" else "en")
        body = msg.get_body(("plain",)).get_content()
        assert ("您好" in body) == (client_lang == "zh")

    # A second run finds nothing new and sends nothing.
    out = intake(cfg, "run", "--once")
    assert "new items: 0" in out.stdout and "acknowledgments sent: 0" in out.stdout
    assert len(intake(cfg, "export").stdout.splitlines()) == 50
    assert len(smtp_sink.messages) == 50

    # The client answers the acknowledgment: it joins the item, and no second acknowledgment goes out.
    ack = _parse(acks[0].raw)
    ref = ack["Subject"].rsplit("[", 1)[1].rstrip("]")
    reply = client_email(999, ack["Subject"], "Thanks, here are more details: it happens every morning.",
                         "en",
                         msgid="<reply-1@client.example>")
    reply.replace_header("From", ack["To"])
    reply["In-Reply-To"] = ack["Message-ID"]
    reply["References"] = f"{ack['In-Reply-To']} {ack['Message-ID']}"
    dovecot.deliver("support", bytes(reply))
    out = intake(cfg, "run", "--once")
    assert "new items: 0" in out.stdout and "follow-ups: 1" in out.stdout
    assert len(smtp_sink.messages) == 50
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as s:
        item = s.scalar(select(Item).where(Item.ref == ref))
        assert [m.message_id for m in item.messages if m.direction == "in"][-1] == "<reply-1@client.example>"
        assert item.acknowledged_at is not None
        assert s.scalar(select(func.count(OutboxMail.id))) == 50
    engine.dispose()


def test_reply_by_headers_only_threads_without_reference(sqlite_url, dovecot, smtp_sink, config_for):
    cfg = config_for(sqlite_url)
    first = client_email(1, "Printer driver", "The label printer prints blank pages since the update.", "en",
                         msgid="<first@client.example>")
    dovecot.deliver("support", bytes(first))
    intake(cfg, "db", "upgrade")
    intake(cfg, "run", "--once")
    follow = client_email(1, "one more thing", "It also happens on the second printer.", "en",
                          msgid="<second@client.example>", In_Reply_To="<first@client.example>")
    dovecot.deliver("support", bytes(follow))
    out = intake(cfg, "run", "--once")
    assert "follow-ups: 1" in out.stdout and "new items: 0" in out.stdout
    assert len(smtp_sink.wait_for(1)) == 1


def test_malformed_messages_are_kept_and_do_not_stop_the_run(sqlite_url, dovecot, smtp_sink, config_for):
    cfg = config_for(sqlite_url)
    broken_mime = (b"From: a@client.example\r\nSubject: broken\r\nMessage-ID: <broken@client.example>\r\n"
                   b"Content-Type: multipart/mixed; boundary=\"zz\"\r\n\r\n--zz\r\nContent-Type: "
                   b"text/plain\r\n\r\n"
                   b"The dashboard is blank.\r\n--zz\r\nContent-Type: application/octet-stream\r\n"
                   b"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64\r\n")
    wrong_charset = ("From: b@client.example\r\nSubject: charset\r\nMessage-ID: <cs@client.example>\r\n"
                     "Content-Type: text/plain; charset=utf-8\r\n\r\n报表导出错误").encode("gbk")
    unknown_charset = (b"From: c@client.example\r\nSubject: =?x-nonsense?q?hi?=\r\nMessage-ID: "
                       b"<uc@client.example>"
                       b"\r\nContent-Type: text/plain; charset=x-nonsense\r\n\r\n\xff\xfe\xfd")
    good = bytes(client_email(4, "Question", "When is the next release planned?", "en",
                              msgid="<good@client.example>"))
    for raw in (broken_mime, wrong_charset, unknown_charset, good):
        dovecot.deliver("support", raw)
    intake(cfg, "db", "upgrade")
    intake(cfg, "run", "--once")
    engine = make_engine(sqlite_url)
    with make_sessionmaker(engine)() as s:
        rows = {m.message_id: m for m in s.scalars(select(Message).where(Message.direction == "in"))}
        assert set(rows) == {"<broken@client.example>", "<cs@client.example>", "<uc@client.example>",
                             "<good@client.example>"}
        for raw, mid in ((broken_mime, "<broken@client.example>"), (wrong_charset, "<cs@client.example>"),
                         (unknown_charset, "<uc@client.example>")):
            assert rows[mid].raw.replace(b"\r\n", b"\n") == raw.replace(b"\r\n", b"\n")
            assert rows[mid].item_id is not None or rows[mid].status == "quarantined"
        assert rows["<good@client.example>"].item_id is not None
    engine.dispose()
    assert len(smtp_sink.wait_for(4)) == 4


NOT_EMAIL = {"mail_outlook_1.eml"}  # an Outlook .msg file saved as a message: no header fields, no text
# The same message as an earlier file (line endings changed, resent, one more Received line): stored once.
COPIES = {"attachment_emails-attachment_pdf_lf.eml", "attachment_emails-attachment_pdf_non_ascii_lf.eml",
          "plain_emails-basic_email_lf.eml", "rfc2822-example08.eml", "rfc2822-example09.eml"}


def test_every_corpus_message_is_accounted_for(any_db_url, dovecot, smtp_sink, config_for):
    """The whole corpus in one mailbox, drained at the default batch size: nothing blocks, nothing is lost."""
    cfg = config_for(any_db_url)
    files = corpus_files()
    assert len(files) >= 500
    for path in files:
        dovecot.append("support", path.read_bytes())
    intake(cfg, "db", "upgrade")
    intake(cfg, "run", "--once")
    engine = make_engine(any_db_url)
    with make_sessionmaker(engine)() as s:
        rows = list(s.scalars(select(Message).where(Message.mailbox_id.is_not(None))))
        # Exactly the bytes the server holds (Dovecot itself rewrites NUL bytes on delivery).
        imap = dovecot.login("support")
        imap.select_folder("INBOX", readonly=True)
        on_server = imap.fetch(imap.search(), ["BODY.PEEK[]"])
        imap.logout()
        assert len(on_server) == len(files)
        names = {uid: path.name for uid, path in zip(sorted(on_server), files, strict=True)}
        assert {r.uid: r.raw for r in rows} == {uid: data[b"BODY[]"] for uid, data in on_server.items()
                                                if names[uid] not in COPIES}
        assert s.scalar(select(Mailbox.last_uid)) == max(on_server)
        quarantined = sorted(names[r.uid] for r in rows if r.status == "quarantined")
        assert quarantined == sorted(NOT_EMAIL), [(names[r.uid],
                                                   r.error) for r in rows if r.status == "quarantined"]
        for r in rows:
            # An item (new or follow-up), ours (a staff reply), or a record of an automatic message.
            assert r.item_id is not None or r.status in ("quarantined", "ignored"), names[r.uid]
            if r.status == "ignored":
                # Screened out only for what the message is, never because its From header was odd.
                assert r.screening in ("bounce", "auto_submitted", "list_mail", "from_us", "no_reply_sender")
                assert r.sender or r.screening in ("bounce", "auto_submitted", "list_mail"), names[r.uid]
        by_id = {r.message_id: r for r in rows}
        # The bounce and the out-of-office are recorded, never answered.
        assert by_id["<dsn@mx.client.example>"].screening == "bounce"
        assert by_id["<ooo@client.example>"].screening == "auto_submitted"
        outbox = list(s.scalars(select(OutboxMail)))
        assert outbox and all(deliverable(o.to_address) == o.to_address for o in outbox)
        acked = {m.in_reply_to for m in s.scalars(select(Message).where(Message.direction == "out"))}
        assert "<dsn@mx.client.example>" not in acked and "<ooo@client.example>" not in acked
        by_name = {names[r.uid]: r for r in rows}
        assert by_name["plain_emails-raw_email_multiple_from.eml"].sender == "tim@powerupdev.com"
        assert by_name["plain_emails-raw_email_multiple_from.eml"].item_id is not None
        items = s.scalar(select(func.count(Item.id)))
    engine.dispose()
    assert items > len(files) // 3
    again = intake(cfg, "run", "--once")  # nothing left: the mailbox position moved past every message
    assert "new items: 0" in again.stdout and "quarantined: 0" in again.stdout
