"""Reads delivery status notifications (RFC 3464): which of our messages bounced, for whom, and why."""
from __future__ import annotations

import email
from dataclasses import dataclass
from email.message import Message as MimeMessage
from email.parser import HeaderParser
from email.policy import compat32

from intake.parse import message_ids


@dataclass(frozen=True)
class Bounce:
    """What a bounce says about the message it returns."""

    message_ids: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    status: str = ""


def _returned_headers(part: MimeMessage) -> list[MimeMessage]:
    ctype = part.get_content_type()
    if ctype in ("message/rfc822", "message/global"):
        payload = part.get_payload()
        return [p for p in payload if isinstance(p, MimeMessage)] if isinstance(payload, list) else []
    if ctype in ("text/rfc822-headers", "message/rfc822-headers", "text/global-headers"):
        data = part.get_payload(decode=True) or b""
        return [HeaderParser(policy=compat32).parsestr(data.decode("utf-8", "replace"))]
    return []


def _status_fields(part: MimeMessage) -> tuple[list[str], str]:
    recipients: list[str] = []
    status = ""
    blocks = part.get_payload()
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, MimeMessage):
            continue
        rcpt = str(block.get("Final-Recipient") or block.get("Original-Recipient") or "")
        if rcpt:
            recipients.append(rcpt.split(";", 1)[-1].strip().lower())
        status = status or str(block.get("Status") or "").strip()
    return recipients, status


def read_bounce(raw: bytes) -> Bounce:
    """The returned message's IDs and subject, the failed recipients and the status; empty when unreadable."""
    try:
        msg = email.message_from_bytes(raw, policy=compat32)
        ids: list[str] = []
        subjects: list[str] = []
        recipients: list[str] = []
        status = ""
        for part in msg.walk():
            for headers in _returned_headers(part):
                ids += message_ids(str(headers.get("Message-ID") or ""))
                if headers.get("Subject"):
                    subjects.append(str(headers.get("Subject")))
            if part.get_content_type() == "message/delivery-status":
                found, code = _status_fields(part)
                recipients += found
                status = status or code
        return Bounce(tuple(dict.fromkeys(ids)), tuple(subjects), tuple(dict.fromkeys(recipients)), status)
    except Exception:  # a bounce we cannot read is still recorded, just not matched
        return Bounce()
