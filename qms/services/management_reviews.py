"""Management review (xem xét của lãnh đạo, ISO 9001:2015 §9.3): a meeting record whose
inputs (§9.3.2) are gathered from the system's own records with SQL aggregates: audit
results, nonconformities and corrective actions, process performance and on-time rates,
citizens' feedback and satisfaction, the quality objectives in force; the open risks are
written by hand. Its outputs (§9.3.3) are the leaders' conclusions and the actions they
decide, each with an owner and a due date. Closing the review freezes it; the owners still
record when their actions are done."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from qms import authz
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.localtime import date_of, local_date, start_of_day
from qms.models import (
    Agency,
    Audit,
    AuditProgramme,
    CarStatus,
    CorrectiveAction,
    Department,
    Document,
    DocumentKind,
    DocumentVersion,
    Dossier,
    DossierStep,
    Finding,
    ManagementReview,
    NcSource,
    NcStatus,
    Nonconformity,
    Procedure,
    ReviewAction,
    Severity,
    User,
    VersionStatus,
)
from qms.services import audit_log, corrective_actions, feedback, nonconformities
from qms.services.register import timeliness_expression
from qms.services.timeliness import is_late

MAX_TITLE = 255
MAX_TEXT = 20_000


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _sum(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _counts(rows, keys) -> dict[str, int]:
    """{key: 0 for every key}, filled from (enum, count) rows."""
    counts = {key.value: 0 for key in keys}
    for key, number in rows:
        counts[key.value] = int(number)
    return counts


# --- the inputs ----------------------------------------------------------------------------------
def _audits(agency: Agency, start: date, end: date) -> dict:
    """The audits of the agency's programmes whose planned dates meet the period, by status,
    with their findings by kind."""
    from qms.models import AuditStatus, FindingKind

    in_period = (sa.select(Audit.id).join(AuditProgramme, AuditProgramme.id == Audit.programme_id)
                 .where(AuditProgramme.agency_id == agency.id, Audit.planned_start <= end,
                        Audit.planned_end >= start))
    audits = db.session.execute(
        sa.select(Audit.id, Audit.code, Audit.title, Audit.status, Audit.planned_start, Audit.planned_end)
        .where(Audit.id.in_(in_period)).order_by(Audit.planned_start, Audit.code)).all()
    findings = db.session.execute(
        sa.select(Finding.audit_id, Finding.kind, sa.func.count(Finding.id))
        .where(Finding.audit_id.in_(in_period)).group_by(Finding.audit_id, Finding.kind)).all()
    per_audit: dict[int, dict[str, int]] = {row.id: {k.value: 0 for k in FindingKind} for row in audits}
    totals = {k.value: 0 for k in FindingKind}
    for audit_id, kind, number in findings:
        per_audit[audit_id][kind.value] = int(number)
        totals[kind.value] += int(number)
    by_status = {s.value: 0 for s in AuditStatus}
    for row in audits:
        by_status[row.status.value] += 1
    return {"count": len(audits), "by_status": by_status, "findings_by_kind": totals,
            "list": [{"code": row.code, "title": row.title, "status": row.status.value,
                      "planned_start": row.planned_start.isoformat(),
                      "planned_end": row.planned_end.isoformat(), "findings": per_audit[row.id]}
                     for row in audits]}


def _departments_of(agency: Agency):
    return sa.select(Department.id).where(Department.agency_id == agency.id)


def _nonconformities(agency: Agency, since: datetime, until: datetime) -> dict:
    """Opened in the period (by source), closed in it, and those detected by its end by
    their status today."""
    mine = Nonconformity.department_id.in_(_departments_of(agency))
    opened = sa.and_(Nonconformity.detected_at >= since, Nonconformity.detected_at < until)
    ended = (NcStatus.closed, NcStatus.rejected)
    row = db.session.execute(sa.select(
        _sum(opened),
        _sum(sa.and_(Nonconformity.status == NcStatus.closed, Nonconformity.closed_at >= since,
                     Nonconformity.closed_at < until)),
        _sum(sa.and_(Nonconformity.detected_at < until, Nonconformity.status.not_in(ended))),
    ).where(mine)).one()
    by_status = db.session.execute(
        sa.select(Nonconformity.status, sa.func.count(Nonconformity.id))
        .where(mine, Nonconformity.detected_at < until).group_by(Nonconformity.status)).all()
    by_source = db.session.execute(
        sa.select(Nonconformity.source, sa.func.count(Nonconformity.id))
        .where(mine, opened).group_by(Nonconformity.source)).all()
    return {"opened": int(row[0]), "closed": int(row[1]), "open": int(row[2]),
            "by_status": _counts(by_status, NcStatus), "by_source": _counts(by_source, NcSource)}


def _corrective_actions(agency: Agency, since: datetime, until: datetime, cut_day: date) -> dict:
    """CARs of the agency's departments created by the period's end, by status today;
    closed in the period; open; overdue as the CAR register says (an action item or the
    effectiveness check past its date) on `cut_day`."""
    mine = sa.and_(CorrectiveAction.department_id.in_(_departments_of(agency)),
                   CorrectiveAction.created_at < until)
    still_open = CorrectiveAction.status != CarStatus.closed
    row = db.session.execute(sa.select(
        _sum(still_open),
        _sum(sa.and_(CorrectiveAction.status == CarStatus.closed, CorrectiveAction.closed_at >= since,
                     CorrectiveAction.closed_at < until)),
        _sum(corrective_actions.overdue_condition(cut_day)),
    ).where(mine)).one()
    by_status = db.session.execute(
        sa.select(CorrectiveAction.status, sa.func.count(CorrectiveAction.id))
        .where(mine).group_by(CorrectiveAction.status)).all()
    return {"open": int(row[0]), "closed": int(row[1]), "overdue": int(row[2]),
            "by_status": _counts(by_status, CarStatus)}


def _dossiers(agency: Agency, start: date, end: date, since: datetime, until: datetime) -> dict:
    """Dossiers received in the period, and those resolved in it (processing finished, by
    local date, whenever the result is collected) classified
    early / on time / late by the timeliness rule in force (services.timeliness),
    overall and per procedure; steps completed in the period, on time or late, per
    department."""
    timeliness = timeliness_expression()
    resolved_in = sa.and_(Dossier.agency_id == agency.id, Dossier.processed_at.is_not(None),
                          local_date(Dossier.processed_at) >= start, local_date(Dossier.processed_at) <= end)
    received = db.session.scalar(sa.select(sa.func.count(Dossier.id)).where(
        Dossier.agency_id == agency.id, Dossier.received_at >= since, Dossier.received_at < until))
    row = db.session.execute(sa.select(
        sa.func.count(Dossier.id), _sum(timeliness == "early"), _sum(timeliness == "on_time"),
        _sum(timeliness == "late")).where(resolved_in)).one()
    resolved, early, on_time, late = (int(v) for v in row)
    per_procedure = db.session.execute(
        sa.select(Procedure.code, Procedure.name, sa.func.count(Dossier.id),
                  _sum(timeliness.in_(("early", "on_time"))), _sum(timeliness == "late"))
        .join(Procedure, Procedure.id == Dossier.procedure_id).where(resolved_in)
        .group_by(Procedure.code, Procedure.name).order_by(Procedure.code)).all()
    step_done = sa.and_(DossierStep.completed_at.is_not(None), DossierStep.due_at.is_not(None),
                        local_date(DossierStep.completed_at) >= start,
                        local_date(DossierStep.completed_at) <= end)
    step_late = is_late(DossierStep.completed_at, DossierStep.due_at)
    per_department = db.session.execute(
        sa.select(Department.code, Department.name, sa.func.count(DossierStep.id), _sum(step_late))
        .select_from(DossierStep).join(Dossier, Dossier.id == DossierStep.dossier_id)
        .join(Department, Department.id == DossierStep.department_id)
        .where(Dossier.agency_id == agency.id, step_done)
        .group_by(Department.code, Department.name).order_by(Department.code)).all()
    steps_total = sum(int(r[2]) for r in per_department)
    steps_late = sum(int(r[3]) for r in per_department)
    return {
        "received": int(received or 0), "resolved": resolved, "early": early, "on_time": on_time,
        "late": late, "on_time_rate": _ratio(early + on_time, resolved),
        "procedures": [{"code": code, "name": name, "resolved": int(n), "on_time": int(ok),
                        "late": int(bad), "on_time_rate": _ratio(int(ok), int(n))}
                       for code, name, n, ok, bad in per_procedure],
        "steps": {"completed": steps_total, "late": steps_late,
                  "on_time_rate": _ratio(steps_total - steps_late, steps_total),
                  "departments": [{"code": code, "name": name, "completed": int(n), "late": int(bad),
                                   "on_time_rate": _ratio(int(n) - int(bad), int(n))}
                                  for code, name, n, bad in per_department]},
    }


def _objectives() -> list[dict]:
    """The quality objectives documents with a version in force."""
    rows = db.session.execute(
        sa.select(Document.code, Document.title, DocumentVersion.number, DocumentVersion.effective_date)
        .join(DocumentVersion, DocumentVersion.document_id == Document.id)
        .where(Document.kind == DocumentKind.objectives, DocumentVersion.status == VersionStatus.effective)
        .order_by(Document.code)).all()
    return [{"code": code, "title": title, "version": number,
             "effective_date": effective.isoformat() if effective else None}
            for code, title, number, effective in rows]


def gather_inputs(agency: Agency, period_start: date, period_end: date, *,
                  now: datetime | None = None) -> dict:
    """The review's inputs for [period_start, period_end] (local dates, both included), as
    JSON-ready figures computed from the records. Figures "at the period's end" use today
    instead when the period is not over (`now`)."""
    since, until = start_of_day(period_start), start_of_day(period_end + timedelta(days=1))
    cut = min(until, now) if now is not None else until
    cut_day = date_of(cut)  # "today" for what is overdue at the period's end
    return {
        "period": {"start": period_start.isoformat(), "end": period_end.isoformat()},
        "gathered_at": now.isoformat() if now is not None else None,
        "audits": _audits(agency, period_start, period_end),
        "nonconformities": _nonconformities(agency, since, until),
        "corrective_actions": _corrective_actions(agency, since, until, cut_day),
        "dossiers": _dossiers(agency, period_start, period_end, since, until),
        "feedback": feedback.figures(agency, since=since, until=until, now=now),
        "satisfaction": feedback.satisfaction(agency, since=since, until=until),
        "objectives": _objectives(),
    }


# --- who may do what (the rules are qms.authz's "reviews.*") ----------------------------------
def visible_to(actor: User):
    """The reviews of the actor's agency, and those where they own an action (the query form
    of authz's "reviews.view")."""
    owns = sa.select(ReviewAction.review_id).where(ReviewAction.owner_id == actor.id)
    return sa.or_(ManagementReview.agency_id == actor.department.agency_id, ManagementReview.id.in_(owns))


