"""Parses raw message bytes into an Email, reading what the libraries cannot; ParseError means quarantine
it."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime

from classifiers.lang import detect_language
from intake.identity import synthetic_message_id
from intake.parse.addresses import first_of, mailboxes, plausible
from intake.parse.attachments import attachment, default_name
from intake.parse.charsets import decode_bytes
from intake.parse.encoded_words import decode_words
from intake.parse.head_repair import repair_head
from intake.parse.lifted import message_from_bytes
from intake.parse.mail_parser_view import MailParserView
from intake.parse.mime_parts import (
    CONTENT_HEADERS,
    charset_hint,
    content_view,
    epilogue_parts,
    param,
    payload_bytes,
    recovered_multipart,
    walk_parts,
)
from intake.parse.nesting import MAX_DEPTH, limit_nesting
from intake.parse.text import html_to_text, new_text, sanitize_html
from intake.values import AttachmentInfo, Email

# mail-parser warns about every part type it does not decode itself and logs whole headers it cannot decode
# (client data, kilobytes long); we read those parts on our own and note what we repaired.
logging.getLogger("mailparser").setLevel(logging.CRITICAL)

_MSGID = re.compile(r"<[^<>\s]+>")
# Never in a text field: C0 and C1 controls but tab and newline, lone surrogates, non-characters.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_ESCAPED = re.compile(r"[\udc80-\udcff]")  # 8-bit header bytes, as the email package hands them over
_LINE_BREAKS = re.compile(r"[\t\r\n]")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
MAX_NOTES = 40  # recovery notes kept per message
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.()+-]{1,40})""",
                           re.IGNORECASE)
_TEXT_TYPES = ("text/plain", "text/html")
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")


class ParseError(Exception):
    """The message could not be parsed; it is kept raw and quarantined."""


@dataclass(frozen=True)
class _Body:
    """A decoded text/plain or text/html body part."""

    subtype: str
    text: str
    alternatives: tuple[int, ...]  # the multipart/alternative containers it belongs to (by id)


def normalize_message_id(value: str) -> str:
    """The first <id> token of a header value, or "" if there is none."""
    found = _MSGID.search(value or "")
    return found.group(0) if found else ""


def message_ids(value: str) -> tuple[str, ...]:
    """Every <id> token in a References or In-Reply-To header."""
    return tuple(_MSGID.findall(value or ""))


