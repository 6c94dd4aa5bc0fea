"""Dossiers taken in from another one-stop system (the province's, which pushes each dossier
to the national portal): the source systems, the rules that map their codes to ours, the
dossiers held because a code could not be mapped, and the handling history each synced
dossier brings along (its steps as the source system did them)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.dossiers import Dossier, DossierStatus
from qms.models.org import Agency, Department
from qms.models.procedures import Procedure


class SyncSource(IdMixin, Base):
    """A system whose dossiers are taken in here. Its integration account (one per source)
    is the only one whose token may sync its dossiers; `code` keys them apart, so two
    systems may use the same dossier codes."""

    __tablename__ = "sync_source"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # e.g. "MC-HANOI"
    name: Mapped[str] = mapped_column(sa.String(255))
    account_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    account: Mapped[User] = relationship()


class MappingKind(LabelledEnum):
    """What a source's code stands for here."""

    agency = "agency", _l("Đơn vị (mã định danh điện tử)")  # MaDinhDanh → Agency
    procedure = "procedure", _l("Thủ tục hành chính (mã TTHC)")  # MaTTHC → Procedure
    department = "department", _l("Đơn vị xử lý")  # DonViXuLy → Department
    status = "status", _l("Trạng thái hồ sơ")  # TrangThaiHoSo outside 1–10 → a national one


class SyncMapping(IdMixin, Base):
    """One rule of a source: its `external` code of `kind` is this agency, procedure,
    department or status here. Codes that equal ours need no rule."""

    __tablename__ = "sync_mapping"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("source_id", "kind", "external"),)

    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sync_source.id"), index=True)
    kind: Mapped[MappingKind] = mapped_column(enum_type(MappingKind, 16))
    external: Mapped[str] = mapped_column(sa.String(255))
    agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agency.id"))
    procedure_id: Mapped[int | None] = mapped_column(sa.ForeignKey("procedure.id"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    status: Mapped[DossierStatus | None] = mapped_column(enum_type(DossierStatus))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    source: Mapped[SyncSource] = relationship()
    agency: Mapped[Agency | None] = relationship()
    procedure: Mapped[Procedure | None] = relationship()
    department: Mapped[Department | None] = relationship()
    created_by: Mapped[User | None] = relationship()


class HoldReason(LabelledEnum):
    """Why a synced dossier waits in the held queue instead of being taken in."""

    unknown_procedure = "unknown_procedure", _l("Không xác định được thủ tục")
    unknown_agency = "unknown_agency", _l("Không xác định được đơn vị")
    unknown_status = "unknown_status", _l("Trạng thái hồ sơ không xác định")
    unknown_department = "unknown_department", _l("Không xác định được đơn vị xử lý")
    no_process = "no_process", _l("Thủ tục chưa có quy trình nội bộ được ban hành")
    code_taken = "code_taken", _l("Mã hồ sơ trùng với hồ sơ khác")


class HeldDossier(IdMixin, Base):
    """A synced dossier that could not be mapped: its payload kept as sent, with the reason
    and the code that failed, until someone maps the code and replays it. One row per
    source and dossier code; a newer payload of the same dossier replaces the held one.
    Released rows stay (the record of what was held and why)."""

    __tablename__ = "held_dossier"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("source_id", "code"),
                      sa.Index("ix_held_dossier_open", "released_at", "reason"))

    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sync_source.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(64))  # MaHoSo
    payload: Mapped[dict] = mapped_column(sa.JSON)
    reason: Mapped[HoldReason] = mapped_column(enum_type(HoldReason, 32))
    detail: Mapped[str] = mapped_column(sa.String(255), default="")  # the code that failed
    held_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_seen_at: Mapped[datetime] = mapped_column(default=clock.now)
    released_at: Mapped[datetime | None]
    released_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    dossier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dossier.id"))

    source: Mapped[SyncSource] = relationship()
    released_by: Mapped[User | None] = relationship()
    dossier: Mapped[Dossier | None] = relationship()


class HistoryEntry(IdMixin, Base):
    """One entry of a synced dossier's handling history (QuaTrinhXuLyHoSo), as the source
    system recorded it: appended, never changed."""

    __tablename__ = "dossier_history"
    __table_args__ = (sa.UniqueConstraint("dossier_id", "digest"),)

    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), index=True)
    position: Mapped[int]
    # A hash of what the source sent, so a replayed entry is recognised and not doubled
    digest: Mapped[str] = mapped_column(sa.String(32))
    at: Mapped[datetime]  # ThoiDiemXuLy
    person: Mapped[str] = mapped_column(sa.String(255), default="")  # NguoiXuLy
    content: Mapped[str] = mapped_column(sa.Text, default="")  # NoiDungXuLy
    status_code: Mapped[int | None]  # TrangThai (national code)
    due_by_rule: Mapped[datetime | None]  # NgayKetThucTheoQuyDinh

    dossier: Mapped[Dossier] = relationship()


class ImportStatus(LabelledEnum):
    running = "running", _l("Đang nhập")
    done = "done", _l("Đã nhập xong")
    failed = "failed", _l("Không nhập được")


class RegisterImport(IdMixin, Base):
    """A register file uploaded on the sync page, taken in batch by batch in the background:
    how far it is, and what came of it. The file stays under <instance>/imports/ (what was
    imported, and by whom, is kept); each dossier it changed is in the audit log under the
    uploader's name."""

    __tablename__ = "register_import"

    source_id: Mapped[int] = mapped_column(sa.ForeignKey("sync_source.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))  # as uploaded
    storage_name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    mapping: Mapped[str] = mapped_column(sa.Text, default="")  # the mapping file's text, if any
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)
    status: Mapped[ImportStatus] = mapped_column(enum_type(ImportStatus, 16))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    progressed_at: Mapped[datetime] = mapped_column(default=clock.now)
    summary: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    error: Mapped[str] = mapped_column(sa.Text, default="")
    finished_at: Mapped[datetime | None]

    source: Mapped[SyncSource] = relationship()
    uploaded_by: Mapped[User] = relationship()
