"""Seeded MIME mutations of real messages; replay one case with `python -m tests.mutations FILE SEED >
case.eml`."""
from __future__ import annotations

import hashlib
import random
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

MAILS = Path(__file__).resolve().parent / "data" / "mails"
MAX_BYTES = 2 * 1024 * 1024  # every mutated message is cut to at most this size
FUZZ_DOMAIN = "fuzz.invalid"

REAL_CHARSETS = ("gbk", "big5", "iso-2022-jp", "koi8-r", "utf-16", "utf-7", "gb18030", "shift_jis", "euc-kr",
                 "windows-1251", "iso-8859-1", "utf-8", "us-ascii", "utf-32", "cp1252")
UNKNOWN_CHARSETS = (b"x-unknown", b"utf-9", b"unicode-1-1-utf-7x", b"gbk2", b"iso-8859-99", b"x-mac-klingon",
                    b'ascii"; x="', b"8bit", b"utf8mb4", b"\xc3\xa9", b"=?utf-8?Q?utf-8?=")
_CRLF = re.compile(rb"\r\n")
_LINE_END = re.compile(rb"\r\n|\r|\n")
_BLANK = re.compile(rb"\r?\n\r?\n")
_BOUNDARY = re.compile(rb"""boundary\s*=\s*(?:"([^"\r\n]*)"|([^;\s]+))""", re.IGNORECASE)
_CHARSET = re.compile(rb"""charset\s*=\s*(?:"([^"\r\n]*)"|([^;\s"]*))""", re.IGNORECASE)
_DASH_LINE = re.compile(rb"^--([^\r\n]*)(?:\r\n|\r|\n|\Z)", re.MULTILINE)
_CTE = re.compile(rb"^content-transfer-encoding[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE | re.MULTILINE)
_ENCODED = re.compile(rb"^content-transfer-encoding[ \t]*:[ \t]*\"?(base64|quoted-printable)",
                      re.IGNORECASE | re.MULTILINE)
_MSGID_FIELD = re.compile(rb"^(message-id[ \t]*:)([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)",
                          re.IGNORECASE | re.MULTILINE)

_corpus_cache: dict[Path, bytes] = {}


# ----------------------------------------------------------------------------------------------------------
# Pieces of a raw message


def _nl(raw: bytes) -> bytes:
    """The line ending RAW mostly uses."""
    head = raw[:8192]
    return b"\r\n" if head.count(b"\r\n") * 2 >= head.count(b"\n") and b"\r\n" in head else b"\n"


def _split(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """(header block, blank-line separator, body); a message without a blank line is all header."""
    found = _BLANK.search(raw)
    if not found:
        return raw, b"", b""
    return raw[:found.start()], raw[found.start():found.end()], raw[found.end():]


def _fields(head: bytes) -> list[bytes]:
    """The header fields of HEAD, each with its continuation lines and line endings."""
    out: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if out and line[:1] in (b" ", b"\t"):
            out[-1] += line
        else:
            out.append(line)
    if out and not out[-1].endswith((b"\n", b"\r")):
        out[-1] += b"\n" if b"\r\n" not in head else b"\r\n"
    return out


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def _join(fields: list[bytes], sep: bytes, body: bytes) -> bytes:
    head = b"".join(fields)
    if not sep:  # no blank line: the message is all header
        return head
    if head.endswith(b"\r\n"):
        head = head[:-2]
    elif head.endswith((b"\n", b"\r")):
        head = head[:-1]
    return head + sep + body


def _with_fields(raw: bytes, edit: Callable[[list[bytes], bytes], list[bytes]]) -> bytes:
    """RAW with its header fields replaced by what EDIT(fields, line ending) returns."""
    head, sep, body = _split(raw)
    return _join(edit(_fields(head) if head else [], _nl(raw)), sep, body)


def _random_token(rng: random.Random, n: int) -> bytes:
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'()+_,-./:=?")
                 for _ in range(n))


def _boundaries(raw: bytes) -> list[bytes]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _BOUNDARY.finditer(raw)]


def _boundary_lines(raw: bytes) -> list[tuple[int, int, bool]]:
    """(start, end incl. line ending, whether closing) of every `--boundary` and `--boundary--` line."""
    declared = {b for b in _boundaries(raw) if b}
    out = []
    for m in _DASH_LINE.finditer(raw):
        token = m.group(1).rstrip(b" \t")
        if token in declared:
            out.append((m.start(), m.end(), False))
        elif token.endswith(b"--") and token[:-2] in declared:
            out.append((m.start(), m.end(), True))
    return out


