"""Compliance metrics computed from the records (DESIGN flow 6, §7; domain notes §3 and §7
"Monthly KPIs"), for a department or an agency with its sub-agencies, over a period of
local dates. Every figure is an SQL aggregate (COUNT/SUM over CASE, GROUP BY): no function
here loads every row of a period into Python; the lists (late dossiers, late steps) are
paginated queries.

Public API (stable; the dashboards, the monthly review and the exports use it):

- ``Scope.of_department(department)`` / ``Scope.of_agency(agency, sub_agencies=True)``;
  ``scope_of(obj)`` takes either.
- ``month_bounds(month) -> (start, end)`` local dates of a month, end exclusive;
  ``utc_bounds(start, end)`` the aware instants of their local midnights.
- ``dossier_metrics(scope, start, end, now) -> dict`` (keys: DOSSIER_KEYS).
- ``step_metrics(scope, start, end, now) -> dict`` ``{"totals": {...}, "rows": [...]}``.
- ``quality_metrics(scope, start, end, now) -> dict`` nonconformities and CARs.
- ``objectives(scope, year, now, end=None) -> list[dict]`` quality objectives measured.
- ``late_dossiers(scope, start, end, now, page=1, per_page=50) -> Page``.
- ``overdue_steps(scope, start, end, now, page=1, per_page=50) -> Page``.
- ``monthly_series(scope, months, now, indicators=None) -> dict`` for trend charts.
- ``INDICATORS``: indicator key → label, unit and where it is read (objectives, charts).

Definitions (periods are [start, end) in local dates, qms.localtime's zone; `cut` =
min(end, now), the moment "at the end of the period" is read; nothing recorded at or after
the cut counts, so a period read "as at" an earlier `now` gives what was known then):

- Scope. A department's *dossiers* are those it RECEIVED (`Dossier.department_id`: the
  one-stop office that received them); a specialist department that only works steps has
  no dossiers of its own, and its figures are its *steps* (`DossierStep.department_id`:
  the steps it held) in ``step_metrics`` / ``overdue_steps``. Its nonconformities and
  CARs are those raised against it. An agency's scope is its dossiers (`Dossier.agency_id`)
  and its departments' steps, NCs and CARs, with every sub-agency's rolled up (the
  `Agency.parent` tree) unless ``sub_agencies=False``.
- received: received in the period, not counting refusals (national status 3
  not_accepted, Mẫu 03), which are ``refused`` apart; by channel direct / online / postal.
- resolved: result returned in the period (`returned_at`), whenever received; split
  early / on_time / late by the national rule (dossiers.classify: the local return date
  against the local due date; with TIMELINESS_RULE = "timestamp", returned on the due
  date but after the due time is late). The legal due time counts, not an apology's
  promised date.
- in progress at the end: received before `cut`, not returned, withdrawn or stopped
  before it and not paused at it; ``in_progress_within`` when its due date (as it stood
  at the cut) is on or after the cut's local date (timestamp rule: due time ≥ cut),
  else ``in_progress_overdue``. ``paused`` (counted apart, national statuses 5 and 6):
  the dossier's last pause/resume event before the cut was a supplementation request or
  a request for the financial obligation. ``carried_over``: in progress or paused at the
  period's start. Read from the events, so a closed month's figures do not drift as its
  dossiers move on later.
- withdrawn / stopped: the withdrawal / stop events recorded in the period.
- on_time_rate = (early + on_time) / resolved; late_rate = late / resolved;
  progress_766 (Decision 766/QĐ-TTg, progress group, 20 points) = (early + on_time +
  in_progress_within) / (resolved + in_progress) × 20; online_rate, postal_rate =
  online, postal / received.
- apologies: apology letters (Mẫu 04) issued in the period; apologies_per_late =
  apologies / late; late_with_apology: late dossiers resolved in the period that have
  an apology.
- satisfaction: ratings given in the period to the scope's dossiers; satisfaction_rate =
  (very satisfied + satisfied) / ratings.

Rates are percentages rounded to 2 decimals (98.5 means 98.5 %), progress_766 is points
out of 20, apologies_per_late a plain ratio; a rate with a zero denominator is None.

Speed (bench/metrics.py): a scope's rows of one period are read from one index range when
the database has the composite indexes proposed for a migration — dossier (department_id,
received_at), (department_id, returned_at), (agency_id, received_at), (agency_id,
returned_at) and dossier_step (department_id, completed_at); the dossiers open at a cut
are found through the status index (those open now, withdrawn or stopped) and the return
time (those returned since). `unindexed` keeps SQLite's planner, which has no statistics
in a database nobody ANALYZEd, on those paths.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from qms.extensions import db
from qms.localtime import date_of as _local_day
from qms.localtime import local_date, local_month
from qms.localtime import start_of_day as local_midnight
from qms.models import (
    ActionItem,
    Agency,
    CarStatus,
    Channel,
    CorrectiveAction,
    Department,
    Dossier,
    DossierEvent,
    DossierStatus,
    DossierStep,
    EventKind,
    Feedback,
    NcStatus,
    Nonconformity,
    ObjectiveComparison,
    Procedure,
    QualityObjective,
    SatisfactionLevel,
    SatisfactionRating,
)
from qms.services.sqltime import count_where as _sum
from qms.services.sqltime import percent as _percent
from qms.services.sqltime import strict_rule, unindexed
from qms.services.sqltime import timeliness_case as _timeliness_case

# Never received: refused at the desk (Mẫu 03), or registered online and not yet accepted.
NOT_RECEIVED = (DossierStatus.not_accepted, DossierStatus.registered)
# Still being worked (or paused) now.
OPEN_NOW = (DossierStatus.received, DossierStatus.processing,
            DossierStatus.supplement_requested, DossierStatus.awaiting_payment)
RESULT_STATUSES = (DossierStatus.processed, DossierStatus.returned)
ENDED_WITHOUT_RESULT = (DossierStatus.withdrawn, DossierStatus.stopped)
PAUSE_KINDS = (EventKind.supplement_requested, EventKind.supplement_received,
               EventKind.payment_requested, EventKind.payment_received)
PAUSING = (EventKind.supplement_requested, EventKind.payment_requested)
ENDING = (EventKind.withdrawn, EventKind.stopped)
SATISFIED = (SatisfactionLevel.very_satisfied, SatisfactionLevel.satisfied)
NC_NOT_OPEN = (NcStatus.closed, NcStatus.rejected)
AGE_BUCKETS = ((0, 30), (31, 90), (91, None))  # days since detection, inclusive

DOSSIER_KEYS = (
    "received", "received_direct", "received_online", "received_postal", "refused",
    "carried_over", "resolved", "early", "on_time", "late",
    "in_progress", "in_progress_within", "in_progress_overdue",
    "paused", "paused_supplement", "paused_payment", "withdrawn", "stopped",
    "apologies", "late_with_apology", "ratings", "satisfied",
    "on_time_rate", "late_rate", "progress_766", "online_rate", "postal_rate",
    "apologies_per_late", "satisfaction_rate",
)


# --- SQL helpers ------------------------------------------------------------------------------
def _overdue_at(due, cut: datetime, strict: bool):
    """A record still open at `cut` is overdue: its due date is before the cut's local date
    (it can no longer be finished on time); timestamp rule: its due time has passed."""
    if strict:
        return unindexed(due) < cut
    return local_date(due) < (_local_day(cut) if isinstance(cut, datetime) else local_date(cut))


# --- periods ----------------------------------------------------------------------------------
def utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants (aware) of the local midnights starting `start` and `end`."""
    return local_midnight(start), local_midnight(end)


