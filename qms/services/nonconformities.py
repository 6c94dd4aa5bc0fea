"""The nonconformity register (DESIGN flow 3): raised by hand, from an audit finding, a
citizen's complaint or a management review, and automatically when a step or a dossier
passes its due time (once per record, even when two runs race)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased, selectinload

from qms import authz, localtime
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import (
    AuditLog,
    CodeSequence,
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
from qms.services import audit_log, sequences
from qms.services.timeliness import classify, is_late

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
# The automatic nonconformities of overdue steps and dossiers are raised in bulk by
# `check_overdue` (cron) and one at a time by `after_completion` (a late step, a dossier
# finished late). Both build the same rows (`_step_row`, `_dossier_row`) and insert them with
# ON CONFLICT DO NOTHING on the unique origin key ("step:<id>", "dossier:<id>"), so a record
# gets exactly one whoever races whom.
_AUTOMATIC = {"status": NcStatus.open, "severity": Severity.minor, "clause": "8.5.1",
              "correction": "", "rejected_reason": ""}


def _insert_nonconformities():
    """INSERT INTO nonconformity ... ON CONFLICT (origin_key) DO NOTHING RETURNING id,
    origin_key: the dialect's own insert (SQLite and PostgreSQL both have the clause)."""
    dialect = db.session.get_bind().dialect.name
    table = Nonconformity.__table__
    return ((postgresql if dialect == "postgresql" else sqlite).insert(table)
            .on_conflict_do_nothing(index_elements=["origin_key"])
            .returning(table.c.id, table.c.origin_key)
            # as many rows per statement as the database's limit on bound parameters allows
            .execution_options(insertmanyvalues_page_size=100_000))


def _reserve_codes(now: datetime, count: int) -> list[str]:
    """`count` consecutive codes of the year (NC-2026-0042, ...) in one atomic upsert of the
    numbering scope, the same scope and format as `_new_code` (qms.services.sequences)."""
    year = localtime.date_of(now).year
    dialect = db.session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert(CodeSequence)
    last = db.session.execute(
        insert.values(scope=f"NC-{year}", last=count).on_conflict_do_update(
            index_elements=["scope"], set_={"last": CodeSequence.last + count},
        ).returning(CodeSequence.last)).scalar_one()
    return [f"NC-{year}-{number:04d}" for number in range(last - count + 1, last + 1)]


def _raised_audit_rows(inserted: list[tuple[int, str, str, NcSource]]) -> list[dict]:
    """The "nonconformity.raised" audit rows (one per nonconformity, as `audit_log.record`
    writes them: the acting user or the system process, the origin key as the note)."""
    # who and when are the same for every row: asked once (the OS user is a system call)
    same = audit_log._row("nonconformity.raised", Nonconformity.__tablename__, None, None, None)
    return [{**same, "entity_id": nc_id, "changes": {"code": code, "source": source.value},
             "note": origin_key}
            for nc_id, origin_key, code, source in inserted]


def _raise_many(rows: list[dict], now: datetime) -> list[int]:
    """Insert the nonconformities `rows` (each with its origin key, in the order their codes
    are given) that do not exist yet, and their audit rows; return the ids inserted, in that
    order. A handful of statements however many rows: one upsert reserves the codes, one
    INSERT ... ON CONFLICT DO NOTHING (batched by SQLAlchemy only past the database's limit
    on bound parameters) inserts them, one INSERT writes the audit rows. A row another run
    inserted meanwhile is skipped, and its reserved code left unused."""
    if not rows:
        return []
    codes = _reserve_codes(now, len(rows))
    unset = dict.fromkeys(set().union(*rows))  # one shape for every row (a step's has its step)
    values = [{**_AUTOMATIC, **unset, **row, "code": code, "detected_at": now}
              for row, code in zip(rows, codes, strict=True)]
    ids = dict(db.session.execute(_insert_nonconformities(), values).all())
    inserted = {origin_key: nc_id for nc_id, origin_key in ids.items()}
    kept = [(inserted[v["origin_key"]], v["origin_key"], v["code"], v["source"])
            for v in values if v["origin_key"] in inserted]
    if kept:
        db.session.execute(sa.insert(AuditLog).execution_options(insertmanyvalues_page_size=100_000),
                           _raised_audit_rows(kept))
    return [nc_id for nc_id, *_rest in kept]


