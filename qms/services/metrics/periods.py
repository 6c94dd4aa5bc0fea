"""Periods of the figures: local dates [start, end), the instants of their local midnights,
reporting months, and the moment a period is read (`cut` = min(end, now)).

A reporting month is named by its first calendar day (date(2026, 11, 1) is "11/2026"). It
is the calendar month by default; with the setting REPORTING_PERIOD = "15th" it runs from
the 15th of the previous month to the 14th (15/10–14/11/2026 is "11/2026"), the period of
the national reporting regime as the issue tracker describes it (not yet checked against
the regime's text, hence a setting). Metrics, reviews, dashboards and reports all read
their months through this module."""
from __future__ import annotations

from datetime import date, datetime

from flask import current_app

from qms.localtime import local_month, local_period, start_of_day

PERIODS = {"month": 1, "15th": 15}  # REPORTING_PERIOD → the day a reporting month starts on


def period_start_day() -> int:
    return PERIODS[current_app.config["REPORTING_PERIOD"]]


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants (aware) of the local midnights starting `start` and `end`."""
    return start_of_day(start), start_of_day(end)


def month_bounds(month: date) -> tuple[date, date]:
    """The local dates [start, end) of the reporting month `month`."""
    first, day = month.replace(day=1), period_start_day()
    if day == 1:
        return first, add_months(first, 1)
    return add_months(first, -1).replace(day=day), first.replace(day=day)


def month_of(day: date) -> date:
    """The reporting month a local date falls in (its name: the first calendar day)."""
    first, start = day.replace(day=1), period_start_day()
    return add_months(first, 1) if start > 1 and day.day >= start else first


def month_key(column):
    """"YYYY-MM" of the reporting month of a stored time, in SQL (for GROUP BY)."""
    start = period_start_day()
    return local_month(column) if start == 1 else local_period(column, start)


def month_label(month: date) -> str:
    """"11/2026", and with months from the 15th "11/2026 (15/10–14/11)"."""
    if period_start_day() == 1:
        return f"{month:%m/%Y}"
    start, end = month_bounds(month)
    return f"{month:%m/%Y} ({start:%d/%m}–{date.fromordinal(end.toordinal() - 1):%d/%m})"


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def cut_at(end_utc: datetime, now: datetime) -> datetime:
    """The moment a period is read: its end, or now if that is earlier."""
    return min(end_utc, now)
