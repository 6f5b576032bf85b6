"""Turns an email's subject and body into the one text the models read: subject plus newly written text."""
from __future__ import annotations

import re

from classifiers.strip import new_text

MAX_CHARS = 4000
# What the models read is at the top; a megabyte of body need not be searched for quotes and signatures.
MAX_BODY_CHARS = 100_000
# Control characters but tab and line breaks, and lone surrogates (which no tokenizer can hash).
_UNREADABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def has_words(text: str) -> bool:
    """Whether TEXT holds at least one letter or digit, in any script."""
    return any(ch.isalnum() for ch in text)


def model_text(subject: str, body: str) -> str:
    """Subject first, then what the sender wrote now (no quotes, signature or disclaimer), bounded in length."""
    subject = _UNREADABLE.sub(" ", subject or "").strip()
    fresh = new_text(_UNREADABLE.sub(" ", (body or "")[:MAX_BODY_CHARS]))
    text = f"{subject}\n{fresh}" if subject else fresh
    return text[:MAX_CHARS]
