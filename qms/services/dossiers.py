"""Receiving dossiers and working their steps against working-time limits (DESIGN flow 2,
§7 the one-stop rules)."""
from __future__ import annotations

import functools
import re
import secrets
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from werkzeug.security import check_password_hash, generate_password_hash

from qms import authz
from qms.calendar import WorkCalendar
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.localtime import to_local
from qms.models import (
    Agency,
    Channel,
    Department,
    Dossier,
    DossierEvent,
    DossierFile,
    DossierSequence,
    DossierStatus,
    DossierStep,
    EventKind,
    PauseKind,
    Procedure,
    ProcedureCase,
    ProcedureVersion,
    ResultDelivery,
    StepRole,
    Timeliness,
    TimeUnit,
    User,
    VersionStatus,
)
from qms.models.procedures import MINUTES_PER_WORKING_DAY
from qms.services import attachments, audit_log, calendars, documents, nonconformities
from qms.services.metrics.scope import agency_tree_ids
from qms.services.procedures import limit_minutes, procedure_version_of, search
from qms.services.timeliness import classify  # noqa: F401  (read as dossiers.classify too)

current_step = Dossier.current_step  # the rules below read it as current_step(dossier)

SECRET_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at the desk
# The lookup secret guards a dossier's status, not an account: a salted PBKDF2 of moderate
# cost keeps receiving fast (scrypt alone took ~100 ms per dossier) while a leaked table
# still costs real work per guess; online guessing is rate-limited.
LOOKUP_HASH = "pbkdf2:sha256:20000"


def due_time(pv: ProcedureVersion | ProcedureCase, received_at: datetime, calendar: WorkCalendar) -> datetime:
    """The legal due time of a dossier received at `received_at`, by the rule of the
    version (or of the case picked at intake: it has a limit of its own)."""
    if pv.same_day:
        return calendar.due_same_day(received_at)
    if pv.time_unit is TimeUnit.calendar_days:
        return calendar.due_calendar_days(received_at, int(pv.time_limit))
    return calendar.add_working_minutes(received_at, limit_minutes(pv.time_limit, pv.time_unit))


def _next_number(agency_id: int, day) -> int:
    """The next sequence number of the day, in one atomic statement (an upsert returning the
    new value), so two officers receiving at once never get the same code."""
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(DossierSequence)
    statement = insert.values(agency_id=agency_id, day=day, last=1).on_conflict_do_update(
        index_elements=["agency_id", "day"], set_={"last": DossierSequence.last + 1},
    ).returning(DossierSequence.last)
    return db.session.execute(statement).scalar_one()


def new_lookup_secret() -> str:
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(8))


def receive_dossier(*, actor: User, procedure: Procedure, applicant_name: str, now: datetime,
                    channel: Channel = Channel.direct, applicant_id_number: str = "",
                    applicant_phone: str = "", applicant_address: str = "",
                    applicant_email: str = "", components: list[str] | None = None,
                    return_method: str = "", case_key: str = "",
                    processing_agency: Agency | None = None) -> tuple[Dossier, str]:
    """Receive a complete dossier at the actor's one-stop office. Returns the dossier and its
    lookup secret (shown once, on the receipt slip; only its hash is stored).

    Rules: only an officer of a one-stop office receives; the procedure has a version in
    force, which the dossier pins, with the case picked (`case_key`: its own limit and
    process; "" the main case); the code is {agency code}-{yyMMdd}-{NNNN}, numbered per
    agency and day; the due time follows the time rule on the processing agency's working
    calendar; the first step is handed over to the receiving office at once. Any one-stop
    office of the province receives (Decree 118/2025): `processing_agency` names the agency
    competent for the procedure when it is not the receiving one (same province, the
    procedure's level); the two are recorded apart."""
    department = _desk_of(actor)
    if not (applicant_name or "").strip():
        raise ValidationError(_("Hãy nhập tên người nộp hồ sơ."))
    pv = _version_in_force(procedure)
    rule = _case_of(pv, case_key)
    agency = department.agency
    processing = _processing_agency(agency, procedure, processing_agency)
    code = _new_code(agency, calendars.calendar_for(agency).local(now).date())
    secret = new_lookup_secret()
    due = due_time(rule, now, calendars.calendar_for(processing or agency))
    dossier = Dossier(
        code=code, lookup_secret_hash=generate_password_hash(secret, method=LOOKUP_HASH), agency=agency,
        department=department, procedure=procedure, procedure_version=pv, channel=channel,
        applicant_name=applicant_name.strip(), applicant_id_number=applicant_id_number.strip(),
        applicant_phone=applicant_phone.strip(), applicant_address=applicant_address.strip(),
        applicant_email=applicant_email.strip(), components=list(components or []),
        return_method=return_method.strip(), status=DossierStatus.received, received_at=now,
        received_by=actor, original_due_at=due, due_at=due, case_key=case_key or "", processing=processing)
    db.session.add(dossier)
    _start_processing(dossier, pv, actor=actor, now=now)
    audit_log.flush_as(db.session, actor)
    return dossier, secret


def _start_processing(dossier: Dossier, pv: ProcedureVersion, *, actor: User, now: datetime) -> None:
    """The steps of the pinned process (of the case, if one was picked), the first handed
    over to the receiving office now."""
    for process_step in dossier.time_rule.steps:
        dossier.steps.append(DossierStep(position=process_step.position, process_step=process_step,
                                         name=process_step.name, role=process_step.role,
                                         minutes=process_step.minutes))
    _hand_over(dossier.steps[0], department=dossier.department, by=actor, at=now)


# --- dossiers submitted online ------------------------------------------------------------------
# The national code of a dossier submitted on the portal: kept exactly as issued.
NATIONAL_CODE = re.compile(r"[A-Z0-9][A-Z0-9._/-]{0,47}")


