"""The dossier register (sổ theo dõi hồ sơ, Mẫu 07 of Circular 03/2025/TT-VPCP): which
dossiers a user may list, the register's filters, and its rows for the page and the export.

The filters run in SQL, including timeliness: the national rule compares the *local* date
the result was returned with the local due date (services.timeliness). Times are stored in
UTC, so the local date is computed in the database, the same way on SQLite and PostgreSQL
(qms.localtime.local_date)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from qms import authz
from qms.errors import ValidationError
from qms.extensions import db
from qms.localtime import date_of, start_of_day, to_local
from qms.models import (
    Channel,
    Dossier,
    DossierEvent,
    DossierStatus,
    DossierStep,
    EventKind,
    Procedure,
    User,
)
from qms.services.metrics.state import overdue_at
from qms.services.procedures import search
from qms.services.timeliness import classify, strict_rule, timeliness_case
from qms.text import parse_choice, parse_date

PER_PAGE = 50
MAX_EXPORT_ROWS = 100_000

TIMELINESS_FILTERS = ("early", "on_time", "late", "in_progress", "overdue", "paused")
# Ended without a result (refused, withdrawn, stopped): neither timely nor in progress; the
# reports count them apart.
ENDED_WITHOUT_RESULT = (DossierStatus.not_accepted, DossierStatus.withdrawn, DossierStatus.stopped)


def timeliness_expression(now: datetime | None = None):
    """early / on_time / late once processed (result ready, returned or not); while open,
    read at `now`: paused (the clock stopped), overdue (running past its due date: the
    monthly figures' rule, metrics.state.overdue_at) or in_progress; without `now` every
    open dossier is in_progress. NULL when the dossier ended without a result."""
    still_open = Dossier.status.not_in(ENDED_WITHOUT_RESULT)
    open_states = []
    if now is not None:
        open_states = [(sa.and_(still_open, Dossier.paused_at.is_not(None)), "paused"),
                       (sa.and_(still_open, overdue_at(Dossier.due_at, now, strict_rule())), "overdue")]
    return sa.case(
        (Dossier.processed_at.is_not(None), timeliness_case(Dossier.processed_at, Dossier.due_at)),
        *open_states,
        (still_open, "in_progress"),
        else_=None)


def timeliness_of(dossier: Dossier, now: datetime | None = None) -> str | None:
    """The same classification for one loaded dossier (no query)."""
    if dossier.processed_at is not None:
        return classify(dossier.processed_at, dossier.due_at).value
    if dossier.status in ENDED_WITHOUT_RESULT:
        return None
    if now is not None and dossier.paused_at is not None:
        return "paused"
    if now is not None and dossier.due_at is not None and (
            dossier.due_at < now if strict_rule() else date_of(dossier.due_at) < date_of(now)):
        return "overdue"
    return "in_progress"


# --- who sees what --------------------------------------------------------------------------
def visible_to(actor: User):
    """The register's rows a user may see (the query form of authz's "dossiers.view"): oversight
    roles and the one-stop office see their agency's dossiers; a department sees only the
    dossiers it received or handled a step of."""
    department = actor.department
    if authz.has(actor, "dossiers.read_all") or department.is_one_stop:
        # received there, or received elsewhere in the province for it to process
        return sa.or_(Dossier.agency_id == department.agency_id,
                      Dossier.processing_agency_id == department.agency_id)
    handled = sa.select(DossierStep.dossier_id).where(DossierStep.department_id == department.id)
    return sa.or_(Dossier.department_id == department.id, Dossier.id.in_(handled))


# --- filters --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    received_from: date | None = None
    received_to: date | None = None
    procedure: str = ""
    status: DossierStatus | None = None
    channel: Channel | None = None
    timeliness: str | None = None

    def args(self) -> dict[str, str]:
        """The filters as query-string arguments (for page links and the export)."""
        values = {"received_from": self.received_from.isoformat() if self.received_from else "",
                  "received_to": self.received_to.isoformat() if self.received_to else "",
                  "procedure": self.procedure,
                  "status": self.status.value if self.status else "",
                  "channel": self.channel.value if self.channel else "",
                  "timeliness": self.timeliness or ""}
        return {key: value for key, value in values.items() if value}




def parse_filters(args: Mapping[str, str]) -> Filters:
    """Read the register's filters from a query string; a value that cannot be read is a
    ValidationError with a message naming it (never a silently wider list)."""
    received_from = parse_date(args.get("received_from", ""), _("Ngày nhận từ"))
    received_to = parse_date(args.get("received_to", ""), _("Ngày nhận đến"))
    if received_from and received_to and received_from > received_to:
        raise ValidationError(_("Ngày nhận từ phải trước hoặc bằng ngày nhận đến."))
    timeliness = (args.get("timeliness") or "").strip() or None
    if timeliness is not None and timeliness not in TIMELINESS_FILTERS:
        raise ValidationError(_("%(label)s không hợp lệ: “%(value)s”.", label=_("Tình trạng hạn"),
                                value=timeliness[:40]))
    return Filters(received_from=received_from, received_to=received_to,
                   procedure=(args.get("procedure") or "").strip()[:200],
                   status=parse_choice(DossierStatus, args.get("status", ""), _("Trạng thái")),
                   channel=parse_choice(Channel, args.get("channel", ""), _("Kênh tiếp nhận")),
                   timeliness=timeliness)


def conditions(actor: User, filters: Filters, now: datetime | None = None) -> list:
    """The WHERE clauses of the register for `actor` with `filters`, states read at `now`."""
    where = [visible_to(actor)]
    if filters.received_from:
        where.append(Dossier.received_at >= start_of_day(filters.received_from))
    if filters.received_to:
        where.append(Dossier.received_at < start_of_day(filters.received_to + timedelta(days=1)))
    if filters.procedure:
        # The catalogue's search: code or name, accents and case ignored, any version.
        matching = search(filters.procedure, effective_only=False).with_only_columns(
            Procedure.id).order_by(None)
        where.append(Dossier.procedure_id.in_(matching))
    if filters.status:
        where.append(Dossier.status == filters.status)
    if filters.channel:
        where.append(Dossier.channel == filters.channel)
    if filters.timeliness:
        where.append(timeliness_expression(now) == filters.timeliness)
    return where


def register_query(actor: User, filters: Filters, now: datetime | None = None):
    """The register's dossiers in book order (received first, first), with what a row
    shows loaded in a few queries per page, never one per row."""
    return (sa.select(Dossier).where(*conditions(actor, filters, now))
            .options(selectinload(Dossier.procedure), selectinload(Dossier.events))
            .order_by(Dossier.received_at, Dossier.id))


def count(actor: User, filters: Filters, now: datetime | None = None) -> int:
    return db.session.scalar(sa.select(sa.func.count(Dossier.id)).where(*conditions(actor, filters, now)))


EXPORT_BATCH = 1000


def export_rows(actor: User, filters: Filters, limit: int | None = None,
                now: datetime | None = None) -> Iterator[tuple]:
    """The matching dossiers in book order, at most `limit` (default MAX_EXPORT_ROWS), as
    (row, remarks): plain rows of what a line shows (its timeliness classified in SQL), read
    in batches, with one query per batch for the remarks' events; no ORM object is built."""
    limit = MAX_EXPORT_ROWS if limit is None else limit
    statement = (sa.select(Dossier.id, Dossier.code, Procedure.name.label("procedure_name"),
                           Dossier.applicant_name, Dossier.applicant_address, Dossier.applicant_phone,
                           Dossier.channel, Dossier.received_at, Dossier.due_at, Dossier.processed_at,
                           Dossier.returned_at, Dossier.status, timeliness_expression(now).label("timeliness"))
                 .join(Procedure, Procedure.id == Dossier.procedure_id)
                 .where(*conditions(actor, filters, now)).order_by(Dossier.received_at, Dossier.id)
                 .limit(limit))
    labels = note_labels()
    result = db.session.execute(statement.execution_options(yield_per=EXPORT_BATCH))
    try:
        for batch in result.partitions():
            events: dict[int, list] = {}
            for event in db.session.execute(
                    sa.select(DossierEvent.dossier_id, DossierEvent.kind, DossierEvent.due_after,
                              DossierEvent.reason)
                    .where(DossierEvent.dossier_id.in_([row.id for row in batch]),
                           DossierEvent.kind.in_(_NOTE_KINDS))
                    .order_by(DossierEvent.at, DossierEvent.id)):
                events.setdefault(event.dossier_id, []).append(event)
            for row in batch:
                yield row, note_text(events.get(row.id, ()), labels)
    finally:  # the export may stop early: release the cursor now, not at garbage collection
        result.close()


