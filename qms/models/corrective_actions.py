"""Corrective actions (CAR, ISO 9001:2015 §10.2, DESIGN flow 5): root cause, action
items, effectiveness checks."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.org import Department

if TYPE_CHECKING:  # relationships across modules, resolved by name at mapping time
    from qms.models.nonconformities import Nonconformity


class CarStatus(LabelledEnum):
    # correction and root cause being written
    analysis = "analysis", _l("Đang phân tích nguyên nhân")
    # action items set, being carried out
    action_planned = "action_planned", _l("Đang thực hiện hành động")
    # actions done, awaiting the effectiveness check
    verifying = "verifying", _l("Chờ xác nhận hiệu lực")
    closed = "closed", _l("Đã đóng")


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
