"""Reads a message with its large base64 part bodies lifted out first, so the email package skips them line by
line.

Python's email parser reads every line of a message through a Python loop: a 1.5 MB attachment is 20,000
lines, and on a backlog where a tenth of the mail carries attachments that loop was more than half of all
parsing. A part whose body is nothing but base64 (no line of it can be a MIME delimiter, which starts with
"--") is replaced by a short marker before parsing, and its text is put back as that part's payload after:
exactly the string the parser would have stored. If any marker does not come back as the whole payload of one
part (the parser saw the structure differently, for example in a broken or repaired message), the lifting is
discarded and the message is read again as it came.
"""
from __future__ import annotations

import email
import re
import secrets
from email.message import Message

MIN_LIFTED = 32 * 1024  # smaller bodies cost the parser little; lifting them would not pay
_BOUNDARY = re.compile(rb'(?i)boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_BASE64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n\t "
_HEAD_END = re.compile(rb"\r\n\r\n|\n\n|\r\r|\n\r\n")


def message_from_bytes(raw: bytes, min_lifted: int | None = None) -> Message:
    """RAW as email.message_from_bytes reads it, with large base64 bodies read without the line-by-line
    loop."""
    min_lifted = MIN_LIFTED if min_lifted is None else min_lifted
    if len(raw) < min_lifted:
        return email.message_from_bytes(raw)
    lifted, bodies = lift(raw, min_lifted)
    if not bodies:
        return email.message_from_bytes(raw)
    msg = email.message_from_bytes(lifted)
    if restore(msg, bodies):
        return msg
    return email.message_from_bytes(raw)


def _delimiters(raw: bytes) -> list[tuple[int, int]]:
    """(start, end of line) of every line that opens with "--" and a boundary declared somewhere in RAW."""
    # Found in a lower-cased copy: a case-insensitive expression over megabytes of base64 is slow.
    lowered = raw.lower()
    boundaries = set()
    at = lowered.find(b"boundary")
    while at >= 0:
        if (m := _BOUNDARY.match(raw, at)) is not None:
            boundaries.add(m.group(1) or m.group(2))
        at = lowered.find(b"boundary", at + 8)
    found = []
    for b in boundaries:
        needle = b"--" + b
        at = raw.find(needle)
        while at >= 0:
            if at == 0 or raw[at - 1] in b"\r\n":
                eol = raw.find(b"\n", at)
                found.append((at, len(raw) if eol < 0 else eol + 1))
            at = raw.find(needle, at + len(needle))
    return sorted(set(found))


def _body_start(raw: bytes, start: int, end: int) -> int:
    """Where the body of the part at START begins (after its header block and the empty line), or -1."""
    if raw.startswith(b"\r\n", start):  # a part without header fields
        return start + 2
    if raw[start:start + 1] in (b"\n", b"\r"):
        return start + 1
    head = _HEAD_END.search(raw, start, end)
    return -1 if head is None else head.end()


def lift(raw: bytes, min_lifted: int) -> tuple[bytes, dict[str, str]]:
    """RAW with each large, base64-only part body between two delimiter lines replaced by a marker; the bodies
    by marker (as the parser's text)."""
    nonce = secrets.token_hex(8)
    out: list[bytes] = []
    bodies: dict[str, str] = {}
    done = 0
    delims = _delimiters(raw)
    for (_, seg_start), (next_delim, _) in zip(delims, delims[1:], strict=False):
        if next_delim - seg_start < min_lifted:
            continue
        body_start = _body_start(raw, seg_start, next_delim)
        if body_start < 0:
            continue
        # The line break before a delimiter belongs to the delimiter (RFC 2046), so the parser drops it too.
        body_end = next_delim - (2 if raw[next_delim - 2:next_delim] == b"\r\n" else 1)
        if body_end - body_start < min_lifted or raw[body_start:body_end].translate(None, _BASE64_TEXT):
            continue
        marker = f"LIFTED{nonce}N{len(bodies)}"
        bodies[marker] = raw[body_start:body_end].decode("ascii")
        out += [raw[done:body_start], marker.encode()]
        done = body_end
    if not bodies:
        return raw, {}
    out.append(raw[done:])
    return b"".join(out), bodies


def restore(msg: Message, bodies: dict[str, str]) -> bool:
    """Puts each lifted body back as the payload of the part holding its marker; False unless every marker was
    found, alone, in exactly one part."""
    left = dict(bodies)
    for part in msg.walk():
        payload = part.get_payload()
        if isinstance(payload, str) and payload in left:
            part.set_payload(left.pop(payload))
        elif isinstance(payload, str) and "LIFTED" in payload and any(m in payload for m in left):
            return False
    return not left
