"""Spots unhappy feedback (English and Chinese) so a PM follows it up: complaint cues outweighing praise
cues."""
from __future__ import annotations

import re

from classifiers.strip import new_text

# Cues of a complaint. A phrase that negates one ("not disappointed", "没有不满") is removed before counting.
_NEGATIVE = re.compile(
    r"失望|不满|不太专业|不够专业|很差|太差|真差|差劲|糟糕|不专业|不靠谱|太慢了|慢得|投诉你们|要投诉|抱怨|生气|恼火|气愤|无法接受|不能接受|难以接受"
    r"|不尊重|浪费(?:了)?(?:我们)?(?:的)?时间|影响很坏|很不好|非常不好|体验(?:真的|很|非常)?差|太不像话|没人(?:来|通知|回复|理)"
    r"|\b(?:disappoint(?:ed|ing|ment)|unhappy|not\s+(?:at\s+all\s+)?(?:happy|satisfied|pleased|acceptable|ok(?:ay)?)"
    r"|dissatisf(?:ied|action)|frustrat(?:ed|ing|ion)|unacceptable|unprofessional|annoy(?:ed|ing)|angry|upset"
    r"|(?:a|my|our|formal)\s+complaint|complain(?:ed|ing)?\b|poor(?:ly)?|terrible|awful|horrible|worst|appalling"
    r"|(?:damages?|lost|losing)\s+(?:our\s+)?trust|waste\s+of\s+(?:time|money)|let\s+(?:us|me)\s+down|fed\s+up)\b",
    re.I,
)
_NEGATED = re.compile(
    r"(?:没有|并不|并没有|不会|毫无|一点也不|not\s+(?:at\s+all\s+)?|never\s+|no\s+|nothing\s+)"
    r"(?:失望|不满|抱怨|disappoint(?:ed|ing)|unhappy|frustrat(?:ed|ing)|complain(?:ts?|ed)?|poor)"
    r"|(?:投诉|complaints?)\s*(?:基本|几乎|都|也)?(?:没了|少了|减少|下降|消失)"
    r"|(?:nobody|no\s+one|never)\s+complain(?:ed|s)?|complain(?:ed|s)?\s+less",
    re.I,
)
_POSITIVE = re.compile(
    r"满意|很好|非常好|不错|感谢|谢谢|辛苦|点赞|优秀|专业|到位|赞|顺利|成功|高兴|开心|惊喜|好评"
    r"|\b(?:thank(?:s|\s+you)?|great|excellent|pleased|delighted|happy|love[ds]?|impressed|well\s+done|good\s+job"
    r"|fantastic|wonderful|brilliant|appreciate[ds]?|smooth(?:ly)?|success(?:ful)?)\b",
    re.I,
)


def complaint_score(subject: str, body: str) -> tuple[int, int]:
    """(complaint cues, praise cues) in the SUBJECT and the client's NEW text (quotes of earlier mail
    ignored)."""
    text = f"{subject}\n{new_text(body)}"
    text = _NEGATED.sub(" ", text)
    return len(_NEGATIVE.findall(text)), len(_POSITIVE.findall(_NEGATIVE.sub(" ", text)))


def is_negative(subject: str, body: str) -> bool:
    """Whether feedback reads as a complaint: a complaint cue, and praise not outweighing it.

    A complaint cue counts double: clients wrap complaints in courtesy ("thanks, but ..."), rarely the
    reverse.
    """
    negative, positive = complaint_score(subject, body)
    return negative > 0 and 2 * negative >= positive
