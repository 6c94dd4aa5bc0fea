"""Files attached to draft versions: type by content, size limit, stored by a random name,
downloaded under the original name."""
import io
import zipfile
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from qms.errors import Conflict, ValidationError
from qms.extensions import db
from qms.models import Attachment
from qms.services import attachments, documents
from tests.conftest import post_form
from tests.documents.conftest import NOW

VERSION_PAGE = "/documents/CSCL/versions/1"


def office_file(part: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr("[Content_Types].xml", "<Types/>")
        package.writestr(part, "<root/>")
    return buffer.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
DOCX = office_file("word/document.xml")
XLSX = office_file("xl/workbook.xml")


pytestmark = pytest.mark.usefixtures("frozen_clock")



def upload(browser, content: bytes, name: str, page: str = VERSION_PAGE):
    return post_form(browser, page + "/attachments", {"file": (io.BytesIO(content), name)},
                     token_from=page)


def follow(browser, response) -> str:
    assert response.status_code == 302, response.status_code
    return browser.get(response.headers["Location"]).get_data(as_text=True)


def active_attachments():
    db.session.expire_all()
    return db.session.scalars(sa.select(Attachment).where(Attachment.active.is_(True))).all()


@pytest.mark.parametrize("content,name,media_type", [
    (PDF, "Quyết định ban hành.pdf", "application/pdf"),
    (DOCX, "Biểu mẫu 01.docx", attachments.DOCX),
    (XLSX, "theo-doi.XLSX", attachments.XLSX),
], ids=["pdf", "docx", "xlsx"])  # not the contents: a zip's timestamp differs between xdist workers
def test_each_allowed_type_is_attached_and_downloaded_unchanged(app, client_for, policy, content, name,
                                                                  media_type):
    quality = client_for("quality")
    page = follow(quality, upload(quality, content, name))
    assert f"Đã đính kèm tệp {name}" in page
    [attachment] = active_attachments()
    assert (attachment.filename, attachment.media_type, attachment.size) == (name, media_type, len(content))
    stored = attachments.path_of(attachment)
    assert stored.parent.name == "attachments" and stored.read_bytes() == content
    assert stored.name == attachment.storage_name and name not in stored.name
    assert len(attachment.sha256) == 64

    response = client_for("officer").get(
        f"{VERSION_PAGE}/attachments/{attachment.id}")
    assert response.status_code == 200 and response.data == content
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and quote(name) in disposition
    assert response.mimetype == media_type


@pytest.mark.parametrize("content,name,message", [
    (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" * 10, "chuong-trinh.pdf", "không phải PDF, Word (DOCX) hay Excel (XLSX)"),
    (b"", "trong.pdf", "rỗng"),
    (b"%PDF-" + b"0" * (10 * 1024 * 1024), "qua-lon.pdf", "lớn hơn 10 MB"),
    (office_file("content.xml"), "khac.docx", "không phải PDF, Word (DOCX) hay Excel (XLSX)"),
    (PDF, "doi-ten.docx", "nhưng tên tệp không có đuôi .pdf"),
], ids=["exe", "empty", "too-large", "other-zip", "pdf-named-docx"])
def test_bad_files_are_refused_with_a_message(client_for, policy, content, name, message):
    quality = client_for("quality")
    page = follow(quality, upload(quality, content, name))
    assert message in page
    assert active_attachments() == []


def test_only_drafts_take_or_lose_files(client_for, policy, staff):
    quality = client_for("quality")
    follow(quality, upload(quality, PDF, "a.pdf"))
    [attachment] = active_attachments()
    documents.submit(policy.versions[0], actor=staff["quality"], now=NOW)
    db.session.commit()
    page = quality.get(VERSION_PAGE).get_data(as_text=True)
    assert 'id="attachment-form"' not in page and "a.pdf" in page
    page = follow(quality, upload(quality, PDF, "b.pdf"))
    assert "Chỉ đính kèm tệp vào bản dự thảo" in page
    page = follow(quality, post_form(quality, f"{VERSION_PAGE}/attachments/{attachment.id}/remove", {},
                                     token_from=VERSION_PAGE))
    assert "Chỉ gỡ được tệp của bản dự thảo" in page
    assert [a.filename for a in active_attachments()] == ["a.pdf"]


def test_a_removed_file_leaves_the_draft(client_for, policy):
    quality = client_for("quality")
    follow(quality, upload(quality, PDF, "a.pdf"))
    [attachment] = active_attachments()
    page = follow(quality, post_form(quality, f"{VERSION_PAGE}/attachments/{attachment.id}/remove", {},
                                     token_from=VERSION_PAGE))
    assert "Đã gỡ tệp a.pdf" in page
    assert active_attachments() == []
    assert quality.get(f"{VERSION_PAGE}/attachments/{attachment.id}").status_code == 404


def test_other_roles_cannot_attach(client_for, policy):
    for username in ("officer", "leader"):
        browser = client_for(username)
        assert 'id="attachment-form"' not in browser.get(VERSION_PAGE).get_data(as_text=True)
        assert upload(browser, PDF, "a.pdf").status_code == 403
    assert active_attachments() == []


def test_the_service_refuses_without_the_web(app, policy, staff):
    version = policy.versions[0]
    with pytest.raises(ValidationError):
        attachments.save_attachment(version, FileStorage(io.BytesIO(b""), "x.pdf"),
                                    actor=staff["quality"], now=NOW)
    saved = attachments.save_attachment(version, FileStorage(io.BytesIO(PDF), r"C:\Users\a\..\dự thảo.pdf"),
                                        actor=staff["quality"], now=NOW)
    assert saved.filename == "dự thảo.pdf"  # never a folder part
    documents.submit(version, actor=staff["quality"], now=NOW)
    with pytest.raises(Conflict):
        attachments.save_attachment(version, FileStorage(io.BytesIO(PDF), "y.pdf"),
                                    actor=staff["quality"], now=NOW)
