"""Receiving (issue 15, item 7): the desk finds the procedure by typing part of its name or
code (a filtered list, no script), ticks the components actually received, and the receipt
lists those."""
from __future__ import annotations

import base64
import io
import re

import sqlalchemy as sa
from pypdf import PdfReader

from qms.extensions import db
from qms.models import AgencyLevel, DocumentKind, Dossier
from qms.services import documents, procedures
from tests.conftest import browser_as, post_form
from tests.documents.conftest import NOW, birth_data

COMPONENTS = [{"name": "Tờ khai đăng ký kết hôn", "originals": 1, "copies": 0},
              {"name": "Giấy xác nhận tình trạng hôn nhân", "originals": 1, "copies": 0}]


def marriage(field, staff):
    document = documents.create_document(actor=staff["quality"], code="QT-HT-02", title="Quy trình đăng ký kết hôn",
                                         kind=DocumentKind.process, owner=staff["quality"].department)
    procedure = procedures.create_procedure(code="1.000894", name="Đăng ký kết hôn", field=field,
                                            level=AgencyLevel.commune, document=document)
    version = documents.draft_version(document, actor=staff["quality"], title=document.title, body="",
                                      change_summary="", now=NOW)
    procedures.write_procedure_data(version, procedure, birth_data(components=COMPONENTS))
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=NOW.date(), now=NOW)
    return procedure


def options(page: str) -> list[str]:
    select = re.search(r'<select[^>]*id="procedure_id".*?</select>', page, re.S).group(0)
    return re.findall(r'<option[^>]*>([^<]+)</option>', select)


def test_the_desk_finds_the_procedure_and_ticks_what_it_received(app, in_force, desk, staff):
    wedding = marriage(in_force.field, staff)
    db.session.commit()
    officer = browser_as(app, "motcua")
    assert len(options(officer.get("/dossiers/receive").get_data(as_text=True))) == 2
    page = officer.get("/dossiers/receive?q=ket+hon").get_data(as_text=True)  # accents ignored
    assert options(page) == ["1.000894 — Đăng ký kết hôn"]
    assert 'id="procedure-matches"' in page
    # the only match is picked, and its components are offered
    for component in COMPONENTS:
        assert component["name"] in page
    assert "Tờ khai đăng ký khai sinh" not in page
    assert options(officer.get("/dossiers/receive?q=1.000894").get_data(as_text=True)) == ["1.000894 — Đăng ký kết hôn"]
    assert options(officer.get("/dossiers/receive?q=khong+co+thu+tuc+nay").get_data(as_text=True)) == []
    received = post_form(officer, "/dossiers/receive", {
        "procedure_id": wedding.id, "applicant_name": "Vũ Thị Cưới", "channel": "direct",
        "components": ["Tờ khai đăng ký kết hôn"]}, token_from="/dossiers/receive?q=ket+hon").get_data(as_text=True)
    receipt = base64.b64decode(re.search(r'data:application/pdf;base64,([^"]+)"', received).group(1))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt)).pages).split())
    assert "Tờ khai đăng ký kết hôn" in text and "Giấy xác nhận tình trạng hôn nhân" not in text


def test_the_desk_chooses_how_the_result_is_returned_from_a_list(app, in_force, desk):
    officer = browser_as(app, "motcua")
    page = officer.get("/dossiers/receive").get_data(as_text=True)
    assert 'value="postal"' in page and "Qua dịch vụ bưu chính công ích" in page
    refused = post_form(officer, "/dossiers/receive", {
        "procedure_id": in_force.id, "applicant_name": "Lê Văn Fax", "channel": "direct", "return_method": "fax"})
    assert "Lê Văn Fax" not in [d.applicant_name for d in db.session.scalars(sa.select(Dossier))]
    assert refused.status_code == 200 and 'id="dossier-code"' not in refused.get_data(as_text=True)
    received = post_form(officer, "/dossiers/receive", {
        "procedure_id": in_force.id, "applicant_name": "Nguyễn Thị Hoa", "channel": "direct",
        "return_method": "postal"}).get_data(as_text=True)
    code = re.search(r'id="dossier-code">([^<]+)<', received).group(1)
    dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == code))
    assert dossier.return_method == "postal"
    receipt = base64.b64decode(re.search(r'data:application/pdf;base64,([^"]+)"', received).group(1))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt)).pages).split())
    assert "Đăng ký nhận kết quả tại: Qua dịch vụ bưu chính công ích" in text
    assert "Qua dịch vụ bưu chính công ích" in officer.get(f"/dossiers/{code}").get_data(as_text=True)
