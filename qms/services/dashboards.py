"""The home page's dashboards, one panel per role (issue 6; issue 5 for the overdue flags):

- officer: the department's queue, what falls due soon, what is overdue, and the officer's
  own overdue corrective-action items;
- department head: the department this month (metrics service), the 12-month on-time trend,
  last month's review, the department's overdue CARs;
- quality officer: nonconformities open by status and age, CARs open / overdue, overdue
  action items, documents past their periodic review;
- leader: the agency with its sub-agencies this month, the Decision 766 progress score, the
  departments ranked by on-time rate, 12-month trends;
- auditor: this year's audit programme, audits by status, open findings.

Each panel is built from a handful of aggregate queries whose number does not grow with the
dossiers (tests/web/test_dashboards.py counts them): lists are limited, figures come from
the metrics service (qms.services.metrics) or from GROUP BY queries here.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import contains_eager, selectinload

from qms import authz
from qms.extensions import db
from qms.localtime import date_of, start_of_day
from qms.models import (
    ActionItem,
    Agency,
    Audit,
    AuditProgramme,
    AuditStatus,
    CarStatus,
    CorrectiveAction,
    Dossier,
    DossierStep,
    Finding,
    FindingKind,
    NcStatus,
    Nonconformity,
    QualityObjective,
    User,
)
from qms.services import calendars, documents, metrics, monthly_reviews, notifications, sqltime
from qms.services import corrective_actions as cars
from qms.services.timeliness import timeliness_case

LIST_LIMIT = 5  # rows a panel lists (the link leads to the whole list)
DUE_SOON_MINUTES = 240  # four working hours, when the setting is missing
NC_CLOSED = (NcStatus.closed, NcStatus.rejected)
# Open nonconformities by age in days since detection (metrics.quality_metrics' buckets)
AGE_LABELS = {"nc_open_30": _l("Đến 30 ngày"), "nc_open_90": _l("Từ 31 đến 90 ngày"),
              "nc_open_older": _l("Trên 90 ngày")}

# The panels in the order the page shows them; authz's "dashboard.<key>" says who earns each.
PANELS = ("officer", "head", "quality", "leader", "auditor")


# --- periods and places --------------------------------------------------------------------
def local_today(now: datetime) -> date:
    return date_of(now)


month_label = metrics.month_label  # "10/2026", or with months from the 15th "10/2026 (15/09–14/10)"


def subtree_ids(agency: Agency) -> list[int]:
    """The agency and every agency below it."""
    return list(metrics.agency_tree_ids(agency.id))


# --- the page ----------------------------------------------------------------------------------
def panels_for(user: User, now: datetime) -> dict[str, dict]:
    """key → the panel's data, for each panel the user's roles earn (in page order)."""
    builders = {"officer": officer_panel, "head": head_panel, "quality": quality_panel,
                "leader": leader_panel, "auditor": auditor_panel}
    return {key: builders[key](user, now) for key in PANELS if authz.has(user, f"dashboard.{key}")}


# --- officer -----------------------------------------------------------------------------------
def held_steps(department_id: int):
    """The rows of `dossiers.queue(department_id)` (the current steps the department holds,
    of dossiers being worked), as a select that starts from the dossiers being worked: they
    are few, while the steps a department has ever held grow without end. COALESCE keeps
    the planner off the department index (without statistics SQLite would walk every step
    the department ever held; ~0.4 s at 100,000 dossiers, against ~1 ms this way)."""
    return (sa.select(DossierStep)
            .join(Dossier, Dossier.id == DossierStep.dossier_id)
            .where(Dossier.status.in_(notifications.WORKED_STATUSES),
                   sa.func.coalesce(DossierStep.department_id, 0) == department_id,
                   DossierStep.completed_at.is_(None),
                   DossierStep.handed_over_at.is_not(None)))


def due_soon_minutes() -> int:
    return int(current_app.config.get("ESCALATION_DUE_SOON_MINUTES", DUE_SOON_MINUTES))


def officer_panel(user: User, now: datetime) -> dict:
    """The department's queue (the steps it holds, as on /dossiers/queue): how many, how many
    fall due within the escalation margin of working time, how many are overdue; the most
    urgent few; and the officer's own overdue corrective-action items."""
    department = user.department
    calendar = calendars.calendar_for(department.agency)
    minutes = due_soon_minutes()
    cutoff = notifications.due_soon_cutoff(calendar, now, minutes)
    queue = held_steps(department.id)
    total, overdue, soon = db.session.execute(queue.with_only_columns(
        sa.func.count(DossierStep.id),
        sqltime.count_where(DossierStep.due_at < now),
        sqltime.count_where(sa.and_(DossierStep.due_at >= now, DossierStep.due_at <= cutoff)),
    )).one()
    urgent = db.session.scalars(
        queue.options(contains_eager(DossierStep.dossier).selectinload(Dossier.procedure))
        .order_by(DossierStep.due_at, DossierStep.id).limit(LIST_LIMIT)).unique().all()
    items_query = cars.overdue_items(now).where(ActionItem.owner_id == user.id)
    my_items = db.session.scalars(items_query.limit(LIST_LIMIT)).all()
    my_items_count = _count(items_query, len(my_items))
    return {"department": department, "queue": total, "overdue": overdue, "due_soon": soon,
            "due_soon_minutes": minutes, "urgent": urgent, "now": now, "cutoff": cutoff,
            "overdue_items": my_items, "overdue_items_count": my_items_count}


