"""Stores a batch's plain new requests with a fixed number of statements; what needs a closer look goes one by
one.

Most of a backlog is new requests from clients: a message no one stored, naming no item, not a bounce. For
those the batch asks the database a handful of questions at once (which messages are known, which items and
Message-IDs the batch names, the senders' contacts and organizations, the acknowledgments sent lately) and
writes every row in bulk. Client mail naming a stored thread goes to intake.batch_follow_ups, also in bulk.
Everything else (bounces, auto-replies on a thread, reused Message-IDs, messages to quarantine, replies to a
message of the same batch, and what batch_follow_ups leaves) is stored afterwards by the per-message path, in
UID order, seeing what the bulk part wrote. Unique keys still decide: a conflict fails the batch's
transaction, and the pipeline then processes the batch one message at a time.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session, joinedload

from classifiers import Prediction
from db import ids
from db.events import ACK_SUPPRESSED, CLASSIFIED, FOLLOW_UP, event_row
from db.free_mail import is_free_mail
from db.models import (
    Attachment,
    Contact,
    Event,
    Item,
    Message,
    Organization,
    OutboxMail,
    StatusLink,
    WebhookDelivery,
)
from db.queries import insert_missing
from db.status_links import new_link_row
from db.types import utcnow
from intake.config import Config
from intake.item_events import classified, flag_complaint
from intake.parsed import Parsed, attachment_values, message_values, reason
from intake.threads import format_reference, references_in_subject, thread_ids
from responders.alerts import alert_rows, new_item_events
from responders.compose import AckRequest, reply_promise
from responders.links import status_url
from responders.outbox import acks_sent_since, plan_ack, rate_window_start

log = logging.getLogger("intake.batch_store")


@dataclass
class Split:
    """A batch sorted for storing: KNOWN (stored already), BULK (plain new mail), THREADED (client mail naming
    a stored thread, for intake.batch_follow_ups), ONE_BY_ONE (the rest)."""

    known: list[int] = field(default_factory=list)  # indexes into the batch
    bulk: list[int] = field(default_factory=list)
    threaded: list[int] = field(default_factory=list)
    one_by_one: list[int] = field(default_factory=list)


def split_batch(session: Session, cfg: Config, mailbox_id: int, batch: Sequence[Parsed]) -> Split:
    """Which messages of BATCH can be stored in bulk, with two queries for the whole batch."""
    split = Split()
    if not batch:
        return split
    uidvalidity = batch[0].raw.uidvalidity
    msgids = {p.message_id for p in batch}
    stored = session.execute(
        select(Message.uid, Message.uidvalidity, Message.mailbox_id, Message.message_id,
               Message.content_digest)
        .where(or_((Message.mailbox_id == mailbox_id) & (Message.uidvalidity == uidvalidity)
                   & Message.uid.in_([p.raw.uid for p in batch]),
                   Message.message_id.in_(sorted(msgids))))
    ).all()
    at_uid = {uid for uid, validity, box, _m, _d in stored if box == mailbox_id and validity == uidvalidity}
    with_id = {m for _u, _v, _b, m, _d in stored}
    prefix = cfg.tracker.reference_prefix
    named_refs = {i: references_in_subject(p.email.subject, prefix) for i, p in enumerate(batch) if p.email}
    named_ids = {i: thread_ids(p.email) for i, p in enumerate(batch) if p.email}
    all_refs = sorted({r for refs in named_refs.values() for r in refs})
    all_ids = sorted({m for ids in named_ids.values() for m in ids})
    existing_refs = (set(session.scalars(select(Item.ref).where(Item.ref.in_(all_refs)))) if all_refs
                     else set())
    threaded_ids = set(session.scalars(select(Message.message_id).where(
        Message.message_id.in_(all_ids), Message.item_id.is_not(None)))) if all_ids else set()
    seen: set[str] = set()
    for i, p in enumerate(batch):
        if p.raw.uid in at_uid:
            split.known.append(i)
            continue
        email = p.email
        plain = (
            email is not None and not p.error and not p.raw.truncated
            # a Message-ID stored or seen already
            and p.message_id not in with_id and p.message_id not in seen
            and not email.screening.bounce
            # A reply to a message of this same batch is threaded one by one, after the bulk.
            and not msgids.intersection(named_ids[i])
        )
        seen.add(p.message_id)
        names_item = plain and bool(existing_refs.intersection(named_refs[i])
                                    or threaded_ids.intersection(named_ids[i]))
        if plain and not names_item:
            split.bulk.append(i)
        elif plain and not email.screening.reason:  # type: ignore[union-attr]
            split.threaded.append(i)
        else:
            split.one_by_one.append(i)
    return split


def contacts_for(session: Session, senders: dict[str, str], free_mail: Sequence[str]) -> dict[str, Contact]:
    """The contact of every address of SENDERS (address: display name), created with its organization (by
    domain, none for free mail) when new, as db.queries.upsert_contact does one by one: a fixed number of
    statements for the whole batch, and a contact or organization another worker creates meanwhile is found,
    not a conflict that fails the batch."""
    if not senders:
        return {}
    found = _contacts(session, list(senders))
    # Sorted, as the domains are: two workers inserting overlapping rows wait for each other in the same order
    # (PostgreSQL), never in a cycle.
    missing = sorted(a for a in senders if a not in found)
    if missing:
        domains = sorted({a.rpartition("@")[2] for a in missing} - {""})
        domains = [d for d in domains if not is_free_mail(d, free_mail)]
        orgs = _organizations(session, domains)
        insert_missing(session, Organization, [_new_organization(d) for d in domains if d not in orgs],
                       "domain")
        orgs.update(_organizations(session, [d for d in domains if d not in orgs]))
        insert_missing(session, Contact, [
            dict(email=a, name=senders[a], organization_id=getattr(orgs.get(a.rpartition("@")[2]), "id",
                                                                   None),
                 created_at=utcnow()) for a in missing], "email")
        found.update(_contacts(session, missing))
    for address, contact in found.items():
        if senders[address] and not contact.name:
            contact.name = senders[address]
    return found


def _contacts(session: Session, addresses: list[str]) -> dict[str, Contact]:
    return {c.email: c for c in session.scalars(select(Contact).options(joinedload(Contact.organization))
                                                .where(Contact.email.in_(sorted(addresses))))}


def _organizations(session: Session, domains: list[str]) -> dict[str, Organization]:
    if not domains:
        return {}
    return {o.domain: o
            for o in session.scalars(select(Organization).where(Organization.domain.in_(domains)))}


def _new_organization(domain: str) -> dict[str, Any]:
    return dict(name=domain, domain=domain, tier="", client_digest=False, created_at=utcnow())


@dataclass(frozen=True)
class Stored:
    """What the bulk path did with one message: a new item (REF) or a record without item (REF empty)."""

    index: int
    ref: str = ""
    ack_queued: bool = False
    label: str = ""  # a new item's category, and whether it is flagged for review
    flagged: bool = False


def store_bulk(session: Session, cfg: Config, mailbox_id: int, batch: Sequence[Parsed],
               indexes: Sequence[int], preds: dict[int, Prediction], now: datetime) -> list[Stored]:
    """Stores the plain new mail INDEXES of BATCH: screened mail as records, client mail as new items with
    their classification and acknowledgment, in a fixed number of statements.

    Organizations and contacts go through the session; items, messages, attachments, events and outbox rows
    are written as plain rows, one statement per table (the per-message path afterwards reads them back).
    """
    rows = Rows()
    out: list[Stored] = []
    fresh = []
    for i in indexes:
        if batch[i].email.screening.reason:  # type: ignore[union-attr]
            rows.message(batch[i], mailbox_id, now, status="ignored")
            out.append(Stored(i))
        else:
            fresh.append(i)
    items, contacts = _items(session, cfg, batch, fresh, preds, now) if fresh else ({}, {})
    recent = acks_sent_since(session, [_ack_address(batch[i].email) for i in fresh],
                             rate_window_start(now)) if fresh and cfg.acknowledgment.enabled else {}
    for i in fresh:
        email, pred, item = batch[i].email, preds[batch[i].raw.uid], items[i]
        rows.message(batch[i], mailbox_id, now, item_id=item.id)
        rows.events.append(event_row(item.id, CLASSIFIED, now, classified(pred, item.needs_review)))
        complaint = flag_complaint(item, email)  # type: ignore[arg-type]
        if complaint is not None:
            rows.events.append(event_row(item.id, FOLLOW_UP, now, complaint))
        rows.alerts.extend(alert_rows(cfg.alerts, new_item_events(item.needs_review), item, now,
                                      contact=contacts[i]))
    for i in fresh:
        queued = cfg.acknowledgment.enabled and _acknowledge(cfg, items[i], batch[i].email, now, recent, rows)
        out.append(Stored(i, items[i].ref or "", queued, items[i].category, items[i].needs_review))
    session.flush()  # the contacts' names
    if items:
        session.connection().execute(insert(Item.__table__), [_item_values(item) for item in items.values()])
    rows.write(session)
    return out


class Rows:
    """The plain rows of a batch, written table by table with one statement each."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.attachments: list[tuple[int, list[dict[str, Any]]]] = []  # (index into messages, rows)
        self.events: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.copies: list[dict[str, Any]] = []  # our acknowledgments, as messages of their threads
        self.links: list[dict[str, Any]] = []  # the status links the acknowledgments carry (hashes only)
        self.alerts: list[dict[str, Any]] = []  # chat alerts and webhook calls about the new items

    def message(self, p: Parsed, mailbox_id: int, now: datetime, **columns: Any) -> None:
        values = message_values(p, mailbox_id, now)
        values.update(columns)
        self.messages.append(values)
        attachments = attachment_values(p)
        if attachments:
            self.attachments.append((len(self.messages) - 1, attachments))

    def write(self, session: Session) -> None:
        messages = self.messages + self.copies
        for row, key in zip(messages, ids.reserve(session, Message, len(messages)), strict=True):
            row["id"] = key
        attachments = [dict(a, message_id=self.messages[m]["id"]) for m,
                       rows in self.attachments for a in rows]
        conn = session.connection()
        for model, values in ((Message, self.messages), (Message, self.copies), (Attachment, attachments),
                              (Event, self.events), (OutboxMail, self.outbox), (StatusLink, self.links),
                              (WebhookDelivery, self.alerts)):
            if values:
                conn.execute(insert(model.__table__), values)  # type: ignore[attr-defined]


