"""The working calendar of each agency: its hours and the days its province decided."""
from datetime import date

import holidays
import sqlalchemy as sa
from flask import redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from qms import clock
from qms.extensions import db
from qms.localtime import date_of
from qms.models import Agency, CalendarOverride, DayKind
from qms.services import calendars
from qms.web import access
from qms.web.actions import act
from qms.web.admin import bp
from qms.web.admin.forms import ActivationForm, OverrideForm, WorkingHoursForm


@bp.get("/calendar")
def calendar():
    access.require("org.view")
    agencies = db.session.scalars(sa.select(Agency).where(Agency.effective_to.is_(None))
                                  .order_by(Agency.code)).all()
    agency = db.session.get(Agency, request.args.get("agency", type=int) or 0) or \
        (agencies[0] if agencies else None)
    year = request.args.get("year", type=int) or date_of(clock.now()).year
    if agency is None:
        return render_template("admin/calendar.html", agency=None, agencies=[], year=year)
    overrides = db.session.scalars(sa.select(CalendarOverride).where(
        CalendarOverride.agency_id == agency.id,
        CalendarOverride.day.between(date(year, 1, 1), date(year, 12, 31)))
        .order_by(CalendarOverride.day)).all()
    work = calendars.calendar_for(agency)
    # The package's names in the page's language (its Vietnamese ones by default; without
    # `language` it gives its English source names).
    language = "en_US" if str(get_locale()) == "en" else "vi"
    national = sorted(holidays.VN(years=year, language=language).items())
    return render_template(
        "admin/calendar.html", agency=agency, agencies=agencies, year=year, overrides=overrides,
        national=national, hours=calendars.working_hours_of(agency), work=work,
        hours_form=WorkingHoursForm(working_hours=agency.working_hours or ""),
        override_form=OverrideForm(), deactivate_form=ActivationForm())


@bp.post("/calendar/<int:agency_id>/hours")
def calendar_hours(agency_id: int):
    access.require("calendar.manage")
    agency = db.get_or_404(Agency, agency_id)
    form = WorkingHoursForm()
    if form.validate_on_submit():  # an invalid value is ignored without a message, as it always was
        act(lambda: calendars.set_working_hours(agency, form.working_hours.data, actor=current_user),
            _("Đã lưu giờ làm việc của %(a)s.", a=agency.name))
    return redirect(url_for(".calendar", agency=agency_id))


@bp.post("/calendar/<int:agency_id>/overrides")
def calendar_override_add(agency_id: int):
    access.require("calendar.manage")
    agency = db.get_or_404(Agency, agency_id)
    form = OverrideForm()
    act(lambda: calendars.add_override(agency, day=form.day.data, kind=DayKind(form.kind.data),
                                       reason=form.reason.data, actor=current_user),
        lambda _override: _("Đã thêm ngày %(d)s.", d=form.day.data.strftime("%d/%m/%Y")),
        form=form, field_names=False)
    return redirect(url_for(".calendar", agency=agency_id,
                            year=form.day.data.year if form.day.data else None))


@bp.post("/calendar/overrides/<int:override_id>/deactivate")
def calendar_override_deactivate(override_id: int):
    access.require("calendar.manage")
    override = db.get_or_404(CalendarOverride, override_id)
    act(lambda: calendars.deactivate_override(override, actor=current_user),
        _("Đã bỏ quyết định ngày %(d)s.", d=override.day.strftime("%d/%m/%Y")), form=ActivationForm())
    return redirect(url_for(".calendar", agency=override.agency_id, year=override.day.year))
