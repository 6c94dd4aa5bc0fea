"""Corrective actions (DESIGN flow 5; ISO 9001:2015 §10.2): one CAR (phiếu yêu cầu hành
động khắc phục) answers one or more nonconformities of one department.

The loop: the department head (or the quality officer) opens the CAR, writes the correction
taken and the root cause (5 whys, or free text), plans action items (owner, due date) with an
effectiveness check date and a verifier who is never the CAR's owner; the items are done with
their evidence; the verifier then judges the CAR effective (CAR and nonconformities closed)
or not (back to analysis, the reason kept in the Verification row, the nonconformities
reopened). Where a nonconformity concerns a process, `measurement` shows the verifier the
step's or procedure's late rate before the CAR and since its actions were done.

The CAR's states are data (TRANSITIONS), moved in one place (`_move`), each move audited;
the nonconformities follow through `nonconformities.transition`."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from qms import authz
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.localtime import date_of
from qms.models import (
    ActionItem,
    CarStatus,
    CorrectiveAction,
    Department,
    Dossier,
    DossierStep,
    NcStatus,
    Nonconformity,
    Procedure,
    User,
    Verification,
)
from qms.services import audit_log, nonconformities, sequences
from qms.services.timeliness import is_late

# Nonconformities a CAR may take on: not yet answered, not closed or rejected.
ANSWERABLE = (NcStatus.open, NcStatus.under_analysis)

MAX_WHYS = 10
MAX_TEXT = 4000
DEFAULT_MEASURE_DAYS = 90

# The CAR's state machine: action → (from, to, the nonconformities' move). Who may take
# each action is checked by the public function that takes it (see `available_actions`).
TRANSITIONS: dict[str, tuple[frozenset[CarStatus], CarStatus, str]] = {
    "plan": (frozenset({CarStatus.analysis}), CarStatus.action_planned, "plan"),
    "actions_done": (frozenset({CarStatus.action_planned}), CarStatus.verifying, "verify"),
    "close": (frozenset({CarStatus.verifying}), CarStatus.closed, "close"),
    "reopen": (frozenset({CarStatus.verifying}), CarStatus.analysis, "reopen"),
}


def _today(now: datetime) -> date:
    return date_of(now)


def _move(car: CorrectiveAction, action: str, *, actor: User | None, now: datetime,
          note: str = "") -> None:
    """Move the CAR along TRANSITIONS and its nonconformities along theirs, on record."""
    sources, target, nc_action = TRANSITIONS[action]
    if car.status not in sources:
        raise Conflict(_("Phiếu %(c)s đang ở trạng thái “%(s)s”.", c=car.code, s=car.status.label))
    before = car.status
    car.status = target
    car.closed_at = now if target is CarStatus.closed else None
    for nc in car.nonconformities:
        if nc.status is NcStatus.rejected:  # rejected by the quality officer meanwhile: out of the loop
            continue
        nonconformities.transition(nc, nc_action, actor=actor, now=now)
    audit_log.flush_as(db.session, actor)
    with audit_log.acting_as(actor):
        audit_log.record(db.session, f"corrective_action.{action}", car, note=note or None,
                     changes={"status": [before.value, target.value]})


# --- who may do what (the rules are qms.authz's "cars.*") ----------------------------------------
def _may_own(user: User | None, department_id: int) -> bool:
    """May be responsible for a CAR of the department: its head or one of its officers."""
    return authz.may(user, "cars.own", department_id)


def visible_to(user: User):
    """authz's "cars.view" rule as an SQL condition on CorrectiveAction (for the list)."""
    if authz.has(user, "cars.read_all"):
        return sa.true()
    own_items = sa.select(ActionItem.corrective_action_id).where(ActionItem.owner_id == user.id)
    return sa.or_(CorrectiveAction.department_id == user.department_id,
                  CorrectiveAction.verifier_id == user.id,
                  CorrectiveAction.id.in_(own_items))


