"""Scores how plausible a decoded text is for a language family, to pick the right charset."""
from __future__ import annotations

import math
import re
import unicodedata
from functools import cache
from itertools import pairwise

SAMPLE = 4000  # non-ASCII characters looked at when judging a decoding

# --- plausibility -----------------------------------------------------------------------------------------


def _range_chars(codec: str, leads: range, trails: range) -> frozenset[str]:
    out = set()
    for lead in leads:
        for trail in trails:
            try:
                out.add(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                pass
    return frozenset(out)


_EUC_TRAILS = range(0xA1, 0xFF)
_BIG5_TRAILS = range(0x40, 0xFF)


@cache
def _common(family: str) -> tuple[frozenset[str], frozenset[str]]:
    """(common characters, less common but real characters) of a CJK FAMILY's national standard.

    GB 2312 level 1 (3755 hanzi), Big5 level 1 (5401), JIS X 0208 level 1 (2965 kanji) and the KS X 1001
    hangul (2350) cover almost all of everyday text; a reading through the wrong charset lands mostly outside.
    """
    if family == "zh-hans":
        return (_range_chars("gb2312", range(0xB0, 0xD8), _EUC_TRAILS),
                _range_chars("gb2312", range(0xD8, 0xF8), _EUC_TRAILS))
    if family == "zh-hant":
        return (_range_chars("cp950", range(0xA4, 0xC7), _BIG5_TRAILS),
                _range_chars("cp950", range(0xC9, 0xFA), _BIG5_TRAILS))
    if family == "ja":  # kana rows, then level 1 kanji
        return (_range_chars("euc_jp", range(0xA4, 0xA6), _EUC_TRAILS) | _range_chars(
            "euc_jp", range(0xB0, 0xD0), _EUC_TRAILS), _range_chars("euc_jp", range(0xD0, 0xF5), _EUC_TRAILS))
    if family == "ko":  # hangul, then hanja
        return (_range_chars("euc_kr", range(0xB0, 0xC9), _EUC_TRAILS),
                _range_chars("euc_kr", range(0xCA, 0xFE), _EUC_TRAILS))
    return frozenset(), frozenset()


_PUNCT = frozenset("\u00a0“”‘’„‚–—…•·«»€™°±×§©®№")
# Punctuation of CJK text (full-width ASCII forms, U+FF01-FF5E, are counted too).
_CJK_PUNCT = frozenset("\u3000、。〈〉《》「」『』【】〔〕～・ー“”‘’…—·")
_SPACED_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff] (?=[\u3400-\u9fff\uf900-\ufaff])")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_WORD = re.compile(r"[^\W\d_]+")
# windows-1252 characters of bytes 0x80-0xBF: the second character of UTF-8 read as windows-1252.
_CONTINUATION = frozenset(bytes(range(0x80, 0xC0)).decode("cp1252", "replace"))


def fit(text: str, family: str | None) -> float:
    """How much TEXT looks like real text of FAMILY: the typical share of its non-ASCII characters, 0 to 1."""
    text = text[: SAMPLE * 4]
    chars = [c for c in text if c > "\x7f"][:SAMPLE]
    if not chars or family is None:
        return 1.0
    if family == "latin":
        return _latin_fit(text)
    if family == "ru":
        return _ru_fit(text)
    common, rarer = _common(family)
    chinese = family in ("zh-hans", "zh-hant")
    score = 0.0
    for c in chars:
        if chinese and "\u3041" <= c <= "\u30ff":
            score -= 0.5  # kana in Chinese text: Japanese bytes read as Chinese
        elif c in common or c in _CJK_PUNCT or "\uff01" <= c <= "\uff5e":
            score += 1.0
        elif c in rarer or c in _PUNCT:
            score += 0.5
        elif family == "ja" and "\uff61" <= c <= "\uff9f":
            score += 0.3  # half-width katakana: old, but real
        elif family == "zh-hans" and _four_byte_letter(c):
            score += 0.8  # Uyghur, Tibetan, CJK extension B...: only well-formed 4-byte GB18030 gives these
    fit = max(0.0, score / len(chars))
    if family != "ko" and len(_SPACED_CJK.findall(text)) > 0.15 * len(chars):
        fit *= 0.7  # words split by spaces: an alphabetic script read as CJK pairs
    return fit