def _encoded_regions(raw: bytes) -> list[tuple[int, int]]:
    """(start, end) of every base64 or quoted-printable body (the top-level one or a part's)."""
    out = []
    for m in _ENCODED.finditer(raw):
        blank = _BLANK.search(raw, m.end())
        if not blank:
            continue
        start = blank.end()
        end = raw.find(b"\n--", start)
        out.append((start, end if end >= 0 else len(raw)))
    return out


# ----------------------------------------------------------------------------------------------------------
# Mutations: each takes the bytes and the generator and returns new bytes


def truncate(raw: bytes, rng: random.Random) -> bytes:
    """Cuts the message at a random point: anywhere, in the header block, in a boundary line, in an encoded
    body."""
    if not raw:
        return raw
    where = rng.choice(("anywhere", "header", "boundary", "encoded"))
    if where == "header":
        head, _sep, _body = _split(raw)
        return raw[:rng.randint(0, len(head))]
    if where == "boundary":
        lines = _boundary_lines(raw)
        if lines:
            start, end, _closing = rng.choice(lines)
            return raw[:rng.randint(start, end)]
    if where == "encoded":
        regions = _encoded_regions(raw)
        if regions:
            start, end = rng.choice(regions)
            return raw[:rng.randint(start, end)]
    return raw[:rng.randint(0, len(raw))]


def drop_boundary_line(raw: bytes, rng: random.Random) -> bytes:
    """Removes one `--boundary` line."""
    lines = [x for x in _boundary_lines(raw) if not x[2]]
    if not lines:
        return raw
    start, end, _closing = rng.choice(lines)
    return raw[:start] + raw[end:]


def duplicate_boundary_line(raw: bytes, rng: random.Random) -> bytes:
    """Writes one boundary line (opening or closing) twice, or several times."""
    lines = _boundary_lines(raw)
    if not lines:
        return raw
    start, end, _closing = rng.choice(lines)
    line = raw[start:end] if raw[start:end].endswith((b"\n", b"\r")) else raw[start:end] + _nl(raw)
    return raw[:start] + line * rng.choice((2, 2, 3, 10)) + raw[end:]


def drop_closing_boundary(raw: bytes, rng: random.Random) -> bytes:
    """Removes the closing `--boundary--` line(s)."""
    lines = [x for x in _boundary_lines(raw) if x[2]]
    if not lines:
        return raw
    if rng.random() < 0.5:
        lines = [rng.choice(lines)]
    for start, end, _closing in reversed(lines):
        raw = raw[:start] + raw[end:]
    return raw


def change_boundary(raw: bytes, rng: random.Random) -> bytes:
    """Changes a declared `boundary=` parameter so the body's boundary lines no longer match it."""
    found = list(_BOUNDARY.finditer(raw))
    if not found:
        return raw
    m = rng.choice(found)
    value = m.group(1) if m.group(1) is not None else m.group(2)
    new = rng.choice((b"", value[:-1], value + b"x",
                      value.upper() if value.upper() != value else value.lower(),
                      _random_token(rng, rng.randint(1, 70)), b"=_" * 50, b" " + value, value + b" "))
    return raw[:m.start()] + b'boundary="' + new + b'"' + raw[m.end():]


def boundary_on_non_multipart(raw: bytes, rng: random.Random) -> bytes:
    """Declares a boundary where there is no multipart: text/plain with a boundary, or multipart without
    parts."""
    boundary = _random_token(rng, rng.randint(4, 30)).replace(b'"', b"")
    if rng.random() < 0.5:
        value = b'text/plain; charset="utf-8"; boundary="' + boundary + b'"'
    else:
        value = b'multipart/' + rng.choice((b"mixed", b"alternative", b"related", b"report")) + \
            b'; boundary="' + boundary + b'"'

    def edit(fields: list[bytes], nl: bytes) -> list[bytes]:
        kept = [f for f in fields if _name(f) != b"content-type"]
        return kept + [b"Content-Type: " + value + nl]
    return _with_fields(raw, edit)


