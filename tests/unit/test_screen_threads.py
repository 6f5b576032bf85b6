"""Screening for automatic mail, and finding the thread a message belongs to."""
from __future__ import annotations

import pytest

from intake.parse import parse_email
from intake.screen import screen
from intake.threads import references_in_subject, thread_ids

OURS = {"support@team.example"}


def _mail(headers: str, sender: str = "client@acme.example") -> bytes:
    return f"From: {sender}\r\nSubject: hello\r\nMessage-ID: <m@acme.example>\r\n{headers}\r\nhi\r\n".encode()


@pytest.mark.parametrize("headers, sender, reason", [
    ("", "client@acme.example", ""),
    ("Auto-Submitted: no\r\n", "client@acme.example", ""),
    ("Auto-Submitted: auto-replied\r\n", "client@acme.example", "auto_submitted"),
    ("Auto-Submitted: auto-generated\r\n", "client@acme.example", "auto_submitted"),
    ("X-Autoreply: yes\r\n", "client@acme.example", "auto_submitted"),
    ("Precedence: bulk\r\n", "client@acme.example", "list_mail"),
    ("List-Id: <dev.lists.example>\r\n", "client@acme.example", "list_mail"),
    ("Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n", "client@acme.example",
     "bounce"),
    ("", "MAILER-DAEMON@mx.acme.example", "bounce"),
    ("", "noreply@acme.example", "no_reply_sender"),
    ("", "do-not-reply@acme.example", "no_reply_sender"),
    ("", "support@team.example", "from_us"),
])
def test_screening_reasons(headers, sender, reason):
    email = screen(parse_email(_mail(headers, sender)), OURS)
    assert email.screening.reason == reason


def test_oversize_flag():
    email = screen(parse_email(_mail("")), OURS, size=30_000_000, max_bytes=25 * 1024 * 1024)
    assert email.screening.oversize and email.screening.reason == ""


@pytest.mark.parametrize("subject, refs", [
    ("Re: Login error [CI-000123]", ["CI-000123"]),
    ("RE: AW: Fwd: [ci-000123] x", ["CI-000123"]),
    ("回复：登录错误 [CI-000042]", ["CI-000042"]),
    ("答复: 转发：回复:【CI-000042】登录", ["CI-000042"]),
    ("AW: WG: Re:Fwd: (CI－000042) wieder", ["CI-000042"]),
    ("Re: [EXTERNAL] =?utf-8?q?x?= [CI-000042] [CI-000043]", ["CI-000042", "CI-000043"]),
    ("Re: CI 000042 mangled", []),
    ("Re: [CI - 000042] spaced", ["CI-000042"]),
    ("Re: CI_1234567 long", ["CI-1234567"]),
    ("XCI-000123 is not ours", []),
    ("no reference", []),
])
def test_references_in_subject(subject, refs):
    assert references_in_subject(subject, "CI") == refs


def test_thread_ids_nearest_first_without_duplicates():
    email = parse_email(_mail("In-Reply-To: <b@x>\r\nReferences: <a@x> <b@x>\r\n"))
    assert thread_ids(email) == ["<b@x>", "<a@x>"]