def month_bounds(month: date) -> tuple[date, date]:
    """The first day of `month` and of the next month."""
    first = month.replace(day=1)
    following = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return first, following


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _cut(end_utc: datetime, now: datetime) -> datetime:
    return min(end_utc, now)


# --- scope ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """What the figures are about: one department, or agencies (an agency and, rolled up,
    its sub-agencies). Build it with `of_department` / `of_agency`."""

    kind: str  # "department" | "agency"
    id: int
    code: str
    name: str
    agency_ids: tuple[int, ...] = ()
    department_ids: tuple[int, ...] = ()

    @classmethod
    def of_department(cls, department: Department) -> Scope:
        return cls("department", department.id, department.code, department.name,
                   (department.agency_id,), (department.id,))

    @classmethod
    def of_agency(cls, agency: Agency, *, sub_agencies: bool = True) -> Scope:
        ids = agency_tree_ids(agency.id) if sub_agencies else (agency.id,)
        departments = tuple(db.session.scalars(
            sa.select(Department.id).where(Department.agency_id.in_(ids)).order_by(Department.id)))
        return cls("agency", agency.id, agency.code, agency.name, ids, departments)

    @property
    def is_department(self) -> bool:
        return self.kind == "department"

    def dossiers(self, *, indexed: bool = True):
        """WHERE clause: the scope's dossiers (see the module docstring). `indexed=False`
        when another term must drive the search (see `unindexed`)."""
        column = Dossier.department_id if self.is_department else Dossier.agency_id
        if not indexed:
            column = unindexed(column)
        if self.is_department:
            return column == self.id
        return column.in_(self.agency_ids)

    def held_by(self, column, *, indexed: bool = True):
        """WHERE clause: a department column (a step's, a nonconformity's) in the scope."""
        if not indexed:
            column = unindexed(column)
        if self.is_department:
            return column == self.id
        return column.in_(self.department_ids) if self.department_ids else sa.false()


def agency_tree_ids(root_id: int) -> tuple[int, ...]:
    """The agency and all its descendants (Agency.parent), read in one query: the tree of
    agencies is small."""
    children: dict[int | None, list[int]] = {}
    for agency_id, parent_id in db.session.execute(sa.select(Agency.id, Agency.parent_id)):
        children.setdefault(parent_id, []).append(agency_id)
    found, stack = [], [root_id]
    while stack:
        node = stack.pop()
        if node in found:  # a corrupt cycle never loops forever
            continue
        found.append(node)
        stack.extend(children.get(node, ()))
    return tuple(sorted(found))


def scope_of(obj, *, sub_agencies: bool = True) -> Scope:
    if isinstance(obj, Scope):
        return obj
    if isinstance(obj, Department):
        return Scope.of_department(obj)
    if isinstance(obj, Agency):
        return Scope.of_agency(obj, sub_agencies=sub_agencies)
    raise TypeError(f"no metrics scope for {obj!r}")


# --- the state of a dossier at a moment -----------------------------------------------------------
def _end_event():
    """When a withdrawn or stopped dossier ended (its event), correlated to Dossier."""
    return (sa.select(sa.func.min(DossierEvent.at))
            .where(DossierEvent.dossier_id == Dossier.id, DossierEvent.kind.in_(ENDING))
            .scalar_subquery())


def _open_at_terms(scope: Scope, cut: datetime) -> list:
    """Disjoint WHERE clauses (by current status) whose union is the scope's dossiers
    "received before `cut` and neither returned, withdrawn nor stopped before it". Each is
    searched by the index that reads only rows open around the cut, not the whole history:
    the status index for those open now and those withdrawn or stopped (few), the scope's
    return-time index (proposed: dossier (department_id | agency_id, returned_at)) for
    those returned since."""
    received = unindexed(Dossier.received_at) < cut
    return [
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(OPEN_NOW)),
        sa.and_(scope.dossiers(), received, unindexed(Dossier.status).in_(RESULT_STATUSES),
                Dossier.returned_at >= cut),
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(ENDED_WITHOUT_RESULT),
                _end_event() >= cut),
    ]


def _open_at(cut: datetime):
    """The same as one condition on an already chosen dossier row (a filter, never a search)."""
    status = unindexed(Dossier.status)
    return sa.and_(unindexed(Dossier.received_at) < cut, sa.or_(
        status.in_(OPEN_NOW),
        sa.and_(status.in_(RESULT_STATUSES), unindexed(Dossier.returned_at) >= cut),
        sa.and_(status.in_(ENDED_WITHOUT_RESULT), _end_event() >= cut)))


def _last_pause_kind(cut: datetime):
    """The kind of the dossier's last pause/resume event before `cut` (None: never paused)."""
    return (sa.select(DossierEvent.kind)
            .where(DossierEvent.dossier_id == Dossier.id, DossierEvent.kind.in_(PAUSE_KINDS),
                   DossierEvent.at < cut)
            .order_by(DossierEvent.at.desc(), DossierEvent.id.desc())
            .limit(1).scalar_subquery())


