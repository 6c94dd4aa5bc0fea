"""Escalation of dossier steps that are due soon or overdue: in-app notifications, and
email through SMTP when it is configured.

Who is told (DESIGN flow 2; Decree 118/2025 leaves the internal follow-up to each office):
- `step_due_soon`: the active officers of the department holding the step, once its due
  time is within ESCALATION_DUE_SOON_MINUTES of *working* time (or already past);
- `step_overdue`: the active heads of that department, once the due time has passed;
- `step_overdue_escalated`: the active quality officers, once the step is
  ESCALATION_OVERDUE_MARGIN_MINUTES of working time overdue. Those of the dossier's own
  agency (users whose department belongs to it); if it has none, those of the nearest
  agency above it that has some (a ward without an ISO officer of its own is followed by
  the province's).

Working time is measured on the agency's work calendar (weekends, holidays and lunch do
not count), so a step due on Friday afternoon is not "a day overdue" on Monday morning.

A notification is unique per (user, kind, step): runs repeat (cron, page loads, two at
once) and insert only what is missing, with INSERT ... ON CONFLICT DO NOTHING, so nobody
is told twice. A step sent back and handed over again is the same step: its earlier
notifications stand and are not repeated.
"""
from __future__ import annotations

import logging
import smtplib
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql, sqlite

from qms import authz
from qms.calendar import WorkCalendar
from qms.errors import NotFound
from qms.extensions import db
from qms.localtime import to_local
from qms.models import (
    Agency,
    Department,
    Dossier,
    DossierStatus,
    DossierStep,
    User,
    UserRole,
)
from qms.models.notifications import Notification, NotificationKind
from qms.services import calendars
from qms.transactions import writing

log = logging.getLogger(__name__)

WORKED_STATUSES = (DossierStatus.received, DossierStatus.processing)  # paused ones wait
EMAIL_WINDOW = timedelta(days=3)  # an unsent email older than this is given up (in-app stays)
# Rows per INSERT: as many as the database's limit on bound parameters allows (SQLAlchemy's
# "insertmanyvalues" splits a larger set at that limit), not a fixed 1,000.
INSERT_PAGE = {"insertmanyvalues_page_size": 100_000}


@dataclass
class EscalationCounts:
    due_soon: int = 0
    overdue: int = 0
    escalated: int = 0
    emailed: int = 0
    email_failed: int = 0

    @property
    def created(self) -> int:
        return self.due_soon + self.overdue + self.escalated

    def __str__(self) -> str:
        return (f"{self.due_soon} due soon, {self.overdue} overdue, {self.escalated} escalated"
                f", {self.emailed} emailed" + (f" ({self.email_failed} failed)" if self.email_failed else ""))


# --- working time ------------------------------------------------------------------------------
def working_minutes_before(calendar: WorkCalendar, end: datetime, minutes: int) -> datetime:
    """The latest instant T with `minutes` of working time in [T, end): a step due at or
    before T is at least `minutes` of working time overdue at `end`."""
    if minutes <= 0:
        return calendar.local(end)
    return calendar.subtract_working_minutes(end, minutes)


def due_soon_cutoff(calendar: WorkCalendar, now: datetime, minutes: int) -> datetime:
    """The latest due time still within `minutes` of working time from `now`. A cutoff on
    the end of a working period reaches to the start of the next one: nothing is worked in
    between (a step due Monday 07:00 is 0 minutes further than one due Friday 17:00)."""
    return calendar.working_start(calendar.add_working_minutes(now, minutes))


def _margins(due_soon_minutes, overdue_margin_minutes) -> tuple[int, int]:
    config = current_app.config
    soon = config["ESCALATION_DUE_SOON_MINUTES"] if due_soon_minutes is None else due_soon_minutes
    margin = (config["ESCALATION_OVERDUE_MARGIN_MINUTES"] if overdue_margin_minutes is None
              else overdue_margin_minutes)
    return max(int(soon), 0), max(int(margin), 0)


