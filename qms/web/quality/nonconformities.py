"""The nonconformity register (sổ theo dõi sự không phù hợp): the filtered list, raising one
by hand, a nonconformity's page with its origin and history, and its rejection."""
from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy.orm import selectinload
from werkzeug.routing import BuildError
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from qms import clock
from qms.errors import QmsError, ValidationError
from qms.extensions import db
from qms.localtime import start_of_day
from qms.models import Department, Dossier, NcSource, NcStatus, Nonconformity, Severity
from qms.services import corrective_actions as cars
from qms.services import iso_clauses, nonconformities
from qms.text import parse_choice, parse_date
from qms.web import access
from qms.web.actions import act
from qms.web.forms import Form
from qms.web.quality import bp
from qms.web.quality.car_forms import OpenForm

PER_PAGE = 50
_CLAUSE = re.compile(r"^\d{1,2}(\.\d{1,2}){0,3}$")


# --- forms ------------------------------------------------------------------------------------
class RaiseForm(Form):
    department_id = SelectField(_l("Phòng ban có sự không phù hợp"), coerce=int,
                                validators=[DataRequired(_l("Hãy chọn phòng ban."))])
    clause = SelectField(_l("Điều khoản ISO 9001:2015"),
                         validators=[DataRequired(_l("Hãy chọn điều khoản ISO 9001:2015."))])
    severity = SelectField(_l("Mức độ"), default=Severity.minor.value,
                           choices=Severity.choices())
    description = TextAreaField(_l("Mô tả sự không phù hợp"),
                                validators=[DataRequired(_l("Hãy mô tả sự không phù hợp.")),
                                            Length(max=4000)])
    correction = TextAreaField(_l("Khắc phục tức thời"), validators=[Optional(), Length(max=4000)],
                               description=_l("Việc đã làm ngay để xử lý hậu quả (nếu có)."))
    dossier_code = StringField(_l("Mã hồ sơ liên quan"), validators=[Optional(), Length(max=48)],
                               description=_l("Không bắt buộc. Ví dụ: TP-A-261120-0001"))


class RejectForm(Form):
    reason = TextAreaField(_l("Lý do không chấp nhận"),
                           validators=[DataRequired(_l("Hãy ghi lý do không chấp nhận.")),
                                       Length(max=2000)])


# --- helpers ----------------------------------------------------------------------------------
def _nc(code: str) -> Nonconformity:
    nc = db.session.scalar(sa.select(Nonconformity).where(Nonconformity.code == code))
    if nc is None:
        abort(404)
    access.require("nonconformities.view", nc)
    return nc


def _url(endpoint: str, **values) -> str | None:
    """The page of a record in another area, or None (then the record is named without a
    link) should that page move or not exist in this build."""
    try:
        return url_for(endpoint, **values)
    except BuildError:
        return None


def origin_links(nc: Nonconformity) -> list[tuple[str, str | None]]:
    """(text, url or None) for each record the nonconformity comes from."""
    links = []
    if nc.dossier is not None:
        text = nc.dossier.code
        if nc.dossier_step is not None:
            text = _("%(c)s, bước %(p)d: %(n)s", c=nc.dossier.code, p=nc.dossier_step.position,
                     n=nc.dossier_step.name)
        links.append((text, url_for("dossiers.show", code=nc.dossier.code)))
    if nc.audit_id is not None:
        links.append((_("Cuộc đánh giá %(c)s", c=nc.audit.code), _url("audits.show", audit_id=nc.audit_id)))
    if nc.feedback_id is not None:
        links.append((_("Phản ánh, kiến nghị %(c)s", c=nc.feedback.code),
                      _url("quality.feedback_show", feedback_code=nc.feedback.code)))
    if nc.review_id is not None:
        links.append((nc.review.title, _url("reviews.management_show", review_id=nc.review_id)))
    return links


def car_link(nc: Nonconformity) -> tuple[str, str | None] | None:
    car = nc.corrective_action
    return (car.code, _url("quality.car_show", car_code=car.code)) if car is not None else None


def _filters(args) -> dict:
    """The register's filters from the query string; a value that cannot be read is a
    ValidationError naming it (never a silently wider list)."""
    department = (args.get("department") or "").strip()
    if department and not (department.isdigit() and len(department) <= 9):
        raise ValidationError(_("%(label)s không hợp lệ: “%(value)s”.", label=_("Phòng ban"),
                                value=department[:40]))
    clause = (args.get("clause") or "").strip()
    if clause and not _CLAUSE.match(clause):
        raise ValidationError(_("%(label)s không hợp lệ: “%(value)s”.", label=_("Điều khoản"),
                                value=clause[:40]))
    since = parse_date(args.get("from", ""), _("Phát hiện từ ngày"))
    until = parse_date(args.get("to", ""), _("Phát hiện đến ngày"))
    if since and until and since > until:
        raise ValidationError(_("Ngày bắt đầu phải trước hoặc bằng ngày kết thúc."))
    return {"department_id": int(department) if department else None,
            "status": parse_choice(NcStatus, args.get("status", ""), _("Trạng thái")),
            "source": parse_choice(NcSource, args.get("source", ""), _("Nguồn")),
            "clause": clause,
            # local dates → UTC bounds: from its first instant to the end of the last day
            "since": start_of_day(since) if since else None,
            "until": start_of_day(until + timedelta(days=1)) if until else None}


