"""Screens a parsed email for auto-replies, bounces, list mail and our own mail (RFC 3834 and practice)."""
from __future__ import annotations

import re
from dataclasses import replace

from intake.values import Email, Screening

_NO_REPLY_LOCAL = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+.\-].*)?$",
                             re.I)
# How delivery systems sign bounces when their From has no address at all ("MAILER-DAEMON <>").
_DAEMON_NAME = re.compile(r"^(mailer[- ]daemon|postmaster|mail delivery (subsystem|system))$", re.I)


def _h(email: Email, name: str) -> str:
    for key, value in email.headers.items():
        if key.lower() == name.lower():
            return value.strip()
    return ""


def screen(email: Email, own_addresses: set[str], size: int = 0, max_bytes: int = 0) -> Email:
    """Returns EMAIL with its screening facts filled in."""
    auto = _h(email, "Auto-Submitted").lower()
    precedence = _h(email, "Precedence").lower()
    content_type = _h(email, "Content-Type").lower()
    local = email.sender.split("@", 1)[0]
    # RFC 3834 2: nothing answers a message with a null return path (delivery reports, receipts).
    null_return_path = _h(email, "Return-Path").replace(" ", "") == "<>"
    facts = Screening(
        auto_submitted=bool(auto and auto != "no")
        or bool(_h(email, "X-Autoreply") or _h(email, "X-Autorespond"))
        or bool(_h(email, "X-Auto-Response-Suppress"))
        or precedence == "auto_reply"
        or null_return_path,
        bounce=content_type.startswith("multipart/report") or local.lower() in ("mailer-daemon", "postmaster")
        or (not email.sender and bool(_DAEMON_NAME.match(email.sender_name.strip()))),
        list_mail=bool(_h(email, "List-Id")) or precedence in ("bulk", "junk", "list"),
        from_us=email.sender in own_addresses,
        # A sender without a usable address is not screened out: the client's mail becomes an item,
        # unanswered.
        no_reply_sender=bool(email.sender and _NO_REPLY_LOCAL.match(local)),
        oversize=bool(max_bytes and size > max_bytes),
    )
    return replace(email, screening=facts)
