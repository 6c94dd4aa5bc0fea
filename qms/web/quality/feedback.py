"""Staff pages of citizens' feedback (phản ánh, kiến nghị; ISO 9001:2015 §9.1.2): the list
with overdue flags and this year's figures, and one feedback with its handling: assign to a
department (and an officer), answer, raise a nonconformity. Rules: services.feedback."""

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from qms import clock
from qms.extensions import db
from qms.localtime import date_of, start_of_day
from qms.models import (
    Department,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    SatisfactionLevel,
    Severity,
    User,
)
from qms.services import feedback as feedback_service
from qms.services import iso_clauses
from qms.web import access
from qms.web.actions import act
from qms.web.forms import Form
from qms.web.quality import bp


class AssignForm(Form):
    department_id = SelectField(_l("Phòng ban xử lý"), coerce=int,
                                validators=[DataRequired(message=_l("Hãy chọn phòng ban xử lý."))])
    assignee_id = SelectField(_l("Người xử lý"), coerce=int, validate_choice=False,
                              description=_l("Có thể để trống: trưởng phòng sẽ giao tiếp."))


class RespondForm(Form):
    response = TextAreaField(_l("Nội dung trả lời công dân"),
                             validators=[DataRequired(message=_l("Hãy nhập nội dung trả lời.")),
                                         Length(max=feedback_service.MAX_RESPONSE)])


class FeedbackNcForm(Form):
    department_id = SelectField(_l("Phòng ban có sự không phù hợp"), coerce=int,
                                validators=[DataRequired(message=_l("Hãy chọn phòng ban có sự không phù hợp."))])
    clause = SelectField(_l("Điều khoản ISO 9001:2015"), validate_choice=False)
    severity = SelectField(_l("Mức độ"), choices=Severity.choices(),
                           default=Severity.minor.value)
    description = TextAreaField(_l("Mô tả sự không phù hợp"),
                                validators=[DataRequired(message=_l("Hãy mô tả sự không phù hợp.")),
                                            Length(max=4000)])


def _departments(feedback: Feedback) -> list[Department]:
    return db.session.scalars(sa.select(Department).where(
        Department.agency_id == feedback.agency_id, Department.active.is_(True))
        .order_by(Department.code)).all()


def _forms(feedback: Feedback) -> tuple[AssignForm, RespondForm, FeedbackNcForm]:
    departments = _departments(feedback)
    assign_form = AssignForm(prefix="assign")
    assign_form.department_id.choices = [(d.id, f"{d.code} — {d.name}") for d in departments]
    staff = db.session.scalars(sa.select(User).join(Department, Department.id == User.department_id)
                               .where(Department.agency_id == feedback.agency_id, User.active.is_(True))
                               .order_by(Department.code, User.full_name)).all()
    assign_form.assignee_id.choices = [(0, "—")] + [
        (u.id, f"{u.department.code} — {u.full_name}") for u in staff]
    if request.method == "GET":
        assign_form.department_id.data = feedback.department_id
        assign_form.assignee_id.data = feedback.assignee_id or 0
    nc_form = FeedbackNcForm(prefix="nc")
    nc_form.department_id.choices = assign_form.department_id.choices
    nc_form.clause.choices = iso_clauses.choices(blank=str(_("— chọn điều khoản —")))
    if request.method == "GET":
        nc_form.department_id.data = feedback.department_id
        nc_form.clause.data = "8.5.1"
    return assign_form, RespondForm(prefix="respond"), nc_form


def _feedback(feedback_code: str) -> Feedback:
    """The feedback by its code: 403 without the permission (before looking), 404 if none,
    403 if the user does not handle it."""
    access.require("feedback.view")
    item = db.session.scalar(sa.select(Feedback).where(Feedback.code == feedback_code.strip().upper()))
    if item is None:
        abort(404)
    access.require("feedback.view", item)
    return item


@bp.get("/feedback")
@login_required
def feedback_list():
    access.require("feedback.view")
    now = clock.now()
    status = request.args.get("status") or None
    if status not in (None, *feedback_service.FILTER_STATUSES):
        flash(_("Trạng thái không hợp lệ: “%(v)s”.", v=status[:40]), "warning")
        status = None
    kind_value = request.args.get("kind") or None
    kind = next((k for k in FeedbackKind if k.value == kind_value), None)
    page = db.paginate(feedback_service.register(current_user, status=status, kind=kind, now=now),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    agency = current_user.department.agency
    year_start = start_of_day(date_of(now).replace(month=1, day=1))
    figures = satisfaction = None
    if access.can("feedback.read_all"):
        figures = feedback_service.figures(agency, since=year_start, until=now, now=now)
        satisfaction = feedback_service.satisfaction(agency, since=year_start, until=now)
    return render_template("quality/feedback_list.html", page=page, now=now, status=status,
                           kind=kind_value if kind else None, figures=figures,
                           satisfaction=satisfaction, agency=agency,
                           kind_labels=FeedbackKind.labels(),
                           status_labels=FeedbackStatus.labels(),
                           level_labels=SatisfactionLevel.labels(),
                           is_overdue=feedback_service.is_overdue,
                           answered_late=feedback_service.answered_late,
                           year=date_of(now).year,
                           args={k: v for k, v in request.args.items() if k != "page"})


@bp.get("/feedback/<feedback_code>")
@login_required
def feedback_show(feedback_code: str):
    item = _feedback(feedback_code)
    assign_form, respond_form, nc_form = _forms(item)
    answered = item.status is FeedbackStatus.answered
    return render_template(
        "quality/feedback_show.html", feedback=item, now=clock.now(),
        assign_form=assign_form, respond_form=respond_form, nc_form=nc_form,
        may_assign=not answered and access.can("feedback.assign", item),
        may_respond=not answered and access.can("feedback.respond", item),
        nonconformity=feedback_service.nonconformity_of(item),
        may_raise=access.can("nonconformities.raise"),
        kind_labels=FeedbackKind.labels(), status_labels=FeedbackStatus.labels(),
        is_overdue=feedback_service.is_overdue, answered_late=feedback_service.answered_late,
        clause_label=iso_clauses.label)



def _to_feedback(item: Feedback):
    return redirect(url_for(".feedback_show", feedback_code=item.code))


@bp.post("/feedback/<feedback_code>/assign")
@login_required
def feedback_assign(feedback_code: str):
    item = _feedback(feedback_code)
    form = _forms(item)[0]
    act(lambda: feedback_service.assign(
        item, department=db.session.get(Department, form.department_id.data or 0),
        assignee=db.session.get(User, form.assignee_id.data or 0), actor=current_user, now=clock.now()),
        _("Đã phân công xử lý."), form=form)
    return _to_feedback(item)


@bp.post("/feedback/<feedback_code>/respond")
@login_required
def feedback_respond(feedback_code: str):
    item = _feedback(feedback_code)
    form = _forms(item)[1]
    act(lambda: feedback_service.respond(item, response=form.response.data, actor=current_user, now=clock.now()),
        _("Đã ghi nhận nội dung trả lời."), form=form)
    return _to_feedback(item)


@bp.post("/feedback/<feedback_code>/nonconformity")
@login_required
def feedback_raise_nc(feedback_code: str):
    item = _feedback(feedback_code)
    form = _forms(item)[2]
    act(lambda: feedback_service.raise_nc(
        item, actor=current_user, department=db.session.get(Department, form.department_id.data or 0),
        clause=form.clause.data or "", severity=Severity(form.severity.data),
        description=form.description.data, now=clock.now()),
        _("Đã ghi nhận sự không phù hợp từ phản ánh."), form=form)
    return _to_feedback(item)
