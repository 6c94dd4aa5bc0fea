"""The dossier figures of a scope over a period (received, resolved early / on time /
late, in progress, paused, withdrawn, apologies, satisfaction) and their rates; the
definitions are in the package docstring."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from qms.extensions import db
from qms.models import (
    Channel,
    Dossier,
    DossierEvent,
    DossierStatus,
    EventKind,
    SatisfactionLevel,
    SatisfactionRating,
)
from qms.services.metrics import frozen
from qms.services.metrics.periods import cut_at, utc_bounds
from qms.services.metrics.scope import Scope
from qms.services.metrics.state import ENDING, NOT_RECEIVED, open_at_counts
from qms.services.sqltime import count_where as _sum
from qms.services.sqltime import percent as _percent
from qms.services.timeliness import strict_rule
from qms.services.timeliness import timeliness_case as _timeliness_case

SATISFIED = (SatisfactionLevel.very_satisfied, SatisfactionLevel.satisfied)

DOSSIER_KEYS = (
    "received", "received_direct", "received_online", "received_postal", "refused",
    "carried_over", "resolved", "early", "on_time", "late",
    "in_progress", "in_progress_within", "in_progress_overdue",
    "paused", "paused_supplement", "paused_payment", "paused_other", "withdrawn", "stopped",
    "apologies", "late_with_apology", "ratings", "satisfied",
    "on_time_rate", "late_rate", "progress_766", "online_rate", "postal_rate",
    "apologies_per_late", "satisfaction_rate",
)


# The counts behind the figures (what a monthly rollup stores); the rest are rates of them.
COUNT_KEYS = (
    "received", "received_direct", "received_online", "received_postal", "refused",
    "carried_over", "resolved", "early", "on_time", "late", "late_with_apology",
    "in_progress_within", "in_progress_overdue", "paused_supplement", "paused_payment",
    "paused_other", "withdrawn", "stopped", "apologies", "ratings", "satisfied",
)


def dossier_metrics(scope: Scope, start: date, end: date, now: datetime, *, live: bool = False) -> dict:
    """The dossier figures of `scope` for the local dates [start, end), read at
    min(end, now). Keys: DOSSIER_KEYS; definitions in the module docstring. Whole months
    frozen in the monthly rollup are read from it unless `live` (qms.services.metrics.frozen)."""
    counts = frozen.read(scope, start, end, now, COUNT_KEYS, dossier_counts, live=live)
    figures = {**counts, "in_progress": counts["in_progress_within"] + counts["in_progress_overdue"],
               "paused": counts["paused_supplement"] + counts["paused_payment"] + counts["paused_other"]}
    figures.update(rates(figures))
    return {key: figures[key] for key in DOSSIER_KEYS}


def dossier_counts(scope: Scope, start: date, end: date, now: datetime, *, by=None,
                   at_start: bool = True) -> dict:
    """COUNT_KEYS of the scope's dossiers over [start, end), read from the records: one dict,
    or with `by` (a Dossier column, e.g. Dossier.department_id) {value: dict} for the values
    that have any. `at_start=False` leaves carried_over at 0 (the caller knows it)."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = cut_at(until, now)  # nothing after the moment read counts
    where = scope.dossiers()
    found: dict = {}

    def add(names, query):
        if by is not None:
            query = query.add_columns(by).group_by(by)
        for row in db.session.execute(query):
            key = row[-1] if by is not None else None
            counts = found.setdefault(key, dict.fromkeys(COUNT_KEYS, 0))
            for name, value in zip(names, row, strict=False):
                counts[name] += int(value or 0)

    # Received in the period, by channel; refusals apart.
    received = Dossier.status.not_in(NOT_RECEIVED)
    add(("received", "received_direct", "received_online", "received_postal", "refused"), sa.select(
        _sum(received), _sum(sa.and_(received, Dossier.channel == Channel.direct)),
        _sum(sa.and_(received, Dossier.channel == Channel.online)),
        _sum(sa.and_(received, Dossier.channel == Channel.postal)),
        _sum(Dossier.status == DossierStatus.not_accepted),
    ).where(where, Dossier.received_at >= since, Dossier.received_at < until))

    # Resolved in the period: early / on time / late; late ones with an apology.
    timeliness = _timeliness_case(Dossier.processed_at, Dossier.due_at, strict)
    apologised = sa.exists().where(DossierEvent.dossier_id == Dossier.id,
                                   DossierEvent.kind == EventKind.apology)
    add(("resolved", "early", "on_time", "late", "late_with_apology"), sa.select(
        sa.func.count(Dossier.id), _sum(timeliness == "early"), _sum(timeliness == "on_time"),
        _sum(timeliness == "late"), _sum(sa.and_(timeliness == "late", apologised)),
    ).where(where, Dossier.processed_at >= since, Dossier.processed_at < until))

    # Open at the end (and at the start: carried over).
    def by_key(states):
        return states if by is not None else {None: states}

    for key, state in by_key(open_at_counts(scope, cut, strict, by=by)).items():
        counts = found.setdefault(key, dict.fromkeys(COUNT_KEYS, 0))
        counts["in_progress_within"] += state["within"]
        counts["in_progress_overdue"] += state["overdue"]
        for name in ("paused_supplement", "paused_payment", "paused_other"):
            counts[name] += state[name]
    if at_start:
        for key, state in by_key(open_at_counts(scope, min(since, now), strict, by=by)).items():
            found.setdefault(key, dict.fromkeys(COUNT_KEYS, 0))["carried_over"] += sum(state.values())

    # Events of the period: apologies, withdrawals, stops.
    add(("apologies", "withdrawn", "stopped"), sa.select(
        _sum(DossierEvent.kind == EventKind.apology), _sum(DossierEvent.kind == EventKind.withdrawn),
        _sum(DossierEvent.kind == EventKind.stopped),
    ).join(Dossier, Dossier.id == DossierEvent.dossier_id).where(
        # read from the events (few), not from all the scope's dossiers
        scope.dossiers(indexed=False), DossierEvent.kind.in_((EventKind.apology, *ENDING)),
        DossierEvent.at >= since, DossierEvent.at < until))

    # Satisfaction ratings given in the period.
    add(("ratings", "satisfied"), sa.select(
        sa.func.count(SatisfactionRating.id), _sum(SatisfactionRating.level.in_(SATISFIED)),
    ).join(Dossier, Dossier.id == SatisfactionRating.dossier_id).where(
        scope.dossiers(indexed=False), SatisfactionRating.rated_at >= since,
        SatisfactionRating.rated_at < until))

    if by is not None:
        return {key: counts for key, counts in found.items()
                if key is not None and any(counts.values())}
    return found.get(None, dict.fromkeys(COUNT_KEYS, 0))


def rates(f: dict) -> dict:
    """The rates of a dict of counts (dossier_metrics' definitions)."""
    in_progress = f["in_progress_within"] + f["in_progress_overdue"]
    denominator_766 = f["resolved"] + in_progress
    return {
        "on_time_rate": _percent(f["early"] + f["on_time"], f["resolved"]),
        "late_rate": _percent(f["late"], f["resolved"]),
        "progress_766": (round(20.0 * (f["early"] + f["on_time"] + f["in_progress_within"])
                               / denominator_766, 2) if denominator_766 else None),
        "online_rate": _percent(f["received_online"], f["received"]),
        "postal_rate": _percent(f["received_postal"], f["received"]),
        "apologies_per_late": round(f["apologies"] / f["late"], 2) if f["late"] else None,
        "satisfaction_rate": _percent(f["satisfied"], f["ratings"]),
    }
