"""Writes outgoing MIME messages straight to bytes, with the email package's encoders but not its header
policy.

The policy-based `EmailMessage` parses every header it is given and again when it writes the message
(about 3 ms an acknowledgment); a worker that acknowledges hundreds of emails a second cannot pay that.
Here each header is written once: ASCII as it is, anything else as RFC 2047 encoded words (email.header),
folded to 78 characters; bodies are UTF-8, 7bit when plain ASCII, quoted-printable otherwise.
"""
from __future__ import annotations

import binascii
import secrets
from dataclasses import dataclass
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

CRLF = "\r\n"
_MAX_ASCII_WORD = 900  # longer unbroken ASCII would make a header line over RFC 5322's 998 characters


@dataclass(frozen=True)
class Outgoing:
    """A message ready for the outbox: its bytes and what the outbox and the thread record of it."""

    raw: bytes
    message_id: str
    from_address: str  # the bare address of the From field
    subject: str
    references: str
    text: str  # the plain-text body

    @classmethod
    def of(cls, msg: EmailMessage) -> Outgoing:
        """The outgoing form of MSG, a message built with the email package's policy API."""
        body = msg.get_body(("plain",))
        return cls(raw=msg.as_bytes(), message_id=str(msg["Message-ID"]),
                   from_address=parseaddr(str(msg["From"]))[1], subject=str(msg["Subject"]),
                   references=str(msg.get("References", "")),
                   text=body.get_content() if body is not None else "")


def header(name: str, value: str) -> str:
    """The header line NAME: VALUE, encoded and folded as RFC 5322 and RFC 2047 ask (no trailing CRLF)."""
    if value.isascii() and len(name) + 2 + len(value) <= 78:
        return f"{name}: {value}"
    ascii_ok = value.isascii() and all(len(word) <= _MAX_ASCII_WORD for word in value.split())
    encoded = Header(value, "us-ascii" if ascii_ok else "utf-8", header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}"


def address(name: str, addr: str) -> str:
    """A mailbox for an address header: NAME quoted or encoded as needed, then <ADDR>."""
    if not name:
        return addr
    if name.isascii():
        return formataddr((name, addr))
    return f"{Header(name, 'utf-8').encode(linesep=CRLF)} <{addr}>"


def _part(subtype: str, text: str) -> str:
    data = text.encode("utf-8")
    if data.isascii() and all(len(line) <= 998 for line in data.split(b"\n")):
        cte, body = "7bit", text
    else:
        cte = "quoted-printable"
        body = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False).decode("ascii")
    body = body.replace("\r\n", "\n").replace("\n", CRLF)
    return (f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}Content-Transfer-Encoding: {cte}{CRLF}{CRLF}'
            f"{body}{CRLF}")  # that CRLF belongs to the boundary line after the part


def write(headers: list[tuple[str, str]], text: str, html: str | None = None) -> bytes:
    """The whole message: HEADERS (values not yet encoded), then TEXT, or TEXT and HTML as alternatives."""
    head = CRLF.join(header(name, value) for name, value in headers)
    if html is None:
        return f"{head}{CRLF}MIME-Version: 1.0{CRLF}{_part('plain', text)}".encode("ascii")
    plain, rich = _part("plain", text), _part("html", html)
    boundary = "=_" + secrets.token_hex(16)
    while boundary in plain or boundary in rich:  # practically never: "=" is encoded in quoted-printable
        boundary = "=_" + secrets.token_hex(16)
    return (f'{head}{CRLF}MIME-Version: 1.0{CRLF}Content-Type: multipart/alternative; boundary="{boundary}"'
            f"{CRLF}{CRLF}--{boundary}{CRLF}{plain}--{boundary}{CRLF}{rich}--{boundary}--{CRLF}").encode("ascii")
