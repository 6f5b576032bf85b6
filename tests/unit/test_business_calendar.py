"""Business calendars: working time, deadlines, holidays (US, GB, CN with 调休), DST and config errors."""
from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from reports.calendar import HORIZON_DAYS, BusinessCalendar, Clock, WallClock
from reports.calendar_config import build_calendar

NY = ZoneInfo("America/New_York")
SH = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
H = 3600.0
ALL_WEEK = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def office() -> BusinessCalendar:
    """New York, 09:00-18:00 Monday to Friday, no public holidays."""
    return build_calendar("ny", timezone="America/New_York", hours={"weekdays": "09:00-18:00"})


@pytest.fixture
def us_office() -> BusinessCalendar:
    return build_calendar("ny-us", timezone="America/New_York", hours={"weekdays": "09:00-18:00"},
                          country="US")


@pytest.fixture
def cn() -> BusinessCalendar:
    """Shanghai, 09:00-18:00 Monday to Friday, Chinese public holidays and make-up days."""
    return build_calendar("sh", timezone="Asia/Shanghai", hours={"weekdays": "09:00-18:00"}, country="CN")


# -- plain weeks ------------------------------------------------------------------------------

def test_within_one_day(office):
    assert office.business_seconds(ny(2025, 3, 4, 10), ny(2025, 3, 4, 15, 30)) == 5.5 * H
    assert office.add_business_seconds(ny(2025, 3, 4, 10), 5.5 * H) == ny(2025, 3, 4, 15, 30)


def test_overnight_friday_to_monday(office):
    # Friday 17:00-18:00 and Monday 09:00-10:00.
    assert office.business_seconds(ny(2025, 3, 14, 17), ny(2025, 3, 17, 10)) == 2 * H
    assert office.add_business_seconds(ny(2025, 3, 14, 17), 2 * H) == ny(2025, 3, 17, 10)


def test_weekend_counts_nothing(office):
    assert office.business_seconds(ny(2025, 3, 15, 10), ny(2025, 3, 16, 20)) == 0
    assert not office.is_working_day(date(2025, 3, 15))
    assert office.is_working_day(date(2025, 3, 17))


def test_end_not_after_start_is_zero(office):
    assert office.business_seconds(ny(2025, 3, 4, 15), ny(2025, 3, 4, 10)) == 0
    assert office.business_seconds(ny(2025, 3, 4, 15), ny(2025, 3, 4, 15)) == 0


def test_a_full_week():
    cal = build_calendar("x", timezone="UTC", hours={"weekdays": "09:00-18:00", "fri": "09:00-15:00"})
    start = datetime(2025, 3, 3, tzinfo=UTC)
    assert cal.business_seconds(start, start + timedelta(days=7)) == (4 * 9 + 6) * H


def test_lunch_break():
    cal = build_calendar("lunch", timezone="America/New_York", hours={"weekdays": "09:00-12:00, 13:00-18:00"})
    assert cal.business_seconds(ny(2025, 3, 4, 11), ny(2025, 3, 4, 14)) == 2 * H
    assert cal.business_seconds(ny(2025, 3, 4), ny(2025, 3, 5)) == 8 * H
    assert cal.add_business_seconds(ny(2025, 3, 4, 11, 30), 1 * H) == ny(2025, 3, 4, 13, 30)
    # Started during lunch: the clock starts at 13:00.
    assert cal.add_business_seconds(ny(2025, 3, 4, 12, 15), 0.5 * H) == ny(2025, 3, 4, 13, 30)
    assert list(cal.working_intervals(ny(2025, 3, 4, 10), ny(2025, 3, 4, 17))) == [
        (ny(2025, 3, 4, 10), ny(2025, 3, 4, 12)), (ny(2025, 3, 4, 13), ny(2025, 3, 4, 17))]


def test_start_outside_hours(office):
    assert office.add_business_seconds(ny(2025, 3, 4, 7), 1 * H) == ny(2025, 3, 4, 10)
    assert office.add_business_seconds(ny(2025, 3, 4, 19), 1 * H) == ny(2025, 3, 5, 10)
    assert office.add_business_seconds(ny(2025, 3, 15, 12), 1 * H) == ny(2025, 3, 17, 10)  # Saturday
    assert office.add_business_seconds(ny(2025, 3, 4, 7), 0) == ny(2025, 3, 4, 9)
    assert office.add_business_seconds(ny(2025, 3, 4, 10), 0) == ny(2025, 3, 4, 10)
    # A deadline that uses up the day ends at 18:00, not at 09:00 the next morning.
    assert office.add_business_seconds(ny(2025, 3, 4, 17), 1 * H) == ny(2025, 3, 4, 18)
    assert office.add_business_seconds(ny(2025, 3, 4, 18), 0) == ny(2025, 3, 5, 9)
    assert office.business_seconds(ny(2025, 3, 4, 19), ny(2025, 3, 5, 8)) == 0


