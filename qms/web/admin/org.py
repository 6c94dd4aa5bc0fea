import sqlalchemy as sa
from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from qms.extensions import db
from qms.models import Agency, AgencyLevel, Department, Field
from qms.services import org
from qms.web import access
from qms.web.actions import act
from qms.web.admin import bp
from qms.web.admin.forms import AgencyForm, DepartmentForm, FieldForm


# --- agencies ---------------------------------------------------------------------------
@bp.get("/agencies")
def agencies():
    access.require("org.view")
    return render_template("admin/agencies.html", tree=org.agency_tree(), level_labels=AgencyLevel.labels())


@bp.route("/agencies/new", methods=["GET", "POST"])
@bp.route("/agencies/<int:agency_id>", methods=["GET", "POST"])
def agency_form(agency_id: int | None = None):
    agency = db.get_or_404(Agency, agency_id) if agency_id else None
    if request.method == "POST" or agency is None:
        access.require("org.manage")
    else:
        access.require("org.view")
    form = AgencyForm(obj=agency, exclude_id=agency_id)
    if request.method == "GET" and agency is not None:
        form.level.data = agency.level.value
        form.parent_id.data = agency.parent_id or 0
        form.successor_id.data = agency.successor_id or 0
    if form.validate_on_submit():
        saved = act(lambda: org.save_agency(
            agency, actor=current_user, code=form.code.data, name=form.name.data,
            level=AgencyLevel(form.level.data),
            parent=db.session.get(Agency, form.parent_id.data) if form.parent_id.data else None,
            effective_from=form.effective_from.data, effective_to=form.effective_to.data,
            successor=db.session.get(Agency, form.successor_id.data) if form.successor_id.data else None),
            lambda record: _("Đã lưu cơ quan %(c)s.", c=record.code))
        if saved:
            return redirect(url_for(".agencies"))
    return render_template("admin/org_form.html", form=form, record=agency,
                           title=_("Cơ quan, đơn vị"), back=url_for(".agencies"))


# --- departments ------------------------------------------------------------------------
@bp.get("/departments")
def departments():
    access.require("org.view")
    query = sa.select(Department).join(Department.agency).order_by(Agency.code, Department.code)
    return render_template("admin/departments.html", departments=db.session.scalars(query).all())


@bp.route("/departments/new", methods=["GET", "POST"])
@bp.route("/departments/<int:department_id>", methods=["GET", "POST"])
def department_form(department_id: int | None = None):
    department = db.get_or_404(Department, department_id) if department_id else None
    if request.method == "POST" or department is None:
        access.require("org.manage")
    else:
        access.require("org.view")
    form = DepartmentForm(obj=department)
    if form.validate_on_submit():
        saved = act(lambda: org.save_department(
            department, actor=current_user, code=form.code.data, name=form.name.data,
            agency=db.get_or_404(Agency, form.agency_id.data),
            is_one_stop=form.is_one_stop.data, active=form.active.data),
            lambda record: _("Đã lưu phòng ban %(c)s.", c=record.code))
        if saved:
            return redirect(url_for(".departments"))
    return render_template("admin/org_form.html", form=form, record=department,
                           title=_("Phòng ban"), back=url_for(".departments"))


# --- fields -----------------------------------------------------------------------------
@bp.get("/fields")
def fields():
    access.require("org.view")
    return render_template("admin/fields.html",
                           fields=db.session.scalars(sa.select(Field).order_by(Field.code)).all())


@bp.route("/fields/new", methods=["GET", "POST"])
@bp.route("/fields/<int:field_id>", methods=["GET", "POST"])
def field_form(field_id: int | None = None):
    field = db.get_or_404(Field, field_id) if field_id else None
    if request.method == "POST" or field is None:
        access.require("org.manage")
    else:
        access.require("org.view")
    form = FieldForm(obj=field)
    if form.validate_on_submit():
        saved = act(lambda: org.save_field(field, actor=current_user, code=form.code.data,
                                           name=form.name.data, active=form.active.data),
                    lambda record: _("Đã lưu lĩnh vực %(c)s.", c=record.code))
        if saved:
            return redirect(url_for(".fields"))
    return render_template("admin/org_form.html", form=form, record=field,
                           title=_("Lĩnh vực"), back=url_for(".fields"))