def register_online(*, actor: User, procedure: Procedure, code: str, applicant_name: str,
                    now: datetime, registered_at: datetime | None = None,
                    applicant_id_number: str = "", applicant_phone: str = "",
                    applicant_address: str = "", applicant_email: str = "",
                    components: list[str] | None = None, return_method: str = "",
                    case_key: str = "") -> tuple[Dossier, str]:
    """A dossier submitted online (national status 1) for the actor's one-stop office: it
    waits in the desk's intake queue until an officer accepts or refuses it. Returns the
    dossier and its lookup secret (for the portal to pass on).

    Rules: the national code is kept as issued (capitals, digits and . _ / -), never
    replaced by a local one, and is unique; the procedure has a version in force; no time
    runs and no step exists until the desk accepts it."""
    department = _desk_of(actor)
    code = (code or "").strip()
    if not NATIONAL_CODE.fullmatch(code):
        raise ValidationError(_("Mã hồ sơ “%(c)s” không hợp lệ: mã quốc gia gồm chữ in hoa, chữ số và "
                                "các dấu . _ / -, tối đa 48 ký tự.", c=code))
    if db.session.scalar(sa.select(Dossier.id).where(Dossier.code == code)) is not None:
        raise Conflict(_("Hồ sơ mã %(c)s đã được đăng ký.", c=code))
    if not (applicant_name or "").strip():
        raise ValidationError(_("Hãy nhập tên người nộp hồ sơ."))
    pv = _version_in_force(procedure)
    _case_of(pv, case_key)
    submitted = min(registered_at or now, now)
    secret = new_lookup_secret()
    dossier = Dossier(
        code=code, lookup_secret_hash=generate_password_hash(secret, method=LOOKUP_HASH),
        agency=department.agency, department=department, procedure=procedure, procedure_version=pv,
        channel=Channel.online, applicant_name=applicant_name.strip(),
        applicant_id_number=(applicant_id_number or "").strip(),
        applicant_phone=(applicant_phone or "").strip(),
        applicant_address=(applicant_address or "").strip(),
        applicant_email=(applicant_email or "").strip(), components=list(components or []),
        return_method=(return_method or "").strip(), status=DossierStatus.registered, case_key=case_key or "",
        registered_at=submitted, received_at=submitted, original_due_at=submitted, due_at=submitted)
    db.session.add(dossier)
    audit_log.flush_as(db.session, actor)
    return dossier, secret


def _registered_at_desk(dossier: Dossier, actor: User) -> None:
    _desk_of(actor)
    authz.require(actor, "dossiers.desk", dossier,
                  message=_("Hồ sơ này chờ tiếp nhận tại %(d)s.", d=dossier.department.name))
    if dossier.status is not DossierStatus.registered:
        raise Conflict(_("Hồ sơ đang ở trạng thái “%(s)s”.", s=dossier.status.label))


def accept_online(dossier: Dossier, *, actor: User, now: datetime) -> DossierEvent:
    """The desk accepts a dossier submitted online (status 2): from now the time limit runs,
    by the process version in force now, and its first step is the desk's. The code stays."""
    _registered_at_desk(dossier, actor)
    pv = _version_in_force(dossier.procedure)
    rule = _case_of(pv, dossier.case_key)
    due = due_time(rule, now, calendars.calendar_for(dossier.processing_agency))
    dossier.procedure_version, dossier.received_at, dossier.received_by = pv, now, actor
    dossier.original_due_at = dossier.due_at = due
    event = _record_event(dossier, EventKind.accepted, actor=actor, now=now, department=dossier.department,
                          due_after=due)
    _start_processing(dossier, pv, actor=actor, now=now)
    audit_log.flush_as(db.session, actor)
    return event


def refuse_online(dossier: Dossier, *, actor: User, reasons: str, now: datetime) -> DossierEvent:
    """The desk refuses a dossier submitted online (status 3, Mẫu 03), with the reasons."""
    _registered_at_desk(dossier, actor)
    items = _lines(reasons)
    if not items:
        raise ValidationError(_("Hãy ghi lý do từ chối tiếp nhận."))
    dossier.due_at = dossier.original_due_at = now
    return _record_event(dossier, EventKind.not_accepted, actor=actor, now=now, department=dossier.department,
                         reason="\n".join(items))


def intake_queue(department_id: int):
    """The dossiers submitted online waiting at a one-stop office, the oldest first."""
    return (sa.select(Dossier).where(Dossier.department_id == department_id,
                                     Dossier.status == DossierStatus.registered)
            .order_by(Dossier.registered_at, Dossier.id))


def _processing_agency(receiving: Agency, procedure: Procedure, named: Agency | None) -> Agency | None:
    """The agency named to process a dossier received elsewhere (None: the receiving one)."""
    if named is None or named.id == receiving.id:
        return None
    if named.province().id != receiving.province().id:
        raise ValidationError(_("Cơ quan giải quyết %(a)s không thuộc %(p)s.", a=named.name,
                                p=receiving.province().name))
    if named.level is not procedure.level:
        raise ValidationError(_("Thủ tục %(c)s không thuộc thẩm quyền của %(a)s.", c=procedure.code, a=named.name))
    return named


def _case_of(pv: ProcedureVersion, case_key: str) -> ProcedureVersion | ProcedureCase:
    """The case `case_key` of the version in force: its own limit and process ("" is the
    main case: the version itself)."""
    if not case_key:
        return pv
    case = pv.case(case_key)
    if case is None:
        raise ValidationError(_("Thủ tục %(c)s không có trường hợp “%(k)s” trong quy trình đang hiệu lực.",
                                c=pv.procedure.code, k=case_key))
    return case


def _desk_of(actor: User):
    """The actor's one-stop office; only its officers (or head) work the desk."""
    authz.require(actor, "dossiers.receive", actor.department,
                  message=_("Chỉ cán bộ Bộ phận một cửa được tiếp nhận hồ sơ."))
    return actor.department


def components_to_receive(procedure: Procedure) -> list[str]:
    """The names of the dossier components the procedure's version in force asks for (the
    desk ticks those received; the receipt lists them)."""
    try:
        version = _version_in_force(procedure)
    except Conflict:
        return []
    return [component["name"] for component in version.components or [] if component.get("name")]