# --- quality officer ---------------------------------------------------------------------------
def quality_panel(user: User, now: datetime) -> dict:
    """The improvement loop of the user's agency and the agencies below it: open
    nonconformities by status and by age, CARs open and overdue, overdue action items (the
    oldest few listed, flagged), documents past their periodic review date."""
    scope = metrics.Scope.of_agency(user.department.agency)
    departments = list(scope.department_ids)
    today = local_today(now)
    month, start, end = _month_of(now)
    figures = metrics.quality_metrics(scope, start, end, now)  # open now: by age, CARs overdue
    nc_by_status = dict(db.session.execute(
        sa.select(Nonconformity.status, sa.func.count())
        .where(Nonconformity.department_id.in_(departments), Nonconformity.status.not_in(NC_CLOSED))
        .group_by(Nonconformity.status)).all())
    car_by_status = dict(db.session.execute(
        sa.select(CorrectiveAction.status, sa.func.count())
        .where(CorrectiveAction.department_id.in_(departments),
               CorrectiveAction.status != CarStatus.closed)
        .group_by(CorrectiveAction.status)).all())
    overdue_cars = db.session.scalars(
        cars.overdue_cars(now).where(CorrectiveAction.department_id.in_(departments))
        .options(selectinload(CorrectiveAction.department), selectinload(CorrectiveAction.owner))
        .limit(LIST_LIMIT)).all()
    items_query = cars.overdue_items(now).where(CorrectiveAction.department_id.in_(departments))
    overdue_items = db.session.scalars(items_query.limit(LIST_LIMIT)).all()
    overdue_items_count = _count(items_query, len(overdue_items))
    reviews = documents.reviews_overdue(today)
    return {
        "nc_by_status": [(status, status.label, nc_by_status.get(status, 0))
                         for status in NcStatus if status not in NC_CLOSED],
        "nc_by_age": [(key, AGE_LABELS[key], figures[key]) for key in AGE_LABELS],
        "nc_open": figures["nc_open"],
        "car_by_status": [(status, status.label, car_by_status.get(status, 0))
                          for status in CarStatus if status is not CarStatus.closed],
        "car_open": figures["cars_open"],
        "car_overdue": figures["cars_overdue"],
        "overdue_cars": overdue_cars,
        "overdue_items": overdue_items, "overdue_items_count": overdue_items_count,
        "reviews_overdue": reviews[:LIST_LIMIT], "reviews_overdue_count": len(reviews),
        "today": today,
    }


