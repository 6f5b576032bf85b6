"""Typed SQLAlchemy 2.0 models of the tracker: mailboxes, clients, items, messages, outbox, events, users."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.categories import CATEGORIES  # noqa: F401  (read from here by the review app and reports)
from db.types import UTCDateTime, utcnow
from db.workflow import ALL_STATUSES

ITEM_STATUSES = ALL_STATUSES


class Base(DeclarativeBase):
    """Declarative base with a naming convention so migrations name constraints the same everywhere."""

    from sqlalchemy import MetaData

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    # Every column with a server default has the same default on the Python side, so nothing needs fetching
    # back after an INSERT; without RETURNING, rows whose keys are given go in one executemany per table.
    __mapper_args__ = {"eager_defaults": False}


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    # The client tier that picks the SLA policy ("" = the default policy).
    tier: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # Whether the client's contacts get the weekly status digest of their items.
    client_digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    # When the contact unsubscribed from progress updates and surveys (None: they get them).
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organization: Mapped[Organization | None] = relationship()


USER_ROLES = ("admin", "pm")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(300), default="")
    role: Mapped[str] = mapped_column(String(20), default="pm")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")
    # The IANA time zone the app shows times in for this person; "" for sla.report_timezone.
    time_zone: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    organizations: Mapped[list[Organization]] = relationship(secondary="user_organizations",
                                                             order_by="Organization.name")


class UserOrganization(Base):
    """Which organizations' items a PM works on (admins see every organization)."""

    __tablename__ = "user_organizations"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"),
                                                 primary_key=True, index=True)


class ApiToken(Base):
    """A personal API token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: until revoked

    user: Mapped[User] = relationship()


class UserSession(Base):
    """One sign-in to the review app. The browser's cookie holds the random key; only its SHA-256 is stored,
    so a copy of this table signs nobody in. Deleting the row ends the session at the next request."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Kept to the minute (see review.user_sessions.SEEN_RESOLUTION): not a write per request.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    client_address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    # The session's CSRF token: every form of this session carries it.
    csrf_secret: Mapped[str] = mapped_column(String(64))
    # A one-line notice for the next page (set by a form post, shown once); kept here, not in the cookie.
    flash: Mapped[str] = mapped_column(Text, default="", server_default="")

    user: Mapped[User] = relationship()


class Item(Base):
    __tablename__ = "items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(32), unique=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(32))
    confidence: Mapped[float] = mapped_column(Float, default=0.0)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    model_version: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(32), default="new")
    lang: Mapped[str] = mapped_column(String(8), default="en")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    follow_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    # The SLA policy in force when the item was created: {"policy", "calendar", "targets": {category: {...}}}.
    sla: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sla_warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the latest at-risk warning
    # "" (not checked yet or nothing measured), on_track, at_risk, breached or met: see
    # reports.clock.overall_state.
    sla_state: Mapped[str] = mapped_column(String(16), default="", server_default="", index=True)
    # When the first running clock runs out (past for a breached one), None when none runs:
    # reports.state.due_at.
    sla_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    contact: Mapped[Contact | None] = relationship()
    assignee: Mapped[User | None] = relationship()
    assessment: Mapped[ChangeAssessment | None] = relationship(back_populates="item", uselist=False)
    messages: Mapped[list[Message]] = relationship(
        back_populates="item", order_by="Message.id", foreign_keys="Message.item_id"
    )
    events: Mapped[list[Event]] = relationship(back_populates="item", order_by="Event.id")

    __table_args__ = (
        Index("ix_items_received_at", "received_at"),
        Index("ix_items_review_received", "needs_review", "received_at"),
        Index("ix_items_category_received", "category", "received_at"),
        Index("ix_items_status_received", "status", "received_at"),
    )


