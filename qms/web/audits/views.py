"""Internal audit pages: the programmes by year, planning an audit (its scope and team: the
quality officer names any lead; an auditor plans, and edits, the audits they lead), the
audit page (checklist with the team's answer forms, findings, nonconformities and their
corrective actions, state buttons) — the plain HTML view of the audit report — and the
report as PDF."""
import io

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.exceptions import HTTPException

from qms import clock, localtime
from qms.extensions import db
from qms.models import (
    Agency,
    Audit,
    AuditProgramme,
    AuditStatus,
    CarStatus,
    ChecklistItem,
    ChecklistResult,
    Department,
    EvidenceFile,
    FindingKind,
    NcStatus,
    Procedure,
    Severity,
    User,
)
from qms.reports.pdf import render_pdf
from qms.services import attachments, audits, iso_clauses
from qms.text import nfc
from qms.web import access
from qms.web.actions import act
from qms.web.audits import bp
from qms.web.audits.forms import (
    ActionForm,
    AnswerForm,
    AuditForm,
    FindingForm,
    ProgrammeForm,
    ReportForm,
)

# A long checklist is printed in tables of at most this many rows: xhtml2pdf lays out one
# long table in quadratic time (DESIGN §6).
PDF_TABLE_ROWS = 100


@bp.before_request
@login_required
def _require_login():
    """Every audit page needs a login; each view asks authz (and the audit's own rules)."""


# --- helpers ----------------------------------------------------------------------------------
def _programme(programme_id: int) -> AuditProgramme:
    return db.get_or_404(AuditProgramme, programme_id)


def _audit(audit_id: int) -> Audit:
    audit_ = db.get_or_404(Audit, audit_id)
    access.require("audits.view", audit_)
    return audit_


def _item(audit_: Audit, item_id: int) -> ChecklistItem:
    item = db.session.get(ChecklistItem, item_id)
    if item is None or item.audit_id != audit_.id:
        abort(404)
    return item


def _to_audit(audit_: Audit, anchor: str = ""):
    return redirect(url_for(".show", audit_id=audit_.id) + (f"#{anchor}" if anchor else ""))


def _existing(path: str) -> str | None:
    """`path` if a page of this app answers it (the CAR pages come from another area)."""
    try:
        current_app.url_map.bind("").match(path, method="GET")
    except HTTPException:
        return None
    return path


