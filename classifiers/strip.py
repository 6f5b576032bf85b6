"""Keeps what the sender wrote now: quoted replies, signatures and disclaimers removed, in Chinese and
English."""
from __future__ import annotations

import re

# mail-parser-reply was measured against this corpus: it misses the Chinese quote headers
# (原始邮件, 在…写道) and keeps closings such as "Best regards" with the name block, so the
# rules live here, with tests in both languages.

_QUOTE_START = [
    re.compile(r"^\s*On\b.{1,240}\bwrote\s*:\s*$", re.I),
    re.compile(r"^\s*-{2,}\s*(Original Message|Forwarded message|Reply "
               r"message|原始邮件|转发邮件|转发的邮件|回复的原邮件)\s*-{2,}", re.I),
    re.compile(r"^\s*在.{1,240}写道\s*[:：]\s*$"),
    re.compile(r"^\s*_{10,}\s*$"),
    re.compile(r"^\s*\*?(Begin forwarded message|Forwarded message)\s*:?\s*\*?\s*$", re.I),
]
# A header block of a quoted message: "From:" (or 发件人:) with a Sent/To/Subject line right after.
_FROM = re.compile(r"^\s*\*?(From|发件人|寄件者|发信人)\s*\*?\s*[:：]", re.I)
_HEADER = re.compile(r"^\s*\*?(Sent|Date|To|Cc|Subject|发送时间|时间|日期|收件人|抄送|主题)\s*\*?\s*[:：]",
                     re.I)
# "On Tue, 4 Mar 2025 at 10:12, Anna <a@b.example>" with "wrote:" on the next line (Gmail wraps it).
_ON_OPEN = re.compile(r"^\s*On\b.{1,240}$", re.I)
_WROTE = re.compile(r"^\s*wrote\s*:\s*$", re.I)

_SIGNATURE_START = re.compile(
    r"^(-- ?|—— ?|_{2,}|Sent from my \S.*|Sent from (Mail|Outlook) for .*|Get Outlook for \S.*|"
    r"发自我的.+|从我的.+发送|来自.{0,12}(邮箱|客户端)|Sent via .+)$", re.I)
_CLOSING = re.compile(
    r"^(best|best regards|kind regards|warm regards|regards|many thanks|thanks|thank you|thanks again|cheers|"
    r"sincerely|yours sincerely|yours faithfully|yours truly|br|rgds|all the best|greetings|with thanks|"
    r"此致|顺颂商祺|顺祝商祺|祝商祺|祝好|祝工作顺利|谢谢|多谢|感谢|"
    r"敬礼|此致敬礼|盼复|期待回复)\s*[,，.。!！~]*$", re.I)
# A closing is a signature only when a short block (name, title, company, phone) follows it.
_SIGNATURE_LINES = 7
_SIGNATURE_LINE_CHARS = 80
_DISCLAIMER = re.compile(
    r"^\s*(\*+\s*)?(CONFIDENTIALITY NOTICE|CONFIDENTIALITY|DISCLAIMER|IMPORTANT NOTICE|LEGAL NOTICE|"
    r"This (e-?mail|message|communication)\b.{0,60}\b(is|are|may be|may contain|contains)\b.{0,40}"
    r"(confidential|privileged)|"
    r"本邮件.{0,30}(保密|机密|仅供)|此邮件.{0,30}(保密|机密|仅供)|免责声明|保密声明|保密提示)", re.I)
_BLANKS = re.compile(r"\n{3,}")


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _quote_starts_at(lines: list[str], i: int) -> bool:
    line = lines[i]
    if any(p.match(line) for p in _QUOTE_START):
        return True
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if _ON_OPEN.match(line) and _WROTE.match(nxt):
        return True
    if _FROM.match(line):
        following = [ln for ln in lines[i + 1:i + 5] if ln.strip()]
        return any(_HEADER.match(ln) for ln in following[:3])
    return False


def _signature_starts_at(lines: list[str], i: int) -> bool:
    bare = lines[i].strip()
    if _SIGNATURE_START.match(bare) or _DISCLAIMER.match(bare):
        return True
    if _CLOSING.match(bare):
        rest = 0
        for j in range(i + 1, len(lines)):
            line = lines[j].strip()
            if line.startswith(">") or _quote_starts_at(lines, j):
                break
            if line:
                rest += 1
                if rest > _SIGNATURE_LINES or len(line) > _SIGNATURE_LINE_CHARS:
                    return False
        return True
    return False


def split_reply(text: str) -> tuple[str, str]:
    """Splits a plain-text body into (what the sender wrote now, the quoted earlier text)."""
    lines = _lines(text)
    kept: list[str] = []
    quoted: list[str] = []
    wrote = False  # anything but blank lines kept so far
    for i, line in enumerate(lines):
        bare = line.strip()
        if bare.startswith(">"):
            quoted.append(bare.lstrip("> "))
            continue
        if _quote_starts_at(lines, i):
            if wrote:
                quoted.extend(ln for ln in lines[i:] if not _FROM.match(ln) and not _HEADER.match(ln))
            else:
                # Nothing written above the quote (a bare forward): the forwarded text is what there is.
                quoted.extend(lines[i:])
            break
        if _signature_starts_at(lines, i):
            break
        kept.append(line.rstrip())
        wrote = wrote or bool(bare)
    return _tidy(kept), _tidy(quoted)


def new_text(text: str) -> str:
    """The part of a plain-text body the sender wrote now, above any quote, signature or disclaimer.

    A message that only forwards earlier mail keeps the forwarded text, since that is the request.
    """
    fresh, quoted = split_reply(text)
    if fresh:
        return fresh
    if not quoted:
        return ""
    cleaned, _ = split_reply(_drop_headers(quoted))
    return cleaned


def _drop_headers(text: str) -> str:
    lines = [ln for ln in _lines(text)
             if not any(p.match(ln) for p in _QUOTE_START) and not _FROM.match(ln) and not _HEADER.match(ln)]
    return "\n".join(lines)


def _tidy(lines: list[str]) -> str:
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