# --- escalation ----------------------------------------------------------------------------------
def _open_steps(due_by: datetime):
    """The ids of the current steps being worked that are due by `due_by`: handed over, not
    completed, dossier not paused or closed (the same rule as the departments' queues; a
    pause the procedure allows keeps the status but stops the clock: `paused_at`). A
    subquery: the recipient queries read it in the database, however many steps it finds."""
    return (sa.select(DossierStep.id)
            .join(Dossier, Dossier.id == DossierStep.dossier_id)
            .where(DossierStep.completed_at.is_(None),
                   DossierStep.handed_over_at.is_not(None),
                   Dossier.status.in_(WORKED_STATUSES), Dossier.paused_at.is_(None),
                   DossierStep.due_at <= due_by))


def _not_yet(kind: NotificationKind):
    return ~sa.exists().where(Notification.user_id == User.id, Notification.kind == kind,
                              Notification.step_id == DossierStep.id)


def _candidates(kind: NotificationKind, condition, recipients):
    """(step, user) pairs matching `condition` (which names the steps by id, `_open_steps`)
    whose user matches `recipients` and has not yet been notified of `kind` about that
    step: one query. The dossier's status is checked inside the id subquery only: not
    repeating it out here keeps the planner on the ids (SQLite would otherwise start from
    the status index and probe every open dossier)."""
    query = (sa.select(DossierStep.id, DossierStep.name, DossierStep.due_at, Dossier.code,
                       Department.name.label("department"), User.id.label("user_id"))
             .join(Dossier, Dossier.id == DossierStep.dossier_id)
             .join(Department, Department.id == DossierStep.department_id)
             .join(User, recipients)
             .where(condition, DossierStep.completed_at.is_(None), User.active.is_(True),
                    _not_yet(kind)))
    return db.session.execute(query).all()


def _holding_department(permission: str):
    """The users of the department holding the step who have `permission`."""
    return sa.and_(User.department_id == DossierStep.department_id, _holding(permission))


def _holding(permission: str):
    """The users whose roles grant `permission` (qms.authz), in SQL."""
    return sa.exists().where(UserRole.user_id == User.id,
                             UserRole.role.in_(authz.roles_with(permission)))


def _calendars(now: datetime) -> dict[int, tuple[Agency, WorkCalendar]]:
    """The calendar of each agency that has dossiers being worked (a handful of queries,
    however many dossiers: agencies are few)."""
    agency_ids = db.session.scalars(sa.select(Dossier.agency_id).distinct()
                                    .where(Dossier.status.in_(WORKED_STATUSES))).all()
    if not agency_ids:
        return {}
    db.session.scalars(sa.select(Agency)).all()  # the whole (small) tree: parents from memory
    result = {}
    for agency_id in agency_ids:
        agency = db.session.get(Agency, agency_id)
        result[agency_id] = (agency, calendars.calendar_for(agency))
    return result


def _quality_officers_by_agency(agencies: list[Agency]) -> dict[int, tuple[int, ...]]:
    """Agency id → the active quality officers told about its dossiers: its own, else the
    nearest agency above it that has any."""
    rows = db.session.execute(
        sa.select(User.id, Department.agency_id)
        .join(Department, Department.id == User.department_id)
        .where(User.active.is_(True), _holding("escalation.overdue_margin"))).all()
    by_agency: dict[int, list[int]] = defaultdict(list)
    for user_id, agency_id in rows:
        by_agency[agency_id].append(user_id)
    result = {}
    for agency in agencies:
        for node in [agency, *agency.ancestors()]:
            if by_agency.get(node.id):
                result[agency.id] = tuple(sorted(by_agency[node.id]))
                break
    return result