# The columns a new item is written with; the rest take their defaults.
_ITEM_COLUMNS = ("id", "ref", "subject", "category", "confidence", "needs_review", "model_version", "status",
                 "lang",
                 "contact_id", "received_at", "follow_up", "sla", "created_at", "updated_at")


def _item_values(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in _ITEM_COLUMNS}


def _items(session: Session, cfg: Config, batch: Sequence[Parsed], fresh: Sequence[int],
           preds: dict[int, Prediction], now: datetime) -> tuple[dict[int, Item], dict[int, Contact | None]]:
    """The new items of FRESH, keyed and referenced, and their contacts (with organizations): the items are
    objects outside the session, written by the caller as plain rows (the unit of work cost more than the rest
    of the batch's writing)."""
    senders: dict[str, str] = {}
    for i in fresh:
        email = batch[i].email
        if email.sender:  # type: ignore[union-attr]
            senders.setdefault(email.sender, email.sender_name)  # type: ignore[union-attr]
    with session.no_autoflush:
        contacts = contacts_for(session, senders, cfg.tracker.free_mail_domains)
        items: dict[int, Item] = {}
        item_contacts: dict[int, Contact | None] = {}
        snapshots: dict[str, dict[str, object]] = {}
        for i in fresh:
            email, pred = batch[i].email, preds[batch[i].raw.uid]
            contact = item_contacts[i] = contacts.get(email.sender)  # type: ignore[union-attr]
            tier = (contact.organization.tier if contact is not None and contact.organization is not None
                    else "")
            if tier not in snapshots:
                snapshots[tier] = cfg.sla.built.for_tier(tier).snapshot()
            items[i] = Item(subject=email.subject, category=pred.label,
                            confidence=pred.confidence,  # type: ignore
                            sla=snapshots[tier],
                            needs_review=pred.needs_review(cfg.classifier.review_threshold,
                                                           cfg.classifier.model_thresholds),
                            model_version=pred.model_version, status="new", lang=email.lang,  # type: ignore
                            contact_id=contact.id if contact is not None else None,
                            received_at=batch[i].raw.internal_date or now, created_at=now,
                            updated_at=now, follow_up=False)
    for item, key in zip(items.values(), ids.reserve(session, Item, len(items)), strict=True):
        item.id = key
        # the references are made from the keys
        item.ref = format_reference(cfg.tracker.reference_prefix, key)
    return items, item_contacts


