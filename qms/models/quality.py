"""The ISO 9001 improvement loop (DESIGN flows 3–5): nonconformities, internal audits,
corrective actions, citizens' feedback and management reviews."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, enum_type
from qms.models.dossiers import Dossier, DossierStep
from qms.models.org import Agency, Department
from qms.models.procedures import Procedure


class CodeSequence(Base):
    """The last number given in a numbering scope, e.g. "NC-2026" → 17 (NC-2026-0017)."""

    __tablename__ = "code_sequence"

    scope: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


# --- nonconformities ------------------------------------------------------------------------
class NcSource(enum.Enum):
    manual = "manual"
    audit_finding = "audit_finding"
    overdue_step = "overdue_step"
    overdue_dossier = "overdue_dossier"
    complaint = "complaint"
    management_review = "management_review"


class Severity(enum.Enum):
    major = "major"
    minor = "minor"


class NcStatus(enum.Enum):
    open = "open"
    under_analysis = "under_analysis"
    action_planned = "action_planned"
    verifying = "verifying"
    closed = "closed"
    rejected = "rejected"


NC_SOURCE_LABELS = {
    NcSource.manual: _l("Phát hiện trực tiếp"),
    NcSource.audit_finding: _l("Đánh giá nội bộ"),
    NcSource.overdue_step: _l("Bước xử lý quá hạn"),
    NcSource.overdue_dossier: _l("Hồ sơ quá hạn"),
    NcSource.complaint: _l("Phản ánh, kiến nghị"),
    NcSource.management_review: _l("Xem xét của lãnh đạo"),
}
NC_STATUS_LABELS = {
    NcStatus.open: _l("Mới ghi nhận"),
    NcStatus.under_analysis: _l("Đang phân tích nguyên nhân"),
    NcStatus.action_planned: _l("Đã lập kế hoạch khắc phục"),
    NcStatus.verifying: _l("Đang xác nhận hiệu lực"),
    NcStatus.closed: _l("Đã đóng"),
    NcStatus.rejected: _l("Không chấp nhận"),
}
SEVERITY_LABELS = {Severity.major: _l("Nặng"), Severity.minor: _l("Nhẹ")}


class Nonconformity(IdMixin, Base):
    """Sự không phù hợp. `origin_key` makes automatic raising idempotent: one nonconformity
    per overdue step ("step:<id>") or overdue dossier ("dossier:<id>"), even when two runs
    race (a unique index, not a check in Python)."""

    __tablename__ = "nonconformity"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # NC-2026-0001
    source: Mapped[NcSource] = mapped_column(enum_type(NcSource), index=True)
    origin_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    clause: Mapped[str] = mapped_column(sa.String(16), default="")  # ISO 9001:2015, e.g. "8.5.1"
    severity: Mapped[Severity] = mapped_column(enum_type(Severity, 16))
    description: Mapped[str] = mapped_column(sa.Text)
    correction: Mapped[str] = mapped_column(sa.Text, default="")  # immediate correction
    detected_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))  # None: the system
    detected_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    status: Mapped[NcStatus] = mapped_column(enum_type(NcStatus), index=True, default=NcStatus.open)
    rejected_reason: Mapped[str] = mapped_column(sa.Text, default="")
    closed_at: Mapped[datetime | None]
    # The record it comes from
    dossier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dossier.id"), index=True)
    dossier_step_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dossier_step.id"), index=True)
    procedure_id: Mapped[int | None] = mapped_column(sa.ForeignKey("procedure.id"), index=True)
    audit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("audit.id"), index=True)
    finding_id: Mapped[int | None] = mapped_column(sa.ForeignKey("finding.id"), index=True)
    feedback_id: Mapped[int | None] = mapped_column(sa.ForeignKey("feedback.id"), index=True)
    review_id: Mapped[int | None] = mapped_column(sa.ForeignKey("management_review.id"), index=True)
    corrective_action_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("corrective_action.id"), index=True)

    department: Mapped[Department] = relationship()
    detected_by: Mapped[User | None] = relationship()
    dossier: Mapped[Dossier | None] = relationship()
    dossier_step: Mapped[DossierStep | None] = relationship()
    procedure: Mapped[Procedure | None] = relationship()
    audit: Mapped[Audit | None] = relationship(back_populates="nonconformities")
    finding: Mapped[Finding | None] = relationship(back_populates="nonconformity")
    feedback: Mapped[Feedback | None] = relationship()
    review: Mapped[ManagementReview | None] = relationship()
    corrective_action: Mapped[CorrectiveAction | None] = relationship(back_populates="nonconformities")


# --- internal audits ---------------------------------------------------------------------------
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


class AuditStatus(enum.Enum):
    planned = "planned"
    in_progress = "in_progress"
    reported = "reported"
    closed = "closed"


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


class ChecklistResult(enum.Enum):
    conform = "conform"
    nonconform = "nonconform"
    observation = "observation"
    not_applicable = "not_applicable"


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


class FindingKind(enum.Enum):
    major_nc = "major_nc"
    minor_nc = "minor_nc"
    observation = "observation"
    improvement = "improvement"  # opportunity for improvement


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


# --- corrective actions ------------------------------------------------------------------------
class CarStatus(enum.Enum):
    analysis = "analysis"  # correction and root cause being written
    action_planned = "action_planned"  # action items set, being carried out
    verifying = "verifying"  # actions done, awaiting the effectiveness check
    closed = "closed"


class CorrectiveAction(IdMixin, Base):
    """Phiếu yêu cầu hành động khắc phục (CAR): answers one or more nonconformities."""

    __tablename__ = "corrective_action"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # CAR-2026-0001
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    status: Mapped[CarStatus] = mapped_column(enum_type(CarStatus), default=CarStatus.analysis, index=True)
    correction: Mapped[str] = mapped_column(sa.Text, default="")  # the correction already taken
    whys: Mapped[list] = mapped_column(sa.JSON, default=list)  # 5 whys, in order
    root_cause: Mapped[str] = mapped_column(sa.Text, default="")
    due_date: Mapped[date | None]  # when the actions should be done
    check_date: Mapped[date | None]  # planned effectiveness check
    verifier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    actions_done_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    department: Mapped[Department] = relationship()
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    verifier: Mapped[User | None] = relationship(foreign_keys=[verifier_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    nonconformities: Mapped[list[Nonconformity]] = relationship(back_populates="corrective_action",
                                                                order_by="Nonconformity.id")
    items: Mapped[list[ActionItem]] = relationship(back_populates="corrective_action",
                                                   order_by="ActionItem.position")
    verifications: Mapped[list[Verification]] = relationship(back_populates="corrective_action",
                                                             order_by="Verification.id")


class ActionItem(IdMixin, Base):
    __tablename__ = "action_item"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("corrective_action_id", "position"),)

    corrective_action_id: Mapped[int] = mapped_column(sa.ForeignKey("corrective_action.id"), index=True)
    position: Mapped[int]
    description: Mapped[str] = mapped_column(sa.Text)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    due_date: Mapped[date]
    done_at: Mapped[datetime | None]
    evidence: Mapped[str] = mapped_column(sa.Text, default="")

    corrective_action: Mapped[CorrectiveAction] = relationship(back_populates="items")
    owner: Mapped[User] = relationship()


class Verification(IdMixin, Base):
    """One effectiveness check. Not effective sends the CAR back to analysis; the reason
    stays here."""

    __tablename__ = "verification"
    __audited__ = True

    corrective_action_id: Mapped[int] = mapped_column(sa.ForeignKey("corrective_action.id"), index=True)
    verifier_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    effective: Mapped[bool]
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # The measured evidence shown to the verifier (late rates before / since), as it was
    measurement: Mapped[dict | None] = mapped_column(sa.JSON)

    corrective_action: Mapped[CorrectiveAction] = relationship(back_populates="verifications")
    verifier: Mapped[User] = relationship()


# --- citizens' feedback ------------------------------------------------------------------------
class FeedbackKind(enum.Enum):
    complaint = "complaint"  # phản ánh
    recommendation = "recommendation"  # kiến nghị


class FeedbackStatus(enum.Enum):
    received = "received"
    assigned = "assigned"
    answered = "answered"


class Feedback(IdMixin, Base):
    """A citizen's complaint or recommendation (ISO 9001:2015 §9.1.2), with its handling."""

    __tablename__ = "feedback"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # PAKN-2026-0001
    kind: Mapped[FeedbackKind] = mapped_column(enum_type(FeedbackKind, 16))
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    dossier_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dossier.id"))
    procedure_id: Mapped[int | None] = mapped_column(sa.ForeignKey("procedure.id"))
    name: Mapped[str] = mapped_column(sa.String(255))
    contact: Mapped[str] = mapped_column(sa.String(255), default="")  # phone or email
    content: Mapped[str] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    due_at: Mapped[datetime]  # the handling deadline
    status: Mapped[FeedbackStatus] = mapped_column(enum_type(FeedbackStatus, 16),
                                                   default=FeedbackStatus.received, index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    response: Mapped[str] = mapped_column(sa.Text, default="")
    responded_at: Mapped[datetime | None]
    responded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    agency: Mapped[Agency] = relationship()
    dossier: Mapped[Dossier | None] = relationship()
    procedure: Mapped[Procedure | None] = relationship()
    department: Mapped[Department | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    responded_by: Mapped[User | None] = relationship(foreign_keys=[responded_by_id])


class SatisfactionLevel(enum.Enum):
    very_satisfied = "very_satisfied"
    satisfied = "satisfied"
    neutral = "neutral"
    dissatisfied = "dissatisfied"
    very_dissatisfied = "very_dissatisfied"


class SatisfactionRating(IdMixin, Base):
    """The applicant's rating of a returned dossier: one per dossier."""

    __tablename__ = "satisfaction_rating"
    __audited__ = True

    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), unique=True)
    level: Mapped[SatisfactionLevel] = mapped_column(enum_type(SatisfactionLevel, 20))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    rated_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)

    dossier: Mapped[Dossier] = relationship()


