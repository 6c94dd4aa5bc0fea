"""Dossiers taken in from another one-stop system (DESIGN §3.7, issue 13).

A province's one-stop system pushes its dossiers here in the national portal's shape
(`qms.services.portal_shape`), by the sync endpoint or as a register file. Each is upserted
by (source system, MaHoSo):

- the same payload again changes nothing; a payload of a later state updates the dossier and
  appends only the new history entries and events; an older state never overwrites a newer;
- codes map to ours by the source's rules (`SyncMapping`), else by equal codes: the procedure
  by its national code, the unit by its electronic identifier, the status by its national
  number. A dossier that cannot be mapped is held, with the reason, until someone maps the
  code and replays it: nothing is dropped and nothing half-written;
- a synced dossier is a read-only mirror of what the source did (its handling history is
  kept as sent), but its due time and class are computed here, with the process version in
  force when it was received (the earliest one, marked, for a dossier older than any), so
  everything on the quality side treats it like a local one.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, NamedTuple

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from qms import authz, bulk, localtime
from qms.errors import Forbidden, ValidationError
from qms.extensions import db
from qms.localtime import date_of, local_date
from qms.models import (
    Agency,
    Channel,
    Department,
    DocumentVersion,
    Dossier,
    DossierEvent,
    DossierStatus,
    EventKind,
    HeldDossier,
    HistoryEntry,
    HoldReason,
    MappingKind,
    Procedure,
    ProcedureVersion,
    SyncMapping,
    SyncSource,
    Timeliness,
    User,
    VersionStatus,
)
from qms.services import audit_log, calendars, nonconformities, rollups
from qms.services.dossiers import due_time
from qms.services.timeliness import classify

if TYPE_CHECKING:
    from qms.services.portal_shape import PortalDossier

BATCH_MAX = 1000

CREATED, UPDATED, UNCHANGED, HELD, REFUSED = "created", "updated", "unchanged", "held", "refused"
STATUS_BY_NUMBER = {status.national_code: status for status in DossierStatus}
CHANNEL_BY_NUMBER = {channel.national_code: channel for channel in Channel}
FINISHED = (DossierStatus.processed, DossierStatus.returned)
# A status the history moves into, and the event it is here (pauses and their ends apart)
ENTERING = {3: EventKind.not_accepted, 7: EventKind.withdrawn, 8: EventKind.stopped,
            10: EventKind.result_returned}
PAUSES = {5: (EventKind.supplement_requested, EventKind.supplement_received),
          6: (EventKind.payment_requested, EventKind.payment_received)}


# --- sources -----------------------------------------------------------------------------------
def source_of(user: User) -> SyncSource | None:
    """The active source system whose integration account `user` is (None: not one)."""
    return db.session.scalar(sa.select(SyncSource).where(SyncSource.account_id == user.id,
                                                         SyncSource.active.is_(True)))


def add_source(*, actor: User | None, code: str, name: str, account: User) -> SyncSource:
    """Register a source system and its integration account (one account per source).
    `actor` None: a command run on the server."""
    if actor is not None:
        authz.require(actor, "sync.manage", message=_("Chỉ quản trị hoặc cán bộ ISO cấu hình đồng bộ."))
    code, name = (code or "").strip().upper(), (name or "").strip()
    if not code or not name:
        raise ValidationError(_("Hãy nhập mã và tên hệ thống nguồn."))
    if db.session.scalar(sa.select(SyncSource.id).where(SyncSource.code == code)):
        raise ValidationError(_("Đã có hệ thống nguồn mã %(c)s.", c=code))
    if db.session.scalar(sa.select(SyncSource.id).where(SyncSource.account_id == account.id)):
        raise ValidationError(_("Tài khoản %(u)s đã là tài khoản tích hợp của hệ thống nguồn khác.",
                                u=account.username))
    source = SyncSource(code=code, name=name, account=account)
    db.session.add(source)
    audit_log.flush_as(db.session, actor)
    return source


# --- one batch ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    """What became of one dossier of a batch."""

    source_code: str
    result: str
    reason: str = ""
    message: str = ""
    errors: list[dict] = field(default_factory=list)
    code: str | None = None  # the dossier's code here

    def as_json(self) -> dict:
        body = {"MaHoSo": self.source_code, "result": self.result}
        if self.code:
            body["code"] = self.code
        if self.reason:
            body["reason"] = self.reason
        if self.message:
            body["message"] = self.message
        if self.errors:
            body["errors"] = self.errors
        return body


class _Hold(Exception):
    def __init__(self, reason: HoldReason, detail: str):
        super().__init__(reason.value)
        self.reason, self.detail = reason, (detail or "")[:255]


class _Refuse(Exception):
    def __init__(self, errors: list[dict]):
        super().__init__(errors[0]["message"])
        self.errors = errors


@dataclass
class _Mapped:
    procedure: Procedure
    agency: Agency
    department: Department
    status: DossierStatus
    version: ProcedureVersion
    before_version: bool


@dataclass
class _New:
    """A dossier to create, inserted with the batch's others in a few statements at its end."""

    row: dict
    history: list[dict]
    events: list[dict]
    held: HeldDossier | None = None
    id: int | None = None


