"""The values that flow through intake: a raw fetched message and its parsed form."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class RawMail:
    """A message as fetched: where it came from and its untouched bytes."""

    mailbox: str
    uidvalidity: int
    uid: int
    raw: bytes
    internal_date: datetime | None = None
    size: int = 0
    truncated: bool = False  # only headers were fetched (oversize)
    unreadable: str = ""  # why the server's answers held no content for it (quarantined, left in the mailbox)


@dataclass(frozen=True)
class AttachmentInfo:
    """An attachment's metadata; its bytes stay inside the raw message."""

    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Screening:
    """Facts that decide whether a message may get an automatic reply."""

    auto_submitted: bool = False
    bounce: bool = False
    list_mail: bool = False
    from_us: bool = False
    no_reply_sender: bool = False
    oversize: bool = False

    @property
    def reason(self) -> str:
        """The first reason not to auto-reply, or "" when a reply is fine."""
        for name in ("bounce", "auto_submitted", "list_mail", "from_us", "no_reply_sender"):
            if getattr(self, name):
                return name
        return ""


@dataclass(frozen=True)
class Email:
    """A parsed client email."""

    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    sender: str
    sender_name: str
    reply_to: str
    recipients: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str
    new_text: str
    html: str
    lang: str
    attachments: tuple[AttachmentInfo, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    defects: tuple[str, ...] = ()
    screening: Screening = field(default_factory=Screening)
