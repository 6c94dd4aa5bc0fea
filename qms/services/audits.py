"""Internal audits (DESIGN flow 4; ISO 9001:2015 §9.2): the yearly programme, audits with
their scope and team, the checklist generated from the ISO clauses and procedures in scope,
the answers with their evidence, the findings (a nonconformity finding raises a
Nonconformity at once) and the audit's states.

Rules enforced here:
- the quality officer keeps the programmes (one per agency and year) and plans or edits any
  audit, naming any lead; an auditor plans an audit in any programme (every staff member
  reads the programmes) only as its lead auditor, and edits it while planned only if they
  lead it — they never name another lead (authz "audits.*", `_require_own_lead`);
- the lead auditor and the team hold the auditor role, and no auditor audits their own
  department (ISO 9001:2015 §9.2.2 c: objectivity and impartiality), when planned and
  whenever the scope or team changes;
- the lead and the team answer the checklist and record findings while the audit is in
  progress; sampled dossiers must exist;
- planned → in progress → reported → closed, one table (TRANSITIONS) checked in one place;
  an audit closes only when each of its nonconformities has a corrective action (CAR).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from qms import authz
from qms.errors import Conflict, Forbidden, NotFound, ValidationError
from qms.extensions import db
from qms.models import (
    Agency,
    Audit,
    AuditProgramme,
    AuditStatus,
    ChecklistItem,
    ChecklistResult,
    Department,
    Dossier,
    EvidenceFile,
    Finding,
    FindingKind,
    NcSource,
    NcStatus,
    Nonconformity,
    Procedure,
    Severity,
    User,
)
from qms.services import attachments, audit_log, iso_clauses, nonconformities, sequences
from qms.text import fold, nfc

CODE_PREFIX = "ĐG"  # ĐG-2026-01: đánh giá nội bộ
CODE_WIDTH = 2

# A nonconformity finding raises a nonconformity of this severity.
NC_FINDINGS = {FindingKind.major_nc: Severity.major, FindingKind.minor_nc: Severity.minor}

# Who moves an audit, from which states, to which: checked in one place, `_check`.
#   "lead": the audit's lead auditor; "quality": a quality officer.
TRANSITIONS: dict[str, tuple[frozenset[AuditStatus], AuditStatus, frozenset[str]]] = {
    "start": (frozenset({AuditStatus.planned}), AuditStatus.in_progress, frozenset({"lead", "quality"})),
    "report": (frozenset({AuditStatus.in_progress}), AuditStatus.reported, frozenset({"lead"})),
    "close": (frozenset({AuditStatus.reported}), AuditStatus.closed, frozenset({"lead", "quality"})),
}

PROCEDURE_QUESTION = "Việc thực hiện quy trình {code} {name}: hồ sơ lấy mẫu, thời hạn, biểu mẫu"


def ascii_code(code: str) -> str:
    """ĐG-2026-01 → dg-2026-01, for file names."""
    return fold(code).replace(" ", "-")


# --- who may do what (the rules are qms.authz's "audits.*") ---------------------------------------
def _require_own_lead(actor: User, lead: User | None) -> None:
    """An auditor who is not a quality officer plans and edits only audits they lead: they
    never name, nor hand over to, another lead auditor."""
    if authz.has(actor, "audits.manage"):
        return
    if lead is None or lead.id != actor.id:
        raise Forbidden(_("Chuyên gia đánh giá chỉ lập, sửa kế hoạch cuộc đánh giá do chính mình làm "
                          "trưởng đoàn; để phân công trưởng đoàn khác, hãy đề nghị cán bộ ISO."))


def _holds(user: User | None, audit_: Audit, who: frozenset[str]) -> bool:
    return (("lead" in who and authz.is_lead(user, audit_))
            or ("quality" in who and authz.has(user, "audits.manage")))


def may(user: User | None, action: str, audit_: Audit) -> bool:
    """May `user` do `action` to the audit now? Actions: the TRANSITIONS keys, "edit" (scope
    and team, while planned) and "conduct" (answer, record findings, while in progress)."""
    if action == "edit":
        return authz.may(user, "audits.edit_plan", audit_) and audit_.status is AuditStatus.planned
    if action == "conduct":
        return authz.is_team_member(user, audit_) and audit_.status is AuditStatus.in_progress
    sources, _target, who = TRANSITIONS[action]
    return audit_.status in sources and _holds(user, audit_, who)


def _check(audit_: Audit, action: str, actor: User | None) -> AuditStatus:
    """The one place a transition is checked: who, then the state. Returns the target."""
    sources, target, who = TRANSITIONS[action]
    if not _holds(actor, audit_, who):
        if who == {"lead"}:
            raise Forbidden(_("Chỉ trưởng đoàn đánh giá của cuộc đánh giá %(c)s được làm việc này.",
                              c=audit_.code))
        raise Forbidden(_("Chỉ trưởng đoàn đánh giá hoặc cán bộ ISO được làm việc này."))
    if audit_.status not in sources:
        raise Conflict(_("Cuộc đánh giá %(c)s đang ở trạng thái “%(s)s”.", c=audit_.code,
                         s=audit_.status.label))
    return target


def _require_conduct(audit_: Audit, actor: User | None) -> None:
    if not authz.is_team_member(actor, audit_):
        raise Forbidden(_("Chỉ đoàn đánh giá của cuộc đánh giá %(c)s được ghi kết quả.", c=audit_.code))
    if audit_.status is not AuditStatus.in_progress:
        raise Conflict(_("Chỉ ghi kết quả khi cuộc đánh giá đang diễn ra (hiện: “%(s)s”).",
                         s=audit_.status.label))


# --- programmes -----------------------------------------------------------------------------
def create_programme(agency: Agency, *, year: int, title: str, objectives: str = "",
                     actor: User, now: datetime) -> AuditProgramme:
    """Open the yearly internal audit programme of an agency.

    Rules: the quality officer only; one programme per agency and year; a title."""
    if not authz.has(actor, "audits.manage"):
        raise Forbidden(_("Chỉ cán bộ ISO lập chương trình đánh giá nội bộ."))
    if agency is None:
        raise ValidationError(_("Hãy chọn cơ quan, đơn vị."))
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValidationError(_("Năm của chương trình không hợp lệ."))
    title = nfc(title).strip()
    if not title:
        raise ValidationError(_("Hãy nhập tên chương trình đánh giá."))
    if db.session.scalar(sa.select(AuditProgramme.id).where(AuditProgramme.agency_id == agency.id,
                                                            AuditProgramme.year == year)):
        raise Conflict(_("%(a)s đã có chương trình đánh giá nội bộ năm %(y)d.", a=agency.name, y=year))
    programme = AuditProgramme(agency=agency, year=year, title=title, objectives=nfc(objectives).strip(),
                               created_by_id=actor.id, created_at=now)
    db.session.add(programme)
    audit_log.flush_as(db.session, actor)
    return programme


def programmes(year: int | None = None):
    """The programmes as a query, newest year first."""
    query = sa.select(AuditProgramme).join(AuditProgramme.agency).order_by(
        AuditProgramme.year.desc(), Agency.code)
    if year:
        query = query.where(AuditProgramme.year == year)
    return query


def programme_years() -> list[int]:
    return list(db.session.scalars(sa.select(AuditProgramme.year).distinct()
                                   .order_by(AuditProgramme.year.desc())))


def visible_audits(user: User, programme: AuditProgramme) -> list[Audit]:
    return [a for a in programme.audits if authz.may(user, "audits.view", a)]


# --- planning -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """What an audit covers and who audits it, as entered on the planning form."""

    title: str
    departments: list[Department]
    procedures: list[Procedure]
    clauses: list[str]
    criteria: str
    planned_start: date | None
    planned_end: date | None
    lead_auditor: User | None
    team: list[User]


def _agency_ids(agency: Agency) -> set[int]:
    """The agency and every agency below it."""
    ids, todo = set(), [agency]
    while todo:
        node = todo.pop()
        if node.id not in ids:
            ids.add(node.id)
            todo.extend(node.children)
    return ids


def auditable_departments(programme: AuditProgramme) -> list[Department]:
    """The active departments of the programme's agency and the agencies below it."""
    return list(db.session.scalars(
        sa.select(Department).join(Department.agency)
        .where(Department.agency_id.in_(_agency_ids(programme.agency)), Department.active.is_(True))
        .order_by(Agency.code, Department.code)))


