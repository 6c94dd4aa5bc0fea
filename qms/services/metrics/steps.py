"""Process steps: completed in a period (early / on time / late on the step's own due
time) and open and overdue at the period's end, per procedure step."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from qms.extensions import db
from qms.models import (
    Dossier,
    DossierStep,
    Procedure,
)
from qms.services.metrics import frozen
from qms.services.metrics.periods import cut_at, utc_bounds
from qms.services.metrics.scope import Scope
from qms.services.metrics.state import PAUSING, last_pause_kind, open_at, overdue_at
from qms.services.sqltime import count_where as _sum
from qms.services.sqltime import percent as _percent
from qms.services.sqltime import unindexed
from qms.services.timeliness import strict_rule
from qms.services.timeliness import timeliness_case as _timeliness_case


def step_open_terms(scope: Scope, cut: datetime) -> list:
    """Disjoint WHERE clauses: the scope's steps handed over before `cut` and not completed
    by then (not yet completed; completed since), each searched by the proposed index
    dossier_step (department_id, completed_at)."""
    held = sa.and_(scope.held_by(DossierStep.department_id), unindexed(DossierStep.due_at).is_not(None),
                   unindexed(DossierStep.handed_over_at) < cut)
    return [sa.and_(held, DossierStep.completed_at.is_(None)),
            sa.and_(held, DossierStep.completed_at >= cut)]


def dossier_running_at(cut: datetime):
    """The step's dossier was in progress and not paused at `cut` (correlated on Dossier)."""
    pause = last_pause_kind(cut)
    running = sa.or_(pause.is_(None), pause.not_in(PAUSING))
    return sa.and_(open_at(cut), running)


STEP_COUNT_KEYS = ("steps_completed", "steps_early", "steps_on_time", "steps_late", "steps_overdue_open")


def step_counts(scope: Scope, start: date, end: date, now: datetime, *, by=None) -> dict:
    """step_metrics' totals as STEP_COUNT_KEYS, without the per-step rows: one dict, or with
    `by` (a DossierStep column) {value: dict} for the values that have any."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = cut_at(until, now)
    timeliness = _timeliness_case(DossierStep.completed_at, DossierStep.due_at, strict)
    found: dict = {}

    def add(names, query):
        if by is not None:
            query = query.add_columns(by).group_by(by)
        for row in db.session.execute(query):
            counts = found.setdefault(row[-1] if by is not None else None,
                                      dict.fromkeys(STEP_COUNT_KEYS, 0))
            for name, value in zip(names, row, strict=False):
                counts[name] += int(value or 0)

    add(STEP_COUNT_KEYS[:4], sa.select(
        sa.func.count(DossierStep.id), _sum(timeliness == "early"), _sum(timeliness == "on_time"),
        _sum(timeliness == "late"),
    ).where(scope.held_by(DossierStep.department_id), unindexed(DossierStep.due_at).is_not(None),
            DossierStep.completed_at >= since, DossierStep.completed_at < until))
    for term in step_open_terms(scope, cut):
        add(("steps_overdue_open",), sa.select(sa.func.count(DossierStep.id))
            .join(Dossier, Dossier.id == DossierStep.dossier_id)
            .where(term, overdue_at(DossierStep.due_at, cut, strict), dossier_running_at(cut)))
    if by is not None:
        return {key: counts for key, counts in found.items()
                if key is not None and any(counts.values())}
    return found.get(None, dict.fromkeys(STEP_COUNT_KEYS, 0))


def step_totals(scope: Scope, start: date, end: date, now: datetime, *, live: bool = False) -> dict:
    """step_metrics' "totals" (completed, early, on_time, late, overdue_open, on_time_rate),
    read from the monthly rollup for frozen whole months unless `live`."""
    counts = frozen.read(scope, start, end, now, STEP_COUNT_KEYS, step_counts, live=live)
    totals = {name: counts["steps_" + name]
              for name in ("completed", "early", "on_time", "late", "overdue_open")}
    totals["on_time_rate"] = _percent(totals["early"] + totals["on_time"], totals["completed"])
    return totals


def step_metrics(scope: Scope, start: date, end: date, now: datetime) -> dict:
    """Per process step (procedure code, position, step name) of the steps held in the
    scope: completed in the period, of which late (by the same rule as dossiers, on the
    step's own due time), the on-time rate, and the steps open and overdue at
    min(end, now) (of dossiers running, not paused, then). Rows sorted by late count,
    then overdue, so the steps that cause lateness come first; "totals" adds them up."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = cut_at(until, now)  # nothing after the moment read counts
    timeliness = _timeliness_case(DossierStep.completed_at, DossierStep.due_at, strict)
    key = (Procedure.code, Procedure.name, DossierStep.position, DossierStep.name)
    rows: dict[tuple, dict] = {}

    def row_for(values) -> dict:
        code, name, position, step_name = values
        return rows.setdefault((code, position, step_name), {
            "procedure_code": code, "procedure_name": name, "position": position,
            "name": step_name, "completed": 0, "early": 0, "on_time": 0, "late": 0,
            "overdue_open": 0, "on_time_rate": None})

    completed = db.session.execute(
        sa.select(*key, sa.func.count(DossierStep.id), _sum(timeliness == "early"),
                  _sum(timeliness == "on_time"), _sum(timeliness == "late"))
        .join(Dossier, Dossier.id == DossierStep.dossier_id)
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .where(scope.held_by(DossierStep.department_id), unindexed(DossierStep.due_at).is_not(None),
               DossierStep.completed_at >= since, DossierStep.completed_at < until)
        .group_by(*key))
    for *values, count, early, on_time, late in completed:
        row = row_for(values)
        row.update(completed=int(count), early=int(early), on_time=int(on_time), late=int(late))
    for term in step_open_terms(scope, cut):
        overdue = db.session.execute(
            sa.select(*key, sa.func.count(DossierStep.id))
            .join(Dossier, Dossier.id == DossierStep.dossier_id)
            .join(Procedure, Procedure.id == Dossier.procedure_id)
            .where(term, overdue_at(DossierStep.due_at, cut, strict), dossier_running_at(cut))
            .group_by(*key))
        for *values, count in overdue:
            row_for(values)["overdue_open"] += int(count)
    ordered = sorted(rows.values(), key=lambda r: (-r["late"], -r["overdue_open"],
                                                   r["procedure_code"], r["position"]))
    for row in ordered:
        row["on_time_rate"] = _percent(row["early"] + row["on_time"], row["completed"])
    totals = {name: sum(r[name] for r in ordered)
              for name in ("completed", "early", "on_time", "late", "overdue_open")}
    totals["on_time_rate"] = _percent(totals["early"] + totals["on_time"], totals["completed"])
    return {"totals": totals, "rows": ordered}
