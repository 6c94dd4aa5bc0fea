"""Monthly compliance reviews (DESIGN flow 6) and the measurable quality objectives."""
from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, enum_type
from qms.models.documents import Document
from qms.models.org import Agency, Department


class MonthlyReviewStatus(enum.Enum):
    open = "open"
    signed = "signed"


class MonthlyReview(IdMixin, Base):
    """One department's month: the head's comments and actions, and once signed a frozen
    snapshot of the figures (later changes to the records never alter it)."""

    __tablename__ = "monthly_review"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("department_id", "month"),)

    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    month: Mapped[date]  # the first day of the month
    status: Mapped[MonthlyReviewStatus] = mapped_column(enum_type(MonthlyReviewStatus, 16),
                                                        default=MonthlyReviewStatus.open, index=True)
    comments: Mapped[str] = mapped_column(sa.Text, default="")
    actions: Mapped[str] = mapped_column(sa.Text, default="")
    snapshot: Mapped[dict | None] = mapped_column(sa.JSON)  # the figures as signed
    opened_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(default=clock.now)
    signed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    signed_at: Mapped[datetime | None]

    department: Mapped[Department] = relationship()
    opened_by: Mapped[User | None] = relationship(foreign_keys=[opened_by_id])
    signed_by: Mapped[User | None] = relationship(foreign_keys=[signed_by_id])


class ObjectiveComparison(enum.Enum):
    at_least = "at_least"  # met when measured ≥ target (e.g. on-time rate ≥ 98 %)
    at_most = "at_most"  # met when measured ≤ target (e.g. late dossiers ≤ 1 %)


class QualityObjective(IdMixin, Base):
    """A measurable quality objective (mục tiêu chất lượng) for a year: an indicator the
    system computes (e.g. "on_time_rate"), a target and how to compare, for an agency or
    one of its departments; optionally the objectives document it comes from."""

    __tablename__ = "quality_objective"
    __audited__ = True

    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    year: Mapped[int] = mapped_column(index=True)
    title: Mapped[str] = mapped_column(sa.Text)
    indicator: Mapped[str] = mapped_column(sa.String(64))  # a key of the metrics service
    comparison: Mapped[ObjectiveComparison] = mapped_column(enum_type(ObjectiveComparison, 16))
    target: Mapped[float]
    document_id: Mapped[int | None] = mapped_column(sa.ForeignKey("document.id"))
    active: Mapped[bool] = mapped_column(default=True)  # retired, never deleted
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    agency: Mapped[Agency] = relationship()
    department: Mapped[Department | None] = relationship()
    document: Mapped[Document | None] = relationship()
