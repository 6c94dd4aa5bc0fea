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
    # Bearer tokens of integration accounts for the JSON API (issue, list, revoke)
    "api_tokens.manage": frozenset({A}),
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
    # The nonconformity register: all staff read it (officers and heads only their own
    # department's: services.nonconformities.visible_to / may_read); quality officers,
    # auditors, heads and leaders raise one by hand (nonconformities.RAISERS); the quality
    # officer manages the register (rejects a nonconformity, with a reason).
    "nonconformities.view": frozenset({A, QO, OF, HEAD, LEAD, AUD}),
    "nonconformities.raise": frozenset({QO, AUD, HEAD, LEAD}),
    "nonconformities.manage": frozenset({QO}),
    # Internal audits (ISO 9001:2015 §9.2): all staff open the programmes, each reading the
    # audits they may (services.audits.may_read: oversight roles all, the others their own
    # department's); the quality officer keeps the programmes and plans any audit; an
    # auditor plans audits they lead and edits them while planned (services.audits.
    # may_plan / may_edit_plan); the lead auditor and team conduct an audit (object rules:
    # services.audits.may).
    "audits.view": frozenset({A, QO, OF, HEAD, LEAD, AUD}),
    "audits.manage": frozenset({QO}),
    "audits.plan": frozenset({QO, AUD}),
    # Citizens' feedback (phản ánh, kiến nghị): staff read the complaints they may handle
    # (services.feedback.may_read: oversight the agency's, a head their department's, an
    # officer those assigned to them); assigning and answering are object rules there.
    "feedback.view": frozenset({QO, OF, HEAD, LEAD, AUD}),
    # Management review (ISO 9001:2015 §9.3): staff read it (action owners mark their
    # actions done); leaders and the quality officer hold it, record it and close it.
    "reviews.view": frozenset({QO, OF, HEAD, LEAD, AUD}),
    "reviews.manage": frozenset({QO, LEAD}),
    # Corrective actions (CAR): staff read those they may (services.corrective_actions.
    # may_read: oversight all, a department its own, item owners and the verifier theirs);
    # the quality officer and department heads open them (heads for their department);
    # analysis, plan, items and verification are object rules in that service.
    "cars.view": frozenset({QO, OF, HEAD, LEAD, AUD}),
    "cars.manage": frozenset({QO, HEAD}),
    # Monthly compliance reviews: oversight roles read every department's; a head and the
    # officers read their own department's; only the department's head writes and signs
    # (object rules: services.monthly_reviews.may_read / may_write, on the Department).
    "monthly_reviews.view": frozenset({A, QO, OF, HEAD, LEAD, AUD}),
    "monthly_reviews.sign": frozenset({HEAD}),
    # Quality objectives (services.objectives): all staff read them with their measures;
    # the quality officer sets and retires them (their agency and those below it).
    "objectives.view": frozenset({A, QO, OF, HEAD, LEAD, AUD}),
    "objectives.manage": frozenset({QO}),
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


def _monthly_review_rule(name: str):
    def rule(user, department) -> bool:
        from qms.services import monthly_reviews  # services import authz's callers: late

        return getattr(monthly_reviews, name)(user, department)
    return rule


_object_rules["monthly_reviews.view"] = _monthly_review_rule("may_read")
_object_rules["monthly_reviews.sign"] = _monthly_review_rule("may_write")