def _due_at_cut(cut: datetime):
    """The due time as it stood at `cut` for a dossier running then: a later pause records
    it (`due_before`) before a resumption moves `due_at`; otherwise today's `due_at`."""
    later = (sa.select(DossierEvent.due_before)
             .where(DossierEvent.dossier_id == Dossier.id, DossierEvent.kind.in_(PAUSING),
                    DossierEvent.at >= cut)
             .order_by(DossierEvent.at, DossierEvent.id).limit(1).scalar_subquery())
    return sa.func.coalesce(later, Dossier.due_at)


def _state_columns(cut: datetime, strict: bool, prefix: str = "") -> list:
    """Aggregates over dossiers open at `cut`: within / overdue / paused (supplement, payment)."""
    pause = _last_pause_kind(cut)
    paused_supplement = pause == EventKind.supplement_requested
    paused_payment = pause == EventKind.payment_requested
    running = sa.or_(pause.is_(None), pause.not_in(PAUSING))
    overdue = _overdue_at(_due_at_cut(cut), cut, strict)
    return [
        _sum(sa.and_(running, sa.not_(overdue))).label(prefix + "within"),
        _sum(sa.and_(running, overdue)).label(prefix + "overdue"),
        _sum(paused_supplement).label(prefix + "paused_supplement"),
        _sum(paused_payment).label(prefix + "paused_payment"),
    ]


def _open_at_counts(scope: Scope, cut: datetime, strict: bool) -> dict[str, int]:
    totals = dict.fromkeys(("within", "overdue", "paused_supplement", "paused_payment"), 0)
    for term in _open_at_terms(scope, cut):
        row = db.session.execute(sa.select(*_state_columns(cut, strict)).where(term)).one()
        for key in totals:
            totals[key] += int(row._mapping[key])
    return totals


