"""Accounts: creating, editing, deactivating users, passwords and login."""
from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from flask_babel import gettext as _

from qms import authz
from qms.errors import Conflict, Forbidden, NotFound, ValidationError
from qms.extensions import db
from qms.models import Department, LoginSession, Role, User, UserRole
from qms.models.accounts import login_key_hash, new_session_token
from qms.services import audit_log

MIN_PASSWORD_LENGTH = 10
# A few passwords seen in every breach list; length and variety rules catch the rest.
COMMON_PASSWORDS = {
    "1234567890", "12345678910", "0123456789", "qwertyuiop", "password123", "matkhau123",
    "abc1234567", "admin12345", "iloveyou123", "1111111111", "123456789a", "a123456789",
}


def check_password_strength(password: str, *, username: str = "") -> None:
    """Rule: at least 10 characters, letters and something else, not the user name, not a
    well-known password. Raises ValidationError saying which rule failed."""
    password = unicodedata.normalize("NFC", password)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(_("Mật khẩu phải có ít nhất %(n)d ký tự.", n=MIN_PASSWORD_LENGTH))
    if password.strip() != password:
        raise ValidationError(_("Mật khẩu không được bắt đầu hoặc kết thúc bằng khoảng trắng."))
    has_letter = any(c.isalpha() for c in password)
    has_other = any(not c.isalpha() for c in password)
    if not (has_letter and has_other):
        raise ValidationError(_("Mật khẩu phải có cả chữ cái và chữ số hoặc ký hiệu."))
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) < 4:
        raise ValidationError(_("Mật khẩu quá dễ đoán."))
    if username and username.lower() in lowered:
        raise ValidationError(_("Mật khẩu không được chứa tên đăng nhập."))


def normalise_username(username: str) -> str:
    username = (username or "").strip().lower()
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username) \
            or not username.isascii():
        raise ValidationError(
            _("Tên đăng nhập chỉ gồm chữ cái không dấu, chữ số và . _ - (tối đa 64 ký tự)."))
    return username


def get_user_by_username(username: str) -> User | None:
    return db.session.scalar(sa.select(User).where(User.username == username.strip().lower()))


def department_by_code(code: str) -> Department:
    department = db.session.scalar(sa.select(Department).where(Department.code == code.strip().upper()))
    if department is None:
        raise NotFound(_("Không có phòng ban mã %(code)s.", code=code))
    return department


def _set_roles(user: User, roles: set[Role]) -> None:
    if not roles:
        raise ValidationError(_("Người dùng phải có ít nhất một vai trò."))
    current = {row.role: row for row in user.role_rows}
    for role, row in current.items():
        if role not in roles:
            user.role_rows.remove(row)
    for role in roles - set(current):
        user.role_rows.append(UserRole(role=role))


def create_user(*, actor: User | None, username: str, full_name: str, password: str,
                department: Department, roles: set[Role], email: str | None = None) -> User:
    """Rule: user names are unique (case-insensitive); the password passes the strength
    check; every user belongs to a department and holds at least one role."""
    username = normalise_username(username)
    if get_user_by_username(username) is not None:
        raise Conflict(_("Tên đăng nhập %(u)s đã tồn tại.", u=username))
    check_password_strength(password, username=username)
    if not department.active:
        raise ValidationError(_("Phòng ban %(d)s đã ngừng hoạt động.", d=department.name))
    user = User(username=username, full_name=full_name.strip() or username,
                email=(email or "").strip() or None, department=department)
    user.set_password(password)
    _set_roles(user, roles)
    db.session.add(user)
    audit_log.flush_as(db.session, actor)
    audit_log.record(db.session, "user.roles_set", user,
                 changes={"roles": sorted(r.value for r in roles)})
    return user


def update_user(user: User, *, actor: User, full_name: str, email: str | None,
                department: Department, roles: set[Role]) -> User:
    old_roles = sorted(r.value for r in user.roles)
    if user.id == actor.id and not authz.grants(roles, "users.manage"):
        raise ValidationError(_("Bạn không thể tự bỏ vai trò quản trị của mình."))
    user.full_name = full_name.strip() or user.username
    user.email = (email or "").strip() or None
    user.department = department
    _set_roles(user, roles)
    audit_log.flush_as(db.session, actor)
    new_roles = sorted(r.value for r in roles)
    if new_roles != old_roles:
        audit_log.record(db.session, "user.roles_set", user, changes={"roles": [old_roles, new_roles]})
    return user


def set_active(user: User, active: bool, *, actor: User | None) -> User:
    """Rule: users are never deleted; deactivation ends their sessions at once. An admin
    cannot deactivate their own account (no locking oneself out)."""
    if actor is not None and user.id == actor.id and not active:
        raise Forbidden(_("Bạn không thể tự khoá tài khoản của mình."))
    if user.active == active:
        return user
    user.active = active
    if not active:
        user.session_token = new_session_token()
    audit_log.flush_as(db.session, actor)
    return user


def change_password(user: User, *, actor: User | None, new_password: str,
                    current_password: str | None = None) -> User:
    """Rule: users changing their own password confirm the current one; the new one passes
    the strength check; every other session of the user ends."""
    if current_password is not None and not user.check_password(current_password):
        raise ValidationError(_("Mật khẩu hiện tại không đúng."))
    check_password_strength(new_password, username=user.username)
    if user.check_password(new_password):
        raise ValidationError(_("Mật khẩu mới phải khác mật khẩu hiện tại."))
    user.set_password(new_password)
    audit_log.flush_as(db.session, actor)
    audit_log.record(db.session, "user.password_changed", user)
    return user


def log_in(username: str, password: str, *, address: str | None = None,
           user_agent: str | None = None) -> User | None:
    """The active user with these credentials, with a new browser login (its key in
    `user.login_key`, which get_id() puts in flask-login's cookies); None otherwise.
    Records the attempt either way."""
    user = get_user_by_username(username or "")
    ok = user is not None and user.active and user.check_password(password or "")
    with audit_log.acting_as(user if ok else None):
        audit_log.record(db.session, "auth.login" if ok else "auth.login_failed", user if ok else None,
                         note=None if ok else (username or "")[:64])
    if not ok:
        return None
    key = new_session_token()
    db.session.add(LoginSession(user=user, key_hash=login_key_hash(key), address=(address or "")[:64] or None,
                                user_agent=(user_agent or "")[:255] or None))
    db.session.flush()
    user.login_key = key
    return user


def end_login_session(user: User, *, now) -> None:
    """Rule: logging out ends this browser's login only (its cookies, copied or not, are
    refused from now on); the user's other browsers stay logged in. Changing the password
    or deactivating the account ends them all (the user's session token)."""
    if user.login_key:
        db.session.execute(sa.update(LoginSession)
                           .where(LoginSession.key_hash == login_key_hash(user.login_key),
                                  LoginSession.ended_at.is_(None))
                           .values(ended_at=now))
    audit_log.record(db.session, "auth.logout", user)


def load_session_user(session_id: str) -> User | None:
    """flask-login's loader: the id carries the user's session token and the browser's login
    key, so a rotated token ends every login and an ended login refuses its cookies."""
    user_id, token, key = ((session_id or "").split(":") + ["", ""])[:3]
    if not user_id.isdigit() or not token or not key:
        return None
    user = db.session.scalar(
        sa.select(User).join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == int(user_id), LoginSession.key_hash == login_key_hash(key),
               LoginSession.ended_at.is_(None)))
    if user is None or not user.active or user.session_token != token:
        return None
    user.login_key = key
    return user
