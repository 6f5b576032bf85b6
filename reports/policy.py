"""SLA policies: targets per category for acknowledging, first response and resolution, by client tier.

Config shape (all under ``[sla]``)::

    default_policy = "standard"
    [sla.calendars.office]          # see reports.calendar_config.build_calendar
    timezone = "Asia/Shanghai"
    country = "CN"
    hours = { weekdays = "09:00-18:00" }
    [sla.policies.standard]
    calendar = "office"             # a calendar above, or "wall-clock" (the default): 24/7
    tiers = []                      # client tiers this policy is for; the default policy covers the rest
    [sla.policies.standard.targets]
    issue = { acknowledge = "15m", first_response = "4h", resolution = "40h" }

Durations are ``90s``, ``15m``, ``4h``, or ``2d`` (days only on the wall clock: on a business calendar
a "day" is ambiguous, so targets there are hours of working time). A category without a target, or a
target left out, is not measured. Without any ``[sla.policies]`` the built-in ``standard`` policy
applies (wall clock; see DEFAULT_TARGETS).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from db.categories import CATEGORIES  # not db.models: the reading processes load no ORM
from reports.calendar import BusinessCalendar, Clock, WallClock
from reports.calendar_config import build_calendar

MEASURES = ("acknowledge", "first_response", "resolution")
WALL_CLOCK = "wall-clock"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
H = 3600.0
DEFAULT_TARGETS: dict[str, dict[str, float | None]] = {
    "issue": {"acknowledge": 5 * 60, "first_response": 4 * H, "resolution": 72 * H},
    "change_request": {"acknowledge": 5 * 60, "first_response": 24 * H, "resolution": None},
    "question": {"acknowledge": 5 * 60, "first_response": 8 * H, "resolution": 48 * H},
    "feedback": {"acknowledge": 5 * 60, "first_response": 24 * H, "resolution": 120 * H},
}


@dataclass(frozen=True)
class Policy:
    """A named set of targets (seconds of counted time, None: not measured) on one calendar."""

    name: str
    calendar: str = WALL_CLOCK
    tiers: tuple[str, ...] = ()
    targets: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """What an item records when it is created: later changes to the policy do not rewrite its history.

        Targets of every category are kept, so a corrected category is measured by the same policy.
        """
        return {"policy": self.name, "calendar": self.calendar,
                "targets": {c: {m: self.targets.get(c, {}).get(m) for m in MEASURES} for c in CATEGORIES}}


@dataclass(frozen=True)
class SlaPolicies:
    """Every policy and calendar, the default policy, and the at-risk share."""

    policies: Mapping[str, Policy]
    default: str
    calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    at_risk_share: float = 0.75
    pause_statuses: tuple[str, ...] = ("awaiting_approval",)

    def for_tier(self, tier: str) -> Policy:
        """The policy for a client of TIER ("" for none): the first naming the tier, else the default."""
        if tier:
            for policy in self.policies.values():
                if tier in policy.tiers:
                    return policy
        return self.policies[self.default]

    def clock(self, calendar: str) -> Clock:
        """The clock called CALENDAR; the wall clock for "wall-clock" or a calendar no longer configured."""
        return self.calendars.get(calendar) or WallClock()


def parse_duration(key: str, raw: object, business: bool) -> float | None:
    """Seconds from "15m", "4h", "2d" or "90s"; None for "" or "none". ValueError naming KEY otherwise."""
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none")):
        return None
    found = _DURATION.match(raw) if isinstance(raw, str) else None
    if found is None:
        raise ValueError(f"{key}: {raw!r} is not a duration such as \"15m\", \"4h\" or \"2d\"")
    if found.group(2) == "d" and business:
        raise ValueError(f"{key}: days are ambiguous on a business calendar; give hours of working time, "
                         f"e.g. \"16h\" for two 8-hour days")
    seconds = float(found.group(1)) * _UNIT[found.group(2)]
    if seconds <= 0:
        raise ValueError(f"{key}: must be more than 0")
    return seconds


def _targets(key: str, raw: object, business: bool) -> dict[str, dict[str, float | None]]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{key}: expected a table of categories")
    out: dict[str, dict[str, float | None]] = {}
    for category, measures in raw.items():
        if category not in CATEGORIES:
            raise ValueError(f"{key}.{category}: unknown category; use {', '.join(CATEGORIES)}")
        if not isinstance(measures, Mapping):
            raise ValueError(f"{key}.{category}: expected a table such as {{ acknowledge = \"15m\" }}")
        unknown = set(measures) - set(MEASURES)
        if unknown:
            raise ValueError(f"{key}.{category}.{sorted(unknown)[0]}: unknown target; use "
                             f"{', '.join(MEASURES)}")
        out[category] = {m: parse_duration(f"{key}.{category}.{m}", measures.get(m),
                                           business) for m in MEASURES}
    return out


# The keys of a [sla.calendars.NAME] and a [sla.policies.NAME] table.
CALENDAR_KEYS = ("timezone", "hours", "country", "subdivision", "holidays", "workdays")
POLICY_KEYS = ("calendar", "tiers", "targets")


def _calendar(name: str, raw: object) -> BusinessCalendar:
    if not isinstance(raw, Mapping):
        raise ValueError(f"sla.calendars.{name}: expected a table")
    unknown = set(raw) - set(CALENDAR_KEYS)
    if unknown:
        raise ValueError(f"sla.calendars.{name}.{sorted(unknown)[0]}: unknown key")
    if "timezone" not in raw or "hours" not in raw:
        raise ValueError(f"sla.calendars.{name}: needs timezone and hours")
    try:
        return build_calendar(name, timezone=raw["timezone"], hours=raw["hours"], country=raw.get("country"),
                              subdivision=raw.get("subdivision"), holidays=raw.get("holidays", ()),
                              workdays=raw.get("workdays", ()))
    except ValueError as exc:
        raise ValueError(f"sla.calendars.{name}.{exc}") from None


def parse_policies(calendars: Mapping[str, Any], policies: Mapping[str, Any], default: str,
                   at_risk_share: float = 0.75, pause_statuses: tuple[str, ...] = ("awaiting_approval",),
                   default_acknowledge: float = 5 * 60) -> SlaPolicies:
    """SlaPolicies from the [sla] tables; ValueError with the key for anything wrong.

    DEFAULT_ACKNOWLEDGE (seconds) is the built-in policy's acknowledgment target.
    """
    if not 0 < at_risk_share < 1:
        raise ValueError("sla.at_risk_share: must be between 0 and 1, e.g. 0.75")
    built_calendars = {name: _calendar(name, raw) for name, raw in calendars.items()}
    if WALL_CLOCK in built_calendars:
        raise ValueError(f"sla.calendars.{WALL_CLOCK}: the name is reserved for the 24/7 clock")
    built: dict[str, Policy] = {}
    for name, raw in policies.items():
        key = f"sla.policies.{name}"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{key}: expected a table")
        unknown = set(raw) - set(POLICY_KEYS)
        if unknown:
            raise ValueError(f"{key}.{sorted(unknown)[0]}: unknown key")
        calendar = raw.get("calendar", WALL_CLOCK)
        if calendar != WALL_CLOCK and calendar not in built_calendars:
            raise ValueError(f"{key}.calendar: no calendar {calendar!r} under [sla.calendars]")
        tiers = raw.get("tiers", [])
        if not isinstance(tiers, list) or not all(isinstance(t, str) and t for t in tiers):
            raise ValueError(f"{key}.tiers: expected a list of tier names")
        built[name] = Policy(name, calendar, tuple(tiers),
                             _targets(f"{key}.targets", raw.get("targets", {}), calendar != WALL_CLOCK))
    if not built:
        targets = {c: {**t, "acknowledge": default_acknowledge} for c, t in DEFAULT_TARGETS.items()}
        built = {"standard": Policy("standard", WALL_CLOCK, (), targets)}
        default = default or "standard"
    elif not default and len(built) == 1:
        default = next(iter(built))
    if default not in built:
        raise ValueError(f"sla.default_policy: no policy {default!r} under [sla.policies]")
    return SlaPolicies(built, default, built_calendars, at_risk_share, pause_statuses)
