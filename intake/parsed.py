"""A fetched message read: parsed and screened, or the reason to quarantine it; and its message row."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from intake.config import Config
from intake.identity import content_digest, synthetic_message_id
from intake.parse import ParseError, parse_email
from intake.screen import screen
from intake.values import Email, RawMail

if TYPE_CHECKING:
    from db.models import Message


@dataclass(frozen=True)
class Parsed:
    """A fetched message, its parsed form (None when unreadable) and identity digest; ERROR: quarantine it,
    why."""

    raw: RawMail
    email: Email | None
    digest: str
    error: str = ""

    @property
    def message_id(self) -> str:
        if self.email is not None:
            return self.email.message_id
        return synthetic_message_id(identity_bytes(self.raw))


def identity_bytes(raw: RawMail) -> bytes:
    """What RAW is known by when it has no Message-ID: its bytes, or for a message the server would not hand
    over its mailbox position (all such messages have the same empty bytes, and must not read as copies)."""
    if raw.unreadable:
        return f"unreadable:{raw.mailbox}:{raw.uidvalidity}:{raw.uid}".encode()
    return raw.raw


def parse_one(raw: RawMail, cfg: Config, own: set[str]) -> Parsed:
    """Parses and screens RAW; never raises: an unreadable message carries the reason to quarantine it."""
    digest = content_digest(identity_bytes(raw))
    if raw.unreadable:
        return Parsed(raw, None, digest, raw.unreadable)
    try:
        email = parse_email(raw.raw)
    except Exception as exc:  # ParseError, and any bug of the parser's: the message is quarantined, not lost
        return Parsed(raw, None, digest, reason(exc))
    return Parsed(raw, screen(email, own, raw.size, cfg.tracker.max_message_bytes), digest)


def parse_batch(raws: Sequence[RawMail], cfg: Config) -> list[Parsed]:
    """Parses and screens every message; a failure becomes an error to quarantine."""
    own = cfg.own_addresses()
    return [parse_one(raw, cfg, own) for raw in raws]


def reason(exc: BaseException) -> str:
    """Why a message is quarantined: a ParseError says it in words, anything else by its type too."""
    return (str(exc) if isinstance(exc, ParseError) else f"{type(exc).__name__}: {exc}")[:2000]


def message_values(p: Parsed, mailbox_id: int, now: datetime, minimal: bool = False) -> dict[str, object]:
    """Every column of P's message row: everything read from it, or for a message to quarantine (P.error) only
    what identifies it (MINIMAL: not even that, in case what was read is what the database refuses)."""
    raw, email = p.raw, p.email
    row: dict[str, object] = dict(
        item_id=None, direction="in", mailbox_id=mailbox_id, uidvalidity=raw.uidvalidity, uid=raw.uid,
        message_id=p.message_id if not minimal else synthetic_message_id(identity_bytes(raw)),
        content_digest=p.digest,
        in_reply_to="", references="", sender="", sender_name="", recipients="", subject="", sent_at=None,
        received_at=raw.internal_date or now, body_text="", new_text="", body_html="", lang="",
        size=raw.size or len(raw.raw), screening="", status="processed", error="", parse_notes="",
        raw=raw.raw,
        created_at=now)
    if p.error:
        row.update(status="quarantined", error=printable(p.error))
        if email is not None and not minimal:
            row.update(sender=printable(email.sender)[:320], sender_name=printable(email.sender_name)[:300],
                       subject=printable(email.subject), sent_at=email.date)
        return row
    assert email is not None
    row.update(in_reply_to=email.in_reply_to, references=" ".join(email.references),
               sender=email.sender[:320],
               sender_name=email.sender_name[:300], recipients=", ".join(email.recipients),
               subject=email.subject,
               sent_at=email.date, body_text=email.text, new_text=email.new_text, body_html=email.html,
               lang=email.lang, screening=email.screening.reason
               or ("oversize" if email.screening.oversize else ""),
               parse_notes="\n".join(email.defects))
    return row


def attachment_values(p: Parsed) -> list[dict[str, object]]:
    """The attachment rows of P's message (their message_id is the caller's to set)."""
    if p.email is None or p.error:
        return []
    return [dict(filename=a.filename, content_type=a.content_type, size=a.size, sha256=a.sha256)
            for a in p.email.attachments]


def message_row(p: Parsed, mailbox_id: int, now: datetime, minimal: bool = False) -> Message:
    """P's message row as an object of the session (message_values(), with its attachments)."""
    from db.models import Attachment, Message  # here, not above: the reading processes load no ORM

    row = Message(**message_values(p, mailbox_id, now, minimal))
    attachments = attachment_values(p)
    if attachments:  # assigning even an empty list costs the ORM's collection bookkeeping
        row.attachments = [Attachment(**a) for a in attachments]
    return row


def printable(text: str) -> str:
    """TEXT without NUL and other controls (PostgreSQL refuses NUL in text), for error columns."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)[:2000]
