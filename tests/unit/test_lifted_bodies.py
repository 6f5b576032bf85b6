"""Large base64 bodies lifted out before parsing come back exactly as the email package reads them in
place."""
from __future__ import annotations

import base64
import email
from email.message import EmailMessage, Message

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake.parse import lifted, parse_email
from tests.corpus import corpus_files


def _shape(msg: Message) -> list[tuple[object, ...]]:
    """What a parse produced: every part's headers, payload (text parts) and defects, in order."""
    return [(tuple(p.raw_items()), p.get_payload() if not p.is_multipart() else None,
             tuple(type(d).__name__ for d in p.defects), p.preamble, p.epilogue) for p in msg.walk()]


def _attachment(n: int, size: int, seed: int) -> bytes:
    return bytes((seed * 31 + i * 7 + n) % 256 for i in range(size))


def test_a_large_attachment_is_lifted_and_put_back_byte_for_byte():
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "Drawings"
    msg.set_content("See attached.")
    data = _attachment(1, 200_000, 3)
    msg.add_attachment(data, maintype="application", subtype="pdf", filename="d.pdf")
    raw = bytes(msg)
    lifted_raw, bodies = lifted.lift(raw, 1024)
    assert len(bodies) == 1 and len(lifted_raw) < 10_000  # the body really left the parser's input
    got = lifted.message_from_bytes(raw, 1024)
    assert _shape(got) == _shape(email.message_from_bytes(raw))
    assert [p.get_payload(decode=True) for p in got.walk() if p.get_filename()] == [data]


def test_a_marker_that_does_not_come_back_alone_means_the_message_is_read_as_it_came():
    msg = email.message_from_string("Subject: x\n\nsome text LIFTEDabcN0 and more\n")
    assert not lifted.restore(msg, {"LIFTEDabcN0": "QUJD"})
    assert not lifted.restore(email.message_from_string("Subject: x\n\nnothing\n"), {"LIFTEDabcN0": "QUJD"})


def test_text_parts_and_parts_with_delimiter_like_lines_are_left_to_the_parser():
    boundary = "XyZ"
    text = "\r\n".join(["--" + boundary + "-not-quite", "a line", "QUJD" * 30] * 400)
    raw = (f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n--{boundary}\r\n"
           f"Content-Type: text/plain\r\n\r\n{text}\r\n--{boundary}--\r\n").encode()
    assert lifted.lift(raw, 64)[1] == {}


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_corpus_message_reads_the_same_with_every_base64_body_lifted(path, monkeypatch):
    raw = path.read_bytes()
    assert _shape(lifted.message_from_bytes(raw, 1)) == _shape(email.message_from_bytes(raw))
    monkeypatch.setattr(lifted, "MIN_LIFTED", 10**12)
    whole = parse_email_or_error(raw)
    monkeypatch.setattr(lifted, "MIN_LIFTED", 1)
    assert parse_email_or_error(raw) == whole


def parse_email_or_error(raw: bytes) -> object:
    try:
        return parse_email(raw)
    except Exception as exc:  # the same error either way counts as the same reading
        return f"{type(exc).__name__}: {exc}"


_eol = st.sampled_from(["\r\n", "\n"])
_leaf = st.tuples(st.sampled_from(["application/pdf", "image/png", "text/plain"]),
                  st.integers(0, 5000), st.integers(0, 255), st.booleans())


@st.composite
def _mime(draw: st.DrawFn, depth: int = 0) -> tuple[str, str]:
    """A (headers, body) pair of a random MIME tree whose leaves are base64 parts, with odd but legal
    layout."""
    if depth < 2 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b1", "=_Part_0_123.456", "outer boundary",
                                         "--dashes--"])) + str(depth)
        parts = draw(st.lists(_mime(depth + 1), min_size=1, max_size=3))
        eol = draw(_eol)
        preamble = draw(st.sampled_from(["", "This is a multi-part message." + eol, "--not" + eol]))
        body = preamble + "".join(f"--{boundary}{eol}{h}{eol}{b}{eol}" for h, b in parts)
        body += f"--{boundary}--{eol}" + draw(st.sampled_from(["", "epilogue" + eol]))
        return f'Content-Type: multipart/mixed; boundary="{boundary}"{eol}', body
    ctype, size, seed, headerless = draw(_leaf)
    eol = draw(_eol)
    text = base64.encodebytes(_attachment(depth, size, seed)).decode().replace("\n", eol)
    if headerless:
        return "", text
    return f"Content-Type: {ctype}{eol}Content-Transfer-Encoding: base64{eol}", text


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_mime(), st.integers(1, 4000))
def test_random_mime_trees_read_the_same_lifted_or_not(tree, min_lifted):
    headers, body = tree
    raw = ("From: a@example.com\r\nSubject: t\r\n" + headers + "\r\n" + body).encode()
    assert _shape(lifted.message_from_bytes(raw, min_lifted)) == _shape(email.message_from_bytes(raw))