# --- management review -------------------------------------------------------------------------
class ManagementReview(IdMixin, Base):
    """Xem xét của lãnh đạo (ISO 9001:2015 §9.3): inputs gathered from the system (kept as
    they were on the day), the leaders' conclusions and decided actions."""

    __tablename__ = "management_review"
    __audited__ = True

    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    held_on: Mapped[date]
    title: Mapped[str] = mapped_column(sa.String(255))
    period_start: Mapped[date]
    period_end: Mapped[date]
    chair_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    attendees: Mapped[str] = mapped_column(sa.Text, default="")
    inputs: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # the figures, gathered
    risks: Mapped[str] = mapped_column(sa.Text, default="")  # open risks and opportunities
    conclusions: Mapped[str] = mapped_column(sa.Text, default="")
    closed_at: Mapped[datetime | None]  # recorded and closed: frozen
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    agency: Mapped[Agency] = relationship()
    chair: Mapped[User | None] = relationship(foreign_keys=[chair_id])
    actions: Mapped[list[ReviewAction]] = relationship(back_populates="review",
                                                       order_by="ReviewAction.id")


class ReviewAction(IdMixin, Base):
    __tablename__ = "review_action"
    __audited__ = True

    review_id: Mapped[int] = mapped_column(sa.ForeignKey("management_review.id"), index=True)
    description: Mapped[str] = mapped_column(sa.Text)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    due_date: Mapped[date]
    done_at: Mapped[datetime | None]

    review: Mapped[ManagementReview] = relationship(back_populates="actions")
    owner: Mapped[User] = relationship()
