"""Quality objectives (mục tiêu chất lượng, ISO 9001:2015 §6.2): the quality officer sets
them for a year, each on an indicator the system measures (services.metrics.INDICATORS)
with a target, for an agency or one of its departments; retired, never deleted. The
listing measures each one year to date on its own scope (the department's, or the
agency's with its sub-agencies) and says whether it is met."""
from __future__ import annotations

import math
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from qms import authz
from qms.errors import Forbidden, ValidationError
from qms.extensions import db
from qms.models import (
    Agency,
    Department,
    Document,
    ObjectiveComparison,
    QualityObjective,
    User,
)
from qms.services import audit_log, metrics
from qms.text import nfc

MAX_TITLE = 500
# The largest target an indicator's unit allows; other units are only bounded below by 0.
UNIT_MAXIMUM = {"%": 100, "points": 20}


def _require_manager(actor: User) -> None:
    if not authz.has(actor, "objectives.manage"):
        raise Forbidden(_("Chỉ cán bộ ISO lập và thôi áp dụng mục tiêu chất lượng."))


def managed_agency_ids(actor: User) -> tuple[int, ...]:
    """The agencies the quality officer sets objectives for: their own and those below it."""
    return metrics.agency_tree_ids(actor.department.agency_id)


def create_objective(*, agency: Agency | None, department: Department | None = None, year: int,
                     title: str, indicator: str, comparison: ObjectiveComparison | str,
                     target: float, document: Document | None = None, actor: User,
                     now: datetime) -> QualityObjective:
    """Set a quality objective.

    Rules: the quality officer only, for their agency or one below it; a title; an indicator
    the system measures; a target ≥ 0 (at most 100 for a rate, 20 for Decision 766 points);
    the department, if any, belongs to the agency."""
    _require_manager(actor)
    if agency is None:
        raise ValidationError(_("Hãy chọn cơ quan, đơn vị."))
    if agency.id not in managed_agency_ids(actor):
        raise Forbidden(_("Bạn chỉ lập mục tiêu cho cơ quan của mình và các đơn vị trực thuộc."))
    if department is not None and department.agency_id != agency.id:
        raise ValidationError(_("Phòng ban %(d)s không thuộc %(a)s.", d=department.name, a=agency.name))
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationError(_("Năm của mục tiêu không hợp lệ."))
    title = nfc(title or "").strip()
    if not title:
        raise ValidationError(_("Hãy nhập nội dung mục tiêu."))
    if len(title) > MAX_TITLE:
        raise ValidationError(_("Nội dung mục tiêu quá dài (tối đa %(n)d ký tự).", n=MAX_TITLE))
    measured = metrics.INDICATORS.get(indicator or "")
    if measured is None:
        raise ValidationError(_("Chỉ số không hợp lệ: hãy chọn một chỉ số trong danh sách."))
    try:
        comparison = ObjectiveComparison(comparison)
    except ValueError:
        raise ValidationError(_("Cách so sánh không hợp lệ.")) from None
    try:
        target = float(target)
    except (TypeError, ValueError):
        target = math.nan
    maximum = UNIT_MAXIMUM.get(measured.unit)
    if not math.isfinite(target) or target < 0 or (maximum is not None and target > maximum):
        if maximum is None:
            raise ValidationError(_("Chỉ tiêu phải là một số không âm."))
        raise ValidationError(_("Chỉ tiêu của chỉ số này phải từ 0 đến %(m)d.", m=maximum))
    objective = QualityObjective(agency=agency, department=department, year=year, title=title,
                                 indicator=measured.key, comparison=comparison, target=target,
                                 document=document, active=True, created_by_id=actor.id,
                                 created_at=now)
    db.session.add(objective)
    audit_log.flush_as(db.session, actor)
    return objective


def retire_objective(objective: QualityObjective, *, actor: User, now: datetime) -> QualityObjective:
    """Stop applying an objective (it stays on record, and keeps its measures). The
    quality officer only. `now` is taken for the services' common signature."""
    _require_manager(actor)
    if objective.agency_id not in managed_agency_ids(actor):
        raise Forbidden(_("Bạn chỉ lập mục tiêu cho cơ quan của mình và các đơn vị trực thuộc."))
    if not objective.active:
        raise ValidationError(_("Mục tiêu này đã thôi áp dụng."))
    objective.active = False  # logged by the flush listener (active: true → false)
    audit_log.flush_as(db.session, actor)
    return objective


def listing(agency: Agency, year: int):
    """The active objectives of `year` of the agency and the agencies below it, as a query:
    by agency, the agency's general ones before its departments'."""
    return (sa.select(QualityObjective)
            .where(QualityObjective.agency_id.in_(metrics.agency_tree_ids(agency.id)),
                   QualityObjective.year == year, QualityObjective.active.is_(True))
            .order_by(QualityObjective.agency_id, QualityObjective.department_id.is_not(None),
                      QualityObjective.department_id, QualityObjective.id))


def measured(agency: Agency, year: int, now: datetime) -> list[dict]:
    """The listing, each objective measured from 1 January of `year` to min(its end, now) on
    its own scope: {"objective", "label", "unit", "measured", "met" (None: nothing to
    measure yet)}. One set of queries per scope, not per objective."""
    items = db.session.scalars(listing(agency, year)).all()
    start, end = date(year, 1, 1), date(year + 1, 1, 1)
    by_scope: dict[tuple, list[QualityObjective]] = {}
    for objective in items:
        key = ("department", objective.department_id) if objective.department_id else ("agency", objective.agency_id)
        by_scope.setdefault(key, []).append(objective)
    values: dict[int, float | int | None] = {}
    for (kind, _id), group in by_scope.items():
        first = group[0]
        scope = (metrics.Scope.of_department(first.department) if kind == "department"
                 else metrics.Scope.of_agency(first.agency))
        found = metrics.indicator_values(scope, start, end, now, {o.indicator for o in group})
        values.update({o.id: found.get(o.indicator) for o in group})
    result = []
    for objective in items:
        indicator = metrics.INDICATORS.get(objective.indicator)
        value = values.get(objective.id)
        result.append({"objective": objective,
                       "label": indicator.label if indicator else objective.indicator,
                       "unit": indicator.unit if indicator else "",
                       "measured": value,
                       "met": metrics.is_met(objective.comparison, value, objective.target)})
    return result
