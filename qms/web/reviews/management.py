"""Pages of the management review (ISO 9001:2015 §9.3): the list, a new review, and one
review with its inputs gathered from the records (shown as tables), the leaders'
conclusions, the decided actions and the nonconformities it raised. Rules:
services.management_reviews."""
from datetime import datetime

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from qms import authz, clock, localtime
from qms.extensions import db
from qms.models import (
    AuditStatus,
    CarStatus,
    Department,
    FindingKind,
    ManagementReview,
    NcSource,
    NcStatus,
    ReviewAction,
    SatisfactionLevel,
    Severity,
    Timeliness,
    User,
)
from qms.services import iso_clauses
from qms.services import management_reviews as reviews
from qms.web import access
from qms.web.actions import act
from qms.web.forms import Form
from qms.web.reviews import bp


def _labels() -> dict:
    """Labels of the enum values stored in the inputs (JSON keeps the values)."""
    return {"audit_status": AuditStatus.value_labels(), "finding": FindingKind.value_labels(),
            "nc_status": NcStatus.value_labels(), "nc_source": NcSource.value_labels(),
            "timeliness": Timeliness.value_labels(),
            "car_status": CarStatus.value_labels(),
            "level": SatisfactionLevel.value_labels(),
            "levels": [lv.value for lv in SatisfactionLevel]}


class ReviewForm(Form):
    title = StringField(_l("Tên cuộc họp"), validators=[DataRequired(message=_l("Hãy nhập tên cuộc họp.")),
                                                      Length(max=reviews.MAX_TITLE)])
    held_on = DateField(_l("Ngày họp"), validators=[DataRequired(message=_l("Hãy chọn ngày họp."))])
    period_start = DateField(_l("Kỳ xem xét từ ngày"),
                             validators=[DataRequired(message=_l("Hãy chọn ngày bắt đầu kỳ xem xét."))])
    period_end = DateField(_l("Đến ngày"), validators=[DataRequired(message=_l("Hãy chọn ngày kết thúc kỳ xem xét."))])
    chair_id = SelectField(_l("Chủ trì"), coerce=int, validate_choice=False)
    attendees = TextAreaField(_l("Thành phần tham dự"), validators=[Optional(), Length(max=reviews.MAX_TEXT)])


class ConclusionsForm(Form):
    conclusions = TextAreaField(_l("Kết luận của lãnh đạo"),
                                description=_l("Cơ hội cải tiến, nhu cầu thay đổi hệ thống, nguồn lực (ISO 9001:2015 §9.3.3)."),
                                validators=[Optional(), Length(max=reviews.MAX_TEXT)])
    risks = TextAreaField(_l("Rủi ro và cơ hội đang mở"), validators=[Optional(), Length(max=reviews.MAX_TEXT)])
    attendees = TextAreaField(_l("Thành phần tham dự"), validators=[Optional(), Length(max=reviews.MAX_TEXT)])


class ActionForm(Form):
    description = TextAreaField(_l("Nội dung hành động"),
                                validators=[DataRequired(message=_l("Hãy nhập nội dung hành động.")), Length(max=4000)])
    owner_id = SelectField(_l("Người chịu trách nhiệm"), coerce=int, validate_choice=False,
                           validators=[DataRequired(message=_l("Hãy chọn người chịu trách nhiệm."))])
    due_date = DateField(_l("Thời hạn"), validators=[DataRequired(message=_l("Hãy chọn thời hạn hoàn thành."))])


class ReviewNcForm(Form):
    department_id = SelectField(_l("Phòng ban có sự không phù hợp"), coerce=int,
                                validators=[DataRequired(message=_l("Hãy chọn phòng ban có sự không phù hợp."))])
    clause = SelectField(_l("Điều khoản ISO 9001:2015"), validate_choice=False)
    severity = SelectField(_l("Mức độ"), choices=Severity.choices(),
                           default=Severity.minor.value)
    description = TextAreaField(_l("Mô tả sự không phù hợp"),
                                validators=[DataRequired(message=_l("Hãy mô tả sự không phù hợp.")), Length(max=4000)])


def _staff(agency_id: int) -> list[User]:
    return db.session.scalars(sa.select(User).join(Department, Department.id == User.department_id)
                              .where(Department.agency_id == agency_id, User.active.is_(True))
                              .order_by(Department.code, User.full_name)).all()


def _review(review_id: int) -> ManagementReview:
    """403 without the permission (before looking), 404 if none, 403 if not the user's."""
    access.require("reviews.view")
    review = db.session.get(ManagementReview, review_id)
    if review is None:
        abort(404)
    access.require("reviews.view", review)
    return review


def _forms(review: ManagementReview) -> dict:
    conclusions = ConclusionsForm(prefix="conclusions")
    if request.method == "GET":
        conclusions.conclusions.data = review.conclusions
        conclusions.risks.data = review.risks
        conclusions.attendees.data = review.attendees
    action = ActionForm(prefix="action")
    action.owner_id.choices = [(0, "—")] + [(u.id, f"{u.department.code} — {u.full_name}")
                                            for u in _staff(review.agency_id)]
    nc = ReviewNcForm(prefix="nc")
    nc.department_id.choices = [(d.id, f"{d.code} — {d.name}") for d in db.session.scalars(
        sa.select(Department).where(Department.agency_id == review.agency_id, Department.active.is_(True))
        .order_by(Department.code))]
    nc.clause.choices = iso_clauses.choices(blank=str(_("— chọn điều khoản —")))
    if request.method == "GET":
        nc.clause.data = "9.3"
    return {"conclusions": conclusions, "action": action, "nc": nc}


