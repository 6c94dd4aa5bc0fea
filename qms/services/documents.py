"""Document control (ISO 9001:2015 §7.5): versions, their workflow, and who read them.

Workflow (one table, checked in one place):

    draft --submit--> in_review --approve--> approved --(effective date)--> effective
      ^                   |                                                    |
      +-----return--------+                      superseded <--(next effective)-+
    approved / effective --withdraw--> withdrawn

Only quality officers draft, edit and submit; only leaders approve, return (with a
reason) and withdraw. Approved content never changes (see FrozenVersionError).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from qms import authz
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.localtime import date_of
from qms.models import (
    Acknowledgement,
    Department,
    Document,
    DocumentKind,
    DocumentVersion,
    User,
    VersionStatus,
)
from qms.services import audit_log
from qms.services.procedures import (
    departments_concerned,
    procedure_data_of,
    procedure_version_of,
    refresh_hash,
    validate_version,
    write_procedure_data,
)
from qms.transactions import writing

S = VersionStatus


@dataclass(frozen=True)
class Transition:
    source: frozenset[VersionStatus]
    target: VersionStatus
    permission: str | None  # qms.authz; None: the calendar moves it, nobody acts


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({S.draft}), S.in_review, "documents.submit"),
    "return": Transition(frozenset({S.in_review}), S.draft, "documents.approve"),
    "approve": Transition(frozenset({S.in_review}), S.approved, "documents.approve"),
    "take_effect": Transition(frozenset({S.approved}), S.effective, None),  # the calendar
    "supersede": Transition(frozenset({S.effective}), S.superseded, None),  # the calendar
    "withdraw": Transition(frozenset({S.approved, S.effective}), S.withdrawn, "documents.approve"),
}


def permission(action: str) -> str | None:
    """The qms.authz permission an action needs ("draft"/"edit" or a TRANSITIONS key)."""
    return "documents.manage" if action in ("draft", "edit") else TRANSITIONS[action].permission


def may(actor: User | None, action: str,
        target: DocumentVersion | Document | Department | None = None) -> bool:
    """May `actor` do `action` (a TRANSITIONS key, or "draft"/"edit") to `target`: a version,
    a document, or the department to own a new document (None: to some document at all)?
    Rule: the roles of qms.authz, on documents of the actor's agency (a leader: also of the
    agencies under it), and the version's status."""
    version = target if isinstance(target, DocumentVersion) else None
    if action in ("draft", "edit"):
        return authz.may(actor, "documents.manage", target) and (version is None or version.status is S.draft)
    transition = TRANSITIONS[action]
    return (transition.permission is not None and authz.may(actor, transition.permission, target)
            and (version is None or version.status in transition.source))


def _transition(version: DocumentVersion, action: str, actor: User | None, *, note: str | None = None):
    """The one place a status changes: checks the table, moves, and records it."""
    transition = TRANSITIONS[action]
    if version.status not in transition.source:
        raise Conflict(_("Phiên bản đang ở trạng thái “%(s)s”, không thể thực hiện thao tác này.",
                         s=version.status.label))
    if transition.permission and not authz.may(actor, transition.permission, version):
        raise Forbidden(_("Tài liệu này thuộc đơn vị khác; bạn không thể thực hiện thao tác này.")
                        if authz.has(actor, transition.permission) else
                        _("Bạn không có quyền thực hiện thao tác này với tài liệu."))
    old = version.status
    version.status = transition.target
    audit_log.flush_as(db.session, actor)
    audit_log.record(db.session, f"document_version.{action}", version,
                 changes={"status": [old.value, transition.target.value]}, note=note)


# --- documents ---------------------------------------------------------------------------
def create_document(*, actor: User | None, code: str, title: str, kind: DocumentKind,
                    owner: Department, review_interval_months: int = 12) -> Document:
    """Rule: quality officers create documents; codes are unique."""
    if actor is not None and not may(actor, "draft", owner):
        raise Forbidden(_("Chỉ cán bộ ISO của đơn vị được tạo tài liệu của đơn vị mình."))
    code = (code or "").strip().upper()
    if not code or len(code) > 32:
        raise ValidationError(_("Mã tài liệu không hợp lệ."))
    if db.session.scalar(sa.select(Document.id).where(Document.code == code)) is not None:
        raise Conflict(_("Mã tài liệu %(c)s đã tồn tại.", c=code))
    if not title or not title.strip():
        raise ValidationError(_("Tên tài liệu không được để trống."))
    if not 1 <= review_interval_months <= 60:
        raise ValidationError(_("Chu kỳ rà soát phải từ 1 đến 60 tháng."))
    document = Document(code=code, title=title.strip(), kind=kind, owner_department=owner,
                        review_interval_months=review_interval_months)
    db.session.add(document)
    audit_log.flush_as(db.session, actor)
    return document