# --- dossiers ------------------------------------------------------------------------------------
def dossier_metrics(scope: Scope, start: date, end: date, now: datetime) -> dict:
    """The dossier figures of `scope` for the local dates [start, end), read at
    min(end, now). Keys: DOSSIER_KEYS; definitions in the module docstring."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = _cut(until, now)  # nothing after the moment read counts
    where = scope.dossiers()
    figures: dict = {}

    # Received in the period, by channel; refusals apart.
    received = Dossier.status.not_in(NOT_RECEIVED)
    row = db.session.execute(sa.select(
        _sum(received), _sum(sa.and_(received, Dossier.channel == Channel.direct)),
        _sum(sa.and_(received, Dossier.channel == Channel.online)),
        _sum(sa.and_(received, Dossier.channel == Channel.postal)),
        _sum(Dossier.status == DossierStatus.not_accepted),
    ).where(where, Dossier.received_at >= since, Dossier.received_at < until)).one()
    (figures["received"], figures["received_direct"], figures["received_online"],
     figures["received_postal"], figures["refused"]) = (int(v) for v in row)

    # Resolved in the period: early / on time / late; late ones with an apology.
    timeliness = _timeliness_case(Dossier.returned_at, Dossier.due_at, strict)
    apologised = sa.exists().where(DossierEvent.dossier_id == Dossier.id,
                                   DossierEvent.kind == EventKind.apology)
    row = db.session.execute(sa.select(
        sa.func.count(Dossier.id), _sum(timeliness == "early"), _sum(timeliness == "on_time"),
        _sum(timeliness == "late"), _sum(sa.and_(timeliness == "late", apologised)),
    ).where(where, Dossier.returned_at >= since, Dossier.returned_at < until)).one()
    (figures["resolved"], figures["early"], figures["on_time"], figures["late"],
     figures["late_with_apology"]) = (int(v) for v in row)

    # Open at the end (and at the start: carried over).
    at_end = _open_at_counts(scope, cut, strict)
    figures["in_progress_within"] = at_end["within"]
    figures["in_progress_overdue"] = at_end["overdue"]
    figures["in_progress"] = at_end["within"] + at_end["overdue"]
    figures["paused_supplement"] = at_end["paused_supplement"]
    figures["paused_payment"] = at_end["paused_payment"]
    figures["paused"] = at_end["paused_supplement"] + at_end["paused_payment"]
    at_start = _open_at_counts(scope, min(since, now), strict)
    figures["carried_over"] = sum(at_start.values())

    # Events of the period: apologies, withdrawals, stops.
    row = db.session.execute(sa.select(
        _sum(DossierEvent.kind == EventKind.apology), _sum(DossierEvent.kind == EventKind.withdrawn),
        _sum(DossierEvent.kind == EventKind.stopped),
    ).join(Dossier, Dossier.id == DossierEvent.dossier_id).where(
        # read from the events (few), not from all the scope's dossiers
        scope.dossiers(indexed=False), DossierEvent.kind.in_((EventKind.apology, *ENDING)),
        DossierEvent.at >= since, DossierEvent.at < until)).one()
    figures["apologies"], figures["withdrawn"], figures["stopped"] = (int(v) for v in row)

    # Satisfaction ratings given in the period.
    row = db.session.execute(sa.select(
        sa.func.count(SatisfactionRating.id), _sum(SatisfactionRating.level.in_(SATISFIED)),
    ).join(Dossier, Dossier.id == SatisfactionRating.dossier_id).where(
        scope.dossiers(indexed=False), SatisfactionRating.rated_at >= since,
        SatisfactionRating.rated_at < until)).one()
    figures["ratings"], figures["satisfied"] = (int(v) for v in row)

    figures.update(rates(figures))
    return {key: figures[key] for key in DOSSIER_KEYS}


def rates(f: dict) -> dict:
    """The rates of a dict of counts (dossier_metrics' definitions)."""
    in_progress = f["in_progress_within"] + f["in_progress_overdue"]
    denominator_766 = f["resolved"] + in_progress
    return {
        "on_time_rate": _percent(f["early"] + f["on_time"], f["resolved"]),
        "late_rate": _percent(f["late"], f["resolved"]),
        "progress_766": (round(20.0 * (f["early"] + f["on_time"] + f["in_progress_within"])
                               / denominator_766, 2) if denominator_766 else None),
        "online_rate": _percent(f["received_online"], f["received"]),
        "postal_rate": _percent(f["received_postal"], f["received"]),
        "apologies_per_late": round(f["apologies"] / f["late"], 2) if f["late"] else None,
        "satisfaction_rate": _percent(f["satisfied"], f["ratings"]),
    }


# --- steps ----------------------------------------------------------------------------------------
def _step_open_terms(scope: Scope, cut: datetime) -> list:
    """Disjoint WHERE clauses: the scope's steps handed over before `cut` and not completed
    by then (not yet completed; completed since), each searched by the proposed index
    dossier_step (department_id, completed_at)."""
    held = sa.and_(scope.held_by(DossierStep.department_id), unindexed(DossierStep.due_at).is_not(None),
                   unindexed(DossierStep.handed_over_at) < cut)
    return [sa.and_(held, DossierStep.completed_at.is_(None)),
            sa.and_(held, DossierStep.completed_at >= cut)]


def _dossier_running_at(cut: datetime):
    """The step's dossier was in progress and not paused at `cut` (correlated on Dossier)."""
    pause = _last_pause_kind(cut)
    running = sa.or_(pause.is_(None), pause.not_in(PAUSING))
    return sa.and_(_open_at(cut), running)


def step_metrics(scope: Scope, start: date, end: date, now: datetime) -> dict:
    """Per process step (procedure code, position, step name) of the steps held in the
    scope: completed in the period, of which late (by the same rule as dossiers, on the
    step's own due time), the on-time rate, and the steps open and overdue at
    min(end, now) (of dossiers running, not paused, then). Rows sorted by late count,
    then overdue, so the steps that cause lateness come first; "totals" adds them up."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = _cut(until, now)  # nothing after the moment read counts
    timeliness = _timeliness_case(DossierStep.completed_at, DossierStep.due_at, strict)
    key = (Procedure.code, Procedure.name, DossierStep.position, DossierStep.name)
    rows: dict[tuple, dict] = {}

    def row_for(values) -> dict:
        code, name, position, step_name = values
        return rows.setdefault((code, position, step_name), {
            "procedure_code": code, "procedure_name": name, "position": position,
            "name": step_name, "completed": 0, "early": 0, "on_time": 0, "late": 0,
            "overdue_open": 0, "on_time_rate": None})

    completed = db.session.execute(
        sa.select(*key, sa.func.count(DossierStep.id), _sum(timeliness == "early"),
                  _sum(timeliness == "on_time"), _sum(timeliness == "late"))
        .join(Dossier, Dossier.id == DossierStep.dossier_id)
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .where(scope.held_by(DossierStep.department_id), unindexed(DossierStep.due_at).is_not(None),
               DossierStep.completed_at >= since, DossierStep.completed_at < until)
        .group_by(*key))
    for *values, count, early, on_time, late in completed:
        row = row_for(values)
        row.update(completed=int(count), early=int(early), on_time=int(on_time), late=int(late))
    for term in _step_open_terms(scope, cut):
        overdue = db.session.execute(
            sa.select(*key, sa.func.count(DossierStep.id))
            .join(Dossier, Dossier.id == DossierStep.dossier_id)
            .join(Procedure, Procedure.id == Dossier.procedure_id)
            .where(term, _overdue_at(DossierStep.due_at, cut, strict), _dossier_running_at(cut))
            .group_by(*key))
        for *values, count in overdue:
            row_for(values)["overdue_open"] += int(count)
    ordered = sorted(rows.values(), key=lambda r: (-r["late"], -r["overdue_open"],
                                                   r["procedure_code"], r["position"]))
    for row in ordered:
        row["on_time_rate"] = _percent(row["early"] + row["on_time"], row["completed"])
    totals = {name: sum(r[name] for r in ordered)
              for name in ("completed", "early", "on_time", "late", "overdue_open")}
    totals["on_time_rate"] = _percent(totals["early"] + totals["on_time"], totals["completed"])
    return {"totals": totals, "rows": ordered}


# --- nonconformities and corrective actions ------------------------------------------------------
def _car_overdue_at(cut: datetime):
    """corrective_actions.overdue_condition as it stood at `cut`: an item not done by then
    past its due date, or the effectiveness check date passed. (At cut = now it is that
    condition exactly; earlier, items done and CARs closed later still count as they were.)"""
    day = _local_day(cut)
    late_item = sa.select(ActionItem.id).where(
        ActionItem.corrective_action_id == CorrectiveAction.id, ActionItem.due_date < day,
        sa.or_(ActionItem.done_at.is_(None), ActionItem.done_at >= cut))
    return sa.or_(sa.exists(late_item), CorrectiveAction.check_date < day)


def quality_metrics(scope: Scope, start: date, end: date, now: datetime) -> dict:
    """Nonconformities raised against the scope's departments: opened (detected in the
    period, not rejected), closed in the period, rejected, and those open at min(end, now)
    by age since detection (≤ 30, 31–90, > 90 days); CARs open at that moment and, of
    them, overdue (an action item past due, or the effectiveness check date passed)."""
    since, until = utc_bounds(start, end)
    cut = until = _cut(until, now)  # nothing after the moment read counts
    cut_day = _local_day(cut)
    in_scope = scope.held_by(Nonconformity.department_id)
    detected = sa.and_(Nonconformity.detected_at >= since, Nonconformity.detected_at < until)
    open_at = sa.and_(Nonconformity.detected_at < cut, Nonconformity.status != NcStatus.rejected,
                      sa.or_(Nonconformity.closed_at.is_(None), Nonconformity.closed_at >= cut))
    detected_day = local_date(Nonconformity.detected_at)
    buckets = []
    for low, high in AGE_BUCKETS:
        # age in days = cut_day - detected_day; compare dates rather than subtracting them
        condition = [open_at, detected_day <= cut_day - timedelta(days=low)]
        if high is not None:
            condition.append(detected_day >= cut_day - timedelta(days=high))
        buckets.append(_sum(sa.and_(*condition)))
    row = db.session.execute(sa.select(
        _sum(sa.and_(detected, Nonconformity.status != NcStatus.rejected)),
        _sum(sa.and_(Nonconformity.closed_at >= since, Nonconformity.closed_at < until,
                     Nonconformity.status != NcStatus.rejected)),
        _sum(sa.and_(detected, Nonconformity.status == NcStatus.rejected)),
        _sum(open_at), *buckets,
    ).where(in_scope)).one()
    opened, closed, rejected, still_open, young, middle, old = (int(v) for v in row)
    car_open = sa.and_(CorrectiveAction.created_at < cut, sa.or_(
        sa.and_(CorrectiveAction.closed_at.is_(None), CorrectiveAction.status != CarStatus.closed),
        CorrectiveAction.closed_at >= cut))
    row = db.session.execute(sa.select(
        _sum(car_open), _sum(sa.and_(car_open, _car_overdue_at(cut))),
        _sum(sa.and_(CorrectiveAction.created_at >= since, CorrectiveAction.created_at < until)),
        _sum(sa.and_(CorrectiveAction.closed_at >= since, CorrectiveAction.closed_at < until)),
    ).where(scope.held_by(CorrectiveAction.department_id))).one()
    cars_open, cars_overdue, cars_opened, cars_closed = (int(v) for v in row)
    # Citizens' complaints and recommendations handled by the scope's departments (ISO
    # 9001:2015 §9.1.2): answered in the period, of them by their deadline, and overdue open.
    answered = sa.and_(Feedback.responded_at >= since, Feedback.responded_at < until)
    row = db.session.execute(sa.select(
        _sum(answered), _sum(sa.and_(answered, Feedback.responded_at <= Feedback.due_at)),
        _sum(sa.and_(Feedback.received_at < cut, Feedback.due_at < cut,
                     sa.or_(Feedback.responded_at.is_(None), Feedback.responded_at >= cut))),
    ).where(scope.held_by(Feedback.department_id))).one()
    feedback_handled, feedback_on_time, feedback_overdue = (int(v) for v in row)
    return {"feedback_handled": feedback_handled, "feedback_on_time": feedback_on_time,
            "feedback_on_time_rate": _percent(feedback_on_time, feedback_handled),
            "feedback_overdue": feedback_overdue,
            "nc_opened": opened, "nc_closed": closed, "nc_rejected": rejected,
            "nc_open": still_open, "nc_open_30": young, "nc_open_90": middle, "nc_open_older": old,
            "cars_opened": cars_opened, "cars_closed": cars_closed, "cars_open": cars_open,
            "cars_overdue": cars_overdue}


# --- indicators and objectives --------------------------------------------------------------------
@dataclass(frozen=True)
class Indicator:
    key: str
    label: object  # a lazy string
    unit: str  # "%", "points", "ratio", "count"
    source: str  # "dossiers", "steps", "quality"
    higher_is_better: bool = True


INDICATORS: dict[str, Indicator] = {i.key: i for i in (
    Indicator("on_time_rate", _l("Tỷ lệ giải quyết đúng hạn (trước và đúng hạn)"), "%", "dossiers"),
    Indicator("late_rate", _l("Tỷ lệ hồ sơ quá hạn"), "%", "dossiers", False),
    Indicator("progress_766", _l("Điểm tiến độ giải quyết (QĐ 766, tối đa 20)"), "points", "dossiers"),
    Indicator("online_rate", _l("Tỷ lệ hồ sơ trực tuyến"), "%", "dossiers"),
    Indicator("postal_rate", _l("Tỷ lệ hồ sơ qua bưu chính công ích"), "%", "dossiers"),
    Indicator("satisfaction_rate", _l("Tỷ lệ hài lòng"), "%", "dossiers"),
    Indicator("apologies_per_late", _l("Số văn bản xin lỗi trên mỗi hồ sơ quá hạn"), "ratio", "dossiers"),
    Indicator("received", _l("Số hồ sơ tiếp nhận"), "count", "dossiers"),
    Indicator("late", _l("Số hồ sơ giải quyết quá hạn"), "count", "dossiers", False),
    Indicator("in_progress_overdue", _l("Số hồ sơ đang giải quyết quá hạn"), "count", "dossiers", False),
    Indicator("step_on_time_rate", _l("Tỷ lệ bước xử lý đúng hạn"), "%", "steps"),
    Indicator("nc_open", _l("Số sự không phù hợp chưa đóng"), "count", "quality", False),
    Indicator("cars_overdue", _l("Số hành động khắc phục quá hạn"), "count", "quality", False),
    Indicator("feedback_on_time_rate", _l("Tỷ lệ phản ánh, kiến nghị được trả lời đúng hạn"), "%", "quality"),
)}


def indicator_values(scope: Scope, start: date, end: date, now: datetime,
                     keys: Iterable[str]) -> dict[str, float | int | None]:
    """The measured value of each indicator key over [start, end); only the queries the
    keys need are run. Unknown keys measure None."""
    keys = list(keys)
    sources = {INDICATORS[k].source for k in keys if k in INDICATORS}
    values: dict = {}
    if "dossiers" in sources:
        values.update(dossier_metrics(scope, start, end, now))
    if "steps" in sources:
        values["step_on_time_rate"] = step_metrics(scope, start, end, now)["totals"]["on_time_rate"]
    if "quality" in sources:
        values.update(quality_metrics(scope, start, end, now))
    return {k: values.get(k) if k in INDICATORS else None for k in keys}


def is_met(comparison: ObjectiveComparison, measured, target: float) -> bool | None:
    if measured is None:
        return None
    if comparison is ObjectiveComparison.at_least:
        return measured >= target
    return measured <= target


def objectives_query(scope: Scope, year: int):
    """The active objectives of `year` that apply to the scope: a department's own and its
    agency's general ones (no department); an agency's general ones."""
    query = sa.select(QualityObjective).where(QualityObjective.year == year,
                                              QualityObjective.active.is_(True))
    if scope.is_department:
        query = query.where(sa.or_(
            QualityObjective.department_id == scope.id,
            sa.and_(QualityObjective.department_id.is_(None),
                    QualityObjective.agency_id == scope.agency_ids[0])))
    else:
        query = query.where(QualityObjective.department_id.is_(None),
                            QualityObjective.agency_id == scope.id)
    return query.order_by(QualityObjective.department_id.is_(None), QualityObjective.id)


def objectives(scope: Scope, year: int, now: datetime, end: date | None = None) -> list[dict]:
    """The scope's quality objectives of `year`, each measured on the scope from 1 January
    to `end` (default: the year's end), read at min(that, now): {"id", "title",
    "indicator", "label", "unit", "comparison", "target", "measured", "met" (None: nothing
    to measure yet or an unknown indicator), "scope": "department" | "agency"}."""
    items = db.session.scalars(objectives_query(scope, year)).all()
    start = date(year, 1, 1)
    stop = min(end or date(year + 1, 1, 1), date(year + 1, 1, 1))
    values = indicator_values(scope, start, stop, now, {o.indicator for o in items}) if items else {}
    result = []
    for objective in items:
        indicator = INDICATORS.get(objective.indicator)
        measured = values.get(objective.indicator)
        result.append({
            "id": objective.id, "title": objective.title, "indicator": objective.indicator,
            "label": str(indicator.label) if indicator else objective.indicator,
            "unit": indicator.unit if indicator else "",
            "comparison": objective.comparison.value, "target": objective.target,
            "measured": measured, "met": is_met(objective.comparison, measured, objective.target),
            "scope": "department" if objective.department_id else "agency"})
    return result


# --- lists ----------------------------------------------------------------------------------------
@dataclass
class Page:
    items: list[dict]
    total: int
    page: int
    per_page: int
    pages: int = field(init=False)

    def __post_init__(self):
        self.pages = max(1, math.ceil(self.total / self.per_page)) if self.per_page else 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _page(query, count_query, page: int, per_page: int, to_dict) -> Page:
    page = max(1, int(page or 1))
    total = int(db.session.scalar(count_query) or 0)
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([to_dict(row) for row in rows], total, page, per_page)


def _late_dossier_terms(scope: Scope, since: datetime, until: datetime, cut: datetime, strict: bool):
    """(resolved late in the period, open and overdue at the cut): disjoint clauses."""
    late = sa.and_(scope.dossiers(), Dossier.returned_at >= since, Dossier.returned_at < until,
                   _timeliness_case(Dossier.returned_at, Dossier.due_at, strict) == "late")
    pause = _last_pause_kind(cut)
    running = sa.or_(pause.is_(None), pause.not_in(PAUSING))
    overdue = [sa.and_(term, running, _overdue_at(_due_at_cut(cut), cut, strict))
               for term in _open_at_terms(scope, cut)]
    return late, overdue


def late_dossiers(scope: Scope, start: date, end: date, now: datetime, *, page: int = 1,
                  per_page: int = 50) -> Page:
    """The dossiers behind the late figures: resolved late in the period (state "late") and
    in progress overdue at min(end, now) (state "overdue"), soonest due first. Items:
    {"code", "procedure_code", "procedure_name", "applicant_name", "received_at",
    "due_at", "returned_at", "state"}."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = _cut(until, now)  # nothing after the moment read counts
    late, overdue = _late_dossier_terms(scope, since, until, cut, strict)
    state = sa.case((sa.and_(Dossier.returned_at.is_not(None), Dossier.returned_at < until),
                     "late"), else_="overdue")
    ids = sa.union(sa.select(Dossier.id).where(late),
                   *(sa.select(Dossier.id).where(term) for term in overdue)).subquery()
    query = (sa.select(Dossier.code, Procedure.code, Procedure.name, Dossier.applicant_name,
                       Dossier.received_at, Dossier.due_at, Dossier.returned_at, state)
             .join(Procedure, Procedure.id == Dossier.procedure_id)
             .where(Dossier.id.in_(sa.select(ids.c.id)))
             .order_by(Dossier.due_at, Dossier.id))
    count = sa.select(sa.func.count()).select_from(ids)

    def to_dict(row) -> dict:
        return {"code": row[0], "procedure_code": row[1], "procedure_name": row[2],
                "applicant_name": row[3], "received_at": row[4], "due_at": row[5],
                "returned_at": row[6], "state": row[7]}

    return _page(query, count, page, per_page, to_dict)


