"""Tokens for integration accounts calling the JSON API (stored hashed, never shown again)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin


class ApiToken(IdMixin, Base):
    """A bearer token acting as `user`. Only a SHA-256 of the token is kept (tokens are long
    random strings, so a fast hash suffices); `prefix` lets people tell tokens apart."""

    __tablename__ = "api_token"
    __audited__ = True
    __audit_secret__ = ("token_hash",)

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(128))  # e.g. "Cổng dịch vụ công tỉnh"
    prefix: Mapped[str] = mapped_column(sa.String(16))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]  # revoked, never deleted
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])