def change_charset(raw: bytes, rng: random.Random) -> bytes:
    """Changes a declared charset to another real one, an unknown name, an empty or an absurdly long value."""
    kind = rng.choice(("real", "real", "unknown", "empty", "long"))
    if kind == "real":
        new = rng.choice(REAL_CHARSETS).encode()
    elif kind == "unknown":
        new = rng.choice(UNKNOWN_CHARSETS)
    elif kind == "empty":
        new = b""
    else:
        new = _random_token(rng, 1).lower() * rng.randint(300, 20_000)
    quoted = rng.random() < 0.5
    value = b'"' + new + b'"' if quoted or not new else new
    found = list(_CHARSET.finditer(raw))
    if found:
        targets = found if rng.random() < 0.3 else [rng.choice(found)]
        for m in reversed(targets):
            raw = raw[:m.start()] + b"charset=" + value + raw[m.end():]
        return raw

    def edit(fields: list[bytes], nl: bytes) -> list[bytes]:
        kept = [f for f in fields if _name(f) != b"content-type"]
        return kept + [b"Content-Type: text/plain; charset=" + value + nl]
    return _with_fields(raw, edit)


_CONTROL_BYTES = bytes(range(1, 32)) + b"\x7f"


def _noise(rng: random.Random) -> bytes:
    kind = rng.choice(("nul", "control", "8bit", "mixed"))
    n = rng.choice((1, 1, 2, 5, 20))
    if kind == "nul":
        return b"\x00" * n
    if kind == "control":
        return bytes(rng.choice(_CONTROL_BYTES) for _ in range(n))
    if kind == "8bit":
        return bytes(rng.randint(0x80, 0xFF) for _ in range(n))
    return bytes(rng.randint(0, 255) for _ in range(n))


def insert_bytes(raw: bytes, rng: random.Random) -> bytes:
    """Inserts NULs, control bytes or random 8-bit bytes into header names, header values or the body."""
    for _ in range(rng.randint(1, 8)):
        head, sep, _body = _split(raw)
        where = rng.choice(("name", "value", "body"))
        fields = _fields(head) if head and where != "body" else []
        if fields:
            index = rng.randrange(len(fields))
            offset = sum(len(f) for f in fields[:index])
            field = fields[index].rstrip(b"\r\n")
            colon = field.find(b":")
            if colon < 0:
                pos = offset + rng.randint(0, len(field))
            elif where == "name":
                pos = offset + rng.randint(0, colon)
            else:
                pos = offset + rng.randint(colon + 1, len(field))
        elif sep:
            pos = rng.randint(len(head) + len(sep), len(raw))
        else:
            pos = rng.randint(0, len(raw))
        raw = raw[:pos] + _noise(rng) + raw[pos:]
    return raw


_SYNTHETIC_HEADERS = {
    b"from": b"From: Someone <someone@client.example>",
    b"subject": b"Subject: Another subject",
    b"content-type": b"Content-Type: text/html; charset=iso-8859-1",
    b"message-id": b"Message-ID: <other@client.example>",
}


def repeat_header(raw: bytes, rng: random.Random) -> bytes:
    """Repeats From, Subject, Content-Type or Message-ID twice or 50 times (the same value, or a conflicting
    one)."""
    name = rng.choice(tuple(_SYNTHETIC_HEADERS))
    times = rng.choice((2, 2, 3, 50))

    def edit(fields: list[bytes], nl: bytes) -> list[bytes]:
        existing = [f for f in fields if _name(f) == name]
        copy = existing[0] if existing and rng.random() < 0.7 else _SYNTHETIC_HEADERS[name] + nl
        if copy.startswith(b"Message-ID: <other@"):  # a conflicting id, but not one other cases share
            copy = b"Message-ID: <other.%x@client.example>" % rng.getrandbits(48) + nl
        at = fields.index(existing[0]) + 1 if existing else rng.randint(0, len(fields))
        return fields[:at] + [copy] * (times - (1 if existing else 0)) + fields[at:]
    return _with_fields(raw, edit)


def delete_header(raw: bytes, rng: random.Random) -> bytes:
    """Deletes every From, Message-ID, Date, Subject or Content-Type field (one name, or several)."""
    names = {b"from", b"message-id", b"date", b"subject", b"content-type"}
    gone = set(rng.sample(sorted(names), rng.choice((1, 1, 1, 2, 5))))
    return _with_fields(raw, lambda fields, nl: [f for f in fields if _name(f) not in gone])


