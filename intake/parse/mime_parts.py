"""A message's MIME structure as intake.parse.reader walks it: parts in order, their raw content headers,
parameters and payloads, read leniently where the email package would mangle or lose them."""
from __future__ import annotations

import email
import re
from email.message import Message
from email.policy import Compat32

from intake.parse.charsets import decode_bytes
from intake.parse.encoded_words import decode_words

_QP = re.compile(rb"=(?:([0-9A-Fa-f]{2})|[ \t]*(?:\r?\n|\Z))")
_BOUNDARY_LINE = re.compile(rb"^--([^\s\"\\]{1,200})[ \t]*\r?\n(?=[A-Za-z][A-Za-z0-9-]*:)", re.MULTILINE)
CONTENT_HEADERS = ("content-type", "content-disposition", "content-id", "content-transfer-encoding")
# A part, whether it sits in an attached container, and the multipart/alternative containers it is in (by id).
Part = tuple[Message, bool, tuple[int, ...]]


class _RawHeaders(Compat32):
    """compat32 that hands header values back as parsed: raw 8-bit bytes stay surrogate escapes to decode."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        return value


_RAW = _RawHeaders()


def content_view(part: Message) -> Message:
    """A copy of PART's content headers whose values come back raw (the email package would mangle 8-bit)."""
    view = Message(policy=_RAW)
    view.set_default_type(part.get_default_type())
    for name, value in part.raw_items():
        if name.lower() in CONTENT_HEADERS:
            view[name] = value
    return view


def walk_parts(msg: Message, inside: bool = False) -> list[Part]:
    """Every part in order, with whether it sits in an attached container and its multipart/alternatives.

    Children of a container with a non-inline disposition or a file name count as inside an attachment,
    as in mail-parser (RFC 2183: a disposition applies to the whole container).
    """
    out: list[Part] = []
    stack: list[Part] = [(msg, inside, ())]
    while stack:
        part, within, alts = stack.pop()
        out.append((part, within, alts))
        if not part.is_multipart():
            continue
        view = content_view(part)
        disposition = view.get_content_disposition()
        named = bool(param(view, "filename", "content-disposition", None)[0]
                     or param(view, "name", "content-type", None)[0])
        blocks = disposition not in (None, "inline") or (disposition != "inline" and named)
        if view.get_content_type() == "multipart/alternative":
            alts = (*alts, id(part))
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        stack.extend((child, within or blocks, alts) for child in reversed(children))
    return out


def epilogue_parts(msg: Message) -> list[Part]:
    """Parts hiding in the epilogue when a nested multipart reused the outer boundary (as mail-parser
    does)."""
    boundary = msg.get_boundary()
    epilogue = msg.epilogue or ""
    if not boundary or not epilogue:
        return []
    start = epilogue.find("--" + boundary)
    end = epilogue.find("--" + boundary + "--", start + 1)
    if start < 0 or end < 0:
        return []
    chunk = epilogue[start + len(boundary) + 2:end].strip()
    if not chunk:
        return []
    return walk_parts(email.message_from_bytes(chunk.encode("utf-8", "surrogateescape")), inside=True)


def recovered_multipart(part: Message, view: Message) -> Message | None:
    """A multipart whose boundary is missing or wrong, re-read with the boundary its body actually uses."""
    raw = raw_payload(part)
    found = _BOUNDARY_LINE.search(raw)
    if not found:
        return None
    ctype = view.get_content_type().encode("ascii", "replace")
    head = b"Content-Type: " + ctype + b'; boundary="' + found.group(1) + b'"\r\n\r\n'
    recovered = email.message_from_bytes(head + raw)
    return recovered if recovered.is_multipart() and recovered.get_payload() else None


def raw_payload(part: Message) -> bytes:
    """A leaf part's body as on the wire, before any transfer decoding."""
    # the public getter would decode 8-bit bytes with the declared charset
    payload = getattr(part, "_payload", "")
    if isinstance(payload, bytes):
        return payload
    return str(payload or "").encode("utf-8", "surrogateescape")


def qp_decode(data: bytes) -> bytes:
    """Quoted-printable, leniently: =XX in either case, soft breaks even with blanks after the =, a stray =
    kept."""
    return _QP.sub(lambda m: bytes((int(m.group(1), 16),)) if m.group(1) else b"", data)


def payload_bytes(part: Message, view: Message) -> bytes:
    """A leaf part's body with its transfer encoding undone (quoted-printable leniently)."""
    if (view.get("content-transfer-encoding") or "").strip().lower() == "quoted-printable":
        return qp_decode(raw_payload(part))
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def param(view: Message, name: str, header: str, hint: str | None) -> tuple[str, list[str]]:
    """A parameter's value decoded: RFC 2231 (charset''%XX, continuations) first, else RFC 2047 or 8-bit
    text."""
    try:
        params = view.get_params(header=header) or []
    except Exception:  # a header the email package cannot split: no name rather than no message
        return "", [f"unreadable {header} parameters"]
    values = [v for k, v in params if k.lower() == name]
    if not values:
        return "", []
    encoded = [v for v in values if isinstance(v, tuple)]
    if encoded:
        charset, _language, text = encoded[0][0], encoded[0][1], encoded[0][2]
        try:
            octets = str(text).encode("latin-1", "surrogateescape")
        except UnicodeEncodeError:
            octets = str(text).encode("utf-8", "surrogateescape")
        decoded, note = decode_bytes(octets, charset or hint)
        return decoded, [note] if note else []
    return decode_words(str(values[0]), hint)


def charset_hint(parts: list[Part]) -> str | None:
    """The charset of the first text part that names one: the likeliest charset of raw 8-bit headers."""
    for part, _inside, _alts in parts:
        view = content_view(part)
        if view.get_content_maintype() == "text":
            charset = view.get_content_charset()
            if charset:
                return charset
    return None