def auditors() -> list[User]:
    """Everyone who may sit on an audit team: active users holding the auditor role."""
    from qms.models import UserRole

    return list(db.session.scalars(
        sa.select(User).join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role.in_(authz.roles_with("audits.audit")), User.active.is_(True)).order_by(User.full_name)))


def check_independence(lead: User | None, team, departments) -> None:
    """ISO 9001:2015 §9.2.2 c): auditors are chosen for objectivity and impartiality, so no
    auditor, lead or team member, audits their own department."""
    audited = {d.id: d for d in departments}
    for person in [lead, *team]:
        if person is not None and person.department_id in audited:
            raise ValidationError(_(
                "Chuyên gia đánh giá %(u)s thuộc %(d)s nên không được đánh giá chính phòng ban "
                "của mình (ISO 9001:2015, 9.2.2 c: bảo đảm tính khách quan, công bằng).",
                u=person.full_name, d=audited[person.department_id].name))


def _clean_scope(programme: AuditProgramme, scope: Scope) -> Scope:
    """Check the planning form's values; return them normalised (team without the lead,
    duplicates dropped, clauses in the order of the standard)."""
    title = nfc(scope.title).strip()
    if not title:
        raise ValidationError(_("Hãy nhập tên cuộc đánh giá."))
    departments = sorted({d.id: d for d in scope.departments if d is not None}.values(), key=lambda d: d.code)
    if not departments:
        raise ValidationError(_("Hãy chọn ít nhất một phòng ban được đánh giá."))
    allowed = _agency_ids(programme.agency)
    for department in departments:
        if department.agency_id not in allowed:
            raise ValidationError(_("%(d)s không thuộc %(a)s.", d=department.name, a=programme.agency.name))
    procedures = sorted({p.id: p for p in scope.procedures if p is not None}.values(), key=lambda p: p.code)
    numbers = [str(n).strip() for n in scope.clauses if n and str(n).strip()]
    unknown = [n for n in numbers if iso_clauses.get(n) is None]
    if unknown:
        raise ValidationError(_("Không có điều khoản %(n)s trong ISO 9001:2015.", n=", ".join(unknown)))
    order = {c.number: i for i, c in enumerate(iso_clauses.all_clauses())}
    clauses = sorted(set(numbers), key=order.__getitem__)
    if not clauses and not procedures:
        raise ValidationError(_("Hãy chọn ít nhất một điều khoản ISO hoặc một quy trình để đánh giá."))
    start, end = scope.planned_start, scope.planned_end
    if start is None or end is None:
        raise ValidationError(_("Hãy nhập ngày bắt đầu và ngày kết thúc dự kiến."))
    if end < start:
        raise ValidationError(_("Ngày kết thúc dự kiến phải từ ngày bắt đầu trở đi."))
    if start.year != programme.year:
        raise ValidationError(_("Cuộc đánh giá thuộc chương trình năm %(y)d phải bắt đầu trong năm đó.",
                                y=programme.year))
    lead = scope.lead_auditor
    if lead is None:
        raise ValidationError(_("Hãy chọn trưởng đoàn đánh giá."))
    team = sorted((u for u in {u.id: u for u in scope.team if u is not None}.values() if u.id != lead.id),
                  key=lambda u: u.full_name)
    for person in [lead, *team]:
        if not authz.has(person, "audits.audit"):
            raise ValidationError(_("%(u)s không phải chuyên gia đánh giá (cần vai trò “Chuyên gia đánh giá”).",
                                    u=person.full_name))
    check_independence(lead, team, departments)
    return Scope(title, departments, procedures, clauses, nfc(scope.criteria).strip(), start, end, lead, team)