def open_version(document: Document) -> DocumentVersion | None:
    """The version being worked on (draft or in review), if any: there is at most one."""
    return next((v for v in document.versions if v.status in (S.draft, S.in_review)), None)


def draft_version(document: Document, *, actor: User | None, title: str, body: str,
                  change_summary: str, now: datetime) -> DocumentVersion:
    """Start the next version. Rule: one open draft at a time; a change states its summary
    (except the first issue)."""
    if actor is not None and not may(actor, "draft", document):
        raise Forbidden(_("Chỉ cán bộ ISO của đơn vị quản lý tài liệu được soạn thảo tài liệu này."))
    if open_version(document) is not None:
        raise Conflict(_("Tài liệu %(c)s đã có một dự thảo đang mở.", c=document.code))
    number = max((v.number for v in document.versions), default=0) + 1
    if number > 1 and not (change_summary or "").strip():
        raise ValidationError(_("Hãy tóm tắt nội dung sửa đổi của lần ban hành này."))
    previous = next((v for v in reversed(document.versions) if v.status is not S.withdrawn), None)
    version = DocumentVersion(document=document, number=number, status=S.draft,
                              title=(title or document.title).strip(), body=body or "",
                              change_summary=(change_summary or "").strip(),
                              author=actor, created_at=now, content_hash="")
    db.session.add(version)
    if previous is not None:
        _carry_over_procedure_data(previous, version, actor)
    refresh_hash(version)
    audit_log.flush_as(db.session, actor)
    return version


def _carry_over_procedure_data(previous: DocumentVersion, version: DocumentVersion,
                               actor: User | None) -> None:
    """A process's new version starts from the procedure data of the one before it, so a
    draft made in the app (title and text only) never drops the steps; an import then
    overwrites them with the file's."""
    pv = procedure_version_of(previous)
    if pv is not None:
        with audit_log.acting_as(actor):
            write_procedure_data(version, pv.procedure, procedure_data_of(previous))


def edit_draft(version: DocumentVersion, *, actor: User | None, title: str, body: str,
               change_summary: str) -> DocumentVersion:
    if version.status is not S.draft:
        raise Conflict(_("Chỉ sửa được bản dự thảo; bản đã trình hoặc đã duyệt là bất biến."))
    if actor is not None and not may(actor, "edit", version):
        raise Forbidden(_("Chỉ cán bộ ISO của đơn vị quản lý tài liệu được sửa dự thảo."))
    version.title = (title or version.title).strip()
    version.body = body or ""
    version.change_summary = (change_summary or "").strip()
    refresh_hash(version)
    audit_log.flush_as(db.session, actor)
    return version


def submit(version: DocumentVersion, *, actor: User, now: datetime) -> DocumentVersion:
    """Rule: the quality officer submits a complete draft for the leader's approval."""
    validate_version(version)
    version.submitted_by, version.submitted_at = actor, now
    version.return_reason = None
    _transition(version, "submit", actor)
    return version


def return_for_changes(version: DocumentVersion, *, actor: User, reason: str,
                       now: datetime) -> DocumentVersion:
    """Rule: a leader sends a version back to draft, always with a reason."""
    if not (reason or "").strip():
        raise ValidationError(_("Hãy ghi lý do trả lại."))
    version.reviewed_by, version.reviewed_at = actor, now
    version.return_reason = reason.strip()
    _transition(version, "return", actor, note=reason.strip())
    return version


def approve(version: DocumentVersion, *, actor: User, effective_date: date,
            now: datetime) -> DocumentVersion:
    """Rule: a leader approves with an effective date, not in the past; on that date the
    version takes effect and the one before it is superseded."""
    if effective_date is None:
        raise ValidationError(_("Hãy chọn ngày có hiệu lực."))
    if effective_date < date_of(now):
        raise ValidationError(_("Ngày có hiệu lực không được ở quá khứ."))
    version.reviewed_by, version.reviewed_at = actor, now
    version.approved_by, version.approved_at = actor, now
    version.effective_date = effective_date
    _transition(version, "approve", actor)
    apply_effective_dates(now, documents=[version.document])
    return version