def overdue_steps(scope: Scope, start: date, end: date, now: datetime, *, page: int = 1,
                  per_page: int = 50) -> Page:
    """The steps held in the scope that were late: completed late in the period (state
    "late") or open and overdue at min(end, now) on a running dossier (state "overdue"),
    soonest due first. Items: {"code" (the dossier's), "procedure_code", "position",
    "name", "department", "handed_over_at", "due_at", "completed_at", "state"}."""
    strict = strict_rule()
    since, until = utc_bounds(start, end)
    cut = until = _cut(until, now)  # nothing after the moment read counts
    late = sa.and_(scope.held_by(DossierStep.department_id), unindexed(DossierStep.due_at).is_not(None),
                   DossierStep.completed_at >= since, DossierStep.completed_at < until,
                   _timeliness_case(DossierStep.completed_at, DossierStep.due_at, strict) == "late")
    ids = sa.union(
        sa.select(DossierStep.id).where(late),
        *(sa.select(DossierStep.id).join(Dossier, Dossier.id == DossierStep.dossier_id)
          .where(term, _overdue_at(DossierStep.due_at, cut, strict), _dossier_running_at(cut))
          for term in _step_open_terms(scope, cut)),
    ).subquery()
    state = sa.case((sa.and_(DossierStep.completed_at.is_not(None), DossierStep.completed_at < cut),
                     "late"), else_="overdue")
    query = (sa.select(Dossier.code, Procedure.code, DossierStep.position, DossierStep.name,
                       Department.name, DossierStep.handed_over_at, DossierStep.due_at,
                       DossierStep.completed_at, state)
             .join(Dossier, Dossier.id == DossierStep.dossier_id)
             .join(Procedure, Procedure.id == Dossier.procedure_id)
             .outerjoin(Department, Department.id == DossierStep.department_id)
             .where(DossierStep.id.in_(sa.select(ids.c.id)))
             .order_by(DossierStep.due_at, DossierStep.id))
    count = sa.select(sa.func.count()).select_from(ids)

    def to_dict(row) -> dict:
        return {"code": row[0], "procedure_code": row[1], "position": row[2], "name": row[3],
                "department": row[4] or "", "handed_over_at": row[5], "due_at": row[6],
                "completed_at": row[7], "state": row[8]}

    return _page(query, count, page, per_page, to_dict)


