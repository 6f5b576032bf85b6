"""Tells text unlike what the models learned from: too short to read, mostly code or logs, or another
language."""
from __future__ import annotations

import re

import pycld2

from classifiers.text import normalize

SHORT = "short"
CODE = "code"
LANGUAGE = "language"

# Fewer words than this (a Han character counts half a word) say too little to tell an ask from a report:
# no written email and no real text of the train split is that short.
MIN_WORDS = 3
# A text whose prose, once logs, code, links and paths are read as placeholders, is this short while
# the placeholders make up most of it is machine output with a line of comment, not a message.
MIN_PROSE_WORDS = 4
_WORD = re.compile(r"[^\W\d_]+|\d+")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# machine output; links and screenshots are not
_PLACEHOLDER = re.compile(r"\b(?:codeblock|logline|filepath|hexid)\b")
# CLD2 reads the start of a text; a few hundred characters decide a language as well as the whole.
_LANG_CHARS = 600
_KNOWN = {"en", "un"}  # English, or too little to tell
_MIN_ENGLISH_PERCENT = 15


def _words(text: str) -> float:
    bare, han = _HAN.subn(" ", text)
    return len(_WORD.findall(bare)) + han / 2


def _other_language(text: str) -> bool:
    """Whether CLD2 reliably reads TEXT (Latin or other script the router sends to English) as another
    language."""
    try:
        reliable, _, found = pycld2.detect(text[:_LANG_CHARS])
    except pycld2.error:  # bytes CLD2 cannot read as UTF-8 (lone surrogates are replaced before this)
        return False
    english = sum(percent for _, code, percent, _ in found if code == "en")
    # Some English beside another language (a pasted placeholder text, a quoted message) still reads as
    # English.
    return bool(reliable) and found[0][1] not in _KNOWN and english < _MIN_ENGLISH_PERCENT


def unusual(text: str, routed: str, normalized: bool = False) -> str:
    """Why TEXT (subject and new text, as the models read it; routed ROUTED) is unlike the training texts:
    "short", "code", "language" (Latin-script text that is not English), or "" when it is not.

    NORMALIZED says TEXT has been through `normalize` already (as a normalized model reads it).
    """
    if not normalized:
        text = normalize(text)
    # Machine output first: a normalized trace is one placeholder word and would otherwise read as short.
    if _PLACEHOLDER.search(text) and _words(_PLACEHOLDER.sub(" ", text)) < MIN_PROSE_WORDS:
        return CODE
    if _words(text) < MIN_WORDS:
        return SHORT
    if routed == "en" and _other_language(text):
        return LANGUAGE
    return ""
