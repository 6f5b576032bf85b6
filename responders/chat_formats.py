"""Writes an alert in each platform's own message format (generic JSON, Slack, Teams, DingTalk, Feishu,
WeCom).

Client text (subjects, names) is shown as text, never as markup: Slack gets it in plain_text blocks and its
control characters escaped, Teams its Markdown escaped, Feishu plain_text card elements, DingTalk a link
message (no Markdown) and WeCom a news card (no Markdown) with mention syntax broken. Every body is JSON with
<, >, & and the line separators written as \\u escapes, so that no receiver pasting it into a page is
injected.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from responders.compose import lang_of
from responders.notices import CATEGORY_LABELS, CLOCK_NAMES, STATE_NAMES

TITLES = {
    "en": {"new_item": "New {category}: {ref}",
           "needs_review": "Needs review: {ref} ({category}, {sure} sure)",
           "sla_at_risk": "SLA at risk: {ref}", "sla_breached": "SLA breached: {ref}",
           "negative_csat": "Unhappy client: {ref} rated {rating} of 5",
           "change_approved": "Change request approved: {ref}",
           "change_rejected": "Change request rejected: {ref}"},
    "zh": {"new_item": "新{category}：{ref}", "needs_review": "待审核：{ref}（{category}，把握 {sure}）",
           "sla_at_risk": "服务级别即将超时：{ref}", "sla_breached": "服务级别已超时：{ref}",
           "negative_csat": "客户不满意：{ref} 评分 {rating}/5",
           "change_approved": "变更请求已批准：{ref}", "change_rejected": "变更请求已拒绝：{ref}"},
}
WORDS = {
    "en": {"from": "From", "open": "Open {ref}", "no_subject": "(no subject)", "comment": "Comment",
           "sep": ": "},
    "zh": {"from": "来自", "open": "查看 {ref}", "no_subject": "（无主题）", "comment": "评语", "sep": "："},
}
COLORS = {"sla_breached": "red", "negative_csat": "red", "change_rejected": "red", "sla_at_risk": "orange",
          "needs_review": "orange"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
MAX_SUBJECT = 300


@dataclass(frozen=True)
class Alert:
    """What one alert tells: the event, the item's facts, and the event's details (clocks, rating)."""

    event: str
    ref: str
    subject: str
    category: str
    url: str
    occurred_at: datetime
    status: str = ""
    needs_review: bool = False
    confidence: float = 0.0
    client_name: str = ""
    client_email: str = ""
    organization: str = ""
    domain: str = ""
    assignee: str = ""
    lang: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def dumps(value: Any) -> str:
    """VALUE as compact JSON, with <, >, & and U+2028/U+2029 written as \\u escapes (they occur only inside
    strings, so the replacement cannot touch the JSON's own syntax)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def one_line(text: str, limit: int = MAX_SUBJECT) -> str:
    """Client text on one line, without control characters, at most LIMIT characters."""
    line = " ".join(_CONTROL.sub(" ", text or "").split())
    return line if len(line) <= limit else line[:limit - 1] + "…"


@dataclass(frozen=True)
class Lines:
    """An alert's text in one language: the title (ours), the subject and the sender (the client's),
    details."""

    title: str
    subject: str
    sender: str
    details: tuple[str, ...]
    link: str


def lines(alert: Alert, lang: str) -> Lines:
    """ALERT's text in LANG."""
    lang = lang_of(lang)
    words = WORDS[lang]
    category = CATEGORY_LABELS[lang].get(alert.category, alert.category)
    title = TITLES[lang].get(alert.event, "{ref}").format(
        ref=alert.ref, category=category.lower() if lang == "en" else category,
        sure=f"{alert.confidence:.0%}",
        rating=alert.details.get("rating", "?"))
    client = alert.client_name or alert.client_email
    if alert.client_name and alert.client_email:
        client = f"{alert.client_name} <{alert.client_email}>"
    if alert.organization:
        client = f"{client} ({alert.organization})" if client else alert.organization
    details = []
    for clock in alert.details.get("clocks", ()):
        details.append(f"{CLOCK_NAMES[lang].get(clock['clock'], clock['clock'])}{words['sep']}"
                       f"{STATE_NAMES[lang].get(clock['state'], clock['state'])}")
    if alert.details.get("comment"):
        details.append(f"{words['comment']}{words['sep']}{one_line(str(alert.details['comment']))}")
    return Lines(title=title, subject=one_line(alert.subject) or words["no_subject"],
                 sender=f"{words['from']}{words['sep']}{one_line(client)}" if client else "",
                 details=tuple(details),
                 link=words["open"].format(ref=alert.ref))


def _text(ls: Lines) -> list[str]:
    return [ls.subject, *([ls.sender] if ls.sender else []), *ls.details]


# -- the platforms -------------------------------------------------------------------------------------------
def generic(alert: Alert, lang: str, delivery_id: str, target: str) -> dict[str, Any]:
    """The generic webhook's body: the event, the item's facts and a one-line text in LANG."""
    ls = lines(alert, lang)
    return {
        "id": delivery_id, "event": alert.event, "target": target,
        "occurred_at": alert.occurred_at.isoformat().replace("+00:00", "Z"),
        "text": f"{ls.title}: {ls.subject}",
        "item": {"ref": alert.ref, "url": alert.url, "subject": alert.subject, "category": alert.category,
                 "status": alert.status, "needs_review": alert.needs_review,
                 "confidence": round(alert.confidence, 4), "language": alert.lang, "assignee": alert.assignee,
                 "client": {"name": alert.client_name, "email": alert.client_email},
                 "organization": {"name": alert.organization, "domain": alert.domain}},
        "details": alert.details,
    }


def slack_escape(text: str) -> str:
    """TEXT for Slack's mrkdwn: &, < and > are its control characters (links, mentions such as <!channel>)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(alert: Alert, lang: str) -> dict[str, Any]:
    """A Slack incoming-webhook message: a fallback text without markup, then blocks; client text is
    plain_text."""
    ls = lines(alert, lang)
    link = f"<{slack_escape(alert.url).replace('|', '%7C')}|{slack_escape(ls.link)}>"
    return {
        "text": slack_escape(f"{ls.title}: {ls.subject}"), "mrkdwn": False, "unfurl_links": False,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{slack_escape(ls.title)}*  {link}"}},
            {"type": "section", "text": {"type": "plain_text", "text": ls.subject, "emoji": False}},
            *([{"type": "context", "elements": [{"type": "plain_text", "text": line, "emoji": False}
                                                for line in _text(ls)[1:]]}] if _text(ls)[1:] else []),
        ],
    }


_TEAMS_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<&])")


def teams_escape(text: str) -> str:
    """TEXT for an Adaptive Card TextBlock, which renders Markdown: every Markdown character
    backslash-escaped."""
    return _TEAMS_MARKDOWN.sub(r"\\\1", text)


def teams(alert: Alert, lang: str) -> dict[str, Any]:
    """A Teams message (incoming webhook or Workflows) holding one Adaptive Card."""
    ls = lines(alert, lang)
    body = [{"type": "TextBlock", "text": teams_escape(ls.title), "weight": "Bolder", "size": "Medium",
             "wrap": True,
             **({"color": "Attention"} if COLORS.get(alert.event) == "red" else {})}]
    body += [{"type": "TextBlock", "text": teams_escape(line), "wrap": True, "isSubtle": i > 0}
             for i, line in enumerate(_text(ls))]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
            "version": "1.4", "body": body,
            "actions": [{"type": "Action.OpenUrl", "title": ls.link, "url": alert.url}]}
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                 "contentUrl": None, "content": card}]}


def dingtalk(alert: Alert, lang: str) -> dict[str, Any]:
    """A DingTalk custom robot's link message: plain title and text, opening the item when tapped."""
    ls = lines(alert, lang)
    return {"msgtype": "link", "link": {"title": ls.title, "text": "\n".join(_text(ls)),
                                        "messageUrl": alert.url, "picUrl": ""}}


def feishu(alert: Alert, lang: str) -> dict[str, Any]:
    """A Feishu/Lark custom bot's interactive card, every text element plain_text, with a button to the
    item."""
    ls = lines(alert, lang)

    def plain(text: str) -> dict[str, str]:
        return {"tag": "plain_text", "content": text}

    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"template": COLORS.get(alert.event, "blue"), "title": plain(ls.title)},
        "elements": [*({"tag": "div", "text": plain(line)} for line in _text(ls)),
                     {"tag": "action", "actions": [{"tag": "button", "text": plain(ls.link),
                                                    "type": "primary",
                                                    "url": alert.url}]}]}}


def _bytes_cut(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    return text if len(encoded) <= limit else encoded[:limit - 3].decode("utf-8", "ignore") + "…"


def wecom(alert: Alert, lang: str) -> dict[str, Any]:
    """A WeCom group robot's news card (no Markdown), opening the item; <@ (a mention) is broken up."""
    ls = lines(alert, lang)

    def safe(text: str) -> str:
        return text.replace("<@", "<\u200b@")

    return {"msgtype": "news", "news": {"articles": [{
        "title": _bytes_cut(safe(ls.title), 128), "description": _bytes_cut(safe("\n".join(_text(ls))), 512),
        "url": alert.url, "picurl": ""}]}}


def payload(target: str, alert: Alert, lang: str, delivery_id: str, name: str) -> str:
    """The JSON body TARGET (a platform) is sent about ALERT, in LANG (DingTalk and Feishu signatures are
    added when it is sent)."""
    if target == "webhook":
        return dumps(generic(alert, lang, delivery_id, name))
    build = {"slack": slack, "teams": teams, "dingtalk": dingtalk, "feishu": feishu, "wecom": wecom}[target]
    return dumps(build(alert, lang))