class ReplyTemplate(Base):
    """A canned reply admins keep per category and language; a PM inserts it in the reply form and edits
    it."""

    __tablename__ = "reply_templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32), default="")  # "" for every category
    lang: Mapped[str] = mapped_column(String(8), default="en")
    body: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ChangeAssessment(Base):
    """A change request's impact assessment, and the client's decision on it."""

    __tablename__ = "change_assessments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), unique=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[str] = mapped_column(String(200), default="")
    schedule: Mapped[str] = mapped_column(String(200), default="")
    assessed_by: Mapped[str] = mapped_column(String(320), default="")
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_message_id: Mapped[str] = mapped_column(String(998), default="")
    decision: Mapped[str] = mapped_column(String(16), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    # The client's message that carried the decision: the evidence.
    decision_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))

    item: Mapped[Item] = relationship(back_populates="assessment")


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    direction: Mapped[str] = mapped_column(String(4), default="in")
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id"))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    # Not unique alone: mailers that reuse Message-IDs exist. A message is its Message-ID plus the
    # digest of what its sender wrote (intake.identity); our own outgoing copies have no digest.
    message_id: Mapped[str] = mapped_column(String(998), index=True)
    content_digest: Mapped[str] = mapped_column(String(64), default="", server_default="")
    in_reply_to: Mapped[str] = mapped_column(Text, default="")
    references: Mapped[str] = mapped_column(Text, default="")
    sender: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str] = mapped_column(String(300), default="")
    recipients: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    body_text: Mapped[str] = mapped_column(Text, default="")
    new_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(8), default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    screening: Mapped[str] = mapped_column(String(64), default="")
    # processed, ignored (screened out), quarantined, or retry (quarantined, another try requested)
    status: Mapped[str] = mapped_column(String(16), default="processed", index=True)
    error: Mapped[str] = mapped_column(Text, default="")
    # What reading the message had to repair or could not read (one note per line), for the people who look.
    parse_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Up to the size limit per message: loaded only when asked for.
    raw: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # When retention (`intake purge`) removed the raw bytes, and with them the attachments' content.
    raw_purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[Item | None] = relationship(back_populates="messages", foreign_keys=[item_id])
    attachments: Mapped[list[Attachment]] = relationship(back_populates="message")

    __table_args__ = (UniqueConstraint("mailbox_id", "uidvalidity", "uid", name="uq_messages_mailbox_uid"),
                      UniqueConstraint("message_id", "content_digest", name="uq_messages_message_id_digest"))


class ProcessingAttempt(Base):
    """A fetched message being processed: who started it and how often it was started alone.

    A row that outlives its worker means the worker died on that batch; the batch is then processed one
    message at a time, and a message that keeps killing workers is quarantined instead of retried forever.
    """

    __tablename__ = "processing_attempts"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    uid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # starts of this message alone
    claimed_by: Mapped[str] = mapped_column(String(128), default="")
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64))

    message: Mapped[Message] = relationship(back_populates="attachments")


class OutboxMail(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="acknowledgment")
    message_id: Mapped[str] = mapped_column(String(998))
    from_address: Mapped[str] = mapped_column(String(320))
    to_address: Mapped[str] = mapped_column(String(320))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(128), default="")
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    item: Mapped[Item | None] = relationship()

    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      # The per-recipient acknowledgment limit counts by address over the last hour.
                      Index("ix_outbox_to_created", "to_address", "created_at"))


class WebhookDelivery(Base):
    """One chat alert or webhook call to one configured target: queued in the transaction of its event, then
    delivered (and retried) by the worker's webhook loop; the rows are the delivery log admins read."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Sent with the call (X-Intake-Delivery, and in a generic webhook's body) so receivers can tell a repeat.
    delivery_id: Mapped[str] = mapped_column(String(36), unique=True)
    target: Mapped[str] = mapped_column(String(100))   # the [[notify]] table's name
    kind: Mapped[str] = mapped_column(String(16))      # webhook, slack, teams, dingtalk, feishu, wecom
    event: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id"), index=True)
    body: Mapped[str] = mapped_column(Text)            # the JSON sent, without the per-call signature
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(128), default="")
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status of the latest answer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    item: Mapped[Item | None] = relationship()

    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
                      Index("ix_webhook_deliveries_target_id", "target", "id"))


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(320), default="system")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[Item] = relationship(back_populates="events")


class MailboxLease(Base):
    """Which worker serves a mailbox: one at a time across every worker sharing the database (db.leases)."""

    __tablename__ = "mailbox_leases"

    mailbox: Mapped[str] = mapped_column(String(200), primary_key=True)  # the configured mailbox name
    owner: Mapped[str] = mapped_column(String(128), default="")  # a worker_name(); "" when free
    # Bumped by every write, so taking a lease over is a compare-and-swap that a renewal in between defeats.
    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkerPresence(Base):
    """A running worker, heartbeated: how many there are decides each one's share of the mailboxes."""

    __tablename__ = "workers"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)  # a worker_name()
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEntry(Base):
    """A record of what was done to client data and by whom (erasures, exports, purges); never personal
    data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(32))  # erase, export, purge
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StatusLink(Base):
    """A link to an item's client view (/s/<token>); only the token's SHA-256 is stored. Every mail to the
    client carries a link of its own (the token cannot be read back to put it in the next mail); all of an
    item's live links show that item, and "new link" revokes them all."""

    __tablename__ = "status_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(320), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Survey(Base):
    """An item's satisfaction survey: once per item, scheduled when it is done, its rating and comment."""

    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), unique=True)
    # scheduled (in the outbox, not yet due), sent, cancelled (the client wrote again first), suppressed
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
    to_address: Mapped[str] = mapped_column(String(320), default="")
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rating: Mapped[int | None] = mapped_column(Integer)  # 1..5
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    item: Mapped[Item] = relationship()


class SigningKey(Base):
    """A random key made once and kept for signing links when the config names none (see responders.links)."""

    __tablename__ = "signing_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