def _clean_text(text: str) -> str:
    """Body text with newlines as \\n and no control characters."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _one_line(text: str) -> str:
    """A header-like value on one line, without control characters."""
    return _CONTROL.sub("", _LINE_BREAKS.sub(" ", text)).strip()


def _unfold(value: str) -> str:
    return _FOLD.sub("", value or "")


def _meta_charset(html: bytes) -> str | None:
    found = _META_CHARSET.search(html[:4096])
    return found.group(1).decode("ascii") if found else None


def _bodies_and_attachments(
        msg: Message, notes: list[str]) -> tuple[list[_Body], list[tuple[AttachmentInfo, bytes]], str | None]:
    parts = walk_parts(msg)
    if any(type(d).__name__ == "StartBoundaryNotFoundDefect" for p, _i, _a in parts for d in p.defects):
        parts += epilogue_parts(msg)
    hint = charset_hint(parts)
    bodies: list[_Body] = []
    attachments: list[tuple[AttachmentInfo, bytes]] = []
    recovered = False
    index = 0
    while index < len(parts):
        part, inside, alts = parts[index]
        index += 1
        view = content_view(part)
        ctype = view.get_content_type()
        if not _MIME_TYPE.match(ctype):
            ctype = "application/octet-stream"  # garbage in the header is not a type to store or show
        disposition = view.get_content_disposition()
        if part.is_multipart() and disposition != "attachment":
            continue
        where = f"part {index} {ctype}"
        if view.get_content_maintype() == "multipart" and not part.is_multipart():
            fixed = None if recovered else recovered_multipart(part, view)
            if fixed is not None:  # its parts are read next, in place of this one
                recovered = True
                notes.append(f"{where}: boundary not as declared; parts read with the one the body uses")
                parts[index:index] = [(p, inside or within, alts + inner) for p, within,
                                      inner in walk_parts(fixed)]
                continue
            ctype = "text/plain"  # a multipart without parts: its body is all there is
        filename, name_notes = param(view, "filename", "content-disposition", hint)
        if not filename:
            filename, name_notes = param(view, "name", "content-type", hint)
        notes.extend(f"{where} file name: {n}" for n in name_notes)
        content_id = str(view.get("content-id") or "").strip()
        subtype = ctype.partition("/")[2]
        attached = bool(filename) or (bool(content_id) and subtype not in ("html", "plain")) \
            or subtype == "rtf" or disposition == "attachment"
        if attached:
            name = filename or (content_id if content_id and subtype not in ("html", "plain") else "")
            attachments.append(attachment(part, _one_line(name or default_name(ctype)), ctype))
        inline_body = not inside and not part.is_multipart() and disposition == "inline"
        if ctype not in _TEXT_TYPES or (attached and not inline_body):
            continue
        data = payload_bytes(part, view)
        declared = view.get_content_charset() or (_meta_charset(data) if subtype == "html" else None)
        if len(data) >= 64 and data.count(0) * 10 >= len(data) and not (declared or "").startswith("utf-") \
                and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            notes.append(f"{where}: binary data, not read as text")  # e.g. a whole .msg file in the body
            continue
        text, note = decode_bytes(data, declared)
        if len(text) >= 64 and text.count("\ufffd") * 3 >= len(text):
            # Mostly undecodable: binary data whose NUL bytes a server rewrote (Dovecot stores them as 0x80).
            notes.append(f"{where}: binary data, not read as text")
            continue
        if note:
            notes.append(f"{where}: {note}")
        bodies.append(_Body(subtype, _clean_text(text), alts))
    return bodies, attachments, hint


def _body_text(bodies: list[_Body]) -> tuple[str, str]:
    """(text, html): plain parts, and HTML parts that have no plain alternative, as text, in order."""
    with_plain = {a for b in bodies if b.subtype == "plain" and b.text.strip() for a in b.alternatives}
    plain = {_squeeze(b.text) for b in bodies if b.subtype == "plain"}
    pieces = []
    for body in bodies:
        if body.subtype == "plain":
            pieces.append(body.text)
        elif not with_plain.intersection(body.alternatives):
            text = html_to_text(body.text)
            if _squeeze(text) not in plain:  # the same words as a plain part: a broken alternative
                pieces.append(text)
    html = "\n".join(b.text for b in bodies if b.subtype == "html")
    return _clean_text("\n".join(p for p in pieces if p.strip())).strip(), html  # entities can make controls


def _squeeze(text: str) -> str:
    return " ".join(text.split())


def _mailbox(raw: str, hint: str | None, notes: list[str], header: str) -> tuple[str, str]:
    """(display name, address) of a one-mailbox header such as From, read as leniently as mail programs do."""
    value = _unfold(raw)
    if not value.strip():
        return "", ""
    if _ESCAPED.search(value):  # raw 8-bit bytes (RFC 6532 UTF-8, or a legacy charset): text first
        value = decode_bytes(value.encode("utf-8", "surrogateescape"), hint)[0]
    found = mailboxes(value)
    box = first_of(found)
    usable = [m for m in found if plausible(m.address)]
    if len(usable) > 1:
        notes.append(f"{header}: {len(usable)} addresses; the first is used")
    elif not usable:
        notes.append(f"{header}: no usable address in {_one_line(value)[:200]!r}")
    decoded, name_notes = decode_words(box.name, hint)
    notes.extend(f"{header} name: {n}" for n in name_notes)
    return _one_line(decoded), _address(box.address) if plausible(box.address) else ""


def _address(addr: str) -> str:
    return _one_line(decode_words(addr, "utf-8")[0]).lower()


def _to_utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _header_date(msg: Message) -> datetime | None:
    try:
        return _to_utc(parsedate_to_datetime(_one_line(str(msg.get("date", "")))))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@dataclass
class _Read:
    """A message as the email package read it, with what the reading had to repair."""

    msg: Message
    date: datetime | None
    defects: set[str]
    notes: list[str]


def _read(raw: bytes) -> _Read:
    """RAW parsed by mail-parser, else by the standard library's parser; MIME nesting and header block
    repaired."""
    data, nested = limit_nesting(raw)
    data, notes = repair_head(data)
    if nested:
        notes.append(f"MIME parts nested deeper than {MAX_DEPTH} levels are kept as one attachment")
    try:
        mp = MailParserView(message_from_bytes(data))
        if mp.message is not None:
            # mail-parser's charset decoding is replaced by ours, so its complaint about it does not count.
            return _Read(mp.message, _to_utc(mp.date), set(mp.defects_categories) - {"CharsetDecodeDefect"},
                         notes)
        notes.append("mail-parser found no message; read with the standard library's parser")
    except Exception as exc:  # a bug of the library's on odd input must not cost the client their message
        notes.append(f"mail-parser failed ({type(exc).__name__}: {str(exc)[:200]}); "
                     "read with the standard library's parser")
    msg = message_from_bytes(data)
    defects = {type(d).__name__ for part in _walk(msg) for d in part.defects}
    return _Read(msg, _header_date(msg), defects, notes)


def _walk(msg: Message) -> list[Message]:
    return [part for part, _inside, _alts in walk_parts(msg)]


def _headers_only(raw: bytes, notes: list[str]) -> _Read:
    """The header block alone, parsed; the body is read as one plain text, whatever its MIME structure."""
    ends = [i + len(sep) for sep in (b"\n\n", b"\n\r\n") if (i := raw.find(sep)) >= 0]
    head_end = min(ends) if ends else len(raw)
    msg = BytesHeaderParser().parsebytes(raw[:head_end])
    for name in CONTENT_HEADERS:
        del msg[name]
    msg.set_payload(raw[head_end:].decode("utf-8", "surrogateescape"))  # read back as bytes by raw_payload
    return _Read(msg, _header_date(msg), set(), notes)


def _email_from(r: _Read, raw: bytes) -> Email:
    msg, notes = r.msg, r.notes
    bodies, attachments, hint = _bodies_and_attachments(msg, notes)
    text, html = _body_text(bodies)
    fresh = new_text(text)
    raw_headers = [(_one_line(k), v) for k, v in msg.raw_items()]
    if not raw_headers and not text.strip() and not attachments:
        raise ParseError("not an email message: no header fields and no readable text")

    def first(name: str) -> str:
        return next((str(v) for k, v in raw_headers if k.lower() == name), "")

    subject_text, subject_notes = decode_words(first("subject"), hint)
    notes.extend(f"Subject: {n}" for n in subject_notes)
    subject = _one_line(subject_text)
    sender_name, sender = _mailbox(first("from"), hint, notes, "From")
    reply_to = _mailbox(first("reply-to"), hint, [], "Reply-To")[1]
    recipients = tuple(a for a in (_address(m.address) for m in mailboxes(
        _unfold(first("to")) + ", " + _unfold(first("cc"))) if plausible(m.address)) if a)
    msgid = normalize_message_id(_one_line(first("message-id"))) or synthetic_message_id(raw)
    headers = {k: _one_line(decode_words(str(v), hint)[0]) for k, v in raw_headers}
    defects = set(r.defects)
    defects.update(_one_line(n)[:300] for n in notes[:MAX_NOTES])  # notes quote header bytes
    return Email(
        message_id=msgid[:998],
        in_reply_to=normalize_message_id(_one_line(first("in-reply-to"))),
        references=message_ids(_one_line(first("references"))),
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to,
        recipients=recipients,
        subject=subject,
        date=r.date,
        text=text,
        new_text=fresh,
        html=_clean_text(sanitize_html(html)) if html else "",
        lang=detect_language(f"{subject}\n{fresh}"),
        attachments=tuple(info for info, _data in attachments),
        headers=headers,
        defects=tuple(sorted(defects)),
    )


def parse_email(raw: bytes) -> Email:
    """Parses RAW; raises ParseError only when nothing usable can be read.

    What the MIME parsers cannot read is read again with less ambition: mail-parser first, then the
    standard library's parser, then the header block alone with the body as plain text.
    """
    try:
        read = _read(raw)
        return _email_from(read, raw)
    except ParseError:
        raise
    except Exception as exc:  # RecursionError, a library bug: fall back to the headers and the text
        notes = [f"MIME structure unreadable ({type(exc).__name__}: {str(exc)[:200]}); the body is kept as "
                 "text"]
    try:
        return _email_from(_headers_only(repair_head(raw)[0], notes), raw)
    except ParseError:
        raise
    except Exception as exc:
        raise ParseError(f"{type(exc).__name__}: {exc}") from exc


def attachment_data(raw: bytes, sha256: str) -> bytes | None:
    """The bytes of RAW's attachment whose SHA-256 is SHA256 (as stored with its metadata), or None."""
    try:
        found = _bodies_and_attachments(_read(raw).msg, [])[1]
    except Exception:  # a message that parsed once parses again; this guards a changed library
        return None
    return next((data for info, data in found if info.sha256 == sha256), None)
