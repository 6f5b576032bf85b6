"""What the parser reads when the libraries cannot: fallbacks, MIME nesting limits, broken header blocks, odd
From."""
from __future__ import annotations

import mailparser
import pytest

from intake.identity import content_digest, synthetic_message_id
from intake.parse import ParseError, attachment_data, parse_email
from intake.parse.head_repair import repair_head
from intake.parse.lifted import message_from_bytes
from intake.parse.mail_parser_view import MailParserView
from intake.parse.nesting import MAX_DEPTH, OPAQUE_NAME, limit_nesting
from tests.corpus import MAIL_CORPUS

HEAD = b"From: Ann <ann@client.example>\r\nTo: support@team.example\r\nMessage-ID: <n@client.example>\r\n"


def nested(depth: int, rfc822: bool = False) -> bytes:
    """A message whose only text sits DEPTH containers down (multipart/mixed or message/rfc822)."""
    body = b"Content-Type: text/plain\r\n\r\nhello from the bottom\r\n"
    for i in range(depth):
        if rfc822:
            body = b"Content-Type: message/rfc822\r\n\r\nSubject: level %d\r\n" % i + body
        else:
            b = b"b%d" % i
            body = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n" + body
                    + b"\r\n--" + b + b"--\r\n")
    return HEAD + b"Subject: deep\r\nMIME-Version: 1.0\r\n" + body


def test_a_message_mail_parser_cannot_read_is_read_by_the_standard_library(monkeypatch):
    raw = (MAIL_CORPUS / "sisimai" / "bsd-lhost-sendgrid-01.eml").read_bytes()
    # mail-parser 4.8's full pass raises AttributeError decoding this bounce; the reader's lighter pass reads
    # it.
    with pytest.raises(AttributeError):
        mailparser.MailParser(message_from_bytes(raw))
    email = parse_email(raw)
    assert (email.sender == "mailer-daemon@nijo.example.jp"
            and email.subject == "Undelivered Mail Returned to Sender")
    assert "standard library" not in " ".join(email.defects) and email.text

    def fails(self):
        raise AttributeError("a mail-parser bug")

    monkeypatch.setattr(MailParserView, "parse", fails)
    again = parse_email(raw)
    assert (again.sender, again.subject, again.text) == (email.sender, email.subject, email.text)
    assert "standard library" in " ".join(again.defects)


@pytest.mark.parametrize("rfc822", [False, True])
@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, 1000, 5000])
def test_deep_nesting_is_cut_at_the_limit_not_by_a_recursion_error(depth, rfc822):
    raw = nested(depth, rfc822)
    email = parse_email(raw)
    assert email.subject == "deep" and email.sender == "ann@client.example"
    if depth < MAX_DEPTH:
        assert "hello from the bottom" in email.text and not email.attachments
        return
    assert [a.filename for a in email.attachments] == [OPAQUE_NAME]
    assert any("nested deeper" in d for d in email.defects)
    # The opaque part can be downloaded again, as every attachment can.
    assert attachment_data(raw, email.attachments[0].sha256) is not None


def test_limit_nesting_leaves_ordinary_messages_alone():
    raw = nested(3)
    assert limit_nesting(raw) == (raw, False)
    cut, changed = limit_nesting(nested(MAX_DEPTH + 5))
    assert changed and cut.count(OPAQUE_NAME.encode()) == 1


@pytest.mark.parametrize(("raw", "subject", "sender"), [
    (b"\xef\xbb\xbf" + HEAD + b"Subject: bom\r\n\r\nbody", "bom", "ann@client.example"),
    (b"\r\n\r\n" + HEAD + b"Subject: blank lines first\r\n\r\nbody", "blank lines first",
     "ann@client.example"),
    (b" " + HEAD + b"Subject: indented\r\n\r\nbody", "indented", "ann@client.example"),
    (b"Received: from x\r\nquite Delivered-To: y@z\r\n" + HEAD + b"Subject: stray line\r\n\r\nbody",
     "stray line", "ann@client.example"),
    (b"Subject : obsolete\r\nFrom  : Bo <bo@client.example>\r\n\r\nbody", "obsolete", "bo@client.example"),
])
def test_broken_header_blocks_keep_their_fields(raw, subject, sender):
    email = parse_email(raw)
    assert (email.subject, email.sender) == (subject, sender)
    assert email.text == "body"
    assert repair_head(raw)[1], "a repair note"


