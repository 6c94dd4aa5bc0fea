"""Quality figures: nonconformities (opened, closed, rejected, open by age), corrective
actions (opened, closed, open, overdue) and citizens' feedback answered on time."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from qms.extensions import db
from qms.localtime import date_of, local_date
from qms.models import (
    ActionItem,
    CarStatus,
    CorrectiveAction,
    Feedback,
    NcStatus,
    Nonconformity,
)
from qms.services.metrics.periods import cut_at, utc_bounds
from qms.services.metrics.scope import Scope
from qms.services.sqltime import count_where as _sum
from qms.services.sqltime import percent as _percent

NC_NOT_OPEN = (NcStatus.closed, NcStatus.rejected)
AGE_BUCKETS = ((0, 30), (31, 90), (91, None))  # days since detection, inclusive


def _car_overdue_at(cut: datetime):
    """corrective_actions.overdue_condition as it stood at `cut`: an item not done by then
    past its due date, or the effectiveness check date passed. (At cut = now it is that
    condition exactly; earlier, items done and CARs closed later still count as they were.)"""
    day = date_of(cut)
    late_item = sa.select(ActionItem.id).where(
        ActionItem.corrective_action_id == CorrectiveAction.id, ActionItem.due_date < day,
        sa.or_(ActionItem.done_at.is_(None), ActionItem.done_at >= cut))
    return sa.or_(sa.exists(late_item), CorrectiveAction.check_date < day)


NC_COUNT_KEYS = ("nc_opened", "nc_closed", "nc_rejected")


def _nc_period_columns(since: datetime, until: datetime) -> list:
    """NC_COUNT_KEYS as aggregates: opened (detected in the period, not rejected), closed in
    the period, rejected (detected in the period)."""
    detected = sa.and_(Nonconformity.detected_at >= since, Nonconformity.detected_at < until)
    return [_sum(sa.and_(detected, Nonconformity.status != NcStatus.rejected)),
            _sum(sa.and_(Nonconformity.closed_at >= since, Nonconformity.closed_at < until,
                         Nonconformity.status != NcStatus.rejected)),
            _sum(sa.and_(detected, Nonconformity.status == NcStatus.rejected))]


def nc_counts(scope: Scope, start: date, end: date, now: datetime, *, by=None) -> dict:
    """NC_COUNT_KEYS of the scope's nonconformities over [start, end): one dict, or with `by`
    (a Nonconformity column) {value: dict} for the values that have any."""
    since, until = utc_bounds(start, end)
    until = cut_at(until, now)
    query = sa.select(*_nc_period_columns(since, until)).where(scope.held_by(Nonconformity.department_id))
    if by is None:
        return dict(zip(NC_COUNT_KEYS, (int(v) for v in db.session.execute(query).one()), strict=True))
    rows = db.session.execute(query.add_columns(by).group_by(by))
    found = {row[-1]: dict(zip(NC_COUNT_KEYS, (int(v) for v in row[:-1]), strict=True)) for row in rows}
    return {key: counts for key, counts in found.items() if key is not None and any(counts.values())}


def quality_metrics(scope: Scope, start: date, end: date, now: datetime) -> dict:
    """Nonconformities raised against the scope's departments: opened (detected in the
    period, not rejected), closed in the period, rejected, and those open at min(end, now)
    by age since detection (≤ 30, 31–90, > 90 days); CARs open at that moment and, of
    them, overdue (an action item past due, or the effectiveness check date passed)."""
    since, until = utc_bounds(start, end)
    cut = until = cut_at(until, now)  # nothing after the moment read counts
    cut_day = date_of(cut)
    in_scope = scope.held_by(Nonconformity.department_id)
    open_at = sa.and_(Nonconformity.detected_at < cut, Nonconformity.status != NcStatus.rejected,
                      sa.or_(Nonconformity.closed_at.is_(None), Nonconformity.closed_at >= cut))
    detected_day = local_date(Nonconformity.detected_at)
    buckets = []
    for low, high in AGE_BUCKETS:
        # age in days = cut_day - detected_day; compare dates rather than subtracting them
        condition = [open_at, detected_day <= cut_day - timedelta(days=low)]
        if high is not None:
            condition.append(detected_day >= cut_day - timedelta(days=high))
        buckets.append(_sum(sa.and_(*condition)))
    row = db.session.execute(sa.select(
        *_nc_period_columns(since, until), _sum(open_at), *buckets,
    ).where(in_scope)).one()
    opened, closed, rejected, still_open, young, middle, old = (int(v) for v in row)
    car_open = sa.and_(CorrectiveAction.created_at < cut, sa.or_(
        sa.and_(CorrectiveAction.closed_at.is_(None), CorrectiveAction.status != CarStatus.closed),
        CorrectiveAction.closed_at >= cut))
    row = db.session.execute(sa.select(
        _sum(car_open), _sum(sa.and_(car_open, _car_overdue_at(cut))),
        _sum(sa.and_(CorrectiveAction.created_at >= since, CorrectiveAction.created_at < until)),
        _sum(sa.and_(CorrectiveAction.closed_at >= since, CorrectiveAction.closed_at < until)),
    ).where(scope.held_by(CorrectiveAction.department_id))).one()
    cars_open, cars_overdue, cars_opened, cars_closed = (int(v) for v in row)
    # Citizens' complaints and recommendations handled by the scope's departments (ISO
    # 9001:2015 §9.1.2): answered in the period, of them by their deadline, and overdue open.
    answered = sa.and_(Feedback.responded_at >= since, Feedback.responded_at < until)
    row = db.session.execute(sa.select(
        _sum(answered), _sum(sa.and_(answered, Feedback.responded_at <= Feedback.due_at)),
        _sum(sa.and_(Feedback.received_at < cut, Feedback.due_at < cut,
                     sa.or_(Feedback.responded_at.is_(None), Feedback.responded_at >= cut))),
    ).where(scope.held_by(Feedback.department_id))).one()
    feedback_handled, feedback_on_time, feedback_overdue = (int(v) for v in row)
    return {"feedback_handled": feedback_handled, "feedback_on_time": feedback_on_time,
            "feedback_on_time_rate": _percent(feedback_on_time, feedback_handled),
            "feedback_overdue": feedback_overdue,
            "nc_opened": opened, "nc_closed": closed, "nc_rejected": rejected,
            "nc_open": still_open, "nc_open_30": young, "nc_open_90": middle, "nc_open_older": old,
            "cars_opened": cars_opened, "cars_closed": cars_closed, "cars_open": cars_open,
            "cars_overdue": cars_overdue}
