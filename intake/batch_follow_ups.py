"""Stores a batch's plain follow-ups (a client writing again on the one thread they name) with a fixed number
of statements; any message that needs a closer look is left to the per-message path.

A follow-up is plain when its message names exactly one stored item (by a reference in its subject or by the
Message-IDs it answers), its sender may join that item's thread (intake.participants), the sender is not one
of the team, and the item awaits no client decision. The questions the per-message path asks one message at a
time (which items the message names, who the thread's parties are, whether the sender is staff, their
organization) are asked here once for the whole batch. With one item named, joining does not depend on what
the messages before it in the batch did (a thread's parties only ever grow), so storing these first gives the
same result as storing them in order.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from db.client_view import cancel_pending_surveys
from db.events import FOLLOW_UP, MESSAGE_RECEIVED, event_row
from db.models import Item
from db.queries import active_user_addresses, item_ids_by_message_id, organizations_of, written_to_many
from intake.batch_store import Rows
from intake.config import Config
from intake.item_events import flag_complaint
from intake.parsed import Parsed
from intake.participants import Parties, first_joinable
from intake.threads import references_in_subject, thread_ids


def store_follow_ups(session: Session, cfg: Config, mailbox_id: int, batch: Sequence[Parsed],
                     indexes: Sequence[int], now: datetime) -> tuple[list[tuple[int, str]], list[int]]:
    """Stores the plain follow-ups among INDEXES of BATCH (each a parsed client message, not stored yet,
    naming a stored item and nothing of this batch); returns them as (index, item reference) and the indexes
    left for the per-message path."""
    if not indexes:
        return [], []
    claims = _claims(session, cfg, batch, indexes)
    items = {item.id: item for item in session.scalars(
        select(Item).options(joinedload(Item.contact)).where(Item.id.in_(sorted(set(claims.values())))))}
    written = written_to_many(session, items)
    senders = {batch[i].email.sender for i in claims}  # type: ignore[union-attr]
    staff_domains = {d.lower() for d in cfg.tracker.staff_domains}
    staff = active_user_addresses(session, senders)
    organizations = organizations_of(session, senders, cfg.tracker.free_mail_domains)
    rows = Rows()
    stored: list[tuple[int, str]] = []
    left = [i for i in indexes if i not in claims]
    for i, item_id in claims.items():
        email = batch[i].email
        assert email is not None
        item = items.get(item_id)
        sender = email.sender
        if (item is None or not sender or sender in staff or sender.rpartition("@")[2] in staff_domains
                or (item.category == "change_request" and item.status == "awaiting_approval")):
            left.append(i)  # staff answering, a client's decision, an item gone meanwhile: one by one
            continue
        contact = item.contact
        parties = Parties.of(contact.email if contact else "", contact.organization_id if contact else None,
                             written[item_id])
        if first_joinable(sender, organizations.get(sender.strip().lower()), [(item, parties)]) is None:
            left.append(i)  # a stranger naming the thread: a new item of its own, made one by one
            continue
        rows.message(batch[i], mailbox_id, now, item_id=item.id)
        rows.events.append(event_row(item.id, MESSAGE_RECEIVED, now, {
            "message_id": email.message_id, "from": sender, "screening": rows.messages[-1]["screening"]}))
        complaint = flag_complaint(item, email)
        if complaint is not None:
            rows.events.append(event_row(item.id, FOLLOW_UP, now, complaint))
        stored.append((i, item.ref or ""))
    if stored:
        rows.write(session)
        # The clients wrote again: a survey still waiting would ask about work they are still talking about.
        cancel_pending_surveys(session, [claims[i] for i, _ref in stored], now)
    return stored, sorted(left)


def _claims(session: Session, cfg: Config, batch: Sequence[Parsed], indexes: Sequence[int]) -> dict[int, int]:
    """The item each message of INDEXES names, for those that name exactly one (references in the subject
    first, then the Message-IDs it answers, as the per-message path reads them)."""
    prefix = cfg.tracker.reference_prefix
    refs = {i: references_in_subject(batch[i].email.subject,
                                     prefix) for i in indexes}  # type: ignore[union-attr]
    answered = {i: thread_ids(batch[i].email) for i in indexes}  # type: ignore[arg-type]
    all_refs = sorted({r for found in refs.values() for r in found})
    by_ref: dict[str, int] = {}
    if all_refs:
        by_ref = {ref: item_id for ref, item_id in session.execute(select(Item.ref, Item.id)
                                                                     .where(Item.ref.in_(all_refs)))}
    by_message = item_ids_by_message_id(session, [m for found in answered.values() for m in found])
    claims: dict[int, int] = {}
    for i in indexes:
        named = dict.fromkeys([*sorted(by_ref[r] for r in refs[i] if r in by_ref),
                               *(by_message[m] for m in answered[i] if m in by_message)])
        if len(named) == 1:
            claims[i] = next(iter(named))
    return claims