def available_actions(user: User, car: CorrectiveAction) -> set[str]:
    """What the CAR page offers `user` now: "add", "analysis", "plan", "complete" (some
    item), "verify". No button leads to a refusal."""
    actions: set[str] = set()
    if car.status is CarStatus.analysis:
        if authz.may(user, "cars.manage", car.department_id):
            actions.add("add")
        if authz.may(user, "cars.write", car):
            actions.update({"analysis", "plan"})
    elif car.status is CarStatus.action_planned:
        if any(item.done_at is None and authz.may(user, "cars.complete_item", item) for item in car.items):
            actions.add("complete")
    elif car.status is CarStatus.verifying and authz.may(user, "cars.verify", car):
        actions.add("verify")
    return actions


# --- opening ----------------------------------------------------------------------------------
def _check_answerable(ncs: Sequence[Nonconformity], department_id: int | None = None) -> int:
    """The nonconformities' common department, once each is free to be answered."""
    if not ncs:
        raise ValidationError(_("Hãy chọn ít nhất một sự không phù hợp."))
    departments = {nc.department_id for nc in ncs}
    if len(departments) > 1 or (department_id is not None and departments != {department_id}):
        raise ValidationError(_("Một phiếu hành động khắc phục chỉ trả lời các sự không phù hợp của cùng một phòng ban."))
    for nc in ncs:
        if nc.corrective_action_id is not None:
            raise Conflict(_("Sự không phù hợp %(c)s đã có phiếu hành động khắc phục.", c=nc.code))
        if nc.status not in ANSWERABLE:
            raise Conflict(_("Sự không phù hợp %(c)s đang ở trạng thái “%(s)s”, không thể lập phiếu khắc phục.",
                             c=nc.code, s=nc.status.label))
    return departments.pop()


def _attach(car: CorrectiveAction, ncs: Sequence[Nonconformity], *, actor: User, now: datetime) -> None:
    """Link the nonconformities to the CAR by compare-and-set (only if still unanswered), so
    two CARs opened at once never claim the same nonconformity; open ones go to analysis."""
    ids = [nc.id for nc in ncs]
    claimed = db.session.execute(
        sa.update(Nonconformity)
        .where(Nonconformity.id.in_(ids), Nonconformity.corrective_action_id.is_(None),
               Nonconformity.status.in_(ANSWERABLE))
        .values(corrective_action_id=car.id)
        .execution_options(synchronize_session=False)).rowcount
    if claimed != len(ids):
        raise Conflict(_("Một sự không phù hợp vừa được trả lời bởi phiếu khác; hãy tải lại trang."))
    for nc in ncs:
        db.session.refresh(nc)
        with audit_log.acting_as(actor):
            audit_log.record(db.session, "nonconformity.answered", nc, note=car.code,
                         changes={"corrective_action_id": [None, car.id]})
        if nc.status is NcStatus.open:
            nonconformities.transition(nc, "analyse", actor=actor, now=now)
    db.session.expire(car, ["nonconformities"])


def open_car(nonconformities_: Sequence[Nonconformity], *, owner: User | None, actor: User,
             now: datetime) -> CorrectiveAction:
    """Open a CAR answering `nonconformities_`.

    Rules: the quality officer or the head of the nonconformities' department opens it; the
    nonconformities are open or under analysis, of one department, not answered by another
    CAR; the owner is an active head or officer of that department (by default the actor,
    when a head of it);
    numbered CAR-{year}-{NNNN}; open nonconformities move to analysis."""
    ncs = list(dict.fromkeys(nonconformities_))
    department_id = _check_answerable(ncs)
    if not authz.may(actor, "cars.manage", department_id):
        raise Forbidden(_("Chỉ cán bộ ISO hoặc trưởng phòng có sự không phù hợp được lập phiếu hành động khắc phục."))
    if owner is None:
        if not _may_own(actor, department_id):
            raise ValidationError(_("Hãy chọn người chịu trách nhiệm (trưởng phòng hoặc cán bộ của phòng có "
                                    "sự không phù hợp)."))
        owner = actor
    if not (_may_own(owner, department_id) and owner.is_active):
        department = db.session.get(Department, department_id)
        raise ValidationError(_("Người chịu trách nhiệm phải là trưởng phòng hoặc cán bộ của %(d)s.",
                                d=department.name))
    car = CorrectiveAction(code=sequences.next_code("CAR", _today(now).year),
                           department_id=department_id, owner=owner, status=CarStatus.analysis,
                           correction="", whys=[], root_cause="", created_by=actor, created_at=now)
    db.session.add(car)
    audit_log.flush_as(db.session, actor)
    _attach(car, ncs, actor=actor, now=now)
    with audit_log.acting_as(actor):
        audit_log.record(db.session, "corrective_action.opened", car,
                     changes={"nonconformities": [nc.code for nc in ncs], "owner": owner.username})
    return car