def _by_cutoff(cutoffs: dict[int, datetime], extra=None):
    """Group agency ids that share a cutoff (most share one calendar) → one OR term each."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for agency_id, cutoff in cutoffs.items():
        # `extra` is a plain callable here; bandit mistakes it for Django's QuerySet.extra
        groups[(cutoff, extra(agency_id) if extra else None)].append(agency_id)  # nosec B610
    return groups


def _of_agencies(ids: list[int], every: int):
    """A filter on the dossier's agency, left out when it would keep every agency with work
    (the usual case: one calendar): the planner then starts from the open dossiers."""
    return sa.true() if len(ids) == every else Dossier.agency_id.in_(ids)


def escalate(now: datetime, *, due_soon_minutes: int | None = None,
             overdue_margin_minutes: int | None = None) -> EscalationCounts:
    """Notify whoever must now be told about the steps being worked (see the module doc),
    and return how many notifications were created of each kind. Idempotent and safe to
    run concurrently. In-app only: `send_emails` mails them. Flushes, never commits.

    Set-based, whatever the number of dossiers and steps: the steps being worked that are
    due by the latest cutoff (in a well-run office a few) are a subquery, one query per kind
    looks only at those, by id, and returns only the (step, user) pairs not yet notified,
    and one INSERT per kind adds them: the number of statements depends on the agencies
    (one calendar each), never on the steps (tests/dossiers/test_escalation_bulk.py)."""
    soon, margin = _margins(due_soon_minutes, overdue_margin_minutes)
    counts = EscalationCounts()
    calendars_by_agency = _calendars(now)
    if not calendars_by_agency:
        return counts
    every = len(calendars_by_agency)
    rules = []  # (kind, condition on step and user, which users)

    # The holding department's officers, once due within `soon` working minutes.
    soon_cutoffs = ({a: due_soon_cutoff(c, now, soon) for a, (_x, c) in calendars_by_agency.items()}
                    if soon > 0 else {})
    if soon_cutoffs:
        condition = sa.or_(*(sa.and_(_of_agencies(ids, every), DossierStep.due_at <= cutoff)
                             for (cutoff, _x), ids in _by_cutoff(soon_cutoffs).items()))
        rules.append((NotificationKind.step_due_soon, condition, _holding_department("escalation.due_soon")))

    # The holding department's heads, once overdue.
    rules.append((NotificationKind.step_overdue, DossierStep.due_at < now,
                  _holding_department("escalation.overdue")))

    # The quality officers, once `margin` working minutes overdue.
    recipients = _quality_officers_by_agency([a for a, _c in calendars_by_agency.values()])
    late_cutoffs = {a: working_minutes_before(c, now, margin)
                    for a, (_x, c) in calendars_by_agency.items() if a in recipients}
    if late_cutoffs:
        condition = sa.or_(*(sa.and_(_of_agencies(ids, every), DossierStep.due_at <= cutoff,
                                     DossierStep.due_at < now, User.id.in_(users))
                             for (cutoff, users), ids in _by_cutoff(late_cutoffs, recipients.get).items()))
        everyone = sorted({user for users in recipients.values() for user in users})
        rules.append((NotificationKind.step_overdue_escalated, condition, User.id.in_(everyone)))

    open_steps = DossierStep.id.in_(_open_steps(max([now, *soon_cutoffs.values()])))
    created = dict.fromkeys(NotificationKind, 0)
    for kind, condition, users in rules:
        rows = _candidates(kind, sa.and_(open_steps, condition), users)
        created[kind] += _insert(kind, rows, now, margin=margin)
    counts.due_soon = created[NotificationKind.step_due_soon]
    counts.overdue = created[NotificationKind.step_overdue]
    counts.escalated = created[NotificationKind.step_overdue_escalated]
    return counts


def _message(kind: NotificationKind, row, now: datetime, margin: int) -> str:
    due = to_local(row.due_at)
    values = {"code": row.code, "step": row.name, "department": row.department,
              "due": due.strftime("%H:%M %d/%m/%Y")}
    if kind is NotificationKind.step_due_soon:
        if row.due_at <= now:
            return _("Hồ sơ %(code)s: bước “%(step)s” đã quá hạn (hạn %(due)s).", **values)
        return _("Hồ sơ %(code)s: bước “%(step)s” sắp đến hạn (hạn %(due)s).", **values)
    if kind is NotificationKind.step_overdue:
        return _("Hồ sơ %(code)s: bước “%(step)s” của %(department)s đã quá hạn (hạn %(due)s).",
                 **values)
    return _("Hồ sơ %(code)s: bước “%(step)s” của %(department)s đã quá hạn hơn %(hours)s giờ "
             "làm việc (hạn %(due)s).", hours=f"{margin / 60:g}", **values)


def _insert(kind: NotificationKind, rows, now: datetime, *, margin: int = 0) -> int:
    """Insert the notifications that are still missing; a row another run inserted
    meanwhile is skipped by the unique constraint (ON CONFLICT DO NOTHING, on SQLite and
    PostgreSQL alike). Returns how many were inserted."""
    if not rows:
        return 0
    # Stored text is in the office's language, whoever's request happened to run this.
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        values = [{"user_id": row.user_id, "kind": kind, "step_id": row.id,
                   "message": _message(kind, row, now, margin), "link": f"/dossiers/{row.code}",
                   "created_at": now} for row in rows]
    dialect = db.session.get_bind().dialect.name
    table = Notification.__table__
    statement = ((postgresql if dialect == "postgresql" else sqlite).insert(table)
                 .on_conflict_do_nothing(index_elements=["user_id", "kind", "step_id"])
                 .returning(table.c.id).execution_options(**INSERT_PAGE))
    return len(db.session.execute(statement, values).all())  # rowcount: -1 on psycopg


# --- on page loads -----------------------------------------------------------------------------
_auto_lock = threading.Lock()
_auto_last: datetime | None = None


def escalate_periodically(now: datetime) -> None:
    """Run `escalate` from a request at most every ESCALATION_AUTO_MINUTES per process (0:
    never), so a trial without cron notifies too. In-app only: email stays with the CLI,
    out of the request path. A failure is logged and never breaks the page. Commits."""
    global _auto_last
    every = int(current_app.config.get("ESCALATION_AUTO_MINUTES") or 0)
    if every <= 0:
        return
    if _auto_last is not None and timedelta(0) <= now - _auto_last < timedelta(minutes=every):
        return
    if not _auto_lock.acquire(blocking=False):
        return  # another thread is on it
    try:
        _auto_last = now
        with writing():
            escalate(now)
            db.session.commit()  # also when nothing was created: the write lock is let go
    except Exception:
        db.session.rollback()
        log.exception("automatic escalation failed")
    finally:
        _auto_lock.release()


def reset_periodic_run() -> None:
    """Forget the last automatic run (tests)."""
    global _auto_last
    _auto_last = None


# --- reading and marking ---------------------------------------------------------------------------
def for_user(user: User):
    """The user's notifications, unread first, newest first (a select to paginate)."""
    return (sa.select(Notification).where(Notification.user_id == user.id)
            .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(),
                      Notification.id.desc()))


