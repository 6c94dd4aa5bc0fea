"""A dossier's pauses, delays and endings (Decree 118/2025/NĐ-CP; forms of Circular
03/2025/TT-VPCP): supplementation (Mẫu 02) and waiting for the financial obligation stop
the clock; an apology (Mẫu 04) promises a new date once; stopping (Mẫu 05) and withdrawal
end the dossier. The rules are in services.dossiers; the panel of the dossier page is
templates/dossiers/_events.html, fed by the `dossier_events_panel` template global below.

The apology's new date is picked as a day and means the close of that working day on the
agency's calendar (e.g. 17:00; services.dossiers.promised_time), not a fixed hour."""
import io

from flask import abort, current_app, flash, redirect, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm

from qms import authz, clock
from qms.errors import QmsError
from qms.extensions import db
from qms.models import Dossier, DossierEvent, EventKind, SupplementRule
from qms.reports.pdf import render_pdf
from qms.services import dossiers
from qms.web import flash_form_errors
from qms.web.dossiers import bp
from qms.web.dossiers.event_forms import FORMS, form_for
from qms.web.dossiers.views import _dossier

# Printable events: kind → (template, download name). Other kinds have no form of their own
# (the refusal at reception, Mẫu 03, is printed by reception.refusal_pdf).
PRINTABLE = {
    EventKind.supplement_requested: ("pdf/supplement_request.html", "phieu-yeu-cau-bo-sung"),
    EventKind.apology: ("pdf/apology.html", "phieu-xin-loi-hen-lai"),
    EventKind.stopped: ("pdf/stop_notice.html", "thong-bao-dung-xu-ly"),
}

RULE_LABELS = {
    SupplementRule.restart: _l("tính lại toàn bộ thời hạn từ khi nhận đủ hồ sơ"),
    SupplementRule.pause: _l("tiếp tục thời gian còn lại"),
}


def _when(moment) -> str:
    return current_app.jinja_env.filters["localtime"](moment)




def _act(code: str, action: str, perform, done) -> object:
    """The shape of every action: the dossier (404 / 403 as for reading it), the form, one
    service call, commit and a message, or roll back and show the service's refusal."""
    authz.require("dossiers.work")
    dossier = _dossier(code)
    form = form_for(action) if action in FORMS else FlaskForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return redirect(url_for(".show", code=dossier.code))
    try:
        event = perform(dossier, form, clock.now())
    except QmsError as error:
        db.session.rollback()
        flash(error.message, "danger")
    else:
        db.session.commit()
        flash(done(dossier, event), "success")
    return redirect(url_for(".show", code=dossier.code))


@bp.post("/<code>/supplement/request")
def request_supplement(code: str):
    return _act(code, "supplement_request",
                lambda d, f, now: dossiers.request_supplement(d, actor=current_user, reason=f.reason.data, now=now),
                lambda d, e: _("Đã yêu cầu bổ sung hồ sơ; thời gian giải quyết tạm dừng. In phiếu yêu cầu bổ sung (Mẫu 02) để gửi người nộp."))


@bp.post("/<code>/supplement/receive")
def receive_supplement(code: str):
    return _act(code, "supplement_receive",
                lambda d, f, now: dossiers.receive_supplement(d, actor=current_user, now=now),
                lambda d, e: _("Đã nhận hồ sơ bổ sung (%(rule)s); hạn trả kết quả mới: %(due)s.",
                               rule=RULE_LABELS[d.procedure_version.supplement_rule], due=_when(e.due_after)))


@bp.post("/<code>/payment/request")
def request_payment(code: str):
    return _act(code, "payment_request",
                lambda d, f, now: dossiers.request_payment(d, actor=current_user, reason=f.reason.data, now=now),
                lambda d, e: _("Hồ sơ chờ thực hiện nghĩa vụ tài chính; thời gian giải quyết tạm dừng."))


@bp.post("/<code>/payment/receive")
def receive_payment(code: str):
    return _act(code, "payment_receive",
                lambda d, f, now: dossiers.receive_payment(d, actor=current_user, now=now),
                lambda d, e: _("Đã ghi nhận nghĩa vụ tài chính (%(rule)s); hạn trả kết quả mới: %(due)s.",
                               rule=RULE_LABELS[SupplementRule.pause], due=_when(e.due_after)))


def _apologise(dossier: Dossier, form, now) -> DossierEvent:
    promised_at = dossiers.promised_time(dossier, form.promised_date.data)
    return dossiers.apologise(dossier, actor=current_user, reason=form.reason.data,
                              promised_at=promised_at, now=now)


@bp.post("/<code>/apology")
def apology(code: str):
    return _act(code, "apology", _apologise,
                lambda d, e: _("Đã lập phiếu xin lỗi và hẹn lại ngày trả kết quả: %(due)s.", due=_when(e.due_after)))


@bp.post("/<code>/stop")
def stop(code: str):
    return _act(code, "stop",
                lambda d, f, now: dossiers.stop_processing(d, actor=current_user, reason=f.reason.data, now=now),
                lambda d, e: _("Đã dừng xử lý hồ sơ. In thông báo dừng xử lý (Mẫu 05) để gửi người nộp."))


@bp.post("/<code>/withdraw")
def withdraw(code: str):
    return _act(code, "withdraw",
                lambda d, f, now: dossiers.withdraw(d, actor=current_user, reason=f.reason.data, now=now),
                lambda d, e: _("Đã ghi nhận việc công dân rút hồ sơ."))


@bp.get("/<code>/events/<int:event_id>.pdf")
def event_pdf(code: str, event_id: int):
    """Mẫu 02, 04 or 05 of the event, for whoever may read the dossier; other events 404."""
    authz.require("dossiers.work")
    dossier = _dossier(code)
    event = next((e for e in dossier.events if e.id == event_id), None)
    if event is None or event.kind not in PRINTABLE:
        abort(404)
    template, name = PRINTABLE[event.kind]
    data = render_pdf(template, dossier=dossier, event=event,
                      items=[line.strip() for line in event.reason.splitlines() if line.strip()],
                      restart=dossier.procedure_version.supplement_rule is SupplementRule.restart,
                      department=event.department or (event.by.department if event.by else dossier.department))
    return send_file(io.BytesIO(data), mimetype="application/pdf",
                     download_name=f"{name}-{dossier.code}.pdf")


@bp.app_template_global()
def dossier_events_panel(dossier: Dossier) -> dict:
    """What templates/dossiers/_events.html shows: the events, the actions the current user
    may take now (services.dossiers.available_actions, so no button leads to a refusal)
    and their forms."""
    actions = dossiers.available_actions(current_user, dossier, clock.now())
    pdf = {e.id: url_for("dossiers.event_pdf", code=dossier.code, event_id=e.id)
           for e in dossier.events if e.kind in PRINTABLE}
    if "dossiers.refusal_pdf" in current_app.view_functions:
        pdf.update({e.id: url_for("dossiers.refusal_pdf", code=dossier.code)
                    for e in dossier.events if e.kind is EventKind.not_accepted})
    rule = dossier.procedure_version.supplement_rule
    return {
        "actions": actions,
        "forms": {action: form_for(action) for action in actions if action in FORMS},
        "events": list(reversed(dossier.events)),  # the latest first
        "labels": EventKind.labels(),
        "pdf": pdf,
        "rule": RULE_LABELS[rule],
        "resumed_by": {EventKind.supplement_received: RULE_LABELS[rule],
                       EventKind.payment_received: RULE_LABELS[SupplementRule.pause]},
        "supplements": dossier.count(EventKind.supplement_requested),
        "supplement_max": dossier.procedure_version.supplement_max,
    }