def _scope_record(audit_: Audit) -> dict:
    """The scope and team as plain values, for the audit log (collections are not columns)."""
    return {"departments": [d.code for d in audit_.departments],
            "procedures": [p.code for p in audit_.procedures],
            "clauses": list(audit_.clauses or []),
            "lead_auditor": audit_.lead_auditor.username if audit_.lead_auditor else None,
            "team": [u.username for u in audit_.team]}


def _apply(audit_: Audit, scope: Scope) -> None:
    audit_.title = scope.title
    audit_.departments = scope.departments
    audit_.procedures = scope.procedures
    audit_.clauses = list(scope.clauses)
    audit_.criteria = scope.criteria
    audit_.planned_start = scope.planned_start
    audit_.planned_end = scope.planned_end
    audit_.lead_auditor = scope.lead_auditor
    audit_.team = scope.team


def plan_audit(programme: AuditProgramme, *, title: str, departments, procedures, clauses,
               criteria: str, planned_start: date | None, planned_end: date | None,
               lead_auditor: User | None, team, actor: User, now: datetime) -> Audit:
    """Plan an audit in a programme, coded ĐG-<year>-<NN>.

    Rules: the quality officer, naming any lead, or an auditor, as the lead themselves
    (another lead is refused); a title, at least one department (of the programme's
    agency) and at least one ISO clause or procedure; dates in order, starting in the
    programme's year; lead and team hold the auditor role and none of them belongs to an
    audited department (independence binds an auditor planning their own audit too)."""
    if not authz.has(actor, "audits.plan"):
        raise Forbidden(_("Chỉ cán bộ ISO hoặc chuyên gia đánh giá lập kế hoạch đánh giá nội bộ."))
    _require_own_lead(actor, lead_auditor)
    scope = _clean_scope(programme, Scope(title, list(departments), list(procedures), list(clauses),
                                          criteria, planned_start, planned_end, lead_auditor, list(team)))
    audit_ = Audit(code=sequences.next_code(CODE_PREFIX, programme.year, width=CODE_WIDTH),
                   programme=programme, status=AuditStatus.planned, created_by_id=actor.id,
                   created_at=now)
    _apply(audit_, scope)
    db.session.add(audit_)
    audit_log.flush_as(db.session, actor)
    with audit_log.acting_as(actor):
        audit_log.record(db.session, "audit.planned", audit_, changes=_scope_record(audit_))
    return audit_


