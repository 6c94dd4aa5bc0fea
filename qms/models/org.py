"""Organisation: agencies (a tree), their departments, and the fields of procedures."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.models.base import Base, IdMixin, LabelledEnum


class AgencyLevel(LabelledEnum):
    province = "province", _l("Tỉnh / thành phố")  # tỉnh / thành phố trực thuộc trung ương
    # huyện: only for records before the 1 July 2025 two-tier reform
    district = "district", _l("Huyện (trước 01/7/2025)")
    commune = "commune", _l("Xã / phường / đặc khu")  # xã / phường / đặc khu


class Agency(IdMixin, Base):
    """Cơ quan, đơn vị. A tree of any depth; merged agencies keep their row and history."""

    __tablename__ = "agency"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    level: Mapped[AgencyLevel] = mapped_column(
        sa.Enum(AgencyLevel, native_enum=False, length=16, validate_strings=True)
    )
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    effective_from: Mapped[date]
    effective_to: Mapped[date | None]
    # The agency this one was merged into (sáp nhập); its records stay its own.
    successor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agency.id"))
    # "07:00-11:30, 13:30-17:00"; None: the parent's, and at the top the default.
    working_hours: Mapped[str | None] = mapped_column(sa.String(64))

    parent: Mapped[Agency | None] = relationship(
        remote_side="Agency.id", foreign_keys=[parent_id], back_populates="children"
    )
    children: Mapped[list[Agency]] = relationship(
        foreign_keys=[parent_id], back_populates="parent", order_by="Agency.code"
    )
    successor: Mapped[Agency | None] = relationship(remote_side="Agency.id", foreign_keys=[successor_id])
    departments: Mapped[list[Department]] = relationship(
        back_populates="agency", order_by="Department.code"
    )

    def is_effective_on(self, day: date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)

    def ancestors(self) -> list[Agency]:
        chain, node = [], self.parent
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def province(self) -> Agency:
        """The top of its tree (the province: dossiers are received anywhere within it)."""
        chain = self.ancestors()
        return chain[-1] if chain else self

    def __str__(self) -> str:
        return self.name


class Department(IdMixin, Base):
    """Phòng, ban chuyên môn; the one-stop office is flagged with `is_one_stop`."""

    __tablename__ = "department"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    is_one_stop: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)

    agency: Mapped[Agency] = relationship(back_populates="departments")

    def __str__(self) -> str:
        return self.name


class Field(IdMixin, Base):
    """Lĩnh vực: the field an administrative procedure belongs to."""

    __tablename__ = "field"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(255))
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.name
