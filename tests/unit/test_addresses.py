"""Lenient mailbox extraction from real, obsolete and hostile From/To/Cc/Reply-To values."""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from email.header import decode_header, make_header
from email.utils import formataddr
from pathlib import Path
from types import FrameType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.parse.addresses import Mailbox, first_mailbox, mailboxes, plausible

MIKEL = Path(__file__).resolve().parents[1] / "data" / "mails" / "mikel-mail"
# Deterministic and quick: the same examples on every run and in CI, nothing written to .hypothesis/.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)

_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:(.*)", re.S)  # obsolete syntax allows space before the colon


def header(filename: str, field: str) -> str:
    """The raw value of the first FIELD header of a corpus message, folding (CRLF + whitespace) kept.

    Lines that are neither a field nor a continuation are skipped.
    """
    text = (MIKEL / filename).read_bytes().decode("utf-8", "surrogateescape")
    head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
    fields: list[list[str]] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (" ", "\t") and fields:
            fields[-1][1] += line
        elif found := _FIELD.match(line):
            fields.append([found.group(1), found.group(2)])
    value = next(v for k, v in fields if k.lower() == field.lower())
    return value.rstrip("\r\n").lstrip(" \t")


def pairs(value: str) -> list[tuple[str, str]]:
    return [(m.name, m.address) for m in mailboxes(value)]


# --- real headers ------------------------------------------------------------------------------------------

REAL = [
    ("rfc2822-example01.eml", "From", [("John Doe", "jdoe@machine.example")]),
    ("rfc2822-example01.eml", "To", [("Mary Smith", "mary@example.net")]),
    ("rfc2822-example02.eml", "Sender", [("Michael Jones", "mjones@machine.example")]),
    ("rfc2822-example03.eml", "From", [("Joe Q. Public", "john.q.public@example.com")]),
    ("rfc2822-example03.eml", "To",
     [("Mary Smith", "mary@x.test"), ("", "jdoe@example.org"), ("Who?", "one@y.test")]),
    ("rfc2822-example03.eml", "Cc", [("", "boss@nil.test"), ('Giant; "Big" Box', "sysservices@example.net")]),
    ("rfc2822-example04.eml", "From", [("Pete", "pete@silly.example")]),
    ("rfc2822-example04.eml", "To",
     [("Chris Jones", "c@a.test"), ("", "joe@where.test"), ("John", "jdoe@one.test")]),
    ("rfc2822-example04.eml", "Cc", []),  # "Undisclosed recipients:;"
    ("rfc2822-example06.eml", "Reply-To", [("Mary Smith: Personal Account", "smith@home.example")]),
    ("rfc2822-example07.eml", "To", [("Mary Smith: Personal Account", "smith@home.example")]),
    ("rfc2822-example10.eml", "From", [("Pete", "pete@silly.test")]),
    ("rfc2822-example10.eml", "To",  # a folded group with comments everywhere
     [("Chris Jones", "c@public.example"), ("", "joe@example.org"), ("John", "jdoe@one.test")]),
    ("rfc2822-example10.eml", "Cc", []),
    ("rfc2822-example11.eml", "From", [("Joe Q. Public", "john.q.public@example.com")]),
    ("rfc2822-example11.eml", "To",  # a source route, an empty list element and spaces around a dot
     [("Mary Smith", "mary@example.net"), ("", "jdoe@test.example")]),
    ("rfc2822-example13.eml", "From", [("John Doe", "jdoe@machine.example")]),
    # The RFC folds this To field across a whitespace-only line; the fixture has "__" there, skipped by
    # header().
    ("rfc2822-example13.eml", "To", [("Mary Smith", "mary@example.net")]),
    ("rfc2822-example14.eml", "Reply-To", [("", "rudeboyjet@gmail.com")]),
    ("plain_emails-raw_email_multiple_from.eml", "From",
     [("", "tim@powerupdev.com"), ("", "concierge@powerupdev.com")]),
    ("plain_emails-raw_email_multiple_from.eml", "To",
     [("", "tim@powerupdev.com"), ("", "concierge@powerupdev.com")]),
    ("plain_emails-raw_email_multiple_from.eml", "Reply-To",
     [("", "tim@powerupdev.com"), ("", "concierge@powerupdev.com")]),
    ("plain_emails-raw_email_with_at_display_name.eml", "From",
     [("Mikel Lindsaar", "test@lindsaar.net"), ("", "jack@lindsar.com")]),
    ("plain_emails-raw_email_with_at_display_name.eml", "To",
     [("", "smith@gmail.com"), ("Mikel@Lindsaar", "raasdnil@gmail.com"), ("", "tom@gmail.com")]),
    ("plain_emails-raw_email_trailing_dot.eml", "From", [("Sandy M.", "noreply@rubyforge.org")]),
    ("error_emails-cant_parse_from.eml", "From", [("Apple", "news@insideapple.apple.com")]),
    ("error_emails-weird_to_header.eml", "To", [("", "user-example@aol.com"),
                                                ("", "e-s-a-s-2200@app.ar.com")]),
    ("error_emails-empty_group_lists.eml", "To", []),  # "undisclosed recipients: ;"
    ("rfc6532-utf8_headers.eml", "From", [("Jöhn Doe", "jdöe@mächine.example")]),
    ("rfc6532-utf8_headers.eml", "To", [("Märy Smith", "märy@exämple.net")]),
]