def test_deadline_keeps_the_start_time_zone(office):
    deadline = office.add_business_seconds(datetime(2025, 3, 4, 14, tzinfo=UTC), 1 * H)  # 09:00 in New York
    assert deadline.tzinfo is UTC
    assert deadline == datetime(2025, 3, 4, 15, tzinfo=UTC)


# -- DST ---------------------------------------------------------------------------------------

def test_dst_spring_forward_new_york(office):
    # 2025-03-09 02:00 EST -> 03:00 EDT. Friday 17:00 EST to Monday 10:00 EDT is still 2 working hours.
    assert office.business_seconds(ny(2025, 3, 7, 17), ny(2025, 3, 10, 10)) == 2 * H
    deadline = office.add_business_seconds(ny(2025, 3, 7, 17, 30), 1 * H)
    assert deadline == ny(2025, 3, 10, 9, 30)
    assert deadline.astimezone(UTC) == datetime(2025, 3, 10, 13, 30, tzinfo=UTC)
    (monday,) = office.working_intervals(ny(2025, 3, 10), ny(2025, 3, 11))
    assert [t.astimezone(UTC) for t in monday] == [datetime(2025, 3, 10, 13, tzinfo=UTC),
                                                    datetime(2025, 3, 10, 22, tzinfo=UTC)]
    (friday,) = office.working_intervals(ny(2025, 3, 7), ny(2025, 3, 8))
    assert friday[0].astimezone(UTC) == datetime(2025, 3, 7, 14, tzinfo=UTC)


def test_dst_days_are_23_and_25_hours_long_on_a_24_hour_calendar():
    ny247 = build_calendar("ny247", timezone="America/New_York", hours=ALL_WEEK)
    assert ny247.business_seconds(ny(2025, 3, 9), ny(2025, 3, 10)) == 23 * H
    assert ny247.add_business_seconds(ny(2025, 3, 9), 3 * H) == ny(2025, 3, 9, 4)
    berlin247 = build_calendar("b247", timezone="Europe/Berlin", hours=ALL_WEEK)
    assert berlin247.business_seconds(datetime(2025, 10, 26, tzinfo=BERLIN),
                                      datetime(2025, 10, 27, tzinfo=BERLIN)) == 25 * H
    # Touching intervals across midnight come out as one.
    assert list(ny247.working_intervals(ny(2025, 3, 8, 12), ny(2025, 3, 10, 12))) == [
        (ny(2025, 3, 8, 12), ny(2025, 3, 10, 12))]


def test_dst_fall_back_berlin_office():
    cal = build_calendar("berlin", timezone="Europe/Berlin", hours={"weekdays": "09:00-18:00"}, country="DE")
    start, end = datetime(2025, 10, 24, 17, tzinfo=BERLIN), datetime(2025, 10, 27, 10, tzinfo=BERLIN)
    assert cal.business_seconds(start, end) == 2 * H
    assert cal.add_business_seconds(start, 2 * H) == end


# -- public holidays ---------------------------------------------------------------------------

def test_us_independence_day(us_office, office):
    # Friday 2025-07-04 is off: Thursday 17:00-18:00 and Monday 09:00-10:00.
    assert not us_office.is_working_day(date(2025, 7, 4))
    assert us_office.business_seconds(ny(2025, 7, 3, 17), ny(2025, 7, 7, 10)) == 2 * H
    assert us_office.add_business_seconds(ny(2025, 7, 3, 17, 30), 1 * H) == ny(2025, 7, 7, 9, 30)
    assert office.business_seconds(ny(2025, 7, 3, 17), ny(2025, 7, 7, 10)) == 11 * H
    assert us_office.holiday_source(2025) == "holidays"
    assert office.holiday_source(2025) == "none"


