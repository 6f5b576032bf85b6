"""Business calendars and a wall clock for SLA timers: working time between instants and deadlines.

Whether a local date works, and with which hours, in order of precedence:

1. an explicit extra working day works; an explicit extra holiday does not;
2. the official schedule: a public holiday is a whole local day off; a make-up working day (a
   weekend day worked in exchange for a holiday) works. For ``CN`` that is ``chinesecalendar``,
   with the adjusted working days (调休); for a year it has no data for (it raises
   ``NotImplementedError``) the calendar falls back to the ``holidays`` library's CN holidays plus
   normal weekends (make-up days only where ``holidays`` knows them, never for future years) and
   logs a warning once per year (see :meth:`BusinessCalendar.holiday_source`). Other countries
   use the ``holidays`` library, including the make-up days it knows (``weekend_workdays``);
3. otherwise the weekly hours of that weekday.

A day that works under rule 1 or 2 uses its own weekday's hours, or the hours of
``makeup_weekday`` (Monday by default) when its own weekday has none, e.g. a make-up Saturday.

Intervals are ``[start, end)`` local times; an end of ``time(0)`` means 24:00 (the midnight ending
the day). Local times become instants per day with ``zoneinfo``, so DST days are 23 or 25 hours
long; arithmetic is done in UTC. All datetimes must be timezone-aware.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from holidays import HolidayBase


log = logging.getLogger(__name__)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HORIZON_DAYS = 3 * 366  # how far add_business_seconds looks for working time before giving up
Interval = tuple[time, time]
_DAY = timedelta(days=1)
_HOLIDAY, _MAKEUP = "holiday", "makeup"


class Clock(Protocol):
    """What SLA code needs from a calendar: elapsed counted time, and a deadline."""

    def business_seconds(self, start: datetime, end: datetime) -> float: ...

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime: ...


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a timezone-aware datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive datetime {value.isoformat()}")
    return value


def _check_seconds(seconds: float) -> None:
    if not seconds >= 0:  # also rejects NaN
        raise ValueError(f"seconds must be >= 0, got {seconds!r}")


@dataclass(frozen=True)
class WallClock:
    """Plain elapsed time, for targets counted 24/7; the same methods as a business calendar."""

    name: str = "wall-clock"

    def business_seconds(self, start: datetime, end: datetime) -> float:
        # Convert first: subtracting two datetimes that share a ZoneInfo ignores DST changes.
        seconds = (_aware(end, "end").astimezone(UTC) - _aware(start,
                                                               "start").astimezone(UTC)).total_seconds()
        return max(seconds, 0.0)

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        _check_seconds(seconds)
        utc = _aware(start, "start").astimezone(UTC) + timedelta(seconds=seconds)
        return utc.astimezone(start.tzinfo)


def format_interval(interval: Interval) -> str:
    """An interval as HH:MM-HH:MM, with 24:00 for an end of midnight."""
    start, end = interval
    return f"{start:%H:%M}-{'24:00' if end == time(0) else format(end, '%H:%M')}"


def interval_problem(intervals: Sequence[Interval]) -> str | None:
    """Why a day's intervals are unusable (reversed, empty or overlapping), or None when fine."""
    previous: Interval | None = None
    for interval in sorted(intervals):
        start, end = interval
        if end != time(0) and end <= start:
            return f"{format_interval(interval)} ends at or before its start"
        if previous is not None and (previous[1] == time(0) or start < previous[1]):
            return f"{format_interval(interval)} overlaps {format_interval(previous)}"
        previous = interval
    return None


@cache
def _public_holidays(country: str, subdivision: str | None) -> HolidayBase:
    # One object per country/subdivision for the whole process: building one costs far more than
    # a lookup, and it fills in further years by itself (expand=True) as dates are asked for.
    # Imported here: a process whose calendars name no country (the reading processes, most commands)
    # never needs the library, whose import is a third of the config's.
    import holidays

    return holidays.country_holidays(country, subdiv=subdivision)