class Fingerprint(NamedTuple):
    """What the last payload taken in for a dossier was: enough to tell a repeat or an older
    state without loading the dossier."""

    id: int | None
    digest: str
    state_at: datetime


class _Batch:
    """One batch of one source: what it needs read once, in a few statements however many
    dossiers (mappings, procedures, agencies and their one-stop offices, versions, the
    dossiers and held rows it names, with their events and history), and what it changed."""

    def __init__(self, source: SyncSource, models: list[PortalDossier], actor: User | None, now: datetime,
                 codes: set[str], fingerprints: dict[str, Fingerprint]):
        self.source, self.actor, self.now = source, actor, now
        self.rules = {(m.kind, m.external): m for m in db.session.scalars(
            sa.select(SyncMapping).where(SyncMapping.source_id == source.id))}
        self.fingerprints = fingerprints
        # The dossiers that will change, loaded whole (with their events and history) at once
        changing = [fingerprints[m.code].id for m in models if m.code in fingerprints]
        self.dossiers = {d.source_code: d for d in db.session.scalars(
            sa.select(Dossier).where(Dossier.id.in_(changing)).options(selectinload(Dossier.events)))} if changing else {}
        self.history: dict[int, list] = {}
        if changing:
            for row in db.session.execute(
                    sa.select(HistoryEntry.dossier_id, HistoryEntry.digest, HistoryEntry.at, HistoryEntry.status_code,
                              HistoryEntry.content).where(HistoryEntry.dossier_id.in_(changing))):
                self.history.setdefault(row.dossier_id, []).append(row)
        self.held = {h.code: h for h in db.session.scalars(
            sa.select(HeldDossier).where(HeldDossier.source_id == source.id, HeldDossier.code.in_(codes)))} if codes else {}
        codes = {m.code for m in models}
        # Codes here already used by another dossier (received here, or another source's)
        local_codes = {c.upper() for c in codes}
        self.taken = set(db.session.scalars(sa.select(Dossier.code).where(
            Dossier.code.in_(local_codes), sa.or_(Dossier.source_id.is_(None),
                                                  Dossier.source_id != source.id)))) if codes else set()
        procedure_codes = {m.procedure_code for m in models}
        self.procedures = {p.code: p for p in db.session.scalars(
            sa.select(Procedure).where(Procedure.code.in_(procedure_codes)))} if procedure_codes else {}
        unit_codes = {m.unit_identifier.upper() for m in models}
        self.agencies = {a.code: a for a in db.session.scalars(
            sa.select(Agency).where(Agency.code.in_(unit_codes)))} if unit_codes else {}
        procedure_ids = {p.id for p in self.procedures.values()} | {
            r.procedure_id for (kind, _e), r in self.rules.items() if kind is MappingKind.procedure}
        self._versions: dict[int, list] = {procedure_id: [] for procedure_id in procedure_ids}
        for row in db.session.execute(
                sa.select(ProcedureVersion.procedure_id, DocumentVersion.effective_date, DocumentVersion.superseded_at,
                          ProcedureVersion)
                .join(ProcedureVersion, ProcedureVersion.id == DocumentVersion.id)
                .where(ProcedureVersion.procedure_id.in_(procedure_ids),
                       DocumentVersion.status.in_((VersionStatus.effective, VersionStatus.superseded)),
                       DocumentVersion.effective_date.is_not(None))
                .order_by(DocumentVersion.effective_date, DocumentVersion.number)):
            self._versions[row.procedure_id].append((row.effective_date, row.superseded_at, row.ProcedureVersion))
        # Each agency's one-stop office (its first active one): few rows, all of them
        self._desks: dict[int, Department] = {}
        for department in db.session.scalars(sa.select(Department).where(
                Department.is_one_stop.is_(True), Department.active.is_(True)).order_by(Department.id)):
            self._desks.setdefault(department.agency_id, department)
        self._calendars: dict[int, object] = {}
        self.changed_since: datetime | None = None
        self.finished: list = []  # dossiers (or created rows) whose processing is over
        self.created: dict[str, _New] = {}  # by MaHoSo

    def rule(self, kind: MappingKind, external: str) -> SyncMapping | None:
        return self.rules.get((kind, external))

    def versions(self, procedure: Procedure) -> list:
        """The procedure's versions that were ever in force: (from, superseded at, version)."""
        return self._versions.get(procedure.id, [])

    def desk(self, agency: Agency) -> Department | None:
        return self._desks.get(agency.id)

    def calendar(self, agency: Agency):
        """The agency's working calendar, asked once per batch (calendars.calendar_for looks
        through the session's pending objects each time, and a batch has thousands)."""
        if agency.id not in self._calendars:
            self._calendars[agency.id] = calendars.calendar_for(agency)
        return self._calendars[agency.id]

    def touched(self, moment: datetime) -> None:
        self.changed_since = moment if self.changed_since is None else min(self.changed_since, moment)