def unread(user: User) -> list[Notification]:
    """The user's unread notifications, newest first."""
    return db.session.scalars(
        sa.select(Notification).where(Notification.user_id == user.id,
                                      Notification.read_at.is_(None))
        .order_by(Notification.created_at.desc(), Notification.id.desc())).all()


def unread_count(user: User) -> int:
    """One COUNT on the user's index: cheap enough for every page's bell."""
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None)))


def get_own(notification_id: int, *, actor: User) -> Notification:
    """A notification of the actor's; anyone else's is not found (not even "forbidden")."""
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != actor.id:
        raise NotFound(_("Không tìm thấy thông báo."))
    return notification


def mark_read(notification: Notification, *, actor: User, now: datetime) -> Notification:
    """Rule: only its addressee marks a notification read; reading again keeps the first time."""
    if notification.user_id != actor.id:
        raise NotFound(_("Không tìm thấy thông báo."))
    if notification.read_at is None:
        notification.read_at = now
        db.session.flush()
    return notification


def mark_all_read(*, actor: User, now: datetime) -> int:
    """Mark every unread notification of the actor's read; returns how many."""
    return db.session.execute(
        sa.update(Notification)
        .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
        .values(read_at=now).execution_options(synchronize_session=False)).rowcount


def safe_link(notification: Notification) -> str:
    """Where the notification leads: a path inside this site only."""
    link = notification.link or ""
    return link if link.startswith("/") and not link.startswith(("//", "/\\")) else ""


