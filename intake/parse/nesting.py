"""Bounds MIME nesting before parsing: parts nested deeper than a limit are handed on as one opaque
attachment.

Python's email parser descends one generator level per nested multipart or message/rfc822 part, so a
message nested a thousand levels deep ends in RecursionError. A line scan finds such parts first and
relabels the part at the limit as application/octet-stream: everything inside it stays in the raw
message and becomes one attachment, and everything above it is read as usual.
"""
from __future__ import annotations

import re

MAX_DEPTH = 40
OPAQUE_NAME = "nested-parts.eml"
# A cheap gate: messages with fewer container declarations than the limit cannot be too deep. Counted in a
# lower-cased copy: a case-insensitive regular expression over megabytes of attachments was four times slower.
_CONTAINERS = (b"multipart/", b"message/rfc822", b"message/global")
_CONTENT_TYPE = re.compile(rb"(?i)^content-type[ \t]*:")
_BOUNDARY = re.compile(rb'(?i)boundary[ \t]*=[ \t]*(?:"([^"\r\n]{1,200})"|([^\s;"]{1,200}))')
_IS_MULTIPART = re.compile(rb"(?i)^content-type[ \t]*:[ \t]*multipart/")
_IS_MESSAGE = re.compile(rb"(?i)^content-type[ \t]*:[ \t]*message/(rfc822|global)")
_OPAQUE_TYPE = b'Content-Type: application/octet-stream; name="' + OPAQUE_NAME.encode() + b'"'


def _header_block(lines: list[bytes], start: int) -> tuple[int, int]:
    """(index of the Content-Type field or -1, index of the first body line) of the header block at START."""
    ctype = -1
    i = start
    while i < len(lines):
        line = lines[i]
        if line in (b"\r\n", b"\n", b"\r", b""):
            return ctype, i + 1
        if ctype < 0 and _CONTENT_TYPE.match(line):
            ctype = i
        i += 1
    return ctype, i


def _field(lines: list[bytes], at: int) -> tuple[bytes, int]:
    """The unfolded field starting at line AT, and the index after its last continuation line."""
    end = at + 1
    while end < len(lines) and lines[end][:1] in (b" ", b"\t") and lines[end].strip():
        end += 1
    return b" ".join(line.strip() for line in lines[at:end]), end


def limit_nesting(raw: bytes, max_depth: int = MAX_DEPTH) -> tuple[bytes, bool]:
    """RAW with parts nested deeper than MAX_DEPTH turned into one opaque attachment; whether it changed."""
    lowered = raw.lower()
    if sum(lowered.count(c) for c in _CONTAINERS) <= max_depth:
        return raw, False
    lines = raw.splitlines(keepends=True)
    # The open containers, outermost first: a multipart's boundary, or None for an attached message.
    open_: list[bytes | None] = []
    changed = False
    i = 0
    pending_header = True  # the next lines are a header block (of the message or of a part)
    while i < len(lines):
        if pending_header:
            pending_header = False
            ctype_at, body_at = _header_block(lines, i)
            if ctype_at >= 0:
                field, field_end = _field(lines, ctype_at)
                multipart, message = _IS_MULTIPART.match(field), _IS_MESSAGE.match(field)
                if (multipart or message) and len(open_) >= max_depth:
                    last = lines[field_end - 1]
                    lines[ctype_at:field_end] = [_OPAQUE_TYPE + (last[len(last.rstrip(b"\r\n")):] or b"\r\n")]
                    body_at -= field_end - ctype_at - 1
                    changed = True  # its inner boundaries are not followed: it ends at its parent's boundary
                elif multipart:
                    found = _BOUNDARY.search(field)
                    if found:
                        open_.append(found.group(1) or found.group(2))
                elif message:
                    open_.append(None)
                    pending_header = True  # the attached message's own header block follows at once
            i = body_at
            continue
        line = lines[i].rstrip(b"\r\n")
        if line.startswith(b"--"):
            for level in range(len(open_) - 1, -1, -1):
                b = open_[level]
                if b is not None and line.startswith(b"--" + b):
                    rest = line[len(b) + 2:]
                    if rest.startswith(b"--"):  # the closing delimiter: this multipart and all inside it end
                        del open_[level:]
                    elif not rest.strip():  # the next part of that multipart: everything inside it ends
                        del open_[level + 1:]
                        pending_header = True
                    break
        i += 1
    return (b"".join(lines), True) if changed else (raw, False)