def local_naive(moment: datetime | None) -> datetime | None:
    """A stored time as local wall time without zone (what a spreadsheet cell holds)."""
    return to_local(moment).replace(tzinfo=None) if moment is not None else None


def local_time_text(moment: datetime) -> str:
    return to_local(moment).strftime("%d/%m/%Y %H:%M")


# --- the "ghi chú" column -------------------------------------------------------------------
_NOTE_KINDS = (EventKind.not_accepted, EventKind.supplement_requested, EventKind.apology,
               EventKind.stopped, EventKind.withdrawn)


def note_labels() -> dict[EventKind, str]:
    """The remarks' words, translated (once per page or export)."""
    return {
        EventKind.not_accepted: _("Từ chối tiếp nhận"),
        EventKind.supplement_requested: _("Yêu cầu bổ sung"),
        EventKind.apology: _("Xin lỗi, hẹn lại"),
        EventKind.stopped: _("Dừng xử lý"),
        EventKind.withdrawn: _("Rút hồ sơ"),
    }


def note_of(dossier: Dossier) -> str:
    """What the register's remarks column says: refusal, supplementation, apology with its
    new date, stop or withdrawal, with the reasons (from the loaded events)."""
    return note_text(dossier.events, note_labels())


def note_text(events, labels: dict[EventKind, str]) -> str:
    """note_of for events (anything with kind, due_after and reason), in their order."""
    parts = []
    for event in events:
        if event.kind not in _NOTE_KINDS:
            continue
        text = str(labels[event.kind])
        if event.kind is EventKind.apology and event.due_after is not None:
            text += " " + to_local(event.due_after).strftime("%d/%m/%Y")
        reason = " ".join((event.reason or "").split())
        parts.append(f"{text}: {reason}" if reason else text)
    return "; ".join(parts)
