"""Who a reply from the app may reach: the item's contact, and the thread's participants a PM copies in."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import Item, Message
from db.queries import messages_in, organizations_of, written_to
from responders.recipients import deliverable


@dataclass(frozen=True)
class Copy:
    """A participant a reply may copy: their address as we send to it, and the name they wrote under."""

    address: str
    name: str = ""


@dataclass(frozen=True)
class ThreadPeople:
    """The participants of an item's thread, as the worker admits them to it (intake.participants): the
    contact, people of the contact's organization who wrote in the thread, and the addresses we wrote to."""

    members: frozenset[str]          # every participant, lowercased, the contact included
    copies: tuple[Copy, ...]         # those a reply may copy: deliverable, neither the contact nor ourselves
    latest: Message | None           # the newest incoming message from a participant: the one a reply answers


def thread_people(session: Session, item: Item, own: Iterable[str] = ()) -> ThreadPeople:
    """ITEM's participants; OWN (our From address) and whoever wrote our outgoing mail are never copies.

    Writing last makes nobody a participant: the worker keeps mail from outside the thread apart, and a
    message from outside that was stored before it did so is passed over here (never answered, never offered a
    copy).
    """
    contact = item.contact.email.strip().lower() if item.contact and item.contact.email else ""
    organization = item.contact.organization_id if item.contact else None
    incoming = [m for m in messages_in(session, item.id) if m.sender]
    ours = written_to(session, item.id)
    orgs = organizations_of(session, {m.sender for m in incoming}) if organization is not None else {}
    colleagues = [m for m in incoming
                  if organization is not None and orgs.get(m.sender.strip().lower()) == organization]
    members = ({contact} | {m.sender.strip().lower() for m in colleagues} | ours) - {""}
    latest = next((m for m in incoming if m.sender.strip().lower() in members), None)
    staff = session.scalars(select(Message.sender).where(Message.item_id == item.id,
                                                         Message.direction == "out"))
    never = {contact, *(a.strip().lower() for a in own), *(s.strip().lower() for s in staff if s)}
    copies: dict[str, Copy] = {}
    candidates = [(m.sender, m.sender_name) for m in colleagues] + [(a, "") for a in sorted(ours)]
    for address, name in candidates:
        key = address.strip().lower()
        sendable = deliverable(address.strip())
        if key in never or key in copies or sendable is None:
            continue
        copies[key] = Copy(sendable, name)
    return ThreadPeople(frozenset(members), tuple(copies.values()), latest)