def update_audit(audit_: Audit, *, title: str, departments, procedures, clauses, criteria: str,
                 planned_start: date | None, planned_end: date | None, lead_auditor: User | None,
                 team, actor: User, now: datetime) -> Audit:
    """Change a planned audit's scope, dates or team, under the same rules as planning
    (independence included).

    Rules: the quality officer (any audit, any lead) or the audit's lead auditor (who stays
    its lead); only while the audit is planned."""
    if not authz.may(actor, "audits.edit_plan", audit_):
        raise Forbidden(_("Chỉ cán bộ ISO hoặc trưởng đoàn của cuộc đánh giá %(c)s sửa kế hoạch.",
                          c=audit_.code))
    if audit_.status is not AuditStatus.planned:
        raise Conflict(_("Cuộc đánh giá %(c)s đã bắt đầu: không sửa phạm vi, đoàn đánh giá được nữa.",
                         c=audit_.code))
    _require_own_lead(actor, lead_auditor)
    scope = _clean_scope(audit_.programme, Scope(
        title, list(departments), list(procedures), list(clauses), criteria, planned_start,
        planned_end, lead_auditor, list(team)))
    before = _scope_record(audit_)
    _apply(audit_, scope)
    audit_log.flush_as(db.session, actor)
    after = _scope_record(audit_)
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changes:
        with audit_log.acting_as(actor):
            audit_log.record(db.session, "audit.scope_changed", audit_, changes=changes)
    return audit_


# --- the checklist --------------------------------------------------------------------------
def clause_question(clause) -> str:
    """The checklist question for a clause, from its title (with its parent's, since
    sub-clauses are often titled only "Khái quát")."""
    parent = iso_clauses.get(clause.number.rpartition(".")[0]) if "." in clause.number else None
    within = f" ({parent.number} {parent.title_vi})" if parent else ""
    return f"Đáp ứng yêu cầu điều khoản {clause.number} “{clause.title_vi}”{within}"


def generate_checklist(audit_: Audit) -> list[ChecklistItem]:
    """One line per ISO clause in scope (a clause selects its sub-clauses too), then one
    per procedure in scope. Idempotent: an audit that has its checklist keeps it."""
    if audit_.items:
        return list(audit_.items)
    department = audit_.departments[0] if len(audit_.departments) == 1 else None
    lines = [dict(clause=c.number, question=clause_question(c))
             for c in iso_clauses.in_scope(audit_.clauses or [])]
    lines += [dict(clause="8.5.1", procedure=p,
                   question=PROCEDURE_QUESTION.format(code=p.code, name=p.name))
              for p in audit_.procedures]
    items = [ChecklistItem(audit=audit_, position=i, department=department, **line)
             for i, line in enumerate(lines, start=1)]
    db.session.add_all(items)
    db.session.flush()
    return items