@pytest.mark.parametrize(("filename", "field", "expected"), REAL, ids=[f"{f}:{h}" for f, h, _ in REAL])
def test_real_headers(filename, field, expected):
    assert pairs(header(filename, field)) == expected


def test_real_folded_to_list():
    value = header("error_emails-new_line_in_to_header.eml", "To")
    assert "\n" in value
    found = mailboxes(value)
    assert found[:3] == [Mailbox("", "leads@sg.dc.com"), Mailbox("", "sag@leads.gs.ry.com"),
                         Mailbox("", "sn@example-hotmail.com")]
    assert all(plausible(m.address) for m in found)


def test_raw_utf8_header_bytes_as_surrogate_escapes():
    # compat32 hands 8-bit header bytes over as surrogate escapes: the address is UTF-8 (RFC 6532), the
    # name stays escaped for the caller, who knows the message's charset hint.
    raw = header("rfc6532-utf8_headers.eml", "From").encode().decode("ascii", "surrogateescape")
    (box,) = mailboxes(raw)
    assert box.address == "jdöe@mächine.example"
    assert box.name == "Jöhn Doe".encode().decode("ascii", "surrogateescape")
    assert mailboxes("a\udcff@b.example") == [Mailbox("", "a\udcff@b.example")]  # not UTF-8: kept as is


@pytest.mark.parametrize(("filename", "expected"), [
    ("plain_emails-raw_email_multiple_from.eml", Mailbox("", "tim@powerupdev.com")),
    ("rfc2822-example10.eml", Mailbox("Pete", "pete@silly.test")),
    ("rfc2822-example13.eml", Mailbox("John Doe", "jdoe@machine.example")),
    ("plain_emails-raw_email_with_at_display_name.eml", Mailbox("Mikel Lindsaar", "test@lindsaar.net")),
])
def test_first_mailbox_of_real_from(filename, expected):
    assert first_mailbox(header(filename, "From")) == expected


# --- synthetic cases ---------------------------------------------------------------------------------------

