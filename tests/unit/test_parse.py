"""Parsing raw bytes into Email values, including the odd corpus."""
from __future__ import annotations

import pytest

from intake.parse import ParseError, parse_email, synthetic_message_id
from intake.parse.attachments import safe_filename
from intake.parse.text import html_to_text, new_text
from tests.corpus import MAIL_CORPUS

CORPUS = MAIL_CORPUS


def test_plain_email_fields():
    raw = (b"From: =?utf-8?b?5byg5LiJ?= <Zhang@Client.Example>\r\nTo: support@team.example\r\n"
           b"Subject: =?utf-8?b?5oql6KGo5a+85Ye66ZSZ6K+v?=\r\nMessage-ID: <abc@client.example>\r\n"
           b"In-Reply-To: <prev@team.example>\r\nReferences: <a@x> <prev@team.example>\r\n"
           b"Date: Mon, 2 Nov 2026 09:00:00 +0800\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
           + "您好，导出报表时报错。\r\n\r\n> 旧的引用\r\n".encode())
    email = parse_email(raw)
    assert email.message_id == "<abc@client.example>"
    assert email.sender == "zhang@client.example"
    assert email.sender_name == "张三"
    assert email.subject == "报表导出错误"
    assert email.in_reply_to == "<prev@team.example>"
    assert email.references == ("<a@x>", "<prev@team.example>")
    assert email.new_text == "您好，导出报表时报错。"
    assert email.lang == "zh"
    assert email.date is not None and email.date.utcoffset().total_seconds() == 0
    assert email.date.hour == 1


def test_missing_message_id_gets_stable_synthetic_one():
    raw = b"From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n"
    assert parse_email(raw).message_id == synthetic_message_id(raw) == parse_email(raw).message_id
    assert synthetic_message_id(raw) != synthetic_message_id(raw + b"x")


def test_html_only_body_becomes_text_without_script():
    raw = (b"From: a@b.example\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<p>Hello <b>team</b></p><script>alert(1)</script><p>Line two</p>")
    email = parse_email(raw)
    assert email.text == "Hello team\nLine two"
    assert "<script" not in email.html and "alert" not in email.text


def test_attachment_metadata_and_hash():
    raw = (b"From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nsee "
           b"file\r\n"
           b"--XX\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
           b"filename=\"../../x.pdf\"\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n")
    email = parse_email(raw)
    (att,) = email.attachments
    assert att.filename == "_.._x.pdf"  # no separators, no leading dot
    assert att.size == 5
    assert att.sha256 == "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"


def test_safe_filename_strips_bidi_and_bounds_length():
    assert safe_filename("invoice\u202efdp.exe") == "invoice_fdp.exe"
    long = safe_filename("a" * 500 + ".pdf")
    assert len(long) <= 200 and long.endswith(".pdf")
    assert safe_filename("") == "attachment"


def test_garbage_does_not_raise_unexpectedly():
    email = parse_email(b"\x00\xff\xfe garbage without headers")
    assert email.message_id.endswith("@client-intake.invalid>")


def test_quote_and_signature_stripping():
    text = "Please fix the export.\n\nThanks,\nAnna\n-- \nAnna Smith | ACME\n\nOn Mon, Bob wrote:\n> old"
    assert new_text(text) == "Please fix the export."
    outlook = "Can we move the meeting?\n\n-----Original Message-----\nFrom: x\nSubject: y"
    assert new_text(outlook) == "Can we move the meeting?"
    chinese = "好的，请安排。\n\n在 2026年11月2日 写道：\n> 之前"
    assert new_text(chinese) == "好的，请安排。"


def test_html_to_text_keeps_paragraphs():
    assert html_to_text("<div>a</div><div>b<br>c</div>") == "a\nb\nc"


# A whole Outlook .msg file saved as if it were a message: no header fields, no text; the only one
# quarantined.
NOT_EMAIL = {"mail-parser/mail_outlook_1.eml"}


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*/*.eml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_message_is_read(path):
    """Whatever is readable is read: only what is not an email at all raises ParseError."""
    raw = path.read_bytes()
    if f"{path.parent.name}/{path.name}" in NOT_EMAIL:
        with pytest.raises(ParseError, match="not an email message"):
            parse_email(raw)
        return
    email = parse_email(raw)
    assert email.message_id.startswith("<")
    assert "\x00" not in email.subject + email.text + email.html
    assert email.subject or email.text or email.attachments or email.headers


def test_corpus_gbk_subject_decodes():
    email = parse_email((CORPUS / "crafted" / "gbk-plain.eml").read_bytes())
    assert email.subject == "报表导出错误"
    assert "导出报表时报错" in email.text


def test_corpus_is_present():
    # Without the corpus the tests above would silently shrink.
    assert len(list(CORPUS.glob("*/*.eml"))) >= 500, f"expected the mail corpus in {CORPUS}"
    assert {p.name for p in CORPUS.iterdir() if p.is_dir()} >= {"crafted", "mail-parser", "mikel-mail",
                                                                "sisimai"}


def test_every_corpus_attachment_can_be_extracted_again_by_its_hash():
    from intake.parse import attachment_data
    from tests.unit.test_charsets import CORPUS

    seen = 0
    for path in sorted(CORPUS.rglob("*.eml")):
        raw = path.read_bytes()
        try:
            parsed = parse_email(raw)
        except ParseError:
            continue
        for info in parsed.attachments:
            data = attachment_data(raw, info.sha256)
            assert data is not None and len(data) == info.size, (path.name, info.filename)
            seen += 1
    assert seen >= 20, f"only {seen} attachments in the corpus"
    assert attachment_data(b"Subject: x\r\n\r\nno attachments", "0" * 64) is None
