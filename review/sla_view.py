"""Shows SLA facts on pages: state names, human durations, an item's clocks, client tiers and the policies."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from db.models import CATEGORIES
from reports.calendar import format_interval
from reports.clock import Measure, overall_state
from reports.policy import MEASURES, WALL_CLOCK, SlaPolicies, parse_policies
from reports.state import item_clocks, snapshot_of
from review.i18n import N_, gettext
from review.present import iso_utc

# Item states (the queue) and clock states (the item page), by name.
STATE_LABELS = {
    "on_track": N_("On track"), "at_risk": N_("At risk"), "breached": N_("Breached"), "met": N_("Met"),
    "missed": N_("Missed"), "none": N_("Not measured"),
}
CLOCK_LABELS = {"acknowledge": N_("Acknowledgment"), "first_response": N_("First response"),
                "resolution": N_("Resolution")}


def builtin_policies() -> SlaPolicies:
    """The policies that apply when the configuration names none: the built-in "standard" policy."""
    return parse_policies({}, {}, "")


def state_text(state: str | None) -> str:
    """An SLA state ("at_risk") by name in the request's language; "" for no state."""
    return gettext(STATE_LABELS[state]) if state in STATE_LABELS else (state or "")


def clock_text(name: str) -> str:
    """A clock ("first_response") by name in the request's language."""
    return gettext(CLOCK_LABELS[name]) if name in CLOCK_LABELS else name


def calendar_text(name: str) -> str:
    """A calendar's name for people: the wall clock by name, a business calendar as configured."""
    return gettext("Around the clock (24/7)") if name in ("", WALL_CLOCK) else name


def duration_text(seconds: float | None, days: bool = False) -> str:
    """SECONDS of counted time as "4 h 30 min" (the two largest units, rounded down; with DAYS "3 d 2 h" from
    a day on, for the wall clock only: on a business calendar a day is ambiguous); an em dash for None."""
    if seconds is None:
        return "\u2014"
    whole = round(max(seconds, 0.0))
    if whole < 60:
        return gettext("%(num)s s", num=whole)
    minutes = whole // 60  # whole minutes: 3 h 59 min 50 s is not yet 4 h
    d, rest = divmod(minutes, 24 * 60) if days and minutes >= 24 * 60 else (0, minutes)
    h, m = divmod(rest, 60)
    parts = [(d, N_("%(num)s d")), (h, N_("%(num)s h")), (m, N_("%(num)s min"))]
    return " ".join([gettext(unit, num=n) for n, unit in parts if n][:2])


def time_left_text(due: datetime | None, now: datetime) -> str:
    """How long until DUE at NOW, "3 h 20 min left", or since, "overdue by 2 d 1 h"; "" for no due time."""
    if due is None:
        return ""
    seconds = (due - now).total_seconds()
    if seconds >= 0:
        return gettext("%(time)s left", time=duration_text(seconds, days=True))
    return gettext("overdue by %(time)s", time=duration_text(-seconds, days=True))


def age_text(since: datetime, now: datetime) -> str:
    """How long ago SINCE was at NOW, "2 d 5 h"."""
    return duration_text((now - since).total_seconds(), days=True)


@dataclass(frozen=True)
class ItemSla:
    """An item's SLA on its page: the policy it recorded, its three clocks now, and the overall state."""

    policy: str
    calendar: str                 # the calendar's name as recorded ("wall-clock" for 24/7)
    time_zone: str                # the business calendar's time zone; "" for the wall clock
    calendar_missing: bool        # the recorded calendar is no longer configured: counted around the clock
    recorded: bool                # False for items from before policies: the default policy applies
    clocks: Sequence[Measure]
    state: str                    # overall_state() of the clocks
    paused: bool                  # the resolution clock is paused now (waiting for the client)

    @property
    def days(self) -> bool:
        """Whether durations may be shown in days (only on the wall clock)."""
        return self.calendar in ("", WALL_CLOCK) or self.calendar_missing


def item_sla(item: Any, policies: SlaPolicies, now: datetime) -> ItemSla:
    """ITEM's SLA at NOW under POLICIES (its events loaded, for the paused spans)."""
    snapshot = snapshot_of(item, policies)
    clocks = item_clocks(item, policies, now, item.events)
    calendar = str(snapshot.get("calendar") or WALL_CLOCK)
    configured = policies.calendars.get(calendar)
    resolution = clocks["resolution"]
    return ItemSla(
        policy=str(snapshot.get("policy") or ""), calendar=calendar,
        time_zone=configured.timezone if configured is not None else "",
        calendar_missing=calendar != WALL_CLOCK and configured is None, recorded=bool(item.sla),
        clocks=[clocks[name] for name in MEASURES], state=overall_state(clocks.values()),
        paused=resolution.stopped_at is None and resolution.target is not None
        and item.status in policies.pause_statuses,
    )