# --- monthly series (trend charts) ----------------------------------------------------------------
SERIES_INDICATORS = (
    "received", "received_online", "received_postal", "refused", "resolved", "early",
    "on_time", "late", "in_progress", "in_progress_overdue", "paused", "on_time_rate",
    "late_rate", "progress_766", "online_rate", "postal_rate", "apologies",
    "ratings", "satisfaction_rate", "nc_opened", "nc_closed",
)
_SERIES_NEEDS = {
    "received": {"received"}, "received_online": {"received"}, "received_postal": {"received"},
    "refused": {"received"}, "online_rate": {"received"}, "postal_rate": {"received"},
    "resolved": {"resolved"}, "early": {"resolved"}, "on_time": {"resolved"},
    "late": {"resolved"}, "on_time_rate": {"resolved"}, "late_rate": {"resolved"},
    "in_progress": {"open"}, "in_progress_overdue": {"open"}, "paused": {"open"},
    "progress_766": {"resolved", "open"}, "apologies": {"events"}, "ratings": {"ratings"},
    "satisfaction_rate": {"ratings"}, "nc_opened": {"nc"}, "nc_closed": {"nc"},
}


def series_months(months: int, now: datetime) -> list[date]:
    """The first days of the last `months` months, the current (local) month last."""
    current = _local_day(now).replace(day=1)
    return [add_months(current, offset) for offset in range(1 - months, 1)]


