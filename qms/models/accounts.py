"""Users and their roles."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from qms import clock
from qms.models.base import Base, IdMixin, LabelledEnum
from qms.models.org import Department


class Role(LabelledEnum):
    admin = "admin", _l("Quản trị hệ thống")
    quality_officer = "quality_officer", _l("Cán bộ ISO")
    officer = "officer", _l("Cán bộ, công chức")
    department_head = "department_head", _l("Trưởng phòng")
    leader = "leader", _l("Lãnh đạo")
    auditor = "auditor", _l("Chuyên gia đánh giá")


class UserRole(Base):
    __tablename__ = "user_role"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(
        sa.Enum(Role, native_enum=False, length=32, validate_strings=True), primary_key=True
    )


def new_session_token() -> str:
    return secrets.token_urlsafe(24)


class User(IdMixin, Base):
    """A person who logs in. Never deleted: deactivation ends access, records keep the name."""

    __tablename__ = "user_account"  # "user" is reserved on PostgreSQL
    __audited__ = True
    __audit_secret__ = ("password_hash", "session_token")

    username: Mapped[str] = mapped_column(sa.String(64), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(255))
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    # Part of the login cookie: changing it (password change, deactivation) ends every
    # other session of this user.
    session_token: Mapped[str] = mapped_column(sa.String(64), default=new_session_token)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    password_changed_at: Mapped[datetime | None]

    department: Mapped[Department] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by=UserRole.role
    )

    # --- flask-login protocol -------------------------------------------------------
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    # The browser login this object was loaded for or logged in with (not a column).
    login_key = None

    def get_id(self) -> str:
        # "user:token:browser": the user's token ends every session at once (password
        # change, deactivation); the browser's key ends this one only (logout).
        return f"{self.id}:{self.session_token}:{self.login_key or ''}"

    # --- roles and passwords ----------------------------------------------------------
    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(row.role for row in self.role_rows)

    def has_role(self, *roles: Role) -> bool:
        return not self.roles.isdisjoint(roles)

    def set_password(self, password: str) -> None:
        # scrypt (the default): memory-hard, no 72-byte limit like bcrypt. The method is a
        # setting only so that the test suite can hash thousands of passwords quickly.
        method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.session_token = new_session_token()
        self.password_changed_at = clock.now()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __str__(self) -> str:
        return self.full_name or self.username


def login_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class LoginSession(IdMixin, Base):
    """One browser's login. Its random key travels in the (signed) session and remember-me
    cookies; logging out ends it, so a copy of those cookies taken before is refused.
    Only a hash of the key is stored, as with API tokens."""

    __tablename__ = "login_session"

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    started_at: Mapped[datetime] = mapped_column(default=clock.now)
    ended_at: Mapped[datetime | None]
    address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(255))

    user: Mapped[User] = relationship()