CASES = [
    # the failures that motivated the module
    ("tim@powerupdev.com concierge@powerupdev.com", [("", "tim@powerupdev.com"),
                                                     ("", "concierge@powerupdev.com")]),
    ("pete(his account)@silly.test(his host)", [("his host", "pete@silly.test")]),
    ("big bug bb@bug.com", [("big bug", "bb@bug.com")]),
    # ordinary forms
    ('"Name" <a@b.c>', [("Name", "a@b.c")]),
    ("Name <a@b.c>", [("Name", "a@b.c")]),
    ("<a@b.c>", [("", "a@b.c")]),
    ("a@b.c", [("", "a@b.c")]),
    ("a@b.c (Name)", [("Name", "a@b.c")]),
    ("Name <a@b.c> (comment)", [("Name", "a@b.c")]),
    ("<a@b.c> (Name)", [("Name", "a@b.c")]),
    ("(Name) <a@b.c>", [("Name", "a@b.c")]),
    ('"Name"<a@b.c>', [("Name", "a@b.c")]),
    ("Joe Q. Public <john.q.public@example.com>", [("Joe Q. Public", "john.q.public@example.com")]),
    ("Zhang San <Zhang.San@Client.EXAMPLE>", [("Zhang San", "zhang.san@client.example")]),
    # comments: nested, escaped, anywhere
    (r"Pete(A wonderful \) chap) <pete(his account)@silly.test(his host)>", [("Pete", "pete@silly.test")]),
    (r"a@b.c (outer (inner \( x) y)", [("outer (inner ( x) y", "a@b.c")]),
    ("john (x) @ example . com", [("", "john@example.com")]),
    ("John Doe <jdoe@machine(comment).  example>", [("John Doe", "jdoe@machine.example")]),
    ("c@(Chris's host.)public.example", [("", "c@public.example")]),
    # commas inside display names
    ("Doe, John <j@x.com>", [("Doe, John", "j@x.com")]),
    ("Doe, John, Jr. <j@x.com>, other@y.com", [("Doe, John, Jr.", "j@x.com"), ("", "other@y.com")]),
    ('"Doe, John" <j@x.com>, a@b.c', [("Doe, John", "j@x.com"), ("", "a@b.c")]),
    ("a@b.c, Doe <j@x.com>", [("", "a@b.c"), ("Doe", "j@x.com")]),
    # several mailboxes
    ("a@x.com, b@y.com", [("", "a@x.com"), ("", "b@y.com")]),
    ("a@x.com b@y.com\tc@z.com", [("", "a@x.com"), ("", "b@y.com"), ("", "c@z.com")]),
    ("Bob Dunite <bob@extern> Bobby Dunite <bobby@extern>",
     [("Bob Dunite", "bob@extern"), ("Bobby Dunite", "bobby@extern")]),
    ("a@b.c John <j@x.com>", [("", "a@b.c"), ("John", "j@x.com")]),
    ("a@b. c@d.e", [("", "a@b"), ("", "c@d.e")]),
    (", , a@b.c,,", [("", "a@b.c")]),
    # groups
    ("Team: a@x.com, b@y.com;", [("", "a@x.com"), ("", "b@y.com")]),
    ("undisclosed-recipients:;", []),
    ("undisclosed recipients: ;", []),
    ("Team: a@x.com;, c@z.com", [("", "a@x.com"), ("", "c@z.com")]),
    ("(Empty list)(start)Undisclosed recipients  :(nobody(that I know))  ;", []),
    # routes and URLs
    ("<@r1,@r2:user@dom.com>", [("", "user@dom.com")]),
    ("Mary <@machine.tld:mary@example.net>", [("Mary", "mary@example.net")]),
    ("<mailto:a@b.c>", [("", "a@b.c")]),
    # local parts
    ('"john doe"@example.com', [("", '"john doe"@example.com')]),
    ('"John Doe"@Example.COM (JD)', [("JD", '"john doe"@example.com')]),
    ('"john"@example.com', [("", "john@example.com")]),
    (r'"a\"b"@x.com', [("", r'"a\"b"@x.com')]),
    ('"a"."b"@x.com', [("", "a.b@x.com")]),
    ("Jöhn <Jö@Bücher.DE>", [("Jöhn", "jö@bücher.de")]),
    ("张三 <zhang@例子.中国>", [("张三", "zhang@例子.中国")]),
    ("a@[192.0.2.1]", [("", "a@[192.0.2.1]")]),
    # no address
    ("MAILER-DAEMON <>", [("MAILER-DAEMON", "")]),
    ("Mail Delivery Subsystem <MAILER-DAEMON>", [("Mail Delivery Subsystem", "")]),
    ("mailer-daemon", [("mailer-daemon", "")]),
    ("a@", [("a@", "")]),
    ("@x.com", [("@x.com", "")]),
    ("a@b@c.com", [("a@b@c.com", "")]),
    ("<a@b@c.com>", []),
    ("<>", []),
    ("<Undisclosed-Recipient:@mailman.enron.com;>", []),
    ("", []),
    ("   ", []),
    ("(just a comment)", []),
    # display names that are or hold addresses
    ("Mikel@Lindsaar <raasdnil@gmail.com>", [("Mikel@Lindsaar", "raasdnil@gmail.com")]),
    ("alice@example.com <bob@example.com>", [("alice@example.com", "bob@example.com")]),
    ('"alice@example.com" <bob@example.com>', [("alice@example.com", "bob@example.com")]),
    # encoded words stay encoded
    ("=?utf-8?b?5byg5LiJ?= <z@x.cn>", [("=?utf-8?b?5byg5LiJ?=", "z@x.cn")]),
    ("=?utf-8?q?J.?= =?utf-8?q?Doe?= <z@x.cn>", [("=?utf-8?q?J.?= =?utf-8?q?Doe?=", "z@x.cn")]),
    ('"=?utf-8?b?5byg5LiJ?=" <z@x.cn>', [("=?utf-8?b?5byg5LiJ?=", "z@x.cn")]),
    # unbalanced and stray characters
    ('"unbalanced <a@b.c>', [("unbalanced", "a@b.c")]),
    ("John (unbalanced <a@b.c>", [("John unbalanced", "a@b.c")]),
    ("John <a@b.c", [("John", "a@b.c")]),
    ("John <a@b.c, d@e.f", [("John", "a@b.c"), ("", "d@e.f")]),
    ("<a@b.c, d@e.f>", [("", "a@b.c"), ("", "d@e.f")]),
    ("a@b.c>", [("", "a@b.c")]),
    ("a@b.c <", [("", "a@b.c")]),
    ("x <<a@b.c>>", [("x", "a@b.c")]),
    ("John < Doe <j@x.com>", [("John Doe", "j@x.com")]),
    ("a@b.c) (x", [("", "a@b.c"), ("x", "")]),
    ("[External] John <j@x.com>", [("[External] John", "j@x.com")]),
    ("[oops John <j@x.com>", [("oops John", "j@x.com")]),
    # trailing dots
    ("a@b.c.", [("", "a@b.c")]),
    ("Sandy M. <noreply@rubyforge.org> ", [("Sandy M.", "noreply@rubyforge.org")]),
    ("Sandy M. <noreply@rubyforge.org.>", [("Sandy M.", "noreply@rubyforge.org")]),
    # control characters and folding
    ("Jo\x00hn <j\x00@x\x7f.com>", [("John", "j@x.com")]),
    ("John\x1b[31m <j@x.com>", [("John 31m", "j@x.com")]),
    ('"John\r\n Doe"\r\n <j@x.com>', [("John Doe", "j@x.com")]),
    ("John\r\n\tDoe <j@x.com>,\r\n a@b.c", [("John Doe", "j@x.com"), ("", "a@b.c")]),
    ("张\u3000三 <z@x.cn>", [("张\u3000三", "z@x.cn")]),
]