def test_subdivision_holidays():
    scotland = build_calendar("edi", timezone="Europe/London", hours={"weekdays": "09:00-17:00"},
                              country="GB", subdivision="SCT")
    england = build_calendar("lon", timezone="Europe/London", hours={"weekdays": "09:00-17:00"},
                             country="gb", subdivision="ENG")
    assert england.country == "GB"
    assert not scotland.is_working_day(date(2026, 11, 30))  # Monday, St Andrew's Day
    assert england.is_working_day(date(2026, 11, 30))
    assert not england.is_working_day(date(2026, 12, 25))


def test_make_up_days_known_to_holidays():
    # Russia 2025: Saturday Nov 1 is worked so that Monday Nov 3 bridges to Unity Day (Tue Nov 4).
    moscow = build_calendar("msk", timezone="Europe/Moscow", hours={"weekdays": "09:00-18:00"}, country="RU")
    assert moscow.day_hours(date(2025, 11, 1)) == ((time(9), time(18)),)
    assert not moscow.is_working_day(date(2025, 11, 3))
    assert not moscow.is_working_day(date(2025, 11, 4))
    msk = ZoneInfo("Europe/Moscow")
    friday, wednesday = datetime(2025, 10, 31, 17, tzinfo=msk), datetime(2025, 11, 5, 10, tzinfo=msk)
    assert moscow.business_seconds(friday, wednesday) == 11 * H  # Fri 1 h, Sat 9 h, Wed 1 h


def test_holiday_is_a_whole_local_day(cn):
    # 2025-10-01 00:00 in Shanghai is 2025-09-30 16:00 UTC; only Sep 30 16:00-18:00 local counts.
    assert cn.business_seconds(datetime(2025, 9, 30, 8, tzinfo=UTC),
                               datetime(2025, 10, 1, 2, tzinfo=UTC)) == 2 * H
    assert not cn.is_working_day(datetime(2025, 9, 30, 20, tzinfo=UTC))  # Oct 1, 04:00 in Shanghai
    assert cn.is_working_day(datetime(2025, 9, 30, 9, tzinfo=UTC))


def test_extra_holidays_and_workdays():
    cal = build_calendar("ny", timezone="America/New_York", country="US",
                         hours={"weekdays": "09:00-18:00", "mon": "08:00-17:00"},
                         holidays=["2025-03-12"], workdays=[date(2025, 3, 15), "2025-07-04"])
    assert not cal.is_working_day(date(2025, 3, 12))
    assert cal.business_seconds(ny(2025, 3, 11, 17), ny(2025, 3, 13, 10)) == 2 * H
    # An extra Saturday works Monday's hours; an extra working day on a US holiday its own (Friday) hours.
    assert list(cal.working_intervals(ny(2025, 3, 15), ny(2025, 3, 16))) == [(ny(2025, 3, 15, 8),
                                                                              ny(2025, 3, 15, 17))]
    assert list(cal.working_intervals(ny(2025, 7, 4), ny(2025, 7, 5))) == [(ny(2025, 7, 4, 9),
                                                                            ny(2025, 7, 4, 18))]
    assert cal.day_hours(date(2025, 3, 16)) == ()


# -- China: official holidays and make-up working days (调休) ----------------------------------

def test_chinesecalendar_data_for_national_day_2025():
    # The premise of the tests below, as chinesecalendar states it.
    assert all(chinese_calendar.is_holiday(date(2025, 10, d)) for d in range(1, 9))
    assert chinese_calendar.get_holiday_detail(date(2025, 9, 28)) == (False, "National Day")  # Sunday
    assert chinese_calendar.get_holiday_detail(date(2025, 10, 11)) == (False, "National Day")  # Saturday
    assert chinese_calendar.is_workday(date(2025, 10, 9))


def test_national_day_week_2025(cn):
    for d in range(1, 9):
        assert not cn.is_working_day(date(2025, 10, d))
    assert cn.is_working_day(date(2025, 9, 28))  # Sunday, make-up day
    assert cn.is_working_day(date(2025, 10, 11))  # Saturday, make-up day
    assert not cn.is_working_day(date(2025, 10, 12))
    # Sep 30 17:00-18:00 and Oct 9 09:00-10:00: the whole week between is off.
    assert cn.business_seconds(sh(2025, 9, 30, 17), sh(2025, 10, 9, 10)) == 2 * H
    # Fri Sep 26 .. Mon Oct 13: Sep 26, 28, 29, 30, Oct 9, 10, 11, 13 are 8 days of 9 hours.
    assert cn.business_seconds(sh(2025, 9, 26, 9), sh(2025, 10, 14, 9)) == 8 * 9 * H
    assert cn.holiday_source(2025) == "chinesecalendar"


