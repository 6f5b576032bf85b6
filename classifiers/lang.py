"""Tells Chinese, English and mixed text apart by script, and picks the language to answer in."""
from __future__ import annotations

import re

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_LATIN = re.compile(r"[A-Za-z]+")
_OTHER_LETTERS = re.compile(r"[\u0400-\u04ff\u0590-\u06ff\u0e00-\u0e7f]")  # Cyrillic, Hebrew, Arabic, Thai

# One Han character carries about half a word: a Chinese email with a few English product
# words (UAT, error 500, SAP) is still Chinese; an error message pasted in makes it mixed.
_ZH_SHARE = 0.2       # at or above: the writer wrote Chinese (answer in Chinese)
_ZH_ONLY_SHARE = 0.7  # at or above: Chinese alone; between the two: mixed
_FOREIGN_MIN = 3


def _zh_share(text: str) -> float:
    han = len(_HAN.findall(text))
    if han == 0:
        return 0.0
    words = len(_LATIN.findall(text))
    return han / 2 / (han / 2 + words)


def _foreign(text: str) -> bool:
    """Japanese (kana), Korean, or another script neither model was trained on."""
    kana, hangul = len(_KANA.findall(text)), len(_HANGUL.findall(text))
    other = len(_OTHER_LETTERS.findall(text))
    return (kana >= _FOREIGN_MIN or hangul >= _FOREIGN_MIN or other > len(_LATIN.findall(text)) * 3
            + _FOREIGN_MIN)


def detect_language(text: str) -> str:
    """The language to answer in: "zh" when the writer wrote Chinese, else "en" (also for unsupported
    scripts)."""
    if _foreign(text):
        return "en"
    return "zh" if _zh_share(text) >= _ZH_SHARE else "en"


def route(text: str) -> str:
    """Which model reads TEXT: "en", "zh", "mixed" (both), or "other" (a script neither was trained on)."""
    if _foreign(text):
        return "other"
    share = _zh_share(text)
    if share >= _ZH_ONLY_SHARE:
        return "zh"
    if share >= _ZH_SHARE or (share > 0 and len(_HAN.findall(text)) >= 6):
        return "mixed"
    return "en"


def readers(routed: str) -> tuple[str, ...]:
    """The models that read text routed ROUTED, or learn from a corpus example of that lang: mixed and other,
    both."""
    return (routed,) if routed in ("en", "zh") else ("en", "zh")