def read_dossier(raw, zone=None):
    # pydantic loads on the first sync, not when the app starts (tests/cli/test_startup.py)
    from qms.services.portal_shape import read_dossier

    return read_dossier(raw, zone)


def sync_dossiers(source: SyncSource, items: list, *, actor: User | None, now: datetime) -> list[Outcome]:
    """Take in a batch of dossiers from `source` (raw JSON objects in the portal's shape);
    one outcome per item, in order. Flushes; the caller commits once.

    Rule: by the source's integration account, or by someone who manages the sync (a
    register file uploaded by the quality officer); `actor` None is a command run on the
    server (attributed by `audit_log.acting_as`)."""
    if actor is not None and not (authz.may(actor, "dossiers.sync", source) or authz.has(actor, "sync.manage")):
        raise Forbidden(_("Tài khoản này không phải tài khoản tích hợp của hệ thống nguồn %(s)s.",
                          s=source.code))
    if len(items) > BATCH_MAX:
        raise ValidationError(_("Mỗi lần gửi tối đa %(n)d hồ sơ.", n=BATCH_MAX))
    return _take_in_all(source, items, actor=actor, now=now)


def _take_in_all(source: SyncSource, items: list, *, actor: User | None, now: datetime) -> list[Outcome]:
    """The batch's work: what was sent exactly as before is known by its fingerprint and
    not even read (a nightly push repeats most of what it sent); the rest is checked, mapped
    and upserted, the new dossiers inserted together at the end."""
    sent = [(raw, _raw_code(raw), _raw_digest(raw)) for raw in items]
    codes = {code for _raw, code, _digest in sent if code}
    fingerprints = {row.source_code: Fingerprint(row.id, row.source_digest, row.source_state_at)
                    for row in db.session.execute(
                        sa.select(Dossier.id, Dossier.source_code, Dossier.source_digest, Dossier.source_state_at)
                        .where(Dossier.source_id == source.id, Dossier.source_code.in_(codes)))} if codes else {}
    read, zone = [], localtime.zone()
    for raw, code, digest in sent:
        known = fingerprints.get(code)
        if known is not None and known.digest == digest:
            read.append((raw, code, digest, None, None))
        else:
            read.append((raw, code, digest, *read_dossier(raw, zone)))
    batch = _Batch(source, [model for *_sent, model, _errors in read if model is not None], actor, now,
                   codes, fingerprints)
    outcomes = []
    with db.session.no_autoflush:  # one flush at the end: the inserts go in batches
        for raw, code, digest, model, errors in read:
            if model is not None:
                outcomes.append(_take_in(batch, model, raw, digest))
            elif errors is None:
                outcomes.append(_repeat(batch, code))
            else:
                outcomes.append(Outcome(code, REFUSED, "invalid", _("Dữ liệu hồ sơ không hợp lệ."), errors))
    _finish(batch)
    return outcomes


