"""An incomplete dossier at the one-stop desk: the supplementation guidance slip (Mẫu 02,
nothing received) and the refusal (Mẫu 03, recorded as "not accepted")."""
import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from qms import clock
from qms.errors import Forbidden, ValidationError
from qms.extensions import db
from qms.models import AuditLog, Dossier, DossierSequence, DossierStatus, EventKind
from qms.services import dossiers
from tests.conftest import browser_as, post_form
from tests.dossiers.conftest import at
from tests.web.conftest import text

WHEN = at(2026, 11, 25, 9, 30)  # a Wednesday morning


@pytest.fixture(autouse=True)
def wednesday_morning():
    with clock.frozen(WHEN):
        yield


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())


def applicant(procedure, **extra) -> dict:
    return {"procedure_id": procedure.id, "applicant_name": "Nguyễn Thị Hoa",
            "applicant_address": "12 Trần Phú, phường An Hòa", "applicant_phone": "0901234567",
            "channel": "direct", **extra}


MISSING = "Bản chính Giấy chứng sinh\nGiấy tờ tùy thân của người đi khai sinh"


def test_the_desk_form_offers_guidance_and_refusal(app, in_force, desk):
    page = text(browser_as(app, "motcua").get("/dossiers/receive"))
    assert 'formaction="/dossiers/receive/guidance"' in page and "Hướng dẫn bổ sung" in page
    assert 'formaction="/dossiers/receive/refuse"' in page and "Từ chối tiếp nhận" in page
    assert 'action="/dossiers/receive"' in page  # the main button still receives


def test_guidance_slip_lists_what_is_missing_and_receives_nothing(app, in_force, desk):
    browser = browser_as(app, "motcua")
    response = post_form(browser, "/dossiers/receive/guidance",
                         applicant(in_force, missing=MISSING), token_from="/dossiers/receive")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    slip = pdf_text(response.data)
    for expected in ("PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ", "Nguyễn Thị Hoa",
                     "12 Trần Phú, phường An Hòa", "0901234567", "Đăng ký khai sinh", "1.001193",
                     "Bản chính Giấy chứng sinh", "Giấy tờ tùy thân của người đi khai sinh",
                     "NGƯỜI HƯỚNG DẪN", "Motcua", "ngày 25 tháng 11 năm 2026"):
        assert expected in slip, expected
    # Nothing received: no dossier, no number of the day used up.
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DossierSequence)) == 0
    row = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "dossier.guidance_issued")).one()
    assert row.actor_id == desk["onestop"].id and row.actor_name == "motcua"
    assert row.changes["procedure"] == "1.001193"
    assert row.changes["applicant_name"] == "Nguyễn Thị Hoa"
    assert row.changes["missing"] == ["Bản chính Giấy chứng sinh",
                                      "Giấy tờ tùy thân của người đi khai sinh"]
    # ... and the next dossier received still gets number 0001.
    page = text(post_form(browser, "/dossiers/receive", applicant(in_force)))
    assert 'id="dossier-code">TP-A-261125-0001<' in page


def test_guidance_needs_the_missing_items(app, in_force, desk):
    browser = browser_as(app, "motcua")
    response = post_form(browser, "/dossiers/receive/guidance", applicant(in_force, missing="  "),
                         token_from="/dossiers/receive")
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = text(response)
    assert "Hãy ghi nội dung cần bổ sung hoặc lý do từ chối." in page
    assert 'value="Nguyễn Thị Hoa"' in page  # what was typed is kept
    assert not db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "dossier.guidance_issued")).all()


def test_refusal_is_recorded_as_not_accepted_with_its_slip(app, in_force, desk):
    browser = browser_as(app, "motcua")
    reasons = "Thủ tục không thuộc thẩm quyền của UBND phường\nNgười nộp không có quyền yêu cầu"
    response = post_form(browser, "/dossiers/receive/refuse", applicant(in_force, missing=reasons),
                         token_from="/dossiers/receive")
    assert response.status_code == 200
    page = text(response)
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    assert code == "TP-A-261125-0001"  # numbered like every dossier of the day
    assert "Không được tiếp nhận" in page and "Người nộp không có quyền yêu cầu" in page

    dossier = db.session.scalars(sa.select(Dossier)).one()
    assert dossier.status is DossierStatus.not_accepted and dossier.status.national_code == 3
    assert dossier.steps == []
    assert dossier.received_at == dossier.due_at == dossier.original_due_at == WHEN
    assert dossier.received_by_id == desk["onestop"].id
    (event,) = dossier.events
    assert event.kind is EventKind.not_accepted and event.by_id == desk["onestop"].id
    assert event.reason.splitlines() == reasons.splitlines()
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "dossier.created", AuditLog.entity_id == dossier.id,
        AuditLog.actor_name == "motcua")) == 1

    slip = browser.get(f"/dossiers/{code}/refusal.pdf")
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    slip_text = pdf_text(slip.data)
    for expected in ("PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ", f"{code}/TCHS", "Nguyễn Thị Hoa",
                     "Đăng ký khai sinh", "Luật Hộ tịch số 60/2014/QH13",
                     "Thủ tục không thuộc thẩm quyền của UBND phường",
                     "Người nộp không có quyền yêu cầu", "NGƯỜI TIẾP NHẬN HỒ SƠ"):
        assert expected in slip_text, expected
    # The next dossier received that day takes the next number.
    page = text(post_form(browser, "/dossiers/receive", applicant(in_force)))
    assert 'id="dossier-code">TP-A-261125-0002<' in page


def test_refusal_needs_reasons(app, in_force, desk):
    response = post_form(browser_as(app, "motcua"), "/dossiers/receive/refuse",
                         applicant(in_force, missing=""), token_from="/dossiers/receive")
    assert response.status_code == 400
    assert "Hãy ghi nội dung cần bổ sung hoặc lý do từ chối." in text(response)
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0
    with pytest.raises(ValidationError):
        dossiers.refuse_dossier(actor=desk["onestop"], procedure=in_force, applicant_name="A",
                                reasons="\n \n", now=WHEN)


def test_the_refusal_slip_exists_only_for_refused_dossiers(app, in_force, desk):
    received, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                 applicant_name="Trần Văn Nam", now=WHEN)
    refused = dossiers.refuse_dossier(actor=desk["onestop"], procedure=in_force,
                                      applicant_name="Lê Thị Lan", reasons="Sai thẩm quyền", now=WHEN)
    db.session.commit()
    desk_browser = browser_as(app, "motcua")
    assert desk_browser.get(f"/dossiers/{received.code}/refusal.pdf").status_code == 404
    assert desk_browser.get(f"/dossiers/{refused.code}/refusal.pdf").status_code == 200
    # Another department never handled it: it does not read the citizen's dossier.
    assert browser_as(app, "vanhoa").get(f"/dossiers/{refused.code}/refusal.pdf").status_code == 403


def test_only_one_stop_officers_guide_or_refuse(app, in_force, desk):
    culture = browser_as(app, "vanhoa")
    for url in ("/dossiers/receive/guidance", "/dossiers/receive/refuse"):
        response = post_form(culture, url, applicant(in_force, missing=MISSING), token_from="/")
        assert response.status_code == 403, url
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0
    assert not db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "dossier.guidance_issued")).all()
    with pytest.raises(Forbidden):
        dossiers.refuse_dossier(actor=desk["culture"], procedure=in_force, applicant_name="A",
                                reasons="Sai thẩm quyền", now=WHEN)
    with pytest.raises(Forbidden):
        dossiers.issue_guidance(actor=desk["culture"], procedure=in_force, applicant_name="A",
                                missing="Tờ khai", now=WHEN)
