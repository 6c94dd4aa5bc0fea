"""A dossier's pauses, delays and endings (Decree 118/2025/NĐ-CP; forms of Circular
03/2025/TT-VPCP): supplementation (Mẫu 02) and waiting for the financial obligation stop
the clock; an apology (Mẫu 04) promises a new date once; stopping (Mẫu 05) and withdrawal
end the dossier. The rules are in services.dossiers; the panel of the dossier page is
templates/dossiers/_events.html, fed by the `dossier_events_panel` template global below.

The apology's new date is picked as a day and means the close of that working day on the
agency's calendar (e.g. 17:00; services.dossiers.promised_time), not a fixed hour."""
import io

from flask import abort, current_app, redirect, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from qms import clock
from qms.models import Dossier, DossierEvent, EventKind, PauseKind, ResultDelivery, SupplementRule
from qms.reports.pdf import render_pdf
from qms.services import dossiers
from qms.web import access
from qms.web.actions import act
from qms.web.dossiers import bp
from qms.web.dossiers.event_forms import FORMS, form_for
from qms.web.dossiers.views import _dossier
from qms.web.forms import Form

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



def _dossier_and_form(code: str, action: str) -> tuple[Dossier, Form]:
    """The dossier (404 / 403 as for reading it) and the form of `action`."""
    access.require("dossiers.work")
    dossier = _dossier(code)
    return dossier, (form_for(action) if action in FORMS else Form())


def _to_dossier(dossier: Dossier):
    return redirect(url_for(".show", code=dossier.code))


