"""Local time: the one home of the time zone the offices work, report and display in.

Times are stored as timezone-aware UTC (DESIGN §5); pages, exports, deadlines and the
national reporting rule (which compares *local* dates) read them in the zone configured as
DISPLAY_TIMEZONE, Asia/Ho_Chi_Minh by default and when no app is active (pure unit tests,
scripts). Everything that turns a stored instant into a local date or back asks here:

- ``zone()`` the configured zone; ``timezone_name()`` its IANA name.
- ``to_local(moment)`` the local wall time (aware) of a stored time; ``date_of(moment)``
  its local calendar date.
- ``start_of_day(day)`` the instant (aware, in the local zone) the local day `day` begins;
  compare it with stored UTC times directly.
- ``local_date(column)`` / ``local_month(column)`` the same in SQL, on SQLite and
  PostgreSQL alike, so reports group and compare by local date in the database.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


def timezone_name() -> str:
    """The configured DISPLAY_TIMEZONE; Vietnam's when no app is active."""
    if has_app_context():
        return current_app.config.get("DISPLAY_TIMEZONE") or DEFAULT_TIMEZONE
    return DEFAULT_TIMEZONE


def zone() -> ZoneInfo:
    return ZoneInfo(timezone_name())  # ZoneInfo caches one instance per name


def to_local(moment: datetime) -> datetime:
    """The local wall time (aware) of a stored instant."""
    return moment.astimezone(zone())


def date_of(moment: datetime) -> date:
    """The local calendar date of an aware instant."""
    return moment.astimezone(zone()).date()


def start_of_day(day: date) -> datetime:
    """The instant the local day `day` begins (local midnight), aware."""
    return datetime.combine(day, time.min, tzinfo=zone())


# --- SQL ----------------------------------------------------------------------------------
def _sqlite_offset(name: str) -> str:
    """The zone's UTC offset as an SQLite date modifier, e.g. "+420 minutes".

    SQLite has no time-zone database, so it can only shift by a fixed offset. That is exact
    for a zone without daylight saving (Vietnam has kept UTC+7 since 1975); a zone with
    daylight saving would need a per-row conversion, which SQLite cannot do: such a zone
    gets the offset in force now, and dates near its transitions may be off by one on
    SQLite (PostgreSQL converts each row by the zone's rules)."""
    offset = datetime.now(UTC).astimezone(ZoneInfo(name)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return f"{minutes:+d} minutes"


class _LocalTimeFunction(FunctionElement):
    """An SQL function of one stored UTC time that depends on the configured zone.

    The zone is read when the expression is built and is part of its cache key, so
    SQLAlchemy's compiled-statement cache never serves a string compiled for another zone.
    It is rendered as a literal (not a bound parameter): the same expression in SELECT and
    GROUP BY must be textually equal for PostgreSQL to accept the grouping."""

    inherit_cache = True
    _traverse_internals = [*FunctionElement._traverse_internals,
                           ("timezone", InternalTraversal.dp_string),
                           ("sqlite_offset", InternalTraversal.dp_string)]

    def __init__(self, *clauses):
        super().__init__(*clauses)
        self.timezone = timezone_name()
        self.sqlite_offset = _sqlite_offset(self.timezone)


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class local_date(_LocalTimeFunction):  # noqa: N801  (reads as an SQL function)
    """The local calendar date of a stored UTC time, in SQL."""

    type = sa.Date()
    name = "local_date"
    inherit_cache = True


@compiles(local_date)
def _local_date_sqlite(element, compiler, **kw):
    # SQLite keeps the UTC time as text "YYYY-MM-DD HH:MM:SS.ffffff"; date() reads it.
    return f"date({compiler.process(element.clauses, **kw)}, {_quoted(element.sqlite_offset)})"


@compiles(local_date, "postgresql")
def _local_date_postgresql(element, compiler, **kw):
    # timestamptz AT TIME ZONE zone → the local wall time (timestamp), whatever the
    # session's TimeZone setting; then its date.
    return (f"CAST(({compiler.process(element.clauses, **kw)} AT TIME ZONE "
            f"{_quoted(element.timezone)}) AS DATE)")


class local_month(_LocalTimeFunction):  # noqa: N801  (reads as an SQL function)
    """"YYYY-MM" of a stored UTC time in the local zone, in SQL."""

    type = sa.String()
    name = "local_month"
    inherit_cache = True


@compiles(local_month)
def _local_month_sqlite(element, compiler, **kw):
    return (f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, "
            f"{_quoted(element.sqlite_offset)})")


@compiles(local_month, "postgresql")
def _local_month_postgresql(element, compiler, **kw):
    return (f"to_char(({compiler.process(element.clauses, **kw)} AT TIME ZONE "
            f"{_quoted(element.timezone)}), 'YYYY-MM')")


class local_period(_LocalTimeFunction):  # noqa: N801  (reads as an SQL function)
    """"YYYY-MM" of the reporting month a stored UTC time falls in, when months run from
    the `start_day` of the previous month (e.g. 15/10–14/11 is "2026-11"): the local date
    moved back start_day - 1 days lands in the previous calendar month, then one month on."""

    type = sa.String()
    name = "local_period"
    inherit_cache = True
    _traverse_internals = [*_LocalTimeFunction._traverse_internals,
                           ("start_day", InternalTraversal.dp_plain_obj)]

    def __init__(self, clause, start_day: int):
        super().__init__(clause)
        self.start_day = int(start_day)


@compiles(local_period)
def _local_period_sqlite(element, compiler, **kw):
    return (f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)}, "
            f"{_quoted(element.sqlite_offset)}, '-{element.start_day - 1} days', "
            f"'start of month', '+1 month')")


@compiles(local_period, "postgresql")
def _local_period_postgresql(element, compiler, **kw):
    return (f"to_char(date_trunc('month', ({compiler.process(element.clauses, **kw)} AT TIME ZONE "
            f"{_quoted(element.timezone)}) - interval '{element.start_day - 1} days') "
            f"+ interval '1 month', 'YYYY-MM')")
