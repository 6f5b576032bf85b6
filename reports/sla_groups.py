"""The SLA report's values (per-clock figures, groups, chart data) and the tallies that build them."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlencode

from db.models import CATEGORIES
from reports.clock import Measure
from reports.csat import CsatFigures
from reports.policy import MEASURES

BY = ("category", "organization", "assignee", "week")
ALL = "all"
NONE_KEY = "none"                    # the key of the "(no organization)" and "(unassigned)" groups


def N_(message: str) -> str:  # noqa: N802 (the name translators' tools look for)
    """Marks MESSAGE for translation where it is shown (the web app passes its gettext to the renderers)."""
    return message


NO_ORGANIZATION = N_("(no organization)")
UNASSIGNED = N_("(unassigned)")
CATEGORY_NAMES = {"issue": N_("Issue"), "change_request": N_("Change request"), "question": N_("Question"),
                  "feedback": N_("Feedback")}
TOP_ORGANIZATIONS = 15
H = 3600.0


@dataclass(frozen=True)
class Bucket:
    """A range of counted seconds, [low, high); high None is open-ended."""

    label: str
    low: float
    high: float | None

    def holds(self, seconds: float) -> bool:
        return seconds >= self.low and (self.high is None or seconds < self.high)


BUCKETS = (Bucket(N_("< 1 h"), 0.0, H), Bucket(N_("1–4 h"), H, 4 * H), Bucket(N_("4–8 h"), 4 * H, 8 * H),
           Bucket(N_("8–24 h"), 8 * H, 24 * H), Bucket(N_("1–3 d"), 24 * H, 72 * H),
           Bucket(N_("≥ 3 d"), 72 * H, None))


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
class ClockFigures:
    """One clock (acknowledge, first_response or resolution) over the items of one group."""

    clock: str
    items: int           # items in the group: every item has each of the three clocks
    measured: int        # met + missed + breached_open
    met: int             # stopped within the target
    missed: int          # stopped after the target
    breached_open: int   # running, past the target
    at_risk: int         # running, at least at_risk_share of the target used
    on_track: int        # running, less than at_risk_share of the target used
    no_target: int       # the item's policy sets no target for this clock and category
    stopped: int         # clocks that stopped, with or without a target: the percentiles' population
    p50_seconds: float | None
    p90_seconds: float | None
    max_seconds: float | None

    @property
    def compliance(self) -> float | None:
        """met / measured (0..1); None when nothing is measured."""
        return self.met / self.measured if self.measured else None


@dataclass(frozen=True)
class Group:
    """One row of the report: the items of a category, organization, assignee or week, or all of them."""

    by: str              # category, organization, assignee, week, or "all" for the total
    key: str             # unique among the groups: the category, the id ("none" for none), the week, "all"
    label: str
    id: int | None       # the organization's or user's id
    since: date          # the days the group's items were received on (a week is clipped to the period)
    until: date
    items: int
    breached_items: int  # items with any clock missed or breached (overall state "breached")
    clocks: tuple[ClockFigures, ...]  # in MEASURES order
    # the satisfaction surveys of its items (reports.csat)
    csat: CsatFigures = field(default_factory=CsatFigures)

    def clock(self, name: str) -> ClockFigures:
        return self.clocks[MEASURES.index(name)]

    def queue_params(self, breached: bool = False) -> dict[str, str] | None:
        """The PM queue's filter for this group's items (and only breached ones when BREACHED).

        None when the queue cannot select them: a category it does not know, or no organization.
        """
        params: dict[str, str] = {}
        if self.by == "category":
            if self.key not in CATEGORIES:
                return None
            params["category"] = self.key
        elif self.by == "organization":
            if self.id is None:
                return None
            params["org"] = str(self.id)
        elif self.by == "assignee":
            params["assignee"] = NONE_KEY if self.id is None else str(self.id)
        params["since"], params["until"] = self.since.isoformat(), self.until.isoformat()
        if breached:
            params["sla"] = "breached"
        return params


@dataclass(frozen=True)
class OrganizationBreaches:
    """Breached items of one client organization (id None: items without one)."""

    id: int | None
    name: str
    breached_items: int
    since: date
    until: date

    def queue_params(self) -> dict[str, str] | None:
        if self.id is None:
            return None
        return {"org": str(self.id), "since": self.since.isoformat(), "until": self.until.isoformat(),
                "sla": "breached"}


@dataclass(frozen=True)
class SlaReport:
    """The figures of items received on days SINCE..UNTIL (in TZ), grouped BY, plus the chart data."""

    since: date
    until: date
    tz: str
    start: datetime          # since's midnight in tz, as UTC (inclusive)
    end: datetime            # the midnight after until in tz, as UTC (exclusive)
    by: str
    generated_at: datetime   # "now": running clocks are measured up to it
    organizations: tuple[int, ...] | None
    groups: tuple[Group, ...]
    total: Group
    weeks: tuple[Group, ...]                                 # every ISO week of the period (chart 2)
    distributions: Mapping[str, tuple[int, ...]]             # clock -> counts per BUCKETS (chart 1)
    breached_by_organization: tuple[OrganizationBreaches, ...]  # top TOP_ORGANIZATIONS (chart 3)

    @property
    def rows(self) -> tuple[Group, ...]:
        """The groups, then the total."""
        return (*self.groups, self.total)

    def group(self, key: str) -> Group:
        """The group with KEY, or the total for "all"."""
        for g in self.rows:
            if g.key == key:
                return g
        raise KeyError(key)


@dataclass
class ClockTally:
    """Counts clocks by state and keeps the stopped ones' counted seconds."""

    states: Counter[str] = field(default_factory=Counter)
    durations: list[float] = field(default_factory=list)

    def add(self, m: Measure) -> None:
        self.states[m.state] += 1
        if m.stopped_at is not None:
            self.durations.append(m.elapsed)

    def figures(self, clock: str, items: int) -> ClockFigures:
        xs = sorted(self.durations)

        def fig(q: float) -> float | None:
            return round(percentile(xs, q), 6) if xs else None  # microseconds: the timestamps' resolution

        s = self.states
        return ClockFigures(clock=clock, items=items, measured=s["met"] + s["missed"] + s["breached"],
                            met=s["met"], missed=s["missed"], breached_open=s["breached"],
                            at_risk=s["at_risk"],
                            on_track=s["on_track"], no_target=s["none"], stopped=len(xs), p50_seconds=fig(50),
                            p90_seconds=fig(90), max_seconds=fig(100))


