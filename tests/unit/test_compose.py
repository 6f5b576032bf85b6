"""Acknowledgment messages: headers, subject, language and both body parts."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes
from email.header import decode_header, make_header
from email.policy import default
from email.utils import parseaddr

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from responders.compose import AckRequest, ack_mail, ack_subject, build_ack, header_text, render_bodies

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)


def _req(**kw) -> AckRequest:
    base = dict(ref="CI-000123", category="change_request", lang="en", to_address="anna@acme.example",
                to_name="Anna", subject="Add a PO field", in_reply_to="<c1@acme.example>",
                references=("<c0@acme.example>",))
    base.update(kw)
    return AckRequest(**base)


def test_headers():
    msg = message_from_bytes(build_ack(_req(), "Team <support@team.example>", "ACME team", NOW).as_bytes(),
                             policy=default)
    assert msg["To"] == "Anna <anna@acme.example>"
    assert msg["Subject"] == "Re: Add a PO field [CI-000123]"
    assert msg["In-Reply-To"] == "<c1@acme.example>"
    assert msg["References"] == "<c0@acme.example> <c1@acme.example>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"].endswith("@team.example>")
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "CI-000123" in text and "impact" in text and "approv" in text
    assert "<strong>CI-000123</strong>" in html


def test_chinese_ack_and_escaping():
    msg = message_from_bytes(build_ack(_req(lang="zh", category="issue", subject="<b>登录</b> 报错",
                                            to_name="张三"), "support@team.example", "项目组",
                                       NOW).as_bytes(),
                             policy=default)
    assert msg["Content-Language"] == "zh-CN"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "张三，您好" in text and "问题报告" in text
    assert "&lt;b&gt;登录&lt;/b&gt;" in html and "<b>登录</b>" not in html


@pytest.mark.parametrize("subject, expected", [
    ("Re: RE: hello", "Re: hello [CI-000001]"),
    ("回复：你好", "Re: 你好 [CI-000001]"),
    ("", "Re: (no subject) [CI-000001]"),
    ("multi\n  line", "Re: multi line [CI-000001]"),
])
def test_ack_subject(subject, expected):
    assert ack_subject(subject, "CI-000001", "en") == expected


@pytest.mark.parametrize("category", ["issue", "change_request", "question", "feedback"])
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_template_renders(category, lang):
    msg = build_ack(_req(category=category, lang=lang), "support@team.example", "Team", NOW)
    assert "CI-000123" in msg.get_body(("plain",)).get_content()


_names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(name=_names, subject=st.text(st.characters(blacklist_categories=("Cs",)), max_size=3000),
       lang=st.sampled_from(["en", "zh", "other"]), team=_names)
@example(name="a\rb", subject="s\r\nt", lang="en", team="\r")  # a carriage return alone ends a line too
def test_the_written_bytes_read_back_as_what_was_meant(name, subject, lang, team):
    """The message written without the header policy reads back, through the policy, as the policy would
    have written it: the recipient's name and address, the subject, both bodies, lines within 998 octets."""
    req = _req(to_name=name, subject=subject, lang=lang)
    out = ack_mail(req, "Support Team <support@team.example>", team, NOW)
    assert all(len(line) <= 998 for line in out.raw.split(b"\r\n"))
    assert b"\n" not in out.raw.replace(b"\r\n", b"")
    msg = message_from_bytes(out.raw, policy=default)
    assert not msg.defects and all(not p.defects for p in msg.walk())
    to = msg["To"].addresses[0]
    assert to.addr_spec == "anna@acme.example" and _display_name(out.raw) == header_text(name)
    assert str(msg["Subject"]) == ack_subject(subject, "CI-000123", lang) == out.subject
    assert msg["Message-ID"] == out.message_id and msg["From"].addresses[0].display_name == "Support Team"
    text, html = render_bodies(req, team)
    assert _lines(msg.get_body(("plain",)).get_content()) == text == out.text
    assert _lines(msg.get_body(("html",)).get_content()) == html


def _display_name(raw: bytes) -> str:
    """The display name of RAW's To field, decoded by RFC 2047's rules (the policy's reader keeps a space
    between the encoded words of a long name, and drops a leading colon, so it is not the judge here)."""
    value = " ".join(message_from_bytes(raw)["To"].split())  # compat32: the field as written, unfolded
    name = value.rpartition(" <")[0]
    if "=?" not in name:
        return parseaddr(value)[0]
    return str(make_header(decode_header(name)))


def _lines(content: str) -> str:
    return content.replace("\r\n", "\n")