def clocks_json(sla: ItemSla) -> dict[str, Any]:
    """An item's SLA for the JSON API: codes, seconds and UTC times, whatever the user's language."""
    return {
        "policy": sla.policy, "calendar": sla.calendar, "state": sla.state, "paused": sla.paused,
        "clocks": {m.name: {"target_seconds": m.target, "counted_seconds": round(m.elapsed, 1),
                            "state": m.state,
                            "stopped_at": iso_utc(m.stopped_at)}
                   for m in sla.clocks},
    }


# --- client tiers ---------------------------------------------------------------------------------------

def tier_choices(policies: SlaPolicies) -> list[tuple[str, str]]:
    """(tier, policy name) for every tier the policies name, in configuration order; a tier named twice
    belongs to the first policy naming it, as SlaPolicies.for_tier has it."""
    found: dict[str, str] = {}
    for policy in policies.policies.values():
        for tier in policy.tiers:
            found.setdefault(tier, policy.name)
    return list(found.items())


@dataclass(frozen=True)
class ClientService:
    """An organization's SLA settings as its page shows them."""

    tier: str
    policy: str                   # the policy new items of the organization get
    tier_known: bool              # "" or a tier the policies name
    digest: bool
    choices: Sequence[tuple[str, str]]  # (tier, policy) from tier_choices
    default: str                  # the default policy: for clients without a (known) tier


def client_service(tier: str, digest: bool, policies: SlaPolicies) -> ClientService:
    """An organization's TIER and DIGEST setting with the policy they pick under POLICIES."""
    choices = tier_choices(policies)
    return ClientService(tier=tier, policy=policies.for_tier(tier).name,
                         tier_known=not tier or tier in dict(choices), digest=digest, choices=choices,
                         default=policies.default)


# --- the policies page -------------------------------------------------------------------------------------

def weekday_names() -> tuple[str, ...]:
    """Monday to Sunday in the request's language."""
    return (gettext("Monday"), gettext("Tuesday"), gettext("Wednesday"), gettext("Thursday"),
            gettext("Friday"),
            gettext("Saturday"), gettext("Sunday"))


@dataclass(frozen=True)
class PolicyRow:
    """One policy on the policies page; TARGETS are (category, seconds per clock in MEASURES order)."""

    name: str
    calendar: str
    tiers: Sequence[str]
    targets: Sequence[tuple[str, Sequence[float | None]]]
    default: bool
    clients: int                  # organizations whose new items get this policy
    days: bool


@dataclass(frozen=True)
class CalendarRow:
    """One business calendar on the policies page: HOURS are (weekday name, hours text)."""

    name: str
    time_zone: str
    country: str
    subdivision: str
    hours: Sequence[tuple[str, str]]
    extra_holidays: Sequence[date]
    extra_workdays: Sequence[date]
    policies: Sequence[str]       # the policies counting on it


def policy_rows(policies: SlaPolicies, tiers_in_use: Mapping[str, int]) -> list[PolicyRow]:
    """The configured policies, the default first; TIERS_IN_USE counts the organizations per tier (""
    none)."""
    clients: dict[str, int] = {}
    for tier, n in tiers_in_use.items():
        name = policies.for_tier(tier).name
        clients[name] = clients.get(name, 0) + n
    rows = [PolicyRow(name=p.name, calendar=p.calendar, tiers=p.tiers,
                      targets=[(c, [p.targets.get(c, {}).get(m) for m in MEASURES]) for c in CATEGORIES],
                      default=p.name == policies.default, clients=clients.get(p.name, 0),
                      days=p.calendar == WALL_CLOCK)
            for p in policies.policies.values()]
    return sorted(rows, key=lambda r: not r.default)


def calendar_rows(policies: SlaPolicies) -> list[CalendarRow]:
    """The configured business calendars by name, with their weekly hours in the request's language."""
    days = weekday_names()
    rows = []
    for name, cal in sorted(policies.calendars.items()):
        hours = [(days[i], ", ".join(format_interval(iv) for iv in cal.hours[i]) or gettext("closed"))
                 for i in range(7)]
        rows.append(CalendarRow(name=name, time_zone=cal.timezone, country=cal.country or "",
                                subdivision=cal.subdivision or "", hours=hours,
                                extra_holidays=sorted(cal.extra_holidays),
                                extra_workdays=sorted(cal.extra_workdays),
                                policies=[p.name for p in policies.policies.values() if p.calendar == name]))
    return rows
