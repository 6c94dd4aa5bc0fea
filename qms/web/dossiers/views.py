"""The one-stop desk and the departments: receive dossiers, work the queue, complete steps."""
import base64
import io

import sqlalchemy as sa
from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from qms import clock
from qms.extensions import db
from qms.models import (
    Agency,
    Channel,
    Department,
    Dossier,
    DossierStatus,
    EventKind,
    Procedure,
    Timeliness,
)
from qms.reports.pdf import render_pdf, render_pdf_after_commit
from qms.services import attachments, calendars, dossiers, notifications, procedures, sync
from qms.web import access
from qms.web.actions import act
from qms.web.dossiers import bp
from qms.web.dossiers.forms import CompleteForm, ReceiveForm, ReissueReceiptForm, SendBackForm


@bp.before_request
@login_required
def _require_login():
    """Every page here needs a login; each view asks authz for its permission."""


def _dossier(code: str) -> Dossier:
    dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == code))
    if dossier is None:
        abort(404)
    access.require("dossiers.view", dossier)
    return dossier


def _step_at(dossier: Dossier, position: int):
    step = next((s for s in dossier.steps if s.position == position), None)
    if step is None:
        abort(404)
    return step


@bp.route("/receive", methods=["GET", "POST"])
def receive():
    access.require("dossiers.receive", current_user.department)
    form = ReceiveForm()
    available = dossiers.receivable_procedures(current_user.department.agency)
    # Picking the procedure without a script: search by code or name (accents ignored), then
    # the list holds the matches and the one picked shows its components to tick.
    query = (request.args.get("q") or "").strip()[:200]
    shown = available
    if query and not form.is_submitted():
        matching = set(db.session.scalars(procedures.search(query).with_only_columns(Procedure.id).order_by(None)))
        shown = [p for p in available if p.id in matching]
    form.procedure_id.choices = [(p.id, f"{p.code} — {p.name}") for p in shown]
    if not form.is_submitted():
        picked = request.args.get("procedure", type=int)
        if picked in {p.id for p in shown}:
            form.procedure_id.data = picked
        elif len(shown) == 1:
            form.procedure_id.data = shown[0].id
    chosen = db.session.get(Procedure, form.procedure_id.data) if form.procedure_id.data else None
    form.processing_agency_id.choices = agency_choices(current_user.department.agency)
    if form.validate_on_submit() and chosen is not None:
        received = act(lambda: dossiers.receive_dossier(
            actor=current_user, procedure=chosen, now=clock.now(),
            applicant_name=form.applicant_name.data,
            applicant_id_number=form.applicant_id_number.data or "",
            applicant_phone=form.applicant_phone.data or "",
            applicant_address=form.applicant_address.data or "",
            applicant_email=form.applicant_email.data or "",
            channel=Channel(form.channel.data), components=form.components.data,
            return_method=form.return_method.data or "", case_key=form.case_key.data or "",
            processing_agency=db.session.get(Agency, form.processing_agency_id.data or 0)))
        if received:
            dossier, secret = received.value
            # The lookup secret exists only now: it is shown once and printed on the slip.
            receipt = render_pdf_after_commit("pdf/receipt.html", dossier=dossier, secret=secret,
                                              components=_components_of(dossier),
                                              limit=_limit_text(dossier))
            return render_template("dossiers/received.html", dossier=dossier, secret=secret,
                                   receipt=base64.b64encode(receipt).decode() if receipt else None)
    return render_template("dossiers/receive.html", form=form, procedures=available, shown=shown, query=query,
                           components=dossiers.components_to_receive(chosen) if chosen else [],
                           cases=case_choices(available))


@bp.post("/<code>/receipt")
def reissue_receipt(code: str):
    """Mẫu 01 again, for an applicant who lost it: with a new lookup code (the old one stops
    working), shown once on the same page as after receiving."""
    access.require("dossiers.work")
    dossier = _dossier(code)
    reissued = act(lambda: dossiers.reissue_receipt(dossier, actor=current_user, now=clock.now()),
                   form=ReissueReceiptForm())
    if not reissued:
        return redirect(url_for(".show", code=dossier.code))
    secret = reissued.value
    receipt = render_pdf_after_commit("pdf/receipt.html", dossier=dossier, secret=secret,
                                      components=_components_of(dossier), limit=_limit_text(dossier))
    return render_template("dossiers/received.html", dossier=dossier, secret=secret, reissued=True,
                           receipt=base64.b64encode(receipt).decode() if receipt else None)


def agency_choices(receiving) -> list[tuple[int, str]]:
    return [(a.id, a.name) for a in dossiers.processing_agencies(receiving)]


def case_choices(available) -> dict[int, list[tuple[str, str]]]:
    """{procedure id: [(case key, "name (limit)")]} for the procedures that have cases."""
    return {procedure_id: [(c.key, f"{c.name} ({procedures.number(c.time_limit)} {c.time_unit.label})")
                           for c in found]
            for procedure_id, found in procedures.cases_in_force(p.id for p in available).items()}


