"""Indicators (a figure with its label and unit) and the quality objectives measured
on them."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from qms.extensions import db
from qms.models import (
    ObjectiveComparison,
    QualityObjective,
)
from qms.services.metrics.dossiers import dossier_metrics
from qms.services.metrics.quality import quality_metrics
from qms.services.metrics.scope import Scope
from qms.services.metrics.steps import step_totals


@dataclass(frozen=True)
class Indicator:
    key: str
    label: object  # a lazy string
    unit: str  # "%", "points", "ratio", "count"
    source: str  # "dossiers", "steps", "quality"
    higher_is_better: bool = True


INDICATORS: dict[str, Indicator] = {i.key: i for i in (
    Indicator("on_time_rate", _l("Tỷ lệ giải quyết đúng hạn (trước và đúng hạn)"), "%", "dossiers"),
    Indicator("late_rate", _l("Tỷ lệ hồ sơ quá hạn"), "%", "dossiers", False),
    Indicator("progress_766", _l("Điểm tiến độ giải quyết (QĐ 766, tối đa 20)"), "points", "dossiers"),
    Indicator("online_rate", _l("Tỷ lệ hồ sơ trực tuyến"), "%", "dossiers"),
    Indicator("postal_rate", _l("Tỷ lệ hồ sơ qua bưu chính công ích"), "%", "dossiers"),
    Indicator("satisfaction_rate", _l("Tỷ lệ hài lòng"), "%", "dossiers"),
    Indicator("apologies_per_late", _l("Số văn bản xin lỗi trên mỗi hồ sơ quá hạn"), "ratio", "dossiers"),
    Indicator("received", _l("Số hồ sơ tiếp nhận"), "count", "dossiers"),
    Indicator("late", _l("Số hồ sơ giải quyết quá hạn"), "count", "dossiers", False),
    Indicator("in_progress_overdue", _l("Số hồ sơ đang giải quyết quá hạn"), "count", "dossiers", False),
    Indicator("step_on_time_rate", _l("Tỷ lệ bước xử lý đúng hạn"), "%", "steps"),
    Indicator("nc_open", _l("Số sự không phù hợp chưa đóng"), "count", "quality", False),
    Indicator("cars_overdue", _l("Số hành động khắc phục quá hạn"), "count", "quality", False),
    Indicator("feedback_on_time_rate", _l("Tỷ lệ phản ánh, kiến nghị được trả lời đúng hạn"), "%", "quality"),
)}


def indicator_values(scope: Scope, start: date, end: date, now: datetime,
                     keys: Iterable[str]) -> dict[str, float | int | None]:
    """The measured value of each indicator key over [start, end); only the queries the
    keys need are run. Unknown keys measure None."""
    keys = list(keys)
    sources = {INDICATORS[k].source for k in keys if k in INDICATORS}
    values: dict = {}
    if "dossiers" in sources:
        values.update(dossier_metrics(scope, start, end, now))
    if "steps" in sources:
        values["step_on_time_rate"] = step_totals(scope, start, end, now)["on_time_rate"]
    if "quality" in sources:
        values.update(quality_metrics(scope, start, end, now))
    return {k: values.get(k) if k in INDICATORS else None for k in keys}


def is_met(comparison: ObjectiveComparison, measured, target: float) -> bool | None:
    if measured is None:
        return None
    if comparison is ObjectiveComparison.at_least:
        return measured >= target
    return measured <= target


def objectives_query(scope: Scope, year: int):
    """The active objectives of `year` that apply to the scope: a department's own and its
    agency's general ones (no department); an agency's general ones."""
    query = sa.select(QualityObjective).where(QualityObjective.year == year,
                                              QualityObjective.active.is_(True))
    if scope.is_department:
        query = query.where(sa.or_(
            QualityObjective.department_id == scope.id,
            sa.and_(QualityObjective.department_id.is_(None),
                    QualityObjective.agency_id == scope.agency_ids[0])))
    else:
        query = query.where(QualityObjective.department_id.is_(None),
                            QualityObjective.agency_id == scope.id)
    return query.order_by(QualityObjective.department_id.is_(None), QualityObjective.id)


def objectives(scope: Scope, year: int, now: datetime, end: date | None = None) -> list[dict]:
    """The scope's quality objectives of `year`, each measured on the scope from 1 January
    to `end` (default: the year's end), read at min(that, now): {"id", "title",
    "indicator", "label", "unit", "comparison", "target", "measured", "met" (None: nothing
    to measure yet or an unknown indicator), "scope": "department" | "agency"}."""
    items = db.session.scalars(objectives_query(scope, year)).all()
    start = date(year, 1, 1)
    stop = min(end or date(year + 1, 1, 1), date(year + 1, 1, 1))
    values = indicator_values(scope, start, stop, now, {o.indicator for o in items}) if items else {}
    result = []
    for objective in items:
        indicator = INDICATORS.get(objective.indicator)
        measured = values.get(objective.indicator)
        result.append({
            "id": objective.id, "title": objective.title, "indicator": objective.indicator,
            "label": str(indicator.label) if indicator else objective.indicator,
            "unit": indicator.unit if indicator else "",
            "comparison": objective.comparison.value, "target": objective.target,
            "measured": measured, "met": is_met(objective.comparison, measured, objective.target),
            "scope": "department" if objective.department_id else "agency"})
    return result