# --- states -----------------------------------------------------------------------------------
def _move(audit_: Audit, action: str, *, actor: User, now: datetime, note: str | None = None) -> Audit:
    target = _check(audit_, action, actor)
    before = audit_.status
    audit_.status = target
    audit_log.flush_as(db.session, actor)
    with audit_log.acting_as(actor):
        audit_log.record(db.session, f"audit.{action}", audit_, note=note,
                     changes={"status": [before.value, target.value]})
    return audit_


def start(audit_: Audit, *, actor: User, now: datetime) -> Audit:
    """planned → in progress (the lead auditor or the quality officer); the checklist is
    generated now. Independence is checked once more: people change departments."""
    _check(audit_, "start", actor)
    check_independence(audit_.lead_auditor, audit_.team, audit_.departments)
    audit_.started_at = now
    with audit_log.acting_as(actor):  # the checklist lines' audit rows name who started
        generate_checklist(audit_)
    return _move(audit_, "start", actor=actor, now=now)


def report(audit_: Audit, *, summary: str, actor: User, now: datetime) -> Audit:
    """in progress → reported, by the lead auditor, with the audit's conclusions."""
    _check(audit_, "report", actor)
    summary = nfc(summary).replace("\r\n", "\n").strip()
    if not summary:
        raise ValidationError(_("Hãy ghi kết luận của cuộc đánh giá."))
    audit_.summary = summary
    audit_.reported_at = now
    return _move(audit_, "report", actor=actor, now=now)


def nonconformities_without_car(audit_: Audit) -> list[Nonconformity]:
    """The audit's nonconformities still waiting for a corrective action (a rejected one
    needs none)."""
    return list(db.session.scalars(
        sa.select(Nonconformity).where(Nonconformity.audit_id == audit_.id,
                                       Nonconformity.corrective_action_id.is_(None),
                                       Nonconformity.status != NcStatus.rejected)
        .order_by(Nonconformity.id)))


def close(audit_: Audit, *, actor: User, now: datetime) -> Audit:
    """reported → closed (the lead auditor or the quality officer), only once every
    nonconformity of the audit is answered by a corrective action (CAR)."""
    _check(audit_, "close", actor)
    waiting = nonconformities_without_car(audit_)
    if waiting:
        raise Conflict(_("Chưa kết thúc được cuộc đánh giá %(c)s: sự không phù hợp %(n)s chưa có "
                         "phiếu hành động khắc phục (CAR).", c=audit_.code,
                         n=", ".join(nc.code for nc in waiting)))
    audit_.closed_at = now
    return _move(audit_, "close", actor=actor, now=now)


# --- conducting -----------------------------------------------------------------------------
_CODE_SPLIT = re.compile(r"[\s,;]+")


def parse_codes(text: str | None) -> list[str]:
    """Dossier codes typed in a box: separated by commas, semicolons, spaces or lines."""
    return [c for c in _CODE_SPLIT.split(text or "") if c]


def answer_item(item: ChecklistItem, *, result: ChecklistResult | None, evidence: str = "",
                sampled_dossier_codes=(), files=(), actor: User, now: datetime) -> ChecklistItem:
    """Record a checklist line's result and its evidence: text, sampled dossiers (by code)
    and files (PDF, DOCX, XLSX). Answering again replaces the result, the text and the
    sampled dossiers; files are added.

    Rules: the lead and the team, while the audit is in progress; a result; every sampled
    dossier exists; a "nonconform" result carries some evidence."""
    audit_ = item.audit
    _require_conduct(audit_, actor)
    if not isinstance(result, ChecklistResult):
        raise ValidationError(_("Hãy chọn kết quả đánh giá."))
    evidence = nfc(evidence).replace("\r\n", "\n").strip()
    codes = list(dict.fromkeys(nfc(c).strip().upper() for c in sampled_dossier_codes if c and c.strip()))
    if codes:
        known = set(db.session.scalars(sa.select(Dossier.code).where(Dossier.code.in_(codes))))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ValidationError(_("Không có hồ sơ mã %(c)s: hãy kiểm tra lại mã hồ sơ lấy mẫu.",
                                    c=", ".join(unknown)))
    uploads = [f for f in files if f is not None and getattr(f, "filename", None)]
    if (result is ChecklistResult.nonconform and not evidence and not codes and not uploads
            and not item.files):
        raise ValidationError(_("Kết quả “Không phù hợp” cần bằng chứng: ghi chép, hồ sơ lấy mẫu "
                                "hoặc tệp đính kèm."))
    stored = []
    try:
        for upload in uploads:
            stored.append(attachments.store_upload(upload))
        item.result = result
        item.evidence = evidence
        item.sampled_dossiers = codes
        item.answered_by_id = actor.id
        item.answered_at = now
        for s in stored:
            db.session.add(EvidenceFile(item=item, filename=s.filename, storage_name=s.storage_name,
                                        media_type=s.media_type, size=s.size, sha256=s.sha256,
                                        uploaded_by_id=actor.id, uploaded_at=now))
        audit_log.flush_as(db.session, actor)
    except Exception:
        for s in stored:
            s.path.unlink(missing_ok=True)
        raise
    return item