def _raw_code(raw) -> str:
    return str(raw.get("MaHoSo") or "").strip() if isinstance(raw, dict) else ""


def _raw_digest(raw) -> str:
    """The payload as sent, as one hash: the same dossier sent again is known at once."""
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _repeat(batch: _Batch, code: str) -> Outcome:
    """Sent exactly as last taken in: nothing to do (a dossier held meanwhile is released)."""
    held = batch.held.get(code)
    if held is not None and held.released_at is None:
        _release(batch, held, db.session.get(Dossier, batch.fingerprints[code].id))
    return Outcome(code, UNCHANGED, code=code.upper())


def _insert_created(batch: _Batch) -> None:
    """The batch's new dossiers, their history and events, and the audit rows of the dossiers
    and events, in a handful of statements (the ORM would take a statement shape per object
    kind and a Python object per row: a third of the speed)."""
    created = list(batch.created.values())
    if not created:
        return
    # Core executemany without RETURNING (psycopg pipelines one short statement), the new
    # ids then read back by their unique key: an INSERT ... RETURNING of many rows is one huge
    # statement that the driver has to parse, a third of the time.
    bulk.insert_rows(Dossier.__table__, [new.row for new in created])
    ids = dict(db.session.execute(sa.select(Dossier.source_code, Dossier.id).where(
        Dossier.source_id == batch.source.id, Dossier.source_code.in_([new.row["source_code"] for new in created]))).all())
    history, events = [], []
    for new in created:
        new.id = ids[new.row["source_code"]]
        history += [{**entry, "dossier_id": new.id} for entry in new.history]
        events += [{**event_row, "dossier_id": new.id} for event_row in new.events]
        if new.held is not None:
            new.held.dossier_id = new.id
    bulk.insert_rows(HistoryEntry.__table__, history)
    event_ids = []
    if events:
        bulk.insert_rows(DossierEvent.__table__, events)
        by_key = {(row.dossier_id, row.kind, row.at): row.id for row in db.session.execute(
            sa.select(DossierEvent.id, DossierEvent.dossier_id, DossierEvent.kind, DossierEvent.at)
            .where(DossierEvent.dossier_id.in_([new.id for new in created])))}
        event_ids = [by_key[(e["dossier_id"], e["kind"], e["at"])] for e in events]
    with audit_log.acting_as(batch.actor):
        audit_log.record_created(db.session, Dossier, [(new.id, new.row) for new in created])
        audit_log.record_created(db.session, DossierEvent, list(zip(event_ids, events, strict=True)))
    batch.finished += [SimpleNamespace(id=new.id, **new.row) for new in created if new.row["processed_at"]]


def _finish(batch: _Batch) -> None:
    _insert_created(batch)
    audit_log.flush_as(db.session, batch.actor)
    late = [d for d in batch.finished if classify(d.processed_at, d.due_at) is Timeliness.late]
    if late:
        nonconformities.raise_for_late_dossiers(late, now=batch.now)
    if batch.changed_since is not None:
        rollups.thaw(batch.changed_since)  # months already frozen are counted again


