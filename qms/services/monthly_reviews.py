"""The monthly compliance review (giao ban tháng, DESIGN flow 6): each department head
reviews their department's month — the figures (qms.services.metrics), the late dossiers
and steps, the quality objectives, nonconformities and CARs — writes comments and actions
and signs. Signing freezes a snapshot of the figures; later changes to the records never
alter a signed review, and `compare` shows where the live figures now differ.

Who may do what (qms.authz "monthly_reviews.*"):
- read a department's review: admins, quality officers, leaders and auditors (all
  departments); a department's head and officers (their own department; officers read only);
- open, write and sign: the department's head only, for a month that has begun; a signed
  review refuses every edit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from qms import authz
from qms.errors import Conflict, Forbidden, NotFound, ValidationError
from qms.extensions import db
from qms.localtime import date_of, start_of_day
from qms.models import (
    Agency,
    Department,
    Dossier,
    DossierStep,
    MonthlyReview,
    MonthlyReviewStatus,
    MonthlyRollup,
    Timeliness,
    User,
)
from qms.services import audit_log, metrics, sqltime
from qms.services.metrics import frozen
from qms.services.timeliness import strict_rule, timeliness_case

MAX_TEXT = 20_000
SNAPSHOT_LIST_LIMIT = 500  # late dossiers / steps kept in a snapshot (the counts are exact)
SNAPSHOT_VERSION = 1
REMINDER_MONTHS = 3  # how many ended months the reminder list looks back

# The figures a review shows, in order, with their labels (the page and the spreadsheet;
# the PDF, a record, prints its own Vietnamese labels).
DOSSIER_LABELS = {
    "received": _l("Hồ sơ tiếp nhận trong tháng"),
    "received_direct": _l("— trực tiếp"),
    "received_online": _l("— trực tuyến"),
    "received_postal": _l("— qua bưu chính công ích"),
    "refused": _l("Từ chối tiếp nhận (không tính vào tiếp nhận)"),
    "carried_over": _l("Tồn từ tháng trước chuyển sang"),
    "resolved": _l("Đã giải quyết trong tháng"),
    "early": _l("— trước hạn"),
    "on_time": _l("— đúng hạn"),
    "late": _l("— quá hạn"),
    "in_progress": _l("Đang giải quyết cuối tháng"),
    "in_progress_within": _l("— trong hạn"),
    "in_progress_overdue": _l("— quá hạn"),
    "paused": _l("Tạm dừng (chờ bổ sung, chờ nghĩa vụ tài chính, tạm dừng khác)"),
    "withdrawn": _l("Công dân rút hồ sơ"),
    "stopped": _l("Dừng xử lý"),
    "apologies": _l("Văn bản xin lỗi đã phát hành"),
    "late_with_apology": _l("Hồ sơ quá hạn có văn bản xin lỗi"),
    "ratings": _l("Lượt đánh giá hài lòng"),
    "on_time_rate": _l("Tỷ lệ giải quyết đúng hạn (%)"),
    "progress_766": _l("Điểm tiến độ giải quyết theo QĐ 766 (tối đa 20)"),
    "online_rate": _l("Tỷ lệ hồ sơ trực tuyến (%)"),
    "postal_rate": _l("Tỷ lệ hồ sơ qua bưu chính (%)"),
    "apologies_per_late": _l("Văn bản xin lỗi trên mỗi hồ sơ quá hạn"),
    "satisfaction_rate": _l("Tỷ lệ hài lòng (%)"),
}
STEP_LABELS = {
    "completed": _l("Bước đã hoàn thành trong tháng"),
    "late": _l("— hoàn thành quá hạn"),
    "on_time_rate": _l("Tỷ lệ bước đúng hạn (%)"),
    "overdue_open": _l("Bước đang quá hạn cuối tháng"),
}
QUALITY_LABELS = {
    "nc_opened": _l("Sự không phù hợp phát sinh"),
    "nc_closed": _l("Sự không phù hợp đã đóng"),
    "nc_open": _l("Sự không phù hợp chưa đóng"),
    "nc_open_30": _l("— đến 30 ngày"),
    "nc_open_90": _l("— từ 31 đến 90 ngày"),
    "nc_open_older": _l("— trên 90 ngày"),
    "cars_open": _l("Hành động khắc phục đang mở"),
    "cars_overdue": _l("— quá hạn"),
    "feedback_handled": _l("Phản ánh, kiến nghị đã trả lời"),
    "feedback_on_time_rate": _l("— tỷ lệ trả lời đúng hạn (%)"),
    "feedback_overdue": _l("Phản ánh, kiến nghị quá hạn chưa trả lời"),
}
# The chart's bars (the page and the PDF, which renders them in Vietnamese).
BAR_LABELS = {**Timeliness.value_labels(),
              "in_progress_within": _l("Đang giải quyết trong hạn"),
              "in_progress_overdue": _l("Đang giải quyết quá hạn"), "paused": _l("Tạm dừng")}
STATE_LABELS = {"late": _l("Giải quyết quá hạn"), "overdue": _l("Đang quá hạn")}
STEP_STATE_LABELS = {"late": _l("Hoàn thành quá hạn"), "overdue": _l("Đang quá hạn")}


# --- months ---------------------------------------------------------------------------------------
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(text: str) -> date:
    """"2026-10" → date(2026, 10, 1); anything else is a ValidationError naming it."""
    match = _MONTH.match((text or "").strip())
    if match:
        year, month = int(match.group(1)), int(match.group(2))
        if 2000 <= year <= 2100 and 1 <= month <= 12:
            return date(year, month, 1)
    raise ValidationError(_("Tháng không hợp lệ: “%(v)s”. Hãy ghi theo dạng năm-tháng, ví dụ 2026-10.",
                            v=(text or "")[:20]))


def month_key(month: date) -> str:
    return f"{month:%Y-%m}"


month_label = metrics.month_label


def current_month(now: datetime) -> date:
    return metrics.month_of(date_of(now))


def has_begun(month: date, now: datetime) -> bool:
    return month <= current_month(now)


def has_ended(month: date, now: datetime) -> bool:
    return month < current_month(now)


def last_ended_month(now: datetime) -> date:
    return metrics.add_months(current_month(now), -1)


def require_month(text: str, now: datetime) -> date:
    """The month of a URL or a command: well formed and begun (a month to come has
    nothing to review); NotFound otherwise."""
    try:
        month = parse_month(text)
    except ValidationError as error:
        raise NotFound(error.message) from None
    if not has_begun(month, now):
        raise NotFound(_("Tháng %(m)s chưa bắt đầu.", m=month_label(month)))
    return month


def department_by_code(code: str) -> Department:
    department = db.session.scalar(sa.select(Department).where(
        Department.code == (code or "").strip().upper()))
    if department is None:
        raise NotFound(_("Không có phòng ban mã “%(c)s”.", c=(code or "")[:40]))
    return department


# --- who may ------------------------------------------------------------------------------------------
def _require_writer(actor: User, department: Department) -> None:
    if not authz.may(actor, "monthly_reviews.sign", department):
        raise Forbidden(_("Chỉ trưởng phòng của %(d)s được ghi và ký xem xét tháng.", d=department.name))


# --- the records ----------------------------------------------------------------------------------
def get_review(department: Department, month: date) -> MonthlyReview | None:
    return db.session.scalar(sa.select(MonthlyReview).where(
        MonthlyReview.department_id == department.id, MonthlyReview.month == month.replace(day=1)))


def open_review(department: Department, month: date, *, actor: User, now: datetime) -> MonthlyReview:
    """The department's review of `month`, created (open) on first use by its head.

    Rules: the department's head only; a month that has begun (nothing to review in a
    month to come); one review per department and month (a unique key)."""
    _require_writer(actor, department)
    month = month.replace(day=1)
    if not has_begun(month, now):
        raise ValidationError(_("Tháng %(m)s chưa bắt đầu.", m=month_label(month)))
    review = get_review(department, month)
    if review is not None:
        return review
    review = MonthlyReview(department=department, month=month, status=MonthlyReviewStatus.open,
                           comments="", actions="", opened_by=actor, opened_at=now)
    db.session.add(review)
    try:
        audit_log.flush_as(db.session, actor)
    except sa.exc.IntegrityError:  # opened at the same moment in another request
        db.session.rollback()
        raise Conflict(_("Xem xét tháng này vừa được mở ở nơi khác; hãy tải lại trang.")) from None
    return review


def _text(value: str | None, label: str) -> str:
    value = (value or "").replace("\r\n", "\n").strip()
    if len(value) > MAX_TEXT:
        raise ValidationError(_("%(l)s dài quá %(n)s ký tự.", l=label, n=f"{MAX_TEXT:,}".replace(",", ".")))
    return value


def save(department: Department, month: date, *, comments: str, actions: str, actor: User,
         now: datetime) -> MonthlyReview:
    """Write the head's comments (nhận xét) and actions (biện pháp) of an open review,
    opening it if needed. A signed review refuses any edit."""
    review = open_review(department, month, actor=actor, now=now)
    if review.status is MonthlyReviewStatus.signed:
        raise Conflict(_("Xem xét tháng %(m)s đã ký; không sửa được nữa.", m=month_label(review.month)))
    review.comments = _text(comments, _("Nhận xét"))
    review.actions = _text(actions, _("Biện pháp, hành động"))
    audit_log.flush_as(db.session, actor)
    return review


def sign(department: Department, month: date, *, actor: User, now: datetime,
         comments: str | None = None, actions: str | None = None) -> MonthlyReview:
    """Sign the month: the head's comments and actions (if given) are saved, then the
    figures as they stand (read at min(month end, now)) with the late dossiers and steps
    are frozen in `snapshot`, with the signer and time. Signing is once; then the review
    refuses edits. The compare-and-set UPDATE makes two concurrent signings sign once."""
    review = open_review(department, month, actor=actor, now=now)
    if review.status is MonthlyReviewStatus.signed:
        raise Conflict(_("Xem xét tháng %(m)s đã được ký.", m=month_label(review.month)))
    if comments is not None or actions is not None:
        review.comments = _text(comments if comments is not None else review.comments, _("Nhận xét"))
        review.actions = _text(actions if actions is not None else review.actions, _("Biện pháp, hành động"))
        audit_log.flush_as(db.session, actor)
    snapshot = live_figures(department, review.month, now)
    won = db.session.execute(
        sa.update(MonthlyReview)
        .where(MonthlyReview.id == review.id, MonthlyReview.status == MonthlyReviewStatus.open)
        .values(status=MonthlyReviewStatus.signed, snapshot=snapshot, signed_by_id=actor.id,
                signed_at=now)
        .execution_options(synchronize_session=False)).rowcount == 1
    if not won:
        raise Conflict(_("Xem xét tháng %(m)s đã được ký.", m=month_label(review.month)))
    db.session.refresh(review)
    with audit_log.acting_as(actor):
        audit_log.record(db.session, "monthly_review.signed", review,
                     changes={"department": department.code, "month": month_key(review.month),
                              "signed_at": now.isoformat(), "read_at": snapshot["read_at"]})
    return review


# --- the figures ----------------------------------------------------------------------------------
def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def live_figures(department: Department, month: date, now: datetime, *, live: bool = False) -> dict:
    """What a review shows, read now, JSON-ready (the snapshot's form); the dossier counts
    of a month frozen in the monthly rollup come from it unless `live` (from the records):
    {"version", "department", "month", "read_at", "rule", "dossiers", "steps",
    "quality", "objectives", "late_dossiers", "late_dossiers_total", "late_steps",
    "late_steps_total"}."""
    scope = metrics.Scope.of_department(department)
    start, end = metrics.month_bounds(month)
    cut = min(start_of_day(end), now)
    late = metrics.late_dossiers(scope, start, end, now, per_page=SNAPSHOT_LIST_LIMIT)
    steps = metrics.overdue_steps(scope, start, end, now, per_page=SNAPSHOT_LIST_LIMIT)
    return {
        "version": SNAPSHOT_VERSION, "department": department.code, "month": month_key(month),
        "read_at": cut.isoformat(), "rule": "timestamp" if strict_rule() else "date",
        "dossiers": metrics.dossier_metrics(scope, start, end, now, live=live),
        "steps": metrics.step_metrics(scope, start, end, now),
        "quality": metrics.quality_metrics(scope, start, end, now),
        "objectives": metrics.objectives(scope, month.year, now, end=end),
        "late_dossiers": [{**item, "received_at": _iso(item["received_at"]), "due_at": _iso(item["due_at"]),
                           "processed_at": _iso(item["processed_at"])} for item in late.items],
        "late_dossiers_total": late.total,
        "late_steps": [{**item, "handed_over_at": _iso(item["handed_over_at"]), "due_at": _iso(item["due_at"]),
                        "completed_at": _iso(item["completed_at"])} for item in steps.items],
        "late_steps_total": steps.total,
    }


def figures_of(review: MonthlyReview | None, department: Department, month: date, now: datetime) -> dict:
    """The figures to show: the frozen snapshot of a signed review, else the live ones."""
    if review is not None and review.status is MonthlyReviewStatus.signed and review.snapshot:
        return review.snapshot
    return live_figures(department, month, now)


def compare(review: MonthlyReview, now: datetime) -> dict:
    """Where the live figures now differ from a signed review's snapshot (records changed
    after signing): {"changed", "figures": [{"section", "key", "label", "signed", "live"}],
    "late_added", "late_removed" (dossier codes)}. Empty for an unsigned review."""
    result = {"changed": False, "figures": [], "late_added": [], "late_removed": []}
    if review.status is not MonthlyReviewStatus.signed or not review.snapshot:
        return result
    signed, live = review.snapshot, live_figures(review.department, review.month, now, live=True)
    sections = (("dossiers", DOSSIER_LABELS, signed.get("dossiers", {}), live["dossiers"]),
                ("steps", STEP_LABELS, signed.get("steps", {}).get("totals", {}), live["steps"]["totals"]),
                ("quality", QUALITY_LABELS, signed.get("quality", {}), live["quality"]))
    for section, labels, before, after in sections:
        for key, label in labels.items():
            if before.get(key) != after.get(key):
                result["figures"].append({"section": section, "key": key, "label": str(label),
                                          "signed": before.get(key), "live": after.get(key)})
    before_codes = {item["code"] for item in signed.get("late_dossiers", [])}
    after_codes = {item["code"] for item in live["late_dossiers"]}
    result["late_added"] = sorted(after_codes - before_codes)
    result["late_removed"] = sorted(before_codes - after_codes)
    result["changed"] = bool(result["figures"] or result["late_added"] or result["late_removed"])
    return result


# --- the leaders' view ----------------------------------------------------------------------------
@dataclass
class DepartmentStatus:
    department: Department
    review: MonthlyReview | None
    steps_completed: int
    steps_on_time_rate: float | None
    resolved: int
    on_time_rate: float | None

    @property
    def status(self) -> str:
        return self.review.status.value if self.review is not None else "missing"


def departments_in(agency: Agency | None) -> list[Department]:
    """The active departments of the agency's tree (all of them without an agency)."""
    query = sa.select(Department).where(Department.active.is_(True)).order_by(Department.code)
    if agency is not None:
        query = query.where(Department.agency_id.in_(metrics.agency_tree_ids(agency.id)))
    return list(db.session.scalars(query))