def add_nonconformities(car: CorrectiveAction, ncs: Sequence[Nonconformity], *, actor: User,
                        now: datetime) -> CorrectiveAction:
    """Let an open CAR answer more nonconformities of its department, while the cause is
    still being analysed (so the analysis and plan cover them too)."""
    if not authz.may(actor, "cars.manage", car.department_id):
        raise Forbidden(_("Chỉ cán bộ ISO hoặc trưởng phòng được bổ sung sự không phù hợp vào phiếu."))
    if car.status is not CarStatus.analysis:
        raise Conflict(_("Chỉ bổ sung sự không phù hợp khi phiếu đang ở bước phân tích nguyên nhân."))
    ncs = list(dict.fromkeys(ncs))
    _check_answerable(ncs, car.department_id)
    _attach(car, ncs, actor=actor, now=now)
    return car


# --- analysis and plan ------------------------------------------------------------------------
def _text(value: str | None, label: str, *, limit: int = MAX_TEXT) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise ValidationError(_("%(label)s quá dài (tối đa %(n)d ký tự).", label=label, n=limit))
    return value


def write_analysis(car: CorrectiveAction, *, correction: str, whys: Iterable[str], root_cause: str,
                   actor: User, now: datetime) -> CorrectiveAction:
    """Record the correction taken and the root-cause analysis.

    Rules: the owner or the quality officer, while the CAR is in analysis; the cause is
    either a chain of whys (5 whys: one or more answers, in order) or a free-text root
    cause, or both — never neither."""
    if not authz.may(actor, "cars.write", car):
        raise Forbidden(_("Chỉ người chịu trách nhiệm phiếu hoặc cán bộ ISO được phân tích nguyên nhân."))
    if car.status is not CarStatus.analysis:
        raise Conflict(_("Phiếu %(c)s đang ở trạng thái “%(s)s”; không sửa phân tích nguyên nhân.",
                         c=car.code, s=car.status.label))
    chain = [_text(why, _("Câu trả lời “Tại sao?”"), limit=1000) for why in whys]
    chain = [why for why in chain if why]
    if len(chain) > MAX_WHYS:
        raise ValidationError(_("Tối đa %(n)d câu “Tại sao?”.", n=MAX_WHYS))
    cause = _text(root_cause, _("Nguyên nhân gốc"))
    if not chain and not cause:
        raise ValidationError(_("Hãy phân tích nguyên nhân: trả lời ít nhất một câu “Tại sao?” (5 Why) hoặc ghi nguyên nhân gốc."))
    car.correction = _text(correction, _("Hành động khắc phục tức thời"))
    car.whys = chain
    car.root_cause = cause
    audit_log.flush_as(db.session, actor)
    return car


def _has_analysis(car: CorrectiveAction) -> bool:
    return bool(car.whys) or bool((car.root_cause or "").strip())


