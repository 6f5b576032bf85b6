"""Decodes mail text whose charset is missing, wrong or unknown, and says what it did."""
from __future__ import annotations

import codecs
import re

from intake.parse.plausibility import fit as plausibility
from intake.parse.plausibility import ru_loglik

__all__ = ["decode_bytes", "normalize_charset"]

# What mail clients write, mapped to the codec that reads it best: a label for a legacy charset means, in
# practice, the vendor superset (GBK/GB18030 for gb2312, cp950 for big5, cp932 for shift_jis, cp949 for
# euc-kr); other entries are spellings Python does not know. Keys are lower case with "_" written as "-".
_ALIASES = {
    **dict.fromkeys(("gb2312", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "euc-cn", "x-euc-cn",
                     "csgb2312", "gb-2312-80", "gb2312-80", "chinese", "gb18030"), "gb18030"),
    **dict.fromkeys(("big5", "big-5", "x-x-big5", "cn-big5", "csbig5", "x-big5", "cp950", "windows-950",
                     "ms950"), "cp950"),
    **dict.fromkeys(("big5-hkscs", "big5hkscs"), "big5hkscs"),
    **dict.fromkeys(("shift-jis", "sjis", "x-sjis", "ms-kanji", "csshiftjis", "windows-31j", "cp932",
                     "ms932"), "cp932"),
    **dict.fromkeys(("euc-jp", "x-euc-jp", "eucjp", "cseucpkdfmtjapanese"), "euc_jp"),
    **dict.fromkeys(("iso-2022-jp", "csiso2022jp", "-iso-2022-jp$esc", "jis"), "iso2022_jp"),
    **dict.fromkeys(("ks-c-5601-1987", "ks-c-5601", "ksc5601", "ksc-5601", "euc-kr", "x-euc-kr", "korean",
                     "windows-949", "uhc", "cp949", "ms949", "csksc56011987"), "cp949"),
    **dict.fromkeys(("tis-620", "iso-8859-11", "windows-874"), "cp874"),
    **dict.fromkeys(("iso-8859-8-i", "iso-8859-8-e"), "iso8859-8"),
    **dict.fromkeys(("iso-8859-6-i", "iso-8859-6-e"), "iso8859-6"),
    **dict.fromkeys(("x-mac-roman", "mac"), "mac-roman"),
    "x-mac-cyrillic": "mac-cyrillic",
    "x-mac-ce": "mac-latin2",
    "unicode-1-1-utf-7": "utf-7",
    **dict.fromkeys(("unicode-1-1-utf-8", "x-unicode20utf8", "utf8mb4"), "utf-8"),
    "unicode": "utf-16",
}
# Labels that say nothing about the bytes; they are read as if undeclared.
_NO_CHARSET = {"unknown-8bit", "x-unknown", "unknown", "default", "x-user-defined", "charset", "auto",
               "none", "-autodetect", "-autodetect-all", "-autodetect-kr"}
# Text codecs that are not charsets: they would turn mail bytes into something else.
_NOT_CHARSETS = {"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined"}
_CP_NUMBER = re.compile(r"(?:windows|win|cp|ms|x-cp|ibm)-?(\d{3,5})")

# Multi-byte and stateful codecs; every other charset is one byte per character.
_MULTIBYTE = {"gb2312", "gbk", "gb18030", "hz", "big5", "big5hkscs", "cp950", "cp932", "shift_jis",
              "shift_jis_2004", "shift_jisx0213", "euc_jp", "euc_jis_2004", "euc_jisx0213", "cp949", "euc_kr",
              "johab"}

# Candidates for undeclared or undecodable 8-bit text; the most plausible reading wins, and on a tie the
# earlier one. Korean comes after Chinese and Japanese (GB2312 text often decodes as EUC-KR too);
# windows-1252 before the Cyrillic pair, because the only Latin text that reads as well in Cyrillic is
# an isolated accented letter among ASCII ("café" is a Cyrillic "cafй"), while Russian read as Latin
# is runs of accented letters, which the Latin test rejects.
_CANDIDATES_8BIT = ("gb18030", "cp950", "cp932", "euc_jp", "cp949", "cp1252", "cp1251", "koi8-r")
# Candidates for 7-bit text with ESC sequences, narrowest first.
_CANDIDATES_ESC = ("iso2022_jp", "iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_2004", "iso2022_kr")