def _step_rates(department_ids: list[int], start: date, end: date, now: datetime) -> dict[int, tuple]:
    """{department id: (steps completed, on-time rate)} for the month, one grouped query."""
    since, until = metrics.utc_bounds(start, end)
    until = min(until, now)
    timeliness = timeliness_case(DossierStep.completed_at, DossierStep.due_at)
    rows = db.session.execute(
        sa.select(DossierStep.department_id, sa.func.count(DossierStep.id),
                  sqltime.count_where(timeliness != "late"))
        .where(DossierStep.department_id.in_(department_ids), sqltime.unindexed(DossierStep.due_at).is_not(None),
               DossierStep.completed_at >= since, DossierStep.completed_at < until)
        .group_by(DossierStep.department_id))
    return {dept: (int(n), sqltime.percent(int(ok), int(n))) for dept, n, ok in rows}


def _dossier_rates(column, ids: list[int], start: date, end: date, now: datetime) -> dict[int, tuple]:
    """{id: (resolved, on-time rate)} of dossiers grouped by `column` (department or agency)."""
    since, until = metrics.utc_bounds(start, end)
    until = min(until, now)
    timeliness = timeliness_case(Dossier.processed_at, Dossier.due_at)
    rows = db.session.execute(
        sa.select(column, sa.func.count(Dossier.id), sqltime.count_where(timeliness != "late"))
        .where(column.in_(ids), Dossier.processed_at >= since, Dossier.processed_at < until)
        .group_by(column))
    return {key: (int(n), sqltime.percent(int(ok), int(n))) for key, n, ok in rows}


