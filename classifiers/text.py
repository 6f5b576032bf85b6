"""Turns an email's subject and body into the one text the models read: subject plus newly written text."""
from __future__ import annotations

from classifiers.strip import new_text

MAX_CHARS = 4000


def model_text(subject: str, body: str) -> str:
    """Subject first, then what the sender wrote now (no quotes, signature or disclaimer), bounded in length."""
    subject = (subject or "").strip()
    fresh = new_text(body or "")
    text = f"{subject}\n{fresh}" if subject else fresh
    return text[:MAX_CHARS]
