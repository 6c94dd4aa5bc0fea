"""Controlled documents (ISO 9001:2015 §7.5): the quality manual, policy, objectives,
system procedures, forms and the internal process of each administrative procedure.

A document is a code and a title; its content lives in numbered versions that move
draft → in_review → approved → effective → superseded (or withdrawn). Once approved, a
version's content never changes: a change is a new version.
"""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.org import Department


class DocumentKind(LabelledEnum):
    manual = "manual", _l("Sổ tay chất lượng")  # sổ tay chất lượng
    policy = "policy", _l("Chính sách chất lượng")  # chính sách chất lượng
    objectives = "objectives", _l("Mục tiêu chất lượng")  # mục tiêu chất lượng
    # quy trình hệ thống (the six ISO procedures)
    system_procedure = "system_procedure", _l("Quy trình hệ thống")
    form = "form", _l("Biểu mẫu")  # biểu mẫu
    # quy trình nội bộ giải quyết một TTHC
    process = "process", _l("Quy trình nội bộ giải quyết TTHC")


class VersionStatus(LabelledEnum):
    draft = "draft", _l("Dự thảo")
    in_review = "in_review", _l("Chờ phê duyệt")
    approved = "approved", _l("Đã phê duyệt")  # approved with a future effective date
    effective = "effective", _l("Đang hiệu lực")
    superseded = "superseded", _l("Đã thay thế")
    withdrawn = "withdrawn", _l("Đã thu hồi")


# Content columns of a version: frozen once the version leaves review.
FROZEN_STATUSES = frozenset({VersionStatus.approved, VersionStatus.effective,
                             VersionStatus.superseded, VersionStatus.withdrawn})


class Document(IdMixin, Base):
    __tablename__ = "document"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    title: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[DocumentKind] = mapped_column(enum_type(DocumentKind), index=True)
    owner_department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    # Periodic review (ISO 9001 §7.5.2): every `review_interval_months`, from the last
    # effective date or review.
    review_interval_months: Mapped[int] = mapped_column(default=12)
    next_review_due: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)

    owner_department: Mapped[Department] = relationship()
    versions: Mapped[list[DocumentVersion]] = relationship(
        back_populates="document", order_by="DocumentVersion.number")

    def __str__(self) -> str:
        return f"{self.code} {self.title}"


class DocumentVersion(IdMixin, Base):
    __tablename__ = "document_version"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("document_id", "number"),)

    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), index=True)
    number: Mapped[int]  # lần ban hành: 1, 2, ...
    status: Mapped[VersionStatus] = mapped_column(enum_type(VersionStatus), index=True)
    title: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text, default="")
    change_summary: Mapped[str] = mapped_column(sa.Text, default="")
    # SHA-256 of the canonical content (body and, for processes, the procedure data).
    content_hash: Mapped[str] = mapped_column(sa.String(64))

    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    submitted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    reviewed_at: Mapped[datetime | None]
    return_reason: Mapped[str | None] = mapped_column(sa.Text)
    approved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    approved_at: Mapped[datetime | None]
    effective_date: Mapped[date | None]
    superseded_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    withdrawn_at: Mapped[datetime | None]
    withdraw_reason: Mapped[str | None] = mapped_column(sa.Text)

    document: Mapped[Document] = relationship(back_populates="versions")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])

    @property
    def is_frozen(self) -> bool:
        return self.status in FROZEN_STATUSES

    def __str__(self) -> str:
        return f"{self.document.code} — lần {self.number}"


class Acknowledgement(IdMixin, Base):
    """A staff member's "read and understood" of an effective version (ISO 9001 §7.3)."""

    __tablename__ = "acknowledgement"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("version_id", "user_id"),)

    version_id: Mapped[int] = mapped_column(sa.ForeignKey("document_version.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    acknowledged_at: Mapped[datetime] = mapped_column(default=clock.now)

    user: Mapped[User] = relationship()


class Attachment(IdMixin, Base):
    """A file attached to a version (PDF, DOCX, XLSX), stored under the instance folder."""

    __tablename__ = "attachment"
    __audited__ = True

    version_id: Mapped[int] = mapped_column(sa.ForeignKey("document_version.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))  # as uploaded, for the download
    storage_name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    media_type: Mapped[str] = mapped_column(sa.String(128))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)
    active: Mapped[bool] = mapped_column(default=True)  # removed from the version, never deleted

    uploaded_by: Mapped[User] = relationship()


class FrozenVersionError(RuntimeError):
    """A write to the content of an approved version: a programming error, never allowed."""


# What a version says. Status, dates and signatures move on; these never do once frozen.
CONTENT_COLUMNS = ("document_id", "number", "title", "body", "change_summary", "content_hash")


def frozen_version_of(obj) -> DocumentVersion | None:
    """The document version whose content `obj` is part of (None if not content). Rows
    that belong to a version's content (a process's procedure data and its steps, in
    models.procedures, which builds on this module) say which version through their
    `content_version()` method, so this module need not know them."""
    if isinstance(obj, DocumentVersion):
        return obj
    content_version = getattr(obj, "content_version", None)
    return content_version() if callable(content_version) else None


def _was_frozen(version: DocumentVersion) -> bool:
    state = sa.inspect(version)
    if not state.persistent:
        return False  # created in this transaction: its first content is being written
    status = state.committed_state.get("status", version.status)
    return status in FROZEN_STATUSES


@event.listens_for(Session, "before_flush")
def _refuse_frozen_changes(session, flush_context, instances):
    for obj in list(session.dirty) + list(session.new) + list(session.deleted):
        version = frozen_version_of(obj)
        if version is None or not _was_frozen(version):
            continue
        if obj is version:
            if obj in session.deleted:
                raise FrozenVersionError(f"{version} is approved: it cannot be deleted")
            state = sa.inspect(obj)
            changed = [c for c in CONTENT_COLUMNS if state.attrs[c].history.has_changes()]
            if changed:
                raise FrozenVersionError(f"{version} is approved: {', '.join(changed)} cannot change")
        elif obj in session.new or obj in session.deleted or session.is_modified(obj):
            raise FrozenVersionError(f"{version} is approved: its procedure data cannot change")
