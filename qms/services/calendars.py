"""The working calendar of an agency: the national calendar, the overrides of the agency
and of the agencies above it (the nearest wins), and its working hours.

A page times many things on the same calendar (every step of a dossier, every row of a
queue), so ``calendar_for`` keeps what it read in the database session (``Session.info``)
for the rest of the transaction, by agency id. The cache is dropped whenever it could be
stale: when the transaction (or a savepoint) ends, by commit or rollback, so a CLI command
or a test never reuses it across transactions; when an override or an agency (its hours,
its parent) is flushed; and a lookup with such changes still pending reads afresh (the
query's autoflush writes them first), so an override added earlier in the same request
counts at once."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from qms.calendar import WorkCalendar, WorkingHours
from qms.errors import Conflict, ValidationError
from qms.extensions import db
from qms.models import Agency, CalendarOverride, DayKind, User
from qms.services import audit_log


def working_hours_of(agency: Agency) -> WorkingHours:
    for node in [agency, *agency.ancestors()]:
        if node.working_hours:
            return WorkingHours.parse(node.working_hours)
    return WorkingHours()


_CACHE = "qms.calendars"  # Session.info key: {agency id: WorkCalendar}
_SOURCES = (Agency, CalendarOverride)  # what a calendar is read from


def calendar_for(agency: Agency) -> WorkCalendar:
    """The calendar dossiers of `agency` are timed on (read once per transaction)."""
    session = db.session()
    cached = session.info.get(_CACHE, {}).get(agency.id)
    if cached is not None and not _pending_changes(session):
        return cached
    calendar = _read_calendar(agency)  # its autoflush may drop the cache: store after
    session.info.setdefault(_CACHE, {})[agency.id] = calendar
    return calendar


def _pending_changes(session: Session) -> bool:
    return any(isinstance(obj, _SOURCES)
               for obj in (*session.new, *session.dirty, *session.deleted))


@sa.event.listens_for(Session, "after_flush")
def _forget_on_flush(session: Session, _flush_context) -> None:
    if _pending_changes(session):  # still the flushed objects at this point
        session.info.pop(_CACHE, None)


@sa.event.listens_for(Session, "after_transaction_end")
def _forget_on_transaction_end(session: Session, transaction) -> None:
    # the outermost transaction or a savepoint; not the inner transaction of each flush
    if transaction.parent is None or transaction.nested:
        session.info.pop(_CACHE, None)


def _read_calendar(agency: Agency) -> WorkCalendar:
    chain = [agency, *agency.ancestors()]  # nearest first
    overrides = db.session.scalars(sa.select(CalendarOverride).where(
        CalendarOverride.agency_id.in_([a.id for a in chain]),
        CalendarOverride.active.is_(True))).all()
    rank = {a.id: i for i, a in enumerate(chain)}
    decided: dict[date, CalendarOverride] = {}
    for override in sorted(overrides, key=lambda o: rank[o.agency_id], reverse=True):
        decided[override.day] = override  # nearer agencies overwrite farther ones
    return WorkCalendar(
        hours=working_hours_of(agency),
        days_off={d for d, o in decided.items() if o.kind is DayKind.day_off},
        working_days={d for d, o in decided.items() if o.kind is DayKind.working_day})


def set_working_hours(agency: Agency, text: str | None, *, actor: User | None) -> Agency:
    """Rule: increasing, non-overlapping periods (e.g. "07:00-11:30, 13:30-17:00"); empty
    means the parent agency's hours."""
    text = (text or "").strip()
    if text:
        try:
            text = str(WorkingHours.parse(text))
        except ValueError:
            raise ValidationError(_("Giờ làm việc không hợp lệ: hãy ghi các khoảng tăng dần, ví dụ 07:00-11:30, 13:30-17:00.")) from None
    agency.working_hours = text or None
    audit_log.flush_as(db.session, actor)
    return agency


def add_override(agency: Agency, *, day: date, kind: DayKind, reason: str,
                 actor: User | None) -> CalendarOverride:
    """Rule: one decision per agency and day; a day off must be a day the national
    calendar works, a make-up working day one it does not (otherwise it changes nothing)."""
    existing = db.session.scalar(sa.select(CalendarOverride).where(
        CalendarOverride.agency_id == agency.id, CalendarOverride.day == day))
    if existing is not None and existing.active:
        raise Conflict(_("Ngày %(d)s đã có quyết định của %(a)s.", d=day.strftime("%d/%m/%Y"),
                         a=agency.name))
    national = WorkCalendar()
    if kind is DayKind.day_off and not national.is_working_day(day):
        raise ValidationError(_("Ngày %(d)s vốn đã là ngày nghỉ.", d=day.strftime("%d/%m/%Y")))
    if kind is DayKind.working_day and national.is_working_day(day):
        raise ValidationError(_("Ngày %(d)s vốn đã là ngày làm việc.", d=day.strftime("%d/%m/%Y")))
    if not (reason or "").strip():
        raise ValidationError(_("Hãy ghi căn cứ (ví dụ số thông báo của UBND tỉnh)."))
    override = existing or CalendarOverride(agency=agency, day=day)
    override.kind, override.reason, override.active = kind, reason.strip(), True
    db.session.add(override)
    audit_log.flush_as(db.session, actor)
    return override


def deactivate_override(override: CalendarOverride, *, actor: User | None) -> CalendarOverride:
    override.active = False
    audit_log.flush_as(db.session, actor)
    return override
