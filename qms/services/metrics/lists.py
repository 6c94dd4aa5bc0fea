"""The records behind the late figures, paginated: late dossiers and overdue steps."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from qms.extensions import db
from qms.models import (
    Department,
    Dossier,
    DossierStep,
    Procedure,
)
from qms.services.metrics.periods import cut_at, utc_bounds
from qms.services.metrics.scope import Scope
from qms.services.metrics.state import (
    PAUSING,
    due_at_cut,
    last_pause_kind,
    open_at_terms,
    overdue_at,
)
from qms.services.metrics.steps import dossier_running_at, step_open_terms
from qms.services.sqltime import unindexed
from qms.services.timeliness import strict_rule
from qms.services.timeliness import timeliness_case as _timeliness_case


@dataclass
class Page:
    items: list[dict]
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)

    def __post_init__(self):
        self.pages = max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _page(query, count_query, page: int, per_page: int, to_dict) -> Page:
    page = max(1, int(page or 1))
    total = int(db.session.scalar(count_query) or 0)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([to_dict(row) for row in rows], total, page, per_page)


def _late_dossier_terms(scope: Scope, since: datetime, until: datetime, cut: datetime, strict: bool):
    """(resolved late in the period, open and overdue at the cut): disjoint clauses."""
    late = sa.and_(scope.dossiers(), Dossier.processed_at >= since, Dossier.processed_at < until,
                   _timeliness_case(Dossier.processed_at, Dossier.due_at, strict) == "late")
    pause = last_pause_kind(cut)
    running = sa.or_(pause.is_(None), pause.not_in(PAUSING))
    overdue = [sa.and_(term, running, overdue_at(due_at_cut(cut), cut, strict))
               for term in open_at_terms(scope, cut)]
    return late, overdue


def late_dossiers(scope: Scope, start: date, end: date, now: datetime, *, page: int = 1,
                  per_page: int = 50) -> Page:
    """The dossiers behind the late figures: resolved late in the period (state "late") and
    in progress overdue at min(end, now) (state "overdue"), soonest due first. Items:
    {"code", "procedure_code", "procedure_name", "applicant_name", "received_at",
    "due_at", "processed_at", "state"}."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = cut_at(until, now)  # nothing after the moment read counts
    late, overdue = _late_dossier_terms(scope, since, until, cut, strict)
    state = sa.case((sa.and_(Dossier.processed_at.is_not(None), Dossier.processed_at < until),
                     "late"), else_="overdue")
    ids = sa.union(sa.select(Dossier.id).where(late),
                   *(sa.select(Dossier.id).where(term) for term in overdue)).subquery()
    query = (sa.select(Dossier.code, Procedure.code, Procedure.name, Dossier.applicant_name,
                       Dossier.received_at, Dossier.due_at, Dossier.processed_at, state)
             .join(Procedure, Procedure.id == Dossier.procedure_id)
             .where(Dossier.id.in_(sa.select(ids.c.id)))
             .order_by(Dossier.due_at, Dossier.id))
    count = sa.select(sa.func.count()).select_from(ids)

    def to_dict(row) -> dict:
        return {"code": row[0], "procedure_code": row[1], "procedure_name": row[2],
                "applicant_name": row[3], "received_at": row[4], "due_at": row[5],
                "processed_at": row[6], "state": row[7]}

    return _page(query, count, page, per_page, to_dict)


def overdue_steps(scope: Scope, start: date, end: date, now: datetime, *, page: int = 1,
                  per_page: int = 50) -> Page:
    """The steps held in the scope that were late: completed late in the period (state
    "late") or open and overdue at min(end, now) on a running dossier (state "overdue"),
    soonest due first. Items: {"code" (the dossier's), "procedure_code", "position",
    "name", "department", "handed_over_at", "due_at", "completed_at", "state"}."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = cut_at(until, now)  # nothing after the moment read counts
    late = sa.and_(scope.held_by(DossierStep.department_id), unindexed(DossierStep.due_at).is_not(None),
                   DossierStep.completed_at >= since, DossierStep.completed_at < until,
                   _timeliness_case(DossierStep.completed_at, DossierStep.due_at, strict) == "late")
    ids = sa.union(
        sa.select(DossierStep.id).where(late),
        *(sa.select(DossierStep.id).join(Dossier, Dossier.id == DossierStep.dossier_id)
          .where(term, overdue_at(DossierStep.due_at, cut, strict), dossier_running_at(cut))
          for term in step_open_terms(scope, cut)),
    ).subquery()
    state = sa.case((sa.and_(DossierStep.completed_at.is_not(None), DossierStep.completed_at < cut),
                     "late"), else_="overdue")
    query = (sa.select(Dossier.code, Procedure.code, DossierStep.position, DossierStep.name,
                       Department.name, DossierStep.handed_over_at, DossierStep.due_at,
                       DossierStep.completed_at, state)
             .join(Dossier, Dossier.id == DossierStep.dossier_id)
             .join(Procedure, Procedure.id == Dossier.procedure_id)
             .outerjoin(Department, Department.id == DossierStep.department_id)
             .where(DossierStep.id.in_(sa.select(ids.c.id)))
             .order_by(DossierStep.due_at, DossierStep.id))
    count = sa.select(sa.func.count()).select_from(ids)

    def to_dict(row) -> dict:
        return {"code": row[0], "procedure_code": row[1], "position": row[2], "name": row[3],
                "department": row[4] or "", "handed_over_at": row[5], "due_at": row[6],
                "completed_at": row[7], "state": row[8]}

    return _page(query, count, page, per_page, to_dict)
