"""Decodes RFC 2047 encoded words in headers, even with wrong charset labels or broken encodings."""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from intake.parse.charsets import REPLACED, SURROGATE, decode_bytes, decode_safely, strict_decode

# --- RFC 2047 encoded words --------------------------------------------------------------------------------

_ENCODED_WORD = re.compile(rb"=\?([^?\s]*)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(rb"\r?\n(?=[ \t])")
_B64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def _octets(value: str | bytes) -> bytes:
    """Header text as the bytes on the wire (the email package keeps 8-bit bytes as surrogate escapes)."""
    if isinstance(value, bytes):
        return value
    return value.encode("utf-8", "surrogateescape")


@dataclass
class _Run:
    """Adjacent encoded words in one charset."""

    charset: str
    words: list[re.Match[bytes]]


def decode_words(value: str | bytes, fallback: str | None = None) -> tuple[str, list[str]]:
    """A header value with its RFC 2047 encoded words and raw 8-bit bytes decoded, and notes on repairs.

    Each encoded word's bytes go through decode_bytes with the word's own charset, so a wrong label still
    gives text. Adjacent words in one charset are decoded together when they do not decode cleanly apart
    (a character split between them); whitespace between encoded words is dropped; a malformed word is kept
    as written. Raw 8-bit bytes are read as UTF-8 (RFC 6532) when they are UTF-8, else with FALLBACK (the
    charset of the message's text) as the declared charset.
    """
    data = _FOLD.sub(b"", _octets(value)).replace(b"\r", b" ").replace(b"\n", b" ")
    notes: list[str] = []
    pieces: list[bytes | _Run] = []  # literal text, and runs of adjacent encoded words in one charset
    pos = 0
    for m in _ENCODED_WORD.finditer(data):
        literal = data[pos:m.start()]
        pos = m.end()
        if _word_bytes(m.group(2), m.group(3)) is None:
            notes.append(f"malformed encoded word kept as text: {m.group().decode('ascii', 'replace')[:80]}")
            pieces.append(literal + m.group())
            continue
        charset = m.group(1).decode("ascii", "replace").split("*", 1)[0] or "us-ascii"
        previous = pieces[-1] if pieces else None
        if literal and not (isinstance(previous, _Run) and not literal.strip(b" \t")):
            pieces.append(literal)  # whitespace between two encoded words is dropped (RFC 2047)
            previous = None
        if isinstance(previous, _Run) and previous.charset.lower() == charset.lower():
            previous.words.append(m)
        else:
            pieces.append(_Run(charset, [m]))
    if pos < len(data):
        pieces.append(data[pos:])
    out: list[str] = []
    for piece in pieces:
        if isinstance(piece, _Run):
            for text, note in _decode_run(piece.words, piece.charset):
                if note:
                    notes.append(f"encoded word: {note}")
                out.append(text)
        elif piece.isascii():
            out.append(piece.decode("ascii"))
        else:
            utf8 = strict_decode(piece, "utf-8")  # the one charset raw header bytes may be in
            if utf8 is not None:
                text = utf8
            else:
                text, note, how = decode_safely(piece, fallback)
                if note or not fallback:
                    notes.append(f"8-bit header text; decoded as {how}")
            out.append(SURROGATE.sub(REPLACED, text))
    return "".join(out), notes


def _decode_run(words: list[re.Match[bytes]], charset: str) -> list[tuple[str, str | None]]:
    """Adjacent encoded words in one charset: each alone if that is clean, else joined (a character, or
    even a base64 quantum, split between words), else each alone with its repair note."""
    chunks = [_word_bytes(w.group(2), w.group(3)) or b"" for w in words]
    apart = [decode_bytes(chunk, charset) for chunk in chunks]
    if len(words) == 1 or not any(note for _, note in apart):
        return apart
    together = decode_bytes(b"".join(chunks), charset)
    if together[1] is None:
        return [together]
    if all(w.group(2) in (b"b", b"B") for w in words):
        joined = _word_bytes(b"B", b"".join(w.group(3).strip().rstrip(b"=") for w in words))
        if joined is not None:
            rejoined = decode_bytes(joined, charset)
            if rejoined[1] is None:
                return [rejoined]
    return apart


def _word_bytes(encoding: bytes, payload: bytes) -> bytes | None:
    """The bytes of one encoded word's payload, or None when it is not valid B or Q encoding."""
    if encoding in (b"b", b"B"):
        payload = payload.strip()
        if not _B64.fullmatch(payload) or len(payload.rstrip(b"=")) % 4 == 1:
            return None
        try:
            return base64.b64decode(payload.rstrip(b"=") + b"=" * (-len(payload.rstrip(b"=")) % 4))
        except (binascii.Error, ValueError):
            return None
    return binascii.a2b_qp(payload, header=True)
