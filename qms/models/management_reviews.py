"""Management review (xem xét của lãnh đạo, ISO 9001:2015 §9.3) and its actions."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin
from qms.models.org import Agency


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
