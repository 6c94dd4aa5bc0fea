"""In-app notifications (escalation of steps due soon or overdue), optionally emailed."""
from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, enum_type
from qms.models.dossiers import DossierStep


class NotificationKind(enum.Enum):
    step_due_soon = "step_due_soon"  # to the officers holding the step
    step_overdue = "step_overdue"  # to the head of the department holding it
    step_overdue_escalated = "step_overdue_escalated"  # to the quality officers, past a margin


class Notification(IdMixin, Base):
    """One message to one user. Unique per (user, kind, step): escalation runs again and
    again (cron, page loads) and must never notify twice."""

    __tablename__ = "notification"
    __table_args__ = (sa.UniqueConstraint("user_id", "kind", "step_id"),)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(enum_type(NotificationKind))
    step_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dossier_step.id"), index=True)
    message: Mapped[str] = mapped_column(sa.Text)
    link: Mapped[str] = mapped_column(sa.String(255), default="")
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()
    step: Mapped[DossierStep | None] = relationship()