def _version_in_force(procedure: Procedure) -> ProcedureVersion:
    version = documents.effective_version(procedure.document)
    pv = procedure_version_of(version) if version is not None else None
    if pv is None or version.status is not VersionStatus.effective:
        raise Conflict(_("Thủ tục %(c)s chưa có quy trình đang hiệu lực.", c=procedure.code))
    return pv


def _new_code(agency, day) -> str:
    """{agency code}-{yyMMdd}-{NNNN}: the next number of the agency's day (Decree 118/2025:
    agency identifier + receipt date + sequence within the day)."""
    return f"{agency.code}-{day:%y%m%d}-{_next_number(agency.id, day):04d}"


def _lines(text: str) -> list[str]:
    """The non-empty lines of a textarea, stripped (one missing item or reason per line)."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def issue_guidance(*, actor: User, procedure: Procedure, applicant_name: str, missing: str,
                   now: datetime, channel: Channel = Channel.direct, applicant_id_number: str = "",
                   applicant_phone: str = "", applicant_address: str = "",
                   applicant_email: str = "") -> dict:
    """Guide the applicant of an incomplete dossier (Mẫu 02, phiếu yêu cầu bổ sung, hoàn
    thiện hồ sơ, at reception). Returns what the slip prints.

    Rules: nothing is received and no dossier code is used (the clock does not start: an
    incomplete dossier is not received); only a one-stop officer guides; the applicant and
    the missing items are required; the slip is attributable through an explicit audit row
    (who, when, for whom, what was missing)."""
    department = _desk_of(actor)
    items = _lines(missing)
    if not (applicant_name or "").strip():
        raise ValidationError(_("Hãy nhập tên người nộp hồ sơ."))
    if not items:
        raise ValidationError(_("Hãy ghi nội dung cần bổ sung, hoàn thiện."))
    slip = {
        "agency": department.agency, "department": department, "procedure": procedure,
        "channel": channel, "applicant_name": applicant_name.strip(),
        "applicant_id_number": (applicant_id_number or "").strip(),
        "applicant_phone": (applicant_phone or "").strip(),
        "applicant_address": (applicant_address or "").strip(),
        "applicant_email": (applicant_email or "").strip(),
        "missing": items, "at": now, "by": actor, "components": [],
    }
    version = documents.effective_version(procedure.document)
    pv = procedure_version_of(version) if version is not None else None
    if pv is not None:  # the components the procedure asks for, printed for reference
        slip["components"] = list(pv.components or [])
    with audit_log.acting_as(actor):
        audit_log.record(db.session, "dossier.guidance_issued", None, note="\n".join(items), changes={
            "agency": department.agency.code, "department": department.code,
            "procedure": procedure.code, "channel": channel.value,
            "applicant_name": slip["applicant_name"],
            "applicant_id_number": slip["applicant_id_number"],
            "applicant_phone": slip["applicant_phone"], "missing": items,
            "at": now.isoformat()})
    return slip


def refuse_dossier(*, actor: User, procedure: Procedure, applicant_name: str, reasons: str,
                   now: datetime, channel: Channel = Channel.direct, applicant_id_number: str = "",
                   applicant_phone: str = "", applicant_address: str = "",
                   applicant_email: str = "", components: list[str] | None = None) -> Dossier:
    """Refuse to receive a dossier (Mẫu 03, phiếu từ chối tiếp nhận giải quyết hồ sơ).

    Rules: as for receiving (a one-stop officer; the procedure has a version in force,
    pinned for the record), the refusal gets a dossier code of the same numbering, the
    national status 3 "not accepted" and a not-accepted event with the reasons (required);
    it has no steps, and no time runs: the due time is the refusal time. No lookup secret
    is given (a random, never shown one is hashed): the slip is the citizen's record."""
    department = _desk_of(actor)
    if not (applicant_name or "").strip():
        raise ValidationError(_("Hãy nhập tên người nộp hồ sơ."))
    items = _lines(reasons)
    if not items:
        raise ValidationError(_("Hãy ghi lý do từ chối tiếp nhận."))
    pv = _version_in_force(procedure)
    agency = department.agency
    calendar = calendars.calendar_for(agency)
    dossier = Dossier(
        code=_new_code(agency, calendar.local(now).date()),
        lookup_secret_hash=generate_password_hash(new_lookup_secret(), method=LOOKUP_HASH),
        agency=agency, department=department, procedure=procedure, procedure_version=pv,
        channel=channel, applicant_name=applicant_name.strip(),
        applicant_id_number=(applicant_id_number or "").strip(),
        applicant_phone=(applicant_phone or "").strip(),
        applicant_address=(applicant_address or "").strip(),
        applicant_email=(applicant_email or "").strip(), components=list(components or []),
        status=DossierStatus.not_accepted, received_at=now, received_by=actor,
        original_due_at=now, due_at=now)
    db.session.add(dossier)
    db.session.add(DossierEvent(dossier=dossier, kind=EventKind.not_accepted, at=now, by=actor,
                                department=department, reason="\n".join(items)))
    audit_log.flush_as(db.session, actor)
    return dossier


def _hand_over(step: DossierStep, *, department, by: User, at: datetime) -> None:
    """Hand a step over to `department` at `at`: due after its allotted working time on the
    calendar of that department's agency (another agency's, for a step handled there)."""
    step.department = department
    step.handed_over_by, step.handed_over_at = by, at
    calendar = calendars.calendar_for(department.agency)
    step.due_at = _within_dossier(step, calendar.add_working_minutes(at, step.minutes))


def _within_dossier(step: DossierStep, due: datetime) -> datetime:
    """A same-day dossier's steps share the hours left before its close (2 h when received
    at 15:00): none is due after the dossier itself."""
    dossier = step.dossier
    if dossier.time_rule.same_day:
        return min(due, dossier.due_at)
    return due




