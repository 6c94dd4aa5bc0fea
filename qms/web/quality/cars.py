"""Corrective actions (CAR) pages: the list (with overdue flags and the form opening a CAR
from nonconformities), the CAR page — which is also the plain HTML view of the CAR report —
its forms (analysis, plan, item done, verification) and the PDF report. The rules are in
services.corrective_actions; each form shows only to whom may use it now."""
import io

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from qms import authz, clock
from qms.extensions import db
from qms.models import (
    CarStatus,
    CorrectiveAction,
    Department,
    NcStatus,
    Nonconformity,
    Severity,
    User,
)
from qms.reports.pdf import render_pdf
from qms.services import corrective_actions as cars
from qms.web import access
from qms.web.actions import act, flash_form_errors
from qms.web.quality import bp
from qms.web.quality.car_forms import (
    WHY_ROWS,
    AddForm,
    AnalysisForm,
    CompleteItemForm,
    OpenForm,
    PlanForm,
    VerifyForm,
)


def _car(car_code: str) -> CorrectiveAction:
    """The CAR, for whoever may read it: permission first, then the lookup, then the
    object rule (no hint to the unauthorised whether it exists)."""
    access.require("cars.view")
    car = db.session.scalar(sa.select(CorrectiveAction).where(CorrectiveAction.code == car_code))
    if car is None:
        abort(404)
    access.require("cars.view", car)
    return car


def _show(car: CorrectiveAction):
    return redirect(url_for(".car_show", car_code=car.code))


def _user(user_id) -> User | None:
    return db.session.get(User, user_id) if user_id else None


def _user_label(user: User) -> str:
    return f"{user.full_name} ({user.department.code})"


# --- the list -----------------------------------------------------------------------------------
@bp.get("/cars")
@login_required
def car_list():
    access.require("cars.view")
    now = clock.now()
    status_value = (request.args.get("status") or "").strip()
    department_id = request.args.get("department", type=int) or None
    status = None
    if status_value:
        try:
            status = CarStatus(status_value)
        except ValueError:
            flash(_("Trạng thái không hợp lệ: “%(v)s”.", v=status_value[:40]), "danger")
    rows = db.session.execute(cars.listing(current_user, now, status=status,
                                           department_id=department_id)).all()
    departments = db.session.scalars(sa.select(Department).where(Department.active.is_(True))
                                     .order_by(Department.code)).all()
    open_form, answerable, owners = None, [], []
    if access.can("cars.manage"):
        open_form = OpenForm()
        answerable = db.session.scalars(cars.answerable_nonconformities(
            current_user, department_id=department_id)).all()
        heads_of = department_id if access.can("cars.manage_any") else current_user.department_id
        owners = db.session.scalars(cars.possible_owners(heads_of)).all()
        if access.can("cars.own"):
            open_form.owner_id.data = current_user.id
    return render_template(
        "quality/car_list.html", rows=rows, statuses=list(CarStatus), labels=CarStatus.labels(),
        departments=departments, status=status, department_id=department_id, open_form=open_form,
        answerable=answerable, owners=owners, nc_labels=NcStatus.labels(),
        severity_labels=Severity.labels(), user_label=_user_label)


@bp.post("/cars")
@login_required
def car_open():
    access.require("cars.manage")
    form = OpenForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".car_list"))
    ids = form.nonconformity_ids.data or []
    ncs = db.session.scalars(sa.select(Nonconformity).where(Nonconformity.id.in_(ids))
                             .order_by(Nonconformity.id)).all() if ids else []
    if len(ncs) != len(set(ids)):
        abort(404)
    opened = act(lambda: cars.open_car(ncs, owner=_user(form.owner_id.data), actor=current_user, now=clock.now()),
                 lambda car: _("Đã lập phiếu hành động khắc phục %(c)s.", c=car.code))
    if not opened:
        return redirect(url_for(".car_list", department=ncs[0].department_id if ncs else None))
    return _show(opened.value)


# --- one CAR --------------------------------------------------------------------------------------
def _shown_measurement(car: CorrectiveAction, now) -> dict:
    """What the verifier sees now; once closed, the figures as they were when verified."""
    if car.status is CarStatus.closed and car.verifications:
        return car.verifications[-1].measurement or {"rows": []}
    return cars.measurement(car, now)


def _analysis_form(car: CorrectiveAction) -> AnalysisForm:
    form = AnalysisForm(prefix="analysis")
    if not form.is_submitted():
        form.correction.data = car.correction
        form.root_cause.data = car.root_cause
        whys = list(car.whys or [])
        while len(form.whys) < max(WHY_ROWS, len(whys)):
            form.whys.append_entry()
        for entry, why in zip(form.whys, whys, strict=False):
            entry.data = why
    return form


def _plan_form(car: CorrectiveAction) -> PlanForm:
    form = PlanForm(prefix="plan")
    staff = db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.full_name)).all()
    choices = [(0, "—")] + [(u.id, _user_label(u)) for u in staff]
    for entry in form.items:
        entry.form.owner_id.choices = choices
    verifiers = db.session.scalars(cars.possible_verifiers(car)).all()
    form.verifier_id.choices = [(0, "—")] + [(u.id, _user_label(u)) for u in verifiers]
    if not form.is_submitted() and car.verifier_id and car.verifier_id != car.owner_id:
        form.verifier_id.data = car.verifier_id
    return form


