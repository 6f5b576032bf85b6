"""Builds a business calendar from config-style values, with one-line errors naming the bad field.

``hours`` maps day names to interval lists::

    {"weekdays": "09:00-12:00, 13:00-18:00", "fri": "09:00-15:00", "sat": "closed"}

Keys are ``mon`` .. ``sun`` and ``weekdays`` (Monday to Friday; a named day overrides it whatever
the order); a day not given is closed, as is ``""`` or ``"closed"``. Times are ``HH:MM``; ``24:00``
(or ``00:00``) as an end means midnight at the end of the day. Dates are ``YYYY-MM-DD`` strings or
``date`` objects.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time

from reports.calendar import DAY_NAMES, BusinessCalendar, Interval, interval_problem

_TIME = r"(\d{1,2}):(\d{2})"
_INTERVAL = re.compile(rf"\s*{_TIME}\s*-\s*{_TIME}\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CLOSED = ("", "closed")


def _quote(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def _time(hh: str, mm: str, *, end: bool) -> time | None:
    h, m = int(hh), int(mm)
    if end and (h, m) == (24, 0):
        return time(0)  # midnight ending the day: the calendar reads an end of 00:00 as 24:00
    return time(h, m) if h < 24 and m < 60 else None


def parse_day(key: str, raw: object) -> tuple[Interval, ...]:
    """One day's intervals from a string such as "09:00-12:00, 13:00-18:00" (or "closed")."""
    bad = ValueError(f"hours.{key}: {_quote(raw)} is not HH:MM-HH:MM")
    if not isinstance(raw, str):
        raise bad
    if raw.strip().lower() in _CLOSED:
        return ()
    intervals = []
    for part in raw.split(","):
        match = _INTERVAL.fullmatch(part)
        if not match:
            raise bad
        start, end = _time(*match.group(1, 2), end=False), _time(*match.group(3, 4), end=True)
        if start is None or end is None:
            raise bad
        intervals.append((start, end))
    if problem := interval_problem(intervals):
        raise ValueError(f"hours.{key}: {_quote(raw)}: {problem}")
    return tuple(sorted(intervals))


def parse_hours(hours: Mapping[str, object]) -> tuple[tuple[Interval, ...], ...]:
    """The seven days' intervals, Monday first, from a mapping of day names to interval strings."""
    if not isinstance(hours, Mapping):
        # Every config error is a ValueError, wrong types included.
        raise ValueError(f"hours: expected a mapping of day names to hours, got {_quote(hours)}")  # noqa: TRY004
    week: list[tuple[Interval, ...]] = [()] * 7
    for raw_key in sorted(hours, key=lambda k: k != "weekdays"):  # "weekdays" first, named days win
        key = raw_key.lower() if isinstance(raw_key, str) else raw_key
        if key == "weekdays":
            week[:5] = [parse_day(key, hours[raw_key])] * 5
        elif key in DAY_NAMES:
            week[DAY_NAMES.index(key)] = parse_day(key, hours[raw_key])
        else:
            raise ValueError(f"hours: unknown day {_quote(key)} (use mon, tue, wed, thu, fri, sat, sun or "
                             "weekdays)")
    if not any(week):
        raise ValueError("hours: no working hours on any day")
    return tuple(week)


def parse_dates(field: str, values: Iterable[str | date]) -> frozenset[date]:
    """Dates from YYYY-MM-DD strings or date objects; FIELD names the list in error messages."""
    if isinstance(values, (str, date)):
        # Every config error is a ValueError, wrong types included.
        raise ValueError(f"{field}: expected a list of dates, got {_quote(values)}")  # noqa: TRY004
    dates = set()
    for i, value in enumerate(values):
        if isinstance(value, date) and not isinstance(value, datetime):
            dates.add(value)
            continue
        try:
            if not (isinstance(value, str) and _DATE.fullmatch(value)):
                raise ValueError
            dates.add(date.fromisoformat(value))
        except ValueError:
            raise ValueError(f"{field}[{i}]: {_quote(value)} is not a YYYY-MM-DD date") from None
    return frozenset(dates)


def build_calendar(name: str, *, timezone: str, hours: Mapping[str, object], country: str | None = None,
                   subdivision: str | None = None, holidays: Iterable[str | date] = (),
                   workdays: Iterable[str | date] = ()) -> BusinessCalendar:
    """A :class:`BusinessCalendar` from config values; a bad value raises a one-line ValueError."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name: {_quote(name)} is empty; a calendar needs a name")
    if not isinstance(timezone, str) or not timezone:
        raise ValueError(f"timezone: {_quote(timezone)} is not a known IANA time zone")
    return BusinessCalendar(
        name=name, timezone=timezone, hours=parse_hours(hours),
        country=country or None, subdivision=subdivision or None,
        extra_holidays=parse_dates("holidays", holidays), extra_workdays=parse_dates("workdays", workdays),
    )