@bp.post("/<code>/supplement/request")
def request_supplement(code: str):
    dossier, form = _dossier_and_form(code, "supplement_request")
    act(lambda: dossiers.request_supplement(dossier, actor=current_user, reason=form.reason.data, now=clock.now()),
        _("Đã yêu cầu bổ sung hồ sơ; thời gian giải quyết tạm dừng. In phiếu yêu cầu bổ sung (Mẫu 02) để gửi người nộp."),
        form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/supplement/receive")
def receive_supplement(code: str):
    dossier, form = _dossier_and_form(code, "supplement_receive")
    act(lambda: dossiers.receive_supplement(dossier, actor=current_user, now=clock.now()),
        lambda event: _("Đã nhận hồ sơ bổ sung (%(rule)s); hạn trả kết quả mới: %(due)s.",
                        rule=RULE_LABELS[dossier.procedure_version.supplement_rule], due=_when(event.due_after)),
        form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/payment/request")
def request_payment(code: str):
    dossier, form = _dossier_and_form(code, "payment_request")
    act(lambda: dossiers.request_payment(dossier, actor=current_user, reason=form.reason.data, now=clock.now()),
        _("Hồ sơ chờ thực hiện nghĩa vụ tài chính; thời gian giải quyết tạm dừng."), form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/payment/receive")
def receive_payment(code: str):
    dossier, form = _dossier_and_form(code, "payment_receive")
    act(lambda: dossiers.receive_payment(dossier, actor=current_user, now=clock.now()),
        lambda event: _("Đã ghi nhận nghĩa vụ tài chính (%(rule)s); hạn trả kết quả mới: %(due)s.",
                        rule=RULE_LABELS[SupplementRule.pause], due=_when(event.due_after)),
        form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/apology")
def apology(code: str):
    dossier, form = _dossier_and_form(code, "apology")

    def apologise() -> DossierEvent:
        promised_at = dossiers.promised_time(dossier, form.promised_date.data)
        return dossiers.apologise(dossier, actor=current_user, reason=form.reason.data,
                                  promised_at=promised_at, now=clock.now())

    act(apologise, lambda event: _("Đã lập phiếu xin lỗi và hẹn lại ngày trả kết quả: %(due)s.",
                                   due=_when(event.due_after)), form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/stop")
def stop(code: str):
    dossier, form = _dossier_and_form(code, "stop")
    act(lambda: dossiers.stop_processing(dossier, actor=current_user, reason=form.reason.data, now=clock.now()),
        _("Đã dừng xử lý hồ sơ. In thông báo dừng xử lý (Mẫu 05) để gửi người nộp."), form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/withdraw")
def withdraw(code: str):
    dossier, form = _dossier_and_form(code, "withdraw")
    act(lambda: dossiers.withdraw(dossier, actor=current_user, reason=form.reason.data, now=clock.now()),
        _("Đã ghi nhận việc công dân rút hồ sơ."), form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/pause/start")
def start_pause(code: str):
    dossier, form = _dossier_and_form(code, "pause_start")
    form.kind.choices = pause_choices(dossier)
    act(lambda: dossiers.start_pause(dossier, actor=current_user, kind=PauseKind(form.kind.data),
                                     reason=form.reason.data, now=clock.now()),
        _("Đã tạm dừng tính thời gian giải quyết hồ sơ."), form=form)
    return _to_dossier(dossier)


@bp.post("/<code>/pause/end")
def end_pause(code: str):
    dossier, form = _dossier_and_form(code, "pause_end")
    act(lambda: dossiers.end_pause(dossier, actor=current_user, now=clock.now()),
        lambda event: _("Đã tiếp tục tính thời gian; hạn trả kết quả mới: %(due)s.", due=_when(event.due_after)),
        form=form)
    return _to_dossier(dossier)


def pause_choices(dossier: Dossier) -> list[tuple[str, str]]:
    """The pauses the dossier's pinned process allows."""
    return [(kind, str(PauseKind(kind).label)) for kind in dossier.procedure_version.pauses or []]


@bp.post("/<code>/return")
def return_result(code: str):
    dossier, form = _dossier_and_form(code, "return_result")
    act(lambda: dossiers.return_result(dossier, actor=current_user, via=ResultDelivery(form.via.data),
                                       note=form.note.data or "", now=clock.now()),
        _("Đã ghi nhận việc trả kết quả cho người nộp hồ sơ."), form=form)
    return _to_dossier(dossier)


@bp.get("/<code>/events/<int:event_id>.pdf")
def event_pdf(code: str, event_id: int):
    """Mẫu 02, 04 or 05 of the event, for whoever may read the dossier; other events 404."""
    access.require("dossiers.work")
    dossier = _dossier(code)
    event = next((e for e in dossier.events if e.id == event_id), None)
    if event is None or event.kind not in PRINTABLE or dossier.synced:
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
    # A synced dossier's forms were issued by its own system: nothing to print here
    pdf = {} if dossier.synced else {e.id: url_for("dossiers.event_pdf", code=dossier.code, event_id=e.id)
                                     for e in dossier.events if e.kind in PRINTABLE}
    if "dossiers.refusal_pdf" in current_app.view_functions and not dossier.synced:
        pdf.update({e.id: url_for("dossiers.refusal_pdf", code=dossier.code)
                    for e in dossier.events if e.kind is EventKind.not_accepted})
    rule = dossier.procedure_version.supplement_rule
    forms = {action: form_for(action) for action in actions if action in FORMS}
    if "pause_start" in forms:
        forms["pause_start"].kind.choices = pause_choices(dossier)
    return {
        "actions": actions,
        "forms": forms,
        "events": list(reversed(dossier.events)),  # the latest first
        "labels": EventKind.labels(),
        "pdf": pdf,
        "rule": RULE_LABELS[rule],
        "resumed_by": {EventKind.supplement_received: RULE_LABELS[rule],
                       EventKind.payment_received: RULE_LABELS[SupplementRule.pause],
                       EventKind.pause_ended: RULE_LABELS[SupplementRule.pause]},
        "supplements": dossier.count(EventKind.supplement_requested),
        "apology_deadline": dossiers.apology_deadline(dossier) if "apology" in actions else None,
        "apology_hint": None if "apology" in actions else dossiers.apology_hint(current_user, dossier),
        "supplement_max": dossier.procedure_version.supplement_max,
    }