# --- auditor -----------------------------------------------------------------------------------
def auditor_panel(user: User, now: datetime) -> dict:
    """This year's audit programmes (the user's agency and those below it): audits by status,
    the audits listed (the user's own marked), findings by kind and the nonconformity
    findings still open (their nonconformity neither closed nor rejected)."""
    year = local_today(now).year
    agency_ids = subtree_ids(user.department.agency)
    programmes = db.session.scalars(
        sa.select(AuditProgramme).where(AuditProgramme.year == year,
                                        AuditProgramme.agency_id.in_(agency_ids))
        .options(selectinload(AuditProgramme.agency))
        .order_by(AuditProgramme.agency_id)).all()
    programme_ids = [p.id for p in programmes]
    audit_list = db.session.scalars(
        sa.select(Audit).where(Audit.programme_id.in_(programme_ids))
        .options(selectinload(Audit.lead_auditor), selectinload(Audit.team),
                 selectinload(Audit.departments))
        .order_by(Audit.planned_start, Audit.code)).all() if programme_ids else []
    by_status = Counter(a.status for a in audit_list)
    finding_rows = db.session.execute(
        sa.select(Finding.kind, sa.func.count(),
                  sa.func.coalesce(sa.func.sum(sa.case(
                      (sa.and_(Nonconformity.id.is_not(None), Nonconformity.status.not_in(NC_CLOSED)), 1),
                      else_=0)), 0))
        .join(Audit, Audit.id == Finding.audit_id)
        .outerjoin(Nonconformity, Nonconformity.finding_id == Finding.id)
        .where(Audit.programme_id.in_(programme_ids))
        .group_by(Finding.kind)).all() if programme_ids else []
    findings = {kind: count for kind, count, _open in finding_rows}
    mine = {a.id for a in audit_list
            if a.lead_auditor_id == user.id or any(member.id == user.id for member in a.team)}
    return {
        "year": year, "programmes": programmes, "audits": audit_list, "mine": mine,
        "by_status": [(status, status.label, by_status.get(status, 0))
                      for status in AuditStatus],
        "findings": [(kind, kind.label, findings.get(kind, 0)) for kind in FindingKind],
        "open_findings": sum(open_ for _kind, _count, open_ in finding_rows),
        "today": local_today(now),
    }


# --- department head ----------------------------------------------------------------------------
TREND_MONTHS = 12


def _month_of(now: datetime) -> tuple[date, date, date]:
    """This reporting month: (its name, its first date, the date after its last)."""
    month = metrics.month_of(local_today(now))
    return (month, *metrics.month_bounds(month))


def step_series(department_ids, months: int, now: datetime) -> dict:
    """The on-time rate of the steps held by `department_ids`, completed month by month
    over the last `months` local months (one query grouped by month; the metrics service's
    timeliness rule). {"labels": [...], "rates": [rate or None], "completed": [...]}"""
    firsts = metrics.series_months(months, now)
    since = start_of_day(metrics.month_bounds(firsts[0])[0])
    until = start_of_day(metrics.month_bounds(firsts[-1])[1])
    month = metrics.month_key(DossierStep.completed_at)
    timeliness = timeliness_case(DossierStep.completed_at, DossierStep.due_at)
    rows = db.session.execute(
        sa.select(month, sa.func.count(DossierStep.id),
                  sqltime.count_where(timeliness.in_(("early", "on_time"))))
        .where(DossierStep.department_id.in_(list(department_ids)), DossierStep.due_at.is_not(None),
               DossierStep.completed_at >= since, DossierStep.completed_at < until)
        .group_by(month)).all()
    found = {key: (int(count), int(timely)) for key, count, timely in rows}
    keys = [f"{first:%Y-%m}" for first in firsts]
    completed = [found.get(key, (0, 0))[0] for key in keys]
    values = [sqltime.percent(found[key][1], found[key][0]) if key in found else None
              for key in keys]
    return {"labels": [month_label(first) for first in firsts], "rates": values,
            "completed": completed}


def objective_target(scope: metrics.Scope, year: int, indicator: str) -> float | None:
    """The target of the scope's quality objective of `year` on `indicator` (a department's
    own before its agency's), for the target line of a trend chart; None without one."""
    query = metrics.objectives_query(scope, year).where(QualityObjective.indicator == indicator)
    objective = db.session.scalars(query.limit(1)).first()
    return objective.target if objective is not None else None