def _take_in(batch: _Batch, model: PortalDossier, raw: dict, digest: str) -> Outcome:
    known = batch.fingerprints.get(model.code)
    state_at = model.state_at()
    held = batch.held.get(model.code)
    if known is not None and known.digest == digest:
        if held is not None and held.released_at is None:
            _release(batch, held, batch.dossiers.get(model.code) or (
                db.session.get(Dossier, known.id) if known.id is not None else None))
        return Outcome(model.code, UNCHANGED, code=model.code.upper())
    if known is not None and state_at < known.state_at:
        return Outcome(model.code, UNCHANGED, "stale",
                       _("Trạng thái cũ hơn trạng thái đã nhận; giữ nguyên."), code=model.code.upper())
    existing = batch.dossiers.get(model.code) if known is not None else None
    try:
        mapped = _map(batch, model, existing)
        code, changed = _upsert(batch, model, mapped, existing, digest, state_at)
    except _Hold as hold:
        _hold(batch, model, raw, hold, held)
        return Outcome(model.code, HELD, hold.reason.value,
                       _("%(r)s: %(d)s", r=hold.reason.label, d=hold.detail))
    except _Refuse as refuse:
        return Outcome(model.code, REFUSED, "invalid", _("Dữ liệu hồ sơ không hợp lệ."), refuse.errors)
    _release(batch, held, existing)
    batch.fingerprints[model.code] = Fingerprint(existing.id if existing is not None else None, digest, state_at)
    result = CREATED if existing is None else UPDATED if changed else UNCHANGED
    return Outcome(model.code, result, code=code)


def _map(batch: _Batch, model: PortalDossier, existing: Dossier | None) -> _Mapped:
    """Our procedure, agency, department, status and process version for the dossier, or
    _Hold naming the code that has no match."""
    rule = batch.rule(MappingKind.procedure, model.procedure_code)
    procedure = rule.procedure if rule is not None else batch.procedures.get(model.procedure_code)
    if procedure is None:
        raise _Hold(HoldReason.unknown_procedure, model.procedure_code)
    rule = batch.rule(MappingKind.agency, model.unit_identifier)
    agency = rule.agency if rule is not None else batch.agencies.get(model.unit_identifier.upper())
    if agency is None:
        raise _Hold(HoldReason.unknown_agency, model.unit_identifier)
    status = STATUS_BY_NUMBER.get(model.status)
    if status is None:
        rule = batch.rule(MappingKind.status, str(model.status))
        if rule is None or rule.status is None:
            raise _Hold(HoldReason.unknown_status, str(model.status))
        status = rule.status
    rule = batch.rule(MappingKind.department, model.unit) if model.unit else None
    department = rule.department if rule is not None else batch.desk(agency)
    if department is None:
        raise _Hold(HoldReason.unknown_department, model.unit or agency.code)
    versions = batch.versions(procedure)
    if not versions:
        raise _Hold(HoldReason.no_process, procedure.code)
    moment, day = model.taken_at, date_of(model.taken_at)
    in_force = [pv for starts, superseded, pv in versions
                if starts <= day and (superseded is None or superseded > moment)]
    before = not in_force and versions[0][0] > day
    version = in_force[-1] if in_force else (versions[0][2] if before else versions[-1][2])
    if existing is None and model.code.upper() in batch.taken:
        raise _Hold(HoldReason.code_taken, model.code)
    return _Mapped(procedure, agency, department, status, version, before)


def _finished_at(model: PortalDossier, status: DossierStatus, history: list[Handled]) -> datetime | None:
    """When processing finished (status 9): NgayKetThucXuLy, else the history's first entry
    into 9 or 10, else the return; None while not finished."""
    if status not in FINISHED:
        return None
    if model.processed_at is not None:
        return model.processed_at
    entry = next((e for e in history if e.status in (9, 10)), None)
    finished = entry.at if entry is not None else model.returned_at
    if finished is None:
        raise _Refuse([{"field": "NgayKetThucXuLy",
                        "message": _("Bắt buộc với hồ sơ đã giải quyết xong (trạng thái 9, 10).")}])
    return finished