def _raise_one(row: dict, now: datetime) -> Nonconformity | None:
    """Raise one nonconformity unless its origin already has one (None then): looked up
    first, so a record that has one (the usual case when a late step is completed after
    `check_overdue` saw it) takes no number; a run racing past the lookup is stopped by
    the unique key."""
    if db.session.scalar(sa.select(Nonconformity.id)
                         .where(Nonconformity.origin_key == row["origin_key"])):
        return None
    ids = _raise_many([row], now)
    return db.session.get(Nonconformity, ids[0]) if ids else None


def _when(moment: datetime) -> str:
    # The local wall time, as the agency's calendar shows it (`WorkCalendar.local`: every
    # calendar is in the display time zone), without reading any calendar.
    return localtime.to_local(moment).strftime("%H:%M %d/%m/%Y")


def _step_row(*, step_id: int, name: str, due_at: datetime, department_id: int | None,
              dossier_id: int, dossier_code: str, procedure_id: int) -> dict:
    return {"origin_key": f"step:{step_id}", "source": NcSource.overdue_step,
            "department_id": department_id, "dossier_id": dossier_id, "dossier_step_id": step_id,
            "procedure_id": procedure_id,
            "description": _("Bước “%(n)s” của hồ sơ %(c)s quá hạn (hạn %(d)s).", n=name,
                             c=dossier_code, d=_when(due_at))}


def _dossier_row(*, dossier_id: int, code: str, due_at: datetime, department_id: int,
                 procedure_id: int) -> dict:
    return {"origin_key": f"dossier:{dossier_id}", "source": NcSource.overdue_dossier,
            "department_id": department_id, "dossier_id": dossier_id, "procedure_id": procedure_id,
            "description": _("Hồ sơ %(c)s quá hạn trả kết quả (hạn %(d)s).", c=code,
                             d=_when(due_at))}


def _responsible_department(dossier_id):
    """SQL: the department a late dossier is raised against: the one holding its current
    step (the first not completed); once processing is over, the one of its last step
    completed after its due time; else (or when that step has no department) the dossier's
    one-stop office. A correlated subquery of `dossier_id`, so a whole set is judged in
    one statement."""
    step = aliased(DossierStep)
    is_open = step.completed_at.is_(None)
    culprit = (sa.select(step.department_id)
               .where(step.dossier_id == dossier_id,
                      sa.or_(is_open, step.completed_at > step.due_at))
               .order_by(sa.case((is_open, 0), else_=1),
                         sa.case((is_open, step.position), else_=-step.position))
               .limit(1).scalar_subquery())
    return sa.func.coalesce(culprit, Dossier.department_id)


def _loaded(ids: list[int]) -> list[Nonconformity]:
    """The nonconformities `ids`, in that order, with their departments: two statements."""
    if not ids:
        return []
    found = db.session.scalars(
        sa.select(Nonconformity).where(Nonconformity.id.between(min(ids), max(ids)))
        .options(selectinload(Nonconformity.department))).all()
    by_id = {nc.id: nc for nc in found}
    return [by_id[nc_id] for nc_id in ids]


def raise_for_step(step: DossierStep, *, now: datetime) -> Nonconformity | None:
    """One nonconformity for a step past its due time (None if it already has one)."""
    dossier = step.dossier
    return _raise_one(_step_row(step_id=step.id, name=step.name, due_at=step.due_at,
                                 department_id=step.department_id, dossier_id=dossier.id,
                                 dossier_code=dossier.code, procedure_id=dossier.procedure_id),
                      now)


def raise_for_dossier(dossier: Dossier, *, now: datetime) -> Nonconformity | None:
    """One nonconformity for a dossier past its due time, against the department holding it
    (`_responsible_department`)."""
    department_id = db.session.scalar(
        sa.select(_responsible_department(Dossier.id)).where(Dossier.id == dossier.id))
    return _raise_one(_dossier_row(dossier_id=dossier.id, code=dossier.code,
                                   due_at=dossier.due_at, department_id=department_id,
                                   procedure_id=dossier.procedure_id), now)


