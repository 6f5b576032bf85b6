"""Acknowledgment messages: headers, subject, language and both body parts."""
from __future__ import annotations

from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default

import pytest

from responders.compose import AckRequest, ack_subject, build_ack

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
                                            to_name="张三"), "support@team.example", "项目组", NOW).as_bytes(),
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
