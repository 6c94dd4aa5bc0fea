"""Files attached to a document version: PDF, DOCX and XLSX, recognised by their content.

Rules: only a draft carries new attachments or loses them (an approved version is frozen,
its files with it); a file is at most DOCUMENT_ATTACHMENT_MAX_BYTES; its type is read
from its bytes, never trusted from its name or the browser's media type. Files are
stored under <instance>/attachments/ by a random name; the uploaded name is kept only
for the download.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from flask import current_app
from flask_babel import gettext as _

from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import Attachment, DocumentVersion, User, VersionStatus
from qms.services import audit_log, documents

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXTENSIONS = {PDF: ".pdf", DOCX: ".docx", XLSX: ".xlsx"}
CHUNK = 64 * 1024


def storage_dir() -> Path:
    return Path(current_app.instance_path) / "attachments"


def path_of(attachment) -> Path:
    """Where an attachment (of a document version or a dossier step) is stored."""
    return storage_dir() / attachment.storage_name


def detect_type(path: Path) -> str | None:
    """PDF, DOCX or XLSX by content (None for anything else). Office files are ZIP
    packages: the part they must contain tells Word from Excel."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as package:
                names = set(package.namelist())
        except (zipfile.BadZipFile, OSError):
            return None
        if "word/document.xml" in names:
            return DOCX
        if "xl/workbook.xml" in names:
            return XLSX
    return None


def clean_filename(name: str | None) -> str:
    """The uploaded name without any folder part, NFC, at most 255 characters."""
    name = unicodedata.normalize("NFC", (name or "").replace("\\", "/"))
    name = PurePosixPath(name).name.strip()
    name = "".join(c for c in name if c.isprintable())
    return name[-255:]


@dataclass(frozen=True)
class StoredFile:
    filename: str  # as uploaded, cleaned
    storage_name: str
    media_type: str
    size: int
    sha256: str
    path: Path


def store_upload(file_storage) -> StoredFile:
    """Store an uploaded PDF, DOCX or XLSX under a random name, after checking it.

    Rules: a file is chosen and non-empty, at most DOCUMENT_ATTACHMENT_MAX_BYTES, really a
    PDF, DOCX or XLSX by its bytes, and named with the matching extension."""
    filename = clean_filename(getattr(file_storage, "filename", None))
    if file_storage is None or not filename:
        raise ValidationError(_("Hãy chọn một tệp để đính kèm."))
    limit = current_app.config["DOCUMENT_ATTACHMENT_MAX_BYTES"]
    folder = storage_dir()
    folder.mkdir(parents=True, exist_ok=True)
    storage_name = secrets.token_hex(24)
    target = folder / storage_name
    partial = folder / f"{storage_name}.part"
    digest, size = hashlib.sha256(), 0
    try:
        # Copy in chunks and stop at the limit: a huge upload is never held in memory.
        with open(partial, "xb") as out:
            while chunk := file_storage.stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ValidationError(_("Tệp “%(f)s” lớn hơn %(n)s MB, không đính kèm được.",
                                            f=filename, n=limit // (1024 * 1024)))
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise ValidationError(_("Tệp “%(f)s” rỗng.", f=filename))
        media_type = detect_type(partial)
        if media_type is None:
            raise ValidationError(_("Tệp “%(f)s” không phải PDF, Word (DOCX) hay Excel (XLSX); "
                                    "chỉ đính kèm được các loại tệp này.", f=filename))
        extension = EXTENSIONS[media_type]
        if not filename.lower().endswith(extension):
            raise ValidationError(_("Nội dung tệp “%(f)s” là %(t)s nhưng tên tệp không có đuôi %(t)s.",
                                    f=filename, t=extension))
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return StoredFile(filename, storage_name, media_type, size, digest.hexdigest(), target)


def save_attachment(version: DocumentVersion, file_storage, *, actor: User, now: datetime) -> Attachment:
    """Attach an uploaded file to a draft version.

    Rule: quality officers attach to drafts only; the file is non-empty, not larger than
    DOCUMENT_ATTACHMENT_MAX_BYTES, and really a PDF, DOCX or XLSX (by content), named
    with the matching extension."""
    if not documents.may(actor, "edit", version.document):
        raise Forbidden(_("Chỉ cán bộ ISO của đơn vị quản lý tài liệu được đính kèm tệp."))
    if version.status is not VersionStatus.draft:
        raise Conflict(_("Chỉ đính kèm tệp vào bản dự thảo; bản đã trình hoặc đã duyệt là bất biến."))
    stored = store_upload(file_storage)
    attachment = Attachment(version_id=version.id, filename=stored.filename, storage_name=stored.storage_name,
                            media_type=stored.media_type, size=stored.size, sha256=stored.sha256,
                            uploaded_by_id=actor.id, uploaded_at=now)
    db.session.add(attachment)
    try:
        audit_log.flush_as(db.session, actor)
    except Exception:
        stored.path.unlink(missing_ok=True)
        raise
    return attachment


def remove_attachment(attachment: Attachment, *, actor: User) -> Attachment:
    """Take a file off a draft. The row and the file stay (records are never deleted)."""
    version = db.session.get(DocumentVersion, attachment.version_id)
    if not documents.may(actor, "edit", version.document):
        raise Forbidden(_("Chỉ cán bộ ISO của đơn vị quản lý tài liệu được gỡ tệp đính kèm."))
    if version.status is not VersionStatus.draft:
        raise Conflict(_("Chỉ gỡ được tệp của bản dự thảo; bản đã trình hoặc đã duyệt là bất biến."))
    attachment.active = False
    audit_log.flush_as(db.session, actor)
    return attachment


def attachments_of(version: DocumentVersion) -> list[Attachment]:
    return db.session.scalars(
        db.select(Attachment).where(Attachment.version_id == version.id, Attachment.active.is_(True))
        .order_by(Attachment.uploaded_at, Attachment.id)).all()
