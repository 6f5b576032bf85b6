"""Builds mail to the team rather than to clients: SLA warnings to PMs, weekly summaries and digests."""
from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import Any

from responders.compose import jinja_env, lang_of

CLOCK_NAMES = {
    "en": {"acknowledge": "acknowledgment", "first_response": "first response", "resolution": "resolution"},
    "zh": {"acknowledge": "确认回执", "first_response": "首次回复", "resolution": "解决"},
}
STATE_NAMES = {
    "en": {"on_track": "on track", "at_risk": "at risk", "breached": "breached", "met": "met",
           "missed": "missed",
           "none": "not measured"},
    "zh": {"on_track": "正常", "at_risk": "有超时风险", "breached": "已超时", "met": "已达标",
           "missed": "未达标",
           "none": "不计时"},
}
CATEGORY_LABELS = {
    "en": {"issue": "Issue", "change_request": "Change request", "question": "Question",
           "feedback": "Feedback"},
    "zh": {"issue": "问题", "change_request": "变更请求", "question": "咨询", "feedback": "反馈"},
}
STATUS_NAMES = {
    "en": {"new": "received", "in_progress": "in progress", "resolved": "resolved", "closed": "closed",
           "answered": "answered", "acknowledged": "noted", "impact_assessed": "impact assessed",
           "awaiting_approval": "awaiting your approval", "approved": "approved", "rejected": "rejected",
           "implemented": "implemented"},
    "zh": {"new": "已收到", "in_progress": "处理中", "resolved": "已解决", "closed": "已关闭",
           "answered": "已答复",
           "acknowledged": "已记录", "impact_assessed": "已评估影响", "awaiting_approval": "待您确认",
           "approved": "已批准", "rejected": "已拒绝", "implemented": "已实施"},
}
def render_notice(template: str, lang: str, **context: Any) -> str:
    """The text body of the notice TEMPLATE (a template under responders/templates/<lang>/) in LANG.

    CONTEXT gives the template's values, including ``duration`` (seconds -> text in LANG) where it shows
    times.
    """
    lang = lang_of(lang)
    return jinja_env.get_template(f"{lang}/{template}.txt.j2").render(
        lang=lang, clock_names=CLOCK_NAMES[lang], state_names=STATE_NAMES[lang],
        category_labels=CATEGORY_LABELS[lang], status_names=STATUS_NAMES[lang], **context)


def build_notice(to_address: str, to_name: str, subject: str, text: str, from_address: str, now: datetime,
                 lang: str, html: str | None = None, message_id: str = "") -> EmailMessage:
    """A notice from us to one person: automatic (auto-replies must not answer it), in LANG.

    MESSAGE_ID, when given, lets the caller recognize a notice it has sent already; else a new one is made.
    """
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "localhost"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = from_address
    msg["To"] = formataddr((to_name, to_address))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id or make_msgid(domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    msg["Content-Language"] = "zh-CN" if lang_of(lang) == "zh" else "en"
    return msg