def test_deadline_lands_on_the_make_up_saturday(cn):
    # Friday Oct 10 16:00-18:00 is 2 hours; the third ends on Saturday Oct 11 at 10:00.
    assert cn.add_business_seconds(sh(2025, 10, 10, 16), 3 * H) == sh(2025, 10, 11, 10)
    # From the Saturday before, the clock starts on the make-up Sunday Sep 28.
    assert cn.add_business_seconds(sh(2025, 9, 27, 12), 1 * H) == sh(2025, 9, 28, 10)
    # Across the holiday week: 1 h on Sep 30, then Oct 9.
    assert cn.add_business_seconds(sh(2025, 9, 30, 17), 2 * H) == sh(2025, 10, 9, 10)


def test_make_up_day_uses_monday_hours():
    cal = build_calendar("sh", timezone="Asia/Shanghai", country="CN",
                         hours={"weekdays": "09:00-18:00", "mon": "10:00-19:00", "fri": "09:00-17:00"})
    assert cal.day_hours(date(2025, 10, 11)) == ((time(10), time(19)),)
    assert list(cal.working_intervals(sh(2025, 9, 28), sh(2025, 9, 29))) == [(sh(2025, 9, 28, 10),
                                                                              sh(2025, 9, 28, 19))]


def test_weekend_hours_and_chinese_holidays():
    # A team that also works Saturday mornings: a Saturday holiday is still off, a make-up
    # Saturday keeps that team's own Saturday hours.
    cal = build_calendar("sh6", timezone="Asia/Shanghai", country="CN",
                         hours={"weekdays": "09:00-18:00", "sat": "10:00-14:00"})
    assert cal.is_working_day(date(2025, 9, 27))
    assert not cal.is_working_day(date(2025, 10, 4))
    assert cal.day_hours(date(2025, 10, 11)) == ((time(10), time(14)),)


def test_spring_festival_2026(cn):
    assert chinese_calendar.get_holiday_detail(date(2026, 2, 14)) == (False, "Spring Festival")
    # Fri Feb 13 17:00-18:00, Saturday Feb 14 (make-up) 9 h, Feb 15-23 off, Tue Feb 24 09:00-10:00.
    assert cn.business_seconds(sh(2026, 2, 13, 17), sh(2026, 2, 24, 10)) == 11 * H
    assert cn.is_working_day(date(2026, 2, 28))  # Saturday, make-up day
    assert not cn.is_working_day(date(2026, 2, 23))
    assert cn.holiday_source(2026) == "chinesecalendar"


def test_national_day_2026(cn):
    assert cn.is_working_day(date(2026, 9, 20))  # Sunday, make-up day
    assert cn.business_seconds(sh(2026, 9, 30, 17), sh(2026, 10, 8, 10)) == 2 * H
    assert cn.add_business_seconds(sh(2026, 10, 9, 17), 2 * H) == sh(2026, 10, 10, 10)  # make-up Saturday


def test_year_without_chinesecalendar_data_falls_back_to_holidays(cn, caplog):
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2099, 10, 1))
    assert cn.holiday_source(2099) == "holidays-fallback"
    with caplog.at_level(logging.WARNING, logger="reports.calendar"):
        # holidays' CN 2099: National Day Thu Oct 1 - Sat Oct 3, observed on Mon Oct 5; weekends off.
        assert not cn.is_working_day(date(2099, 10, 1))
        assert not cn.is_working_day(date(2099, 10, 5))
        assert cn.is_working_day(date(2099, 10, 6))
        assert not cn.is_working_day(date(2099, 10, 10))  # no make-up Saturday is known
        assert cn.business_seconds(sh(2099, 9, 30, 17), sh(2099, 10, 6, 10)) == 2 * H
        assert cn.add_business_seconds(sh(2099, 9, 30, 17), 2 * H) == sh(2099, 10, 6, 10)
    warnings = [r.getMessage() for r in caplog.records if "2099" in r.getMessage()]
    assert warnings == [("calendar sh: chinesecalendar has no data for 2099; "
                         "using the holidays library's CN holidays and normal weekends")]
    assert cn.holiday_source(2003) == "holidays-fallback"  # chinesecalendar starts in 2004