def plan(car: CorrectiveAction, *, items: Sequence[tuple[str, User | None, date | None]],
         check_date: date | None, verifier: User | None, actor: User, now: datetime) -> CorrectiveAction:
    """Plan the actions: analysis → action planned.

    Rules: the owner or the quality officer, once the cause is analysed; at least one item,
    each with a description, an owner and a due date not in the past; the effectiveness
    check date after the last due date; the verifier is a quality officer, leader or
    auditor and never the CAR's owner. After an ineffective verification the earlier items
    stay on record and the new plan adds its own."""
    if not authz.may(actor, "cars.write", car):
        raise Forbidden(_("Chỉ người chịu trách nhiệm phiếu hoặc cán bộ ISO được lập kế hoạch hành động."))
    if car.status is not CarStatus.analysis:
        raise Conflict(_("Phiếu %(c)s đang ở trạng thái “%(s)s”.", c=car.code, s=car.status.label))
    if not _has_analysis(car):
        raise ValidationError(_("Hãy phân tích nguyên nhân trước khi lập kế hoạch hành động."))
    if not items:
        raise ValidationError(_("Hãy nhập ít nhất một hành động khắc phục."))
    today = _today(now)
    cleaned = []
    for row, (description, owner, due) in enumerate(items, start=1):
        description = _text(description, _("Nội dung hành động"))
        if not description:
            raise ValidationError(_("Hành động %(n)d: hãy ghi nội dung.", n=row))
        if owner is None or not owner.is_active:
            raise ValidationError(_("Hành động %(n)d: hãy chọn người thực hiện.", n=row))
        if due is None:
            raise ValidationError(_("Hành động %(n)d: hãy chọn thời hạn.", n=row))
        if due < today:
            raise ValidationError(_("Hành động %(n)d: thời hạn %(d)s đã qua.", n=row, d=due.strftime("%d/%m/%Y")))
        cleaned.append((description, owner, due))
    last_due = max(due for _d, _o, due in cleaned)
    if check_date is None:
        raise ValidationError(_("Hãy chọn ngày kiểm tra hiệu lực."))
    if check_date <= last_due:
        raise ValidationError(_("Ngày kiểm tra hiệu lực phải sau thời hạn của hành động cuối cùng (%(d)s).",
                                d=last_due.strftime("%d/%m/%Y")))
    if verifier is None:
        raise ValidationError(_("Hãy chọn người xác nhận hiệu lực."))
    if verifier.id == car.owner_id:
        raise ValidationError(_("Người xác nhận hiệu lực không được là người chịu trách nhiệm phiếu (%(n)s).",
                                n=verifier.full_name))
    if not authz.has(verifier, "cars.verifier"):
        raise ValidationError(_("Người xác nhận hiệu lực phải là cán bộ ISO, lãnh đạo hoặc chuyên gia đánh giá."))
    position = max((item.position for item in car.items), default=0)
    for description, owner, due in cleaned:
        position += 1
        car.items.append(ActionItem(position=position, description=description, owner=owner, due_date=due))
    car.due_date, car.check_date, car.verifier = last_due, check_date, verifier
    car.actions_done_at = None
    _move(car, "plan", actor=actor, now=now)
    return car


# --- doing the actions --------------------------------------------------------------------------
def complete_item(item: ActionItem, *, evidence: str, actor: User, now: datetime) -> ActionItem:
    """Record an action item done with its evidence; the last one moves the CAR to
    verification (actions_done_at = now) and its nonconformities with it.

    Rules: the item's owner, the CAR's owner or the quality officer; while the actions are
    being carried out; once per item; evidence required."""
    car = item.corrective_action
    if not authz.may(actor, "cars.complete_item", item):
        raise Forbidden(_("Chỉ người thực hiện, người chịu trách nhiệm phiếu hoặc cán bộ ISO được báo cáo hoàn thành."))
    # Lock the CAR row (PostgreSQL; SQLite has one writer anyway) so that two items completed
    # at once cannot both miss that they were the last ones.
    db.session.execute(sa.select(CorrectiveAction.id).where(CorrectiveAction.id == car.id).with_for_update())
    db.session.refresh(car)
    db.session.refresh(item)
    if car.status is not CarStatus.action_planned:
        raise Conflict(_("Phiếu %(c)s đang ở trạng thái “%(s)s”.", c=car.code, s=car.status.label))
    if item.done_at is not None:
        raise Conflict(_("Hành động %(n)d đã được báo cáo hoàn thành.", n=item.position))
    evidence = _text(evidence, _("Bằng chứng"))
    if not evidence:
        raise ValidationError(_("Hãy ghi bằng chứng đã thực hiện (văn bản, hồ sơ, đường dẫn...)."))
    item.done_at, item.evidence = now, evidence
    audit_log.flush_as(db.session, actor)
    remaining = db.session.scalar(sa.select(sa.func.count(ActionItem.id)).where(
        ActionItem.corrective_action_id == car.id, ActionItem.done_at.is_(None)))
    if remaining == 0:
        car.actions_done_at = now
        _move(car, "actions_done", actor=actor, now=now)
    return item