def _frozen_rates(month: date, column, ids: list[int], completed: str, late: str) -> dict[int, tuple]:
    """_step_rates / _dossier_rates of a month frozen in the monthly rollup."""
    found = frozen.grouped(month, column, ids, (completed, late))
    return {key: (counts[completed], sqltime.percent(counts[completed] - counts[late], counts[completed]))
            for key, counts in found.items() if counts[completed]}


def _rates(month: date, now: datetime, department_ids: list[int], agency_ids: list[int]) -> tuple:
    """({department: steps (completed, rate)}, {department: dossiers (resolved, rate)},
    {agency: dossiers (resolved, rate)}) of the month: from the rollup once it is frozen."""
    if frozen.frozen_months([month], now):
        return (_frozen_rates(month, MonthlyRollup.department_id, department_ids, "steps_completed", "steps_late"),
                _frozen_rates(month, MonthlyRollup.department_id, department_ids, "resolved", "late"),
                _frozen_rates(month, Department.agency_id, agency_ids, "resolved", "late"))
    start, end = metrics.month_bounds(month)
    return (_step_rates(department_ids, start, end, now) if department_ids else {},
            _dossier_rates(Dossier.department_id, department_ids, start, end, now) if department_ids else {},
            _dossier_rates(Dossier.agency_id, agency_ids, start, end, now) if agency_ids else {})


