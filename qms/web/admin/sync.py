"""Dossiers synced from another one-stop system: the source systems, the held queue grouped
by the code that could not be mapped (map it here, and what it held is replayed), the rules,
and the dossiers whose due date differs from the source's."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import HiddenField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from qms import background, clock
from qms.errors import ValidationError
from qms.extensions import db
from qms.models import (
    Agency,
    Department,
    DossierStatus,
    HoldReason,
    MappingKind,
    Procedure,
    RegisterImport,
    SyncSource,
    User,
)
from qms.services import outbox, register_import, sync
from qms.web import access
from qms.web.actions import act
from qms.web.admin import bp
from qms.web.forms import Form

# The held reason → the kind of rule that releases it (code_taken and no_process have none:
# they are fixed in the source system or by approving a process here)
RULE_FOR = {HoldReason.unknown_agency: MappingKind.agency, HoldReason.unknown_procedure: MappingKind.procedure,
            HoldReason.unknown_department: MappingKind.department, HoldReason.unknown_status: MappingKind.status}


class SourceForm(Form):
    code = StringField(_l("Mã hệ thống nguồn"), validators=[DataRequired(), Length(max=32)],
                       render_kw={"placeholder": "MC-TINH"})
    name = StringField(_l("Tên"), validators=[DataRequired(), Length(max=255)],
                       render_kw={"placeholder": _l("Hệ thống thông tin giải quyết TTHC tỉnh")})
    account_id = SelectField(_l("Tài khoản tích hợp"), coerce=int, validators=[DataRequired()],
                             description=_l("Chỉ mã truy cập của tài khoản này được đồng bộ hồ sơ của hệ thống nguồn."))
    submit = SubmitField(_l("Thêm hệ thống nguồn"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        taken = sa.select(SyncSource.account_id)
        self.account_id.choices = [(u.id, f"{u.username} — {u.full_name}") for u in db.session.scalars(
            sa.select(User).where(User.active.is_(True), User.id.not_in(taken)).order_by(User.username))]


def target_choices(kind: MappingKind | None = None) -> dict:
    """The targets a rule may name, grouped (an <optgroup> each): "agency:12", "status:processing"."""
    groups = {}
    if kind in (None, MappingKind.agency):
        groups[MappingKind.agency.label] = [(f"agency:{a.id}", f"{a.code} — {a.name}") for a in db.session.scalars(
            sa.select(Agency).order_by(Agency.code))]
    if kind in (None, MappingKind.procedure):
        groups[MappingKind.procedure.label] = [(f"procedure:{p.id}", f"{p.code} — {p.name[:120]}")
                                               for p in db.session.scalars(sa.select(Procedure).order_by(Procedure.code))]
    if kind in (None, MappingKind.department):
        groups[MappingKind.department.label] = [
            (f"department:{d.id}", f"{d.code} — {d.name}") for d in db.session.scalars(
                sa.select(Department).where(Department.active.is_(True)).order_by(Department.code))]
    if kind in (None, MappingKind.status):
        groups[MappingKind.status.label] = [(f"status:{s.value}", f"{s.national_code} — {s.label}")
                                            for s in DossierStatus]
    return groups


class MappingForm(Form):
    source_id = HiddenField()
    external = StringField(_l("Mã trên hệ thống nguồn"), validators=[DataRequired(), Length(max=255)])
    target = SelectField(_l("Tương ứng với"), validators=[DataRequired()])
    submit = SubmitField(_l("Ánh xạ và xử lý lại"))

    def __init__(self, *args, kind: MappingKind | None = None, choices: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.target.choices = choices if choices is not None else target_choices(kind)


class UploadForm(Form):
    source_id = SelectField(_l("Hệ thống nguồn"), coerce=int, validators=[DataRequired()])
    file = FileField(_l("Sổ theo dõi hồ sơ (.xlsx, .csv)"), validators=[FileRequired(_l("Hãy chọn một tệp."))])
    mapping = FileField(_l("Tệp ánh xạ cột (.yaml, không bắt buộc)"),
                        description=_l("Khi sổ dùng tiêu đề cột, tên trạng thái khác mặc định."))
    submit = SubmitField(_l("Nhập sổ"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.source_id.choices = [(s.id, f"{s.code} — {s.name}") for s in sync.sources()]


class EndpointForm(Form):
    name = StringField(_l("Tên"), validators=[DataRequired(), Length(max=255)],
                       render_kw={"placeholder": _l("Hệ thống một cửa điện tử tỉnh")})
    url = StringField(_l("Địa chỉ nhận (https://…)"), validators=[DataRequired(), Length(max=1000)])
    secret = StringField(_l("Khóa bí mật dùng chung"), validators=[DataRequired(), Length(min=16, max=255)],
                         description=_l("Mỗi nội dung gửi đi được ký HMAC-SHA256 bằng khóa này (tiêu đề X-QMS-Signature)."))
    submit = SubmitField(_l("Thêm nơi nhận"))


class ReplayForm(Form):
    """Replay a source's held dossiers: a POST with CSRF, no fields."""


def _replayed(outcomes) -> str:
    taken = sum(1 for o in outcomes if o.result in (sync.CREATED, sync.UPDATED, sync.UNCHANGED))
    return _("Đã xử lý lại %(n)d hồ sơ: %(t)d được tiếp nhận, %(h)d còn chờ.", n=len(outcomes), t=taken,
             h=len(outcomes) - taken)


