"""The web's guards over `qms.authz`, for the logged-in user: views call `require`,
templates call `can`. The rules themselves live in qms/authz.py."""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from qms import authz


def can(permission: str, obj=None) -> bool:
    return authz.may(current_user, permission, obj)


def require(permission: str, obj=None) -> None:
    """Abort with 403 unless the current user may do `permission` (to `obj`)."""
    if not authz.may(current_user, permission, obj):
        abort(403)