# --- verification -------------------------------------------------------------------------------
def verify(car: CorrectiveAction, *, effective: bool, note: str, actor: User, now: datetime,
           days: int = DEFAULT_MEASURE_DAYS) -> Verification:
    """The effectiveness check, by the designated verifier only (never the owner).

    Effective: the CAR and its nonconformities close; before the planned check date, or
    with no data measured since the actions were done, only with the verifier's grounds
    written in `note`. Not effective (a reason required):
    the CAR goes back to analysis for a new plan, its items kept, the nonconformities
    reopened; the reason stays in the Verification row. Either way the row keeps the
    measurement the verifier saw."""
    if not authz.may(actor, "cars.verify", car):
        raise Forbidden(_("Chỉ người được chỉ định xác nhận hiệu lực (không phải người chịu trách nhiệm phiếu) được xác nhận."))
    if car.status is not CarStatus.verifying:
        raise Conflict(_("Phiếu %(c)s đang ở trạng thái “%(s)s”.", c=car.code, s=car.status.label))
    note = _text(note, _("Nhận xét"))
    if not effective and not note:
        raise ValidationError(_("Hãy ghi lý do hành động khắc phục chưa hiệu quả."))
    measured = measurement(car, now, days=days)
    if effective and not note:
        # ISO 9001:2015 §10.2.1 d): effectiveness is reviewed, not assumed. Judging it before
        # the planned check date, or with nothing measured since the actions, needs the
        # verifier's grounds in writing.
        if car.check_date is not None and _today(now) < car.check_date:
            raise ValidationError(_("Chưa đến ngày kiểm tra hiệu lực đã lập kế hoạch (%(d)s): hãy ghi căn cứ "
                                    "để xác nhận sớm.", d=car.check_date.strftime("%d/%m/%Y")))
        if not any(row["after"] and row["after"]["total"] for row in measured["rows"]):
            raise ValidationError(_("Chưa có số liệu đo được sau khi thực hiện hành động: hãy ghi căn cứ "
                                    "xác nhận hiệu lực (bằng chứng, kết quả kiểm tra)."))
    verification = Verification(corrective_action=car, verifier=actor, at=now, effective=effective,
                                note=note, measurement=measured)
    db.session.add(verification)
    if effective:
        _move(car, "close", actor=actor, now=now, note=note)
    else:
        car.actions_done_at = None
        _move(car, "reopen", actor=actor, now=now, note=note)
    return verification