def record_finding(audit_: Audit, *, kind: FindingKind | None, clause: str = "",
                   department: Department | None, procedure: Procedure | None = None,
                   description: str, item: ChecklistItem | None = None, actor: User,
                   now: datetime) -> Finding:
    """Record a finding. A major or minor nonconformity finding raises its Nonconformity at
    once (source: audit finding; audit, finding, clause, procedure and department linked).

    Rules: the lead and the team, while the audit is in progress; a kind, a description
    and an audited department; a known ISO clause (required for a nonconformity); the
    procedure, if any, in the audit's scope."""
    _require_conduct(audit_, actor)
    if not isinstance(kind, FindingKind):
        raise ValidationError(_("Hãy chọn loại phát hiện."))
    description = nfc(description).replace("\r\n", "\n").strip()
    if not description:
        raise ValidationError(_("Hãy mô tả phát hiện."))
    if department is None:
        raise ValidationError(_("Hãy chọn phòng ban có phát hiện."))
    if all(d.id != department.id for d in audit_.departments):
        raise ValidationError(_("%(d)s không thuộc phạm vi cuộc đánh giá %(c)s.", d=department.name,
                                c=audit_.code))
    clause = (clause or "").strip()
    if clause and iso_clauses.get(clause) is None:
        raise ValidationError(_("Không có điều khoản %(n)s trong ISO 9001:2015.", n=clause))
    if kind in NC_FINDINGS and not clause:
        raise ValidationError(_("Sự không phù hợp phải chỉ ra điều khoản ISO 9001:2015 không được đáp ứng."))
    if procedure is not None and all(p.id != procedure.id for p in audit_.procedures):
        raise ValidationError(_("Quy trình %(p)s không thuộc phạm vi cuộc đánh giá %(c)s.",
                                p=procedure.code, c=audit_.code))
    if item is not None and item.audit_id != audit_.id:
        raise NotFound(_("Không tìm thấy dòng kiểm tra này trong cuộc đánh giá %(c)s.", c=audit_.code))
    finding = Finding(audit=audit_, item=item, kind=kind, clause=clause, department=department,
                      procedure=procedure, description=description, recorded_by_id=actor.id,
                      recorded_at=now)
    db.session.add(finding)
    audit_log.flush_as(db.session, actor)
    if kind in NC_FINDINGS:
        nonconformities.raise_nonconformity(
            actor=actor, department=department, description=description, severity=NC_FINDINGS[kind],
            now=now, source=NcSource.audit_finding, clause=clause, audit=audit_, finding=finding,
            procedure=procedure)
    return finding


def department_of(item: ChecklistItem) -> Department | None:
    """The department a finding on this line concerns, when the line says: its own, or the
    audit's only department."""
    if item.department is not None:
        return item.department
    departments = item.audit.departments
    return departments[0] if len(departments) == 1 else None


def raise_from_item(item: ChecklistItem, *, kind: FindingKind = FindingKind.minor_nc, description: str,
                    department: Department | None = None, actor: User, now: datetime) -> Finding:
    """A finding (and, for a nonconformity, its Nonconformity) straight from a checklist
    line: the audit, clause and procedure come from the line; the department is the
    line's, else the audit's only department, else the one chosen."""
    return record_finding(item.audit, kind=kind, clause=item.clause, department=department_of(item) or department,
                          procedure=item.procedure, description=description, item=item, actor=actor, now=now)