def test_first_year_chinesecalendar_does_not_cover_yet(cn):
    year = max(chinese_calendar.holidays).year + 1  # 2027 with chinesecalendar 1.11
    assert cn.holiday_source(year) == "holidays-fallback"
    assert not cn.is_working_day(date(year, 10, 1))  # National Day, from holidays
    assert 0 < cn.business_seconds(sh(year, 1, 1), sh(year + 1, 1, 1)) < 262 * 9 * H


# -- errors and limits -------------------------------------------------------------------------

def test_naive_datetimes_are_refused(office):
    naive, aware = datetime(2025, 3, 4, 10), ny(2025, 3, 4, 10)
    with pytest.raises(ValueError,
                       match="start must be timezone-aware, got naive datetime 2025-03-04T10:00:00"):
        office.business_seconds(naive, aware)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        office.business_seconds(aware, naive)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        office.add_business_seconds(naive, 60)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        office.working_intervals(naive, aware)
    with pytest.raises(ValueError, match="must be timezone-aware"):
        office.is_working_day(naive)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        WallClock().business_seconds(naive, aware)
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        WallClock().add_business_seconds(naive, 60)


def test_negative_seconds_are_refused(office):
    with pytest.raises(ValueError, match="seconds must be >= 0, got -1"):
        office.add_business_seconds(ny(2025, 3, 4, 10), -1)
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        WallClock().add_business_seconds(ny(2025, 3, 4, 10), float("nan"))


def test_calendar_without_working_hours_raises_instead_of_looping():
    closed = BusinessCalendar("closed", "UTC", hours=[()] * 7)
    start = datetime(2025, 3, 4, tzinfo=UTC)
    assert closed.business_seconds(start, start + timedelta(days=30)) == 0
    with pytest.raises(ValueError, match="calendar closed: no working hours on any day"):
        closed.add_business_seconds(start, 1)


def test_deadline_search_is_bounded(office):
    with pytest.raises(ValueError, match=f"not reached within {HORIZON_DAYS} days"):
        office.add_business_seconds(ny(2025, 3, 4, 10), 1e9)


BAD_CONFIGS = [
    ({"hours": {"mon": "9-18"}}, 'hours.mon: "9-18" is not HH:MM-HH:MM'),
    ({"hours": {"mon": "09:00-25:00"}}, 'hours.mon: "09:00-25:00" is not HH:MM-HH:MM'),
    ({"hours": {"mon": "24:00-24:00"}}, 'hours.mon: "24:00-24:00" is not HH:MM-HH:MM'),
    ({"hours": {"mon": "09:60-10:00"}}, 'hours.mon: "09:60-10:00" is not HH:MM-HH:MM'),
    ({"hours": {"tue": 9}}, "hours.tue: 9 is not HH:MM-HH:MM"),
    ({"hours": {"mon": "18:00-09:00"}}, 'hours.mon: "18:00-09:00": 18:00-09:00 ends at or before its start'),
    ({"hours": {"mon": "09:00-09:00"}}, 'hours.mon: "09:00-09:00": 09:00-09:00 ends at or before its start'),
    ({"hours": {"weekdays": "09:00-13:00, 12:00-18:00"}},
     'hours.weekdays: "09:00-13:00, 12:00-18:00": 12:00-18:00 overlaps 09:00-13:00'),
    ({"hours": {"sun": "20:00-24:00, 22:00-23:00"}},
     'hours.sun: "20:00-24:00, 22:00-23:00": 22:00-23:00 overlaps 20:00-24:00'),
    ({"hours": {"monday": "09:00-18:00"}},
     'hours: unknown day "monday" (use mon, tue, wed, thu, fri, sat, sun or weekdays)'),
    ({"hours": {"weekdays": "closed", "sat": ""}}, "hours: no working hours on any day"),
    ({"hours": "09:00-18:00"}, 'hours: expected a mapping of day names to hours, got "09:00-18:00"'),
    ({"timezone": "Mars/Olympus_Mons"}, 'timezone: "Mars/Olympus_Mons" is not a known IANA time zone'),
    ({"timezone": ""}, 'timezone: "" is not a known IANA time zone'),
    ({"country": "XX"}, 'country: "XX" is not a country code known to holidays'),
    ({"country": "GB", "subdivision": "ZZ"},
     'subdivision: "ZZ" is not a subdivision of GB known to holidays (known: ENG, NIR, SCT, WLS)'),
    ({"subdivision": "CA"}, 'subdivision: "CA" given without a country'),
    ({"holidays": ["2025-13-01"]}, 'holidays[0]: "2025-13-01" is not a YYYY-MM-DD date'),
    ({"holidays": ["2025-01-01", "1/2/2025"]}, 'holidays[1]: "1/2/2025" is not a YYYY-MM-DD date'),
    ({"workdays": [datetime(2025, 1, 4)]},
     "workdays[0]: datetime.datetime(2025, 1, 4, 0, 0) is not a YYYY-MM-DD date"),
    ({"holidays": "2025-01-01"}, 'holidays: expected a list of dates, got "2025-01-01"'),
    ({"holidays": ["2025-05-01"], "workdays": [date(2025, 5, 1)]},
     "workdays: 2025-05-01 is also listed in holidays"),
    ({"name": " "}, 'name: " " is empty; a calendar needs a name'),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_CONFIGS, ids=[m for _, m in BAD_CONFIGS])