def _components_of(dossier: Dossier) -> list[dict]:
    """The components of the pinned version, or only those ticked at the desk."""
    listed = dossier.procedure_version.components or []
    received = set(dossier.components or [])
    return [c for c in listed if not received or c["name"] in received]


def _limit_text(dossier: Dossier) -> str:
    rule = dossier.time_rule
    text = f"{procedures.number(rule.time_limit)} {rule.time_unit.label}"
    return f"{text} ({dossier.case.name})" if dossier.case else text


@bp.get("/queue")
def queue():
    access.require("dossiers.work")
    page = db.paginate(dossiers.queue(current_user.department_id),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    now = clock.now()
    # "Due soon" as escalation means it: within the margin of *working* time
    calendar = calendars.calendar_for(current_user.department.agency)
    soon = notifications.due_soon_cutoff(calendar, now, current_app.config["ESCALATION_DUE_SOON_MINUTES"])
    return render_template("dossiers/queue.html", page=page, now=now, soon=soon)


@bp.get("/<code>")
def show(code: str):
    access.require("dossiers.work")
    dossier = _dossier(code)
    step = dossiers.current_step(dossier)
    form = CompleteForm()
    form.next_department_id.choices = [(0, "—")] + dossiers.next_department_choices(dossier)
    blocked = dossiers.why_not_complete(current_user, dossier)
    may_complete = step is not None and blocked is None and access.can("dossiers.complete_step", step)
    return render_template(
        "dossiers/show.html", dossier=dossier, step=step, form=form, send_back_form=SendBackForm(),
        may_complete=may_complete, may_send_back=may_complete and step.position > 1, blocked=blocked,
        may_reissue=(dossier.status in dossiers.REISSUABLE and not dossier.synced
                     and access.can("dossiers.receive", dossier.department)),
        history=sync.history_of(dossier) if dossier.synced else None,
        status_labels={status.national_code: status.label for status in DossierStatus},
        reissue_form=ReissueReceiptForm(),
        timeliness=dossiers.timeliness(dossier), step_timeliness=dossiers.step_timeliness,
        channel_labels=Channel.value_labels(), labels=Timeliness.value_labels())


@bp.post("/<code>/steps/<int:position>/complete")
def complete(code: str, position: int):
    access.require("dossiers.work")
    dossier = _dossier(code)
    step = _step_at(dossier, position)
    form = CompleteForm()
    form.next_department_id.choices = [(0, "—")] + [
        (d.id, d.code) for d in db.session.scalars(sa.select(Department))]
    act(lambda: dossiers.complete_step(
        step, actor=current_user, now=clock.now(), note=form.note.data or "",
        result=form.result.data or "", files=form.files.data or (),
        next_department=db.session.get(Department, form.next_department_id.data or 0)),
        _("Đã hoàn thành bước “%(n)s”.", n=step.name), form=form)
    return redirect(url_for(".show", code=dossier.code))


@bp.post("/<code>/steps/<int:position>/send-back")
def send_back(code: str, position: int):
    access.require("dossiers.work")
    dossier = _dossier(code)
    step = _step_at(dossier, position)
    form = SendBackForm()
    act(lambda: dossiers.send_back(step, actor=current_user, reason=form.reason.data, now=clock.now()),
        _("Đã chuyển trả bước “%(n)s” về bước trước.", n=step.name), form=form)
    return redirect(url_for(".show", code=dossier.code))


@bp.get("/<code>/files/<int:file_id>")
def download_file(code: str, file_id: int):
    """A file attached to a step, for whoever may read the dossier."""
    access.require("dossiers.work")
    dossier = _dossier(code)
    file = next((f for f in dossier.files if f.id == file_id), None)
    if file is None:
        abort(404)
    return send_file(attachments.path_of(file), mimetype=file.media_type, as_attachment=True,
                     download_name=file.filename)




@bp.get("/<code>/control-slip.pdf")
def control_slip(code: str):
    """Mẫu 06 (Circular 03/2025/TT-VPCP): every hand-over and completion, and which were late."""
    access.require("dossiers.work")
    dossier = _dossier(code)
    if dossier.synced:  # its steps are its own system's; their record is the history shown
        abort(404)
    # A legal form: render_pdf renders it in Vietnamese whatever the page language.
    data = render_pdf("pdf/control_slip.html", dossier=dossier, step_timeliness=dossiers.step_timeliness,
                      labels=Timeliness.value_labels(),
                      sent_back=[e for e in dossier.events if e.kind is EventKind.sent_back],
                      clock_stops=dossiers.clock_stops(dossier))
    return send_file(io.BytesIO(data), mimetype="application/pdf",
                     download_name=f"phieu-kiem-soat-{dossier.code}.pdf")
