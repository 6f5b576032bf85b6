"""Sanitizes a client email's HTML part for showing inside a PM's page: formatting only, no scripts, no remote
loads."""
from __future__ import annotations

import html as htmllib
import re

import nh3
from markupsafe import Markup

__all__ = ["safe_html", "safe_html_markup"]

TAGS = {
    "a", "abbr", "address", "b", "big", "blockquote", "br", "caption", "center", "cite", "code", "col",
    "colgroup",
    "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
    "sub",
    "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr",
}
# Dropped together with everything inside them (anything else not in TAGS is unwrapped: its text stays).
DROP_WITH_CONTENT = {
    "script", "style", "title", "head", "noscript", "noembed", "noframes", "template", "iframe", "frame",
    "frameset",
    "object", "embed", "applet", "svg", "math", "select", "textarea", "option", "datalist", "button", "audio",
    "video", "canvas", "map", "xml",
}
_ALIGN = {"align"}
_CELL = {"align", "valign", "colspan", "rowspan", "width", "height", "abbr"}
ATTRIBUTES = {
    "*": {"title", "lang", "dir"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "font": {"color", "face", "size"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value", "type"},
    "table": {"align", "border", "cellpadding", "cellspacing", "width", "summary"},
    "td": _CELL, "th": _CELL | {"scope"}, "tr": {"align", "valign"},
    "col": {"span", "width", "align"}, "colgroup": {"span", "width", "align"},
    "thead": {"align", "valign"}, "tbody": {"align", "valign"}, "tfoot": {"align", "valign"},
    "p": _ALIGN, "div": _ALIGN, "h1": _ALIGN, "h2": _ALIGN, "h3": _ALIGN, "h4": _ALIGN, "h5": _ALIGN,
    "h6": _ALIGN,
    "hr": {"align", "width", "size", "noshade"}, "caption": _ALIGN,
}
LINK_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"
BLOCKED_IMAGE = "[remote image blocked]"

_URL_JUNK = re.compile(r"[\t\n\r]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")
_INLINE_IMAGE = re.compile(r"data:image/(png|gif|jpeg|jpg|webp|bmp)[;,]")
# nh3's output is html5ever's serialization: text never holds a raw "<" and attribute values never hold a raw
# '"', so these three alternatives split it exactly into tags and text.
_TOKEN = re.compile(r'<[^<>"]*(?:"[^"]*"[^<>"]*)*>|[^<]+|<')
_ATTR = re.compile(r'\s([a-z][^\s="<>/]*)(?:="([^"]*)")?')


def _scheme(url: str) -> str | None:
    """URL's scheme in lower case as a browser reads it (tabs and newlines ignored); None when relative."""
    found = _SCHEME.match(_URL_JUNK.sub("", url).strip(_C0_AND_SPACE).lower())
    return found.group(1) if found else None


def _image_source_allowed(url: str) -> bool:
    """An inline image (cid: part of the same email, or a raster data: URL); never anything fetched from
    afar."""
    scheme = _scheme(url)
    if scheme == "cid":
        return True
    return scheme == "data" and bool(_INLINE_IMAGE.match(_URL_JUNK.sub("", url).strip(_C0_AND_SPACE).lower()))


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    if attr == "href":
        return value if _scheme(value) in LINK_SCHEMES else None
    if attr == "src":
        return value if tag == "img" and _image_source_allowed(value) else None
    return value


def _clean(html: str) -> str:
    return nh3.clean(html, tags=TAGS, clean_content_tags=DROP_WITH_CONTENT, attributes=ATTRIBUTES,
                     attribute_filter=_attribute_filter, url_schemes=LINK_SCHEMES | {"cid", "data"},
                     link_rel=LINK_REL, strip_comments=True)


def _blocked_marker(tag: str) -> str:
    attrs = dict(_ATTR.findall(tag))
    alt = htmllib.unescape(attrs.get("alt", "")).strip()
    text = f"{BLOCKED_IMAGE[:-1]}: {alt}]" if alt else BLOCKED_IMAGE
    return f'<span title="{htmllib.escape(BLOCKED_IMAGE[1:-1])}">{htmllib.escape(text, quote=False)}</span>'


def _replace_blocked_images(cleaned: str) -> str | None:
    """CLEANED with each img that lost its source replaced by a text marker; None if CLEANED is not as
    expected."""
    out = []
    for token in _TOKEN.findall(cleaned):
        if token == "<":
            return None
        if token.startswith("<img") and token[4:5] in (" ", ">",
                                                       "/") and "src" not in dict(_ATTR.findall(token)):
            token = _blocked_marker(token)
        out.append(token)
    return "".join(out)


def safe_html(html: str) -> str:
    """HTML fit to show inside a PM's page: ordinary formatting kept; scripts, styles, handlers, forms,
    frames, SVG/MathML and style attributes removed; links only http/https/mailto; remote images replaced by a
    marker."""
    if not html:
        return ""
    cleaned = _clean(html)
    replaced = _replace_blocked_images(cleaned)
    # never seen; if the serializer surprises us, show no images at all rather than guess
    if replaced is None:
        return nh3.clean(cleaned, tags=TAGS - {"img"}, attributes=ATTRIBUTES, link_rel=LINK_REL,
                         url_schemes=LINK_SCHEMES, attribute_filter=_attribute_filter)
    return replaced


def safe_html_markup(html: str | None) -> Markup:
    """The Jinja filter: HTML sanitized by safe_html, marked safe (the one place client HTML is marked
    safe)."""
    return Markup(safe_html(html or ""))