def complete_step(step: DossierStep, *, actor: User, now: datetime, note: str = "",
                  result: str = "", files=(), next_department=None) -> DossierStep:
    """Record that `actor` finished the dossier's current step (with a note, what it
    produced and optional files) and hand the next one over at that instant: to
    `next_department`, for one-stop steps to the receiving office, and for a step sent back
    earlier to the department that held it. The next department may be another agency's
    in the province (inter-agency processing, liên thông: another commune, a provincial
    department): the step is due on that agency's calendar, and completing it there hands
    the dossier back.

    Rules: only the responsible department completes a step, once (of two concurrent
    completions exactly one wins); steps go in order; completing the last step makes the
    result ready at the one-stop office (status 9): processing is over and the dossier is
    classified on that moment. Handing the result over is `return_result`, later."""
    dossier = step.dossier
    if dossier.status not in (DossierStatus.received, DossierStatus.processing):
        raise Conflict(_("Hồ sơ đang ở trạng thái “%(s)s”.", s=dossier.status.label))
    _refuse_while_paused(dossier)
    if current_step(dossier) is not step:
        raise Conflict(_("Bước này đã được hoàn thành hoặc chưa đến lượt."))
    authz.require(actor, "dossiers.complete_step", step, message=_("Bước này thuộc phòng khác."))
    following = next((s for s in dossier.steps if s.position == step.position + 1), None)
    if following is not None:
        if following.role is StepRole.one_stop:
            next_department = dossier.department
        elif next_department is None and following.department is not None:
            next_department = following.department  # it was sent back from there
        if next_department is None:
            raise ValidationError(_("Hãy chọn phòng ban nhận bước tiếp theo: %(n)s.", n=following.name))
        if not next_department.active or \
                next_department.agency.province().id != dossier.agency.province().id:
            raise ValidationError(_("Phòng ban nhận bước tiếp theo phải là phòng ban đang hoạt động "
                                    "của %(a)s hoặc của một cơ quan khác trong %(p)s (liên thông).",
                                    a=dossier.processing_agency.name, p=dossier.agency.province().name))
    # Compare-and-set: one UPDATE that matches only an open step, so of two concurrent
    # officers exactly one wins, on SQLite and PostgreSQL alike.
    # Files are checked and stored first: a bad file refuses the completion as a whole.
    stored = [attachments.store_upload(f) for f in files if f and getattr(f, "filename", "")]
    won = db.session.execute(
        sa.update(DossierStep)
        .where(DossierStep.id == step.id, DossierStep.completed_at.is_(None),
               DossierStep.handed_over_at == step.handed_over_at)
        .values(completed_at=now, completed_by_id=actor.id, note=(note or "").strip(),
                result=(result or "").strip())
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not won:
        for file in stored:
            file.path.unlink(missing_ok=True)
        raise Conflict(_("Bước này đã được hoàn thành."))
    db.session.refresh(step)
    audit_log.record(db.session, "dossier_step.completed", step, note=(note or "").strip() or None,
                 changes={"completed_at": now.isoformat(), "completed_by": actor.username,
                          "result": step.result, "files": [f.filename for f in stored]})
    for file in stored:
        db.session.add(DossierFile(dossier=dossier, step=step, filename=file.filename,
                                   storage_name=file.storage_name, media_type=file.media_type,
                                   size=file.size, sha256=file.sha256, uploaded_by_id=actor.id,
                                   uploaded_at=now))
    if following is not None:
        _hand_over(following, department=next_department, by=actor, at=now)
        dossier.status = DossierStatus.processing
    else:
        dossier.status = DossierStatus.processed
        dossier.processed_at = now
    audit_log.flush_as(db.session, actor)
    nonconformities.after_completion(step, now=now)
    return step


def send_back(step: DossierStep, *, actor: User, reason: str, now: datetime) -> DossierEvent:
    """Return the current step to the previous one, with the reason (e.g. the appraisal
    finds the draft incomplete). The previous step is handed over again at that instant
    with its full allotted time; its earlier completion stays in the audit log and the
    event. The dossier's own due time does not move.

    Rules: only the department holding the current step sends it back, with a reason; the
    first step has nothing to go back to."""
    _require_reason(reason)
    dossier = step.dossier
    if dossier.status not in (DossierStatus.received, DossierStatus.processing):
        raise Conflict(_("Hồ sơ đang ở trạng thái “%(s)s”.", s=dossier.status.label))
    _refuse_while_paused(dossier)
    if current_step(dossier) is not step:
        raise Conflict(_("Bước này đã được hoàn thành hoặc chưa đến lượt."))
    authz.require(actor, "dossiers.complete_step", step, message=_("Bước này thuộc phòng khác."))
    if step.position == 1:
        raise Conflict(_("Bước đầu tiên không có bước trước để chuyển trả."))
    previous = next(s for s in dossier.steps if s.position == step.position - 1)
    # Compare-and-set, as for completions: of a completion and a send-back racing, one wins.
    won = db.session.execute(
        sa.update(DossierStep)
        .where(DossierStep.id == step.id, DossierStep.completed_at.is_(None),
               DossierStep.handed_over_at == step.handed_over_at)
        .values(handed_over_at=None, handed_over_by_id=None, due_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not won:
        raise Conflict(_("Bước này đã được hoàn thành hoặc chuyển trả."))
    db.session.refresh(step)
    event = _record_event(dossier, EventKind.sent_back, actor=actor, now=now, reason=reason,
                          department=step.department, step_position=step.position)
    previous.completed_at = previous.completed_by = None
    previous.note = previous.result = ""
    department = dossier.department if previous.role is StepRole.one_stop else previous.department
    _hand_over(previous, department=department, by=actor, at=now)
    audit_log.flush_as(db.session, actor)
    return event


def timeliness(dossier: Dossier) -> Timeliness | None:
    """Early / on time / late once processing is over (the result is ready, whenever the
    applicant collects it); None while in progress."""
    if dossier.processed_at is None:
        return None
    return classify(dossier.processed_at, dossier.due_at)


def step_timeliness(step: DossierStep) -> Timeliness | None:
    if step.completed_at is None or step.due_at is None:
        return None
    return classify(step.completed_at, step.due_at)


@functools.cache
def _decoy_hash() -> str:
    """A lookup hash that guards no dossier, checked when the code is unknown."""
    return generate_password_hash(new_lookup_secret(), method=LOOKUP_HASH)


def find_for_lookup(code: str, secret: str) -> Dossier | None:
    """The dossier with this code, only if the secret matches (else None, alike).

    An unknown code costs one hash check too (against a decoy), so the time of the answer
    does not tell an existing code from a wrong secret."""
    dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == (code or "").strip().upper()))
    stored = dossier.lookup_secret_hash if dossier is not None else _decoy_hash()
    matches = check_password_hash(stored, (secret or "").strip().upper())
    return dossier if dossier is not None and matches else None


REISSUABLE = frozenset(DossierStatus) - {DossierStatus.registered, DossierStatus.not_accepted}


def reissue_receipt(dossier: Dossier, *, actor: User, now: datetime) -> str:
    """A new receipt (Mẫu 01) for an applicant who lost theirs: a new lookup secret is
    issued and returned (shown once, printed on the slip), and the old one stops working,
    since only its hash was kept. Rules: an officer of the office that received the dossier;
    a dossier that was received (not one waiting online or refused at the desk, which has
    its refusal slip). The change is in the audit log (the secret itself never is)."""
    authz.require(actor, "dossiers.receive", dossier.department,
                  message=_("Chỉ cán bộ Bộ phận một cửa đã tiếp nhận hồ sơ được in lại giấy tiếp nhận."))
    refuse_synced(dossier)
    if dossier.status not in REISSUABLE:
        raise Conflict(_("Hồ sơ %(c)s chưa được tiếp nhận nên không có giấy tiếp nhận.", c=dossier.code))
    secret = new_lookup_secret()
    dossier.lookup_secret_hash = generate_password_hash(secret, method=LOOKUP_HASH)
    audit_log.flush_as(db.session, actor)
    return secret


OPEN_STATUSES = (DossierStatus.registered, DossierStatus.received, DossierStatus.processing,
                 DossierStatus.supplement_requested, DossierStatus.awaiting_payment)


def in_flight_on(procedure_version_id: int) -> list[Dossier]:
    """Dossiers still being worked under a given process version (they keep its rules
    even after a newer version takes effect)."""
    return db.session.scalars(sa.select(Dossier).where(
        Dossier.procedure_version_id == procedure_version_id,
        Dossier.status.in_(OPEN_STATUSES)).order_by(Dossier.due_at)).all()


# --- pauses, delays and endings ---------------------------------------------------------------
# Which events may happen in which dossier states, and where they lead (checked in one place).
EVENT_TRANSITIONS: dict[EventKind, tuple[frozenset[DossierStatus], DossierStatus]] = {
    EventKind.supplement_requested: (frozenset({DossierStatus.received, DossierStatus.processing}),
                                     DossierStatus.supplement_requested),
    EventKind.supplement_received: (frozenset({DossierStatus.supplement_requested}),
                                    DossierStatus.processing),
    EventKind.payment_requested: (frozenset({DossierStatus.received, DossierStatus.processing}),
                                  DossierStatus.awaiting_payment),
    EventKind.payment_received: (frozenset({DossierStatus.awaiting_payment}), DossierStatus.processing),
    EventKind.apology: (frozenset({DossierStatus.received, DossierStatus.processing}), None),
    EventKind.stopped: (frozenset(OPEN_STATUSES), DossierStatus.stopped),
    EventKind.withdrawn: (frozenset(OPEN_STATUSES), DossierStatus.withdrawn),
    EventKind.sent_back: (frozenset({DossierStatus.received, DossierStatus.processing}), None),
    EventKind.result_returned: (frozenset({DossierStatus.processed}), DossierStatus.returned),
    EventKind.accepted: (frozenset({DossierStatus.registered}), DossierStatus.received),
    # the status stays "processing" (national code 4): the clock alone stops
    EventKind.pause_started: (frozenset({DossierStatus.received, DossierStatus.processing}),
                              DossierStatus.processing),
    EventKind.pause_ended: (frozenset({DossierStatus.processing}), DossierStatus.processing),
    EventKind.not_accepted: (frozenset({DossierStatus.registered}), DossierStatus.not_accepted),
}


def refuse_synced(dossier: Dossier) -> None:
    """A dossier taken in from another system mirrors what that system did: it is acted on
    there, never here (its next push brings the change)."""
    if dossier.synced:
        raise Conflict(_("Hồ sơ %(c)s được đồng bộ từ %(s)s: mọi thao tác thực hiện trên hệ thống đó.",
                         c=dossier.code, s=dossier.source.name))


def _record_event(dossier: Dossier, kind: EventKind, *, actor: User, now: datetime, reason: str = "",
                  department=None, due_before=None, due_after=None,
                  step_position: int | None = None, late: bool = False,
                  pause_kind: PauseKind | None = None) -> DossierEvent:
    refuse_synced(dossier)
    sources, target = EVENT_TRANSITIONS[kind]
    if dossier.status not in sources:
        raise Conflict(_("Hồ sơ đang ở trạng thái “%(s)s”.", s=dossier.status.label))
    event = DossierEvent(dossier=dossier, kind=kind, at=now, by=actor, reason=(reason or "").strip(),
                         department=department, due_before=due_before, due_after=due_after,
                         step_position=step_position, late=late, pause_kind=pause_kind)
    db.session.add(event)
    if target is not None:
        dossier.status = target
    audit_log.flush_as(db.session, actor)
    return event


def _refuse_while_paused(dossier: Dossier) -> None:
    """While a pause the procedure allows is on, the clock is stopped and the work waits."""
    started = _open_pause(dossier)
    if started is not None:
        raise Conflict(_("Hồ sơ đang tạm dừng tính thời gian (%(k)s) từ %(t)s; hãy tiếp tục tính thời gian trước.",
                         k=started.pause_kind.label.lower(),
                         t=calendars.calendar_for(dossier.agency).local(started.at).strftime("%H:%M %d/%m/%Y")))


def _require_reason(reason: str) -> None:
    if not (reason or "").strip():
        raise ValidationError(_("Hãy ghi lý do."))


def request_supplement(dossier: Dossier, *, actor: User, reason: str, now: datetime) -> DossierEvent:
    """Ask the applicant for missing documents (Mẫu 02): the clock stops.

    Rule: at most `supplement_max` times (once unless the procedure says otherwise), with
    the reason; by the department holding the dossier or the one-stop office."""
    _require_reason(reason)
    authz.require(actor, "dossiers.act", dossier, message=_("Hồ sơ đang do phòng khác giải quyết."))
    _refuse_while_paused(dossier)
    allowed = dossier.procedure_version.supplement_max
    if dossier.count(EventKind.supplement_requested) >= allowed:
        raise Conflict(_("Đã yêu cầu bổ sung %(n)d lần, tối đa theo quy định.", n=allowed))
    event = _record_event(dossier, EventKind.supplement_requested, actor=actor, now=now,
                          reason=reason, department=actor.department, due_before=dossier.due_at)
    dossier.paused_at = now
    return event


def receive_supplement(dossier: Dossier, *, actor: User, now: datetime) -> DossierEvent:
    """The applicant brought the documents: the clock runs again, by the version's rule —
    restart the whole limit from the complete dossier (default), or resume what was left."""
    authz.require(actor, "dossiers.desk", dossier, message=_("Chỉ Bộ phận một cửa nhận hồ sơ bổ sung."))
    return _resume(dossier, EventKind.supplement_received, actor=actor, now=now,
                   restart=dossier.procedure_version.supplement_rule.value == "restart")


def request_payment(dossier: Dossier, *, actor: User, reason: str, now: datetime) -> DossierEvent:
    """Waiting for the applicant's financial obligation (taxes, fees): the clock stops."""
    _require_reason(reason)
    authz.require(actor, "dossiers.act", dossier, message=_("Hồ sơ đang do phòng khác giải quyết."))
    _refuse_while_paused(dossier)
    event = _record_event(dossier, EventKind.payment_requested, actor=actor, now=now, reason=reason,
                          department=actor.department, due_before=dossier.due_at)
    dossier.paused_at = now
    return event


def receive_payment(dossier: Dossier, *, actor: User, now: datetime) -> DossierEvent:
    authz.require(actor, "dossiers.act", dossier, message=_("Hồ sơ đang do phòng khác giải quyết."))
    return _resume(dossier, EventKind.payment_received, actor=actor, now=now, restart=False)


def _resume(dossier: Dossier, kind: EventKind, *, actor: User, now: datetime, restart: bool) -> DossierEvent:
    """The clock runs again: the dossier's due time on the processing agency's calendar, its
    current step's on the calendar of the agency holding it."""
    calendar = calendars.calendar_for(dossier.processing_agency)
    before = dossier.due_at
    step = current_step(dossier)
    step_calendar = calendars.calendar_for(step.department.agency) if step and step.department else calendar
    if restart:
        dossier.due_at = due_time(dossier.time_rule, now, calendar)
        if step is not None:
            step.due_at = _within_dossier(step, step_calendar.add_working_minutes(now, step.minutes))
    else:
        paused = dossier.paused_at or now
        dossier.due_at = calendar.resume_after_pause(before, paused, now)
        if step is not None and step.due_at is not None:
            step.due_at = _within_dossier(step, step_calendar.resume_after_pause(step.due_at, paused, now))
    dossier.paused_at = None
    return _record_event(dossier, kind, actor=actor, now=now, due_before=before,
                         due_after=dossier.due_at)


def may_sign_apology(actor: User, dossier: Dossier) -> bool:
    """Who signs the apology for the delay (the setting APOLOGY_SIGNERS): the head of the
    department holding the dossier, which causes the delay, and/or a leader of the agency."""
    signers = current_app.config["APOLOGY_SIGNERS"]
    return (("department_head" in signers and authz.may(actor, "dossiers.apologise", dossier))
            or ("leader" in signers and authz.may(actor, "dossiers.apologise_for_agency", dossier)))


PAUSING_EVENTS = (EventKind.supplement_requested, EventKind.payment_requested, EventKind.pause_started)


def current_pause(dossier: Dossier) -> DossierEvent | None:
    """The event that stopped the clock, while it is stopped (what the citizen is waiting
    on, or asked for: its reason); None when the dossier runs."""
    if dossier.paused_at is None:
        return None
    return next((e for e in reversed(dossier.events) if e.kind in PAUSING_EVENTS), None)


def apology_deadline(dossier: Dossier) -> datetime:
    """The latest time an apology is on time: APOLOGY_NOTICE_WORKING_DAYS working days
    before the legal due time, on the agency's calendar."""
    days = current_app.config["APOLOGY_NOTICE_WORKING_DAYS"]
    calendar = calendars.calendar_for(dossier.processing_agency)
    return calendar.subtract_working_minutes(dossier.due_at, days * MINUTES_PER_WORKING_DAY)


def start_pause(dossier: Dossier, *, actor: User, kind: PauseKind, reason: str, now: datetime) -> DossierEvent:
    """Stop the clock for work the procedure allows outside the time limit (a cadastral
    survey, a verification, a public posting, another agency's opinion), with the reason.

    Rules: only for the kinds the pinned process version lists; one pause at a time; by the
    department holding the dossier or the one-stop office; no step is completed while the
    clock is stopped. `end_pause` resumes it with the time that was left."""
    _require_reason(reason)
    authz.require(actor, "dossiers.act", dossier, message=_("Hồ sơ đang do phòng khác giải quyết."))
    if kind.value not in (dossier.procedure_version.pauses or []):
        raise ValidationError(_("Quy trình của thủ tục này không cho phép tạm dừng để %(k)s.",
                                k=kind.label.lower()))
    if dossier.paused_at is not None:
        raise Conflict(_("Hồ sơ đang tạm dừng tính thời gian từ trước."))
    event = _record_event(dossier, EventKind.pause_started, actor=actor, now=now, reason=reason,
                          department=actor.department, due_before=dossier.due_at, pause_kind=kind)
    dossier.paused_at = now
    return event


def end_pause(dossier: Dossier, *, actor: User, now: datetime) -> DossierEvent:
    """The paused work is done: the clock runs again with the time that was left (a pause
    never erases lateness: WorkCalendar.resume_after_pause)."""
    authz.require(actor, "dossiers.act", dossier, message=_("Hồ sơ đang do phòng khác giải quyết."))
    started = _open_pause(dossier)
    if started is None:
        raise Conflict(_("Hồ sơ không ở trong một lần tạm dừng tính thời gian."))
    event = _resume(dossier, EventKind.pause_ended, actor=actor, now=now, restart=False)
    event.pause_kind = started.pause_kind
    return event


# A stop of the clock and the event that ends it, by kind
_STOP_ENDS = {EventKind.supplement_requested: EventKind.supplement_received,
              EventKind.payment_requested: EventKind.payment_received,
              EventKind.pause_started: EventKind.pause_ended}


def clock_stops(dossier: Dossier) -> list[dict]:
    """Every time the dossier's clock stopped, for the control slip: {"what", "reason",
    "started", "ended" (None while still stopped), "by"}, in order."""
    stops, open_stop = [], None
    for event in dossier.events:
        if event.kind in _STOP_ENDS:
            what = event.pause_kind.label if event.pause_kind else event.kind.label
            open_stop = {"what": str(what), "reason": event.reason, "started": event.at, "ended": None,
                         "by": event.by, "ends_with": _STOP_ENDS[event.kind]}
            stops.append(open_stop)
        elif open_stop is not None and event.kind is open_stop["ends_with"]:
            open_stop["ended"], open_stop = event.at, None
    return stops


def _open_pause(dossier: Dossier) -> DossierEvent | None:
    """The pause_started event of the pause in progress (None when the clock runs)."""
    last = next((e for e in reversed(dossier.events)
                 if e.kind in (EventKind.pause_started, EventKind.pause_ended)), None)
    if last is not None and last.kind is EventKind.pause_started and dossier.paused_at is not None:
        return last
    return None


def apologise(dossier: Dossier, *, actor: User, reason: str, promised_at: datetime,
              now: datetime) -> DossierEvent:
    """The apology letter with a new date (Mẫu 04).

    Rules: at most once per dossier, signed as `may_sign_apology` says, with a reason and a
    new date after both the due time and now; the delaying department is the one holding
    the current step. Due by `apology_deadline`: a later letter is still issued (the
    citizen is owed it) but marked late, and raises a nonconformity against that
    department. The legal due time stays for the reports."""
    _require_reason(reason)
    step = current_step(dossier)
    if not may_sign_apology(actor, dossier):
        raise Forbidden(_("Văn bản xin lỗi do người đứng đầu đơn vị làm chậm hồ sơ ký."))
    if dossier.count(EventKind.apology):
        raise Conflict(_("Hồ sơ đã có văn bản xin lỗi; chỉ được hẹn lại một lần."))
    if promised_at <= max(dossier.due_at, now):
        raise ValidationError(_("Ngày hẹn mới phải sau thời hạn hiện tại."))
    dossier.promised_at = promised_at
    event = _record_event(dossier, EventKind.apology, actor=actor, now=now, reason=reason,
                          department=step.department, due_before=dossier.due_at, due_after=promised_at,
                          late=now > apology_deadline(dossier))
    if event.late:
        nonconformities.raise_for_late_apology(event, now=now)
    return event


def stop_processing(dossier: Dossier, *, actor: User, reason: str, now: datetime) -> DossierEvent:
    """Stop processing (Mẫu 05) with the reason; the dossier ends."""
    _require_reason(reason)
    authz.require(actor, "dossiers.act", dossier, message=_("Hồ sơ đang do phòng khác giải quyết."))
    return _record_event(dossier, EventKind.stopped, actor=actor, now=now, reason=reason)


def withdraw(dossier: Dossier, *, actor: User, reason: str, now: datetime) -> DossierEvent:
    """The applicant withdraws the dossier, recorded at the one-stop office."""
    _require_reason(reason)
    authz.require(actor, "dossiers.desk", dossier, message=_("Chỉ Bộ phận một cửa ghi nhận việc rút hồ sơ."))
    return _record_event(dossier, EventKind.withdrawn, actor=actor, now=now, reason=reason)


def return_result(dossier: Dossier, *, actor: User, via: ResultDelivery, now: datetime,
                  note: str = "") -> DossierEvent:
    """The applicant got the result (status 10): at the desk, by post or online.

    Rule: by the one-stop office that received the dossier, once its result is ready. The
    dossier stays classified on the moment processing finished (the national reporting
    rule): a citizen who collects a week later does not make the office late."""
    authz.require(actor, "dossiers.desk", dossier, message=_("Chỉ Bộ phận một cửa trả kết quả."))
    if dossier.status is not DossierStatus.processed:  # checked again by _record_event
        raise Conflict(_("Hồ sơ đang ở trạng thái “%(s)s”.", s=dossier.status.label))
    dossier.returned_at, dossier.returned_via = now, via
    return _record_event(dossier, EventKind.result_returned, actor=actor, now=now,
                         reason=(note or "").strip())


def promised_time(dossier: Dossier, day: date) -> datetime:
    """The new promised time of an apology from the day the officer picks: the close of
    that working day on the agency's calendar (e.g. 17:00), as a letter promises "by that
    day". A day off is refused rather than moved, so a letter never names a day nobody works."""
    calendar = calendars.calendar_for(dossier.processing_agency)
    if not calendar.is_working_day(day):
        raise ValidationError(_("Ngày %(d)s không phải ngày làm việc; hãy chọn một ngày làm việc.",
                                d=day.strftime("%d/%m/%Y")))
    return calendar.close_of(day)


# The pause / delay / ending actions by name (the web routes and the dossier page use them).
EVENT_ACTIONS = ("supplement_request", "supplement_receive", "payment_request", "payment_receive",
                 "apology", "stop", "withdraw", "return_result", "pause_start", "pause_end")


def available_actions(actor: User, dossier: Dossier, now: datetime) -> set[str]:
    """The actions of EVENT_ACTIONS `actor` may take on `dossier` at `now`: the conditions
    the services above check (state, department, role, counts, time), so the dossier page
    shows no button that only leads to a refusal. Keep in step with those services; the
    services stay the authority (a page may be stale)."""
    if not actor.is_active or dossier.synced:
        return set()

    def state_allows(kind: EventKind) -> bool:
        return dossier.status in EVENT_TRANSITIONS[kind][0]

    acts, desk = authz.may(actor, "dossiers.act", dossier), authz.may(actor, "dossiers.desk", dossier)
    paused = _open_pause(dossier) is not None
    allowed = set()
    if acts and state_allows(EventKind.supplement_requested) and not paused and \
            dossier.count(EventKind.supplement_requested) < dossier.procedure_version.supplement_max:
        allowed.add("supplement_request")
    if desk and state_allows(EventKind.supplement_received):
        allowed.add("supplement_receive")
    if acts and state_allows(EventKind.payment_requested) and not paused:
        allowed.add("payment_request")
    if acts and state_allows(EventKind.pause_started) and dossier.paused_at is None \
            and dossier.procedure_version.pauses:
        allowed.add("pause_start")
    if acts and paused:
        allowed.add("pause_end")
    if acts and state_allows(EventKind.payment_received):
        allowed.add("payment_receive")
    if (state_allows(EventKind.apology) and current_step(dossier) is not None
            and may_sign_apology(actor, dossier) and not dossier.count(EventKind.apology)):
        allowed.add("apology")
    if acts and state_allows(EventKind.stopped):
        allowed.add("stop")
    if desk and state_allows(EventKind.withdrawn):
        allowed.add("withdraw")
    if desk and state_allows(EventKind.result_returned):
        allowed.add("return_result")
    return allowed


def apology_hint(actor: User, dossier: Dossier) -> str | None:
    """For someone who may not sign the apology the dossier may still need: who signs it
    (APOLOGY_SIGNERS) and by when it is on time; None when `actor` may sign it, or none can
    be issued any more (one already issued, no step running)."""
    step = current_step(dossier)
    if (step is None or dossier.count(EventKind.apology) or dossier.status not in EVENT_TRANSITIONS[EventKind.apology][0]
            or may_sign_apology(actor, dossier)):
        return None
    signers = current_app.config["APOLOGY_SIGNERS"]
    who = []
    if "department_head" in signers and step.department is not None:
        who.append(_("trưởng %(d)s (nơi đang giữ hồ sơ)", d=step.department.name))
    if "leader" in signers:
        who.append(_("lãnh đạo %(a)s", a=dossier.processing_agency.name))
    deadline = to_local(apology_deadline(dossier)).strftime("%d/%m/%Y %H:%M")
    return _("Nếu hồ sơ có thể trễ hạn, văn bản xin lỗi và hẹn lại (Mẫu 04) do %(w)s ký, chậm nhất %(t)s.",
             w=_(" hoặc ").join(who) or "—", t=deadline)


def why_not_complete(actor: User, dossier: Dossier) -> str | None:
    """Why `actor` is offered no completion form for the dossier's current step (None: it is
    offered, or there is no step to complete): the clock stopped, or the step held by
    another department, or a dossier synced from another system; the page says it instead
    of a form that would be refused."""
    if dossier.synced:
        return _("Hồ sơ %(c)s được đồng bộ từ %(s)s: mọi thao tác thực hiện trên hệ thống đó.",
                 c=dossier.code, s=dossier.source.name)
    step = current_step(dossier)
    if step is None or dossier.status not in (DossierStatus.received, DossierStatus.processing,
                                              DossierStatus.supplement_requested,
                                              DossierStatus.awaiting_payment):
        return None
    pause = current_pause(dossier)
    if pause is not None:
        return _("Hồ sơ đang tạm dừng (%(k)s) từ %(t)s: bước %(p)d được hoàn thành khi hồ sơ tiếp tục.",
                 k=pause.kind.label.lower(), t=to_local(pause.at).strftime("%d/%m/%Y %H:%M"), p=step.position)
    if not authz.may(actor, "dossiers.complete_step", step):
        holder = step.department.name if step.department is not None else "—"
        return _("Bước %(p)d (%(n)s) do %(d)s xử lý; chỉ cán bộ của phòng đó hoàn thành được.",
                 p=step.position, n=step.name, d=holder)
    return None


# --- reading ------------------------------------------------------------------------------------
def processing_agencies(receiving: Agency) -> list[Agency]:
    """The agencies a one-stop office may receive for: those of its level in its province
    (Decree 118/2025: received wherever the applicant lives), itself first."""
    others = db.session.scalars(sa.select(Agency).where(
        Agency.id.in_(agency_tree_ids(receiving.province().id)), Agency.level == receiving.level,
        Agency.id != receiving.id, Agency.effective_to.is_(None)).order_by(Agency.name)).all()
    return [receiving, *others]


def next_department_choices(dossier: Dossier) -> list[tuple[int, str]]:
    """The departments a step may go to: the processing agency's first, then those of the
    other agencies of the province (inter-agency processing), each named with its agency."""
    rows = db.session.execute(
        sa.select(Department, Agency).join(Agency, Agency.id == Department.agency_id)
        .where(Department.active.is_(True), Agency.id.in_(agency_tree_ids(dossier.agency.province().id)))
        .order_by(Agency.code, Department.code)).all()
    own = dossier.processing_agency.id
    mine = [(d.id, f"{d.code} — {d.name}") for d, a in rows if a.id == own]
    others = [(d.id, f"{a.name}: {d.code} — {d.name}") for d, a in rows if a.id != own]
    return mine + others


def queue(department_id: int):
    """The current steps a department holds, soonest due first, with what the page shows
    loaded in the same few queries (no query per row)."""
    from sqlalchemy.orm import contains_eager, selectinload

    return (sa.select(DossierStep)
            .join(DossierStep.dossier)
            .where(DossierStep.department_id == department_id,
                   DossierStep.completed_at.is_(None),
                   DossierStep.handed_over_at.is_not(None),
                   Dossier.status.in_((DossierStatus.received, DossierStatus.processing)))
            .options(contains_eager(DossierStep.dossier).selectinload(Dossier.procedure))
            .options(selectinload(DossierStep.department))
            .order_by(DossierStep.due_at))


def receivable_procedures(agency) -> list[Procedure]:
    """The procedures in force that this agency's level handles."""
    return db.session.scalars(search("", level=agency.level)).all()