@bp.get("/management")
@login_required
def management_list():
    access.require("reviews.view")
    items = db.session.scalars(reviews.reviews_for(current_user)).all()
    return render_template("reviews/management_list.html", reviews=items,
                           may_create=access.can("reviews.manage"))


@bp.route("/management/new", methods=["GET", "POST"])
@login_required
def management_new():
    access.require("reviews.manage")
    agency = current_user.department.agency
    form = ReviewForm()
    leaders = [u for u in _staff(agency.id) if authz.grants(u.roles, "reviews.chair")]
    form.chair_id.choices = [(0, "—")] + [(u.id, u.full_name) for u in leaders]
    if request.method == "GET":
        today = localtime.date_of(clock.now())
        form.held_on.data = today
        form.period_start.data = today.replace(month=1, day=1)
        form.period_end.data = today
        form.title.data = _("Xem xét của lãnh đạo năm %(y)s", y=today.year)
    if form.validate_on_submit():
        chair = db.session.get(User, form.chair_id.data or 0)
        created = act(lambda: reviews.create_review(
            agency=agency, held_on=form.held_on.data, title=form.title.data,
            period_start=form.period_start.data, period_end=form.period_end.data,
            chair=chair if chair in leaders else None, attendees=form.attendees.data or "",
            actor=current_user, now=clock.now()),
            _("Đã lập biên bản xem xét của lãnh đạo; số liệu đầu vào đã được tổng hợp."))
        if created:
            return redirect(url_for(".management_show", review_id=created.value.id))
    return render_template("reviews/management_form.html", form=form, agency=agency)


@bp.get("/management/<int:review_id>")
@login_required
def management_show(review_id: int):
    review = _review(review_id)
    now = clock.now()
    gathered = (review.inputs or {}).get("gathered_at")
    return render_template(
        "reviews/management_show.html", review=review, inputs=review.inputs or {}, forms=_forms(review),
        may_manage=access.can("reviews.manage", review) and review.closed_at is None,
        nonconformities=reviews.nonconformities_of(review), labels=_labels(), now=now,
        is_action_overdue=reviews.is_action_overdue, clause_label=iso_clauses.label,
        gathered_at=datetime.fromisoformat(gathered) if gathered else None)



def _review_and_form(review_id: int, form_name: str | None) -> tuple[ManagementReview, Form]:
    """The review (404 / 403 as for reading it) and the form an action posts."""
    review = _review(review_id)
    return review, (_forms(review)[form_name] if form_name else Form())


def _to_review(review: ManagementReview):
    return redirect(url_for(".management_show", review_id=review.id))


@bp.post("/management/<int:review_id>/refresh")
@login_required
def management_refresh(review_id: int):
    review, form = _review_and_form(review_id, None)
    act(lambda: reviews.refresh_inputs(review, actor=current_user, now=clock.now()),
        _("Đã tổng hợp lại số liệu đầu vào."), form=form)
    return _to_review(review)


@bp.post("/management/<int:review_id>/conclusions")
@login_required
def management_conclusions(review_id: int):
    review, form = _review_and_form(review_id, "conclusions")
    act(lambda: reviews.record_conclusions(
        review, conclusions=form.conclusions.data, risks=form.risks.data, attendees=form.attendees.data,
        actor=current_user, now=clock.now()), _("Đã lưu kết luận."), form=form)
    return _to_review(review)


@bp.post("/management/<int:review_id>/actions")
@login_required
def management_add_action(review_id: int):
    review, form = _review_and_form(review_id, "action")
    act(lambda: reviews.add_action(
        review, description=form.description.data, owner=db.session.get(User, form.owner_id.data or 0),
        due_date=form.due_date.data, actor=current_user, now=clock.now()), _("Đã thêm hành động."), form=form)
    return _to_review(review)


@bp.post("/management/<int:review_id>/actions/<int:action_id>/done")
@login_required
def management_action_done(review_id: int, action_id: int):
    review, form = _review_and_form(review_id, None)

    def mark_done():
        action = db.session.get(ReviewAction, action_id)
        if action is None or action.review_id != review.id:
            abort(404)
        reviews.mark_action_done(action, actor=current_user, now=clock.now())

    act(mark_done, _("Đã ghi nhận hành động hoàn thành."), form=form)
    return _to_review(review)


@bp.post("/management/<int:review_id>/close")
@login_required
def management_close(review_id: int):
    review, form = _review_and_form(review_id, None)
    act(lambda: reviews.close(review, actor=current_user, now=clock.now()),
        _("Đã kết thúc cuộc xem xét; biên bản được khóa."), form=form)
    return _to_review(review)


@bp.post("/management/<int:review_id>/nonconformity")
@login_required
def management_raise_nc(review_id: int):
    review, form = _review_and_form(review_id, "nc")
    act(lambda: reviews.raise_nc(
        review, actor=current_user, department=db.session.get(Department, form.department_id.data or 0),
        clause=form.clause.data or "", severity=Severity(form.severity.data),
        description=form.description.data, now=clock.now()), _("Đã ghi nhận sự không phù hợp."), form=form)
    return _to_review(review)