@bp.get("/cars/<car_code>")
@login_required
def car_show(car_code: str):
    car = _car(car_code)
    now = clock.now()
    actions = cars.available_actions(current_user, car)
    add_form = AddForm(prefix="add") if "add" in actions else None
    addable = (db.session.scalars(cars.answerable_nonconformities(
        current_user, department_id=car.department_id)).all() if add_form else [])
    item_forms = {item.position: CompleteItemForm(prefix=f"item{item.position}") for item in car.items
                  if item.done_at is None and "complete" in actions and access.can("cars.complete_item", item)}
    return render_template(
        "quality/car_show.html", car=car, actions=actions, labels=CarStatus.labels(),
        nc_labels=NcStatus.labels(), severity_labels=Severity.labels(),
        measurement=_shown_measurement(car, now), now=now,
        overdue={item.id for item in car.items if cars.is_item_overdue(item, now)},
        car_overdue=cars.is_overdue(car, now),
        add_form=add_form, addable=addable,
        analysis_form=_analysis_form(car) if "analysis" in actions else None,
        plan_form=_plan_form(car) if "plan" in actions else None,
        item_forms=item_forms, verify_form=VerifyForm(prefix="verify") if "verify" in actions else None)


@bp.post("/cars/<car_code>/nonconformities")
@login_required
def car_add(car_code: str):
    car = _car(car_code)
    form = AddForm(prefix="add")

    def add():
        ids = form.nonconformity_ids.data or []
        ncs = db.session.scalars(sa.select(Nonconformity).where(Nonconformity.id.in_(ids))).all() if ids else []
        if len(ncs) != len(set(ids)):
            abort(404)
        cars.add_nonconformities(car, ncs, actor=current_user, now=clock.now())

    act(add, _("Đã bổ sung sự không phù hợp vào phiếu."), form=form)
    return _show(car)


@bp.post("/cars/<car_code>/analysis")
@login_required
def car_analysis(car_code: str):
    car = _car(car_code)
    form = AnalysisForm(prefix="analysis")
    act(lambda: cars.write_analysis(
        car, correction=form.correction.data, whys=[entry.data or "" for entry in form.whys],
        root_cause=form.root_cause.data, actor=current_user, now=clock.now()),
        _("Đã lưu phân tích nguyên nhân."), form=form)
    return _show(car)


@bp.post("/cars/<car_code>/plan")
@login_required
def car_plan(car_code: str):
    car = _car(car_code)
    form = _plan_form(car)

    def plan():
        items = []
        for entry in form.items:
            row = entry.form
            if not ((row.description.data or "").strip() or row.owner_id.data or row.due_date.data):
                continue  # a blank row
            items.append((row.description.data, _user(row.owner_id.data), row.due_date.data))
        cars.plan(car, items=items, check_date=form.check_date.data, verifier=_user(form.verifier_id.data),
                  actor=current_user, now=clock.now())

    act(plan, _("Đã lập kế hoạch hành động khắc phục."), form=form)
    return _show(car)


@bp.post("/cars/<car_code>/items/<int:position>/done")
@login_required
def car_item_done(car_code: str, position: int):
    car = _car(car_code)
    item = next((i for i in car.items if i.position == position), None)
    if item is None:
        abort(404)
    form = CompleteItemForm(prefix=f"item{position}")
    act(lambda: cars.complete_item(item, evidence=form.evidence.data, actor=current_user, now=clock.now()),
        _("Đã ghi nhận hoàn thành hành động %(n)d.", n=position), form=form)
    return _show(car)


@bp.post("/cars/<car_code>/verify")
@login_required
def car_verify(car_code: str):
    car = _car(car_code)
    form = VerifyForm(prefix="verify")

    def verify():
        verification = cars.verify(car, effective=form.result.data == "effective", note=form.note.data,
                                   actor=current_user, now=clock.now())
        if not verification.effective:  # the message below says "closed" only when it is
            flash(_("Hành động khắc phục chưa hiệu quả: phiếu quay lại bước phân tích nguyên nhân."), "warning")

    done = _("Đã xác nhận hiệu lực; phiếu và các sự không phù hợp đã đóng.")
    if form.is_submitted() and form.result.data == "not_effective":
        done = _("Đã ghi nhận kết quả kiểm tra hiệu lực.")
    act(verify, done, form=form)
    return _show(car)


@bp.get("/cars/<car_code>/report.pdf")
@login_required
def car_report(car_code: str):
    """The CAR report (nonconformities, root cause, actions, measurement, verifications,
    signatures); the CAR page is its plain HTML view."""
    car = _car(car_code)
    now = clock.now()
    # The quality officer who opened it signs the report (whether active today or not).
    quality_officer = (car.created_by if car.created_by
                       and authz.grants(car.created_by.roles, "cars.manage_any") else None)
    data = render_pdf("pdf/car_report.html", car=car, measurement=_shown_measurement(car, now),
                      labels=CarStatus.labels(), nc_labels=NcStatus.labels(),
                      severity_labels=Severity.labels(), quality_officer=quality_officer, now=now)
    return send_file(io.BytesIO(data), mimetype="application/pdf",
                     download_name=f"phieu-khac-phuc-{car.code}.pdf")
