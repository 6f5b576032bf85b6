"""Turns an email's subject and body into the one text the models read."""
from __future__ import annotations

MAX_CHARS = 4000


def model_text(subject: str, body: str) -> str:
    """Subject first, then the body, bounded so one long email cannot slow a batch."""
    subject = (subject or "").strip()
    body = (body or "").strip()
    text = f"{subject}\n{body}" if subject else body
    return text[:MAX_CHARS]
