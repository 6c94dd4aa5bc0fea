"""Periods of the figures: local dates [start, end), the instants of their local midnights,
months, and the moment a period is read (`cut` = min(end, now))."""
from __future__ import annotations

from datetime import date, datetime

from qms.localtime import start_of_day


def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants (aware) of the local midnights starting `start` and `end`."""
    return start_of_day(start), start_of_day(end)


def month_bounds(month: date) -> tuple[date, date]:
    """The first day of `month` and of the next month."""
    first = month.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def cut_at(end_utc: datetime, now: datetime) -> datetime:
    """The moment a period is read: its end, or now if that is earlier."""
    return min(end_utc, now)
