"""Extracts what a client newly wrote: HTML to text, quotes, signatures and disclaimers removed."""
from __future__ import annotations

import html as htmllib
import re

import nh3

_BLOCK_END = re.compile(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>")
_BLANKS = re.compile(r"\n{3,}")

# Lines that start the quoted earlier message, in the mail clients clients use.
_QUOTE_HEADERS = [
    re.compile(r"^\s*On .{1,200}wrote:\s*$", re.I),
    re.compile(r"^\s*-{2,}\s*(Original Message|Forwarded message|原始邮件|转发的邮件)\s*-{2,}", re.I),
    re.compile(r"^\s*(From|发件人|寄件者)\s*[:：].+", re.I),
    re.compile(r"^\s*在.{1,200}写道[:：]\s*$"),
    re.compile(r"^\s*_{10,}\s*$"),
]
_SIGNATURE = re.compile(r"^(-- ?|—— ?|Sent from my \w+.*|发自我的.+)$")
_DISCLAIMER = re.compile(
    r"^\s*(CONFIDENTIALITY NOTICE|DISCLAIMER|This (e-?mail|message) (and any attachments )?(is|may be) confidential|"
    r"本邮件.{0,20}(保密|机密)|免责声明)", re.I)


def html_to_text(html: str) -> str:
    """Visible text of an HTML body; scripts and styles are dropped, never run."""
    marked = _BLOCK_END.sub("\n", html)
    stripped = nh3.clean(marked, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    text = htmllib.unescape(stripped)
    lines = [line.strip() for line in text.splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def sanitize_html(html: str) -> str:
    """HTML that is safe to show a PM: no scripts, handlers, or remote-loading tricks."""
    return nh3.clean(html, url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


def new_text(text: str) -> str:
    """The part of a plain-text body the sender wrote now, above any quote, signature or disclaimer."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        bare = line.strip()
        if bare.startswith(">"):
            continue
        if any(p.match(line) for p in _QUOTE_HEADERS) and kept:
            break
        if _SIGNATURE.match(bare) or _DISCLAIMER.match(bare):
            break
        kept.append(line.rstrip())
    return _BLANKS.sub("\n\n", "\n".join(kept)).strip()
