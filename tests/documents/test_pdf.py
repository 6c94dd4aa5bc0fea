"""The printable internal process: Vietnamese text comes out as text, never boxes."""
import io
import logging

import pytest
from pypdf import PdfReader

from qms.reports.pdf import PdfError, html_to_pdf, render_pdf
from qms.services import procedures


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_procedure_pdf_carries_its_vietnamese_text(app, birth, caplog):
    version = birth.document.versions[0]
    with app.test_request_context():
        with caplog.at_level(logging.WARNING, logger="xhtml2pdf"):
            data = render_pdf("pdf/procedure.html", **procedures.print_context(version))
    assert data.startswith(b"%PDF-")
    assert not [r for r in caplog.records if "can draw" in r.getMessage()]
    text = " ".join(pdf_text(data).split())
    for expected in ("QUY TRÌNH ĐĂNG KÝ KHAI SINH", "Mã hiệu: QT-HT-01", "Lần ban hành: 1",
                     "Thẩm tra, dự thảo giấy khai sinh", "Công chức Tư pháp - Hộ tịch",
                     "Luật Hộ tịch số 60/2014/QH13", "Tổng thời gian", "Người phê duyệt",
                     "Trang 1 / 2"):
        assert expected in text, expected


def test_decomposed_marks_are_composed_before_drawing(app):
    decomposed = "Tiê\u0301ng Vi\u00ea\u0323t"  # "Tiếng Việt" with combining marks
    with app.test_request_context():
        html = f'<html><head><style>@font-face {{ font-family: "D"; src: url("DejaVuSans.ttf"); }} body {{ font-family: "D"; }}</style></head><body><p>{decomposed}</p></body></html>'
        assert "Tiếng Việt" in pdf_text(html_to_pdf(html))


def test_a_font_without_vietnamese_glyphs_is_an_error_not_boxes(app):
    # Helvetica (xhtml2pdf's default) cannot draw "ệ": that must fail loudly.
    with pytest.raises(PdfError):
        html_to_pdf("<html><body><p>Việt Nam — ệ ố ữ</p></body></html>")


def test_documents_cannot_read_files_outside_the_font_folder(app, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("database password")
    html = (f'<html><head><style>@font-face {{ font-family: "D"; src: url("DejaVuSans.ttf"); }} body {{ font-family: "D"; }}</style></head>'
            f'<body><img src="file://{secret}"><img src="../../../../etc/passwd"><img src="http://127.0.0.1:9/x.png"><p>ok</p></body></html>')
    text = pdf_text(html_to_pdf(html))
    assert "database password" not in text and "ok" in text


def test_pdf_route_serves_each_kind_of_document(client, birth, policy, staff):
    from tests.conftest import login

    login(client, "officer")
    response = client.get("/documents/QT-HT-01/versions/1/pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "Thẩm tra, dự thảo giấy khai sinh" in " ".join(pdf_text(response.data).split())
    response = client.get("/documents/CSCL/versions/1/pdf")
    assert response.status_code == 200
    assert "Phục vụ nhân dân." in pdf_text(response.data)
    assert client.get("/documents/CSCL/versions/9/pdf").status_code == 404
    client.post("/auth/logout")
    anonymous = client.application.test_client()
    assert anonymous.get("/documents/CSCL/versions/1/pdf").status_code == 302


def test_system_document_pdf_has_header_log_and_signatures(app, policy):
    version = policy.versions[0]
    with app.test_request_context():
        data = render_pdf("pdf/document.html", version=version, history=[version])
    text = " ".join(pdf_text(data).split())
    for expected in ("CHÍNH SÁCH CHẤT LƯỢNG", "Chính sách chất lượng", "Mã hiệu: CSCL",
                     "Theo dõi sửa đổi tài liệu", "Người soạn thảo", "Phục vụ nhân dân."):
        assert expected in text, expected
    assert "<b>" not in text