@dataclass
class _Timeline:
    original_due: datetime
    due: datetime
    paused_at: datetime | None
    events: list[tuple[EventKind, datetime, str, datetime | None, datetime | None]]


class Handled(NamedTuple):
    """One entry of a dossier's whole known history (stored, and newly sent), for the rules."""

    at: datetime
    status: int | None
    content: str


def _timeline(model: PortalDossier, mapped: _Mapped, calendar, history: list[Handled]) -> _Timeline:
    """The due time by this system's rules, and the events the history shows: a
    supplementation request or a wait for the financial obligation stops the clock and the
    next status that is neither restarts it (the version's rule: restart or resume), as at
    the desk here; refusal, withdrawal, stop and return are recorded as events."""
    version = mapped.version
    due = original = due_time(version, model.taken_at, calendar)
    events, paused, previous = [], None, None
    for entry in history:
        status = entry.status
        if status is None or status == previous:
            continue
        if previous in PAUSES and paused is not None:
            before = due
            if previous == 5 and version.supplement_rule.value == "restart":
                due = due_time(version, entry.at, calendar)
            else:
                due = calendar.resume_after_pause(due, paused, entry.at)
            events.append((PAUSES[previous][1], entry.at, entry.content, before, due))
            paused = None
        if status in PAUSES:
            paused = entry.at
            events.append((PAUSES[status][0], entry.at, entry.content, due, None))
        elif status in ENTERING:
            events.append((ENTERING[status], entry.at, entry.content, None, None))
        elif status == 2 and previous == 1:
            events.append((EventKind.accepted, entry.at, entry.content, None, None))
        previous = status
    if mapped.status is DossierStatus.supplement_requested and paused is None and model.supplement_requested_at:
        paused = model.supplement_requested_at
        events.append((EventKind.supplement_requested, paused, "", due, None))
    waiting = mapped.status in (DossierStatus.supplement_requested, DossierStatus.awaiting_payment)
    return _Timeline(original, due, paused if waiting else None, events)


def _upsert(batch: _Batch, model: PortalDossier, mapped: _Mapped, dossier: Dossier | None,
            digest: str, state_at: datetime) -> tuple[str, bool]:
    """Create or update the mirror; returns its code here and whether anything but the
    payload's fingerprint changed. The rules read the whole history known (stored and new),
    so a payload without history (a register file) never undoes what an earlier one told."""
    pending = batch.created.pop(model.code, None)  # sent twice in one batch: the later wins
    if dossier is not None:
        stored = batch.history.get(dossier.id, [])
    else:
        stored = [SimpleNamespace(**entry) for entry in pending.history] if pending else []
    known = {row.digest for row in stored}
    new = []
    for entry in sorted(model.history, key=lambda e: e.at):
        key = entry.digest()
        if key not in known:
            known.add(key)
            new.append((key, entry))
    history = sorted([Handled(row.at, row.status_code, row.content) for row in stored]
                     + [Handled(entry.at, entry.status, entry.content) for _key, entry in new])
    calendar = batch.calendar(mapped.agency)
    timeline = _timeline(model, mapped, calendar, history)
    finished = _finished_at(model, mapped.status, history)
    channel = CHANNEL_BY_NUMBER[model.channel]
    values = dict(
        agency_id=mapped.agency.id, department_id=mapped.department.id, procedure_id=mapped.procedure.id,
        procedure_version_id=mapped.version.id, case_key="", channel=channel, applicant_name=model.applicant,
        return_method=model.return_method, status=mapped.status,
        registered_at=model.submitted_at if channel is Channel.online else None,
        received_at=model.taken_at, original_due_at=timeline.original_due, due_at=timeline.due,
        processed_at=finished, returned_at=model.returned_at if mapped.status is DossierStatus.returned else None,
        paused_at=timeline.paused_at, source_due_at=model.promised_at, before_version=mapped.before_version)
    batch.touched(model.taken_at)
    entries = [{"position": position, "digest": key, "at": entry.at, "person": entry.person,
                "content": entry.content, "status_code": entry.status, "due_by_rule": entry.due_by_rule}
               for position, (key, entry) in enumerate(new, start=len(stored) + 1)]
    if dossier is None:
        # No lookup secret: the citizen looks a synced dossier up on the source's portal.
        row = {"code": model.code.upper(), "lookup_secret_hash": "", "source_id": batch.source.id,
               "source_code": model.code, "processing_agency_id": None, "applicant_id_number": "",
               "applicant_phone": "", "applicant_address": "", "applicant_email": "", "components": [],
               "received_by_id": None, "returned_via": None, "promised_at": None, **values,
               "source_state_at": state_at, "source_digest": digest}
        events = [{"kind": kind, "at": at, "by_id": None, "department_id": mapped.department.id, "reason": reason,
                   "due_before": due_before, "due_after": due_after, "step_position": None, "late": False,
                   "pause_kind": None} for kind, at, reason, due_before, due_after in timeline.events]
        if pending is not None:  # keep what the earlier payload in this batch brought
            entries = pending.history + entries
            events = pending.events + [e for e in events
                                       if (e["kind"], e["at"]) not in {(p["kind"], p["at"]) for p in pending.events}]
        batch.created[model.code] = _New(row, entries, events, held=pending.held if pending else None)
        return row["code"], True

    changed = bool(new)
    batch.touched(dossier.received_at)
    known_events = {(e.kind, e.at) for e in dossier.events}
    for name, value in values.items():
        if getattr(dossier, name) != value:
            setattr(dossier, name, value)
            changed = True
    dossier.source_state_at, dossier.source_digest = state_at, digest
    for kind, at, reason, due_before, due_after in timeline.events:
        if (kind, at) not in known_events:
            known_events.add((kind, at))
            changed = True
            dossier.events.append(DossierEvent(kind=kind, at=at, reason=reason, due_before=due_before,
                                               due_after=due_after, department_id=mapped.department.id))
    for entry in entries:
        db.session.add(HistoryEntry(dossier=dossier, **entry))
    if finished is not None:
        batch.finished.append(dossier)
    return dossier.code, changed


