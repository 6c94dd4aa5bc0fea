"""The monthly rollup (issue 12): freezing ended reporting months into per-department
counts (qms.models.rollups) that the figures read instead of the records
(qms.services.metrics.frozen). `qms rollup` runs it from cron after midnight; a month is
counted once it has ended, from the same functions the live figures use, so a frozen month
and a live one agree (tests/reviews/test_rollups.py)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from qms.errors import ValidationError
from qms.extensions import db
from qms.localtime import date_of, start_of_day
from qms.models import Dossier, DossierStep, MonthlyRollup, Nonconformity, RollupMonth
from qms.services.metrics import frozen
from qms.services.metrics.dossiers import COUNT_KEYS, dossier_counts
from qms.services.metrics.periods import add_months, month_bounds, month_label, month_of
from qms.services.metrics.quality import NC_COUNT_KEYS, nc_counts
from qms.services.metrics.scope import Scope
from qms.services.metrics.steps import STEP_COUNT_KEYS, step_counts

KEYS = (*COUNT_KEYS, *STEP_COUNT_KEYS, *NC_COUNT_KEYS)


@dataclass(frozen=True)
class MonthCounts:
    """An ended month's counts read from the records: {department id: {key: count}}."""

    month: date
    read_at: datetime
    departments: dict[int, dict[str, int]]


def last_ended(now: datetime) -> date:
    return add_months(month_of(date_of(now)), -1)


def count_month(month: date, now: datetime) -> MonthCounts:
    """Every department's counts of `month`, which must have ended at `now` (an open month
    is always read live). Three grouped reads per family of figures, whatever the number
    of departments."""
    start, end = month_bounds(month)
    read_at = start_of_day(end)
    if read_at > now:
        raise ValidationError(_("Tháng %(m)s chưa kết thúc; chỉ tổng hợp được tháng đã qua.",
                                m=month_label(month)))
    everything = Scope.everything()
    departments: dict[int, dict[str, int]] = {}
    for found in (dossier_counts(everything, start, end, now, by=Dossier.department_id),
                  step_counts(everything, start, end, now, by=DossierStep.department_id),
                  nc_counts(everything, start, end, now, by=Nonconformity.department_id)):
        for department_id, counts in found.items():
            departments.setdefault(department_id, dict.fromkeys(KEYS, 0)).update(counts)
    return MonthCounts(month, read_at, departments)


def store(counts: MonthCounts, now: datetime) -> RollupMonth:
    """Freeze a month's counts under today's basis, replacing an earlier freeze of it."""
    basis = frozen.basis()
    old = db.session.scalar(sa.select(RollupMonth).where(
        RollupMonth.month == counts.month, RollupMonth.basis == basis))
    if old is not None:
        db.session.execute(sa.delete(MonthlyRollup).where(MonthlyRollup.rollup_month_id == old.id))
        db.session.delete(old)
        db.session.flush()
    month = RollupMonth(month=counts.month, basis=basis, read_at=counts.read_at, built_at=now)
    db.session.add(month)
    db.session.flush()
    if counts.departments:
        db.session.execute(sa.insert(MonthlyRollup), [
            {"rollup_month_id": month.id, "department_id": department_id, **values}
            for department_id, values in sorted(counts.departments.items())])
    return month


WINDOW = 12  # ended months always frozen, records or not: the charts' and objectives' reach


def months_to_freeze(now: datetime, *, rebuild: bool = False) -> list[date]:
    """The ended months not frozen under today's basis yet (all of them with `rebuild`):
    from the first dossier received (or nonconformity detected), and at least the last
    WINDOW, so that a year's chart on a young database reads empty months frozen rather
    than falling back to the records for the whole year."""
    last = last_ended(now)
    month = add_months(last, 1 - WINDOW)
    first = db.session.scalar(sa.select(sa.func.min(Dossier.received_at)))
    first_nc = db.session.scalar(sa.select(sa.func.min(Nonconformity.detected_at)))
    for moment in (first, first_nc):
        if moment is not None:
            month = min(month, month_of(date_of(moment)))
    months = []
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    if rebuild:
        return months
    done = set(db.session.scalars(sa.select(RollupMonth.month).where(
        RollupMonth.basis == frozen.basis(), RollupMonth.month.in_(months)))) if months else set()
    return [m for m in months if m not in done]


def thaw(since: datetime) -> int:
    """Forget the frozen months from the one `since` falls in: records dated in the past
    (a dossier taken in from another system) changed them. They are read live until the
    next `qms rollup` freezes them again. Returns how many months were thawed."""
    first = month_of(date_of(since))
    ids = list(db.session.scalars(sa.select(RollupMonth.id).where(RollupMonth.month >= first)))
    if ids:
        db.session.execute(sa.delete(MonthlyRollup).where(MonthlyRollup.rollup_month_id.in_(ids)))
        db.session.execute(sa.delete(RollupMonth).where(RollupMonth.id.in_(ids)))
    return len(ids)
