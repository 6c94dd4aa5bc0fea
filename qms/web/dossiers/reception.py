"""The one-stop desk's answers to an incomplete dossier (Decree 118/2025/NĐ-CP, forms of
Circular 03/2025/TT-VPCP): the supplementation guidance slip (Mẫu 02; nothing is received)
and the refusal slip (Mẫu 03; the refusal is recorded as a dossier "not accepted").

Both buttons sit on the receiving form (templates/dossiers/receive.html, `formaction`)."""
import io

import sqlalchemy as sa
from flask import abort, render_template, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from qms import clock
from qms.extensions import db
from qms.models import Channel, Dossier, DossierStatus, EventKind, Procedure
from qms.reports.pdf import render_pdf
from qms.services import dossiers
from qms.web import access
from qms.web.actions import act
from qms.web.dossiers import bp
from qms.web.dossiers.forms import ReceiveForm
from qms.web.dossiers.views import agency_choices, case_choices


class IncompleteForm(ReceiveForm):
    """The receiving form, where the missing items (guidance) or reasons (refusal) are
    required."""

    missing = TextAreaField(_l("Nội dung cần bổ sung / lý do từ chối"),
                            validators=[DataRequired(message=_l("Hãy ghi nội dung cần bổ sung hoặc lý do từ chối.")),
                                        Length(max=4000)],
                            description=_l("Mỗi dòng một nội dung. Bắt buộc khi hướng dẫn bổ sung hoặc từ chối tiếp nhận."))


def _desk_form() -> tuple[IncompleteForm, list[Procedure], Procedure | None]:
    """The desk's permission (as for receiving), the form and the chosen procedure."""
    access.require("dossiers.receive", current_user.department)
    form = IncompleteForm()
    available = dossiers.receivable_procedures(current_user.department.agency)
    form.procedure_id.choices = [(p.id, f"{p.code} — {p.name}") for p in available]
    form.processing_agency_id.choices = agency_choices(current_user.department.agency)
    chosen = db.session.get(Procedure, form.procedure_id.data) if form.procedure_id.data else None
    return form, available, chosen


def _applicant(form: IncompleteForm) -> dict:
    return {"applicant_name": form.applicant_name.data,
            "applicant_id_number": form.applicant_id_number.data or "",
            "applicant_phone": form.applicant_phone.data or "",
            "applicant_address": form.applicant_address.data or "",
            "applicant_email": form.applicant_email.data or "",
            "channel": Channel(form.channel.data)}


def _form_again(form, available):
    """Back to the desk form, with what was typed and the reasons it was not accepted."""
    return render_template("dossiers/receive.html", form=form, procedures=available,
                           cases=case_choices(available)), 400


@bp.post("/receive/guidance")
def guidance():
    """Mẫu 02 at reception: the applicant is told what to add; nothing is received."""
    form, available, chosen = _desk_form()
    if not (form.validate_on_submit() and chosen is not None):
        return _form_again(form, available)

    def issue() -> bytes:
        slip = dossiers.issue_guidance(actor=current_user, procedure=chosen, now=clock.now(),
                                       missing=form.missing.data, **_applicant(form))
        return render_pdf("pdf/guidance.html", slip=slip)

    issued = act(issue)
    if not issued:
        return _form_again(form, available)
    # A download: the officer stays on the desk form, with the applicant's details kept.
    return send_file(io.BytesIO(issued.value), mimetype="application/pdf", as_attachment=True,
                     download_name=f"phieu-huong-dan-bo-sung-{chosen.code}.pdf")


@bp.post("/receive/refuse")
def refuse():
    """Mẫu 03: the dossier is refused with reasons, recorded as "not accepted"."""
    form, available, chosen = _desk_form()
    if not (form.validate_on_submit() and chosen is not None):
        return _form_again(form, available)
    refused = act(lambda: dossiers.refuse_dossier(actor=current_user, procedure=chosen, now=clock.now(),
                                                  reasons=form.missing.data,
                                                  components=form.components.data, **_applicant(form)))
    if not refused:
        return _form_again(form, available)
    dossier = refused.value
    return render_template("dossiers/refused.html", dossier=dossier,
                           reasons=_refusal(dossier).reason.splitlines())


def _refusal(dossier: Dossier):
    return next((e for e in dossier.events if e.kind is EventKind.not_accepted), None)


@bp.get("/<code>/refusal.pdf")
def refusal_pdf(code: str):
    """The refusal slip again, for whoever may read the dossier; only for a refused one."""
    access.require("dossiers.work")
    dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == code))
    if dossier is None or dossier.synced:  # a synced dossier's slips are its own system's
        abort(404)
    access.require("dossiers.view", dossier)
    event = _refusal(dossier)
    if dossier.status is not DossierStatus.not_accepted or event is None:
        abort(404)
    data = render_pdf("pdf/refusal.html", dossier=dossier, event=event,
                      reasons=event.reason.splitlines(),
                      legal_bases=list(dossier.procedure_version.legal_bases or []))
    return send_file(io.BytesIO(data), mimetype="application/pdf",
                     download_name=f"phieu-tu-choi-{dossier.code}.pdf")

