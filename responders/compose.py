"""Builds outgoing messages (acknowledgments, PM replies, impact assessments) with threading headers."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from reports.policy import WALL_CLOCK
from responders.mime import Outgoing, address, write

TEMPLATES = Path(__file__).with_name("templates")
LANGS = ("en", "zh")
CATEGORY_NAMES = {
    "en": {"issue": "an issue report", "change_request": "a change request",
           "question": "a question", "feedback": "feedback"},
    "zh": {"issue": "问题报告", "change_request": "变更请求", "question": "咨询", "feedback": "反馈"},
}
NO_SUBJECT = {"en": "(no subject)", "zh": "（无主题）"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|回复|答复)\s*[:：]\s*", re.I)

jinja_env = Environment(
    loader=FileSystemLoader(str(TEMPLATES)),
    autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    # The templates ship with the code: read once per process, not looked up on disk again for every message.
    auto_reload=False,
)


def lang_of(value: str) -> str:
    """VALUE if it is a language we write in, else English."""
    return value if value in LANGS else "en"


@dataclass(frozen=True)
class AckRequest:
    """What an acknowledgment needs to know about the client's email and its item."""

    ref: str
    category: str
    lang: str
    to_address: str
    to_name: str
    subject: str
    in_reply_to: str
    references: tuple[str, ...]
    # The category is a guess a PM has yet to check: the acknowledgment promises nothing that depends on it.
    neutral: bool = False
    # Participants of the thread a PM copied in (replies and assessments only; acknowledgments have none).
    cc: tuple[str, ...] = ()
    # The client's view of the item ({web.public_url}/s/<token>); "" when the mail carries none.
    status_url: str = ""
    # For a neutral acknowledgment: when the client will hear from us (reply_promise of the item's policy).
    reply_within: ReplyPromise | None = None


@dataclass(frozen=True)
class ReplyPromise:
    """How soon a person answers: SECONDS of counted time, on working hours (BUSINESS) or the wall clock."""

    seconds: float
    business: bool


def reply_promise(snapshot: Mapping[str, Any] | None) -> ReplyPromise | None:
    """The first-response time an item's policy SNAPSHOT keeps whatever the category turns out to be (the
    longest of its categories' targets); None when it sets none."""
    if not snapshot:
        return None
    targets = [t.get("first_response") for t in (snapshot.get("targets") or {}).values()
               if isinstance(t, Mapping)]
    known = [float(t) for t in targets if isinstance(t, (int, float)) and t > 0]
    if not known:
        return None
    return ReplyPromise(max(known), business=str(snapshot.get("calendar") or WALL_CLOCK) != WALL_CLOCK)


def within_text(promise: ReplyPromise | None, lang: str) -> str:
    """PROMISE for the client in LANG: "24 hours", "8 working hours", "2 days", "30 minutes"; "" for none."""
    if promise is None:
        return ""
    minutes = max(1, round(promise.seconds / 60))
    if lang == "zh":
        if not promise.business and minutes % (24 * 60) == 0 and minutes >= 48 * 60:
            return f"{minutes // (24 * 60)} 天"
        if minutes % 60 == 0:
            return f"{minutes // 60} {'个工作小时' if promise.business else '小时'}"
        return f"{minutes} {'个工作分钟' if promise.business else '分钟'}"
    working = "working " if promise.business else ""
    if not promise.business and minutes % (24 * 60) == 0 and minutes >= 48 * 60:
        return f"{minutes // (24 * 60)} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} {working}hour{'s' if hours != 1 else ''}"
    return f"{minutes} {working}minute{'s' if minutes != 1 else ''}"


def header_text(value: str) -> str:
    """Client text made safe for a header we write: one line, no control characters, and no "=?" that the
    email package would take for the start of an encoded word (it fails to fold such text)."""
    text = " ".join(_CONTROL.sub(" ", value or "").split())
    return text.replace("=?", "= ?")


def ack_subject(subject: str, ref: str, lang: str) -> str:
    """`Re: <original subject> [REF]`, without stacking Re: prefixes."""
    base = header_text(subject) or NO_SUBJECT.get(lang, NO_SUBJECT["en"])
    while _REPLY_PREFIX.match(base):
        base = _REPLY_PREFIX.sub("", base, count=1)
    return f"Re: {base} [{ref}]"


