"""Reading the monthly rollup (qms.models.rollups): the counts of whole reporting months
that `qms rollup` froze, summed over a scope's departments in one small query, so that a
year of figures (trends, objectives year to date, rankings) costs twelve rows per
department instead of a year of dossiers. A month is read from the rollup only when it has
ended at the moment read and was frozen under today's basis (settings and version); the
rest of a period, and any period that does not start on a frozen month, is read from the
records. Frozen or live, the figures are the same (tests/reviews/test_rollups.py)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app

from qms.extensions import db
from qms.localtime import start_of_day
from qms.models import Department, MonthlyRollup, RollupMonth
from qms.services.metrics.periods import add_months, month_bounds, month_of
from qms.services.metrics.scope import Scope

VERSION = 1  # raise when a count's definition changes: rows of older versions are ignored
# Counts of a moment rather than of a period: a run of months takes them from its last month
# (open at the end) or its first (open at the start). What was open at a month's start is
# what was open at the previous month's end (the same instant, the same query): a period
# that follows a frozen month takes it from there instead of reading it from the records.
AT_END = frozenset(("in_progress_within", "in_progress_overdue", "paused_supplement",
                    "paused_payment", "paused_other", "steps_overdue_open"))
AT_START = {"carried_over": ("in_progress_within", "in_progress_overdue", "paused_supplement",
                             "paused_payment", "paused_other")}


def basis() -> str:
    """What the frozen counts depend on besides the records."""
    config = current_app.config
    return f"v{VERSION}/{config['REPORTING_PERIOD']}/{config.get('TIMELINESS_RULE', 'date')}"


def whole_months(start: date, end: date) -> list[date] | None:
    """The reporting months that make up [start, end) exactly, or None if it does not start
    on a month's first day (a period ending mid-month keeps its whole months)."""
    first = month_of(start)
    if month_bounds(first)[0] != start:
        return None
    months = []
    while month_bounds(first)[1] <= end:
        months.append(first)
        first = add_months(first, 1)
    return months


def frozen_months(months: Sequence[date], now: datetime) -> list[date]:
    """The leading run of `months` that ended before `now` and are frozen."""
    ended = [m for m in months if start_of_day(month_bounds(m)[1]) <= now]
    if not ended:
        return []
    found = set(db.session.scalars(sa.select(RollupMonth.month).where(
        RollupMonth.basis == basis(), RollupMonth.month.in_(ended))))
    run = []
    for month in ended:
        if month not in found:
            break
        run.append(month)
    return run


def month_totals(scope: Scope, months: Sequence[date], keys: Sequence[str]) -> dict[date, dict]:
    """{month: {key: the sum over the scope's departments}} of frozen months."""
    totals = {month: dict.fromkeys(keys, 0) for month in months}
    if not months:
        return totals
    columns = [sa.func.coalesce(sa.func.sum(getattr(MonthlyRollup, key)), 0) for key in keys]
    rows = db.session.execute(
        sa.select(RollupMonth.month, *columns)
        .join(MonthlyRollup, MonthlyRollup.rollup_month_id == RollupMonth.id)
        .where(RollupMonth.basis == basis(), RollupMonth.month.in_(list(months)),
               scope.held_by(MonthlyRollup.department_id))
        .group_by(RollupMonth.month))
    for month, *values in rows:
        totals[month] = dict(zip(keys, (int(v) for v in values), strict=True))
    return totals


def grouped(month: date, column, ids: Sequence[int], keys: Sequence[str]) -> dict[int, dict]:
    """{id: {key: sum}} of one frozen month for the departments (column
    MonthlyRollup.department_id) or agencies (Department.agency_id) `ids`."""
    columns = [sa.func.coalesce(sa.func.sum(getattr(MonthlyRollup, key)), 0) for key in keys]
    rows = db.session.execute(
        sa.select(column, *columns).select_from(MonthlyRollup)
        .join(RollupMonth, RollupMonth.id == MonthlyRollup.rollup_month_id)
        .join(Department, Department.id == MonthlyRollup.department_id)
        .where(RollupMonth.basis == basis(), RollupMonth.month == month, column.in_(list(ids)))
        .group_by(column))
    return {key: dict(zip(keys, (int(v) for v in values), strict=True)) for key, *values in rows}


def read(scope: Scope, start: date, end: date, now: datetime, keys: Sequence[str],
         live_counts: Callable[..., dict], *, live: bool = False) -> dict:
    """The counts `keys` of the scope over [start, end): its leading frozen months from the
    rollup, the rest from the records through `live_counts(scope, start, end, now)`. Counts
    of a period add up; AT_END ones come from the period's end, AT_START ones from its
    first month or the end of the frozen month before it (then `live_counts` is called with
    at_start=False, and skips them)."""
    months = None if live else whole_months(start, end)
    if months is None:
        return live_counts(scope, start, end, now)
    frozen = frozen_months(months, now)
    starts = [key for key in keys if key in AT_START]
    before = frozen_months([add_months(month_of(start), -1)], now) if starts and not frozen else []
    if not frozen and not before:
        return live_counts(scope, start, end, now)
    per_month = list(month_totals(scope, frozen, keys).values())
    rest = month_bounds(frozen[-1])[1] if frozen else start
    skip_start = {"at_start": False} if starts else {}
    tail = live_counts(scope, rest, end, now, **skip_start) if rest < end else None
    if before:
        ends = month_totals(scope, before, sorted({k for key in starts for k in AT_START[key]}))[before[0]]
    result = {}
    for key in keys:
        if key in AT_START:
            result[key] = per_month[0][key] if per_month else sum(ends[k] for k in AT_START[key])
        elif key in AT_END:
            result[key] = tail[key] if tail is not None else per_month[-1][key]
        else:
            result[key] = sum(month[key] for month in per_month) + (tail[key] if tail else 0)
    return result
