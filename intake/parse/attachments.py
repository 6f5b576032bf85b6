"""An attachment's safe file name, its bytes and its metadata, from one MIME part."""
from __future__ import annotations

import hashlib
import mimetypes
import re
from email.message import Message

from intake.values import AttachmentInfo

_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069/\\]")
MAX_FILENAME = 200


def safe_filename(name: str) -> str:
    """A file name without path parts, control or bidi characters, bounded in length."""
    name = _UNSAFE_NAME.sub("_", name or "").strip(" .")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: MAX_FILENAME - len(ext) - 1] + ("." + ext if ext else "")
    return name or "attachment"


def default_name(ctype: str) -> str:
    """A name for an attachment that came without one, after its content type."""
    if ctype.endswith("/rtf"):
        return "attachment.rtf"
    return "attachment" + (mimetypes.guess_extension(ctype) or "")


def attachment_bytes(part: Message) -> bytes:
    """The decoded content of PART; an attached container (e.g. a forwarded message) as its flattened
    parts."""
    if not part.is_multipart():
        data = part.get_payload(decode=True)
        return data if isinstance(data, bytes) else b""
    out = []
    for sub in part.get_payload():
        if not isinstance(sub, Message):
            continue
        try:
            out.append(sub.as_bytes())
        except Exception:  # an unflattenable part still counts by its text
            out.append(str(sub).encode("utf-8", "surrogateescape"))
    return b"".join(out)


def attachment(part: Message, filename: str, ctype: str) -> tuple[AttachmentInfo, bytes]:
    """PART's metadata (FILENAME made safe) and its bytes."""
    data = attachment_bytes(part)
    info = AttachmentInfo(
        filename=safe_filename(filename),
        content_type=ctype[:255] or "application/octet-stream",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    return info, data
