"""Body text for people and the classifier: HTML to text, sanitized HTML, and the newly written part."""
from __future__ import annotations

import html as htmllib
import re

import nh3

from classifiers.strip import new_text

__all__ = ["html_to_text", "new_text", "sanitize_html"]

_BLOCK_END = re.compile(r"(?i)<\s*(br|/p|/div|/li|/tr|/h[1-6]|/blockquote)\b[^>]*>")
_BLANKS = re.compile(r"\n{3,}")


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