@pytest.mark.parametrize(("value", "expected"), CASES, ids=[repr(v)[:60] for v, _ in CASES])
def test_cases(value, expected):
    assert pairs(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("tim@powerupdev.com concierge@powerupdev.com", Mailbox("", "tim@powerupdev.com")),
    ("big bug bb@bug.com", Mailbox("big bug", "bb@bug.com")),
    ("mailer-daemon, a@b.example", Mailbox("", "a@b.example")),
    ("Broken <a@b@c.example>, Good <g@client.example>", Mailbox("Good", "g@client.example")),
    ("x@under_score.example y@client.example", Mailbox("", "y@client.example")),
    ("mailer-daemon", Mailbox("mailer-daemon", "")),
    ("MAILER-DAEMON <>", Mailbox("MAILER-DAEMON", "")),
    ("a@[192.0.2.1]", Mailbox("", "a@[192.0.2.1]")),  # no plausible one: the first as found
    ("", Mailbox("", "")),
    ("undisclosed-recipients:;", Mailbox("", "")),
])
def test_first_mailbox(value, expected):
    assert first_mailbox(value) == expected


@pytest.mark.parametrize("address", [
    "a@b.example", "a@localhost", "first.last+tag@sub.client.example", "jdöe@mächine.example",
    "тест@пример.рф", "a@उदाहरण.परीक्षा", '"john doe"@example.com', r'"a\"b"@x.com', "a@xn--mnchen-3ya.de",
    "a@1.2.3.4", "x@" + "a" * 63 + ".example", "john.@docomo.example",
])
def test_plausible(address):
    assert plausible(address)


