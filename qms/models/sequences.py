"""Numbering scopes for the quality records' codes (NC-2026-0017, CAR-…, ĐG-…)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from qms.models.base import Base


class CodeSequence(Base):
    """The last number given in a numbering scope, e.g. "NC-2026" → 17 (NC-2026-0017)."""

    __tablename__ = "code_sequence"

    scope: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
