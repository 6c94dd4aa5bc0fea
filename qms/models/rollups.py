"""Monthly rollups (issue 12): the counts behind the compliance figures, per department and
ended reporting month, computed from the records by `qms rollup` and read by dashboards,
trends, objectives and rankings instead of a year of rows. Derived data, not a quality
record: a month is rebuilt (its rows replaced) whenever asked, and the records stay the
truth (qms.services.rollups; qms.services.metrics.frozen reads them)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qms.models.base import Base, IdMixin


class RollupMonth(IdMixin, Base):
    """A reporting month frozen into the rollup under one basis (the reporting period, the
    timeliness rule and the rollup's version: a change of any is another basis, so rows
    built under the old one are never read under the new)."""

    __tablename__ = "rollup_month"
    __table_args__ = (sa.UniqueConstraint("month", "basis"),)

    month: Mapped[date]  # the reporting month's name: its first calendar day
    basis: Mapped[str] = mapped_column(sa.String(40))
    read_at: Mapped[datetime]  # the moment its figures were read (the month's end)
    built_at: Mapped[datetime]


class MonthlyRollup(Base):
    """One department's counts of one frozen month; a department with nothing to count
    that month has no row (zeros). Dossier counts are of the dossiers it received
    (metrics.dossier_counts' COUNT_KEYS), step counts of the steps it held, nonconformity
    counts of those raised against it."""

    __tablename__ = "monthly_rollup"

    rollup_month_id: Mapped[int] = mapped_column(
        sa.ForeignKey("rollup_month.id", ondelete="CASCADE"), primary_key=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), primary_key=True,
                                               index=True)
    # dossiers (metrics.dossiers.COUNT_KEYS)
    received: Mapped[int] = mapped_column(default=0)
    received_direct: Mapped[int] = mapped_column(default=0)
    received_online: Mapped[int] = mapped_column(default=0)
    received_postal: Mapped[int] = mapped_column(default=0)
    refused: Mapped[int] = mapped_column(default=0)
    carried_over: Mapped[int] = mapped_column(default=0)
    resolved: Mapped[int] = mapped_column(default=0)
    early: Mapped[int] = mapped_column(default=0)
    on_time: Mapped[int] = mapped_column(default=0)
    late: Mapped[int] = mapped_column(default=0)
    late_with_apology: Mapped[int] = mapped_column(default=0)
    in_progress_within: Mapped[int] = mapped_column(default=0)
    in_progress_overdue: Mapped[int] = mapped_column(default=0)
    paused_supplement: Mapped[int] = mapped_column(default=0)
    paused_payment: Mapped[int] = mapped_column(default=0)
    paused_other: Mapped[int] = mapped_column(default=0)
    withdrawn: Mapped[int] = mapped_column(default=0)
    stopped: Mapped[int] = mapped_column(default=0)
    apologies: Mapped[int] = mapped_column(default=0)
    ratings: Mapped[int] = mapped_column(default=0)
    satisfied: Mapped[int] = mapped_column(default=0)
    # steps held (metrics.steps.STEP_COUNT_KEYS)
    steps_completed: Mapped[int] = mapped_column(default=0)
    steps_early: Mapped[int] = mapped_column(default=0)
    steps_on_time: Mapped[int] = mapped_column(default=0)
    steps_late: Mapped[int] = mapped_column(default=0)
    steps_overdue_open: Mapped[int] = mapped_column(default=0)
    # nonconformities (metrics.quality.NC_COUNT_KEYS)
    nc_opened: Mapped[int] = mapped_column(default=0)
    nc_closed: Mapped[int] = mapped_column(default=0)
    nc_rejected: Mapped[int] = mapped_column(default=0)
