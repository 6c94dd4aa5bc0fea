"""Authorization in one place: may this user do this (to this object)?

Views call `require(...)`, templates call `can(...)`; both read the same table. A
permission names a capability; the table says which roles hold it. Rules that depend on
the object (e.g. "a head manages their own department") live in `_object_rules`.
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from qms.models import Role

A, QO, OF, HEAD, LEAD, AUD = (Role.admin, Role.quality_officer, Role.officer,
                              Role.department_head, Role.leader, Role.auditor)

PERMISSIONS: dict[str, frozenset[Role]] = {
    # Administration
    "users.manage": frozenset({A}),
    "org.manage": frozenset({A}),
    "calendar.manage": frozenset({A}),
    # Dossiers: the desk receives; departments work their steps (object rules in the service)
    "dossiers.receive": frozenset({OF, HEAD}),
    "dossiers.work": frozenset({A, QO, OF, HEAD, LEAD, AUD}),
    "audit_log.view": frozenset({A, QO, AUD}),
    # Reading the organisation (needed to pick departments and agencies elsewhere)
    "org.view": frozenset({A, QO, OF, HEAD, LEAD, AUD}),
    # Controlled documents: everyone reads them; the quality officer keeps them (creates,
    # drafts, records periodic reviews, imports, attaches files). The workflow's own role
    # rules (submit, return, approve, withdraw) are `services.documents.may`.
    "documents.view": frozenset({A, QO, OF, HEAD, LEAD, AUD}),
    "documents.manage": frozenset({QO}),
}


def has_permission(user, permission: str) -> bool:
    try:
        allowed = PERMISSIONS[permission]
    except KeyError:
        raise KeyError(f"unknown permission {permission!r}") from None
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.has_role(*allowed)


def can(permission: str, obj=None, user=None) -> bool:
    user = current_user if user is None else user
    if not has_permission(user, permission):
        return False
    rule = _object_rules.get(permission)
    return rule(user, obj) if rule and obj is not None else True


def require(permission: str, obj=None) -> None:
    """Abort with 403 unless the current user may do `permission` (to `obj`)."""
    if not can(permission, obj):
        abort(403)


# Object-level rules: permission → function(user, obj) → bool. The later areas (a head
# signs only their own department's review, an auditor never audits their own department)
# add theirs here.
_object_rules: dict = {}
