"""Who may write into an item's thread: its contact, the contact's organization, and the people we wrote
to."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def normalized(address: str) -> str:
    """ADDRESS as the rule compares it: trimmed and lowercased."""
    return (address or "").strip().lower()


@dataclass(frozen=True)
class Parties:
    """Who an item's thread belongs to, as stored."""

    contact: str                      # the item's contact's address; "" when it has none
    organization_id: int | None       # the contact's organization; None for a free-mail contact
    written_to: frozenset[str] = frozenset()  # addresses our outgoing messages on the item went to

    @classmethod
    def of(cls, contact: str, organization_id: int | None, written_to: Iterable[str] = ()) -> Parties:
        """The parties with every address normalized."""
        return cls(normalized(contact), organization_id, frozenset(normalized(a) for a in written_to if a))


def speaks_for_client(sender: str, sender_organization: int | None, parties: Parties) -> bool:
    """Whether SENDER (of SENDER_ORGANIZATION) is the item's client: its contact, or an address of the
    contact's organization. A contact without an organization (free mail) is only ever its own address:
    another address at
    the same domain is a stranger."""
    address = normalized(sender)
    if not address:
        return False
    if parties.contact and address == parties.contact:
        return True
    return parties.organization_id is not None and sender_organization == parties.organization_id


def may_join(sender: str, sender_organization: int | None, parties: Parties) -> bool:
    """Whether a message from SENDER (of SENDER_ORGANIZATION) joins the thread: the client
    (speaks_for_client), or an address we sent mail to on it (a colleague the client copied in, once we have
    written to them).

    A reference in the subject or a Message-ID in the headers says which thread a message claims, never that
    its sender belongs there: references are sequential and headers are easily copied."""
    address = normalized(sender)
    if speaks_for_client(address, sender_organization, parties):
        return True
    return bool(address) and address in parties.written_to


def first_joinable(sender: str, sender_organization: int | None,
                   claimed: Iterable[tuple[T, Parties]]) -> T | None:
    """The first of the CLAIMED threads (each with its parties; those the subject's references name first,
    then those the Message-IDs it answers belong to, nearest first) that SENDER may join; None when there is
    none, and the message is then a new item of its own, whatever thread it names."""
    return next((thread for thread, parties in claimed if may_join(sender, sender_organization, parties)),
                None)