@pytest.mark.parametrize("address", [
    "", "a", "@b.c", "a@", "a@b..c", "a@.b.c", "a@b.c.", "a@-b.c", "a@b-.c", "a@b_c.d", "a b@c.d", "a@b c.d",
    "a@@b.c", "a@b@c.d", "<a@b.c>", "a@[1.2.3.4]", '""@b.c', "a(x)@b.c", "a@\udcff.example",
    "a\udcff@b.example",
    '"a\udcff"@b.example', "a\x00@b.c",
    '"unclosed@b.c', "x@" + "a" * 64 + ".example", "a@" + "b." * 127 + "c",
])
def test_not_plausible(address):
    assert not plausible(address)


def test_plausible_never_raises_on_odd_types():
    assert not plausible(None)  # type: ignore[arg-type]
    assert mailboxes(None) == []  # type: ignore[arg-type]
    assert first_mailbox(None) == Mailbox("", "")  # type: ignore[arg-type]


# Each value built from n repeated units; n = 50,000 gives values of 50 to 100 kB.
PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "words": lambda n: "a " * n,
    "dots": lambda n: "a." * n,
    "at-signs": lambda n: "a@" * n,
    "quotes": lambda n: '"\\' * n,
    "open-comments": lambda n: "(" * (2 * n),
    "nested-comments": lambda n: "(" * n + ")" * n,
    "open-angles": lambda n: "<" * (2 * n),
    "routes": lambda n: "<" + "@r," * (2 * n // 3) + ">",
    "brackets": lambda n: "[a" * n,
    "separators": lambda n: ",;:" * (2 * n // 3),
    "split-names": lambda n: ", ".join(["Doe"] * (2 * n // 5)) + ", John <j@x.com>",
    "spaced-domain": lambda n: "a@" + "b . " * (n // 2),
    "spaced-local": lambda n: "a . " * (n // 2) + "@x",
    "list": lambda n: ", ".join(f"N{i} <a{i}@x.example>" for i in range(n // 10)),
    "nul": lambda n: "\x00" * (2 * n),
}


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_long_values_parse_whole(name):
    found = mailboxes(PATHOLOGICAL[name](50_000))
    assert all(_well_formed(m.address) for m in found)
    if name == "list":
        assert len(found) == 5_000
        assert found[-1] == Mailbox("N4999", "a4999@x.example")
    if name == "split-names":
        assert found == [Mailbox(", ".join(["Doe"] * 20_000) + ", John", "j@x.com")]


def _lines_run(parse: Callable[[str], object], value: str) -> int:
    """How many Python lines PARSE runs on VALUE: a count of work that is the same on any machine."""
    count = 0

    def local(frame: FrameType, event: str, arg: object) -> Callable | None:
        nonlocal count
        if event == "line":
            count += 1
        return local

    def on_call(frame: FrameType, event: str, arg: object) -> Callable | None:
        return local

    sys.settrace(on_call)
    try:
        parse(value)
    finally:
        sys.settrace(None)
    return count


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_long_values_take_linear_work(name):
    # Four times the input: linear parsing runs about four times the lines, quadratic about sixteen times.
    small, large = (_lines_run(mailboxes, PATHOLOGICAL[name](n)) for n in (2_000, 8_000))
    assert small > 0
    assert large / small < 6, (small, large)


def test_work_count_tells_quadratic_from_linear():
    def quadratic(value: str) -> None:
        for i in range(len(value)):
            for _ in range(i // 100):
                pass

    def linear(value: str) -> None:
        for _ in value:
            pass

    counts = {parse.__name__: [_lines_run(parse, "a" * n) for n in (2_000, 8_000)]
              for parse in (quadratic, linear)}
    assert counts["linear"][1] / counts["linear"][0] < 6
    assert counts["quadratic"][1] / counts["quadratic"][0] > 6


# --- properties --------------------------------------------------------------------------------------------

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def _well_formed(address: str) -> bool:
    """One unquoted @, and outside quotes no whitespace, comment parentheses or angle brackets."""
    if not address:
        return True
    bare = _QUOTED.sub("", address)
    return bare.count("@") == 1 and not re.search(r'[\s()<>"]', bare) and address == address.lower()


_HOSTILE = st.text(alphabet=st.sampled_from(list('ab.@<>()",;:\\[] \t\r\n\x00é张=?\udcc3\udcb6\udcc2\udca0')),
                   max_size=120)
_ANY_TEXT = st.one_of(st.text(max_size=200), _HOSTILE)


@PROPERTY
@given(_ANY_TEXT)
def test_arbitrary_text_never_raises_and_addresses_are_well_formed(value):
    found = mailboxes(value)
    for box in found:
        assert isinstance(box.name, str) and isinstance(box.address, str)
        assert _well_formed(box.address), box
        assert not re.search(r"[\x00-\x08\x0a-\x1f\x7f]", box.name + box.address)
        assert box.name == box.name.strip()
    first = first_mailbox(value)
    assert first in found or first == Mailbox("", "")
    assert isinstance(plausible(value), bool)


_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
_LOCAL = st.lists(st.text(alphabet=_ATEXT, min_size=1, max_size=8), min_size=1, max_size=3).map(".".join)
_LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,8}[A-Za-z0-9])?", fullmatch=True)
_DOMAIN = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
_NAME_CHARS = st.one_of(
    st.sampled_from(list("abcXYZ019 ,.;:'\"()<>@[]\\!#&*-_")),
    st.characters(min_codepoint=0xA0, max_codepoint=0x2FFF, categories=["L", "N", "P", "S"]),
    st.sampled_from(list("张三李四王五éüßЖ")),
)
_WORD = st.text(alphabet=_NAME_CHARS, min_size=1, max_size=8).map(str.strip).filter(
    lambda w: w and "=?" not in w and "?=" not in w)
_NAME = st.one_of(st.just(""), st.lists(_WORD, min_size=1, max_size=4).map(" ".join))
_COMMENT = st.text(alphabet=st.sampled_from(list("ab XY,.:;@<>\"'éЖ张")), max_size=10)


def _decoded(name: str) -> str:
    """The name as a caller decodes it; formataddr encodes non-ASCII names as RFC 2047 words."""
    return str(make_header(decode_header(name))) if "=?" in name else name


@PROPERTY
@given(_NAME, _LOCAL, _DOMAIN)
def test_formatted_mailbox_parses_back(name, local, domain):
    address = f"{local}@{domain}"
    found = mailboxes(formataddr((name, address)))
    assert len(found) == 1
    assert found[0].address == address.lower()
    assert _decoded(found[0].name) == name


@PROPERTY
@given(_NAME, _LOCAL, _DOMAIN, st.lists(_COMMENT, min_size=5, max_size=5), st.booleans())
def test_comments_do_not_change_the_address(name, local, domain, comments, nested):
    c = [f"({t})" for t in comments]
    if nested:
        c = [f"(x {t} (in\\) {t}) y)" for t in comments]
    formatted_name = formataddr((name, "x@y")).rsplit("<", 1)[0].strip() if name else ""
    angle = f"{formatted_name} {c[0]} <{local}{c[1]}@{c[2]}{domain}{c[3]}> {c[4]}"
    bare = f"{local} {c[1]} @ {c[2]} {domain}{c[3]}"
    found = mailboxes(angle)
    assert [m.address for m in found] == [f"{local}@{domain}".lower()]
    if name:
        assert _decoded(found[0].name) == name
    assert [m.address for m in mailboxes(bare)] == [f"{local}@{domain}".lower()]


@PROPERTY
@given(st.lists(st.tuples(_NAME, _LOCAL, _DOMAIN), min_size=1, max_size=6))
def test_joined_mailboxes_come_back_in_order(entries):
    value = ", ".join(formataddr((name, f"{local}@{domain}")) for name, local, domain in entries)
    found = mailboxes(value)
    assert [m.address for m in found] == [f"{local}@{domain}".lower() for _, local, domain in entries]
    assert [_decoded(m.name) for m in found] == [name for name, _, _ in entries]