def test_a_well_formed_message_is_not_touched_by_the_repairs():
    raw = HEAD + b"Subject: fine\r\n\r\nbody\r\nnot: a header\r\n"
    assert repair_head(raw) == (raw, [])
    assert parse_email(raw).text == "body\nnot: a header"


@pytest.mark.parametrize(("from_header", "sender", "name"), [
    (b"tim@powerupdev.com concierge@powerupdev.com", "tim@powerupdev.com", ""),
    (b"Pete(A wonderful \\) chap) <pete(his account)@silly.test(his host)>", "pete@silly.test", "Pete"),
    (b"big bug bb@bug.com", "bb@bug.com", "big bug"),
    (b"Doe, John <john.doe@client.example>", "john.doe@client.example", "Doe, John"),
    (b"=?utf-8?b?5byg5LiJ?= <Zhang@Client.Example>", "zhang@client.example", "\u5f20\u4e09"),
    (b"\"J\xc3\xb6hn Doe\" <jd\xc3\xb6e@m\xc3\xa4chine.example>", "jd\u00f6e@m\u00e4chine.example",
     "J\u00f6hn Doe"),
    (b"MAILER-DAEMON <>", "", "MAILER-DAEMON"),
    (b"undisclosed-recipients:;", "", ""),
])
def test_odd_from_headers(from_header, sender, name):
    email = parse_email(b"From: " + from_header + b"\r\nSubject: s\r\n\r\nbody")
    assert (email.sender, email.sender_name) == (sender, name)


def test_several_senders_and_no_usable_sender_leave_a_note():
    several = parse_email(b"From: a@x.example b@x.example\r\nSubject: s\r\n\r\nbody")
    assert any("2 addresses" in d for d in several.defects)
    none = parse_email(b"From: nobody at all\r\nSubject: s\r\n\r\nbody")
    assert none.sender == "" and any("no usable address" in d for d in none.defects)


def test_a_to_header_that_sends_the_address_parser_into_recursion_is_read():
    raw = (MAIL_CORPUS / "mimekit" / "messages-stack-overflow.eml").read_bytes()
    email = parse_email(raw)
    assert email.message_id.startswith("<")


def test_only_what_is_no_email_at_all_raises():
    with pytest.raises(ParseError, match="not an email message"):
        parse_email(b"")
    with pytest.raises(ParseError, match="not an email message"):
        parse_email(b"\x00\x01\x02\x03" * 64)
    headers_only = parse_email(b"From: ann@client.example\r\nSubject: \r\n\r\n")
    assert headers_only.sender == "ann@client.example" and headers_only.text == ""
    body_only = parse_email(b"\r\nthe export crashes again\r\n")
    assert body_only.text == "the export crashes again" and body_only.sender == ""


def test_the_content_digest_ignores_what_servers_add_and_sees_what_senders_wrote():
    raw = HEAD + b"Subject: digest\r\nDate: Mon, 2 Nov 2026 09:00:00 +0800\r\n\r\nThe export crashes.\r\n"
    relayed = (b"Return-Path: <ann@client.example>\r\nDelivered-To: other@team.example\r\n"
               b"Received: from mx by imap; Mon, 2 Nov 2026 09:00:01 +0800\r\n" + raw.replace(b"\r\n", b"\n"))
    assert content_digest(raw) == content_digest(relayed)
    assert content_digest(raw) != content_digest(raw.replace(b"crashes", b"works"))
    assert content_digest(raw) != content_digest(raw.replace(b"+0800", b"+0900"))
    assert synthetic_message_id(raw) == synthetic_message_id(relayed)


def test_every_text_a_mutated_message_yields_can_be_stored():
    """No lone surrogate or control character reaches a text field, whatever bytes the headers hold."""
    from dataclasses import fields

    from tests.mutations import mutated_corpus

    handmade = (b"From: a@b.example\r\nSubject: =?x\xff\xfe?Q?abc?=\r\n"
                b"Content-Type: text/plain; charset=\"zz\xff\"\r\n\r\nbody \xe9")
    for name, seed, data in [("handmade", 0, handmade), *mutated_corpus(400, 7)]:
        try:
            email = parse_email(data)
        except ParseError:
            continue
        texts = [getattr(email, f.name) for f in fields(email) if isinstance(getattr(email, f.name), str)]
        texts += [*email.defects, *email.recipients, *email.references]
        texts += [v for a in email.attachments for v in (a.filename, a.content_type)]
        for text in texts:
            text.encode("utf-8")  # raises on a lone surrogate: the database would refuse the row
            assert "\x00" not in text, (name, seed)