@dataclass
class GroupTally:
    """The running figures of one group."""

    label: str
    id: int | None = None
    items: int = 0
    breached_items: int = 0
    clocks: dict[str, ClockTally] = field(default_factory=lambda: {m: ClockTally() for m in MEASURES})

    def add(self, measures: Mapping[str, Measure], breached: bool) -> None:
        self.items += 1
        self.breached_items += breached
        for name in MEASURES:
            self.clocks[name].add(measures[name])

    def group(self, by: str, key: str, since: date, until: date) -> Group:
        return Group(by=by, key=key, label=self.label, id=self.id, since=since, until=until, items=self.items,
                     breached_items=self.breached_items,
                     clocks=tuple(self.clocks[m].figures(m, self.items) for m in MEASURES))


def queue_href(base_url: str, params: Mapping[str, str] | None) -> str | None:
    """The PM queue's address for PARAMS under BASE_URL ("" gives a relative link); None without PARAMS."""
    if params is None:
        return None
    return f"{base_url.rstrip('/')}/?{urlencode(params)}"


def bucket_index(seconds: float) -> int:
    """The index in BUCKETS of SECONDS."""
    return next(i for i, b in enumerate(BUCKETS) if b.holds(seconds))


def ordered_keys(tallies: Mapping[str, GroupTally], by: str) -> list[str]:
    """The group keys of BY in report order.

    category: the four categories, then others sorted; organization and assignee: by label
    (case-insensitive, then id), the "none" group last; week: the keys, which sort by date.
    """
    if by == "category":
        return [*CATEGORIES, *sorted(k for k in tallies if k not in CATEGORIES)]
    if by == "week":
        return sorted(tallies)
    named = sorted((k for k in tallies if k != NONE_KEY),
                   key=lambda k: (tallies[k].label.casefold(), tallies[k].label, tallies[k].id or 0))
    return named + ([NONE_KEY] if NONE_KEY in tallies else [])


def top_breaches(orgs: Mapping[str, GroupTally], since: date, until: date) -> tuple[OrganizationBreaches,
                                                                                    ...]:
    """The organizations with breached items, most first (ties: by name, "(no organization)" last)."""
    rows = [OrganizationBreaches(t.id, t.label, t.breached_items, since, until)
            for t in orgs.values() if t.breached_items]
    rows.sort(key=lambda r: (-r.breached_items, r.id is None, r.name.casefold(), r.name, r.id or 0))
    return tuple(rows[:TOP_ORGANIZATIONS])
