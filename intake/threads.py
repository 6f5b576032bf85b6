"""Finds the item a message follows up on: a reference in the subject, or a known Message-ID."""
from __future__ import annotations

import re

from intake.values import Email


def reference_pattern(prefix: str) -> re.Pattern[str]:
    """Matches references like CI-000123, also when clients mangle brackets or spacing."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(prefix)}\s?[-_\u2010-\u2015\uff0d]\s?(\d{{4,9}})(?!\d)",
                      re.I)


def references_in_subject(subject: str, prefix: str) -> list[str]:
    """Item references found in SUBJECT, normalized to PREFIX-000123 form."""
    return [f"{prefix}-{int(n):06d}" for n in reference_pattern(prefix).findall(subject or "")]


def without_references(subject: str, prefix: str) -> str:
    """SUBJECT with every item reference (and the brackets around it) taken out, spaces tidied."""
    text = reference_pattern(prefix).sub(" ", subject or "")
    text = re.sub(r"[\[(（【]\s*[\])）】]", " ", text)
    return " ".join(text.split())


def thread_ids(email: Email) -> list[str]:
    """The Message-IDs this email replies to, nearest first."""
    ids: list[str] = []
    if email.in_reply_to:
        ids.append(email.in_reply_to)
    ids.extend(reversed(email.references))
    seen: set[str] = set()
    return [i for i in ids if not (i in seen or seen.add(i))]


def format_reference(prefix: str, item_id: int) -> str:
    """The reference of item ITEM_ID."""
    return f"{prefix}-{item_id:06d}"
