"""Working-time arithmetic: the laws (property tests) and the dates people remember
(table tests around Tết 2026 and 2027, substituted days, make-up Saturdays)."""
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qms.calendar import WorkCalendar, WorkingHours

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkCalendar()


def at(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


moments = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(VN)).map(lambda m: m.replace(second=0, microsecond=0))
durations = st.integers(min_value=0, max_value=40 * 8 * 60)


@settings(max_examples=300, deadline=None)
@given(moments, durations)
def test_adding_then_measuring_gives_the_same_duration(start, minutes):
    end = CAL.add_working_minutes(start, minutes)
    assert CAL.working_minutes_between(start, end) == minutes


@settings(max_examples=300, deadline=None)
@given(moments, st.integers(min_value=1, max_value=40 * 8 * 60))
def test_a_due_time_never_falls_outside_working_time(start, minutes):
    due = CAL.add_working_minutes(start, minutes)
    assert CAL.is_working_time(due)
    assert due > start


@settings(max_examples=200, deadline=None)
@given(moments, durations, durations)
def test_more_time_is_never_due_earlier(start, a, b):
    low, high = sorted((a, b))
    assert CAL.add_working_minutes(start, low) <= CAL.add_working_minutes(start, high)


@settings(max_examples=200, deadline=None)
@given(moments, durations, durations)
def test_adding_in_two_steps_is_adding_once(start, a, b):
    assert CAL.add_working_minutes(CAL.add_working_minutes(start, a), b) == \
        CAL.add_working_minutes(start, a + b)


@pytest.mark.parametrize("received,minutes,due", [
    # Friday before Tết 2026 (holidays Mon 16 – Fri 20 Feb): the rest waits until Mon 23.
    (at(2026, 2, 13, 16, 0), 120, at(2026, 2, 23, 8, 0)),
    (at(2026, 2, 13, 16, 0), 60, at(2026, 2, 13, 17, 0)),  # lands on closing: stays there
    (at(2026, 2, 12, 9, 0), 3 * 480, at(2026, 2, 24, 9, 0)),  # 3 working days across Tết
    # Tết 2027: Thu 4 – Wed 10 Feb off.
    (at(2027, 2, 3, 10, 0), 480, at(2027, 2, 11, 10, 0)),
    # Hùng Kings 2026 fell on Sunday 26/4: Monday 27/4 is the substituted day off.
    (at(2026, 4, 24, 13, 30), 8 * 60, at(2026, 4, 28, 11, 30)),  # ends on the lunch break
    # 30/4 and 1/5 2026 are Thursday and Friday.
    (at(2026, 4, 29, 8, 0), 8 * 60, at(2026, 5, 4, 8, 0)),
    # National Day 2026: Mon 31/8 off (swapped with Saturday 22/8, which is worked), 1–2/9 off.
    (at(2026, 8, 21, 16, 0), 120, at(2026, 8, 22, 8, 0)),
    (at(2026, 8, 28, 16, 0), 120, at(2026, 9, 3, 8, 0)),
    # 24/11, Vietnam Cultural Day, is a day off from 2026.
    (at(2026, 11, 23, 16, 0), 120, at(2026, 11, 25, 8, 0)),
    # A receipt at lunch starts at 13:30; after closing, the next working morning.
    (at(2026, 11, 20, 12, 0), 60, at(2026, 11, 20, 14, 30)),
    (at(2026, 11, 20, 18, 0), 60, at(2026, 11, 23, 8, 0)),
    (at(2026, 11, 21, 9, 0), 30, at(2026, 11, 23, 7, 30)),  # a Saturday receipt
])
def test_due_times_around_holidays(received, minutes, due):
    assert CAL.add_working_minutes(received, minutes) == due


@pytest.mark.parametrize("day,working", [
    (date(2026, 2, 16), False), (date(2026, 2, 20), False), (date(2026, 2, 23), True),
    (date(2026, 4, 27), False), (date(2026, 8, 22), True), (date(2026, 8, 29), False),
    (date(2026, 8, 31), False), (date(2026, 9, 1), False), (date(2026, 11, 24), False),
    (date(2027, 2, 10), False), (date(2027, 5, 3), False), (date(2027, 11, 24), False),
])
def test_national_working_days(day, working):
    assert CAL.is_working_day(day) is working


def test_local_overrides_win_over_the_national_calendar():
    # A province gives 2 January 2026 off and works Saturday 10 January instead.
    local = WorkCalendar(days_off={date(2026, 1, 2)}, working_days={date(2026, 1, 10)})
    assert not local.is_working_day(date(2026, 1, 2)) and local.is_working_day(date(2026, 1, 10))
    assert local.add_working_minutes(at(2025, 12, 31, 16, 30), 60) == at(2026, 1, 5, 7, 30)
    with pytest.raises(ValueError):
        WorkCalendar(days_off={date(2026, 1, 2)}, working_days={date(2026, 1, 2)})


