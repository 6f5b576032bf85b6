"""Which addresses we may send mail to, and their normalized form."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responders.recipients import deliverable

# Deterministic and quick: the same examples on every run and in CI, nothing written to .hypothesis/.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None)


@pytest.mark.parametrize(("address", "expected"), [
    ("a@client.example", "a@client.example"),  # the tests' .example domains must stay sendable
    ("zhang@client.example", "zhang@client.example"),
    ("A.B@Client.EXAMPLE", "A.B@client.example"),  # the local part keeps its case, the domain is lowercased
    ("first.last+tag@sub.client.example", "first.last+tag@sub.client.example"),
    ("o'brien@client.example", "o'brien@client.example"),
    ("Postmaster@client.example", "postmaster@client.example"),  # RFC 2142 names are case-insensitive
    ("user@example.com", "user@example.com"),
    ("a@b-c.example.org", "a@b-c.example.org"),
    # RFC 5321 caps local parts at 64 octets, but email-validator checks that only in strict mode.
    ("a" * 65 + "@client.example", "a" * 65 + "@client.example"),
])
def test_accepted(address, expected):
    assert deliverable(address) == expected


@pytest.mark.parametrize("address", [
    "",
    " ",
    "a",
    "a@",
    "@client.example",
    "a@b",
    "x@silly.test",  # special-use domains (RFC 6761)
    "a@localhost",
    "a@foo.invalid",
    "a@host.local",
    "a@x.onion",
    "big bug bb@bug.com",
    "pete(his account)@silly.test(his host)",
    "pete(his account)@silly.example",
    '"john doe"@client.example',  # quoted local parts are legal but not something we send to
    '"john"@client.example',
    "Name <a@client.example>",
    "<a@client.example>",
    " a@client.example",
    "a@client.example\n",
    "a@client.example\r\nBcc: victim@client.example",
    "\x00a@client.example",
    "a\x00@client.example",
    "a..b@client.example",
    "a.@client.example",
    ".a@client.example",
    "a@client..example",
    "a@-client.example",
    "a@client.example.",
    "a@b@client.example",
    "a@[192.0.2.1]",
    "ü@client.example",  # internationalized local part: needs SMTPUTF8
    "a@münchen.de",  # IDN domain: its normalized form is Unicode
    "a@xn--mnchen-3ya.de",  # ... also when written in punycode
    "\udcff@client.example",  # a raw 8-bit byte kept as a surrogate escape
    "a@\udcff.example",
    "a@" + "b" * 64 + ".example",  # label over 63 octets
    "a" * 100_000 + "@client.example",
    "@" * 100_000,
])
def test_refused(address):
    assert deliverable(address) is None


def test_odd_types_are_refused():
    assert deliverable(None) is None  # type: ignore[arg-type]
    assert deliverable(b"a@client.example") is None  # type: ignore[arg-type]


_ADDRESSY = st.from_regex(
    r"[A-Za-z0-9._%+'\-]{1,20}@[A-Za-z0-9.\-]{1,20}\.(example|com|org|test|invalid|local|xn--p1ai)",
    fullmatch=True)
_TEXT = st.one_of(
    st.text(max_size=120),
    st.text(alphabet=st.sampled_from(list('aZ0.@-+"() <>[]\\\t\r\n\x00éü\udcff')), max_size=40),
    _ADDRESSY,
)


@PROPERTY
@given(_TEXT)
def test_never_raises_and_is_idempotent(address):
    result = deliverable(address)
    if result is not None:
        assert result.isascii()
        assert result == result.strip() and "@" in result
        assert deliverable(result) == result


@PROPERTY
@given(_ADDRESSY)
def test_domain_case_does_not_matter(address):
    local, _, domain = address.rpartition("@")
    assert deliverable(f"{local}@{domain.upper()}") == deliverable(f"{local}@{domain.lower()}")
