"""Controlled documents: the list, each document and version, the workflow buttons, the
comparison of two versions, attached files and the procedures_iso upload."""
import difflib
import io
import tempfile
from itertools import zip_longest
from pathlib import Path

import sqlalchemy as sa
from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import escape
from sqlalchemy.orm import selectinload

from qms import clock, localtime
from qms.extensions import db
from qms.models import (
    Acknowledgement,
    Attachment,
    Department,
    Document,
    DocumentKind,
    DocumentVersion,
    Procedure,
    StepRole,
    SupplementRule,
    VersionStatus,
)
from qms.reports.pdf import render_pdf
from qms.services import attachments, documents, dossiers, procedures
from qms.text import nfc
from qms.web import access
from qms.web.actions import act, flash_form_errors
from qms.web.documents import bp
from qms.web.documents.forms import (
    IMPORT_OUTCOMES,
    ActionForm,
    ApproveForm,
    AttachmentForm,
    DocumentForm,
    ImportForm,
    ReturnForm,
    ReviewForm,
    VersionForm,
    WithdrawForm,
)

IMPORT_SUFFIXES = (".md", ".yaml", ".yml")


@bp.before_request
@login_required
def _require_login():
    """Every documents page needs a login; each view then asks authz for its permission."""


# --- helpers ------------------------------------------------------------------------------
def _today():
    return localtime.date_of(clock.now())


def _text(value: str | None) -> str:
    """Textarea input as stored: NFC, Unix line ends (browsers send CRLF)."""
    return nfc(value or "").replace("\r\n", "\n")


def _document(code: str) -> Document:
    return db.first_or_404(sa.select(Document).where(Document.code == code))


def _version(document: Document, number: int) -> DocumentVersion:
    return db.first_or_404(sa.select(DocumentVersion).where(
        DocumentVersion.document_id == document.id, DocumentVersion.number == number))


def _procedure(document: Document) -> Procedure | None:
    return db.session.scalar(sa.select(Procedure).where(Procedure.document_id == document.id))


def _to_version(version: DocumentVersion):
    return redirect(url_for(".version", code=version.document.code, number=version.number))


# --- the list -----------------------------------------------------------------------------
@bp.get("")
def index():
    access.require("documents.view")
    kind = request.args.get("kind") or ""
    query = (sa.select(Document).options(selectinload(Document.versions),
                                         selectinload(Document.owner_department))
             .order_by(Document.kind, Document.code))
    if kind in {k.value for k in DocumentKind}:
        query = query.where(Document.kind == DocumentKind(kind))
    else:
        kind = ""
    page = db.paginate(query, per_page=current_app.config["PAGE_SIZE"], error_out=False)
    rows = [(d, documents.effective_version(d), documents.open_version(d)) for d in page.items]
    today = _today()
    manage = access.can("documents.manage")
    return render_template(
        "documents/index.html", page=page, rows=rows, kind=kind, kinds=list(DocumentKind),
        today=today, overdue=[d for d in documents.reviews_overdue(today)
                              if documents.may(current_user, "draft", d)] if manage else [],
        review_form=ReviewForm(), import_form=ImportForm(),
        args={"kind": kind} if kind else {})


@bp.post("/<code>/review")
def record_review(code: str):
    access.require("documents.manage")
    document = _document(code)
    form = ReviewForm()
    act(lambda: documents.record_review(document, actor=current_user, today=_today(), note=form.note.data),
        lambda _reviewed: _("Đã ghi nhận rà soát định kỳ %(c)s; lần rà soát tới: %(d)s.", c=document.code,
                            d=document.next_review_due.strftime("%d/%m/%Y")),
        form=form, field_names=False)
    return redirect(url_for(".index"))


