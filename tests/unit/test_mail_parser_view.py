"""mail-parser's lighter pass finds the same date and defects as its full pass, over the whole mail corpus."""
from __future__ import annotations

import mailparser
import pytest

from intake.parse.head_repair import repair_head
from intake.parse.lifted import message_from_bytes
from intake.parse.mail_parser_view import MailParserView
from intake.parse.nesting import limit_nesting
from tests.corpus import corpus_files


def _readings(raw: bytes):
    data = repair_head(limit_nesting(raw)[0])[0]
    try:
        full = mailparser.MailParser(message_from_bytes(data))
    except Exception as exc:  # the reader falls back to the standard library's parser for these
        return None, exc
    view = MailParserView(message_from_bytes(data))
    # Only the full pass decodes bodies, so only it can complain about their charsets; the reader decodes them
    # itself and leaves that complaint out of both readings.
    return (full.date, full.timezone, sorted(full.defects_categories - {"CharsetDecodeDefect"})), \
        (view.date, view.timezone, sorted(view.defects_categories - {"CharsetDecodeDefect"}))


def test_the_view_reads_what_the_full_pass_reads_on_every_corpus_message():
    files = corpus_files()
    assert len(files) > 500
    compared, with_defects, differ = 0, 0, []
    for path in files:
        full, view = _readings(path.read_bytes())
        if full is None:
            continue
        compared += 1
        with_defects += bool(full[2])
        if full != view:
            differ.append(f"{path.name}: full {full} view {view}")
    assert compared > 500 and with_defects > 50, (compared, with_defects)
    assert not differ, "\n".join(differ[:20])


@pytest.mark.parametrize("raw", [
    b"From: a@b.example\r\nDate: not a date\r\nTo: ,,,@@\r\n\r\nbody\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno end\r\n",
])
def test_odd_messages_too(raw):
    full, view = _readings(raw)
    assert full == view and full is not None
