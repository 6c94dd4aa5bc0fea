"""Citizens' feedback (ISO 9001:2015 §9.1.2): complaints and recommendations (phản ánh, kiến
nghị) sent through the public form, their handling (deadline, assignee, response, a
nonconformity when the complaint reveals one), and the satisfaction rating a citizen gives
a returned dossier. `figures` and `satisfaction` are the compliance figures (Decision
766/QĐ-TTg group 6: feedback handled on time, satisfaction), computed in SQL."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from qms import authz, localtime
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import (
    Agency,
    Department,
    Dossier,
    DossierStatus,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    NcSource,
    Nonconformity,
    Procedure,
    SatisfactionLevel,
    SatisfactionRating,
    Severity,
    User,
)
from qms.services import audit_log, calendars, nonconformities, sequences

SATISFIED = (SatisfactionLevel.very_satisfied, SatisfactionLevel.satisfied)

MAX_NAME = 255
MAX_CONTACT = 255
MAX_CONTENT = 4000
MAX_COMMENT = 1000
MAX_RESPONSE = 4000



# --- the public form ----------------------------------------------------------------------------
def active_agencies(today: date) -> list[Agency]:
    """The agencies a citizen may write to: in effect today and not merged into another."""
    return db.session.scalars(
        sa.select(Agency).where(Agency.effective_from <= today, Agency.successor_id.is_(None),
                                sa.or_(Agency.effective_to.is_(None), Agency.effective_to > today))
        .order_by(Agency.name)).all()


def handling_due(agency: Agency, received_at: datetime) -> datetime:
    """The handling deadline: the close of the FEEDBACK_HANDLING_DAYS-th working day after
    the day of receipt, on the agency's work calendar (holidays, days off and make-up
    working days included)."""
    calendar = calendars.calendar_for(agency)
    day = calendar.local(received_at).date()
    for _i in range(max(1, int(current_app.config.get("FEEDBACK_HANDLING_DAYS", 10)))):
        day = calendar.next_working_day(day)
    return calendar.close_of(day)


def _text(value, *, label: str, maximum: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(_("Hãy nhập %(label)s.", label=label))
    if len(value) > maximum:
        raise ValidationError(_("%(label)s dài quá %(n)d ký tự.", label=label.capitalize(), n=maximum))
    return value


def _kind(kind) -> FeedbackKind:
    try:
        return kind if isinstance(kind, FeedbackKind) else FeedbackKind(kind)
    except ValueError:
        raise ValidationError(_("Hãy chọn phản ánh hay kiến nghị.")) from None


def submit_feedback(*, agency: Agency | None, kind, name: str, contact: str, content: str,
                    now: datetime, dossier_code: str | None = None,
                    procedure_code: str | None = None) -> Feedback:
    """Record a citizen's complaint or recommendation (no login) with its code
    ("PAKN-2026-0001") and handling deadline.

    Rules: an agency in effect; name, contact and content required, within their lengths;
    a procedure code must name a procedure of the catalogue (which is public). A dossier
    code is linked only when such a dossier exists at that agency, and silently ignored
    otherwise, so that the form does not tell who has which dossier."""
    if agency is None or agency not in active_agencies(localtime.date_of(now)):
        raise ValidationError(_("Hãy chọn cơ quan nhận phản ánh, kiến nghị."))
    kind = _kind(kind)
    name = _text(name, label=_("họ và tên"), maximum=MAX_NAME)
    contact = _text(contact, label=_("số điện thoại hoặc thư điện tử để liên hệ"), maximum=MAX_CONTACT)
    content = _text(content, label=_("nội dung phản ánh, kiến nghị"), maximum=MAX_CONTENT)
    procedure = None
    procedure_code = (procedure_code or "").strip()[:64]
    if procedure_code:
        procedure = db.session.scalar(sa.select(Procedure).where(Procedure.code == procedure_code))
        if procedure is None:
            raise ValidationError(_("Không có thủ tục mã “%(c)s”. Hãy xem mã trong danh mục thủ tục hành chính, hoặc để trống.",
                                    c=procedure_code))
    dossier = None
    dossier_code = (dossier_code or "").strip().upper()[:48]
    if dossier_code:
        dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == dossier_code,
                                                             Dossier.agency_id == agency.id))
    if dossier is not None and procedure is None:
        procedure = dossier.procedure
    feedback = Feedback(code=sequences.next_code("PAKN", localtime.date_of(now).year),
                        kind=kind, agency=agency, dossier=dossier, procedure=procedure, name=name,
                        contact=contact, content=content, received_at=now,
                        due_at=handling_due(agency, now), status=FeedbackStatus.received,
                        response="")
    db.session.add(feedback)
    audit_log.flush_as(db.session, None)
    return feedback


# --- who sees and handles what (the rules are qms.authz's "feedback.*") --------------------------
def visible_to(actor: User):
    """The feedback rows `actor` may read (the query form of authz's "feedback.view"):
    oversight roles their agency's, a department head their department's, anyone what is
    assigned to them."""
    if authz.has(actor, "feedback.read_all"):
        return Feedback.agency_id == actor.department.agency_id
    if authz.has(actor, "feedback.own_department"):
        return sa.or_(Feedback.department_id == actor.department_id, Feedback.assignee_id == actor.id)
    return Feedback.assignee_id == actor.id


def is_overdue(feedback: Feedback, now: datetime) -> bool:
    """Not answered and past its deadline (answered late: `answered_late`)."""
    return feedback.responded_at is None and feedback.due_at < now


def answered_late(feedback: Feedback) -> bool:
    return feedback.responded_at is not None and feedback.responded_at > feedback.due_at


def _refuse_if_answered(feedback: Feedback) -> None:
    if feedback.status is FeedbackStatus.answered:
        raise Conflict(_("Phản ánh, kiến nghị %(c)s đã được trả lời.", c=feedback.code))


def assign(feedback: Feedback, *, department: Department | None, assignee: User | None = None,
           actor: User, now: datetime) -> Feedback:
    """Hand a feedback to a department (and optionally one of its staff) for handling.

    Rules: not once answered; the department belongs to the agency that received it and is
    active; the assignee is an active member of that department; see authz's "feedback.assign"."""
    _refuse_if_answered(feedback)
    if department is None:
        raise ValidationError(_("Hãy chọn phòng ban xử lý."))
    if department.agency_id != feedback.agency_id or not department.active:
        raise ValidationError(_("Phòng ban xử lý phải thuộc %(a)s.", a=feedback.agency.name))
    if not authz.may(actor, "feedback.assign", (feedback, department)):
        raise Forbidden(_("Chỉ cán bộ ISO, lãnh đạo hoặc trưởng phòng được giao mới phân công xử lý phản ánh, kiến nghị."))
    if assignee is not None and (assignee.department_id != department.id or not assignee.active):
        raise ValidationError(_("Người xử lý phải là cán bộ của %(d)s.", d=department.name))
    feedback.department = department
    feedback.assignee = assignee
    feedback.status = FeedbackStatus.assigned
    audit_log.flush_as(db.session, actor)  # the audit log keeps the department, assignee and who
    return feedback


def respond(feedback: Feedback, *, response: str, actor: User, now: datetime) -> Feedback:
    """Record the answer given to the citizen; on time when given by the deadline.

    Rules: once; a response text is required; see authz's "feedback.respond"."""
    _refuse_if_answered(feedback)
    if not authz.may(actor, "feedback.respond", feedback):
        raise Forbidden(_("Chỉ người được giao, trưởng phòng xử lý hoặc cán bộ ISO trả lời phản ánh, kiến nghị."))
    feedback.response = _text(response, label=_("nội dung trả lời"), maximum=MAX_RESPONSE)
    feedback.responded_at = now
    feedback.responded_by = actor
    feedback.status = FeedbackStatus.answered
    audit_log.flush_as(db.session, actor)
    return feedback


def nonconformity_of(feedback: Feedback) -> Nonconformity | None:
    return db.session.scalar(sa.select(Nonconformity).where(Nonconformity.feedback_id == feedback.id))


def raise_nc(feedback: Feedback, *, actor: User, department: Department | None, clause: str,
             severity: Severity, description: str, now: datetime) -> Nonconformity:
    """Raise the nonconformity a complaint reveals (source: citizen complaint), linked to
    the feedback and to its dossier and procedure.

    Rules: one per feedback (a unique origin key, so two clicks raise one); by someone who
    reads the feedback and may raise nonconformities; the department is of the same agency."""
    if not authz.may(actor, "feedback.view", feedback):
        raise Forbidden(_("Bạn không xử lý phản ánh, kiến nghị này."))
    existing = nonconformity_of(feedback)
    if existing is not None:
        raise Conflict(_("Phản ánh, kiến nghị %(c)s đã có sự không phù hợp %(n)s.", c=feedback.code,
                         n=existing.code))
    if department is not None and department.agency_id != feedback.agency_id:
        raise ValidationError(_("Phòng ban phải thuộc %(a)s.", a=feedback.agency.name))
    try:
        return nonconformities.raise_nonconformity(
            actor=actor, department=department, description=description, severity=severity,
            now=now, source=NcSource.complaint, clause=clause, feedback=feedback,
            dossier=feedback.dossier, procedure=feedback.procedure,
            origin_key=f"feedback:{feedback.id}")
    except IntegrityError:
        # Raised by someone else a moment ago: the failed flush leaves nothing to keep.
        db.session.rollback()
        raise Conflict(_("Phản ánh, kiến nghị %(c)s đã có sự không phù hợp.", c=feedback.code)) from None


# --- reading ---------------------------------------------------------------------------------------
FILTER_STATUSES = ("received", "assigned", "answered", "overdue")


def register(actor: User, *, status: str | None = None, kind: FeedbackKind | None = None,
             now: datetime):
    """The feedback `actor` may read, newest first; `status` is a FeedbackStatus value or
    "overdue" (not answered, past its deadline)."""
    query = (sa.select(Feedback).where(visible_to(actor))
             .options(selectinload(Feedback.department), selectinload(Feedback.assignee))
             .order_by(Feedback.received_at.desc(), Feedback.id.desc()))
    if status == "overdue":
        query = query.where(Feedback.responded_at.is_(None), Feedback.due_at < now)
    elif status:
        query = query.where(Feedback.status == FeedbackStatus(status))
    if kind is not None:
        query = query.where(Feedback.kind == kind)
    return query


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _sum(condition):
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def figures(agency: Agency, *, since: datetime, until: datetime, now: datetime | None = None) -> dict:
    """Feedback of `agency` for the period [since, until): received in it, handled
    (answered) in it and how many of those by their deadline, and those open and overdue at
    the period's end (or now, if earlier). One SQL aggregate."""
    cut = min(until, now) if now is not None else until
    in_period = sa.and_(Feedback.received_at >= since, Feedback.received_at < until)
    handled = sa.and_(Feedback.responded_at >= since, Feedback.responded_at < until)
    still_open = sa.and_(Feedback.received_at < cut,
                         sa.or_(Feedback.responded_at.is_(None), Feedback.responded_at >= cut))
    row = db.session.execute(sa.select(
        _sum(in_period), _sum(sa.and_(in_period, Feedback.kind == FeedbackKind.complaint)),
        _sum(handled), _sum(sa.and_(handled, Feedback.responded_at <= Feedback.due_at)),
        _sum(still_open), _sum(sa.and_(still_open, Feedback.due_at < cut)),
    ).where(Feedback.agency_id == agency.id)).one()
    received, complaints, answered, on_time, still, overdue = (int(v) for v in row)
    return {"received": received, "complaints": complaints,
            "recommendations": received - complaints, "handled": answered,
            "handled_on_time": on_time, "on_time_rate": _ratio(on_time, answered),
            "open": still, "overdue": overdue}


# --- satisfaction ----------------------------------------------------------------------------------
def _level(level) -> SatisfactionLevel:
    try:
        return level if isinstance(level, SatisfactionLevel) else SatisfactionLevel(level)
    except ValueError:
        raise ValidationError(_("Hãy chọn mức độ hài lòng.")) from None


def rating_of(dossier: Dossier) -> SatisfactionRating | None:
    return db.session.scalar(sa.select(SatisfactionRating).where(SatisfactionRating.dossier_id == dossier.id))


def may_rate(dossier: Dossier) -> bool:
    """A rating is offered once the result is returned, until it is given."""
    return dossier.status is DossierStatus.returned and rating_of(dossier) is None


def rate_dossier(dossier: Dossier, *, level, comment: str = "", now: datetime) -> SatisfactionRating:
    """The applicant's satisfaction with a returned dossier (the caller has checked the
    lookup secret).

    Rules: only once the result is returned; one rating per dossier (a unique key: of two
    concurrent ratings one is kept)."""
    if dossier.status is not DossierStatus.returned:
        raise Conflict(_("Hồ sơ chưa trả kết quả nên chưa thể đánh giá."))
    if rating_of(dossier) is not None:
        raise Conflict(_("Hồ sơ này đã được đánh giá. Cảm ơn ông/bà."))
    level = _level(level)
    comment = _text(comment, label=_("ý kiến"), maximum=MAX_COMMENT, required=False)
    rating = SatisfactionRating(dossier=dossier, level=level, comment=comment, rated_at=now)
    db.session.add(rating)
    try:
        audit_log.flush_as(db.session, None)
    except IntegrityError:
        # A concurrent rating won; the failed flush leaves nothing to keep.
        db.session.rollback()
        raise Conflict(_("Hồ sơ này đã được đánh giá. Cảm ơn ông/bà.")) from None
    return rating


def satisfaction(agency: Agency, *, since: datetime, until: datetime) -> dict:
    """Ratings of `agency`'s dossiers given in [since, until): the count per level and the
    satisfaction rate (very satisfied + satisfied) / all ratings. One SQL aggregate."""
    rows = db.session.execute(
        sa.select(SatisfactionRating.level, sa.func.count(SatisfactionRating.id))
        .join(Dossier, Dossier.id == SatisfactionRating.dossier_id)
        .where(Dossier.agency_id == agency.id, SatisfactionRating.rated_at >= since,
               SatisfactionRating.rated_at < until)
        .group_by(SatisfactionRating.level)).all()
    counts = {level.value: 0 for level in SatisfactionLevel}
    for level, number in rows:
        counts[level.value] = int(number)
    total = sum(counts.values())
    satisfied = sum(counts[level.value] for level in SATISFIED)
    return {"counts": counts, "total": total, "satisfied": satisfied, "rate": _ratio(satisfied, total)}