def reviews_for(actor: User):
    return (sa.select(ManagementReview).where(visible_to(actor))
            .options(selectinload(ManagementReview.actions))
            .order_by(ManagementReview.held_on.desc(), ManagementReview.id.desc()))


def _require_manager(actor: User, review: ManagementReview | None = None) -> None:
    if not authz.may(actor, "reviews.manage", review):
        raise Forbidden(_("Chỉ lãnh đạo và cán bộ ISO của cơ quan ghi biên bản xem xét của lãnh đạo."))


def _require_open(review: ManagementReview) -> None:
    if review.closed_at is not None:
        raise Conflict(_("Cuộc xem xét của lãnh đạo này đã kết thúc; biên bản không sửa được nữa."))


def _text(value, *, label: str, maximum: int = MAX_TEXT, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(_("Hãy nhập %(label)s.", label=label))
    if len(value) > maximum:
        raise ValidationError(_("%(label)s dài quá %(n)d ký tự.", label=label.capitalize(), n=maximum))
    return value


# --- the record ---------------------------------------------------------------------------------
def create_review(*, agency: Agency, held_on: date | None, title: str, period_start: date | None,
                  period_end: date | None, chair: User | None, attendees: str, actor: User,
                  now: datetime) -> ManagementReview:
    """Open a review record for `agency` and gather its inputs now.

    Rules: a leader or the quality officer of the agency; a title, a meeting date and a
    period whose start is not after its end."""
    if agency is None or agency.id != actor.department.agency_id or not authz.has(actor, "reviews.manage"):
        raise Forbidden(_("Chỉ lãnh đạo và cán bộ ISO của cơ quan ghi biên bản xem xét của lãnh đạo."))
    title = _text(title, label=_("tên cuộc họp"), maximum=MAX_TITLE, required=True)
    if held_on is None:
        raise ValidationError(_("Hãy chọn ngày họp."))
    if period_start is None or period_end is None:
        raise ValidationError(_("Hãy chọn kỳ xem xét (từ ngày, đến ngày)."))
    if period_start > period_end:
        raise ValidationError(_("Ngày bắt đầu kỳ xem xét phải trước hoặc bằng ngày kết thúc."))
    if chair is not None and not chair.active:
        raise ValidationError(_("Người chủ trì không còn hoạt động."))
    review = ManagementReview(agency=agency, held_on=held_on, title=title, period_start=period_start,
                              period_end=period_end, chair=chair,
                              attendees=_text(attendees, label=_("thành phần tham dự")),
                              inputs=gather_inputs(agency, period_start, period_end, now=now),
                              risks="", conclusions="", created_by_id=actor.id, created_at=now)
    db.session.add(review)
    audit_log.flush_as(db.session, actor)
    return review


def refresh_inputs(review: ManagementReview, *, actor: User, now: datetime) -> ManagementReview:
    """Gather the inputs again from today's records (while the review is open)."""
    _require_manager(actor, review)
    _require_open(review)
    review.inputs = gather_inputs(review.agency, review.period_start, review.period_end, now=now)
    audit_log.flush_as(db.session, actor)
    return review


def record_conclusions(review: ManagementReview, *, conclusions: str, risks: str, attendees: str,
                       actor: User, now: datetime) -> ManagementReview:
    """The leaders' conclusions (§9.3.3), the open risks and opportunities, the attendees."""
    _require_manager(actor, review)
    _require_open(review)
    review.conclusions = _text(conclusions, label=_("kết luận"))
    review.risks = _text(risks, label=_("rủi ro và cơ hội"))
    review.attendees = _text(attendees, label=_("thành phần tham dự"))
    audit_log.flush_as(db.session, actor)
    return review


def add_action(review: ManagementReview, *, description: str, owner: User | None,
               due_date: date | None, actor: User, now: datetime) -> ReviewAction:
    """A decided action, with its owner and due date. Rules: the review is open; an active
    owner; a due date not before the meeting."""
    _require_manager(actor, review)
    _require_open(review)
    description = _text(description, label=_("nội dung hành động"), maximum=4000, required=True)
    if owner is None or not owner.active:
        raise ValidationError(_("Hãy chọn người chịu trách nhiệm."))
    if due_date is None:
        raise ValidationError(_("Hãy chọn thời hạn hoàn thành."))
    if due_date < review.held_on:
        raise ValidationError(_("Thời hạn hoàn thành không được trước ngày họp."))
    action = ReviewAction(review=review, description=description, owner=owner, due_date=due_date)
    db.session.add(action)
    audit_log.flush_as(db.session, actor)
    return action


def mark_action_done(action: ReviewAction, *, actor: User, now: datetime) -> ReviewAction:
    """The owner records that the action is done (also after the review is closed: the
    record is frozen, its follow-up is not). Once."""
    if action.owner_id != actor.id:
        raise Forbidden(_("Chỉ người chịu trách nhiệm ghi nhận hành động đã hoàn thành."))
    if action.done_at is not None:
        raise Conflict(_("Hành động này đã được ghi nhận hoàn thành."))
    action.done_at = now
    audit_log.flush_as(db.session, actor)
    return action


def is_action_overdue(action: ReviewAction, now: datetime) -> bool:
    return action.done_at is None and action.due_date < date_of(now)


def close(review: ManagementReview, *, actor: User, now: datetime) -> ManagementReview:
    """End the review: its inputs, conclusions and actions are frozen. Rules: once; the
    conclusions are written."""
    _require_manager(actor, review)
    _require_open(review)
    if not review.conclusions.strip():
        raise ValidationError(_("Hãy ghi kết luận của lãnh đạo trước khi kết thúc."))
    review.closed_at = now
    audit_log.flush_as(db.session, actor)
    return review


def raise_nc(review: ManagementReview, *, actor: User, department: Department | None, clause: str,
             severity: Severity, description: str, now: datetime):
    """A decision of the review that records a nonconformity (source: management review)."""
    _require_manager(actor, review)
    _require_open(review)
    if department is not None and department.agency_id != review.agency_id:
        raise ValidationError(_("Phòng ban phải thuộc %(a)s.", a=review.agency.name))
    return nonconformities.raise_nonconformity(
        actor=actor, department=department, description=description, severity=severity, now=now,
        source=NcSource.management_review, clause=clause, review=review)


def nonconformities_of(review: ManagementReview) -> list[Nonconformity]:
    return db.session.scalars(sa.select(Nonconformity).where(Nonconformity.review_id == review.id)
                              .order_by(Nonconformity.id)).all()