def test_same_day_procedures_have_a_15_00_cut_off():
    assert CAL.due_same_day(at(2026, 11, 20, 15, 0)) == at(2026, 11, 20, 17, 0)
    assert CAL.due_same_day(at(2026, 11, 20, 15, 1)) == at(2026, 11, 23, 17, 0)  # Fri → Mon
    assert CAL.due_same_day(at(2026, 11, 23, 15, 30)) == at(2026, 11, 25, 17, 0)  # 24/11 off
    assert CAL.due_same_day(at(2026, 11, 21, 9, 0)) == at(2026, 11, 23, 17, 0)  # Saturday
    assert CAL.due_same_day(at(2026, 11, 20, 7, 0) - timedelta(hours=1)) == at(2026, 11, 20, 17, 0)


def test_calendar_day_limits_roll_a_day_off_to_the_next_working_day():
    assert CAL.due_calendar_days(at(2026, 11, 9, 10), 15) == at(2026, 11, 25, 17, 0)  # 24/11 off
    assert CAL.due_calendar_days(at(2026, 11, 6, 10), 15) == at(2026, 11, 23, 17, 0)  # Sat → Mon
    assert CAL.due_calendar_days(at(2026, 11, 2, 10), 15) == at(2026, 11, 17, 17, 0)


def test_working_hours_are_configurable_and_checked():
    hours = WorkingHours.parse("07:30-11:30, 13:00-17:00")
    assert hours.minutes_per_day == 480 and str(hours) == "07:30-11:30, 13:00-17:00"
    cal = WorkCalendar(hours=hours)
    assert cal.add_working_minutes(at(2026, 11, 20, 11, 45), 30) == at(2026, 11, 20, 13, 30)
    for bad in ("13:00-17:00, 07:30-11:30", "08:00-08:00", "08:00-12:00, 11:00-17:00"):
        with pytest.raises(ValueError):
            WorkingHours.parse(bad)


def test_adding_nothing_at_closing_time_stays_at_closing_time():
    # Found by the two-steps law: a due time at 17:00 plus 0 minutes is still 17:00.
    assert CAL.add_working_minutes(at(2025, 12, 5, 17, 0), 0) == at(2025, 12, 5, 17, 0)
    assert CAL.add_working_minutes(at(2025, 12, 5, 17, 30), 0) == at(2025, 12, 8, 7, 0)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        CAL.add_working_minutes(datetime(2026, 11, 20, 9, 0), 10)


def test_times_in_other_zones_are_read_in_vietnam_time():

    # 02:00 UTC is 09:00 in Hà Nội.
    assert CAL.add_working_minutes(datetime(2026, 11, 20, 2, 0, tzinfo=UTC), 60) == \
        at(2026, 11, 20, 10, 0)
    assert CAL.working_start(at(2026, 11, 20, 9, 0)).time() == time(9, 0)


# --- seconds are kept, and time is taken off as exactly as it is added ---------------------
seconds_moments = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2027, 12, 31),
                               timezones=st.just(VN)).map(lambda m: m.replace(microsecond=0))


def test_seconds_are_kept_across_a_period_boundary():
    # 30 s of the morning are left at 11:29:30; the other 59 min 30 s run from 13:30.
    start = datetime(2026, 11, 20, 11, 29, 30, tzinfo=VN)
    assert CAL.add_working_minutes(start, 60) == datetime(2026, 11, 20, 14, 29, 30, tzinfo=VN)
    assert CAL.working_minutes_between(start, datetime(2026, 11, 20, 14, 29, 30, tzinfo=VN)) == 60


@settings(max_examples=300, deadline=None)
@given(seconds_moments, durations)
def test_adding_then_measuring_keeps_the_seconds(start, minutes):
    end = CAL.add_working_minutes(start, minutes)
    assert CAL.working_minutes_between(start, end) == minutes
    if minutes and CAL.is_working_time(start):
        assert end.second == start.second  # nothing rounded off at a boundary


@pytest.mark.parametrize(("end", "minutes", "start"), [
    (at(2026, 12, 1, 10, 0), 9 * 60, at(2026, 11, 30, 9, 0)),   # back over a night
    (at(2026, 11, 20, 14, 0), 60, at(2026, 11, 20, 11, 0)),     # back over lunch
    (at(2026, 11, 23, 7, 30), 60, at(2026, 11, 20, 16, 30)),    # back over a weekend
    (at(2026, 11, 21, 10, 0), 30, at(2026, 11, 20, 16, 30)),    # from a Saturday
    (at(2027, 2, 11, 8, 0), 120, at(2027, 2, 3, 16, 0)),        # back over Tết 2027 (4–10 Feb)
])
def test_subtracting_working_minutes(end, minutes, start):
    assert CAL.subtract_working_minutes(end, minutes) == start


@settings(max_examples=300, deadline=None)
@given(seconds_moments, durations)
def test_subtracting_undoes_adding(start, minutes):
    end = CAL.add_working_minutes(start, minutes)
    back = CAL.subtract_working_minutes(end, minutes)
    assert CAL.working_minutes_between(back, end) == minutes
    assert back == (CAL.working_start(start) if minutes else back)
