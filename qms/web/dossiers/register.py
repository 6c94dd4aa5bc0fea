"""The dossier register (sổ theo dõi hồ sơ, Mẫu 07 of Circular 03/2025/TT-VPCP): a
filterable list and its spreadsheet export."""
from flask import render_template, request, send_file
from flask_babel import gettext as _
from flask_login import current_user

from qms import clock
from qms.errors import QmsError
from qms.extensions import db
from qms.models import Channel, DossierStatus, Timeliness
from qms.reports.register_xlsx import register_workbook
from qms.services import register as register_service
from qms.web import access
from qms.web.dossiers import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _timeliness_labels() -> dict[str, str]:
    return {**Timeliness.value_labels(), "in_progress": _("Đang giải quyết trong hạn"),
            "overdue": _("Đang giải quyết quá hạn"), "paused": _("Tạm dừng")}


def _filters():
    """(filters, error message): a filter that cannot be read shows its message and no rows,
    never a silently wider register."""
    try:
        return register_service.parse_filters(request.args), None
    except QmsError as error:
        return None, error.message


@bp.get("/register")
def register():
    access.require("dossiers.work")
    filters, error = _filters()
    page, now = None, clock.now()
    if filters is not None:
        page = db.paginate(register_service.register_query(current_user, filters, now),
                           per_page=register_service.PER_PAGE, error_out=False)
    return render_template(
        "dossiers/register.html", page=page, total=page.total if page else None, error=error,
        args=(filters.args() if filters else {}), values=request.args,
        statuses=list(DossierStatus), channel_labels=Channel.value_labels(),
        timeliness_labels=_timeliness_labels(),
        timeliness_of=lambda dossier: register_service.timeliness_of(dossier, now),
        note_of=register_service.note_of,
        agency=current_user.department.agency), 400 if error else 200


@bp.get("/register.xlsx")
def register_xlsx():
    """Every matching row, up to MAX_EXPORT_ROWS (the cut is noted in the file)."""
    access.require("dossiers.work")
    filters, error = _filters()
    if error:
        return register()  # the page with the message, not a broken file
    limit = register_service.MAX_EXPORT_ROWS
    agency, now = current_user.department.agency, clock.now()
    data = register_workbook(
        # one row more than the limit tells whether the export was cut short
        register_service.export_rows(current_user, filters, limit=limit + 1, now=now),
        agency=agency, now=now, limit=limit, channel_labels=Channel.value_labels(),
        timeliness_labels=_timeliness_labels())
    # streamed from the temporary file, in blocks (Werkzeug's file wrapper closes it)
    return send_file(data, as_attachment=True, mimetype=XLSX,
                     download_name=f"so-theo-doi-ho-so-{agency.code}.xlsx")