# --- the held queue ----------------------------------------------------------------------------
def _hold(batch: _Batch, model: PortalDossier, raw: dict, hold: _Hold, held: HeldDossier | None) -> None:
    """Keep the payload, with why, in the held queue (one row per source and code; a payload
    of an older state than the one held does not replace it)."""
    if held is None:
        held = HeldDossier(source=batch.source, code=model.code, payload=raw, reason=hold.reason,
                           detail=hold.detail, held_at=batch.now, last_seen_at=batch.now)
        db.session.add(held)
        batch.held[model.code] = held
        return
    held.last_seen_at = batch.now
    kept, _errors = read_dossier(held.payload)
    if held.released_at is None and kept is not None and kept.state_at() > model.state_at():
        return
    held.payload, held.reason, held.detail = raw, hold.reason, hold.detail
    if held.released_at is not None:  # held again after it was released
        held.held_at, held.released_at, held.released_by, held.dossier = batch.now, None, None, None


def _release(batch: _Batch, held: HeldDossier | None, dossier: Dossier | None) -> None:
    """The held payload is taken in: into `dossier`, or (None) the one this batch creates."""
    if held is not None and held.released_at is None:
        held.released_at, held.released_by = batch.now, batch.actor
        if dossier is not None:
            held.dossier = dossier
        elif held.code in batch.created:  # its id is known once the batch's dossiers are inserted
            batch.created[held.code].held = held


def held_queue(source_id: int | None = None):
    """The dossiers waiting in the held queue, oldest first, as a query."""
    query = sa.select(HeldDossier).where(HeldDossier.released_at.is_(None))
    if source_id:
        query = query.where(HeldDossier.source_id == source_id)
    return query.order_by(HeldDossier.held_at, HeldDossier.id)


