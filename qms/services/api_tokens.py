"""Bearer tokens for integration accounts calling the JSON API (/api/v1).

A token acts as one ordinary user (e.g. an officer of the one-stop office that the online
portal hands dossiers to), with exactly that user's permissions. Only a SHA-256 of the
token is stored: tokens are 256-bit random strings, so a fast hash is enough and a leaked
table gives nothing usable. The plaintext is shown once, when issued.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from qms.errors import Conflict, ValidationError
from qms.extensions import db
from qms.models import ApiToken, User
from qms.services import audit_log

TOKEN_PREFIX = "qms_"
PREFIX_LENGTH = 8  # characters after "qms_" kept in clear, so people can tell tokens apart
NAME_MAX = 128
# last_used_at is written at most this often per token: knowing a token is in use is
# worth a write a minute, not one on every call.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def issue_token(user: User, *, name: str, actor: User | None, now: datetime) -> tuple[ApiToken, str]:
    """Issue a new token acting as `user`. Returns the token record and its plaintext,
    which exists only now: show it once, it cannot be recovered (only its hash is kept).

    Rules: only for an active account; the name says what uses the token (e.g. "Cổng dịch
    vụ công tỉnh"); the issue is on record with who issued it."""
    name = (name or "").strip()
    if not name:
        raise ValidationError(_("Hãy đặt tên cho mã truy cập (ví dụ: hệ thống sử dụng nó)."))
    if len(name) > NAME_MAX:
        raise ValidationError(_("Tên mã truy cập tối đa %(n)d ký tự.", n=NAME_MAX))
    if not user.active:
        raise Conflict(_("Tài khoản %(u)s đã bị khoá: không cấp mã truy cập được.", u=user.username))
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, prefix=plaintext[len(TOKEN_PREFIX):][:PREFIX_LENGTH],
                     token_hash=hash_token(plaintext), created_at=now,
                     created_by_id=actor.id if actor is not None else None)
    db.session.add(token)
    audit_log.flush_as(db.session, actor)  # api_token.created, the hash masked
    return token, plaintext


def authenticate(plaintext: str | None, now: datetime) -> User | None:
    """The active user a presented token acts as, or None (unknown, revoked, or the user
    is deactivated — deactivating an account stops its tokens at once).

    The lookup is by the hash's unique index: the response time does not depend on how
    much of a guess matches a real token (the attacker does not choose the hash)."""
    if not plaintext or not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 256:
        return None
    digest = hash_token(plaintext)
    token = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == digest)
                              .options(selectinload(ApiToken.user)))
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # A plain UPDATE (not an ORM change): usage is bookkeeping, not a change to the
        # quality record, so it does not fill the audit log with a row a minute; and the
        # condition makes concurrent calls write it once.
        db.session.execute(
            sa.update(ApiToken)
            .where(ApiToken.id == token.id, sa.or_(ApiToken.last_used_at.is_(None),
                                                   ApiToken.last_used_at <= now - LAST_USED_RESOLUTION))
            .values(last_used_at=now)
            .execution_options(synchronize_session=False))
        db.session.expire(token, ["last_used_at"])
    return token.user


def revoke(token: ApiToken, *, actor: User | None, now: datetime) -> ApiToken:
    """Revoke a token: it stops working at once. Tokens are never deleted, so who used
    what stays on record. Rule: a token is revoked once."""
    if token.revoked_at is not None:
        raise Conflict(_("Mã truy cập %(p)s đã bị thu hồi trước đó.", p=token.prefix))
    token.revoked_at = now
    token.revoked_by_id = actor.id if actor is not None else None
    audit_log.flush_as(db.session, actor)  # api_token.updated: revoked_at, revoked_by_id
    return token


def listing():
    """Every token, newest first, with its user (for the admin page)."""
    return (sa.select(ApiToken)
            .options(selectinload(ApiToken.user).selectinload(User.department),
                     selectinload(ApiToken.created_by), selectinload(ApiToken.revoked_by))
            .order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))
