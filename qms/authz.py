"""Who may do what, in one place: the role → permission table and the rules that depend on
the object (its department, its agency, the user's own record).

This module sits below the services and knows nothing of Flask: services call `may` (and
`require`, which raises `Forbidden` with the service's message), views guard their routes
through `qms.web.access` and templates through `can(...)`, and all of them read the table
and the rules here. Nothing else names a role (tests/unit/test_authz_structure.py checks).

A permission names a capability ("cars.view"). `has(user, permission)` answers from the
roles alone: may this user do it to something? `may(user, permission, obj)` adds the
permission's object rule, when it has one: may this user do it to this object?
`roles_with(permission)` gives the roles for SQL (recipients of notifications, candidates
for a form's choices).
"""
from __future__ import annotations

from collections.abc import Callable

from qms.errors import Forbidden
from qms.models import (
    ActionItem,
    Agency,
    Audit,
    CorrectiveAction,
    Department,
    Document,
    DocumentVersion,
    Dossier,
    DossierStep,
    Feedback,
    ManagementReview,
    Nonconformity,
    Role,
    SyncSource,
    User,
)

A, QO, OF, HEAD, LEAD, AUD = (Role.admin, Role.quality_officer, Role.officer,
                              Role.department_head, Role.leader, Role.auditor)
ALL = frozenset(Role)
STAFF = frozenset({QO, OF, HEAD, LEAD, AUD})  # everyone but the system administrator
# Oversight: they read every record of their kind; the others read their department's.
OVERSIGHT = frozenset({A, QO, LEAD, AUD})

