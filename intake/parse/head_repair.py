"""Repairs a broken header block before parsing, so that one bad line does not turn every header into body
text.

Python's email parser ends the header block at the first line that is not a header field, so a stray line
("quite Delivered-To: ..."), blank lines before the first field, or obsolete `Name :` fields (RFC 5322 4.5)
hide From, Subject and Message-ID in the body. Mature mail software reads past them; so do we.
"""
from __future__ import annotations

import re

_FIELD = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")
_OBS_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:")  # "Subject  : x" (obsolete white space)
_MBOX_FROM = re.compile(rb"^From [^\r\n:]*\r?\n")
_LOOKAHEAD = 200  # lines searched for more fields after a stray one
_BOM = b"\xef\xbb\xbf"


def _blank(line: bytes) -> bool:
    return line in (b"\n", b"\r\n", b"\r")


def _field_like(line: bytes) -> bool:
    return bool(_FIELD.match(line) or _OBS_FIELD.match(line))


def _head_end(raw: bytes, start: int) -> int:
    """The offset just past the first blank line at or after START (the end of the header block), or
    len(RAW)."""
    crlf = raw.find(b"\n\r\n", start)
    # Only up to the first CRLF blank line: in CRLF mail a search for LF LF would read the whole message.
    lf = raw.find(b"\n\n", start, len(raw) if crlf < 0 else crlf + 1)
    if lf >= 0:
        return lf + 2
    return len(raw) if crlf < 0 else crlf + 3


def repair_head(raw: bytes) -> tuple[bytes, list[str]]:
    """RAW with its header block made readable, and notes on what was repaired (none: RAW unchanged)."""
    notes: list[str] = []
    data = raw
    if data.startswith(_BOM):
        data = data[len(_BOM):]  # a byte-order mark is not a header field name
        notes.append("byte-order mark before the header fields removed")
    mbox = _MBOX_FROM.match(data)
    prefix = data[:mbox.end()] if mbox else b""  # an mbox "From " line: the parser reads it as the envelope
    rest = data[len(prefix):]
    stripped = rest.lstrip(b"\r\n")
    if len(stripped) < len(rest):
        first = stripped.split(b"\n", 1)[0]
        if not _field_like(first.lstrip(b" \t")):
            return (prefix + rest if notes else raw), notes  # a message that begins with its body
        notes.append("blank lines before the header fields skipped")
        rest = stripped
    if rest[:1] in (b" ", b"\t") and _field_like(rest.lstrip(b" \t")):
        rest = rest.lstrip(b" \t")  # the first field cannot continue anything
        notes.append("white space before the first header field removed")
    if not _field_like(rest):
        return (prefix + rest if notes else raw), notes
    cut = _head_end(rest, 0)
    lines = rest[:cut].splitlines(keepends=True)
    for i, line in enumerate(lines):
        if _blank(line):
            break
        obs = _OBS_FIELD.match(line)
        if obs:
            lines[i] = obs.group(1) + b":" + line[obs.end():]
            notes.append(f"white space before the colon of {obs.group(1).decode('ascii')!r} removed")
        elif not _FIELD.match(line) and line[:1] not in (b" ", b"\t"):
            ahead = lines[i + 1:i + 1 + _LOOKAHEAD]
            if any(_field_like(ln) for ln in ahead if not _blank(ln)):
                # More fields follow before the blank line: this stray line continues the field above.
                lines[i] = b" " + line
                notes.append(f"line {i + 1} of the header block is not a header field; read as a "
                             "continuation")
            else:
                break  # the body starts here without a blank line; the parser handles that
    if not notes:
        return raw, []
    return prefix + b"".join(lines) + rest[cut:], notes
