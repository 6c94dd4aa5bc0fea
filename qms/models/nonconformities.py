"""Nonconformities (sự không phù hợp, DESIGN flow 3): raised by hand, from an audit
finding, a complaint, a management review, or automatically by an overdue step or dossier."""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.dossiers import Dossier, DossierStep
from qms.models.org import Department
from qms.models.procedures import Procedure

if TYPE_CHECKING:  # relationships across modules, resolved by name at mapping time
    from qms.models.audits import Audit, Finding
    from qms.models.corrective_actions import CorrectiveAction
    from qms.models.feedback import Feedback
    from qms.models.management_reviews import ManagementReview


class NcSource(LabelledEnum):
    manual = "manual", _l("Phát hiện trực tiếp")
    audit_finding = "audit_finding", _l("Đánh giá nội bộ")
    overdue_step = "overdue_step", _l("Bước xử lý quá hạn")
    overdue_dossier = "overdue_dossier", _l("Hồ sơ quá hạn")
    late_apology = "late_apology", _l("Xin lỗi chậm")
    complaint = "complaint", _l("Phản ánh, kiến nghị")
    management_review = "management_review", _l("Xem xét của lãnh đạo")


class Severity(LabelledEnum):
    major = "major", _l("Nặng")
    minor = "minor", _l("Nhẹ")


class NcStatus(LabelledEnum):
    open = "open", _l("Mới ghi nhận")
    under_analysis = "under_analysis", _l("Đang phân tích nguyên nhân")
    action_planned = "action_planned", _l("Đã lập kế hoạch khắc phục")
    verifying = "verifying", _l("Đang xác nhận hiệu lực")
    closed = "closed", _l("Đã đóng")
    rejected = "rejected", _l("Không chấp nhận")


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