def _ack_address(email: object) -> str:
    return email.reply_to or email.sender  # type: ignore[attr-defined]


def _acknowledge(cfg: Config, item: Item, email: object, now: datetime, recent: dict[str, int],
                 rows: Rows) -> bool:
    """Plans ITEM's acknowledgment into ROWS, counting it in RECENT (acknowledgments per address this
    hour)."""
    to = _ack_address(email)
    token, link = new_link_row(item.id, now) if cfg.client_view.status_links else ("", None)
    req = AckRequest(ref=item.ref or "", category=item.category, lang=item.lang, to_address=to,
                     to_name=email.sender_name, subject=item.subject,  # type: ignore[attr-defined]
                     in_reply_to=email.message_id, references=email.references,  # type: ignore[attr-defined]
                     neutral=item.needs_review, status_url=status_url(cfg.web.base_url, token),
                     reply_within=reply_promise(item.sla) if item.needs_review else None)
    try:
        plan = plan_ack(item.id, req, cfg.smtp.from_address, cfg.acknowledgment.team_for(req.lang), now,
                        cfg.acknowledgment.max_per_sender_per_hour, recent.get(to, 0))
    except Exception as exc:  # the client's request is kept; only the automatic answer is lost
        log.exception("event=ack_failed ref=%s", item.ref)
        rows.events.append(event_row(item.id, ACK_SUPPRESSED, now, {"reason": "build_failed",
                                                                  "error": reason(exc)[:500]}))
        return False
    if plan.event is not None:
        rows.events.append(plan.event)
        return False
    rows.outbox.extend(plan.outbox)
    assert plan.message is not None
    rows.copies.append(plan.message)
    if link is not None:
        rows.links.append(link)
    recent[to] = recent.get(to, 0) + 1
    return True