@bp.get("/sync")
def sync_overview():
    access.require("sync.manage")
    groups, choices = [], {}  # the targets of each kind read once, however many groups
    for source, reason, detail, count, since in sync.held_summary():
        kind = RULE_FOR.get(reason)
        if kind is not None and kind not in choices:
            choices[kind] = target_choices(kind)
        form = (MappingForm(formdata=None, choices=choices[kind], source_id=source.id, external=detail)
                if kind else None)
        groups.append({"source": source, "reason": reason, "detail": detail, "count": count, "since": since,
                       "form": form})
    imports = db.session.scalars(sa.select(RegisterImport).order_by(RegisterImport.id.desc()).limit(10)).all()
    return render_template("admin/sync.html", sources=sync.sources(), groups=groups, rules=sync.mappings(),
                           source_form=SourceForm(), mapping_form=MappingForm(), replay_form=ReplayForm(),
                           upload_form=UploadForm(), imports=imports, endpoint_form=EndpointForm(),
                           endpoints=[(e, outbox.status(e)) for e in outbox.endpoints()],
                           push_failures=outbox.failures(),
                           held=db.session.scalars(sync.held_queue().limit(50)).all(),
                           mismatch_count=db.session.scalar(sa.select(sa.func.count()).select_from(
                               sync.mismatches().subquery())))


@bp.post("/sync/sources")
def sync_source_add():
    access.require("sync.manage")
    form = SourceForm()
    account = db.session.get(User, form.account_id.data) if form.account_id.data else None
    act(lambda: sync.add_source(actor=current_user, code=form.code.data, name=form.name.data, account=account),
        lambda source: _("Đã thêm hệ thống nguồn %(c)s. Cấp mã truy cập cho tài khoản %(u)s ở trang Mã truy cập API.",
                         c=source.code, u=source.account.username), form=form)
    return redirect(url_for(".sync_overview"))


@bp.post("/sync/mappings")
def sync_mapping_add():
    access.require("sync.manage")
    form = MappingForm()
    source = db.session.get(SyncSource, int(form.source_id.data)) if (form.source_id.data or "").isdigit() else None
    kind_name, _sep, value = (form.target.data or "").partition(":")

    def call():
        if source is None:
            raise ValidationError(_("Hãy chọn hệ thống nguồn."))
        kind = MappingKind(kind_name)
        if kind is MappingKind.status:
            return sync.add_mapping(actor=current_user, source=source, kind=kind, external=form.external.data,
                                    status=DossierStatus(value), now=clock.now())
        return sync.add_mapping(actor=current_user, source=source, kind=kind, external=form.external.data,
                                target_id=int(value), now=clock.now())

    act(call, lambda result: _("Đã ánh xạ %(e)s. ", e=result[0].external) + _replayed(result[1]), form=form)
    return redirect(url_for(".sync_overview"))


@bp.post("/sync/endpoints")
def sync_endpoint_add():
    access.require("sync.manage")
    form = EndpointForm()
    act(lambda: outbox.add_endpoint(actor=current_user, name=form.name.data, url=form.url.data,
                                    secret=form.secret.data),
        lambda endpoint: _("Đã thêm nơi nhận %(n)s: các thay đổi trạng thái từ bây giờ được gửi tới đó "
                           "(qms push-events).", n=endpoint.name), form=form)
    return redirect(url_for(".sync_overview"))


@bp.post("/sync/sources/<int:source_id>/replay")
def sync_replay(source_id: int):
    access.require("sync.manage")
    source = db.get_or_404(SyncSource, source_id)
    act(lambda: sync.replay(actor=current_user, source=source, now=clock.now()), _replayed, form=ReplayForm())
    return redirect(url_for(".sync_overview"))


@bp.get("/sync/mismatches")
def sync_mismatches():
    access.require("sync.manage")
    page = db.paginate(sync.mismatches(), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("admin/sync_mismatches.html", page=page, args=request.args.to_dict())


@bp.post("/sync/imports")
def sync_import_upload():
    """Upload a register file: checked now (a file that is not a register is refused with the
    reason), then taken in by a background worker while the next page shows its progress."""
    access.require("sync.manage")
    form = UploadForm()
    source = db.session.get(SyncSource, form.source_id.data) if form.source_id.data else None

    def call():
        mapping = form.mapping.data.read().decode("utf-8", "replace") if form.mapping.data else ""
        return register_import.start_upload(source, form.file.data.filename, form.file.data.read(),
                                            actor=current_user, now=clock.now(), mapping_text=mapping)

    done = act(call, _("Đã nhận tệp; đang nhập."), form=form)
    if not done:
        return redirect(url_for(".sync_overview"))
    background.start_register_import(current_app._get_current_object(), done.value.id)
    return redirect(url_for(".sync_import", import_id=done.value.id))


@bp.get("/sync/imports/<int:import_id>")
def sync_import(import_id: int):
    access.require("sync.manage")
    job = db.get_or_404(RegisterImport, import_id)
    return render_template("admin/sync_import.html", job=job, stalled=register_import.stalled(job, clock.now()),
                           hold_labels=HoldReason.value_labels())