def overview(month: date, now: datetime, *, agency: Agency | None = None) -> dict:
    """For leaders: every department's review status for `month` with its on-time rates
    (steps it held; dossiers it received), the departments ranked by step on-time rate and
    the agencies by dossier on-time rate (best first; no figure last). A few grouped
    queries, whatever the number of departments."""
    departments = departments_in(agency)
    ids = [d.id for d in departments]
    agency_ids = sorted({d.agency_id for d in departments})
    reviews = {r.department_id: r for r in db.session.scalars(sa.select(MonthlyReview).where(
        MonthlyReview.month == month, MonthlyReview.department_id.in_(ids)))} if ids else {}
    steps, received, by_agency = _rates(month, now, ids, agency_ids)
    rows = [DepartmentStatus(d, reviews.get(d.id), *steps.get(d.id, (0, None)),
                             *received.get(d.id, (0, None))) for d in departments]

    def rank_key(rate, count, name):
        return (rate is None, -(rate or 0), -count, name)

    ranking = sorted(rows, key=lambda r: rank_key(r.steps_on_time_rate, r.steps_completed,
                                                  r.department.code))
    agencies = {a.id: a for a in db.session.scalars(sa.select(Agency).where(Agency.id.in_(agency_ids)))} \
        if agency_ids else {}
    agency_ranking = sorted(
        ({"agency": agencies[i], "resolved": by_agency.get(i, (0, None))[0],
          "on_time_rate": by_agency.get(i, (0, None))[1]} for i in agency_ids),
        key=lambda r: rank_key(r["on_time_rate"], r["resolved"], r["agency"].code))
    return {"month": month, "rows": rows, "ranking": ranking, "agency_ranking": agency_ranking,
            "signed": sum(1 for r in rows if r.status == "signed"), "total": len(rows)}


