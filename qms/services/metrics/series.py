"""Indicators month by month for trend charts: one query per family of figures grouped by
local month, never one query per month."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa

from qms.extensions import db
from qms.localtime import date_of, start_of_day
from qms.models import (
    Channel,
    Dossier,
    DossierEvent,
    DossierStatus,
    EventKind,
    NcStatus,
    Nonconformity,
    SatisfactionRating,
)
from qms.services.metrics import frozen
from qms.services.metrics.dossiers import SATISFIED, rates
from qms.services.metrics.periods import (
    add_months,
    cut_at,
    month_bounds,
    month_key,
    month_label,
    month_of,
)
from qms.services.metrics.scope import Scope
from qms.services.metrics.state import (
    ENDED_WITHOUT_RESULT,
    NOT_RECEIVED,
    OPEN_NOW,
    PAUSING,
    RESULT_STATUSES,
    due_at_cut,
    end_event,
    last_pause_kind,
    open_at,
    overdue_at,
)
from qms.services.sqltime import count_where as _sum
from qms.services.sqltime import unindexed
from qms.services.timeliness import strict_rule
from qms.services.timeliness import timeliness_case as _timeliness_case

SERIES_INDICATORS = (
    "received", "received_online", "received_postal", "refused", "resolved", "early",
    "on_time", "late", "in_progress", "in_progress_overdue", "paused", "on_time_rate",
    "late_rate", "progress_766", "online_rate", "postal_rate", "apologies",
    "ratings", "satisfaction_rate", "nc_opened", "nc_closed",
)
_FROZEN_KEYS = ("received", "received_online", "received_postal", "refused", "resolved", "early",
                "on_time", "late", "in_progress_within", "in_progress_overdue", "paused_supplement",
                "paused_payment", "paused_other", "apologies", "ratings", "satisfied", "nc_opened",
                "nc_closed")
_SERIES_NEEDS = {
    "received": {"received"}, "received_online": {"received"}, "received_postal": {"received"},
    "refused": {"received"}, "online_rate": {"received"}, "postal_rate": {"received"},
    "resolved": {"resolved"}, "early": {"resolved"}, "on_time": {"resolved"},
    "late": {"resolved"}, "on_time_rate": {"resolved"}, "late_rate": {"resolved"},
    "in_progress": {"open"}, "in_progress_overdue": {"open"}, "paused": {"open"},
    "progress_766": {"resolved", "open"}, "apologies": {"events"}, "ratings": {"ratings"},
    "satisfaction_rate": {"ratings"}, "nc_opened": {"nc"}, "nc_closed": {"nc"},
}


def series_months(months: int, now: datetime) -> list[date]:
    """The last `months` reporting months (their names), the current one last."""
    current = month_of(date_of(now))
    return [add_months(current, offset) for offset in range(1 - months, 1)]


def monthly_series(scope: Scope, months: int, now: datetime,
                   indicators: Sequence[str] | None = None) -> dict:
    """Indicators month by month over the last `months` local months (the current month
    last, read at `now`), for trend charts: {"months": ["2025-12", ...], "labels":
    ["12/2025", ...], "series": {indicator: [value per month]}}. Each family of figures is
    one query grouped by local month (received, resolved, events, ratings, NCs) plus one
    query per possible state for the month ends (in progress / paused), never one query
    per month. Same definitions as dossier_metrics; SERIES_INDICATORS lists the keys."""
    if months < 1:
        raise ValueError("months must be at least 1")
    wanted = list(indicators or SERIES_INDICATORS)
    unknown = [k for k in wanted if k not in _SERIES_NEEDS]
    if unknown:
        raise ValueError(f"unknown series indicators: {unknown}")
    needs = set().union(*(_SERIES_NEEDS[k] for k in wanted))
    shown = series_months(months, now)
    keys = [f"{m:%Y-%m}" for m in shown]
    data = {key: dict.fromkeys(("received", "received_online", "received_postal", "refused",
                                "resolved", "early", "on_time", "late", "in_progress_within",
                                "in_progress_overdue", "paused", "apologies", "ratings",
                                "satisfied", "nc_opened", "nc_closed"), 0) for key in keys}
    # The months frozen in the monthly rollup are read from it; the rest from the records.
    done = frozen.frozen_months(shown, now)
    for month, counts in frozen.month_totals(scope, done, _FROZEN_KEYS).items():
        paused = counts.pop("paused_supplement") + counts.pop("paused_payment") + counts.pop("paused_other")
        data[f"{month:%Y-%m}"].update(counts, paused=paused)
    if len(done) < len(shown):
        _fill_live(scope, shown[len(done):], now, needs, data)
    return _series(wanted, keys, data, [month_label(m) for m in shown])


def _fill_live(scope: Scope, firsts: list[date], now: datetime, needs: set, data: dict) -> None:
    """The months `firsts` (consecutive, the current one last) read from the records."""
    keys = [f"{m:%Y-%m}" for m in firsts]
    since = start_of_day(month_bounds(firsts[0])[0])
    until = min(start_of_day(month_bounds(firsts[-1])[1]), now)
    strict = strict_rule()
    where = scope.dossiers()

    def fill(rows, names):
        for month, *values in rows:
            if month in keys:
                for name, value in zip(names, values, strict=True):
                    data[month][name] = int(value or 0)

    if "received" in needs:
        month = month_key(Dossier.received_at)
        received = Dossier.status.not_in(NOT_RECEIVED)
        fill(db.session.execute(
            sa.select(month, _sum(received), _sum(sa.and_(received, Dossier.channel == Channel.online)),
                      _sum(sa.and_(received, Dossier.channel == Channel.postal)),
                      _sum(Dossier.status == DossierStatus.not_accepted))
            .where(where, Dossier.received_at >= since, Dossier.received_at < until)
            .group_by(month)), ("received", "received_online", "received_postal", "refused"))
    if "resolved" in needs:
        month = month_key(Dossier.processed_at)
        timeliness = _timeliness_case(Dossier.processed_at, Dossier.due_at, strict)
        fill(db.session.execute(
            sa.select(month, sa.func.count(Dossier.id), _sum(timeliness == "early"),
                      _sum(timeliness == "on_time"), _sum(timeliness == "late"))
            .where(where, Dossier.processed_at >= since, Dossier.processed_at < until)
            .group_by(month)), ("resolved", "early", "on_time", "late"))
    if "events" in needs:
        month = month_key(DossierEvent.at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(DossierEvent.id))
            .join(Dossier, Dossier.id == DossierEvent.dossier_id)
            .where(scope.dossiers(indexed=False), DossierEvent.kind == EventKind.apology,
                   DossierEvent.at >= since,
                   DossierEvent.at < until).group_by(month)), ("apologies",))
    if "ratings" in needs:
        month = month_key(SatisfactionRating.rated_at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(SatisfactionRating.id),
                      _sum(SatisfactionRating.level.in_(SATISFIED)))
            .join(Dossier, Dossier.id == SatisfactionRating.dossier_id)
            .where(scope.dossiers(indexed=False), SatisfactionRating.rated_at >= since,
                   SatisfactionRating.rated_at < until)
            .group_by(month)), ("ratings", "satisfied"))
    if "nc" in needs:
        in_scope = scope.held_by(Nonconformity.department_id)
        month = month_key(Nonconformity.detected_at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(Nonconformity.id))
            .where(in_scope, Nonconformity.status != NcStatus.rejected,
                   Nonconformity.detected_at >= since, Nonconformity.detected_at < until)
            .group_by(month)), ("nc_opened",))
        month = month_key(Nonconformity.closed_at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(Nonconformity.id))
            .where(in_scope, Nonconformity.status != NcStatus.rejected,
                   Nonconformity.closed_at >= since, Nonconformity.closed_at < until)
            .group_by(month)), ("nc_closed",))
    if "open" in needs:
        _fill_month_ends(scope, firsts, keys, now, strict, data)


def _series(wanted, keys, data, labels) -> dict:
    series = {}
    for name in wanted:
        values = []
        for key in keys:
            d = data[key]
            if name in ("on_time_rate", "late_rate", "progress_766", "online_rate", "postal_rate",
                        "satisfaction_rate"):
                values.append(rates(d)[name])
            elif name == "in_progress":
                values.append(d["in_progress_within"] + d["in_progress_overdue"])
            else:
                values.append(d[name])
        series[name] = values
    return {"months": keys, "labels": labels, "series": series}


def _fill_month_ends(scope: Scope, firsts: list[date], keys: list[str], now: datetime,
                     strict: bool, data: dict) -> None:
    """In progress (within / overdue) and paused at each month's end (the current month:
    now): the dossiers open at some cut joined to a small table of the cuts, grouped by
    cut; one query per disjoint status term (as open_at_terms, for any of the cuts)."""
    from qms.models.base import UTCDateTime

    cuts = [cut_at(start_of_day(month_bounds(first)[1]), now) for first in firsts]
    table = sa.union_all(*(sa.select(sa.literal(cut, UTCDateTime()).label("cut"),
                                     sa.literal(index).label("position"))
                           for index, cut in enumerate(cuts))).subquery("cuts")
    cut = table.c.cut
    pause = last_pause_kind(cut)
    paused = pause.in_(PAUSING)
    overdue = overdue_at(due_at_cut(cut), cut, strict)
    columns = (table.c.position,
               _sum(sa.case((paused, False), (overdue, False), else_=True)),
               _sum(sa.case((paused, False), else_=overdue)),
               _sum(paused))
    received = unindexed(Dossier.received_at) < max(cuts)
    terms = [
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(OPEN_NOW)),
        # processed since the first cut, and in another month than received: the others
        # were open at no month's end
        sa.and_(scope.dossiers(), received, unindexed(Dossier.status).in_(RESULT_STATUSES),
                Dossier.processed_at >= min(cuts),
                month_key(Dossier.received_at) != month_key(Dossier.processed_at)),
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(ENDED_WITHOUT_RESULT),
                end_event() >= min(cuts)),
    ]
    for term in terms:
        # LEFT JOIN keeps the dossiers the outer loop (SQLite plans a LEFT JOIN in its
        # written order): each candidate is read once and compared with the twelve cuts,
        # rather than the index searched once per cut. Rows open at no cut group under NULL.
        rows = db.session.execute(sa.select(*columns).select_from(Dossier)
                                  .join(table, open_at(cut), isouter=True).where(term)
                                  .group_by(table.c.position))
        for position, within, late, stopped in rows:
            if position is None:
                continue
            month = data[keys[position]]
            month["in_progress_within"] += int(within)
            month["in_progress_overdue"] += int(late)
            month["paused"] += int(stopped)