def _departments() -> list[Department]:
    return db.session.scalars(sa.select(Department).where(Department.active.is_(True))
                              .order_by(Department.code)).all()


# --- pages ------------------------------------------------------------------------------------
@bp.get("/nonconformities")
@login_required
def nc_register():
    access.require("nonconformities.view")
    args = {key: value for key, value in request.args.items()
            if key in ("department", "status", "source", "clause", "from", "to") and value}
    page, error = None, None
    try:
        filters = _filters(request.args)
    except QmsError as problem:
        error = problem.message
    else:
        query = nonconformities.visible_to(current_user, nonconformities.register(**filters))
        query = query.options(  # what a row shows, a few queries per page, never one per row
            selectinload(Nonconformity.department), selectinload(Nonconformity.dossier),
            selectinload(Nonconformity.dossier_step), selectinload(Nonconformity.audit),
            selectinload(Nonconformity.feedback), selectinload(Nonconformity.review),
            selectinload(Nonconformity.corrective_action))
        page = db.paginate(query, per_page=PER_PAGE, error_out=False)
    reads_all = access.can("nonconformities.read_all")
    return render_template(
        "quality/nc_register.html", page=page, error=error, args=args, values=request.args,
        departments=_departments() if reads_all else [current_user.department],
        statuses=NcStatus.labels(), sources=NcSource.labels(), severities=Severity.labels(),
        clauses=iso_clauses.choices(), clause_label=iso_clauses.label,
        origin_links=origin_links, car_link=car_link), 400 if error else 200


@bp.route("/nonconformities/new", methods=["GET", "POST"])
@login_required
def nc_new():
    access.require("nonconformities.raise")
    form = RaiseForm()
    departments = _departments()
    form.department_id.choices = [(0, "—")] + [(d.id, f"{d.code} — {d.name}") for d in departments]
    form.clause.choices = iso_clauses.choices(blank="—")
    if request.method == "GET":
        form.department_id.data = current_user.department_id
    valid = form.validate_on_submit()
    if valid:
        dossier = None
        code = (form.dossier_code.data or "").strip().upper()
        if code:
            dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == code))
            if dossier is None:
                form.dossier_code.errors.append(_("Không có hồ sơ mã “%(c)s”.", c=code[:48]))
                valid = False
        if valid:
            raised = act(lambda: nonconformities.raise_nonconformity(
                actor=current_user, department=db.session.get(Department, form.department_id.data),
                description=form.description.data, severity=Severity(form.severity.data),
                now=clock.now(), clause=form.clause.data, correction=form.correction.data or "",
                dossier=dossier, procedure=dossier.procedure if dossier else None),
                lambda nc: _("Đã ghi nhận sự không phù hợp %(c)s.", c=nc.code))
            if raised:
                return redirect(url_for(".nc_show", nc_code=raised.value.code))
    invalid = request.method == "POST" and not valid
    return render_template("quality/nc_form.html", form=form), 400 if invalid else 200


@bp.get("/nonconformities/<nc_code>")
@login_required
def nc_show(nc_code: str):
    access.require("nonconformities.view")
    nc = _nc(nc_code)
    sources, _target = nonconformities.TRANSITIONS["reject"]
    may_reject = access.can("nonconformities.manage") and nc.status in sources
    # Opening a CAR for it here, when the user may answer it (the CAR list's rule).
    open_form, owners = None, []
    if access.can("cars.manage") and db.session.scalar(
            cars.answerable_nonconformities(current_user).where(Nonconformity.id == nc.id)) is not None:
        open_form = OpenForm()
        owners = db.session.scalars(cars.possible_owners(nc.department_id)).all()
        if access.can("cars.own") and current_user.department_id == nc.department_id:
            open_form.owner_id.data = current_user.id
    return render_template(
        "quality/nc_show.html", nc=nc, history=nonconformities.status_history(nc),
        clause=iso_clauses.get(nc.clause), origins=origin_links(nc), car=car_link(nc),
        reject_form=RejectForm() if may_reject else None, statuses=NcStatus.labels(),
        sources=NcSource.labels(), severities=Severity.labels(), open_form=open_form, owners=owners)


@bp.post("/nonconformities/<nc_code>/reject")
@login_required
def nc_reject(nc_code: str):
    access.require("nonconformities.manage")
    nc = _nc(nc_code)
    form = RejectForm()
    act(lambda: nonconformities.transition(nc, "reject", actor=current_user, now=clock.now(),
                                           reason=form.reason.data),
        _("Đã không chấp nhận sự không phù hợp %(c)s.", c=nc.code), form=form, field_names=False)
    return redirect(url_for(".nc_show", nc_code=nc.code))
