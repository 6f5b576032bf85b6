"""Live SLA state: the clocks of one item under its recorded policy, and the refresh of the stored states."""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from db.events import SLA_WARNING
from db.models import Item
from reports.clock import RUNNING_STATES, Measure, first_due, item_measures, overall_state, paused_spans
from reports.policy import SlaPolicies

# the clocks people can act on; acknowledging is the worker's
WARNED_CLOCKS = ("first_response", "resolution")
WARNING_EVENT = SLA_WARNING
# An item seen for the first time (stored state "") that is older than this gets no warning emails: after an
# upgrade or a long outage, old items would otherwise flood the team; the queue shows their state.
STALE_AFTER = timedelta(days=1)
_FINAL = ("met", "breached")
_BATCH = 500


def snapshot_of(item: Any, policies: SlaPolicies) -> dict[str, Any]:
    """The policy ITEM recorded when it was created; the default policy for items from before policies."""
    return item.sla or policies.policies[policies.default].snapshot()


def item_clocks(item: Any, policies: SlaPolicies, now: datetime,
                events: Iterable[Any] = ()) -> dict[str, Measure]:
    """The acknowledge, first_response and resolution clocks of ITEM at NOW (EVENTS give the paused spans)."""
    snapshot = snapshot_of(item, policies)
    return item_measures(item, snapshot, policies.clock(snapshot.get("calendar", "")), now,
                         policies.at_risk_share, policies.pause_statuses, events)


def item_due(item: Any, policies: SlaPolicies, now: datetime, clocks: dict[str, Measure],
             events: Iterable[Any] = ()) -> datetime | None:
    """When the first of ITEM's running CLOCKS (item_clocks at NOW) runs out, in UTC; None when none runs."""
    snapshot = snapshot_of(item, policies)
    due = first_due(clocks.values(), policies.clock(snapshot.get("calendar", "")), item.received_at, now,
                    paused_spans(item, now, policies.pause_statuses, events))
    return due.astimezone(UTC) if due is not None else None


@dataclass(frozen=True)
class Due:
    """An item with clocks that reached at risk (or breached) and have not been warned about yet.

    STALE: the item was first checked long after it arrived; its warning is recorded but not emailed.
    BREACH: the clocks were warned about at risk and are breached now; recorded (and announced to chat
    targets), not emailed again.
    """

    item: Item
    clocks: tuple[Measure, ...]
    stale: bool = False
    breach: bool = False


def warned_clocks(events: Iterable[Any]) -> set[str]:
    """The clocks an item's EVENTS show a warning for."""
    return set(warned_states(events))


def warned_states(events: Iterable[Any]) -> dict[str, set[str]]:
    """The states each clock was warned about in an item's EVENTS."""
    found: dict[str, set[str]] = {}
    for e in events:
        if e.kind == WARNING_EVENT:
            found.setdefault(str((e.data or {}).get("clock")), set()).add(str((e.data or {}).get("state")))
    return found


def _batches(session: Session, lock: bool) -> Iterator[list[Item]]:
    # Open items, and closed ones whose final state is not recorded yet; finished items are left alone.
    last = 0
    while True:
        query = (select(Item).where(Item.id > last, or_(Item.resolved_at.is_(None),
                                                        Item.sla_state.not_in(_FINAL),
                                                        Item.sla_due_at.is_not(None)))
                 .options(selectinload(Item.events)).order_by(Item.id).limit(_BATCH))
        if lock:  # several workers on PostgreSQL share the items instead of warning twice
            query = query.with_for_update(of=Item, skip_locked=True)
        batch = list(session.scalars(query))
        if not batch:
            return
        yield batch
        last = batch[-1].id


def refresh_states(session: Session, policies: SlaPolicies, now: datetime) -> tuple[int, list[Due]]:
    """Stores every open item's SLA state and due time at NOW; returns how many changed, and the warnings due.

    A warning is due for each first-response or resolution clock that is at risk or breached while
    running, once per clock: the caller records the WARNING_EVENT in the same transaction. A clock warned
    about at risk that is breached now is due once more, as a breach (Due.breach).
    """
    lock = session.get_bind().dialect.name == "postgresql"
    changed, due = 0, []
    for batch in _batches(session, lock):
        for item in batch:
            clocks = item_clocks(item, policies, now, item.events)
            state = overall_state(clocks.values())
            if state == "none":
                state = ""
            first_seen = item.sla_state == ""
            due_at = item_due(item, policies, now, clocks, item.events)
            if item.sla_state != state or item.sla_due_at != due_at:
                item.sla_state, item.sla_due_at = state, due_at
                changed += 1
            alarming = [m for name, m in clocks.items() if name in WARNED_CLOCKS
                        and m.state in RUNNING_STATES[1:]]
            # Past warnings are looked up only for the few items with a clock at risk, not for every open
            # item.
            warned = warned_states(item.events) if alarming else {}
            pending = tuple(m for m in alarming if m.name not in warned)
            if pending:
                due.append(Due(item, pending, stale=first_seen and now - item.received_at > STALE_AFTER))
            breached = tuple(m for m in alarming if m.state == "breached"
                             and "breached" not in warned.get(m.name, {
                "breached"}))
            if breached:
                due.append(Due(item, breached, breach=True))
    return changed, due
