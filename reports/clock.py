"""The SLA clocks of one item: counted time to acknowledge, to first human response and to resolution.

Rules:
- every clock starts when the client's message was received;
- *acknowledge* stops when the SMTP server accepted our acknowledgment (``acknowledged_at``);
- *first response* stops at the first reply by a person (``first_response_at``: from the app, or a
  staff member replying from their own mail client with the support address in copy);
- *resolution* stops at ``resolved_at``; time the item spent in a paused status (waiting for the
  client, e.g. ``awaiting_approval``) does not count, when the policy pauses;
- time counts on the policy's clock (business calendar or wall clock).

States: ``none`` (no target), and for a stopped clock ``met`` or ``missed``; for a running one
``on_track``, ``at_risk`` (at least ``at_risk_share`` of the target used) or ``breached``.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.events import APPROVED, REJECTED, STATUS_CHANGED
from reports.calendar import Clock

RUNNING_STATES = ("on_track", "at_risk", "breached")
Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Measure:
    """One clock of one item."""

    name: str
    target: float | None      # seconds of counted time, None when not measured
    elapsed: float            # counted seconds from start to the stop (or to now while running)
    stopped_at: datetime | None
    state: str

    @property
    def used(self) -> float | None:
        """The share of the target used (1.0 = exactly at the target)."""
        return None if not self.target else self.elapsed / self.target


def status_spans(received: datetime, first_status: str, changes: Iterable[tuple[datetime, str]],
                 until: datetime) -> list[tuple[str, datetime, datetime]]:
    """(status, from, to) over [RECEIVED, UNTIL) from the time-ordered status CHANGES."""
    spans, status, since = [], first_status, received
    for when, to in sorted(changes, key=lambda c: c[0]):
        if when >= until:
            break
        if to != status:
            if when > since:
                spans.append((status, since, when))
            status, since = to, max(since, when)
    if until > since:
        spans.append((status, since, until))
    return spans


def status_changes(events: Iterable[Any]) -> list[tuple[datetime, str]]:
    """(time, new status) from an item's events: status changes, client decisions, an assessment sent."""
    found = []
    for e in events:
        data = e.data or {}
        if e.kind in (STATUS_CHANGED, APPROVED, REJECTED) and isinstance(data.get("to"), str):
            found.append((e.created_at, data["to"]))
        elif isinstance(data.get("status"), str):
            found.append((e.created_at, data["status"]))
    return found


def counted(clock: Clock, start: datetime, end: datetime, pauses: Sequence[Span] = ()) -> float:
    """Seconds of CLOCK's counted time in [START, END), leaving out the PAUSES."""
    total = clock.business_seconds(start, end)
    for p_start, p_end in pauses:
        lo, hi = max(start, p_start), min(end, p_end)
        if hi > lo:
            total -= clock.business_seconds(lo, hi)
    return max(total, 0.0)


def measure(name: str, clock: Clock, start: datetime, stopped_at: datetime | None, target: float | None,
            now: datetime, at_risk_share: float, pauses: Sequence[Span] = ()) -> Measure:
    """The clock NAME from START to STOPPED_AT (or NOW while it runs) against TARGET seconds."""
    end = stopped_at if stopped_at is not None else now
    elapsed = counted(clock, start, max(end, start), pauses)
    if target is None:
        state = "none"
    elif stopped_at is not None:
        state = "met" if elapsed <= target else "missed"
    elif elapsed > target:
        state = "breached"
    else:
        state = "at_risk" if elapsed >= at_risk_share * target else "on_track"
    return Measure(name, target, elapsed, stopped_at, state)


def paused_spans(item: Any, now: datetime, pause_statuses: Sequence[str],
                 events: Iterable[Any]) -> list[Span]:
    """The spans ITEM spent in PAUSE_STATUSES from its arrival to its resolution (or NOW), from its EVENTS."""
    if not pause_statuses:
        return []
    end = item.resolved_at or now
    return [(a, b) for status, a, b in status_spans(item.received_at, "new", status_changes(events), end)
            if status in pause_statuses]


def deadline(clock: Clock, start: datetime, target: float, pauses: Sequence[Span] = ()) -> datetime:
    """The instant a clock started at START has counted TARGET seconds on CLOCK, leaving out the (past)
    PAUSES."""
    remaining, cursor = target, start
    for p_start, p_end in sorted(pauses):
        if p_end <= cursor:
            continue
        before = clock.business_seconds(cursor, max(cursor, p_start))
        if before >= remaining:
            break
        remaining -= before
        cursor = p_end
    return clock.add_business_seconds(cursor, remaining)


def first_due(measures: Iterable[Measure], clock: Clock, start: datetime, now: datetime,
              pauses: Sequence[Span] = ()) -> datetime | None:
    """When the first of the running MEASURES (started at START) runs out: in the past for a breached one;
    None when none runs. The resolution clock while paused now (a pause lasting until NOW) runs out at no
    known time."""
    paused_now = any(end >= now for _start, end in pauses)
    dues = [deadline(clock, start, m.target, pauses if m.name == "resolution" else ())
            for m in measures
            if m.stopped_at is None and m.target is not None and not (m.name == "resolution" and paused_now)]
    return min(dues, default=None)


def item_measures(item: Any, snapshot: dict[str, Any], clock: Clock, now: datetime, at_risk_share: float,
                  pause_statuses: Sequence[str], events: Iterable[Any] = ()) -> dict[str, Measure]:
    """The three clocks of ITEM (category, received_at, acknowledged_at, first_response_at, resolved_at) under
    the policy SNAPSHOT it recorded when it was created."""
    targets = snapshot.get("targets", {}).get(item.category, {})
    start = item.received_at
    pauses = paused_spans(item, now, pause_statuses, events)
    return {
        "acknowledge": measure("acknowledge", clock, start, item.acknowledged_at, targets.get("acknowledge"),
                               now, at_risk_share),
        "first_response": measure("first_response", clock, start, item.first_response_at,
                                  targets.get("first_response"), now, at_risk_share),
        "resolution": measure("resolution", clock, start, item.resolved_at, targets.get("resolution"), now,
                              at_risk_share, pauses),
    }


def overall_state(measures: Iterable[Measure]) -> str:
    """The item's SLA state for the queue: "breached" once any clock broke its target (running or
    stopped), else "at_risk", "on_track", "met" (every measured clock stopped in time) or "none"."""
    states = {m.state for m in measures}
    if states & {"breached", "missed"}:
        return "breached"
    for state in ("at_risk", "on_track", "met"):
        if state in states:
            return state
    return "none"