def monthly_series(scope: Scope, months: int, now: datetime,
                   indicators: Sequence[str] | None = None) -> dict:
    """Indicators month by month over the last `months` local months (the current month
    last, read at `now`), for trend charts: {"months": ["2025-12", ...], "labels":
    ["12/2025", ...], "series": {indicator: [value per month]}}. Each family of figures is
    one query grouped by local month (received, resolved, events, ratings, NCs) plus one
    query per possible state for the month ends (in progress / paused), never one query
    per month. Same definitions as dossier_metrics; SERIES_INDICATORS lists the keys."""
    if months < 1:
        raise ValueError("months must be at least 1")
    wanted = list(indicators or SERIES_INDICATORS)
    unknown = [k for k in wanted if k not in _SERIES_NEEDS]
    if unknown:
        raise ValueError(f"unknown series indicators: {unknown}")
    needs = set().union(*(_SERIES_NEEDS[k] for k in wanted))
    firsts = series_months(months, now)
    keys = [f"{m:%Y-%m}" for m in firsts]
    since = local_midnight(firsts[0])
    until = min(local_midnight(add_months(firsts[-1], 1)), now)
    strict = strict_rule()
    where = scope.dossiers()
    data = {key: dict.fromkeys(("received", "received_online", "received_postal", "refused",
                                "resolved", "early", "on_time", "late", "in_progress_within",
                                "in_progress_overdue", "paused", "apologies", "ratings",
                                "satisfied", "nc_opened", "nc_closed"), 0) for key in keys}

    def fill(rows, names):
        for month, *values in rows:
            if month in data:
                for name, value in zip(names, values, strict=True):
                    data[month][name] = int(value or 0)

    if "received" in needs:
        month = local_month(Dossier.received_at)
        received = Dossier.status.not_in(NOT_RECEIVED)
        fill(db.session.execute(
            sa.select(month, _sum(received), _sum(sa.and_(received, Dossier.channel == Channel.online)),
                      _sum(sa.and_(received, Dossier.channel == Channel.postal)),
                      _sum(Dossier.status == DossierStatus.not_accepted))
            .where(where, Dossier.received_at >= since, Dossier.received_at < until)
            .group_by(month)), ("received", "received_online", "received_postal", "refused"))
    if "resolved" in needs:
        month = local_month(Dossier.returned_at)
        timeliness = _timeliness_case(Dossier.returned_at, Dossier.due_at, strict)
        fill(db.session.execute(
            sa.select(month, sa.func.count(Dossier.id), _sum(timeliness == "early"),
                      _sum(timeliness == "on_time"), _sum(timeliness == "late"))
            .where(where, Dossier.returned_at >= since, Dossier.returned_at < until)
            .group_by(month)), ("resolved", "early", "on_time", "late"))
    if "events" in needs:
        month = local_month(DossierEvent.at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(DossierEvent.id))
            .join(Dossier, Dossier.id == DossierEvent.dossier_id)
            .where(scope.dossiers(indexed=False), DossierEvent.kind == EventKind.apology,
                   DossierEvent.at >= since,
                   DossierEvent.at < until).group_by(month)), ("apologies",))
    if "ratings" in needs:
        month = local_month(SatisfactionRating.rated_at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(SatisfactionRating.id),
                      _sum(SatisfactionRating.level.in_(SATISFIED)))
            .join(Dossier, Dossier.id == SatisfactionRating.dossier_id)
            .where(scope.dossiers(indexed=False), SatisfactionRating.rated_at >= since,
                   SatisfactionRating.rated_at < until)
            .group_by(month)), ("ratings", "satisfied"))
    if "nc" in needs:
        in_scope = scope.held_by(Nonconformity.department_id)
        month = local_month(Nonconformity.detected_at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(Nonconformity.id))
            .where(in_scope, Nonconformity.status != NcStatus.rejected,
                   Nonconformity.detected_at >= since, Nonconformity.detected_at < until)
            .group_by(month)), ("nc_opened",))
        month = local_month(Nonconformity.closed_at)
        fill(db.session.execute(
            sa.select(month, sa.func.count(Nonconformity.id))
            .where(in_scope, Nonconformity.status != NcStatus.rejected,
                   Nonconformity.closed_at >= since, Nonconformity.closed_at < until)
            .group_by(month)), ("nc_closed",))
    if "open" in needs:
        _fill_month_ends(scope, firsts, keys, now, strict, data)

    series = {}
    for name in wanted:
        values = []
        for key in keys:
            d = data[key]
            if name in ("on_time_rate", "late_rate", "progress_766", "online_rate", "postal_rate",
                        "satisfaction_rate"):
                values.append(rates(d)[name])
            elif name == "in_progress":
                values.append(d["in_progress_within"] + d["in_progress_overdue"])
            else:
                values.append(d[name])
        series[name] = values
    return {"months": keys, "labels": [f"{m:%m/%Y}" for m in firsts], "series": series}


