"""Turns an email's subject and body into the one text the models read: subject plus newly written text."""
from __future__ import annotations

import re
import string

from classifiers.strip import new_text

MAX_CHARS = 4000
# What the models read is at the top; a megabyte of body need not be searched for quotes and signatures.
MAX_BODY_CHARS = 100_000
# Control characters but tab and line breaks, and lone surrogates (which no tokenizer can hash).
_UNREADABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def has_words(text: str) -> bool:
    """Whether TEXT holds at least one letter or digit, in any script."""
    return any(ch.isalnum() for ch in text)


def model_text(subject: str, body: str, normalized: bool = False) -> str:
    """Subject first, then what the sender wrote now (no quotes, signature or disclaimer), bounded in length.

    NORMALIZED also reads logs, code, links, paths and template scaffolding as placeholders (`normalize`).
    """
    subject = _UNREADABLE.sub(" ", subject or "").strip()
    fresh = new_text(_UNREADABLE.sub(" ", (body or "")[:MAX_BODY_CHARS]))
    text = f"{subject}\n{fresh}" if subject else fresh
    # Placeholders shorten a log or trace, so more of what follows it fits; a prefix bounds the work.
    return normalize(text[:4 * MAX_CHARS])[:MAX_CHARS] if normalized else text[:MAX_CHARS]


# Tracker and chat texts carry pasted machine output that says little about what the sender asks:
# logs, stack traces, code, links, screenshots, issue-template scaffolding. `normalize` reads each
# as one placeholder word, so the models learn "there is a log here", not its contents.
_FENCE = re.compile(r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)", re.S)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>", re.I)
_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[\\/][\w.@~-]+){2,}[\\/]?")
_HEX = re.compile(r"\b(?:0x)?[0-9a-f]{12,}\b", re.I)
_CHECKBOX = re.compile(r"^\s*[-*]\s*\[[ xX]\]\s.*$", re.M)
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*", re.M)
_LOG_LINE = re.compile(
    r"^\s*(?:Traceback \(most recent call last\)|File \".*\", line \d+|at [\w$.<>]+\(.*\)|"
    r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d|\[\d{4}-\d\d-\d\d|\w+(?:\.\w+)*(?:Error|Exception)\b:|"
    r"(?:DEBUG|INFO|WARN|WARNING|ERROR|FATAL|TRACE)\b[: \]])")


_HAN = re.compile("[\u3400-\u9fff]")
_ASCII_LETTERS = string.ascii_letters.encode("ascii")


def _code_like(line: str) -> bool:
    """A line of code or machine output: mostly symbols and digits, or shaped like a log or trace line."""
    bare = line.strip()
    if len(bare) < 8:
        return False
    if _LOG_LINE.match(bare):
        return True
    # Counting letters one character at a time in Python was a tenth of the classifier's time; most lines
    # are ASCII, where deleting the letters as bytes counts them at C speed.
    if bare.isascii():
        raw = bare.encode("ascii")
        letters = len(raw) - len(raw.translate(None, _ASCII_LETTERS))
    elif _HAN.search(bare):
        return False
    else:
        letters = sum(ch.isalpha() for ch in bare)
    return letters / len(bare) < 0.5


def normalize(text: str) -> str:
    """TEXT with code blocks, log and trace lines, links, images, paths and template checkboxes as
    placeholders."""
    text = _HTML_COMMENT.sub(" ", text)
    text = _FENCE.sub(" codeblock ", text)
    text = _IMAGE.sub(" screenshot ", text)
    text = _URL.sub(" link ", text)
    text = _CHECKBOX.sub("", text)
    text = _HEADING.sub("", text)
    lines: list[str] = []
    for line in text.split("\n"):
        if _code_like(line):
            if not lines or lines[-1] != "logline":
                lines.append("logline")
        else:
            lines.append(line)
    text = "\n".join(lines)
    text = _PATH.sub(" filepath ", text)
    return _HEX.sub(" hexid ", text)