def render_bodies(req: AckRequest, team: str) -> tuple[str, str]:
    """The text and HTML bodies in the client's language."""
    lang = lang_of(req.lang)
    ctx = {"ref": req.ref, "name": req.to_name, "team": team, "subject": req.subject or NO_SUBJECT[lang],
           "category_name": CATEGORY_NAMES[lang][req.category], "within": within_text(req.reply_within, lang),
           "status_url": req.status_url}
    template = "received" if req.neutral else req.category
    text = jinja_env.get_template(f"{lang}/{template}.txt.j2").render(ctx)
    html = jinja_env.get_template(f"{lang}/{template}.html.j2").render(ctx)
    # A carriage return in a name or subject would end a line in the written message: say so in the text
    # itself.
    return _lf(text), _lf(html)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _threaded(req: AckRequest, from_address: str, now: datetime) -> EmailMessage:
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "localhost"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_address
    msg["To"] = formataddr((header_text(req.to_name), req.to_address))
    msg["Subject"] = ack_subject(req.subject, req.ref, req.lang)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=domain)
    if req.in_reply_to and req.in_reply_to.isascii():
        # A Message-ID that is not plain ASCII cannot stand in a header we send; the reference still threads.
        msg["In-Reply-To"] = req.in_reply_to
        msg["References"] = " ".join([r for r in (*req.references, req.in_reply_to) if r.isascii()][-20:])
    return msg


def _copied(msg: EmailMessage, req: AckRequest) -> EmailMessage:
    """MSG with REQ's copies in a Cc field (none when there are none)."""
    if req.cc:
        msg["Cc"] = ", ".join(req.cc)
    return msg


def ack_mail(req: AckRequest, from_address: str, team: str, now: datetime) -> Outgoing:
    """The complete acknowledgment, written straight to bytes (responders.mime)."""
    text, html = render_bodies(req, team)
    name, sender = parseaddr(from_address)
    domain = sender.rpartition("@")[2] or "localhost"
    message_id = make_msgid(domain=domain)
    subject = ack_subject(req.subject, req.ref, req.lang)
    headers = [("From", address(name, sender)), ("To", address(header_text(req.to_name), req.to_address)),
               ("Subject", subject), ("Date", format_datetime(now)), ("Message-ID", message_id)]
    references = ""
    if req.in_reply_to and req.in_reply_to.isascii():
        # A Message-ID that is not plain ASCII cannot stand in a header we send; the reference still threads.
        references = " ".join([r for r in (*req.references, req.in_reply_to) if r.isascii()][-20:])
        headers += [("In-Reply-To", req.in_reply_to), ("References", references)]
    # X-Auto-Response-Suppress asks Exchange not to answer us with its own out-of-office notes.
    headers += [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All"),
                ("Content-Language", "zh-CN" if req.lang == "zh" else "en")]
    return Outgoing(raw=write(headers, text, html), message_id=message_id, from_address=sender,
                    subject=subject, references=references, text=text)


def build_ack(req: AckRequest, from_address: str, team: str, now: datetime) -> EmailMessage:
    """The acknowledgment as an email.message object (ack_mail() is what the outbox stores)."""
    return message_from_bytes(ack_mail(req, from_address, team, now).raw,
                              policy=SMTP)  # type: ignore[return-value]


def build_reply(req: AckRequest, text: str, from_address: str, team: str, now: datetime) -> EmailMessage:
    """A PM's reply in the item's thread: their TEXT, then the reference so the client's answer finds the
    item."""
    lang = lang_of(req.lang)
    body = jinja_env.get_template(f"{lang}/reply.txt.j2").render(text=text.strip(), ref=req.ref, team=team,
                                                                    status_url=req.status_url)
    msg = _copied(_threaded(req, from_address, now), req)
    msg.set_content(body)
    msg["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    return msg


@dataclass(frozen=True)
class Assessment:
    """The impact of a change request, as the client is asked to approve it."""

    scope: str
    cost: str
    schedule: str


def build_assessment(req: AckRequest, assessment: Assessment, from_address: str, team: str,
                     now: datetime) -> EmailMessage:
    """The impact assessment of a change request, asking the client to reply "approve" or "reject"."""
    lang = lang_of(req.lang)
    body = jinja_env.get_template(f"{lang}/assessment.txt.j2").render(
        a=assessment, ref=req.ref, team=team, name=req.to_name, subject=req.subject,
        status_url=req.status_url)
    msg = _copied(_threaded(req, from_address, now), req)
    msg.set_content(body)
    msg["Content-Language"] = "zh-CN" if lang == "zh" else "en"
    return msg
