"""Header values cut into RFC 5322 tokens (atoms, quoted strings, comments, domain literals, specials),
leniently and in linear time, for intake.parse.addresses."""
from __future__ import annotations

import re
from dataclasses import dataclass

# A line break before whitespace is folding (RFC 5322 2.2.3): removed, so a folded quoted string stays whole.
_FOLD = re.compile(r"\r\n(?=[ \t])|[\r\n](?=[ \t])")
_BREAK = re.compile(r"[\r\n]")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
SPACE = re.compile(r"\s+")
# \ is no special here: outside quotes and comments it has no meaning, and dropping it would merge words.
_ATOM = re.compile(r'[^\s()<>@,;:."\[\]]+')
_LITERAL = re.compile(r"\[[^\[\]<>@,;\"()\\]*\]")
_SPECIALS = frozenset("<>@,;:.")


@dataclass(slots=True)
class Tok:
    """One token of a header value."""

    kind: str  # "atom", "quoted", "comment", "literal", or the special character itself
    text: str  # atoms and literals as written; quoted strings and comments without delimiters and escapes
    space: str  # the whitespace before the token, "" when it touches the previous one


def _clean(value: str) -> str:
    """VALUE unfolded, line breaks as spaces, control characters dropped."""
    return CONTROL.sub("", _BREAK.sub(" ", _FOLD.sub("", value)))


def _quoted(s: str, i: int) -> tuple[str, int] | None:
    """The content of the quoted string opening at S[i] and the index after it; None if it never closes."""
    out: list[str] = []
    j, n = i + 1, len(s)
    while j < n:
        c = s[j]
        if c == '"':
            return "".join(out), j + 1
        if c == "\\":
            if j + 1 >= n:
                return None
            c = s[j + 1]
            j += 1
        out.append(c)
        j += 1
    return None


def _comment(s: str, i: int) -> tuple[str, int] | None:
    """The text of the (possibly nested) comment opening at S[i] and the index after it; None if
    unbalanced."""
    out: list[str] = []
    depth, j, n = 1, i + 1, len(s)
    while j < n:
        c = s[j]
        if c == "\\":
            if j + 1 >= n:
                return None
            c = s[j + 1]
            j += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return "".join(out).strip(), j + 1
        out.append(c)
        j += 1
    return None


def tokens(value: str) -> list[Tok]:
    """VALUE's tokens, each with the whitespace before it; never raises."""
    s = _clean(value)
    toks: list[Tok] = []
    space = ""
    # After one unbalanced quote or comment the rest of the value is a mess; treating later quotes and
    # parentheses as plain separators keeps the addresses readable and the scan linear.
    quotes, comments = True, True
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        found = SPACE.match(s, i)
        if found:
            space += found.group()
            i = found.end()
            continue
        if c in _SPECIALS:
            toks.append(Tok(c, c, space))
            i += 1
        elif c == '"' or c == "(":
            is_quote = c == '"'
            read = None
            if quotes if is_quote else comments:
                read = _quoted(s, i) if is_quote else _comment(s, i)
            if read is None:
                quotes, comments = (False, comments) if is_quote else (quotes, False)
                space += " "
                i += 1
                continue
            toks.append(Tok("quoted" if is_quote else "comment", read[0], space))
            i = read[1]
        elif c == "[" and (literal := _LITERAL.match(s, i)):
            toks.append(Tok("literal", literal.group(), space))
            i = literal.end()
        elif c in ")[]":
            # Stray closers and an unclosed [ separate words rather than join them.
            space += " "
            i += 1
            continue
        else:
            atom = _ATOM.match(s, i)
            assert atom is not None  # every other character starts an atom
            toks.append(Tok("atom", atom.group(), space))
            i = atom.end()
        space = ""
    return toks