@bp.post("/import")
def import_file():
    """Upload one procedures_iso file and import it as `qms import-procedures` would."""
    access.require("documents.manage")
    form = ImportForm()
    if not form.validate_on_submit():
        flash_form_errors(form, field_names=False)
        return redirect(url_for(".index"))
    upload = form.file.data
    name = attachments.clean_filename(upload.filename)
    if not name.lower().endswith(IMPORT_SUFFIXES) or name.startswith("."):
        flash(_("Chỉ nhập được tệp .md, .yaml hoặc .yml."), "danger")
        return redirect(url_for(".index"))
    limit = current_app.config["PROCEDURE_IMPORT_MAX_BYTES"]
    content = upload.stream.read(limit + 1)
    if len(content) > limit:
        flash(_("Tệp nhập lớn hơn %(n)s MB.", n=limit // (1024 * 1024)), "danger")
        return redirect(url_for(".index"))
    from qms.services import procedure_files  # with pydantic: imported when used

    with tempfile.TemporaryDirectory(prefix="qms-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        imported = act(lambda: procedure_files.import_tree(path, now=clock.now(),
                                                           default_owner=current_user.department.code,
                                                           actor=current_user),
                       refusal=None)
    if isinstance(imported.error, procedure_files.FileProblems):
        # The problems name the temporary path: show the uploaded name instead.
        problems = [p.replace(str(path), name) for p in imported.error.problems]
        return render_template("documents/import_result.html", name=name, results=[],
                               problems=problems, outcomes=IMPORT_OUTCOMES)
    if not imported:
        flash(imported.error.message, "danger")
        return redirect(url_for(".index"))
    return render_template("documents/import_result.html", name=name, results=imported.value,
                           problems=[], outcomes=IMPORT_OUTCOMES)


# --- documents ----------------------------------------------------------------------------
@bp.route("/new", methods=["GET", "POST"])
def new():
    access.require("documents.manage")
    form = DocumentForm()
    if request.method == "GET":
        form.owner_department_id.data = current_user.department_id
    if form.validate_on_submit():
        def create() -> DocumentVersion:
            document = documents.create_document(
                actor=current_user, code=form.code.data, title=nfc(form.title.data),
                kind=DocumentKind(form.kind.data), owner=db.get_or_404(Department, form.owner_department_id.data),
                review_interval_months=form.review_interval_months.data)
            return documents.draft_version(document, actor=current_user, title=document.title,
                                           body=_text(form.body.data), change_summary="", now=clock.now())

        created = act(create, lambda version: _("Đã tạo tài liệu %(c)s với dự thảo lần 1.",
                                                 c=version.document.code))
        if created:
            return _to_version(created.value)
    return render_template("documents/document_form.html", form=form)


@bp.get("/<code>")
def show(code: str):
    access.require("documents.view")
    document = _document(code)
    return render_template(
        "documents/document.html", document=document, procedure=_procedure(document),
        effective=documents.effective_version(document), open_version=documents.open_version(document),
        can_draft=documents.may(current_user, "draft", document), today=_today())


# --- drafting -----------------------------------------------------------------------------
@bp.route("/<code>/versions/new", methods=["GET", "POST"])
def version_new(code: str):
    access.require("documents.manage")
    document = _document(code)
    current = documents.open_version(document)
    if current is not None:
        flash(_("Tài liệu %(c)s đã có một dự thảo đang mở.", c=document.code), "warning")
        return _to_version(current)
    base = next((v for v in reversed(document.versions) if v.status is not VersionStatus.withdrawn), None)
    form = VersionForm()
    if request.method == "GET":  # start from the latest text
        form.title.data = base.title if base else document.title
        form.body.data = base.body if base else ""
    if form.validate_on_submit():
        drafted = act(lambda: documents.draft_version(document, actor=current_user, title=nfc(form.title.data),
                                                      body=_text(form.body.data),
                                                      change_summary=_text(form.change_summary.data),
                                                      now=clock.now()),
                      lambda version: _("Đã tạo dự thảo lần %(n)d.", n=version.number))
        if drafted:
            return _to_version(drafted.value)
    return render_template("documents/version_form.html", form=form, document=document, version=None,
                           is_process=document.kind is DocumentKind.process)


@bp.route("/<code>/versions/<int:number>/edit", methods=["GET", "POST"])
def version_edit(code: str, number: int):
    access.require("documents.manage")
    document = _document(code)
    version = _version(document, number)
    if version.status is not VersionStatus.draft:
        flash(_("Chỉ sửa được bản dự thảo; bản đã trình hoặc đã duyệt là bất biến."), "warning")
        return _to_version(version)
    form = VersionForm(obj=version)
    if form.validate_on_submit():
        if act(lambda: documents.edit_draft(version, actor=current_user, title=nfc(form.title.data),
                                            body=_text(form.body.data),
                                            change_summary=_text(form.change_summary.data)),
               _("Đã lưu dự thảo lần %(n)d.", n=version.number)):
            return _to_version(version)
    return render_template("documents/version_form.html", form=form, document=document,
                           version=version, is_process=document.kind is DocumentKind.process)


# --- a version and its workflow -------------------------------------------------------------
@bp.get("/<code>/versions/<int:number>")
def version(code: str, number: int):
    access.require("documents.view")
    document = _document(code)
    version = _version(document, number)
    me = current_user
    pv = procedures.procedure_version_of(version)
    effective = version.status is VersionStatus.effective
    my_ack = db.session.scalar(sa.select(Acknowledgement).where(
        Acknowledgement.version_id == version.id, Acknowledgement.user_id == me.id))
    return render_template(
        "documents/version.html", document=document, version=version, pv=pv,
        procedure=pv.procedure if pv else None, format_duration=procedures.format_duration,
        number=procedures.number,
        supplement_labels=SupplementRule.labels(), pause_labels=procedures.pause_labels,
        may={action: documents.may(me, action, version)
             for action in ("submit", "return", "approve", "withdraw", "edit")},
        my_ack=my_ack, ack_status=(documents.acknowledgement_status(version)
                                   if effective and access.can("documents.manage") else None),
        attachments=attachments.attachments_of(version), attachment_form=AttachmentForm(),
        today=_today())


@bp.get("/<code>/versions/<int:number>/pdf")
def version_pdf(code: str, number: int):
    """The version as a printable document (internal process layout for procedures)."""
    access.require("documents.view")
    document = _document(code)
    version = _version(document, number)
    if procedures.procedure_version_of(version) is not None:
        data = render_pdf("pdf/procedure.html", **procedures.print_context(version))
    else:
        history = [v for v in document.versions
                   if v.number <= version.number and v.status is not VersionStatus.withdrawn]
        data = render_pdf("pdf/document.html", version=version, history=history)
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=False,
                     download_name=f"{document.code}-lan-{version.number}.pdf")


