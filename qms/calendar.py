"""Working-time arithmetic on the Vietnamese administrative calendar.

Time limits of administrative procedures count working time: weekends, public holidays
(Tết, Hùng Kings, 30/4, 1/5, 2/9, 24/11, ...) and substituted days off are skipped, and
make-up working Saturdays count. The national calendar comes from the `holidays`
package's VN holidays (which knows the Government's substitutions, e.g. Sat 22/8/2026
worked for Mon 31/8/2026); a province's own decisions come on top as overrides.

Durations are working minutes; a working day is the sum of its periods (default
07:00–11:30 and 13:30–17:00 = 8 h, in qms.localtime's zone). Everything here is pure: no
database, no clock. Inputs are timezone-aware; results are aware, in the office's zone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

from qms import localtime

SAME_DAY_CUTOFF = time(15, 0)  # received after 15:00 → due the next working day


@dataclass(frozen=True)
class WorkingHours:
    """The working periods of a day, in order, e.g. morning and afternoon."""

    periods: tuple[tuple[time, time], ...] = ((time(7, 0), time(11, 30)), (time(13, 30), time(17, 0)))

    def __post_init__(self):
        previous_end = time.min
        for start, end in self.periods:
            if not previous_end <= start < end:
                raise ValueError("working periods must be increasing and not overlap")
            previous_end = end
        if not self.periods:
            raise ValueError("a working day needs at least one period")

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """"07:00-11:30, 13:30-17:00" → WorkingHours."""
        periods = []
        for part in text.split(","):
            start, _sep, end = part.strip().partition("-")
            periods.append((_clock_time(start), _clock_time(end)))
        return cls(tuple(periods))

    def __str__(self) -> str:
        return ", ".join(f"{s:%H:%M}-{e:%H:%M}" for s, e in self.periods)

    @property
    def minutes_per_day(self) -> int:
        return sum(_minutes(end) - _minutes(start) for start, end in self.periods)

    @property
    def opening(self) -> time:
        return self.periods[0][0]

    @property
    def closing(self) -> time:
        return self.periods[-1][1]


def _clock_time(text: str) -> time:
    """"7:00" or "07:00" → time(7, 0); ValueError otherwise."""
    return datetime.strptime(text.strip(), "%H:%M").time()


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


@dataclass
class WorkCalendar:
    """Which days are worked, and working-time arithmetic on them.

    `days_off` and `working_days` are the local overrides (a province's extra days off,
    its make-up working Saturdays); they win over the national calendar."""

    hours: WorkingHours = field(default_factory=WorkingHours)
    days_off: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    timezone: str = field(default_factory=localtime.timezone_name)

    def __post_init__(self):
        self.days_off = frozenset(self.days_off)
        self.working_days = frozenset(self.working_days)
        if self.days_off & self.working_days:
            raise ValueError("a day cannot be both a day off and a working day")

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _national(self) -> holidays.HolidayBase:
        return holidays.VN()  # years are filled in lazily as they are asked about

    # --- days -------------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.days_off:
            return False
        return self._national.is_working_day(day)

    def holiday_name(self, day: date) -> str | None:
        return self._national.get(day)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        day += timedelta(days=1)
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no working day within a year")

    def previous_working_day(self, day: date) -> date:
        day -= timedelta(days=1)
        while not self.is_working_day(day):
            day -= timedelta(days=1)
        return day

    def working_day_on_or_after(self, day: date) -> date:
        return day if self.is_working_day(day) else self.next_working_day(day)

    def _at(self, day: date, t: time) -> datetime:
        return datetime.combine(day, t, tzinfo=self.tz)

    def close_of(self, day: date) -> datetime:
        return self._at(day, self.hours.closing)

    def local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("naive datetime: give an aware one")
        return moment.astimezone(self.tz)

    # --- moments ------------------------------------------------------------------------
    def working_start(self, moment: datetime) -> datetime:
        """The first working instant at or after `moment`: inside a period it is itself;
        at lunch the afternoon start; after closing (or on a day off) the next working
        morning."""
        moment = self.local(moment)
        day = moment.date()
        if self.is_working_day(day):
            for start, end in self.hours.periods:
                if moment.time() < end:
                    return max(moment, self._at(day, start))
        return self._at(self.next_working_day(day), self.hours.opening)

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant `minutes` of working time after `start`, to the second. A result that
        lands on the end of a period stays there (17:00, not the next morning)."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        if minutes == 0 and self.is_working_time(start):
            return self.local(start)  # e.g. 17:00 plus nothing is still 17:00
        moment = self.working_start(start)
        left = timedelta(minutes=minutes)
        while True:
            day = moment.date()
            for period_start, period_end in self.hours.periods:
                end = self._at(day, period_end)
                if moment >= end:
                    continue
                moment = max(moment, self._at(day, period_start))
                if left <= end - moment:
                    return moment + left
                left -= end - moment
                moment = end
            moment = self._at(self.next_working_day(day), self.hours.opening)

    def subtract_working_minutes(self, end: datetime, minutes: int) -> datetime:
        """The instant `minutes` of working time before `end`, to the second: the mirror of
        `add_working_minutes` (a start that lands on the beginning of a period stays there:
        13:30, not 11:30 the same day)."""
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        moment = self.local(end)
        left = timedelta(minutes=minutes)
        if not self.is_working_day(moment.date()):
            moment = self.close_of(self.previous_working_day(moment.date()))
        while True:
            day = moment.date()
            for period_start, period_end in reversed(self.hours.periods):
                start = self._at(day, period_start)
                if moment <= start:
                    continue
                moment = min(moment, self._at(day, period_end))
                if left <= moment - start:
                    return moment - left
                left -= moment - start
                moment = start
            if not left:
                return moment
            moment = self.close_of(self.previous_working_day(day))

    def resume_after_pause(self, due: datetime, paused: datetime, resumed: datetime) -> datetime:
        """The due time after a pause from `paused` to `resumed` under the "resume" rule: the
        working time that was left is counted again from `resumed`. When the pause began
        after the due time, what was left is negative: the overrun is counted back from
        `resumed`, so a late record stays late by as much (a pause never erases lateness)."""
        if due > paused:
            return self.add_working_minutes(resumed, self.working_minutes_between(paused, due))
        return self.subtract_working_minutes(resumed, self.working_minutes_between(due, paused))

    def working_minutes_between(self, start: datetime, end: datetime) -> int:
        """Working minutes in [start, end); 0 if end is not after start."""
        start, end = self.local(start), self.local(end)
        if end <= start:
            return 0
        total = timedelta()
        day = start.date()
        while day <= end.date():
            if self.is_working_day(day):
                for period_start, period_end in self.hours.periods:
                    lo = max(start, self._at(day, period_start))
                    hi = min(end, self._at(day, period_end))
                    if hi > lo:
                        total += hi - lo
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)  # whole minutes, from the exact sum

    def is_working_time(self, moment: datetime) -> bool:
        moment = self.local(moment)
        if not self.is_working_day(moment.date()):
            return False
        return any(s <= moment.time() <= e for s, e in self.hours.periods)

    # --- due times ----------------------------------------------------------------------------
    def due_same_day(self, received: datetime) -> datetime:
        """Received by 15:00 on a working day → that day's close; otherwise the next
        working day's close."""
        start = self.working_start(received)
        received = self.local(received)
        if start.date() == received.date() and received.time() <= SAME_DAY_CUTOFF:
            return self.close_of(start.date())
        if start.date() != received.date():  # received on a day off or after closing
            return self.close_of(start.date())
        return self.close_of(self.next_working_day(start.date()))

    def due_calendar_days(self, received: datetime, days: int) -> datetime:
        """N calendar days after receipt; a due date on a day off rolls to the next working
        day. Due at that day's close."""
        due_day = self.local(received).date() + timedelta(days=days)
        return self.close_of(self.working_day_on_or_after(due_day))

    # --- what a limit can hold (procedure validation) ----------------------------------------
    def same_day_window(self) -> int:
        """The fewest working minutes a same-day dossier has: received at the cut-off
        (15:00), due at that day's close (2 h with the default hours)."""
        cutoff = _minutes(SAME_DAY_CUTOFF)
        return sum(max(0, _minutes(end) - max(cutoff, _minutes(start))) for start, end in self.hours.periods)

    def fewest_minutes_in_calendar_days(self, days: int, first: date, last: date) -> tuple[int, date]:
        """The fewest working minutes a limit of `days` calendar days holds for a dossier
        received on any day of [first, last], and that receipt day (the earliest of ties).
        A day's worst moment is after closing: nothing of that day is left to work."""
        worst: tuple[int, date] | None = None
        day = first
        while day <= last:
            received = datetime.combine(day, time(23, 59), tzinfo=self.tz)
            held = self.working_minutes_between(received, self.due_calendar_days(received, days))
            if worst is None or held < worst[0]:
                worst = (held, day)
            day += timedelta(days=1)
        if worst is None:
            raise ValueError("an empty range of receipt days")
        return worst
