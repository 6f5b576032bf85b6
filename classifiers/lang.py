"""Tells Chinese from English text by its share of CJK characters."""
from __future__ import annotations

import re

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]+")

# A Chinese email often carries English product words (UAT, error 500); a handful of
# Han characters among them still means the writer wrote Chinese.
_ZH_SHARE = 0.2


def detect_language(text: str) -> str:
    """Returns "zh" when the text is mostly Chinese, else "en"."""
    cjk = len(_CJK.findall(text))
    if cjk == 0:
        return "en"
    latin_words = len(_LATIN.findall(text))
    # One Han character carries about a word's worth of meaning at two characters a word.
    return "zh" if cjk / 2 / (cjk / 2 + latin_words) >= _ZH_SHARE else "en"
