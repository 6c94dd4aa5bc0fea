"""The quality objectives of a year (mục tiêu chất lượng): every member of staff reads them
with their measure year to date and whether each is met; the quality officer sets new
ones and retires old ones. Rules: services.objectives; measures: services.metrics."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import FloatField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from qms import clock, localtime
from qms.extensions import db
from qms.models import Agency, Department, ObjectiveComparison, QualityObjective
from qms.services import metrics
from qms.services import objectives as service
from qms.web import access
from qms.web.actions import act
from qms.web.forms import Form
from qms.web.reviews import bp

COMPARISONS = {ObjectiveComparison.at_least.value: _l("Tối thiểu (≥)"),
               ObjectiveComparison.at_most.value: _l("Tối đa (≤)")}


class ObjectiveForm(Form):
    agency_id = SelectField(_l("Cơ quan, đơn vị"), coerce=int, choices=[])
    department_id = SelectField(_l("Phòng ban (không bắt buộc)"), coerce=int, choices=[])
    year = IntegerField(_l("Năm"), validators=[InputRequired(), NumberRange(min=2000, max=2100)])
    title = TextAreaField(_l("Nội dung mục tiêu"), validators=[DataRequired()])
    # the service names a bad indicator; the list only offers the good ones
    indicator = SelectField(_l("Chỉ số đo"), choices=[], validate_choice=False)
    comparison = SelectField(_l("Cách so sánh"), choices=list(COMPARISONS.items()))
    target = FloatField(_l("Chỉ tiêu"), validators=[InputRequired()],
                        description=_l("Tỷ lệ tính theo phần trăm, từ 0 đến 100; điểm tiến độ QĐ 766 tối đa 20."))


def _year() -> tuple[int, str | None]:
    this_year = localtime.date_of(clock.now()).year
    text = request.args.get("year", "").strip()
    if not text:
        return this_year, None
    if text.isdigit() and 2000 <= int(text) <= 2100:
        return int(text), None
    return this_year, _("Năm không hợp lệ: %(y)s.", y=text)


def _form(year: int) -> ObjectiveForm:
    form = ObjectiveForm()
    ids = service.managed_agency_ids(current_user)
    agencies = db.session.scalars(sa.select(Agency).where(Agency.id.in_(ids)).order_by(Agency.code)).all()
    form.agency_id.choices = [(a.id, f"{a.code} — {a.name}") for a in agencies]
    departments = db.session.scalars(
        sa.select(Department).where(Department.agency_id.in_(ids), Department.active.is_(True))
        .order_by(Department.code)).all()
    form.department_id.choices = [(0, _("— Toàn cơ quan —"))] + [
        (d.id, f"{d.code} — {d.name}") for d in departments]
    form.indicator.choices = [(key, str(i.label)) for key, i in metrics.INDICATORS.items()]
    if request.method == "GET":
        form.agency_id.data = current_user.department.agency_id
        form.year.data = year
    return form


def _page(year: int, form: ObjectiveForm | None, error: str | None = None, status: int = 200):
    agency = current_user.department.agency
    return render_template("reviews/objectives.html", agency=agency, year=year, form=form,
                           items=service.measured(agency, year, clock.now()), error=error,
                           comparisons=COMPARISONS), status


@bp.get("/objectives")
@login_required
def objectives():
    access.require("objectives.view")
    year, error = _year()
    form = _form(year) if access.can("objectives.manage") else None
    return _page(year, form, error, 400 if error else 200)


@bp.post("/objectives")
@login_required
def objective_create():
    access.require("objectives.manage")
    year = localtime.date_of(clock.now()).year
    form = _form(year)
    if form.validate_on_submit():
        year = form.year.data
        created = act(lambda: service.create_objective(
            agency=db.session.get(Agency, form.agency_id.data),
            department=db.session.get(Department, form.department_id.data or 0),
            year=form.year.data, title=form.title.data, indicator=form.indicator.data,
            comparison=form.comparison.data, target=form.target.data,
            actor=current_user, now=clock.now()),
            lambda objective: _("Đã lập mục tiêu chất lượng: %(t)s.", t=objective.title), refusal=None)
        if not created:
            return _page(year, form, created.error.message, created.error.status_code)
        return redirect(url_for(".objectives", year=created.value.year))
    errors = [f"{field.label.text}: {message}" for field in form for message in field.errors]
    return _page(year, form, "; ".join(errors), 400)


@bp.post("/objectives/<int:objective_id>/retire")
@login_required
def objective_retire(objective_id: int):
    access.require("objectives.manage")
    objective = db.session.get(QualityObjective, objective_id)
    if objective is None:
        abort(404)
    act(lambda: service.retire_objective(objective, actor=current_user, now=clock.now()),
        _("Đã thôi áp dụng mục tiêu: %(t)s.", t=objective.title))
    return redirect(url_for(".objectives", year=objective.year))
