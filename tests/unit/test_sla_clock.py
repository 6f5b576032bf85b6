"""SLA clocks with fixed times: wall clock and business calendars, overnight, weekends, China's National Day
with its make-up Saturday, paused clocks, states, and the policy configuration."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from reports.calendar import WallClock
from reports.calendar_config import build_calendar
from reports.clock import item_measures, measure, overall_state, status_spans
from reports.policy import DEFAULT_TARGETS, parse_duration, parse_policies

CST = ZoneInfo("Asia/Shanghai")
BEIJING = build_calendar("beijing", timezone="Asia/Shanghai", country="CN", hours={"weekdays": "09:00-18:00"})
WALL = WallClock()
M, H = 60.0, 3600.0


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=CST)


def test_wall_clock_acknowledgment_met_and_missed():
    t0 = datetime(2026, 11, 21, 23, 58, tzinfo=timezone.utc)  # a Saturday night: the wall clock never stops
    met = measure("acknowledge", WALL, t0, t0 + timedelta(minutes=3), 5 * M, t0 + timedelta(hours=1), 0.75)
    missed = measure("acknowledge", WALL, t0, t0 + timedelta(minutes=7), 5 * M, t0 + timedelta(hours=1), 0.75)
    assert (met.elapsed, met.state) == (180.0, "met")
    assert (missed.elapsed, missed.state) == (420.0, "missed")


def test_business_time_overnight():
    # Monday 17:30 -> Tuesday 09:45: 30 minutes on Monday, 45 on Tuesday.
    received, answered = cst(2026, 11, 16, 17, 30), cst(2026, 11, 17, 9, 45)
    m = measure("first_response", BEIJING, received, answered, 1 * H, answered, 0.75)
    assert m.elapsed == 75 * M and m.state == "missed"
    assert measure("first_response", BEIJING, received, answered, 2 * H, answered, 0.75).state == "met"
    # The same on the wall clock is 16 h 15 min.
    assert measure("first_response", WALL, received, answered, 2 * H, answered, 0.75).elapsed == 16.25 * H


def test_business_time_over_a_weekend():
    received, answered = cst(2026, 11, 20, 17, 0), cst(2026, 11, 23, 10, 0)  # Friday 17:00 -> Monday 10:00
    assert measure("first_response", BEIJING, received, answered, 4 * H, answered, 0.75).elapsed == 2 * H


def test_national_day_holiday_and_its_make_up_saturday():
    # 2025: 1-8 October off, 9-10 October normal weekdays, Saturday 11 October a make-up working day.
    before = cst(2025, 9, 30, 17, 0)  # Tuesday before the holiday
    m = measure("resolution", BEIJING, before, None, 4 * H, cst(2025, 10, 8, 23, 0), 0.75)
    assert (m.elapsed, m.state) == (1 * H, "on_track")  # eight holiday days count nothing
    assert BEIJING.add_business_seconds(before, 4 * H) == cst(2025, 10, 9, 12, 0)
    friday = cst(2025, 10, 10, 17, 0)
    for now, expected_hours, state in ((cst(2025, 10, 11, 10, 0), 2, "on_track"),   # the Saturday counts
                                       (cst(2025, 10, 11, 11, 0), 3, "at_risk"),    # 3 of 4 hours used
                                       (cst(2025, 10, 11, 12, 30), 4.5, "breached"),
                                       # Sunday 12th: 9 h Saturday
                                       (cst(2025, 10, 12, 12, 0), 10, "breached")):
        m = measure("resolution", BEIJING, friday, None, 4 * H, now, 0.75)
        assert (m.elapsed / H, m.state) == (expected_hours, state), now
    # The deadline lands on the make-up Saturday, not on Monday 13 October; on the wall clock, Friday night.
    assert BEIJING.add_business_seconds(friday, 4 * H) == cst(2025, 10, 11, 12, 0)
    assert measure("resolution", WALL, friday, None, 4 * H, cst(2025, 10, 11, 10, 0), 0.75).elapsed == 17 * H


def test_a_paused_clock_leaves_out_time_waiting_for_the_client():
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    item = SimpleNamespace(category="change_request", received_at=t0,
                           acknowledged_at=t0 + timedelta(minutes=1),
                           first_response_at=t0 + timedelta(hours=1), resolved_at=t0 + timedelta(hours=5))
    events = [SimpleNamespace(kind="assessment_sent", created_at=t0 + timedelta(hours=1),
                              data={"status": "awaiting_approval"}),
              SimpleNamespace(kind="approved", created_at=t0 + timedelta(hours=3),
                              data={"from": "awaiting_approval", "to": "approved"}),
              SimpleNamespace(kind="note", created_at=t0 + timedelta(hours=4), data={"text": "to: nobody"})]
    snapshot = {"targets": {"change_request": {"acknowledge": 5 * M, "first_response": 4 * H,
                                               "resolution": 4 * H}}}
    paused = item_measures(item, snapshot, WALL, t0 + timedelta(days=1), 0.75, ("awaiting_approval",), events)
    assert paused["resolution"].elapsed == 3 * H and paused["resolution"].state == "met"
    assert paused["acknowledge"].state == "met" and paused["first_response"].elapsed == 1 * H
    unpaused = item_measures(item, snapshot, WALL, t0 + timedelta(days=1), 0.75, (), events)
    assert unpaused["resolution"].elapsed == 5 * H and unpaused["resolution"].state == "missed"
    # Still waiting for the client: the running clock stands still.
    item.resolved_at = None
    for hours in (2, 10):
        waiting = item_measures(item, snapshot, WALL, t0 + timedelta(hours=hours), 0.75,
                                ("awaiting_approval",),
                                events[:1])
        assert waiting["resolution"].elapsed == 1 * H and waiting["resolution"].state == "on_track"


def test_status_spans_and_overall_state():
    t0 = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)
    at = [t0 + timedelta(hours=h) for h in range(6)]
    spans = status_spans(t0, "new", [(at[3], "approved"), (at[1], "awaiting_approval"), (at[5], "closed")],
                         at[4])
    assert spans == [("new", at[0], at[1]), ("awaiting_approval", at[1], at[3]), ("approved", at[3], at[4])]
    t = datetime(2026, 11, 2, tzinfo=timezone.utc)
    ok = measure("acknowledge", WALL, t, t + timedelta(minutes=1), 5 * M, t, 0.75)
    late = measure("acknowledge", WALL, t, t + timedelta(minutes=9), 5 * M, t, 0.75)
    running = measure("resolution", WALL, t, None, 10 * H, t + timedelta(hours=8), 0.75)
    none = measure("resolution", WALL, t, None, None, t + timedelta(hours=8), 0.75)
    assert running.state == "at_risk" and none.state == "none"
    assert overall_state([ok, running]) == "at_risk"
    assert overall_state([late, running]) == "breached"
    assert overall_state([ok, none]) == "met"
    assert overall_state([none]) == "none"


def test_policies_by_tier_with_defaults_and_snapshot():
    built = parse_policies(
        {"beijing": {"timezone": "Asia/Shanghai", "country": "CN", "hours": {"weekdays": "09:00-18:00"}}},
        {"standard": {"targets": {"issue": {"acknowledge": "5m", "first_response": "1d",
                                            "resolution": "3d"}}},
         "gold": {"calendar": "beijing", "tiers": ["gold", "platinum"],
                  "targets": {"issue": {"acknowledge": "2m", "first_response": "2h", "resolution": "16h"}}}},
        "standard")
    assert built.for_tier("platinum").name == "gold" and built.for_tier("").name == "standard"
    assert built.for_tier("bronze").name == "standard"
    snapshot = built.for_tier("gold").snapshot()
    assert (snapshot["policy"], snapshot["calendar"]) == ("gold", "beijing")
    assert snapshot["targets"]["issue"] == {"acknowledge": 120.0, "first_response": 7200.0,
                                            "resolution": 57600.0}
    assert snapshot["targets"]["question"] == {"acknowledge": None, "first_response": None,
                                               "resolution": None}
    assert built.clock("beijing") is built.calendars["beijing"] and isinstance(built.clock("gone"), WallClock)
    default = parse_policies({}, {}, "")
    assert default.for_tier("x").targets == DEFAULT_TARGETS


@pytest.mark.parametrize("calendars, policies, default, message", [
    ({}, {"p": {"calendar": "office"}}, "p", "sla.policies.p.calendar: no calendar 'office'"),
    ({"office": {"timezone": "Asia/Shanghai", "hours": {"weekdays": "09:00-18:00"}}},
     {"p": {"calendar": "office", "targets": {"issue": {"resolution": "2d"}}}}, "p",
     "sla.policies.p.targets.issue.resolution: days are ambiguous on a business calendar"),
    ({}, {"p": {"targets": {"bug": {}}}}, "p", "sla.policies.p.targets.bug: unknown category"),
    ({}, {"p": {"targets": {"issue": {"respond": "1h"}}}}, "p",
     "sla.policies.p.targets.issue.respond: unknown"),
    ({}, {"p": {"targets": {"issue": {"acknowledge": "soon"}}}}, "p", "is not a duration"),
    ({}, {"p": {}}, "q", "sla.default_policy: no policy 'q'"),
    ({"office": {"timezone": "Mars/Base", "hours": {"weekdays": "09:00-18:00"}}}, {}, "",
     "sla.calendars.office."),
    ({"office": {"hours": {}}}, {}, "", "sla.calendars.office: needs timezone and hours"),
])
def test_policy_errors_name_the_key(calendars, policies, default, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_policies(calendars, policies, default)


def test_durations():
    assert [parse_duration("k", v, False) for v in ("90s", "15m", "4h", "1.5d", "", "none")] == [
        90.0, 900.0, 14400.0, 129600.0, None, None]
    with pytest.raises(ValueError, match="must be more than 0"):
        parse_duration("k", "0m", False)
