"""The nonconformity register (DESIGN flow 3): raised by hand, from an audit finding, a
citizen's complaint or a management review, and automatically when a step or a dossier
passes its due time (once per record, even when two runs race)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from qms import authz, localtime
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import (
    Department,
    Dossier,
    DossierEvent,
    DossierStatus,
    DossierStep,
    NcSource,
    NcStatus,
    Nonconformity,
    Severity,
    Timeliness,
    User,
)
from qms.services import audit_log, calendars, sequences
from qms.services.timeliness import classify

# The status follows the corrective action answering it; rejection is the quality
# officer's decision, with a reason. Checked in one place: `transition`.
TRANSITIONS: dict[str, tuple[frozenset[NcStatus], NcStatus]] = {
    "analyse": (frozenset({NcStatus.open}), NcStatus.under_analysis),
    "plan": (frozenset({NcStatus.under_analysis}), NcStatus.action_planned),
    "verify": (frozenset({NcStatus.action_planned}), NcStatus.verifying),
    "close": (frozenset({NcStatus.verifying}), NcStatus.closed),
    "reopen": (frozenset({NcStatus.verifying, NcStatus.action_planned}), NcStatus.under_analysis),
    "reject": (frozenset({NcStatus.open, NcStatus.under_analysis}), NcStatus.rejected),
}


def _new_code(now: datetime) -> str:
    return sequences.next_code("NC", localtime.date_of(now).year)


def raise_nonconformity(*, actor: User | None, department: Department, description: str,
                        severity: Severity, now: datetime, source: NcSource = NcSource.manual,
                        clause: str = "", correction: str = "", **origin) -> Nonconformity:
    """Record a nonconformity. `origin` links the record it comes from: dossier, dossier_step,
    procedure, audit, finding, feedback, review.

    Rules: a description and a department are required; by hand, only quality officers,
    auditors, department heads and leaders raise one, and only about what they may see: a
    department head against their own department, a dossier the raiser may read."""
    if actor is not None and not authz.has(actor, "nonconformities.raise"):
        raise Forbidden(_("Chỉ cán bộ ISO, đánh giá viên, trưởng phòng và lãnh đạo ghi nhận sự không phù hợp."))
    if not (description or "").strip():
        raise ValidationError(_("Hãy mô tả sự không phù hợp."))
    if department is None:
        raise ValidationError(_("Hãy chọn phòng ban có sự không phù hợp."))
    if actor is not None and source is NcSource.manual:
        authz.require(actor, "nonconformities.raise", department,
                      message=_("Trưởng phòng chỉ ghi nhận sự không phù hợp của phòng mình."))
        dossier = origin.get("dossier")
        if dossier is not None:
            authz.require(actor, "dossiers.view", dossier,
                          message=_("Tài khoản này không được xem hồ sơ %(c)s.", c=dossier.code))
    nc = Nonconformity(code=_new_code(now), source=source, department=department,
                       clause=(clause or "").strip(), severity=severity,
                       description=description.strip(), correction=(correction or "").strip(),
                       detected_by=actor, detected_at=now, status=NcStatus.open, **origin)
    db.session.add(nc)
    audit_log.flush_as(db.session, actor)
    return nc


def transition(nc: Nonconformity, action: str, *, actor: User | None, now: datetime,
               reason: str = "") -> Nonconformity:
    """Move a nonconformity along TRANSITIONS. Rejecting needs the quality officer and a
    reason; the other moves are made by the corrective-action workflow."""
    sources, target = TRANSITIONS[action]
    if nc.status not in sources:
        raise Conflict(_("Sự không phù hợp %(c)s đang ở trạng thái “%(s)s”.", c=nc.code,
                         s=nc.status.label))
    if action == "reject":
        if not authz.has(actor, "nonconformities.manage"):
            raise Forbidden(_("Chỉ cán bộ ISO được bác bỏ sự không phù hợp."))
        if not (reason or "").strip():
            raise ValidationError(_("Hãy ghi lý do không chấp nhận."))
        nc.rejected_reason = reason.strip()
    nc.status = target
    nc.closed_at = now if target in (NcStatus.closed, NcStatus.rejected) else None
    audit_log.flush_as(db.session, actor)
    return nc


# --- raised automatically -----------------------------------------------------------------------
def _raise_once(origin_key: str, *, now: datetime, **values) -> Nonconformity | None:
    """Insert the nonconformity unless one with this origin exists: ON CONFLICT DO NOTHING
    on the unique origin key, so two concurrent runs raise it exactly once."""
    if db.session.scalar(sa.select(Nonconformity.id).where(Nonconformity.origin_key == origin_key)):
        return None
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(Nonconformity)
    statement = insert.values(code=_new_code(now), origin_key=origin_key, detected_at=now,
                              status=NcStatus.open, severity=Severity.minor, correction="",
                              rejected_reason="", **values
                              ).on_conflict_do_nothing(index_elements=["origin_key"]
                                                       ).returning(Nonconformity.id)
    new_id = db.session.execute(statement).scalar()
    if new_id is None:
        return None
    nc = db.session.get(Nonconformity, new_id)
    audit_log.record(db.session, "nonconformity.raised", nc, note=origin_key,
                 changes={"code": nc.code, "source": nc.source.value})
    return nc


def raise_for_step(step: DossierStep, *, now: datetime) -> Nonconformity | None:
    """One nonconformity for a step past its due time (None if it already has one)."""
    dossier = step.dossier
    calendar = calendars.calendar_for(dossier.agency)
    return _raise_once(
        f"step:{step.id}", now=now, source=NcSource.overdue_step, department_id=step.department_id,
        clause="8.5.1", dossier_id=dossier.id, dossier_step_id=step.id, procedure_id=dossier.procedure_id,
        description=_("Bước “%(n)s” của hồ sơ %(c)s quá hạn (hạn %(d)s).", n=step.name, c=dossier.code,
                      d=calendar.local(step.due_at).strftime("%H:%M %d/%m/%Y")))


def raise_for_dossier(dossier: Dossier, *, now: datetime) -> Nonconformity | None:
    """One nonconformity for a dossier past its due time, against the department holding it."""
    calendar = calendars.calendar_for(dossier.agency)
    step = dossier.current_step()
    late_steps = [s for s in dossier.steps if s.completed_at and s.due_at and s.completed_at > s.due_at]
    culprit = step or (late_steps[-1] if late_steps else None)
    department_id = culprit.department_id if culprit and culprit.department_id else dossier.department_id
    return _raise_once(
        f"dossier:{dossier.id}", now=now, source=NcSource.overdue_dossier, department_id=department_id,
        clause="8.5.1", dossier_id=dossier.id, procedure_id=dossier.procedure_id,
        description=_("Hồ sơ %(c)s quá hạn trả kết quả (hạn %(d)s).", c=dossier.code,
                      d=calendar.local(dossier.due_at).strftime("%H:%M %d/%m/%Y")))


def raise_for_late_apology(event: DossierEvent, *, now: datetime) -> Nonconformity | None:
    """An apology issued after its latest time (services.dossiers.apology_deadline), against
    the department that caused the delay."""
    dossier = event.dossier
    calendar = calendars.calendar_for(dossier.agency)
    return _raise_once(
        f"apology:{event.id}", now=now, source=NcSource.late_apology,
        department_id=event.department_id or dossier.department_id, clause="8.5.1",
        dossier_id=dossier.id, procedure_id=dossier.procedure_id,
        description=_("Văn bản xin lỗi hồ sơ %(c)s gửi chậm, lúc %(at)s (hạn trả kết quả %(d)s).",
                      c=dossier.code, at=calendar.local(event.at).strftime("%H:%M %d/%m/%Y"),
                      d=calendar.local(event.due_before).strftime("%H:%M %d/%m/%Y")))


def _is_late(finished_or_now: datetime, due_at: datetime) -> bool:
    return classify(finished_or_now, due_at) is Timeliness.late


def after_completion(step: DossierStep, *, now: datetime) -> list[Nonconformity]:
    """Called when a step is completed: a late step, and a dossier whose processing finished
    late, each raise their nonconformity (returning the result later raises none)."""
    raised = []
    if step.due_at is not None and _is_late(step.completed_at, step.due_at):
        raised.append(raise_for_step(step, now=now))
    dossier = step.dossier
    if dossier.processed_at is not None and _is_late(dossier.processed_at, dossier.due_at):
        raised.append(raise_for_dossier(dossier, now=now))
    return [nc for nc in raised if nc is not None]


def _key(prefix: str, id_column):
    """The origin key in SQL ("step:" || id), the same on SQLite and PostgreSQL."""
    return sa.literal(prefix) + sa.cast(id_column, sa.String)


def check_overdue(now: datetime) -> list[Nonconformity]:
    """Raise the nonconformities of every open step and dossier now past its due time (by
    the same date rule as the reports). Paused dossiers (supplementation, financial
    obligation) are not running late: their status keeps them out; nor those in a pause the
    procedure allows (survey, posting, ...), whose clock is stopped (`paused_at`)."""
    running = (DossierStatus.received, DossierStatus.processing)
    raised: list[Nonconformity] = []
    steps = db.session.scalars(
        sa.select(DossierStep).join(DossierStep.dossier)
        .where(DossierStep.completed_at.is_(None), DossierStep.handed_over_at.is_not(None),
               DossierStep.due_at < now, Dossier.status.in_(running), Dossier.paused_at.is_(None))
        .where(~sa.exists().where(Nonconformity.origin_key == _key("step:", DossierStep.id)))
        .order_by(DossierStep.due_at)).all()
    for step in steps:
        if _is_late(now, step.due_at):
            raised.append(raise_for_step(step, now=now))
    late_dossiers = db.session.scalars(
        sa.select(Dossier).where(Dossier.status.in_(running), Dossier.paused_at.is_(None), Dossier.due_at < now)
        .where(~sa.exists().where(Nonconformity.origin_key == _key("dossier:", Dossier.id)))
        .order_by(Dossier.due_at)).all()
    for dossier in late_dossiers:
        if _is_late(now, dossier.due_at):
            raised.append(raise_for_dossier(dossier, now=now))
    return [nc for nc in raised if nc is not None]


# --- reading ------------------------------------------------------------------------------------
def register(*, department_id: int | None = None, status: NcStatus | None = None,
             source: NcSource | None = None, clause: str = "", since: datetime | None = None,
             until: datetime | None = None):
    """The register as a query, newest first, filtered."""
    query = sa.select(Nonconformity).order_by(Nonconformity.detected_at.desc(), Nonconformity.id.desc())
    if department_id:
        query = query.where(Nonconformity.department_id == department_id)
    if status is not None:
        query = query.where(Nonconformity.status == status)
    if source is not None:
        query = query.where(Nonconformity.source == source)
    if clause:
        # "8.5" matches 8.5 and its sub-clauses (8.5.1, ...), not 8.50
        query = query.where(sa.or_(Nonconformity.clause == clause,
                                   Nonconformity.clause.startswith(f"{clause}.")))
    if since is not None:
        query = query.where(Nonconformity.detected_at >= since)
    if until is not None:
        query = query.where(Nonconformity.detected_at < until)
    return query


# --- who reads what -----------------------------------------------------------------------------
def visible_to(actor: User, query):
    """`query` (a select of Nonconformity) narrowed to what `actor` may read: the query form
    of authz's "nonconformities.view" rule (oversight all, the others their department's)."""
    if authz.has(actor, "nonconformities.read_all"):
        return query
    return query.where(Nonconformity.department_id == actor.department_id)


def status_history(nc: Nonconformity) -> list[dict]:
    """The nonconformity's life from the audit log: when it was raised, then each change of
    status (with the rejection reason), oldest first. Each entry: at, actor (full name or the
    system process), status (the new one), previous, reason."""
    from qms.models import AuditLog

    rows = db.session.execute(
        sa.select(AuditLog, User.full_name).outerjoin(User, User.id == AuditLog.actor_id)
        .where(AuditLog.entity_type == Nonconformity.__tablename__, AuditLog.entity_id == nc.id)
        .order_by(AuditLog.at, AuditLog.id)).all()
    history: list[dict] = []
    for row, full_name in rows:
        changes = row.changes or {}
        actor = full_name or row.actor_name
        if row.action in ("nonconformity.created", "nonconformity.raised"):
            if not history:  # raised automatically: one explicit row; by hand: the created row
                history.append({"at": row.at, "actor": actor, "previous": None,
                                "status": NcStatus(changes.get("status", NcStatus.open.value)),
                                "reason": ""})
            continue
        change = changes.get("status")
        if isinstance(change, list) and len(change) == 2:
            reason = changes.get("rejected_reason")
            history.append({"at": row.at, "actor": actor,
                            "previous": NcStatus(change[0]) if change[0] else None,
                            "status": NcStatus(change[1]),
                            "reason": reason[1] if isinstance(reason, list) and reason[1] else ""})
    return history