def raise_for_late_dossiers(dossiers: list[Dossier], *, now: datetime) -> list[int]:
    """One nonconformity for each dossier whose processing finished late and that has none
    yet, against its department: dossiers taken in from another system arrive finished
    (qms.services.sync). A handful of statements however many."""
    rows = {f"dossier:{d.id}": _dossier_row(dossier_id=d.id, code=d.code, due_at=d.due_at,
                                            department_id=d.department_id, procedure_id=d.procedure_id)
            for d in dossiers}
    have = set(db.session.scalars(sa.select(Nonconformity.origin_key)
                                  .where(Nonconformity.origin_key.in_(rows))))
    return _raise_many([row for key, row in rows.items() if key not in have], now)


def raise_for_late_apology(event: DossierEvent, *, now: datetime) -> Nonconformity | None:
    """An apology issued after its latest time (services.dossiers.apology_deadline), against
    the department that caused the delay."""
    dossier = event.dossier
    return _raise_one({
        "origin_key": f"apology:{event.id}", "source": NcSource.late_apology,
        "department_id": event.department_id or dossier.department_id,
        "dossier_id": dossier.id, "procedure_id": dossier.procedure_id,
        "description": _("Văn bản xin lỗi hồ sơ %(c)s gửi chậm, lúc %(at)s (hạn trả kết quả %(d)s).",
                         c=dossier.code, at=_when(event.at), d=_when(event.due_before))}, now)


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
    the same date rule as the reports), and return them: steps first, then dossiers, each
    by due time. Paused dossiers (supplementation, financial obligation) are not running
    late: their status keeps them out; nor those in a pause the procedure allows (survey,
    posting, ...), whose clock is stopped (`paused_at`).

    Set-based: the rule is applied in SQL (`timeliness.is_late` of `now` against the due
    time, the form the reports use), which needs no working-time arithmetic and so no
    calendar; one query finds the steps, one the dossiers (with the department each is
    raised against), and `_raise_many` inserts them all. The number of statements does
    not grow with the number of overdue records (tests/quality/test_overdue_bulk.py)."""
    running = (DossierStatus.received, DossierStatus.processing)
    moment = sa.literal(now, DossierStep.__table__.c.due_at.type)
    steps = db.session.execute(
        sa.select(DossierStep.id, DossierStep.name, DossierStep.due_at, DossierStep.department_id,
                  Dossier.id.label("dossier_id"), Dossier.code, Dossier.procedure_id)
        .join(Dossier, Dossier.id == DossierStep.dossier_id)
        .where(DossierStep.completed_at.is_(None), DossierStep.handed_over_at.is_not(None),
               DossierStep.due_at < now, is_late(moment, DossierStep.due_at),
               Dossier.status.in_(running), Dossier.paused_at.is_(None))
        .where(~sa.exists().where(Nonconformity.origin_key == _key("step:", DossierStep.id)))
        .order_by(DossierStep.due_at, DossierStep.id)).all()
    dossiers = db.session.execute(
        sa.select(Dossier.id, Dossier.code, Dossier.due_at, Dossier.procedure_id,
                  _responsible_department(Dossier.id).label("department_id"))
        .where(Dossier.status.in_(running), Dossier.paused_at.is_(None), Dossier.due_at < now,
               is_late(moment, Dossier.due_at))
        .where(~sa.exists().where(Nonconformity.origin_key == _key("dossier:", Dossier.id)))
        .order_by(Dossier.due_at, Dossier.id)).all()
    rows = [_step_row(step_id=s.id, name=s.name, due_at=s.due_at, department_id=s.department_id,
                      dossier_id=s.dossier_id, dossier_code=s.code, procedure_id=s.procedure_id)
            for s in steps]
    rows += [_dossier_row(dossier_id=d.id, code=d.code, due_at=d.due_at,
                          department_id=d.department_id, procedure_id=d.procedure_id)
             for d in dossiers]
    return _loaded(_raise_many(rows, now))


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