def _fill_month_ends(scope: Scope, firsts: list[date], keys: list[str], now: datetime,
                     strict: bool, data: dict) -> None:
    """In progress (within / overdue) and paused at each month's end (the current month:
    now): the dossiers open at some cut joined to a small table of the cuts, grouped by
    cut; one query per disjoint status term (as _open_at_terms, for any of the cuts)."""
    from qms.models.base import UTCDateTime

    cuts = [_cut(local_midnight(add_months(first, 1)), now) for first in firsts]
    table = sa.union_all(*(sa.select(sa.literal(cut, UTCDateTime()).label("cut"),
                                     sa.literal(index).label("position"))
                           for index, cut in enumerate(cuts))).subquery("cuts")
    cut = table.c.cut
    pause = _last_pause_kind(cut)
    paused = pause.in_(PAUSING)
    overdue = _overdue_at(_due_at_cut(cut), cut, strict)
    columns = (table.c.position,
               _sum(sa.case((paused, False), (overdue, False), else_=True)),
               _sum(sa.case((paused, False), else_=overdue)),
               _sum(paused))
    received = unindexed(Dossier.received_at) < max(cuts)
    terms = [
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(OPEN_NOW)),
        # returned since the first cut, and in another month than received: the others
        # were open at no month's end
        sa.and_(scope.dossiers(), received, unindexed(Dossier.status).in_(RESULT_STATUSES),
                Dossier.returned_at >= min(cuts),
                local_month(Dossier.received_at) != local_month(Dossier.returned_at)),
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(ENDED_WITHOUT_RESULT),
                _end_event() >= min(cuts)),
    ]
    for term in terms:
        # LEFT JOIN keeps the dossiers the outer loop (SQLite plans a LEFT JOIN in its
        # written order): each candidate is read once and compared with the twelve cuts,
        # rather than the index searched once per cut. Rows open at no cut group under NULL.
        rows = db.session.execute(sa.select(*columns).select_from(Dossier)
                                  .join(table, _open_at(cut), isouter=True).where(term)
                                  .group_by(table.c.position))
        for position, within, late, stopped in rows:
            if position is None:
                continue
            month = data[keys[position]]
            month["in_progress_within"] += int(within)
            month["in_progress_overdue"] += int(late)
            month["paused"] += int(stopped)


__all__ = [
    "DOSSIER_KEYS", "INDICATORS", "SERIES_INDICATORS", "Indicator", "Page", "Scope",
    "add_months", "agency_tree_ids", "dossier_metrics", "indicator_values", "is_met",
    "late_dossiers", "local_midnight", "local_month", "month_bounds", "monthly_series",
    "objectives", "overdue_steps", "quality_metrics", "rates", "scope_of", "series_months",
    "step_metrics", "strict_rule", "unindexed", "utc_bounds",
]