def head_panel(user: User, now: datetime) -> dict:
    """The head's department this month: its dossiers (those it received: the one-stop
    office's), the steps it held, the 12-month on-time trend (of its dossiers, or of its
    steps for a department that receives none), last month's review and its overdue
    corrective actions."""
    department = user.department
    scope = metrics.Scope.of_department(department)
    month, start, end = _month_of(now)
    figures = metrics.dossier_metrics(scope, start, end, now)
    steps = metrics.step_totals(scope, start, end, now)
    receives = department.is_one_stop or bool(figures["received"] or figures["resolved"]
                                               or figures["in_progress"])
    if receives:
        series = metrics.monthly_series(scope, TREND_MONTHS, now, ["on_time_rate"])
        trend = {"labels": series["labels"], "rates": series["series"]["on_time_rate"],
                 "of": "dossiers"}
    else:
        trend = {**step_series([department.id], TREND_MONTHS, now), "of": "steps"}
    last_month = monthly_reviews.last_ended_month(now)
    review = monthly_reviews.get_review(department, last_month)
    overdue_list = db.session.scalars(cars.overdue_cars(now, department_id=department.id)
                                      .options(selectinload(CorrectiveAction.owner))
                                      .limit(LIST_LIMIT)).all()
    overdue_count = _count(cars.overdue_cars(now, department_id=department.id), len(overdue_list))
    target = objective_target(scope, month.year, "on_time_rate" if receives else "step_on_time_rate")
    return {"department": department, "month": month, "month_label": month_label(month),
            "figures": figures, "steps": steps,
            "receives": receives, "trend": trend, "target": target, "last_month": last_month,
            "review": review, "month_key": monthly_reviews.month_key,
            "overdue_cars": overdue_list, "overdue_cars_count": overdue_count}


def _count(query, listed: int) -> int:
    """How many rows `query` has, knowing the first LIST_LIMIT were `listed` (no second
    query when fewer than the limit came back)."""
    if listed < LIST_LIMIT:
        return listed
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))


# --- leader ------------------------------------------------------------------------------------
LEADER_SERIES = ("received", "received_online", "received_postal", "on_time_rate", "online_rate")


def leader_panel(user: User, now: datetime) -> dict:
    """The leader's agency with its sub-agencies rolled up, this month: dossier figures, the
    Decision 766 progress score, the departments (and sub-agencies) ranked by on-time
    rate (the monthly reviews' overview: steps for departments, dossiers for agencies),
    last month's reviews still unsigned, and 12-month trends of the on-time rate, the
    dossiers received by channel and the online rate."""
    agency = user.department.agency
    scope = metrics.Scope.of_agency(agency)
    month, start, end = _month_of(now)
    figures = metrics.dossier_metrics(scope, start, end, now)
    overview = monthly_reviews.overview(month, now, agency=agency)
    last_month = monthly_reviews.last_ended_month(now)
    trends = metrics.monthly_series(scope, TREND_MONTHS, now, list(LEADER_SERIES))
    series = trends["series"]
    received, online, postal = (series["received"], series["received_online"],
                                series["received_postal"])
    return {
        "agency": agency, "month": month, "month_label": month_label(month), "figures": figures,
        "target": objective_target(scope, month.year, "on_time_rate"),
        "sub_agencies": len(scope.agency_ids) - 1,
        "departments": overview["ranking"],
        "agencies": overview["agency_ranking"] if len(scope.agency_ids) > 1 else [],
        "last_month": last_month, "departments_total": overview["total"],
        "month_key": monthly_reviews.month_key,
        "unsigned": monthly_reviews.reminders(now, agency=agency, months=1),
        "labels": trends["labels"], "on_time": series["on_time_rate"], "online_rate": series["online_rate"],
        "channels": [
            ("direct", [r - o - p for r, o, p in zip(received, online, postal, strict=True)]),
            ("online", online), ("postal", postal)],
    }