def test_build_calendar_errors(overrides, message):
    args = {"name": "x", "timezone": "UTC", "hours": {"weekdays": "09:00-18:00"}} | overrides
    with pytest.raises(ValueError) as info:
        build_calendar(args.pop("name"), **args)
    assert str(info.value) == message


def test_build_calendar_parsing():
    cal = build_calendar("x", timezone="UTC", hours={"fri": "09:00-15:00",
                                                     "weekdays": " 09:00 - 12:00 ,13:00-18:00 ",
                                                     "SAT": "Closed", "sun": "20:00-24:00"})
    assert cal.hours[0] == ((time(9), time(12)), (time(13), time(18)))
    assert cal.hours[4] == ((time(9), time(15)),)  # a named day wins over "weekdays", in any order
    assert cal.hours[5] == ()
    assert cal.hours[6] == ((time(20), time(0)),)  # 24:00
    assert cal.business_seconds(datetime(2025, 3, 9, tzinfo=UTC), datetime(2025, 3, 10, tzinfo=UTC)) == 4 * H
    midnight = build_calendar("y", timezone="UTC", hours={"sun": "20:00-00:00"})
    assert midnight.hours == ((),) * 6 + (((time(20), time(0)),),)  # 00:00 as an end is 24:00 too


def test_business_calendar_validates_direct_construction():
    monday_first = [((time(9), time(18)),)] * 5 + [(), ()]
    with pytest.raises(ValueError, match=r"hours: expected 7 days \(Monday first\), got 6"):
        BusinessCalendar("x", "UTC", hours=monday_first[:6])
    with pytest.raises(ValueError, match="hours.tue: 18:00-09:00 ends at or before its start"):
        BusinessCalendar("x", "UTC", hours={1: [(time(18), time(9))]})
    with pytest.raises(ValueError, match=r"makeup_weekday: 7 is not 0 \(Monday\) .. 6 \(Sunday\)"):
        BusinessCalendar("x", "UTC", hours=monday_first, makeup_weekday=7)
    cal = BusinessCalendar("x", "UTC", hours={0: [(time(9), time(18))]}, extra_holidays={date(2025, 3, 3)})
    assert cal == BusinessCalendar("x", "UTC", hours=[((time(9), time(18)),)] + [()] * 6,
                                   extra_holidays=frozenset({date(2025, 3, 3)}))
    assert hash(cal)  # frozen and hashable, so it can key caches


# -- wall clock and the shared protocol --------------------------------------------------------

def test_wall_clock():
    clock = WallClock()
    assert clock.business_seconds(ny(2025, 3, 14, 17), ny(2025, 3, 17, 10)) == 65 * H
    assert clock.business_seconds(ny(2025, 3, 17, 10), ny(2025, 3, 14, 17)) == 0
    assert clock.add_business_seconds(ny(2025, 3, 14, 17), 2 * H) == ny(2025, 3, 14, 19)
    # Same ZoneInfo on both sides across DST: 23 real hours, not the 24 naive subtraction gives.
    assert clock.business_seconds(ny(2025, 3, 9), ny(2025, 3, 10)) == 23 * H
    assert clock.add_business_seconds(ny(2025, 3, 9), 24 * H) == ny(2025, 3, 10, 1)


def test_clocks_are_interchangeable(office):
    def time_and_deadline(clock: Clock) -> tuple[float, datetime]:
        start = ny(2025, 3, 14, 17)
        return clock.business_seconds(start, ny(2025, 3, 17, 10)), clock.add_business_seconds(start, 2 * H)

    assert time_and_deadline(office) == (2 * H, ny(2025, 3, 17, 10))
    assert time_and_deadline(WallClock()) == (65 * H, ny(2025, 3, 14, 19))
