"""Reads a client's answer to an impact assessment: approved, rejected, or not a decision."""
from __future__ import annotations

import re

from classifiers.strip import new_text

# Refusals first: "不同意" contains "同意", "not approved" contains "approved".
_REJECT = re.compile(
    r"不同意|不批准|不接受|拒绝|否决|暂不|先不|不要做|不做了|取消"
    r"|\b(?:reject(?:ed)?|decline[ds]?|"
    r"(?:do|does|did|can|could|will|would)\s*(?:not|n't)\s+(?:approve|agree|accept|go ahead)"
    r"|not\s+(?:approved?|agreed?|accepted?)|disapproved?|no\s+go|hold\s+off|don't\s+proceed|do\s+not\s+proceed)\b",
    re.I,
)
_APPROVE = re.compile(
    r"同意|批准|确认执行|可以执行|按此执行|没问题，?请?(?:开始|执行)"
    r"|\b(?:approved?|approving|we\s+agree|i\s+agree|agreed|accept(?:ed)?|go\s+ahead|green\s+light|sign(?:ed)?\s+off"
    r"|please\s+proceed|ok(?:ay)?\s+to\s+proceed|you\s+may\s+proceed)\b",
    re.I,
)
_QUESTION = re.compile(r"[?？]\s*$")


def decision(subject: str, body: str) -> str:
    """"approved", "rejected" or "" for the client's NEW text (quotes of our assessment ignored).

    A reply that only asks something ("can you approve a smaller scope?") is not a decision: the
    first sentence-like line carrying a cue decides, and one ending in a question mark does not count.
    """
    lines = new_text(body).splitlines()
    if _is_decision_subject(subject):
        lines.insert(0, subject)
    for line in lines:
        line = line.strip()
        if not line or _QUESTION.search(line):
            continue
        if _REJECT.search(line):
            return "rejected"
        if _APPROVE.search(line):
            return "approved"
    return ""


def _is_decision_subject(subject: str) -> bool:
    # A subject like "Re: Impact assessment [CI-000123]" repeats ours; only a changed one speaks.
    return bool(subject) and not re.match(r"^\s*(re|aw|回复|答复)\s*[:：]", subject, re.I)