PERMISSIONS: dict[str, frozenset[Role]] = {
    # Administration
    "users.manage": frozenset({A}),
    "org.manage": frozenset({A}),
    "calendar.manage": frozenset({A}),
    # Bearer tokens of integration accounts for the JSON API (issue, list, revoke)
    "api_tokens.manage": frozenset({A}),
    "audit_log.view": frozenset({A, QO, AUD}),
    # Dossiers taken in from another one-stop system (issue 13): the administrator and the
    # quality officer register the source systems, map their codes and replay what was held;
    # a source's own integration account (any role: the object rule decides) syncs its dossiers.
    "sync.manage": frozenset({A, QO}),
    "dossiers.sync": ALL,
    # Reading the organisation (needed to pick departments and agencies elsewhere)
    "org.view": ALL,
    # Dossiers. All staff open the dossier pages; each dossier is read by its receiving
    # office, the departments it went through, and oversight roles. The one-stop office's
    # officers and head receive; a department's officers and head work the steps it holds;
    # its head, or a leader of the agency (the setting APOLOGY_SIGNERS chooses), signs the
    # apology (Mẫu 04) for the delay it causes.
    "dossiers.work": ALL,
    "dossiers.view": ALL,
    "dossiers.read_all": OVERSIGHT,
    "dossiers.receive": frozenset({OF, HEAD}),
    "dossiers.complete_step": frozenset({OF, HEAD}),
    "dossiers.act": frozenset({OF, HEAD}),  # supplementation request, payment, stop
    "dossiers.desk": ALL,  # the receiving office: supplement received, withdrawal
    "dossiers.apologise": frozenset({HEAD}),
    "dossiers.apologise_for_agency": frozenset({LEAD}),
    # Escalation: who is told about a step due soon (its department's officers), overdue
    # (the head) and long overdue (the quality officers).
    "escalation.due_soon": frozenset({OF}),
    "escalation.overdue": frozenset({HEAD}),
    "escalation.overdue_margin": frozenset({QO}),
    # Controlled documents: everyone reads them; the quality officer keeps them (creates,
    # drafts, records periodic reviews, imports, attaches files) and submits a draft for
    # review; a leader returns, approves or withdraws it. Each of their own agency's
    # documents; a leader also those of the agencies under theirs (object rules below).
    "documents.view": ALL,
    "documents.manage": frozenset({QO}),
    "documents.submit": frozenset({QO}),
    "documents.approve": frozenset({LEAD}),
    # The nonconformity register: all staff read it (officers and heads only their own
    # department's); quality officers, auditors, heads and leaders raise one by hand; the
    # quality officer manages the register (rejects a nonconformity, with a reason).
    "nonconformities.view": ALL,
    "nonconformities.read_all": OVERSIGHT,
    "nonconformities.raise": frozenset({QO, AUD, HEAD, LEAD}),
    "nonconformities.manage": frozenset({QO}),
    # Internal audits (ISO 9001:2015 §9.2): all staff open the programmes, each reading the
    # audits they may (oversight all, the team theirs, the others their own department's);
    # the quality officer keeps the programmes and plans any audit; an auditor plans the
    # audits they lead and edits them while planned; only auditors sit on an audit team.
    "audits.view": ALL,
    "audits.read_all": OVERSIGHT,
    "audits.manage": frozenset({QO}),
    "audits.plan": frozenset({QO, AUD}),
    "audits.edit_plan": frozenset({QO, AUD}),
    "audits.audit": frozenset({AUD}),
    # Citizens' feedback (phản ánh, kiến nghị): oversight reads the agency's, a head their
    # department's, an officer what is assigned to them; the quality officer and leaders
    # hand it to a department (its head within it); the assignee, the head or the quality
    # officer answers.
    "feedback.view": STAFF,
    "feedback.read_all": frozenset({QO, LEAD, AUD}),  # their agency's
    "feedback.assign": frozenset({QO, LEAD, HEAD}),
    "feedback.assign_any": frozenset({QO, LEAD}),  # in their agency
    "feedback.respond": STAFF,
    "feedback.respond_any": frozenset({QO}),  # in their agency
    "feedback.own_department": frozenset({HEAD}),  # read, assign within, answer
    # Management review (ISO 9001:2015 §9.3): staff read their agency's (action owners
    # theirs and mark them done); leaders and the quality officer hold, record and close it.
    "reviews.view": STAFF,
    "reviews.manage": frozenset({QO, LEAD}),
    "reviews.chair": frozenset({LEAD}),
    # Corrective actions (CAR): oversight reads all, a department its own, item owners and
    # the verifier theirs; the quality officer and department heads open them (heads for
    # their department); the owner or the quality officer analyses and plans; an item's or
    # the CAR's owner (or the quality officer) completes an item; only the named verifier,
    # never the owner, checks effectiveness.
    "cars.view": STAFF,
    "cars.read_all": frozenset({QO, LEAD, AUD}),
    "cars.manage": frozenset({QO, HEAD}),
    "cars.manage_any": frozenset({QO}),  # any department's
    "cars.own": frozenset({HEAD, OF}),  # be the person responsible for a CAR of their department
    "cars.write": STAFF,
    "cars.complete_item": STAFF,
    "cars.verifier": frozenset({QO, LEAD, AUD}),  # may be named to check effectiveness
    "cars.verify": STAFF,  # the one named, never the owner
    # Monthly compliance reviews: oversight roles read every department's; a head and the
    # officers read their own department's; only the department's head writes and signs.
    "monthly_reviews.view": ALL,
    "monthly_reviews.read_all": OVERSIGHT,
    "monthly_reviews.own_department": frozenset({OF, HEAD}),
    "monthly_reviews.sign": frozenset({HEAD}),
    # Quality objectives: all staff read them with their measures; the quality officer sets
    # and retires them.
    "objectives.view": ALL,
    "objectives.manage": frozenset({QO}),
    # The home page's panels, one per role that earns it
    "dashboard.officer": frozenset({OF}),
    "dashboard.head": frozenset({HEAD}),
    "dashboard.quality": frozenset({QO}),
    "dashboard.leader": frozenset({LEAD}),
    "dashboard.auditor": frozenset({AUD}),
}


def roles_with(permission: str) -> frozenset[Role]:
    try:
        return PERMISSIONS[permission]
    except KeyError:
        raise KeyError(f"unknown permission {permission!r}") from None


def has(user: User | None, permission: str) -> bool:
    """May an active, logged-in `user` do `permission` at all (to some object)?"""
    allowed = roles_with(permission)
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return user.has_role(*allowed)


def may(user: User | None, permission: str, obj=None) -> bool:
    """May `user` do `permission` to `obj`? Without an object, the roles decide (`has`)."""
    if not has(user, permission):
        return False
    rule = _RULES.get(permission)
    return rule(user, obj) if rule is not None and obj is not None else True