def reminders(now: datetime, *, agency: Agency | None = None, months: int = REMINDER_MONTHS) -> list[dict]:
    """Unsigned reviews of months that have ended (the last `months` of them), oldest
    first: a department with no review row at all counts as unsigned. Items:
    {"department", "month", "review" (None when never opened)}."""
    last = last_ended_month(now)
    wanted = [metrics.add_months(last, -offset) for offset in range(months - 1, -1, -1)]
    departments = departments_in(agency)
    if not departments:
        return []
    reviews = {(r.department_id, r.month): r for r in db.session.scalars(sa.select(MonthlyReview).where(
        MonthlyReview.month.in_(wanted), MonthlyReview.department_id.in_([d.id for d in departments])))}
    result = []
    for month in wanted:
        for department in departments:
            review = reviews.get((department.id, month))
            if review is None or review.status is not MonthlyReviewStatus.signed:
                result.append({"department": department, "month": month, "review": review})
    return result


def department_months(department: Department, now: datetime, count: int = 12) -> list[dict]:
    """The department's last `count` months (the current one first) with their reviews:
    {"month", "review", "ended"}."""
    current = current_month(now)
    months = [metrics.add_months(current, -offset) for offset in range(count)]
    reviews = {r.month: r for r in db.session.scalars(sa.select(MonthlyReview).where(
        MonthlyReview.department_id == department.id, MonthlyReview.month.in_(months)))}
    return [{"month": m, "review": reviews.get(m), "ended": m < current} for m in months]
