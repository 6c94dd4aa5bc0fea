"""Local changes to the national working calendar, and each agency's working hours."""
from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.models.base import Base, IdMixin, enum_type
from qms.models.org import Agency


class DayKind(enum.Enum):
    day_off = "day_off"  # an extra day off (nghỉ bù, a swapped day)
    working_day = "working_day"  # a make-up working day (làm bù), usually a Saturday


class CalendarOverride(IdMixin, Base):
    """A province's (or any agency's) decision about one day; it applies to the agency and
    the agencies under it, and wins over the national calendar. Deactivated, never deleted."""

    __tablename__ = "calendar_override"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("agency_id", "day"),)

    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    day: Mapped[date]
    kind: Mapped[DayKind] = mapped_column(enum_type(DayKind, 16))
    reason: Mapped[str] = mapped_column(sa.Text, default="")  # e.g. the province's notice
    active: Mapped[bool] = mapped_column(default=True)

    agency: Mapped[Agency] = relationship()
