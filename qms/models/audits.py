"""Internal audits (ISO 9001:2015 §9.2, DESIGN flow 4): programmes, audits with their
scope and team, checklists with evidence, findings."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.org import Agency, Department
from qms.models.procedures import Procedure

if TYPE_CHECKING:  # relationships across modules, resolved by name at mapping time
    from qms.models.nonconformities import Nonconformity


class AuditProgramme(IdMixin, Base):
    """The yearly internal audit programme of an agency."""

    __tablename__ = "audit_programme"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("agency_id", "year"),)

    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    year: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(255))
    objectives: Mapped[str] = mapped_column(sa.Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    agency: Mapped[Agency] = relationship()
    audits: Mapped[list[Audit]] = relationship(back_populates="programme", order_by="Audit.planned_start")


class AuditStatus(LabelledEnum):
    planned = "planned", _l("Đã lập kế hoạch")
    in_progress = "in_progress", _l("Đang đánh giá")
    reported = "reported", _l("Đã báo cáo")
    closed = "closed", _l("Đã kết thúc")


audit_department = sa.Table(
    "audit_department", Base.metadata,
    sa.Column("audit_id", sa.ForeignKey("audit.id"), primary_key=True),
    sa.Column("department_id", sa.ForeignKey("department.id"), primary_key=True),
)
audit_procedure = sa.Table(
    "audit_procedure", Base.metadata,
    sa.Column("audit_id", sa.ForeignKey("audit.id"), primary_key=True),
    sa.Column("procedure_id", sa.ForeignKey("procedure.id"), primary_key=True),
)
audit_team = sa.Table(  # the auditors besides the lead
    "audit_team", Base.metadata,
    sa.Column("audit_id", sa.ForeignKey("audit.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("user_account.id"), primary_key=True),
)


class Audit(IdMixin, Base):
    """One internal audit: scope (departments, procedures, ISO clauses), criteria, dates,
    lead auditor and team. An auditor never audits their own department."""

    __tablename__ = "audit"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # ĐG-2026-01
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("audit_programme.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(255))
    clauses: Mapped[list] = mapped_column(sa.JSON, default=list)  # ["7.5", "8.5.1", ...]
    criteria: Mapped[str] = mapped_column(sa.Text, default="")
    planned_start: Mapped[date]
    planned_end: Mapped[date]
    lead_auditor_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    status: Mapped[AuditStatus] = mapped_column(enum_type(AuditStatus), default=AuditStatus.planned,
                                                index=True)
    started_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    summary: Mapped[str] = mapped_column(sa.Text, default="")  # conclusions of the report
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    programme: Mapped[AuditProgramme] = relationship(back_populates="audits")
    lead_auditor: Mapped[User] = relationship(foreign_keys=[lead_auditor_id])
    team: Mapped[list[User]] = relationship(secondary=audit_team, order_by="User.full_name")
    departments: Mapped[list[Department]] = relationship(secondary=audit_department,
                                                         order_by="Department.code")
    procedures: Mapped[list[Procedure]] = relationship(secondary=audit_procedure,
                                                       order_by="Procedure.code")
    items: Mapped[list[ChecklistItem]] = relationship(back_populates="audit",
                                                      order_by="ChecklistItem.position")
    findings: Mapped[list[Finding]] = relationship(back_populates="audit", order_by="Finding.id")
    nonconformities: Mapped[list[Nonconformity]] = relationship(back_populates="audit",
                                                                order_by="Nonconformity.id")


class ChecklistResult(LabelledEnum):
    conform = "conform", _l("Phù hợp")
    nonconform = "nonconform", _l("Không phù hợp")
    observation = "observation", _l("Cần lưu ý")
    not_applicable = "not_applicable", _l("Không áp dụng")


class ChecklistItem(IdMixin, Base):
    """One line of an audit's checklist: a clause (and procedure) to check, its answer and
    the evidence (text, sampled dossiers, files)."""

    __tablename__ = "checklist_item"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("audit_id", "position"),)

    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    position: Mapped[int]
    clause: Mapped[str] = mapped_column(sa.String(16), default="")
    procedure_id: Mapped[int | None] = mapped_column(sa.ForeignKey("procedure.id"))
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    question: Mapped[str] = mapped_column(sa.Text)
    result: Mapped[ChecklistResult | None] = mapped_column(enum_type(ChecklistResult, 16))
    evidence: Mapped[str] = mapped_column(sa.Text, default="")
    sampled_dossiers: Mapped[list] = mapped_column(sa.JSON, default=list)  # dossier codes
    answered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    answered_at: Mapped[datetime | None]

    audit: Mapped[Audit] = relationship(back_populates="items")
    procedure: Mapped[Procedure | None] = relationship()
    department: Mapped[Department | None] = relationship()
    answered_by: Mapped[User | None] = relationship()
    files: Mapped[list[EvidenceFile]] = relationship(back_populates="item", order_by="EvidenceFile.id")


class EvidenceFile(IdMixin, Base):
    """A file attached as audit evidence (PDF, DOCX, XLSX), stored like other attachments."""

    __tablename__ = "evidence_file"
    __audited__ = True

    item_id: Mapped[int] = mapped_column(sa.ForeignKey("checklist_item.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))
    storage_name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    media_type: Mapped[str] = mapped_column(sa.String(128))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)

    item: Mapped[ChecklistItem] = relationship(back_populates="files")
    uploaded_by: Mapped[User] = relationship()


class FindingKind(LabelledEnum):
    major_nc = "major_nc", _l("Không phù hợp nặng")
    minor_nc = "minor_nc", _l("Không phù hợp nhẹ")
    observation = "observation", _l("Điểm cần lưu ý")
    improvement = "improvement", _l("Cơ hội cải tiến")  # opportunity for improvement


class Finding(IdMixin, Base):
    __tablename__ = "finding"
    __audited__ = True

    audit_id: Mapped[int] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("checklist_item.id"))
    kind: Mapped[FindingKind] = mapped_column(enum_type(FindingKind, 16))
    clause: Mapped[str] = mapped_column(sa.String(16), default="")
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"))
    procedure_id: Mapped[int | None] = mapped_column(sa.ForeignKey("procedure.id"))
    description: Mapped[str] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=clock.now)

    audit: Mapped[Audit] = relationship(back_populates="findings")
    item: Mapped[ChecklistItem | None] = relationship()
    department: Mapped[Department] = relationship()
    procedure: Mapped[Procedure | None] = relationship()
    recorded_by: Mapped[User | None] = relationship()
    nonconformity: Mapped[Nonconformity | None] = relationship(back_populates="finding")