@cache
def _four_byte_letter(c: str) -> bool:
    """A letter GB18030 writes with four bytes (outside GBK)."""
    if not c.isalpha():
        return False
    try:
        c.encode("gbk")
    except UnicodeEncodeError:
        return True
    return False


def _latin_fit(text: str) -> float:
    good = total = 0
    for run in _NON_ASCII_RUN.finditer(text[: SAMPLE * 4]):
        chars = run.group()
        total += len(chars)
        if len(chars) >= 3 and sum(c.isalpha() for c in chars) >= 2:
            continue  # three accented letters in a row: CJK or Cyrillic bytes read as Latin
        for i, c in enumerate(chars):
            if c in "ÂÃâÅ" and i + 1 < len(chars) and chars[i + 1] in _CONTINUATION:
                continue  # UTF-8 read as windows-1252
            if i > 0 and chars[i - 1] in "ÂÃâÅ" and c in _CONTINUATION:
                continue
            if c in _PUNCT or (c.isalpha() and unicodedata.name(c, "").startswith("LATIN")):
                good += 1
    return good / total if total else 1.0


# Russian letter frequencies (share of letters), for telling windows-1251 from KOI8-R.
_RU_FREQ = {"о": .1097, "е": .0845, "а": .0801, "и": .0735, "н": .0670, "т": .0626, "с": .0547, "р": .0473,
            "в": .0454, "л": .0440, "к": .0349, "м": .0321, "д": .0298, "п": .0281, "у": .0262, "я": .0201,
            "ы": .0190, "ь": .0174, "г": .0170, "з": .0165, "б": .0159, "ч": .0144, "й": .0121, "х": .0097,
            "ж": .0094, "ш": .0073, "ю": .0064, "ц": .0048, "щ": .0036, "э": .0032, "ф": .0026, "ъ": .0004,
            "ё": .0004, "і": .0030, "ї": .0010, "є": .0010, "ґ": .0002}


def _bad_case(word: str) -> bool:
    """A lower-case letter followed by a capital inside a word: case-swapped mojibake (пФЮЈФ for Отчёт)."""
    return any(a.islower() and b.isupper() for a, b in pairwise(word))


def ru_loglik(text: str) -> tuple[float, int]:
    """(mean log-probability of TEXT's non-ASCII characters as Russian, how many were scored).

    Letters score by their frequency; a letter in a word with a capital after a lower-case letter scores
    extra low, as do non-letters outside common punctuation (box drawing from the wrong table).
    """
    total = 0.0
    count = 0
    sample = text[: SAMPLE * 4]
    for word in _WORD.finditer(sample):
        w = word.group()
        if w.isascii():
            continue
        penalty = 3.0 if _bad_case(w) else 0.0
        for c in w:
            if c > "\x7f":
                total += math.log(_RU_FREQ.get(c.lower(), 0.0002)) - penalty
                count += 1
    for c in sample:
        if c > "\x7f" and not c.isalpha() and c not in _PUNCT:
            total += math.log(0.0002)
            count += 1
    return (total / count if count else 0.0), count


def _ru_fit(text: str) -> float:
    good = total = 0
    sample = text[: SAMPLE * 4]
    for word in _WORD.finditer(sample):
        w = word.group()
        if w.isascii():
            continue
        n = sum(c > "\x7f" for c in w)
        total += n
        if not _bad_case(w) and all(c.isascii() is False and c.lower() in _RU_FREQ for c in w):
            good += n
    for c in sample:
        if c > "\x7f" and not c.isalpha():
            total += 1
            good += c in _PUNCT
    return good / total if total else 1.0