# --- the measured check ---------------------------------------------------------------------------
def _scopes(car: CorrectiveAction) -> list[dict]:
    """The processes the CAR's nonconformities concern, each once: a dossier step's process
    step (the same procedure, position and name, in the dossier's agency — across process
    versions while the step keeps its place and name), or a procedure's dossiers. A
    nonconformity about neither has no measurement."""
    scopes: dict[tuple, dict] = {}
    for nc in car.nonconformities:
        # The office whose dossiers are measured: the dossier's, else the department's
        agency_id = nc.dossier.agency_id if nc.dossier is not None else nc.department.agency_id
        step = nc.dossier_step
        if step is not None:
            agency_id = step.dossier.agency_id
            procedure = step.dossier.procedure
            key = ("step", agency_id, procedure.id, step.position, step.name)
            scopes.setdefault(key, {
                "kind": "step", "agency_id": agency_id, "procedure_id": procedure.id,
                "procedure": procedure.code, "procedure_name": procedure.name,
                "position": step.position, "step": step.name})
        elif nc.procedure_id is not None:
            procedure = db.session.get(Procedure, nc.procedure_id)
            key = ("procedure", agency_id, procedure.id)
            scopes.setdefault(key, {
                "kind": "procedure", "agency_id": agency_id, "procedure_id": procedure.id,
                "procedure": procedure.code, "procedure_name": procedure.name,
                "position": None, "step": None})
    return list(scopes.values())


def _rate(total: int, late: int) -> dict:
    return {"total": total, "late": late,
            "rate": round(100.0 * late / total, 1) if total else None}


def _late_counts(scope: dict, before: tuple[datetime, datetime], after: tuple[datetime, datetime] | None):
    """One aggregate query: completed and late counts in the two windows. Late by the
    timeliness rule in force (services.timeliness, in SQL)."""
    if scope["kind"] == "step":
        finished, due = DossierStep.completed_at, DossierStep.due_at
        query = (sa.select().select_from(DossierStep).join(Dossier, Dossier.id == DossierStep.dossier_id)
                 .where(DossierStep.position == scope["position"], DossierStep.name == scope["step"]))
    else:
        finished, due = Dossier.processed_at, Dossier.due_at
        query = sa.select().select_from(Dossier)
    query = query.where(Dossier.procedure_id == scope["procedure_id"], Dossier.agency_id == scope["agency_id"],
                        finished.is_not(None), due.is_not(None))
    late = is_late(finished, due)

    def window(start, end):
        inside = sa.and_(finished >= start, finished < end)
        return (sa.func.count(sa.case((inside, 1))),
                sa.func.count(sa.case((sa.and_(inside, late), 1))))

    columns = [*window(*before)]
    if after is not None:
        columns += [*window(*after)]
    row = db.session.execute(query.add_columns(*columns)).one()
    return [int(value or 0) for value in row]


def measurement(car: CorrectiveAction, now: datetime, *, days: int = DEFAULT_MEASURE_DAYS) -> dict:
    """The measured check: for each process the nonconformities concern, the late rate of
    its completed steps (or processed dossiers) in the `days` before the CAR was opened, and
    since its actions were done (None while not done; a total of 0 means "not enough data
    yet"). A plain dict, kept as it was in each Verification row."""
    opened = car.created_at
    before = (opened - timedelta(days=days), opened)
    done = car.actions_done_at
    after = (done, now + timedelta(microseconds=1)) if done is not None else None
    rows = []
    for scope in _scopes(car):
        counts = _late_counts(scope, before, after)
        rows.append({
            "kind": scope["kind"], "procedure": scope["procedure"],
            "procedure_name": scope["procedure_name"], "position": scope["position"],
            "step": scope["step"],
            "before": _rate(counts[0], counts[1]),
            "after": _rate(counts[2], counts[3]) if after is not None else None,
        })
    return {"days": days, "before_from": before[0].isoformat(), "before_to": before[1].isoformat(),
            "after_from": done.isoformat() if done is not None else None, "at": now.isoformat(),
            "rows": rows}


# --- overdue (dashboards) -----------------------------------------------------------------------
def _item_overdue(today: date):
    return sa.and_(ActionItem.done_at.is_(None), ActionItem.due_date < today)


def overdue_condition(today: date):
    """A CAR not closed whose open items' due dates or whose check date have passed."""
    late_item = sa.select(ActionItem.id).where(ActionItem.corrective_action_id == CorrectiveAction.id,
                                              _item_overdue(today))
    return sa.and_(CorrectiveAction.status != CarStatus.closed,
                   sa.or_(sa.exists(late_item), CorrectiveAction.check_date < today))