def _move(code: str, number: int, action: str, form, call, message: str):
    """A workflow button: the role check (403), then the service's own rules (flashed)."""
    document = _document(code)
    version = _version(document, number)
    access.require(documents.permission(action))
    act(lambda: call(version), message, form=form, field_names=False)
    return _to_version(version)


@bp.post("/<code>/versions/<int:number>/submit")
def submit(code: str, number: int):
    return _move(code, number, "submit", ActionForm(),
                 lambda v: documents.submit(v, actor=current_user, now=clock.now()),
                 _("Đã trình lãnh đạo phê duyệt."))


@bp.post("/<code>/versions/<int:number>/return")
def return_for_changes(code: str, number: int):
    form = ReturnForm()
    return _move(code, number, "return", form,
                 lambda v: documents.return_for_changes(v, actor=current_user, reason=_text(form.reason.data),
                                                        now=clock.now()),
                 _("Đã trả lại dự thảo để chỉnh sửa."))


@bp.post("/<code>/versions/<int:number>/approve")
def approve(code: str, number: int):
    form = ApproveForm()
    return _move(code, number, "approve", form,
                 lambda v: documents.approve(v, actor=current_user, effective_date=form.effective_date.data,
                                             now=clock.now()),
                 _("Đã phê duyệt; có hiệu lực từ ngày %(d)s.",
                   d=form.effective_date.data.strftime("%d/%m/%Y") if form.effective_date.data else ""))