def held_summary() -> list:
    """What is held, grouped: (source, reason, the code that failed, how many, since)."""
    return db.session.execute(
        sa.select(SyncSource, HeldDossier.reason, HeldDossier.detail, sa.func.count(HeldDossier.id),
                  sa.func.min(HeldDossier.held_at))
        .join(SyncSource, SyncSource.id == HeldDossier.source_id)
        .where(HeldDossier.released_at.is_(None))
        .group_by(SyncSource, HeldDossier.reason, HeldDossier.detail)
        .order_by(SyncSource.code, HeldDossier.reason, sa.func.count(HeldDossier.id).desc())).all()


TARGETS = {MappingKind.agency: (Agency, "agency"), MappingKind.procedure: (Procedure, "procedure"),
           MappingKind.department: (Department, "department")}


def add_mapping(*, actor: User, source: SyncSource, kind: MappingKind, external: str,
                target_id: int | None = None, status: DossierStatus | None = None,
                now: datetime) -> tuple[SyncMapping, list[Outcome]]:
    """Map one of the source's codes to ours (e.g. "this identifier is this commune"), then
    replay the dossiers of that source held for it. Returns the rule and the replay's
    outcomes."""
    authz.require(actor, "sync.manage", message=_("Chỉ quản trị hoặc cán bộ ISO cấu hình đồng bộ."))
    external = (external or "").strip()
    if not external:
        raise ValidationError(_("Hãy nhập mã của hệ thống nguồn."))
    if db.session.scalar(sa.select(SyncMapping.id).where(
            SyncMapping.source_id == source.id, SyncMapping.kind == kind, SyncMapping.external == external)):
        raise ValidationError(_("Mã %(e)s đã được ánh xạ.", e=external))
    rule = SyncMapping(source=source, kind=kind, external=external, created_at=now, created_by=actor)
    if kind is MappingKind.status:
        if status is None:
            raise ValidationError(_("Hãy chọn trạng thái tương ứng."))
        rule.status = status
    else:
        model, attribute = TARGETS[kind]
        target = db.session.get(model, target_id) if target_id else None
        if target is None:
            raise ValidationError(_("Hãy chọn đối tượng tương ứng."))
        setattr(rule, attribute, target)
    db.session.add(rule)
    audit_log.flush_as(db.session, actor)
    return rule, replay(actor=actor, source=source, now=now)


def replay(*, actor: User, source: SyncSource, now: datetime,
           held_ids: list[int] | None = None) -> list[Outcome]:
    """Take in again the dossiers of `source` waiting in the held queue (those of `held_ids`,
    or all): those now mapped are created or updated and released, the others stay held
    with their reason as it now is."""
    authz.require(actor, "sync.manage", message=_("Chỉ quản trị hoặc cán bộ ISO cấu hình đồng bộ."))
    query = held_queue(source.id)
    if held_ids is not None:
        query = query.where(HeldDossier.id.in_(held_ids))
    waiting = list(db.session.scalars(query))
    if not waiting:
        return []
    return _take_in_all(source, [held.payload for held in waiting], actor=actor, now=now)


def mismatches(source_id: int | None = None):
    """Synced dossiers whose due date here (this system's rules) is not the date the source
    promised (NgayHenTra): a finding for the quality officer (a wrong limit in one system or
    the other, a pause counted differently). As a query, the earliest received first."""
    query = (sa.select(Dossier).where(Dossier.source_id.is_not(None), Dossier.source_due_at.is_not(None),
                                      local_date(Dossier.source_due_at) != local_date(Dossier.due_at))
             .order_by(Dossier.received_at, Dossier.id))
    if source_id:
        query = query.where(Dossier.source_id == source_id)
    return query


def history_of(dossier: Dossier) -> list[HistoryEntry]:
    """A synced dossier's handling history, as the source recorded it, in order."""
    return list(db.session.scalars(sa.select(HistoryEntry).where(HistoryEntry.dossier_id == dossier.id)
                                   .order_by(HistoryEntry.at, HistoryEntry.position)))


def sources() -> list[SyncSource]:
    return list(db.session.scalars(sa.select(SyncSource).order_by(SyncSource.code)))


def mappings() -> list[SyncMapping]:
    return list(db.session.scalars(sa.select(SyncMapping).order_by(
        SyncMapping.source_id, SyncMapping.kind, SyncMapping.external)))