# The language family a codec is used for; it picks the plausibility test of a decoded text.
_FAMILY = {"gb18030": "zh-hans", "gbk": "zh-hans", "gb2312": "zh-hans", "hz": "zh-hans",
           "cp950": "zh-hant", "big5": "zh-hant", "big5hkscs": "zh-hant",
           "cp932": "ja", "shift_jis": "ja", "euc_jp": "ja",
           "cp949": "ko", "euc_kr": "ko",
           "cp1251": "ru", "koi8-r": "ru", "koi8-u": "ru", "iso8859-5": "ru", "cp866": "ru",
           "mac-cyrillic": "ru",
           "cp1252": "latin", "iso8859-1": "latin", "iso8859-15": "latin"}
_CYRILLIC_CODECS = ("cp1251", "koi8-r")

# Valid UTF-8 multi-byte sequences (RFC 3629), used to tell UTF-8 with a few stray bytes from legacy text.
_UTF8_SEQ = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
                       rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}"
                       rb"|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}")
_HIGH_BYTES = bytes(range(0x80, 0x100))
_C1 = re.compile(rb"[\x80-\x9f]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACED = "\ufffd"

GOOD_FIT = 0.8  # a decoding at least this plausible is taken
MIN_FIT = 0.3  # a guess less plausible than this is noise: replacement characters say so more honestly
ERROR_BUDGET = 0.02  # share of undecodable characters a candidate may have (a damaged byte or two)


def normalize_charset(label: str | None) -> str | None:
    """The Python codec for a charset LABEL (aliases widened to their supersets), or None if unusable."""
    if not label:
        return None
    name = label.strip().strip("\"'").split("*", 1)[0].strip().lower().replace("_", "-")
    if not name or name in _NO_CHARSET:
        return None
    name = _ALIASES.get(name, name)
    number = _CP_NUMBER.fullmatch(name)
    if number:
        name = "cp" + number.group(1)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """DATA as text, and a note on how it was recovered (None when the DECLARED charset read it cleanly).

    Order: a byte-order mark; the declared charset (aliases normalized to their supersets, iso-8859-1 with
    bytes 0x80-0x9F read as windows-1252) unless its clean reading looks wrong (valid UTF-8 under a legacy
    label, windows-1251 and KOI8-R swapped, CJK bytes under a Latin label); UTF-8; UTF-8 with windows-1252
    for the stray bytes when most 8-bit bytes are UTF-8; for 7-bit text the ISO-2022 codecs; else the most
    plausible of a few candidates (_CANDIDATES_8BIT, judged by plausibility); UTF-8 with replacement
    characters. Never raises; the text never holds lone surrogates.
    """
    text, note, _how = decode_safely(data, declared)
    return text, note


def decode_safely(data: bytes, declared: str | None) -> tuple[str, str | None, str]:
    """decode_bytes, plus the codec (or recipe) that produced the text."""
    try:
        text, note, how = _decode(bytes(data), declared)
    except Exception as exc:  # a decoder bug must not lose the message
        text = bytes(data).decode("utf-8", "replace")
        how = "utf-8 with replacement characters"
        note = f"decoding failed ({type(exc).__name__}); read as {how}"
    return SURROGATE.sub(REPLACED, text), note, how


def _decode(data: bytes, declared: str | None) -> tuple[str, str | None, str]:
    label = (declared or "").strip()
    codec = normalize_charset(label)
    said = f"declared {label!r}" if label else "no charset declared"
    if not data:
        return "", None, codec or "ascii"
    bom = _bom(data)
    if bom:
        try:
            text = data.decode(bom)
        except UnicodeDecodeError:
            pass
        else:
            plain = bom.removesuffix("-sig")
            same = codec is not None and (codec == plain or codec.startswith(plain + "-"))
            return text, None if same else f"{said}; byte-order mark says {plain}", plain
    if codec and codec.startswith(("utf-16", "utf-32")) and data.isascii() and b"\x00" not in data:
        codec = None  # 7-bit bytes without a NUL are not UTF-16 or UTF-32
    if data.isascii() and b"\x1b" not in data and (codec is None or _ascii_compatible(codec)):
        return data.decode("ascii"), None if codec or not label else f"{said}: unusable charset", "ascii"
    if codec:
        read = codec
        if codec == "iso8859-1" and _C1.search(data) and strict_decode(data, "cp1252") is not None:
            read = "cp1252"  # the C1 range of iso-8859-1 is windows-1252 in practice
        clean_text = strict_decode(data, read)
        if clean_text is not None:
            text = clean_text
            better = _second_opinion(data, read, text)
            if better is not None:
                return better[0], f"{said}; decoded as {better[1]}", better[1]
            base = label.split("*", 1)[0].strip().strip("\"'")
            if _known(base):
                clean = read == codec and strict_decode(data, base) == text
            else:
                clean = base.lower().replace("_", "-") in _ALIASES
            return text, None if clean else f"{said}; decoded as {read}", read
    text, how = _guess(data, codec)
    if how == "ascii" and (codec or not label):
        return text, None, how  # control bytes such as ESC, nothing to decode
    if not codec and label:
        return text, f"{said}: unusable charset; decoded as {how}", how
    return text, f"{said}{' failed' if codec else ''}; decoded as {how}", how


def _ascii_compatible(codec: str) -> bool:
    return not codec.startswith(("utf-16", "utf-32", "iso2022")) and codec not in ("utf-7", "hz")


def _known(label: str) -> bool:
    try:
        codecs.lookup(label)
    except (LookupError, ValueError):
        return False
    return True


def _bom(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)) and len(data) % 4 == 0:
        return "utf-32"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and len(data) % 2 == 0:
        return "utf-16"
    return None