def overdue_items(now: datetime, *, department_id: int | None = None):
    """Action items not done past their due date (of CARs not closed), the oldest first."""
    query = (sa.select(ActionItem).join(ActionItem.corrective_action)
             .where(_item_overdue(_today(now)), CorrectiveAction.status != CarStatus.closed)
             .options(selectinload(ActionItem.owner), selectinload(ActionItem.corrective_action))
             .order_by(ActionItem.due_date, ActionItem.id))
    if department_id:
        query = query.where(CorrectiveAction.department_id == department_id)
    return query


def overdue_cars(now: datetime, *, department_id: int | None = None):
    """CARs not closed whose item due dates or effectiveness check date have passed."""
    query = (sa.select(CorrectiveAction).where(overdue_condition(_today(now)))
             .order_by(CorrectiveAction.created_at, CorrectiveAction.id))
    if department_id:
        query = query.where(CorrectiveAction.department_id == department_id)
    return query


def is_overdue(car: CorrectiveAction, now: datetime) -> bool:
    """The same rule as `overdue_cars`, for one CAR."""
    return bool(db.session.scalar(sa.select(overdue_condition(_today(now))).select_from(CorrectiveAction)
                                  .where(CorrectiveAction.id == car.id)))


def is_item_overdue(item: ActionItem, now: datetime) -> bool:
    return item.done_at is None and item.due_date < _today(now)


# --- reading ------------------------------------------------------------------------------------
def listing(actor: User, now: datetime, *, status: CarStatus | None = None,
            department_id: int | None = None):
    """(CAR, overdue) rows the actor may read, newest first, filtered."""
    query = (sa.select(CorrectiveAction, overdue_condition(_today(now)).label("overdue"))
             .where(visible_to(actor))
             .options(selectinload(CorrectiveAction.department), selectinload(CorrectiveAction.owner),
                      selectinload(CorrectiveAction.nonconformities))
             .order_by(CorrectiveAction.created_at.desc(), CorrectiveAction.id.desc()))
    if status is not None:
        query = query.where(CorrectiveAction.status == status)
    if department_id:
        query = query.where(CorrectiveAction.department_id == department_id)
    return query


def answerable_nonconformities(actor: User, *, department_id: int | None = None):
    """The nonconformities `actor` may open a CAR for: not answered, open or under analysis;
    all departments' for the quality officer, a head's own department's."""
    query = (sa.select(Nonconformity)
             .where(Nonconformity.corrective_action_id.is_(None), Nonconformity.status.in_(ANSWERABLE))
             .options(selectinload(Nonconformity.department))
             .order_by(Nonconformity.department_id, Nonconformity.detected_at, Nonconformity.id))
    if not authz.has(actor, "cars.manage_any"):
        if not authz.has(actor, "cars.own"):
            return query.where(sa.false())
        query = query.where(Nonconformity.department_id == actor.department_id)
    if department_id:
        query = query.where(Nonconformity.department_id == department_id)
    return query


def possible_owners(department_id: int | None = None):
    """The people who may be responsible for a CAR: the active heads and officers (of the
    department, when given)."""
    from qms.models.accounts import UserRole

    query = (sa.select(User).join(UserRole, UserRole.user_id == User.id)
             .where(UserRole.role.in_(authz.roles_with("cars.own")), User.active.is_(True))
             .options(selectinload(User.department)).order_by(User.full_name))
    if department_id:
        query = query.where(User.department_id == department_id)
    return query


def possible_verifiers(car: CorrectiveAction):
    """Active quality officers, leaders and auditors other than the CAR's owner."""
    from qms.models.accounts import UserRole

    eligible = sa.select(UserRole.user_id).where(UserRole.role.in_(authz.roles_with("cars.verifier")))
    return (sa.select(User).where(User.id.in_(eligible), User.active.is_(True), User.id != car.owner_id)
            .order_by(User.full_name))
