"""qms.localtime: one configured zone, the same local date in Python and in SQL (on the
session's database: SQLite, or PostgreSQL when QMS_TEST_DATABASE_URL is set)."""
from __future__ import annotations

import contextvars
from datetime import UTC, date, datetime

import sqlalchemy as sa

from qms import localtime
from qms.calendar import WorkCalendar
from qms.extensions import db
from qms.models.base import UTCDateTime

# 20:00 UTC on 31 March: 1 April in Hanoi (UTC+7), still 31 March in Bogotá (UTC−5, no
# daylight saving, so SQLite's fixed offset is exact there too).
LATE_EVENING_UTC = datetime(2026, 3, 31, 20, 0, tzinfo=UTC)


def _in_sql(moment: datetime) -> tuple[date, str]:
    value = sa.literal(moment, UTCDateTime())
    day, month = db.session.execute(
        sa.select(localtime.local_date(value), localtime.local_month(value))).one()
    return (date.fromisoformat(day) if isinstance(day, str) else day), month


def test_vietnam_is_the_default_without_an_app():
    # a fresh context: no app context is active in it
    assert contextvars.Context().run(localtime.timezone_name) == "Asia/Ho_Chi_Minh"
    assert contextvars.Context().run(localtime.date_of, LATE_EVENING_UTC) == date(2026, 4, 1)


def test_the_configured_zone_moves_local_dates_in_python_and_sql(app, monkeypatch):
    assert localtime.date_of(LATE_EVENING_UTC) == date(2026, 4, 1)
    assert _in_sql(LATE_EVENING_UTC) == (date(2026, 4, 1), "2026-04")  # compiled and cached

    monkeypatch.setitem(app.config, "DISPLAY_TIMEZONE", "America/Bogota")
    assert localtime.date_of(LATE_EVENING_UTC) == date(2026, 3, 31)
    assert localtime.start_of_day(date(2026, 3, 31)) == datetime(2026, 3, 31, 5, 0, tzinfo=UTC)
    assert WorkCalendar().tz.key == "America/Bogota"
    # the same statement shape again: not the string cached for Hanoi
    assert _in_sql(LATE_EVENING_UTC) == (date(2026, 3, 31), "2026-03")

    monkeypatch.setitem(app.config, "DISPLAY_TIMEZONE", "Asia/Ho_Chi_Minh")
    assert _in_sql(LATE_EVENING_UTC) == (date(2026, 4, 1), "2026-04")


def test_the_zone_is_part_of_the_cache_key(app, monkeypatch):
    column = sa.column("at", UTCDateTime())
    hanoi = localtime.local_date(column)
    monkeypatch.setitem(app.config, "DISPLAY_TIMEZONE", "America/Bogota")
    bogota = localtime.local_date(column)
    assert hanoi._generate_cache_key() != bogota._generate_cache_key()
    assert "+420 minutes" in str(hanoi) and "-300 minutes" in str(bogota)