# --- email ---------------------------------------------------------------------------------------
SUBJECTS = {
    NotificationKind.step_due_soon: "Bước hồ sơ sắp đến hạn",
    NotificationKind.step_overdue: "Bước hồ sơ đã quá hạn",
    NotificationKind.step_overdue_escalated: "Bước hồ sơ quá hạn cần theo dõi",
}


def email_enabled() -> bool:
    return bool((current_app.config.get("SMTP_HOST") or "").strip())


def _connect():
    config = current_app.config
    host, port = config["SMTP_HOST"].strip(), int(config.get("SMTP_PORT") or 587)
    if port == 465:
        server = smtplib.SMTP_SSL(host, port, timeout=30)
    else:
        server = smtplib.SMTP(host, port, timeout=30)
        if config.get("SMTP_STARTTLS", True):
            server.starttls()
    if config.get("SMTP_USER"):
        server.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
    return server


def _email(notification: Notification, to: str, code: str) -> EmailMessage:
    config = current_app.config
    message = EmailMessage()
    with force_locale(config["BABEL_DEFAULT_LOCALE"]):
        subject = _(SUBJECTS[notification.kind])
    message["Subject"] = f"[QMS] {subject}: {code}" if code else f"[QMS] {subject}"
    message["From"] = config.get("MAIL_FROM") or config.get("SMTP_USER") or "qms@localhost"
    message["To"] = to
    link = safe_link(notification)
    base = (config.get("BASE_URL") or "").rstrip("/")
    body = notification.message + (f"\n\n{base}{link}\n" if link else "\n")
    message.set_content(body, charset="utf-8")
    return message


def send_emails(now: datetime) -> tuple[int, int]:
    """Email the notifications not yet emailed (unread, at most EMAIL_WINDOW old) to their
    users who have an address, when SMTP_HOST is set; returns (sent, failed). A server that
    fails is logged and the notifications stay unsent (emailed_at NULL) for the next run;
    nothing is lost and nothing raises. Flushes, never commits: the caller commits the
    notifications before calling this, so a failure here cannot lose them."""
    if not email_enabled():
        return 0, 0
    rows = db.session.execute(
        sa.select(Notification, User.email, Dossier.code)
        .join(User, User.id == Notification.user_id)
        .outerjoin(DossierStep, DossierStep.id == Notification.step_id)
        .outerjoin(Dossier, Dossier.id == DossierStep.dossier_id)
        .where(Notification.emailed_at.is_(None), Notification.read_at.is_(None),
               Notification.created_at >= now - EMAIL_WINDOW,
               User.active.is_(True), User.email.is_not(None), User.email != "")
        .order_by(Notification.id)).all()
    if not rows:
        return 0, 0
    try:
        server = _connect()
    except (OSError, smtplib.SMTPException) as error:
        log.warning("email not sent: cannot reach SMTP server %s: %s",
                    current_app.config["SMTP_HOST"], error)
        return 0, len(rows)
    sent = failed = 0
    try:
        for notification, email, code in rows:
            try:
                server.send_message(_email(notification, email, code or ""))
            except smtplib.SMTPServerDisconnected as error:
                log.warning("email interrupted: the SMTP server disconnected: %s", error)
                failed += len(rows) - sent - failed
                break
            except (OSError, smtplib.SMTPException) as error:
                log.warning("email to %s not sent: %s", email, error)
                failed += 1
            else:
                notification.emailed_at = now
                sent += 1
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            pass
    db.session.flush()
    return sent, failed