def withdraw(version: DocumentVersion, *, actor: User, reason: str, now: datetime) -> DocumentVersion:
    """Rule: a leader withdraws an approved or effective version with a reason; the document
    then has no effective version until another takes effect."""
    if not (reason or "").strip():
        raise ValidationError(_("Hãy ghi lý do thu hồi."))
    version.withdrawn_by, version.withdrawn_at = actor, now
    version.withdraw_reason = reason.strip()
    _transition(version, "withdraw", actor, note=reason.strip())
    return version


def apply_effective_dates(now: datetime, documents: list[Document] | None = None) -> list[DocumentVersion]:
    """Make approved versions whose effective date has come effective, superseding the
    version they replace. Idempotent; run on approval and daily (`qms apply-effective-dates`).
    Returns the versions that took effect."""
    today = date_of(now)
    query = sa.select(DocumentVersion).where(DocumentVersion.status == S.approved,
                                             DocumentVersion.effective_date <= today)
    if documents is not None:
        query = query.where(DocumentVersion.document_id.in_([d.id for d in documents]))
    due = db.session.scalars(query.order_by(DocumentVersion.document_id,
                                            DocumentVersion.effective_date,
                                            DocumentVersion.number)).all()
    for version in due:
        for previous in version.document.versions:
            if previous.status is S.effective and previous.id != version.id:
                previous.superseded_at = now
                _transition(previous, "supersede", None)
        _transition(version, "take_effect", None)
        document = version.document
        document.next_review_due = _add_months(version.effective_date, document.review_interval_months)
    db.session.flush()
    return due


def effective_version(document: Document) -> DocumentVersion | None:
    return next((v for v in reversed(document.versions) if v.status is S.effective), None)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for candidate in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def reviews_overdue(today: date) -> list[Document]:
    """Documents whose periodic review date has passed (for the quality officer)."""
    return db.session.scalars(sa.select(Document).where(Document.next_review_due < today)
                              .order_by(Document.next_review_due)).all()


def record_review(document: Document, *, actor: User, today: date, note: str) -> Document:
    """A periodic review found the document still fit: the next review moves one interval on."""
    if not authz.may(actor, "documents.manage", document):
        raise Forbidden(_("Chỉ cán bộ ISO của đơn vị quản lý tài liệu ghi nhận rà soát định kỳ."))
    document.next_review_due = _add_months(today, document.review_interval_months)
    audit_log.flush_as(db.session, actor)
    audit_log.record(db.session, "document.reviewed", document, note=(note or "").strip() or None)
    return document


# --- read and understood -------------------------------------------------------------------
def concerned_users(version: DocumentVersion) -> list[User]:
    """The staff who must acknowledge a version: the active users of its owner department,
    and for a procedure's process, of every department of the agencies that apply it."""
    departments = departments_concerned(version.document)
    return db.session.scalars(sa.select(User).where(User.active.is_(True),
                                                    User.department_id.in_([d.id for d in departments]))
                              .order_by(User.username)).all()


def acknowledge(version: DocumentVersion, *, actor: User, now: datetime) -> Acknowledgement:
    if version.status is not S.effective:
        raise Conflict(_("Chỉ xác nhận đã đọc được phiên bản đang hiệu lực."))
    existing = db.session.scalar(sa.select(Acknowledgement).where(
        Acknowledgement.version_id == version.id, Acknowledgement.user_id == actor.id))
    if existing is not None:
        return existing
    ack = Acknowledgement(version_id=version.id, user_id=actor.id, acknowledged_at=now)
    db.session.add(ack)
    audit_log.flush_as(db.session, actor)
    return ack


def acknowledgement_status(version: DocumentVersion) -> tuple[list[tuple[User, datetime]], list[User]]:
    """(who acknowledged and when, who has not yet) among the concerned staff."""
    acks = {a.user_id: a for a in db.session.scalars(
        sa.select(Acknowledgement).where(Acknowledgement.version_id == version.id))}
    done, pending = [], []
    for user in concerned_users(version):
        (done.append((user, acks[user.id].acknowledged_at)) if user.id in acks else pending.append(user))
    return done, pending


_daily_lock = threading.Lock()
_daily_done: date | None = None


def apply_effective_dates_daily(now: datetime) -> None:
    """Run `apply_effective_dates` once per day per process, on the first request of the
    day, so versions take effect on their date even without the cron job. Commits."""
    global _daily_done
    today = date_of(now)
    if _daily_done == today or not _daily_lock.acquire(blocking=False):
        return
    try:
        with audit_log.acting_as(None, system="effective-dates"), writing():
            apply_effective_dates(now)
            db.session.commit()  # also when nothing changed: the write lock is let go
        _daily_done = today
    except Exception:
        db.session.rollback()
        raise
    finally:
        _daily_lock.release()