def strict_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError):
        return None


def _utf8_share(data: bytes) -> tuple[int, int]:
    """(bytes in valid UTF-8 multi-byte sequences, other 8-bit bytes)."""
    valid = sum(len(m) for m in _UTF8_SEQ.findall(data))
    return valid, _high_count(data) - valid


def _high_count(data: bytes) -> int:
    return len(data) - len(data.translate(None, _HIGH_BYTES))


def _mostly_utf8(data: bytes) -> bool:
    valid, stray = _utf8_share(data)
    return valid >= 4 and valid >= 2 * stray


def _mixed_utf8(data: bytes) -> str:
    """UTF-8 where the bytes are UTF-8; each stray byte read as windows-1252 (a Latin-1 letter, mostly)."""
    return data.decode("utf-8", "intake-cp1252")


def _cp1252_fallback(err: UnicodeError) -> tuple[str, int]:
    if not isinstance(err, UnicodeDecodeError):
        raise err
    return err.object[err.start:err.end].decode("cp1252", "replace"), err.end


codecs.register_error("intake-cp1252", _cp1252_fallback)


def _second_opinion(data: bytes, codec: str, text: str) -> tuple[str, str] | None:
    """A better reading than the declared charset's clean one, with how it was found, or None."""
    if codec.startswith(("utf-", "iso2022")) or codec == "utf-7":
        return None
    family = _FAMILY.get(codec)
    own = plausibility(text, family) if family else 1.0
    # Legacy text that happens to be valid UTF-8 is rare; UTF-8 sent under a legacy label is not.
    if (codec not in _MULTIBYTE or own < GOOD_FIT) and _UTF8_SEQ.search(data):
        utf8 = strict_decode(data, "utf-8")
        if utf8 is not None:
            return utf8, "utf-8"
        if codec not in _MULTIBYTE and _mostly_utf8(data):
            return _mixed_utf8(data), "utf-8 with windows-1252 for stray bytes"
    if family == "ru":
        best, best_text = _best_cyrillic(data, codec, text)
        if best != codec and best_text is not None:
            return best_text, best
    if family and (own < 0.5 or (own < GOOD_FIT and _high_count(data) >= 16)):  # short text: weak evidence
        found = _best_candidate(data, exclude=codec)
        if found and not found[3] and found[2] >= GOOD_FIT and found[2] > own + 0.2:
            return found[1], found[0]
    return None


def _guess(data: bytes, codec: str | None) -> tuple[str, str]:
    """The likeliest reading of bytes the declared charset cannot read, and its codec."""
    if data.isascii():  # 7-bit: ISO-2022 when its escape sequences parse, else plain ASCII
        for name in _CANDIDATES_ESC:
            text = strict_decode(data, name)
            if text is not None and name != codec and "\x1b" not in text:
                return text, name
        text = _iso2022jp_via_cp932(data)
        if text is not None:
            return text, "iso-2022-jp with Microsoft extensions (cp50220)"
        return data.decode("ascii"), "ascii"
    utf8 = strict_decode(data, "utf-8")
    if utf8 is not None:
        return utf8, "utf-8"
    if _mostly_utf8(data):
        return _mixed_utf8(data), "utf-8 with windows-1252 for stray bytes"
    found = _best_candidate(data, first=codec)
    if found and found[2] >= MIN_FIT:
        name, text, errors = found[0], found[1], found[3]
        return text, name if not errors else f"{name} with {errors} replacement character(s)"
    return data.decode("utf-8", "replace"), "utf-8 with replacement characters"