@bp.post("/<code>/versions/<int:number>/withdraw")
def withdraw(code: str, number: int):
    form = WithdrawForm()
    return _move(code, number, "withdraw", form,
                 lambda v: documents.withdraw(v, actor=current_user, reason=_text(form.reason.data),
                                              now=clock.now()),
                 _("Đã thu hồi phiên bản."))


@bp.post("/<code>/versions/<int:number>/acknowledge")
def acknowledge(code: str, number: int):
    access.require("documents.view")
    document = _document(code)
    version = _version(document, number)
    act(lambda: documents.acknowledge(version, actor=current_user, now=clock.now()),
        _("Đã ghi nhận bạn đã đọc và hiểu %(v)s.", v=str(version)), form=ActionForm())
    return _to_version(version)


# --- comparison -----------------------------------------------------------------------------
def _body_diff(old: DocumentVersion, new: DocumentVersion) -> str | None:
    """A side-by-side table of the texts. HtmlDiff escapes the lines itself; the two
    headings it inserts as they are, so they are escaped here."""
    if old.body == new.body:
        return None
    return difflib.HtmlDiff(wrapcolumn=70).make_table(
        old.body.splitlines(), new.body.splitlines(),
        str(escape(_("Lần %(n)d", n=old.number))), str(escape(_("Lần %(n)d", n=new.number))),
        context=True, numlines=3)


@bp.get("/<code>/compare")
def compare(code: str):
    access.require("documents.view")
    document = _document(code)
    numbers = [v.number for v in document.versions]
    if len(numbers) < 2:
        flash(_("Tài liệu %(c)s mới có một phiên bản, chưa có gì để so sánh.", c=document.code), "info")
        return redirect(url_for(".show", code=document.code))
    b = request.args.get("b", type=int) or numbers[-1]
    a = request.args.get("a", type=int) or max((n for n in numbers if n < b), default=numbers[0])
    old, new = _version(document, a), _version(document, b)
    old_data, new_data = procedures.procedure_data_of(old), procedures.procedure_data_of(new)
    steps = (list(zip_longest(old_data["steps"], new_data["steps"]))
             if old_data is not None and new_data is not None else [])
    return render_template(
        "documents/compare.html", document=document, old=old, new=new, numbers=numbers,
        changes=procedures.semantic_diff(old_data, new_data), body_diff=_body_diff(old, new),
        steps=steps, old_data=old_data, new_data=new_data,
        in_flight=dossiers.in_flight_on(old.id) if old_data is not None else [],
        hours=lambda h: procedures.format_duration(round(h * 60)),
        role_label=lambda value: StepRole(value).label)


# --- attachments ----------------------------------------------------------------------------
@bp.post("/<code>/versions/<int:number>/attachments")
def attachment_add(code: str, number: int):
    access.require("documents.manage")
    document = _document(code)
    version = _version(document, number)
    form = AttachmentForm()
    act(lambda: attachments.save_attachment(version, form.file.data, actor=current_user, now=clock.now()),
        lambda saved: _("Đã đính kèm tệp %(f)s.", f=saved.filename), form=form, field_names=False)
    return _to_version(version)


def _attachment(version: DocumentVersion, attachment_id: int) -> Attachment:
    attachment = db.get_or_404(Attachment, attachment_id)
    if attachment.version_id != version.id or not attachment.active:
        abort(404)
    return attachment


@bp.post("/<code>/versions/<int:number>/attachments/<int:attachment_id>/remove")
def attachment_remove(code: str, number: int, attachment_id: int):
    access.require("documents.manage")
    version = _version(_document(code), number)
    attachment = _attachment(version, attachment_id)
    act(lambda: attachments.remove_attachment(attachment, actor=current_user),
        _("Đã gỡ tệp %(f)s khỏi dự thảo.", f=attachment.filename), form=ActionForm())
    return _to_version(version)


@bp.get("/<code>/versions/<int:number>/attachments/<int:attachment_id>")
def attachment_download(code: str, number: int, attachment_id: int):
    access.require("documents.view")
    version = _version(_document(code), number)
    attachment = _attachment(version, attachment_id)
    path = attachments.path_of(attachment)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype=attachment.media_type, as_attachment=True,
                     download_name=attachment.filename)