def require(user: User | None, permission: str, obj=None, *, message: str) -> None:
    """Raise Forbidden(message) unless `may(user, permission, obj)`: the services' guard."""
    if not may(user, permission, obj):
        raise Forbidden(message)


def grants(roles, permission: str) -> bool:
    """Would a user holding `roles` have `permission`? (e.g. an admin keeping their own
    right to manage users)"""
    return bool(set(roles) & roles_with(permission))


# --- object rules: permission → rule(user, obj); the role part is already checked --------------
_RULES: dict[str, Callable[[User, object], bool]] = {}


def _rule(*permissions: str):
    def register(function):
        for permission in permissions:
            _RULES[permission] = function
        return function
    return register


# Dossiers
@_rule("dossiers.view")
def _reads_dossier(user: User, dossier: Dossier) -> bool:
    """Another department's officer does not read citizens' dossiers."""
    if has(user, "dossiers.read_all"):
        return True
    departments = {dossier.department_id} | {s.department_id for s in dossier.steps if s.department_id}
    return user.department_id in departments


@_rule("dossiers.receive")
def _works_the_desk(user: User, department: Department) -> bool:
    """At the one-stop office the user belongs to."""
    return department.is_one_stop and user.department_id == department.id


@_rule("dossiers.complete_step")
def _holds_step(user: User, step: DossierStep) -> bool:
    return step.department_id is not None and user.department_id == step.department_id


@_rule("dossiers.act")
def _holds_dossier(user: User, dossier: Dossier) -> bool:
    """The department holding the current step, and the one-stop office that received it."""
    step = dossier.current_step()
    return user.department_id in {dossier.department_id, step.department_id if step else None}


@_rule("dossiers.desk")
def _received_dossier(user: User, dossier: Dossier) -> bool:
    return user.department_id == dossier.department_id


@_rule("dossiers.apologise")
def _delays_dossier(user: User, dossier: Dossier) -> bool:
    """The head of the department holding the current step, which causes the delay."""
    step = dossier.current_step()
    return step is not None and user.department_id == step.department_id


@_rule("dossiers.apologise_for_agency")
def _leads_dossiers_agency(user: User, dossier: Dossier) -> bool:
    """A leader of the agency processing the dossier (its chair, a vice chair, the director)."""
    return dossier.current_step() is not None and user.department.agency_id == dossier.agency_id


@_rule("dossiers.sync")
def _is_source_account(user: User, source: SyncSource) -> bool:
    """Only the integration account of that source system, while the source is active."""
    return source.active and source.account_id == user.id


# Controlled documents: the object is the document (or its version), or the department that
# is to own a new one. A document belongs to its owner department's agency.
def _document_agency(target: Document | DocumentVersion | Department) -> Agency:
    if isinstance(target, DocumentVersion):
        target = target.document
    return (target.owner_department if isinstance(target, Document) else target).agency


@_rule("documents.manage", "documents.submit")
def _keeps_documents_of(user: User, target) -> bool:
    """A quality officer keeps their own agency's documents, not another commune's or the
    province's."""
    return _document_agency(target).id == user.department.agency_id


@_rule("documents.approve")
def _approves_documents_of(user: User, target) -> bool:
    """A leader approves, returns and withdraws the documents of their agency and of the
    agencies under it."""
    agency = _document_agency(target)
    return user.department.agency_id in {agency.id, *(a.id for a in agency.ancestors())}


# Nonconformities
@_rule("nonconformities.raise")
def _raises_against(user: User, department: Department) -> bool:
    """Oversight roles against any department; a department head against their own."""
    return has(user, "nonconformities.read_all") or department.id == user.department_id


@_rule("nonconformities.view")
def _reads_nonconformity(user: User, nc: Nonconformity) -> bool:
    return has(user, "nonconformities.read_all") or nc.department_id == user.department_id


# Internal audits
def is_lead(user: User | None, audit: Audit) -> bool:
    return user is not None and user.is_active and user.id == audit.lead_auditor_id


def is_team_member(user: User | None, audit: Audit) -> bool:
    """The lead auditor or one of the team."""
    return is_lead(user, audit) or (user is not None and user.is_active
                                    and any(member.id == user.id for member in audit.team))


