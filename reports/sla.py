"""Computes acknowledgment-time SLA figures per category from the tracker's items.

Definitions (all times are timezone-aware UTC):

- *Time to acknowledge* of an item is ``acknowledged_at - received_at`` in seconds; a negative
  difference (clock skew between the mail server and us) counts as 0.
- Percentiles (p50, p90) and the maximum are taken over the **acknowledged** items only, with
  :func:`percentile` (linear interpolation between closest ranks, numpy's default method). They are
  ``None`` when nothing in the row was acknowledged. Figures are rounded to microseconds, the
  resolution of the stored timestamps.
- *Within target*: an acknowledged item whose time to acknowledge is ``<= target``.
- Items not acknowledged yet are split by how long they have waited at ``now``:
  *pending* while ``now - received_at <= target`` (they may still make it: they are left out of the
  share's denominator), *overdue* once ``now - received_at > target`` (they can no longer make it:
  they count in the denominator as not within target).
- *Within-target share* = ``within_target / (acknowledged + overdue)``, a ratio in [0, 1], ``None``
  when that denominator is 0 (nothing measurable yet).
- The period filters on ``received_at``: ``since`` inclusive, ``until`` exclusive; either may be open.
- Rows: the four categories always, in the order issue, change_request, question, feedback (zeros
  when empty); items with any other category value get a row of their own after these, sorted by
  name, so nothing is hidden; then the ``all`` row over every item in the period.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import CATEGORIES, Item
from db.types import utcnow

ALL = "all"
_YIELD_PER = 2000


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The Q-th percentile (0..100) of SORTED_VALUES (ascending, non-empty).

    Linear interpolation between closest ranks, as numpy's default ("linear", Hyndman & Fan type 7):
    with ``n`` values and ``h = (n - 1) * q / 100``, the result is
    ``x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)])``.
    For 1..10 this gives p50 = 5.5 and p90 = 9.1.
    """
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    h = (len(sorted_values) - 1) * q / 100
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


@dataclass(frozen=True)
class CategorySla:
    """The figures of one row: a category, or ``all``."""

    category: str
    items: int
    acknowledged: int
    pending: int
    overdue: int
    within_target: int
    p50_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None

    @property
    def measured(self) -> int:
        """The share's denominator: acknowledged items plus the overdue unacknowledged ones."""
        return self.acknowledged + self.overdue

    @property
    def within_target_share(self) -> float | None:
        """Share (0..1) of measured items acknowledged within target; None when none is measured."""
        return self.within_target / self.measured if self.measured else None


@dataclass(frozen=True)
class SlaReport:
    """Acknowledgment SLA figures: one row per category, then the ``all`` row."""

    target_minutes: float
    since: datetime | None
    until: datetime | None
    generated_at: datetime
    rows: tuple[CategorySla, ...]

    @property
    def target_seconds(self) -> float:
        return self.target_minutes * 60

    @property
    def categories(self) -> tuple[CategorySla, ...]:
        """The category rows, without the ``all`` row."""
        return self.rows[:-1]

    @property
    def total(self) -> CategorySla:
        """The ``all`` row."""
        return self.rows[-1]

    def row(self, category: str) -> CategorySla:
        """The row of CATEGORY (or ``all``)."""
        for r in self.rows:
            if r.category == category:
                return r
        raise KeyError(category)


@dataclass
class _Tally:
    items: int = 0
    pending: int = 0
    overdue: int = 0
    within_target: int = 0
    durations: list[float] = field(default_factory=list)

    def add(self, waited: float | None, elapsed: float, target: float) -> None:
        self.items += 1
        if waited is not None:
            self.durations.append(waited)
            if waited <= target:
                self.within_target += 1
        elif elapsed > target:
            self.overdue += 1
        else:
            self.pending += 1

    def row(self, category: str) -> CategorySla:
        xs = sorted(self.durations)

        def fig(q: float) -> float | None:
            return round(percentile(xs, q), 6) if xs else None

        return CategorySla(category=category, items=self.items, acknowledged=len(xs), pending=self.pending,
                           overdue=self.overdue, within_target=self.within_target, p50_seconds=fig(50),
                           p90_seconds=fig(90), max_seconds=fig(100))


def _aware(name: str, value: datetime | None) -> None:
    if value is not None and value.tzinfo is None:
        raise ValueError(f"{name}: naive datetime given; use an aware UTC datetime")


def compute_sla(session: Session, target_minutes: float, since: datetime | None = None,
                until: datetime | None = None, now: datetime | None = None) -> SlaReport:
    """The SLA report over items received in [SINCE, UNTIL), against TARGET_MINUTES, as of NOW.

    Rows are streamed from the database; only the acknowledged durations are kept in memory.
    """
    if not isinstance(target_minutes, (int, float)) or not math.isfinite(target_minutes) or target_minutes < 0:
        raise ValueError(f"target_minutes must be a finite number >= 0, got {target_minutes!r}")
    for name, value in (("since", since), ("until", until), ("now", now)):
        _aware(name, value)
    now = now or utcnow()
    target = target_minutes * 60

    stmt = select(Item.category, Item.received_at, Item.acknowledged_at)
    if since is not None:
        stmt = stmt.where(Item.received_at >= since)
    if until is not None:
        stmt = stmt.where(Item.received_at < until)

    tallies: dict[str, _Tally] = {c: _Tally() for c in CATEGORIES}
    total = _Tally()
    for category, received, acked in session.execute(stmt.execution_options(yield_per=_YIELD_PER)):
        waited = max(0.0, (acked - received).total_seconds()) if acked is not None else None
        elapsed = (now - received).total_seconds()
        tally = tallies.get(category)
        if tally is None:
            tally = tallies[category] = _Tally()
        tally.add(waited, elapsed, target)
        total.add(waited, elapsed, target)

    others = sorted(c for c in tallies if c not in CATEGORIES)
    rows = tuple(tallies[c].row(c) for c in (*CATEGORIES, *others)) + (total.row(ALL),)
    return SlaReport(target_minutes=float(target_minutes), since=since, until=until, generated_at=now, rows=rows)