def long_header(raw: bytes, rng: random.Random) -> bytes:
    """Makes one header line 100,000 bytes long (one unbroken token, words, or encoded words)."""
    size = rng.choice((100_000, 100_000, 20_000, 998 * 3))
    kind = rng.choice(("token", "words", "encoded"))
    if kind == "token":
        filler = _random_token(rng, 64) * (size // 64 + 1)
    elif kind == "words":
        filler = b"word " * (size // 5 + 1)
    else:
        filler = b"=?utf-8?B?5oql6KGo5a+85Ye66ZSZ6K+v?= " * (size // 37 + 1)
    filler = filler[:size]

    def edit(fields: list[bytes], nl: bytes) -> list[bytes]:
        target = rng.choice((b"subject", b"from", b"to", b"content-type", b"references", b"x-long"))
        for i, f in enumerate(fields):
            if _name(f) == target:
                line = f.rstrip(b"\r\n")
                return fields[:i] + [line + b" " + filler + nl] + fields[i + 1:]
        return fields + [target.title() + b": " + filler + nl]
    return _with_fields(raw, edit)


def bad_fold(raw: bytes, rng: random.Random) -> bytes:
    """A continuation line where no header started: first in the message, or after the blank line."""
    cont = rng.choice((b" folded continuation", b"\tstray: value", b" ", b"  =?utf-8?Q?caf=C3=A9?="))
    nl = _nl(raw)
    if rng.random() < 0.7:
        return cont + nl + raw
    head, sep, body = _split(raw)
    return head + sep + cont + nl + body if sep else raw + nl + cont + nl


def line_endings(raw: bytes, rng: random.Random) -> bytes:
    """Replaces CRLF by LF, every line ending by a lone CR, or mixes them."""
    kind = rng.choice(("lf", "cr", "mixed", "crcrlf"))
    if kind == "lf":
        return _CRLF.sub(b"\n", raw)
    if kind == "cr":
        return _LINE_END.sub(b"\r", raw)
    if kind == "crcrlf":
        return _LINE_END.sub(b"\r\r\n", raw)
    return _LINE_END.sub(lambda _m: rng.choice((b"\r\n", b"\n", b"\r")), raw[:200_000]) + raw[200_000:]


def deep_nesting(raw: bytes, rng: random.Random) -> bytes:
    """Wraps the body in 50-2,000 levels of multipart/mixed, or of message/rfc822."""
    levels = rng.choice((50, 100, 500, 1000, 2000, rng.randint(50, 2000)))
    head, sep, body = _split(raw)
    nl = _nl(raw)
    fields = _fields(head) if head else []
    content = [f for f in fields if _name(f).startswith(b"content-")]
    outer = [f for f in fields if not _name(f).startswith(b"content-") and _name(f) != b"mime-version"]
    if rng.random() < 0.25:  # message/rfc822 all the way down, the original message innermost
        wrapper = b"Content-Type: message/rfc822" + nl + nl
        return b"".join(outer) + b"MIME-Version: 1.0" + nl + wrapper * levels + raw
    inner = b"".join(content) + nl + body
    same = rng.random() < 0.2  # every level reusing one boundary
    closing = rng.random() < 0.7
    opening, ends = [], []
    for level in range(levels):
        b = b"nest" if same else b"nest" + str(level).encode()
        opening.append(b"Content-Type: multipart/mixed; boundary=\"" + b + b"\"" + nl + nl + b"--" + b + nl)
        ends.append(nl + b"--" + b + b"--" + nl if closing else b"")
    return b"".join(outer) + b"MIME-Version: 1.0" + nl + b"".join(opening) + inner + b"".join(reversed(ends))


def corrupt_encoding(raw: bytes, rng: random.Random) -> bytes:
    """Corrupts base64 or quoted-printable payloads."""
    regions = _encoded_regions(raw)
    if not regions:
        return raw
    start, end = rng.choice(regions)
    if end <= start:
        return raw
    payload = raw[start:end]
    kind = rng.choice(("garbage", "padding", "cut", "qp", "8bit", "lines"))
    if kind == "garbage":
        for _ in range(rng.randint(1, 10)):
            pos = rng.randint(0, len(payload))
            payload = payload[:pos] + rng.choice((b"!", b"@#$", b"=", b"==", b"*", b"-", b"\x00",
                                                  b"\xff")) + \
                payload[pos:]
    elif kind == "padding":
        payload = payload.replace(b"=", b"") if rng.random() < 0.5 else payload + b"===="
    elif kind == "cut":
        pos = rng.randint(0, len(payload))
        payload = payload[:pos] + payload[pos + rng.randint(1, 3):]
    elif kind == "qp":
        for _ in range(rng.randint(1, 10)):
            pos = rng.randint(0, len(payload))
            payload = payload[:pos] + rng.choice((b"=ZZ", b"=", b"=4", b"=\r", b"= \n", b"=0", b"=\xff")) + \
                payload[pos:]
    elif kind == "8bit":
        pos = rng.randint(0, len(payload))
        payload = payload[:pos] + bytes(rng.randint(0x80,
                                                    0xFF) for _ in range(rng.randint(1, 64))) + payload[pos:]
    else:
        payload = payload.replace(b"\n", b"") if rng.random() < 0.5 else payload.replace(b"\n", b"\n\n")
    return raw[:start] + payload + raw[end:]


_UNKNOWN_CTE = (b"x-uuencode", b"base65", b"8bit7bit", b"", b"binary", b"quoted-printable; foo=bar",
                b"BASE64x",
                b"x-gzip64", b"7bit base64", b"uuencode", b"\"base64\"", b"b\x00ase64", b"=?utf-8?Q?base64?=")


def unknown_transfer_encoding(raw: bytes, rng: random.Random) -> bytes:
    """Sets Content-Transfer-Encoding to an unknown (or oddly written) value."""
    value = rng.choice(_UNKNOWN_CTE)
    if value == b"":
        value = _random_token(rng, rng.randint(1, 200))
    found = list(_CTE.finditer(raw))
    if found:
        m = rng.choice(found)
        return raw[:m.start(1)] + value + raw[m.end(1):]

    def edit(fields: list[bytes], nl: bytes) -> list[bytes]:
        return fields + [b"Content-Transfer-Encoding: " + value + nl]
    return _with_fields(raw, edit)


_BAD_ADDRESSES = (
    b"client.example", b"someone at client.example", b"a@b.example c@d.example",
    b"a@b.example c@d.example e@f",
    b"(comment) user@client.example (another one)", b"user(inner)@client.example",
    b"<unbalanced@client.example",
    b"Name <a@client.example", b"Name a@client.example>", b"<<a@client.example>>",
    b"=?x-unknown?B?5oql6KGo?= <a@client.example>",
    b"=?utf-8?Q?bad=ZZ?= <a@client.example>", b"=?gbk?B?////?= <a@client.example>", b"a@@client.example",
    b"@",
    b"a@b@client.example", b"user@ex ample.com", b"\"quoted <a@b.example>\" <c@client.example>", b"<>",
    b"a@b.example, <c@d.example", b"group: a@b.example, c@d.example;", b"user@[127.0.0.1]",
    b"first.last@client.example\r\n second@client.example", b"x" * 400 + b"@client.example",
    b"\"a@b\"@client.example", b"Name <a@b.example> extra@client.example", b"<a@b.example> (Name)",
    b"a@client.example;b@client.example", b"\"unterminated <a@client.example>",
    b"=?utf-8?B?YUBiLmV4YW1wbGU=?=",
    b"\xe5\xae\xa2\xe6\x88\xb7 <\xe5\xae\xa2@client.example>", b"a@client.example\x00b@evil.example",
    b"mailto:a@client.example", b"Name <mailto:a@client.example>", b"a@client.example>",
    b"a<b@client.example",
)


def mangle_address(raw: bytes, rng: random.Random) -> bytes:
    """Puts a broken address into From, To or Reply-To."""
    name = rng.choice((b"From", b"From", b"Reply-To", b"To"))
    value = rng.choice(_BAD_ADDRESSES)

    def edit(fields: list[bytes], nl: bytes) -> list[bytes]:
        line = name + b": " + value.replace(b"\r\n", nl) + nl
        for i, f in enumerate(fields):
            if _name(f) == name.lower():
                return fields[:i] + [line] + fields[i + 1:]
        return [line] + fields
    return _with_fields(raw, edit)


def hollow(raw: bytes, rng: random.Random) -> bytes:
    """Empties the message, or keeps only its headers, or only its body."""
    kind = rng.choice(("empty", "whitespace", "headers", "headers-blank", "body"))
    head, sep, body = _split(raw)
    if kind == "empty":
        return b""
    if kind == "whitespace":
        return rng.choice((b"\r\n", b"\n\n", b" ", b"\r\n\r\n\r\n"))
    if kind == "headers":
        return head
    if kind == "headers-blank":
        return head + (sep or _nl(raw) * 2)
    return body if sep else raw


def bit_flips(raw: bytes, rng: random.Random) -> bytes:
    """Flips bits, or swaps in random bytes, in one random region."""
    if not raw:
        return raw
    start = rng.randrange(len(raw))
    length = min(len(raw) - start, rng.choice((1, 4, 16, 64, 256)))
    region = bytearray(raw[start:start + length])
    if rng.random() < 0.5:
        for i in range(len(region)):
            if rng.random() < 0.3:
                region[i] ^= 1 << rng.randrange(8)
    else:
        region = bytearray(rng.randrange(256) for _ in region)
    return raw[:start] + bytes(region) + raw[start + length:]


MUTATIONS: tuple[Callable[[bytes, random.Random], bytes], ...] = (
    truncate, drop_boundary_line, duplicate_boundary_line, drop_closing_boundary, change_boundary,
    boundary_on_non_multipart, change_charset, insert_bytes, repeat_header, delete_header, long_header,
    bad_fold,
    line_endings, deep_nesting, corrupt_encoding, unknown_transfer_encoding, mangle_address, hollow,
    bit_flips,
)


# ----------------------------------------------------------------------------------------------------------
# Public API


def mutate(raw: bytes, rng: random.Random, applied: list[str] | None = None) -> bytes:
    """RAW with 1-3 mutations picked by RNG applied, at most MAX_BYTES long; their names go to APPLIED."""
    for _ in range(rng.choice((1, 1, 2, 3))):
        # a mutation with nothing to act on (no boundary, no base64) leaves RAW as it is
        for _attempt in range(3):
            mutation = rng.choice(MUTATIONS)
            changed = mutation(raw, rng)[:MAX_BYTES]
            if changed != raw:
                break
        raw = changed
        if applied is not None:
            applied.append(mutation.__name__)
    return raw


def stamp_message_id(raw: bytes, token: str) -> bytes:
    """RAW with every Message-ID field set to one id made of TOKEN (one added when there is none).

    Mutated copies of one corpus file would otherwise share its Message-ID and be stored once as duplicates.
    """
    value = f"<{token}@{FUZZ_DOMAIN}>".encode()
    head, sep, body = _split(raw)
    stamped, n = _MSGID_FIELD.subn(lambda m: m.group(1) + b" " + value, head)
    if n:
        return stamped + sep + body
    nl = _nl(raw)
    if raw.startswith(b"From "):  # an mbox envelope line stays first
        first, _, rest = raw.partition(b"\n")
        return first + b"\n" + b"Message-ID: " + value + nl + rest
    return b"Message-ID: " + value + nl + raw


def corpus() -> list[Path]:
    """Every *.eml in the folders of tests/data/mails, sorted."""
    return sorted(MAILS.glob("*/*.eml"))


def case_name(path: Path) -> str:
    """A corpus file's name as cases report it: relative to tests/data/mails."""
    return path.relative_to(MAILS).as_posix()


def _read(path: Path) -> bytes:
    path = path.resolve()
    if path not in _corpus_cache:
        _corpus_cache[path] = path.read_bytes()
    return _corpus_cache[path]


def case_seed(run_seed: int, index: int) -> int:
    """The seed of message INDEX of a run seeded RUN_SEED."""
    digest = hashlib.blake2b(f"{run_seed}:{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def case(file: str | Path, seed: int, applied: list[str] | None = None) -> bytes:
    """The mutated bytes of one case: a corpus file (path, or name relative to tests/data/mails) and its seed.

    The names of the mutations applied go to APPLIED.
    """
    path = Path(file)
    if not path.is_file():
        path = MAILS / file
    rng = random.Random(seed)
    raw = stamp_message_id(_read(path), f"{seed:016x}.{rng.getrandbits(40):010x}")
    return mutate(raw, rng, applied)


def mutated_corpus(count: int, seed: int) -> Iterator[tuple[str, int, bytes]]:
    """COUNT cases (corpus file name, the case's own seed, mutated bytes), cycling over the corpus."""
    files = corpus()
    for index in range(count):
        path = files[index % len(files)]
        own = case_seed(seed, index)
        yield case_name(path), own, case(path, own)


def replay_command(name: str, seed: int) -> str:
    """The shell command that writes one case's bytes to stdout."""
    return f"python -m tests.mutations {name} {seed}"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m tests.mutations FILE SEED  (FILE relative to tests/data/mails, or a path)",
              file=sys.stderr)
        return 2
    applied: list[str] = []
    sys.stdout.buffer.write(case(argv[0], int(argv[1]), applied))
    print(f"mutations: {', '.join(applied)}", file=sys.stderr)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