@_rule("audits.view")
def _reads_audit(user: User, audit: Audit) -> bool:
    if has(user, "audits.read_all") or is_team_member(user, audit):
        return True
    return any(d.id == user.department_id for d in audit.departments)


@_rule("audits.edit_plan")
def _edits_plan(user: User, audit: Audit) -> bool:
    """The quality officer, or the auditor who leads it."""
    return has(user, "audits.manage") or (is_lead(user, audit) and has(user, "audits.audit"))


# Feedback
@_rule("feedback.view")
def _reads_feedback(user: User, feedback: Feedback) -> bool:
    if has(user, "feedback.read_all"):
        return feedback.agency_id == user.department.agency_id
    if has(user, "feedback.own_department") and feedback.department_id == user.department_id:
        return True
    return feedback.assignee_id == user.id


@_rule("feedback.assign")
def _assigns_feedback(user: User, target: Feedback | tuple[Feedback, Department | None]) -> bool:
    """The quality officer or a leader of the agency; the head of the department it was
    handed to, within their department. `target`: the feedback, or (feedback, department)."""
    feedback, department = target if isinstance(target, tuple) else (target, None)
    if has(user, "feedback.assign_any") and feedback.agency_id == user.department.agency_id:
        return True
    return (has(user, "feedback.own_department") and feedback.department_id == user.department_id
            and (department is None or department.id == user.department_id))


@_rule("feedback.respond")
def _responds_feedback(user: User, feedback: Feedback) -> bool:
    """The assignee, the head of the department handling it, or the agency's quality officer."""
    if has(user, "feedback.respond_any") and feedback.agency_id == user.department.agency_id:
        return True
    if feedback.assignee_id is not None and feedback.assignee_id == user.id:
        return True
    return (has(user, "feedback.own_department") and feedback.department_id is not None
            and feedback.department_id == user.department_id)


# Management review
@_rule("reviews.view")
def _reads_review(user: User, review: ManagementReview) -> bool:
    return (review.agency_id == user.department.agency_id
            or any(action.owner_id == user.id for action in review.actions))


@_rule("reviews.manage")
def _holds_review(user: User, review: ManagementReview) -> bool:
    return review.agency_id == user.department.agency_id


# Corrective actions
@_rule("cars.view")
def _reads_car(user: User, car: CorrectiveAction) -> bool:
    if has(user, "cars.read_all") or user.department_id == car.department_id:
        return True
    return user.id == car.verifier_id or any(item.owner_id == user.id for item in car.items)


@_rule("cars.manage")
def _answers_for(user: User, department_id: int) -> bool:
    """Open a CAR for, or add nonconformities of, a department: the quality officer, or the
    head of that department. `department_id`: the nonconformities' department."""
    return has(user, "cars.manage_any") or user.department_id == department_id


@_rule("cars.own")
def _of_the_department(user: User, department_id: int) -> bool:
    """A head or an officer of the nonconformities' department (issue 15: the one who will do
    the work may be named, not only the head)."""
    return user.department_id == department_id


@_rule("cars.write")
def _writes_car(user: User, car: CorrectiveAction) -> bool:
    """Analysis and plan: the CAR's owner or the quality officer."""
    return has(user, "cars.manage_any") or user.id == car.owner_id


@_rule("cars.complete_item")
def _completes_item(user: User, item: ActionItem) -> bool:
    return has(user, "cars.manage_any") or user.id in (item.owner_id, item.corrective_action.owner_id)


@_rule("cars.verify")
def _verifies(user: User, car: CorrectiveAction) -> bool:
    return user.id == car.verifier_id and user.id != car.owner_id


# Monthly reviews
@_rule("monthly_reviews.view")
def _reads_month(user: User, department: Department) -> bool:
    return has(user, "monthly_reviews.read_all") or (
        user.department_id == department.id and has(user, "monthly_reviews.own_department"))


@_rule("monthly_reviews.sign")
def _signs_month(user: User, department: Department) -> bool:
    return user.department_id == department.id


__all__ = ["PERMISSIONS", "grants", "has", "is_lead", "is_team_member", "may",
           "require", "roles_with"]