_JIS_ESC = re.compile(rb"\x1b(\$[@B]|\([BJI])")


def _iso2022jp_via_cp932(data: bytes) -> str | None:
    """ISO-2022-JP as Microsoft writes it (cp50220): NEC and IBM characters such as ① and ㈱ in JIS X 0208
    mode, half-width katakana after ESC ( I. Re-encoded to Shift_JIS arithmetically and read as cp932."""
    out = bytearray()
    mode = b"(B"
    pos = 0
    for m in list(_JIS_ESC.finditer(data)) + [None]:
        chunk = data[pos:m.start() if m else len(data)]
        if mode in (b"$@", b"$B"):
            chunk = chunk.replace(b"\r", b"").replace(b"\n", b"")
            if len(chunk) % 2 or any(not 0x21 <= b <= 0x7E for b in chunk):
                return None
            for hi, lo in zip(chunk[::2], chunk[1::2], strict=True):
                lo += 0x1F if hi % 2 else 0x7E
                lo += 1 if hi % 2 and lo >= 0x7F else 0
                hi = (hi + 1) // 2 + (0x70 if hi <= 0x5E else 0xB0)
                out += bytes((hi, lo))
        elif mode == b"(I":
            if any(not 0x21 <= b <= 0x5F for b in chunk):
                return None
            out += bytes(b + 0x80 for b in chunk)
        else:
            out += chunk
        if m is None:
            break
        mode, pos = m.group(1), m.end()
    if b"\x1b" in out:
        return None
    return strict_decode(bytes(out), "cp932")


def _best_candidate(data: bytes, first: str | None = None,
                    exclude: str | None = None) -> tuple[str, str, float, int] | None:
    """(codec, text, fit, replacements) of the most plausible candidate reading, earlier ones winning ties.

    A candidate may leave up to ERROR_BUDGET of its characters undecodable (damaged or cut-off text),
    which costs it in fit; the declared charset, when it is a candidate, goes first.
    """
    preferred = (first,) if first in _FAMILY else ()
    order = [c for c in dict.fromkeys(preferred + _CANDIDATES_8BIT) if c != exclude]
    high = max(1, _high_count(data))
    best: tuple[str, str, float, int] | None = None
    cyrillic_done = False
    for name in order:
        if _FAMILY.get(name) == "ru":
            if cyrillic_done:
                continue
            cyrillic_done = True
            name, text = _best_cyrillic(data, name, None)
            errors = 0 if text is not None else high
        else:
            text = strict_decode(data, name)
            errors = 0
            if text is None:
                try:
                    text = data.decode(name, "replace")
                except (LookupError, ValueError):
                    continue
                errors = text.count(REPLACED)
        if text is None or errors > max(1, ERROR_BUDGET * high):
            continue
        family = _FAMILY.get(name)
        fit = (plausibility(text, family) if family else 0.5) - 2 * errors / high
        if best is None or fit > best[2]:
            best = (name, text, fit, errors)
    return best


def _best_cyrillic(data: bytes, codec: str, text: str | None) -> tuple[str, str | None]:
    """Of CODEC and windows-1251/KOI8-R, the reading most like Russian; CODEC unless another is clearly
    better."""
    readings = {codec: text if text is not None else strict_decode(data, codec)}
    for other in _CYRILLIC_CODECS:
        if other not in readings:
            readings[other] = strict_decode(data, other)
    scored = {name: ru_loglik(t) for name, t in readings.items() if t is not None}
    if not scored:
        return codec, None
    best = max(scored, key=lambda name: scored[name][0])
    margin = 0.25 if scored[best][1] >= 20 else 0.5  # more letters, surer averages
    # the declared one unless clearly worse
    if codec in scored and scored[best][0] < scored[codec][0] + margin:
        best = codec
    return best, readings[best]