def _chinese_holiday(d: date) -> tuple[bool, str | None]:
    """chinesecalendar's (day off, holiday name) for D; NotImplementedError for a year it has no data for."""
    import chinese_calendar

    return chinese_calendar.get_holiday_detail(d)


@dataclass(frozen=True)
class BusinessCalendar:
    """Working time in one time zone: weekly hours, public holidays, extra days off and on."""

    name: str
    timezone: str
    hours: Sequence[Sequence[Interval]] | Mapping[int, Sequence[Interval]]  # stored as 7 tuples, Monday first
    country: str | None = None
    subdivision: str | None = None
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    makeup_weekday: int = 0
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _days: dict[date, tuple[tuple[tuple[datetime, datetime], ...], float]] = field(
        init=False, repr=False, compare=False, default_factory=dict)
    _fallback_years: set[int] = field(init=False, repr=False, compare=False, default_factory=set)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalize the inputs once, here
        try:
            set_(self, "_tz", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f'timezone: "{self.timezone}" is not a known IANA time zone') from None
        hours = self.hours
        if isinstance(hours, Mapping):
            hours = [hours.get(i, ()) for i in range(7)]
        if len(hours) != 7:
            raise ValueError(f"hours: expected 7 days (Monday first), got {len(hours)}")
        set_(self, "hours", tuple(tuple(sorted(tuple(iv) for iv in day)) for day in hours))
        for i, day in enumerate(self.hours):
            if problem := interval_problem(day):
                raise ValueError(f"hours.{DAY_NAMES[i]}: {problem}")
        if self.makeup_weekday not in range(7):
            raise ValueError(f"makeup_weekday: {self.makeup_weekday!r} is not 0 (Monday) .. 6 (Sunday)")
        set_(self, "extra_holidays", frozenset(self.extra_holidays))
        set_(self, "extra_workdays", frozenset(self.extra_workdays))
        if both := sorted(self.extra_holidays & self.extra_workdays):
            raise ValueError(f"workdays: {both[0].isoformat()} is also listed in holidays")
        if self.subdivision and not self.country:
            raise ValueError(f'subdivision: "{self.subdivision}" given without a country')
        if self.country is not None and not isinstance(self.country, str):
            raise ValueError(f"country: {self.country!r} is not a country code known to holidays")
        if self.country:
            set_(self, "country", self.country.upper())
            try:
                _public_holidays(self.country, self.subdivision)
            except NotImplementedError:
                import holidays

                supported = holidays.list_supported_countries()
                if self.country not in supported:
                    raise ValueError(f'country: "{self.country}" is not a country code known to '
                                     'holidays') from None
                known = ", ".join(supported[self.country]) or "none"
                raise ValueError(f'subdivision: "{self.subdivision}" is not a subdivision of {self.country} '
                                 f"known to holidays (known: {known})") from None

    # -- days ---------------------------------------------------------------------------------

    def holiday_source(self, year: int) -> str:
        """Where the official days off of YEAR come from: "none", "holidays", "chinesecalendar",
        or "holidays-fallback" (CN in a year chinesecalendar has no data for yet)."""
        if not self.country:
            return "none"
        if self.country != "CN":
            return "holidays"
        try:
            _chinese_holiday(date(year, 7, 1))
        except NotImplementedError:
            return "holidays-fallback"
        return "chinesecalendar"

    def _official(self, d: date) -> str | None:
        if self.country == "CN":
            try:
                off, name = _chinese_holiday(d)
            except NotImplementedError:
                if d.year not in self._fallback_years:
                    self._fallback_years.add(d.year)
                    log.warning("calendar %s: chinesecalendar has no data for %d; using the holidays "
                                "library's CN holidays and normal weekends", self.name, d.year)
            else:  # name is None for an ordinary weekday or weekend
                return None if name is None else _HOLIDAY if off else _MAKEUP
        public = _public_holidays(self.country, self.subdivision)
        if d in public:  # the membership test also fills in d's year, so weekend_workdays is ready
            return _HOLIDAY
        return _MAKEUP if d in public.weekend_workdays else None

    def day_hours(self, d: date) -> tuple[Interval, ...]:
        """The local working intervals of date D (empty on a day off)."""
        own = self.hours[d.weekday()]
        if d in self.extra_workdays:
            status: str | None = _MAKEUP
        elif d in self.extra_holidays:
            return ()
        else:
            status = self._official(d) if self.country else None
        if status == _HOLIDAY:
            return ()
        if status == _MAKEUP:
            return own or self.hours[self.makeup_weekday]
        return own

    def is_working_day(self, d: date) -> bool:
        """Whether local date D has any working hours (an aware datetime counts as its local date)."""
        if isinstance(d, datetime):
            d = _aware(d, "d").astimezone(self._tz).date()
        return bool(self.day_hours(d))

    def _day(self, d: date) -> tuple[tuple[tuple[datetime, datetime], ...], float]:
        """Date D's working intervals as UTC instants, and their total seconds; cached per date."""
        cached = self._days.get(d)
        if cached is None:
            spans = []
            for start, end in self.day_hours(d):
                s = datetime.combine(d, start, self._tz).astimezone(UTC)
                e = datetime.combine(d + _DAY if end == time(0) else d, end, self._tz).astimezone(UTC)
                if e > s:  # an interval inside a DST gap can vanish
                    spans.append((s, e))
            cached = (tuple(spans), sum((e - s).total_seconds() for s, e in spans))
            self._days[d] = cached
        return cached

    # -- time arithmetic ----------------------------------------------------------------------

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self._tz).date()

    def working_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working time within [START, END) as (start, end) pairs in the calendar's time zone,
        in order; intervals that touch (e.g. across midnight on a 24-hour calendar) are merged."""
        # Checked here, not in the generator, so a naive datetime fails at the call, not later.
        return self._intervals(_aware(start, "start").astimezone(UTC), _aware(end, "end").astimezone(UTC))

    def _intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        pending: tuple[datetime, datetime] | None = None
        d, last = self._local_date(start), self._local_date(end)
        while d <= last:
            for s, e in self._day(d)[0]:
                s, e = max(s, start), min(e, end)
                if s >= e:
                    continue
                if pending and pending[1] == s:
                    pending = (pending[0], e)
                    continue
                if pending:
                    yield pending[0].astimezone(self._tz), pending[1].astimezone(self._tz)
                pending = (s, e)
            d += _DAY
        if pending:
            yield pending[0].astimezone(self._tz), pending[1].astimezone(self._tz)

    def business_seconds(self, start: datetime, end: datetime) -> float:
        """Working seconds between two instants; 0 when END is not after START."""
        start = _aware(start, "start").astimezone(UTC)
        end = _aware(end, "end").astimezone(UTC)
        if end <= start:
            return 0.0
        total = 0.0
        d, last = self._local_date(start), self._local_date(end)
        while d <= last:
            spans, day_total = self._day(d)
            if spans and start <= spans[0][0] and spans[-1][1] <= end:
                total += day_total  # the whole day is inside: no clipping needed
            else:
                for s, e in spans:
                    s, e = max(s, start), min(e, end)
                    if e > s:
                        total += (e - s).total_seconds()
            d += _DAY
        return total

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which SECONDS of working time have passed since START (a deadline), in
        START's time zone. Outside working hours the clock starts at the next working period; so
        0 seconds gives START itself during working time, else the next working period's start."""
        start_utc = _aware(start, "start").astimezone(UTC)
        _check_seconds(seconds)
        if not any(self.hours):
            raise ValueError(f"calendar {self.name}: no working hours on any day, no deadline can be reached")
        remaining = float(seconds)
        d = self._local_date(start_utc)
        for _ in range(HORIZON_DAYS):
            for s, e in self._day(d)[0]:
                s = max(s, start_utc)
                if s >= e:
                    continue
                length = (e - s).total_seconds()
                if remaining <= length:
                    return (s + timedelta(seconds=remaining)).astimezone(start.tzinfo)
                remaining -= length
            d += _DAY
        raise ValueError(f"calendar {self.name}: {seconds:g} s of working time are not reached within "
                         f"{HORIZON_DAYS} days after {start.isoformat()}")
