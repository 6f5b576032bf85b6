"""What makes two fetched messages the same message: the Message-ID plus a digest of what the sender wrote.

The same message reaches us more than once (fetched again after a crash, a restored mailbox, a copy in a
second mailbox); different messages sometimes share a Message-ID (mailers that reuse them). The digest
covers the fields the sender wrote (addresses, date, subject, Message-ID and threading, MIME type, encoding
and disposition) and the body, and nothing a server adds on the way (Received, Delivered-To, Return-Path, spam
scores), so every copy of one message has the same digest and two different messages do not.
"""
from __future__ import annotations

import hashlib
import re

SYNTHETIC_DOMAIN = "client-intake.invalid"
IDENTITY_FIELDS = (b"from", b"sender", b"reply-to", b"to", b"cc", b"date", b"subject", b"message-id",
                   b"in-reply-to", b"references", b"content-type", b"content-transfer-encoding",
                   b"content-disposition")
_FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$")
_SPACE = re.compile(rb"[ \t\r\n]+")


def _split(raw: bytes) -> tuple[bytes, bytes]:
    """(header block, body) of RAW with LF line endings; a message that begins with text is all body."""
    if not _FIELD.match(raw.lstrip(b"\r\n\xef\xbb\xbf").split(b"\n", 1)[0]):
        return b"", raw
    at = raw.find(b"\n\n")
    return (raw, b"") if at < 0 else (raw[:at], raw[at + 2:])


def _fields(head: bytes) -> dict[bytes, list[bytes]]:
    """The identity fields of HEAD, unfolded, white space collapsed, in order of appearance."""
    out: dict[bytes, list[bytes]] = {}
    current: list[bytes] | None = None
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and current is not None:
            current[-1] += b" " + line.strip()
            continue
        found = _FIELD.match(line)
        current = None
        if found and found.group(1).lower() in IDENTITY_FIELDS:
            current = out.setdefault(found.group(1).lower(), [])
            current.append(found.group(2).strip())
    return out


def content_digest(raw: bytes) -> str:
    """SHA-256 (hex) of RAW's identity fields and body, the same for every copy of one message."""
    # Line endings and trailing blank lines change on the way through some servers; the words do not.
    data = raw.replace(b"\r\n", b"\n")
    if b"\r" in data:  # a lone CR is rare: a second pass over every message's bytes would cost more
        data = data.replace(b"\r", b"\n")
    head, body = _split(data)
    fields = _fields(head)
    h = hashlib.sha256()
    if b"message-id" not in fields and not (b"from" in fields and b"date" in fields):
        # Too little the sender signed it with (a truncated or headerless message): all of it is its identity.
        h.update(b"whole\0" + data.rstrip())
        return h.hexdigest()
    for name in IDENTITY_FIELDS:
        for value in fields.get(name, ()):
            h.update(name + b":" + _SPACE.sub(b" ", value).strip() + b"\0")
    h.update(b"\0")
    h.update(body.rstrip())
    return h.hexdigest()


def synthetic_message_id(raw: bytes) -> str:
    """A Message-ID for a message that has none, the same for every copy of it."""
    return f"<{content_digest(raw)[:40]}@{SYNTHETIC_DOMAIN}>"
