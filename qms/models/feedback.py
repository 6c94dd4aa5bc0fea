"""Citizens' feedback (phản ánh, kiến nghị) and satisfaction ratings."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.dossiers import Dossier
from qms.models.org import Agency, Department
from qms.models.procedures import Procedure


class FeedbackKind(LabelledEnum):
    complaint = "complaint", _l("Phản ánh")  # phản ánh
    recommendation = "recommendation", _l("Kiến nghị")  # kiến nghị


class FeedbackStatus(LabelledEnum):
    received = "received", _l("Mới tiếp nhận")
    assigned = "assigned", _l("Đang xử lý")
    answered = "answered", _l("Đã trả lời")


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


class SatisfactionLevel(LabelledEnum):
    very_satisfied = "very_satisfied", _l("Rất hài lòng")
    satisfied = "satisfied", _l("Hài lòng")
    neutral = "neutral", _l("Bình thường")
    dissatisfied = "dissatisfied", _l("Không hài lòng")
    very_dissatisfied = "very_dissatisfied", _l("Rất không hài lòng")


class SatisfactionRating(IdMixin, Base):
    """The applicant's rating of a returned dossier: one per dossier."""

    __tablename__ = "satisfaction_rating"
    __audited__ = True

    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), unique=True)
    level: Mapped[SatisfactionLevel] = mapped_column(enum_type(SatisfactionLevel, 20))
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    rated_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)

    dossier: Mapped[Dossier] = relationship()