def _by_ids(model, ids) -> list:
    ids = [i for i in ids or [] if i]
    if not ids:
        return []
    found = {row.id: row for row in db.session.scalars(sa.select(model).where(model.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


# --- programmes -------------------------------------------------------------------------------
@bp.get("")
def index():
    access.require("audits.view")
    years = audits.programme_years()
    year = request.args.get("year", type=int)
    if year not in years:
        year = None
    programmes = db.session.scalars(audits.programmes(year)).all()
    rows = [(p, audits.visible_audits(current_user, p)) for p in programmes]
    return render_template("audits/index.html", rows=rows, years=years, year=year,
                           status_labels=AuditStatus.labels())


@bp.route("/programmes/new", methods=["GET", "POST"])
def programme_new():
    access.require("audits.manage")
    form = ProgrammeForm()
    form.agency_id.choices = [(a.id, f"{a.code} — {a.name}")
                              for a in db.session.scalars(sa.select(Agency).order_by(Agency.code))]
    if request.method == "GET":
        form.agency_id.data = current_user.department.agency_id
        form.year.data = localtime.date_of(clock.now()).year
    if form.validate_on_submit():
        created = act(lambda: audits.create_programme(
            db.session.get(Agency, form.agency_id.data), year=form.year.data, title=form.title.data,
            objectives=form.objectives.data or "", actor=current_user, now=clock.now()),
            lambda programme: _("Đã lập chương trình đánh giá nội bộ năm %(y)d.", y=programme.year))
        if created:
            return redirect(url_for(".programme", programme_id=created.value.id))
    return render_template("audits/programme_form.html", form=form)


@bp.get("/programmes/<int:programme_id>")
def programme(programme_id: int):
    access.require("audits.view")
    programme_ = _programme(programme_id)
    return render_template("audits/programme.html", programme=programme_,
                           audits=audits.visible_audits(current_user, programme_),
                           status_labels=AuditStatus.labels())


# --- planning ---------------------------------------------------------------------------------
def _audit_form(programme_: AuditProgramme, audit_: Audit | None = None) -> AuditForm:
    """The planning form; for an auditor who is not a quality officer the lead auditor is
    fixed to themselves."""
    me = current_user
    departments = audits.auditable_departments(programme_)
    if audit_ is not None:  # keep a department made inactive since, so the form can show it
        departments += [d for d in audit_.departments if d not in departments]
    procedures = db.session.scalars(sa.select(Procedure).order_by(Procedure.code)).all()
    people = audits.auditors()
    if audit_ is not None:
        people += [u for u in [audit_.lead_auditor, *audit_.team] if u not in people]
    return AuditForm(departments=departments, procedures=procedures, auditors=people,
                     lead=None if access.can("audits.manage") else me)


def _scope_values(form: AuditForm) -> dict:
    return dict(title=form.title.data, departments=_by_ids(Department, form.departments.data),
                procedures=_by_ids(Procedure, form.procedures.data), clauses=form.clauses.data or [],
                criteria=form.criteria.data or "", planned_start=form.planned_start.data,
                planned_end=form.planned_end.data,
                lead_auditor=db.session.get(User, form.lead_auditor_id.data) if form.lead_auditor_id.data else None,
                team=_by_ids(User, form.team.data))


@bp.route("/programmes/<int:programme_id>/plan", methods=["GET", "POST"])
def plan(programme_id: int):
    access.require("audits.plan")
    programme_ = _programme(programme_id)
    form = _audit_form(programme_)
    error = None
    if form.validate_on_submit():
        planned = act(lambda: audits.plan_audit(programme_, **_scope_values(form), actor=current_user,
                                                now=clock.now()),
                      lambda audit_: _("Đã lập kế hoạch cuộc đánh giá %(c)s.", c=audit_.code), refusal=None)
        if planned:
            return _to_audit(planned.value)
        error = planned.error.message  # shown on the form, the choices kept
    return render_template("audits/audit_form.html", form=form, programme=programme_, audit=None,
                           error=error), (422 if error else 200)


@bp.route("/<int:audit_id>/edit", methods=["GET", "POST"])
def edit(audit_id: int):
    access.require("audits.plan")
    audit_ = _audit(audit_id)
    access.require("audits.edit_plan", audit_)  # an auditor edits only the audits they lead
    if not audits.may(current_user, "edit", audit_):
        flash(_("Cuộc đánh giá %(c)s đã bắt đầu: không sửa phạm vi, đoàn đánh giá được nữa.",
                c=audit_.code), "warning")
        return _to_audit(audit_)
    form = _audit_form(audit_.programme, audit_)
    if request.method == "GET":
        form.title.data = audit_.title
        form.departments.data = [d.id for d in audit_.departments]
        form.procedures.data = [p.id for p in audit_.procedures]
        form.clauses.data = list(audit_.clauses or [])
        form.criteria.data = audit_.criteria
        form.planned_start.data = audit_.planned_start
        form.planned_end.data = audit_.planned_end
        form.lead_auditor_id.data = audit_.lead_auditor_id
        form.team.data = [u.id for u in audit_.team]
    error = None
    if form.validate_on_submit():
        saved = act(lambda: audits.update_audit(audit_, **_scope_values(form), actor=current_user, now=clock.now()),
                    _("Đã lưu kế hoạch cuộc đánh giá %(c)s.", c=audit_.code), refusal=None)
        if saved:
            return _to_audit(audit_)
        error = saved.error.message
    return render_template("audits/audit_form.html", form=form, programme=audit_.programme,
                           audit=audit_, error=error), (422 if error else 200)


# --- the audit page ---------------------------------------------------------------------------
def _nc_rows(audit_: Audit) -> list[dict]:
    rows = []
    for nc in audit_.nonconformities:
        car = nc.corrective_action
        rows.append({"nc": nc, "url": _existing(f"/quality/nonconformities/{nc.code}"), "car": car,
                     "car_url": _existing(f"/quality/cars/{car.code}") if car else None})
    return rows


@bp.get("/<int:audit_id>")
def show(audit_id: int):
    access.require("audits.view")
    audit_ = _audit(audit_id)
    me = current_user
    conduct = audits.may(me, "conduct", audit_)
    answered = sum(1 for item in audit_.items if item.result is not None)
    return render_template(
        "audits/audit.html", audit=audit_, conduct=conduct, answered=answered,
        may={action: audits.may(me, action, audit_) for action in ("edit", "start", "report", "close")},
        waiting=audits.nonconformities_without_car(audit_) if audit_.status.value == "reported" else [],
        nc_rows=_nc_rows(audit_), item_departments=({i.id: audits.department_of(i) for i in audit_.items}),
        status_labels=AuditStatus.labels(), result_labels=ChecklistResult.labels(),
        finding_labels=FindingKind.labels(), nc_status_labels=NcStatus.labels(),
        severity_labels=Severity.labels(), car_status_labels=CarStatus.labels(),
        clause_label=iso_clauses.label, action_form=ActionForm(), report_form=ReportForm(),
        finding_form=FindingForm(audit=audit_) if conduct else None,
        result_choices=list(ChecklistResult.labels().items()),
        kind_choices=list(FindingKind.labels().items()))


@bp.post("/<int:audit_id>/start")
def start(audit_id: int):
    access.require("audits.view")
    audit_ = _audit(audit_id)
    act(lambda: audits.start(audit_, actor=current_user, now=clock.now()),
        lambda started: _("Cuộc đánh giá %(c)s đã bắt đầu; danh mục kiểm tra có %(n)d dòng.", c=audit_.code,
                          n=len(audit_.items)), form=ActionForm())
    return _to_audit(audit_)


@bp.post("/<int:audit_id>/items/<int:item_id>/answer")
def answer(audit_id: int, item_id: int):
    access.require("audits.view")
    audit_ = _audit(audit_id)
    item = _item(audit_, item_id)
    form = AnswerForm()
    act(lambda: audits.answer_item(
        item, result=ChecklistResult(form.result.data), evidence=form.evidence.data or "",
        sampled_dossier_codes=audits.parse_codes(form.sampled_dossiers.data),
        files=request.files.getlist(form.files.name), actor=current_user, now=clock.now()),
        _("Đã ghi kết quả dòng %(p)d.", p=item.position), form=form)
    return _to_audit(audit_, f"item-{item.position}")


def _finding_recorded(finding) -> str:
    if finding.nonconformity is not None:
        return _("Đã ghi nhận phát hiện và sự không phù hợp %(c)s.", c=finding.nonconformity.code)
    return _("Đã ghi nhận phát hiện.")


@bp.post("/<int:audit_id>/findings")
def finding(audit_id: int):
    access.require("audits.view")
    audit_ = _audit(audit_id)
    form = FindingForm(audit=audit_)
    act(lambda: audits.record_finding(
        audit_, kind=FindingKind(form.kind.data), clause=form.clause.data or "",
        department=db.session.get(Department, form.department_id.data) if form.department_id.data else None,
        procedure=db.session.get(Procedure, form.procedure_id.data) if form.procedure_id.data else None,
        description=form.description.data, actor=current_user, now=clock.now()),
        _finding_recorded, form=form)
    return _to_audit(audit_, "findings")


@bp.post("/<int:audit_id>/items/<int:item_id>/finding")
def item_finding(audit_id: int, item_id: int):
    """A finding (a nonconformity by default) raised from a checklist line: the audit,
    clause and procedure come from the line."""
    access.require("audits.view")
    audit_ = _audit(audit_id)
    item = _item(audit_, item_id)
    form = FindingForm(audit=audit_)
    act(lambda: audits.raise_from_item(
        item, kind=FindingKind(form.kind.data), description=form.description.data,
        department=db.session.get(Department, form.department_id.data) if form.department_id.data else None,
        actor=current_user, now=clock.now()),
        _finding_recorded, form=form)
    return _to_audit(audit_, f"item-{item.position}")


@bp.post("/<int:audit_id>/report")
def report(audit_id: int):
    access.require("audits.view")
    audit_ = _audit(audit_id)
    form = ReportForm()
    act(lambda: audits.report(audit_, summary=form.summary.data, actor=current_user, now=clock.now()),
        _("Đã lập báo cáo cuộc đánh giá %(c)s.", c=audit_.code), form=form)
    return _to_audit(audit_)


@bp.post("/<int:audit_id>/close")
def close(audit_id: int):
    access.require("audits.view")
    audit_ = _audit(audit_id)
    act(lambda: audits.close(audit_, actor=current_user, now=clock.now()),
        _("Đã kết thúc cuộc đánh giá %(c)s.", c=audit_.code), form=ActionForm())
    return _to_audit(audit_)


# --- the report and the evidence --------------------------------------------------------------
def _chunks(rows: list, size: int = PDF_TABLE_ROWS) -> list[list]:
    return [rows[i:i + size] for i in range(0, len(rows), size)] or [[]]


@bp.get("/<int:audit_id>/report.pdf")
def report_pdf(audit_id: int):
    """The audit report: scope, team, every checklist answer with its evidence, findings,
    nonconformities and their corrective actions, conclusions, signatures. Always in
    Vietnamese (an official record)."""
    access.require("audits.view")
    audit_ = _audit(audit_id)
    with force_locale("vi"):
        data = render_pdf(
            "pdf/audit_report.html", audit=audit_, item_chunks=_chunks(list(audit_.items)),
            result_labels=ChecklistResult.labels(), finding_labels=FindingKind.labels(),
            status_labels=AuditStatus.labels(), nc_status_labels=NcStatus.labels(),
            severity_labels=Severity.labels(), car_status_labels=CarStatus.labels(),
            clause_label=iso_clauses.label, printed_at=clock.now())
    return send_file(io.BytesIO(data), mimetype="application/pdf",
                     download_name=f"bao-cao-danh-gia-{audits.ascii_code(audit_.code)}.pdf")


@bp.get("/evidence/<int:evidence_id>")
def evidence(evidence_id: int):
    """An evidence file, for whoever reads its audit."""
    access.require("audits.view")
    file = db.get_or_404(EvidenceFile, evidence_id)
    _audit(file.item.audit_id)
    return send_file(attachments.path_of(file), mimetype=file.media_type, as_attachment=True,
                     download_name=nfc(file.filename))
