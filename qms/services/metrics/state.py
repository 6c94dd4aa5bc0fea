"""The state of a dossier at a moment (`cut`), in SQL: open (received, neither processed,
withdrawn nor stopped before it), paused (its last pause/resume event a request), its due
time as it stood then, and overdue (by the national rule, see the package docstring).
Read from the events, so a closed month's figures do not drift later."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from qms.extensions import db
from qms.localtime import date_of, local_date
from qms.models import (
    Dossier,
    DossierEvent,
    DossierStatus,
    EventKind,
)
from qms.services.metrics.scope import Scope
from qms.services.sqltime import count_where as _sum
from qms.services.sqltime import unindexed

# Never received: refused at the desk (Mẫu 03), or registered online and not yet accepted.
NOT_RECEIVED = (DossierStatus.not_accepted, DossierStatus.registered)
# Still being worked (or paused) now.
OPEN_NOW = (DossierStatus.received, DossierStatus.processing,
            DossierStatus.supplement_requested, DossierStatus.awaiting_payment)
RESULT_STATUSES = (DossierStatus.processed, DossierStatus.returned)
ENDED_WITHOUT_RESULT = (DossierStatus.withdrawn, DossierStatus.stopped)
PAUSE_KINDS = (EventKind.supplement_requested, EventKind.supplement_received,
               EventKind.payment_requested, EventKind.payment_received,
               EventKind.pause_started, EventKind.pause_ended)
# supplementation (national status 5), financial obligation (6), and the pauses a
# procedure allows (survey, verification, posting, consultation: status 4, clock stopped)
PAUSING = (EventKind.supplement_requested, EventKind.payment_requested, EventKind.pause_started)
ENDING = (EventKind.withdrawn, EventKind.stopped)


def overdue_at(due, cut: datetime, strict: bool):
    """A record still open at `cut` is overdue: its due date is before the cut's local date
    (it can no longer be finished on time); timestamp rule: its due time has passed."""
    if strict:
        return unindexed(due) < cut
    return local_date(due) < (date_of(cut) if isinstance(cut, datetime) else local_date(cut))


def end_event():
    """When a withdrawn or stopped dossier ended (its event), correlated to Dossier."""
    return (sa.select(sa.func.min(DossierEvent.at))
            .where(DossierEvent.dossier_id == Dossier.id, DossierEvent.kind.in_(ENDING))
            .scalar_subquery())


def open_at_terms(scope: Scope, cut: datetime) -> list:
    """Disjoint WHERE clauses (by current status) whose union is the scope's dossiers
    "received before `cut` and neither processed, withdrawn nor stopped before it". Each is
    searched by the index that reads only rows open around the cut, not the whole history:
    the status index for those open now and those withdrawn or stopped (few), the scope's
    processed-time index (dossier (department_id | agency_id, processed_at)) for those
    processed since."""
    received = unindexed(Dossier.received_at) < cut
    return [
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(OPEN_NOW)),
        sa.and_(scope.dossiers(), received, unindexed(Dossier.status).in_(RESULT_STATUSES),
                Dossier.processed_at >= cut),
        sa.and_(scope.dossiers(indexed=False), received, Dossier.status.in_(ENDED_WITHOUT_RESULT),
                end_event() >= cut),
    ]


def open_at(cut: datetime):
    """The same as one condition on an already chosen dossier row (a filter, never a search)."""
    status = unindexed(Dossier.status)
    return sa.and_(unindexed(Dossier.received_at) < cut, sa.or_(
        status.in_(OPEN_NOW),
        sa.and_(status.in_(RESULT_STATUSES), unindexed(Dossier.processed_at) >= cut),
        sa.and_(status.in_(ENDED_WITHOUT_RESULT), end_event() >= cut)))


def last_pause_kind(cut: datetime):
    """The kind of the dossier's last pause/resume event before `cut` (None: never paused)."""
    return (sa.select(DossierEvent.kind)
            .where(DossierEvent.dossier_id == Dossier.id, DossierEvent.kind.in_(PAUSE_KINDS),
                   DossierEvent.at < cut)
            .order_by(DossierEvent.at.desc(), DossierEvent.id.desc())
            .limit(1).scalar_subquery())


def due_at_cut(cut: datetime):
    """The due time as it stood at `cut` for a dossier running then: a later pause records
    it (`due_before`) before a resumption moves `due_at`; otherwise today's `due_at`."""
    later = (sa.select(DossierEvent.due_before)
             .where(DossierEvent.dossier_id == Dossier.id, DossierEvent.kind.in_(PAUSING),
                    DossierEvent.at >= cut)
             .order_by(DossierEvent.at, DossierEvent.id).limit(1).scalar_subquery())
    return sa.func.coalesce(later, Dossier.due_at)


def _state_columns(pause, due, cut: datetime, strict: bool) -> list:
    """Aggregates over dossiers open at `cut`, given each one's last pause kind and its due
    time then: within / overdue / paused (supplement, payment, other)."""
    running = sa.or_(pause.is_(None), pause.not_in(PAUSING))
    overdue = overdue_at(due, cut, strict)
    return [
        _sum(sa.and_(running, sa.not_(overdue))).label("within"),
        _sum(sa.and_(running, overdue)).label("overdue"),
        _sum(pause == EventKind.supplement_requested).label("paused_supplement"),
        _sum(pause == EventKind.payment_requested).label("paused_payment"),
        _sum(pause == EventKind.pause_started).label("paused_other"),
    ]


STATE_KEYS = ("within", "overdue", "paused_supplement", "paused_payment", "paused_other")


def open_at_counts(scope: Scope, cut: datetime, strict: bool, *, by=None) -> dict:
    """The scope's dossiers open at `cut` by state (STATE_KEYS): one dict, or with `by` (a
    Dossier column) one dict per value of that column. Each dossier's last pause and due
    time are read once, in a derived table (OFFSET 0 keeps PostgreSQL from merging it into
    the aggregate, which would run the correlated subqueries once per use: five times)."""
    totals: dict = {}
    for term in open_at_terms(scope, cut):
        rows = (sa.select(last_pause_kind(cut).label("pause"), due_at_cut(cut).label("due"),
                          *([by.label("by")] if by is not None else []))
                .where(term).offset(0).subquery("open_at"))
        query = sa.select(*_state_columns(rows.c.pause, rows.c.due, cut, strict))
        if by is not None:
            query = query.add_columns(rows.c.by).group_by(rows.c.by)
        for row in db.session.execute(query):
            counts = totals.setdefault(row._mapping["by"] if by is not None else None,
                                       dict.fromkeys(STATE_KEYS, 0))
            for key in STATE_KEYS:
                counts[key] += int(row._mapping[key])
    return totals if by is not None else totals.get(None, dict.fromkeys(STATE_KEYS, 0))
