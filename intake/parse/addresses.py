"""Lenient extraction of mailboxes (display name, address) from From, To, Cc and Reply-To header values."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from intake.parse.address_tokens import CONTROL, SPACE, Tok, tokens

__all__ = ["Mailbox", "first_mailbox", "first_of", "mailboxes", "plausible"]


@dataclass(frozen=True)
class Mailbox:
    """One mailbox of a header value; address is "" when none could be read."""

    # RFC 2047 encoded-words stay encoded: only the caller knows the message's charset hint to decode them.
    name: str
    # Lowercased whole, local part included: contacts are matched case-insensitively.
    address: str


_ESCAPED = re.compile(r"[\udc80-\udcff]")
# A local part that needs no quotes: RFC 5322 dot-atom, widened to UTF-8 as RFC 6532 does.
_DOT_ATOM = re.compile(r'[^\s()<>@,;:."\[\]\\]+(?:\.[^\s()<>@,;:."\[\]\\]+)*')
# Controls and surrogate escapes (undecodable bytes) make an address unusable, even inside quotes.
_UNUSABLE = r"\x00-\x08\x0a-\x1f\x7f\ud800-\udfff"
_PLAUSIBLE_LOCAL = re.compile(rf'"(?:[^"\\{_UNUSABLE}]|\\[^{_UNUSABLE}])+"|[^\s()<>@,;:"\[\]\\{_UNUSABLE}]+')
_WORDS = ("atom", "quoted")


@dataclass(slots=True)
class _Angle:
    tokens: list[Tok]


@dataclass(slots=True)
class _Unit:
    """A stretch of a bare (no angle brackets) list: name words, then maybe an addr-spec and its comments."""

    start: int
    spec: int  # where the addr-spec starts; == end when there is none
    end: int
    address: str | None  # None: no addr-spec; "": an addr-spec too broken to use
    comments: list[str]


def mailboxes(value: str) -> list[Mailbox]:
    """Every mailbox in a header value (From, To, Cc, Reply-To), leniently; never raises."""
    if not value or not isinstance(value, str):
        return []
    out: list[Mailbox] = []
    for items in _merge_split_names(_segments(tokens(value))):
        out.extend(_segment_mailboxes(items))
    return out


def first_mailbox(value: str) -> Mailbox:
    """The first mailbox with a plausible address, else the first mailbox found (address ""), else Mailbox("",
    "")."""
    return first_of(mailboxes(value))


def first_of(found: list[Mailbox]) -> Mailbox:
    """`first_mailbox` of mailboxes already read (a header read once serves both)."""
    return next((m for m in found if plausible(m.address)), found[0] if found else Mailbox("", ""))


def plausible(address: str) -> bool:
    """Whether ADDRESS has the shape local@domain with a non-empty local part and a domain of valid label
    characters (IDN/UTF-8 allowed); no DNS."""
    if not isinstance(address, str) or len(address) > 1000:
        return False
    local = _PLAUSIBLE_LOCAL.match(address)
    if not local or address[local.end():local.end() + 1] != "@":
        return False
    domain = address[local.end() + 1:]
    return 0 < len(domain) <= 253 and all(_label_ok(label) for label in domain.split("."))


def _label_ok(label: str) -> bool:
    # Letters, marks and digits of any script: IDN labels carry combining marks (Devanagari, Thai...).
    return (0 < len(label) <= 63 and label[0] != "-" and label[-1] != "-"
            and all(c == "-" or unicodedata.category(c)[0] in "LMN" for c in label))


# --- structure ---------------------------------------------------------------------------------------------


def _segments(toks: list[Tok]) -> list[tuple[list[Tok | _Angle], str]]:
    """The value cut at top-level commas, semicolons and group colons, with the separator before each piece.

    Group display names are dropped: they name no mailbox.
    """
    segments: list[tuple[list[Tok | _Angle], str]] = []
    items: list[Tok | _Angle] = []
    sep = ""
    angle: list[Tok] | None = None
    route = False  # inside <@r1,@r2:user@dom> the commas belong to the source route
    addressed = False  # the current piece has an @ or an angle address, so a colon cannot open a group

    def close_angle() -> None:
        nonlocal angle, addressed
        assert angle is not None
        if any(t.kind != "comment" for t in angle):
            items.append(_Angle(angle))
            addressed = True
        angle = None

    for tok in toks:
        kind = tok.kind
        if angle is not None:
            if kind == ">":
                items.append(_Angle(angle))
                addressed, angle = True, None
                continue
            if kind == "<":
                # "<junk <a@b>": the first bracket is stray; what it opened reads as part of the name.
                items.extend(angle)
                angle = []
                continue
            if kind == ":":
                route = False
            elif kind == "@" and not any(t.kind != "comment" for t in angle):
                route = True
            if not (kind == ";" or (kind == "," and not route)):
                angle.append(tok)
                continue
            # A list separator inside an unclosed angle address closes it: "<a@b, c@d" is two mailboxes.
            close_angle()
        if kind == "<":
            angle, route = [], False
        elif kind == ">":
            continue
        elif kind in ",;" or (kind == ":" and addressed):
            segments.append((items, sep))
            items, sep, addressed = [], kind, False
        elif kind == ":":
            items, sep = [], kind
        else:
            if kind == "@":
                addressed = True
            items.append(tok)
    if angle is not None:
        close_angle()
    segments.append((items, sep))
    return segments


def _name_only(items: list[Tok | _Angle]) -> bool:
    return (any(isinstance(t, Tok) and t.kind != "comment" for t in items)
            and all(isinstance(t, Tok) and t.kind in ("atom", "quoted", "comment", "literal",
                                                       ".") for t in items))


def _named_angle(items: list[Tok | _Angle]) -> bool:
    """Whether ITEMS start with name words, without an @, right up to an angle address."""
    words = False
    for item in items:
        if isinstance(item, _Angle):
            return words
        if item.kind == "@":
            return False
        words = words or item.kind != "comment"
    return False


def _merge_split_names(segments: list[tuple[list[Tok | _Angle], str]]) -> list[list[Tok | _Angle]]:
    """Glues "Doe, John <j@x>" back into one piece: words before a comma cannot be a mailbox of their own
    when the next piece is a name followed by an angle address."""
    out: list[tuple[list[Tok | _Angle], str]] = []
    for items, sep in segments:
        if sep == "," and _named_angle(items):
            run: list[tuple[list[Tok | _Angle], str]] = []
            while out and _name_only(out[-1][0]) and (not run or run[-1][1] == ","):
                run.append(out.pop())
            if run:
                merged: list[Tok | _Angle] = []
                for piece, _ in reversed(run):
                    merged.extend(piece)
                    merged.append(Tok(",", ",", ""))
                merged.extend(items)
                items, sep = merged, run[-1][1]
        out.append((items, sep))
    return [items for items, _ in out]


# --- mailboxes ---------------------------------------------------------------------------------------------


def _segment_mailboxes(items: list[Tok | _Angle]) -> list[Mailbox]:
    out: list[Mailbox] = []
    region: list[Tok] = []
    i, n = 0, len(items)
    while i < n:
        item = items[i]
        i += 1
        if not isinstance(item, _Angle):
            region.append(item)
            continue
        units = _bare(region)
        phrase: list[Tok] = []
        if units:
            last = units.pop()
            phrase = region[last.start:last.end]
        out.extend(box for box in (_unit_mailbox(region, u) for u in units) if box is not None)
        comments = [t.text for t in phrase if t.kind == "comment"]
        while i < n and isinstance(items[i], Tok) and items[i].kind == "comment":
            comments.append(items[i].text)
            i += 1
        box = Mailbox(_phrase(phrase) or _joined(comments), _angle_address(item.tokens))
        if box.name or box.address:  # "<>" alone (a null sender) names nobody
            out.append(box)
        region = []
    for unit in _bare(region):
        box = _unit_mailbox(region, unit)
        if box is not None:
            out.append(box)
    return out


def _angle_address(toks: list[Tok]) -> str:
    # Only what follows the last colon is the address: "<@route,@r2:user@dom>", "<mailto:user@dom>".
    colon = max((k for k, t in enumerate(toks) if t.kind == ":"), default=-1)
    toks = toks[colon + 1:]
    return next((u.address for u in _bare(toks) if u.address), "")


def _unit_mailbox(toks: list[Tok], unit: _Unit) -> Mailbox | None:
    if unit.address:
        return Mailbox(_phrase(toks[unit.start:unit.spec]) or _joined(unit.comments), unit.address)
    # A broken addr-spec or words without one: no address, but the text stays visible as the name.
    text = _phrase(toks[unit.start:unit.end])
    return Mailbox(text, "") if text else None


def _bare(toks: list[Tok]) -> list[_Unit]:
    """Reads a run without angle brackets: addr-specs, each with the name words before it and comments
    after."""
    units: list[_Unit] = []
    start = i = 0
    n = len(toks)
    while i < n:
        if toks[i].kind not in ("atom", "quoted", "."):
            i += 1
            continue
        chain_end, local = _local_chain(toks, i)
        at = _skip_comments(toks, chain_end)
        if at >= n or toks[at].kind != "@":
            # Not a local part; nor is any suffix of it, as they all end at the same place.
            i = chain_end
            continue
        end, domain, cut = _domain_chain(toks, at + 1)
        after = _skip_comments(toks, end)
        if after < n and toks[after].kind == "@" and cut is not None:
            # "a@b. c@d": a whitespace-separated label followed by @ starts the next address.
            end, domain = cut
            after = _skip_comments(toks, end)
        broken = not local or not domain
        while after < n and toks[after].kind == "@":
            broken = True  # a second @: "a@b@c" cannot be sent to as written
            end = _domain_chain(toks, after + 1)[0]
            after = _skip_comments(toks, end)
        comments = [t.text for t in toks[end:after]]
        units.append(_Unit(start, i, after, "" if broken else _address(local, domain), comments))
        start = i = after
    if start < n:
        units.append(_Unit(start, n, n, None, []))
    return units


def _address(local: str, domain: str) -> str:
    address = f"{local}@{domain}"
    if _ESCAPED.search(address):
        # Undecoded 8-bit header bytes arrive as surrogate escapes; in an address they can only be RFC 6532
        # UTF-8. Names are left alone: their bytes may be in a legacy charset only the caller can tell.
        try:
            decoded = address.encode("utf-8", "surrogateescape").decode("utf-8")
        except UnicodeError:
            decoded = address
        if not SPACE.search(decoded) and not CONTROL.search(decoded):
            address = decoded
    return address.lower()


def _skip_comments(toks: list[Tok], i: int) -> int:
    while i < len(toks) and toks[i].kind == "comment":
        i += 1
    return i


def _local_chain(toks: list[Tok], i: int) -> tuple[int, str]:
    """The index after the words and dots starting at I and the local part they spell, quoted only if it must
    be.

    Spaces and comments around the dots are obsolete syntax but still seen (RFC 5322 4.4); two words in a
    row with a space between are a name followed by something else.
    """
    pieces: list[str] = []
    quoted = words = after_word = gap = False
    end, n = i, len(toks)
    while i < n:
        tok = toks[i]
        if tok.kind == "comment":
            gap = True
        elif tok.kind == ".":
            pieces.append(".")
            after_word = gap = False
            end = i + 1
        elif tok.kind in _WORDS and not (after_word and (gap or tok.space)):
            pieces.append(tok.text)
            quoted = quoted or tok.kind == "quoted"
            words = after_word = True
            gap = False
            end = i + 1
        else:
            break
        i += 1
    local = "".join(pieces) if words else ""
    if quoted and not _DOT_ATOM.fullmatch(local):
        local = '"' + local.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return end, local


def _domain_chain(toks: list[Tok], i: int) -> tuple[int, str, tuple[int, str] | None]:
    """The index after the domain starting at I, the domain, and where it could end before a spaced label."""
    labels: list[str] = []
    cut = (0, 0)  # (token index, label count) before the last label that had space or a comment before it
    spaced = False  # whitespace or a comment since the last label
    end, n = i, len(toks)
    while i < n:
        tok = toks[i]
        if tok.kind == "comment":
            spaced = True
        elif tok.kind == "." and labels:
            spaced = spaced or bool(tok.space)
            labels.append(".")
            end = i + 1
        elif tok.kind in ("atom", "literal") and (not labels or labels[-1] == "."):
            if labels and (spaced or tok.space):
                cut = (end, len(labels))
            labels.append(tok.text if tok.kind == "atom" else "".join(tok.text.split()))
            spaced = False
            end = i + 1
        else:
            break
        i += 1
    return end, _tidy_domain(labels), (cut[0], _tidy_domain(labels[:cut[1]])) if cut[1] else None


def _tidy_domain(labels: list[str]) -> str:
    return "".join(labels).strip(".")


def _phrase(toks: list[Tok]) -> str:
    """A display name as written: words joined by one space where the header had whitespace or a comment."""
    out: list[str] = []
    gap = ""
    for tok in toks:
        space = tok.space if not tok.space or tok.space.strip(" \t") else " "
        if tok.kind == "comment":
            gap = gap or space or " "
            continue
        if out and (gap or space):
            out.append(space or gap)
        out.append(tok.text)
        gap = ""
    return "".join(out).strip()


def _joined(comments: list[str]) -> str:
    return " ".join(c for c in comments if c)
