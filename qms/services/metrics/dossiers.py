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


def dossier_metrics(scope: Scope, start: date, end: date, now: datetime) -> dict:
    """The dossier figures of `scope` for the local dates [start, end), read at
    min(end, now). Keys: DOSSIER_KEYS; definitions in the module docstring."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = cut_at(until, now)  # nothing after the moment read counts
    where = scope.dossiers()
    figures: dict = {}

    # Received in the period, by channel; refusals apart.
    received = Dossier.status.not_in(NOT_RECEIVED)
    row = db.session.execute(sa.select(
        _sum(received), _sum(sa.and_(received, Dossier.channel == Channel.direct)),
        _sum(sa.and_(received, Dossier.channel == Channel.online)),
        _sum(sa.and_(received, Dossier.channel == Channel.postal)),
        _sum(Dossier.status == DossierStatus.not_accepted),
    ).where(where, Dossier.received_at >= since, Dossier.received_at < until)).one()
    (figures["received"], figures["received_direct"], figures["received_online"],
     figures["received_postal"], figures["refused"]) = (int(v) for v in row)

    # Resolved in the period: early / on time / late; late ones with an apology.
    timeliness = _timeliness_case(Dossier.processed_at, Dossier.due_at, strict)
    apologised = sa.exists().where(DossierEvent.dossier_id == Dossier.id,
                                   DossierEvent.kind == EventKind.apology)
    row = db.session.execute(sa.select(
        sa.func.count(Dossier.id), _sum(timeliness == "early"), _sum(timeliness == "on_time"),
        _sum(timeliness == "late"), _sum(sa.and_(timeliness == "late", apologised)),
    ).where(where, Dossier.processed_at >= since, Dossier.processed_at < until)).one()
    (figures["resolved"], figures["early"], figures["on_time"], figures["late"],
     figures["late_with_apology"]) = (int(v) for v in row)

    # Open at the end (and at the start: carried over).
    at_end = open_at_counts(scope, cut, strict)
    figures["in_progress_within"] = at_end["within"]
    figures["in_progress_overdue"] = at_end["overdue"]
    figures["in_progress"] = at_end["within"] + at_end["overdue"]
    figures["paused_supplement"] = at_end["paused_supplement"]
    figures["paused_payment"] = at_end["paused_payment"]
    figures["paused_other"] = at_end["paused_other"]
    figures["paused"] = at_end["paused_supplement"] + at_end["paused_payment"] + at_end["paused_other"]
    at_start = open_at_counts(scope, min(since, now), strict)
    figures["carried_over"] = sum(at_start.values())

    # Events of the period: apologies, withdrawals, stops.
    row = db.session.execute(sa.select(
        _sum(DossierEvent.kind == EventKind.apology), _sum(DossierEvent.kind == EventKind.withdrawn),
        _sum(DossierEvent.kind == EventKind.stopped),
    ).join(Dossier, Dossier.id == DossierEvent.dossier_id).where(
        # read from the events (few), not from all the scope's dossiers
        scope.dossiers(indexed=False), DossierEvent.kind.in_((EventKind.apology, *ENDING)),
        DossierEvent.at >= since, DossierEvent.at < until)).one()
    figures["apologies"], figures["withdrawn"], figures["stopped"] = (int(v) for v in row)

    # Satisfaction ratings given in the period.
    row = db.session.execute(sa.select(
        sa.func.count(SatisfactionRating.id), _sum(SatisfactionRating.level.in_(SATISFIED)),
    ).join(Dossier, Dossier.id == SatisfactionRating.dossier_id).where(
        scope.dossiers(indexed=False), SatisfactionRating.rated_at >= since,
        SatisfactionRating.rated_at < until)).one()
    figures["ratings"], figures["satisfied"] = (int(v) for v in row)

    figures.update(rates(figures))
    return {key: figures[key] for key in DOSSIER_KEYS}


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
