"""The desk and the departments through the pages, and the citizen's lookup."""
import re

import pytest
import sqlalchemy as sa

from qms import clock
from qms.extensions import db
from qms.models import Dossier
from qms.services import dossiers
from tests.conftest import browser_as, post_form
from tests.dossiers.conftest import at
from tests.web.conftest import text


@pytest.fixture
def friday_afternoon():
    with clock.frozen(at(2026, 11, 20, 14, 0)):
        yield


pytestmark = pytest.mark.usefixtures("friday_afternoon")


def test_a_dossier_is_received_worked_and_looked_up(app, in_force, desk, orgtree):
    desk_browser = browser_as(app, "motcua")
    page = text(post_form(desk_browser, "/dossiers/receive", {
        "procedure_id": in_force.id, "applicant_name": "Nguyễn Thị Hoa", "channel": "direct",
        "applicant_phone": "0901234567"}))
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    secret = re.search(r'id="lookup-secret">([^<]+)<', page).group(1)
    assert code == "TP-A-261120-0001" and len(secret) == 8
    assert "20/11/2026 17:00" in page  # same-day procedure received before 15:00

    assert code in text(desk_browser.get("/dossiers/queue"))
    culture = browser_as(app, "vanhoa")
    assert culture.get(f"/dossiers/{code}").status_code == 403  # not theirs yet
    post_form(desk_browser, f"/dossiers/{code}/steps/1/complete",
              {"note": "Đủ thành phần", "next_department_id": orgtree["culture"].id},
              token_from=f"/dossiers/{code}")
    assert code in text(culture.get("/dossiers/queue"))
    assert code not in text(desk_browser.get("/dossiers/queue"))
    response = post_form(culture, f"/dossiers/{code}/steps/2/complete",
                         {"next_department_id": orgtree["office"].id}, token_from=f"/dossiers/{code}")
    assert response.status_code == 302
    office = browser_as(app, "vanphong")
    post_form(office, f"/dossiers/{code}/steps/3/complete", {}, token_from=f"/dossiers/{code}")
    post_form(desk_browser, f"/dossiers/{code}/steps/4/complete", {}, token_from=f"/dossiers/{code}")
    dossier = db.session.query(Dossier).one()
    assert dossier.status.value == "processed"
    page = text(desk_browser.get(f"/dossiers/{code}"))
    assert "Đã giải quyết xong" in page and "Đúng hạn" in page and "Đã trả kết quả cho người nộp" in page
    # Another department cannot record the return; the receiving desk can, and how.
    assert "Đã trả kết quả cho người nộp" not in text(office.get(f"/dossiers/{code}"))
    post_form(desk_browser, f"/dossiers/{code}/return", {"return-via": "postal", "return-note": "Vận đơn 123"},
              token_from=f"/dossiers/{code}")
    db.session.expire_all()
    dossier = db.session.query(Dossier).one()
    assert (dossier.status.value, dossier.returned_via.value) == ("returned", "postal")
    page = text(desk_browser.get(f"/dossiers/{code}"))
    assert "Đã trả kết quả" in page and "Qua dịch vụ bưu chính công ích" in page and "Vận đơn 123" in page

    citizen = app.test_client()
    result = text(post_form(citizen, "/tra-cuu", {"code": code.lower(), "secret": secret}))
    assert "Đã trả kết quả" in result and "Nguyễn Thị Hoa" not in result and "0901234567" not in result
    wrong = text(post_form(citizen, "/tra-cuu", {"code": code, "secret": "ABCDEFGH"}))
    assert "Không tìm thấy hồ sơ." in wrong and "Đăng ký khai sinh" not in wrong


def test_completing_someone_elses_step_is_refused_with_a_message(app, in_force, desk, orgtree):
    desk_browser = browser_as(app, "motcua")
    page = text(post_form(desk_browser, "/dossiers/receive", {
        "procedure_id": in_force.id, "applicant_name": "Trần Văn Nam", "channel": "online"}))
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    post_form(desk_browser, f"/dossiers/{code}/steps/1/complete",
              {"next_department_id": orgtree["culture"].id}, token_from=f"/dossiers/{code}")
    # The one-stop officer can read the dossier but step 2 belongs to the culture department.
    response = post_form(desk_browser, f"/dossiers/{code}/steps/2/complete",
                         {"next_department_id": orgtree["office"].id}, token_from=f"/dossiers/{code}")
    assert "Bước này thuộc phòng khác." in text(desk_browser.get(response.location))


def test_only_one_stop_officers_open_the_receiving_desk(app, in_force, desk):
    assert browser_as(app, "vanhoa").get("/dossiers/receive").status_code == 403
    assert browser_as(app, "motcua").get("/dossiers/receive").status_code == 200


def test_the_lookup_is_rate_limited(app, in_force, desk):
    citizen = app.test_client()
    for _ in range(20):
        post_form(citizen, "/tra-cuu", {"code": "X", "secret": "Y"})
    assert post_form(citizen, "/tra-cuu", {"code": "X", "secret": "Y"}).status_code == 429


def test_receipt_and_control_slips_print_in_vietnamese(app, in_force, desk, orgtree):
    import base64
    import io

    from pypdf import PdfReader

    def pdf_text(data):
        return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())

    desk_browser = browser_as(app, "motcua")
    page = post_form(desk_browser, "/dossiers/receive", {
        "procedure_id": in_force.id, "applicant_name": "Nguyễn Thị Hoa", "channel": "direct"}
    ).get_data(as_text=True)
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    secret = re.search(r'id="lookup-secret">([^<]+)<', page).group(1)
    receipt = base64.b64decode(re.search(r'data:application/pdf;base64,([^"]+)"', page).group(1))
    text_ = pdf_text(receipt)
    for expected in ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", code, secret, "Nguyễn Thị Hoa",
                     "Đăng ký khai sinh", "Tờ khai đăng ký khai sinh", "17 giờ 00 phút, ngày 20/11/2026"):
        assert expected in text_, expected
    post_form(desk_browser, f"/dossiers/{code}/steps/1/complete",
              {"next_department_id": orgtree["culture"].id}, token_from=f"/dossiers/{code}")
    with clock.frozen(at(2026, 11, 25, 9, 0)):  # the review, due 23/11 8:00, comes back late
        culture = browser_as(app, "vanhoa")
        post_form(culture, f"/dossiers/{code}/steps/2/complete",
                  {"next_department_id": orgtree["office"].id, "note": "Chờ xác minh"},
                  token_from=f"/dossiers/{code}")
    slip = desk_browser.get(f"/dossiers/{code}/control-slip.pdf")
    assert slip.mimetype == "application/pdf"
    text_ = pdf_text(slip.data)
    for expected in ("PHIẾU KIỂM SOÁT QUÁ TRÌNH GIẢI QUYẾT HỒ SƠ", code, "Phòng Văn hóa - Xã hội",
                     "Đúng hạn", "Quá hạn", "Chờ xác minh"):
        assert expected in text_, expected
    assert browser_as(app, "vanphong").get(f"/dossiers/{code}/control-slip.pdf").status_code == 200
    assert app.test_client().get(f"/dossiers/{code}/control-slip.pdf").status_code == 302


def test_a_dossier_page_reads_the_work_calendar_once(app, in_force, desk, orgtree):
    """A page with many steps reads the agency's calendar at most once a request (each step's
    timeliness needs only local dates; due times need the calendar, read once)."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                applicant_name="Trần Văn Bình",
                                                now=at(2026, 11, 20, 8, 0))
    hands = [(desk["onestop"], orgtree["culture"]), (desk["culture"], orgtree["office"]),
             (desk["office"], None), (desk["onestop"], None)]
    for minutes, (actor, next_department) in enumerate(hands):
        step = next(s for s in dossier.steps if s.completed_at is None)
        dossiers.complete_step(step, actor=actor, now=at(2026, 11, 20, 9, minutes),
                               next_department=next_department)
    db.session.commit()
    assert dossier.status.value == "processed" and len(dossier.steps) == 4
    browser = browser_as(app, "motcua")
    calendar_reads = []

    def count(_conn, _cursor, statement, *_args):
        if "FROM calendar_override" in statement:
            calendar_reads.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        page = browser.get(f"/dossiers/{dossier.code}")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert page.status_code == 200 and "Đúng hạn" in text(page)
    assert len(calendar_reads) <= 1


def _received_page(app, in_force, name):
    desk_browser = browser_as(app, "motcua")
    response = post_form(desk_browser, "/dossiers/receive", {
        "procedure_id": in_force.id, "applicant_name": name, "channel": "direct"})
    return desk_browser, response


def test_a_name_the_fonts_cannot_draw_prints_on_the_receipt_and_control_slip(app, in_force, desk):
    """Chinese, Korean, Thai, full-width Latin and emoji in an applicant's name: the receipt
    and, for good, the control slip print (U+FFFD for what no embedded font draws)."""
    import base64

    from tests.documents.test_pdf import pdf_text

    desk_browser, response = _received_page(app, in_force, "李明 김민준 สมชาย Ｎｇｕｙễｎ 😀👍🏽")
    page = text(response)
    assert response.status_code == 200
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    receipt = base64.b64decode(re.search(r'data:application/pdf;base64,([^"]+)"', page).group(1))
    content = pdf_text(receipt)
    assert "Nguyễn" in content and "\ufffd" in content and "李" not in content
    slip = desk_browser.get(f"/dossiers/{code}/control-slip.pdf")
    assert slip.status_code == 200 and "Nguyễn" in pdf_text(slip.data)


def test_the_receipt_page_shows_code_and_secret_even_if_its_pdf_fails(app, in_force, desk, monkeypatch):
    """The dossier is committed before its receipt is drawn: a failing PDF must not turn the
    page into an error that loses the one-time lookup secret (and invites a duplicate)."""
    from qms.reports import pdf

    def broken(html):
        raise pdf.PdfError("simulated failure")

    monkeypatch.setattr(pdf, "html_to_pdf", broken)
    _desk, response = _received_page(app, in_force, "Nguyễn Thị Hoa")
    page = text(response)
    assert response.status_code == 200
    code = re.search(r'id="dossier-code">([^<]+)<', page).group(1)
    secret = re.search(r'id="lookup-secret">([^<]+)<', page).group(1)
    assert 'id="receipt-failed"' in page and 'id="receipt-pdf"' not in page
    dossier = db.session.scalar(sa.select(Dossier).where(Dossier.code == code))
    assert dossier is not None and dossiers.find_for_lookup(code, secret) == dossier


def test_the_queue_page_comes_in_pages(app, in_force, desk, monkeypatch):
    monkeypatch.setitem(app.config, "PAGE_SIZE", 2)
    codes = [dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force, applicant_name=f"Người {i}",
                                      now=clock.now())[0].code for i in range(5)]
    db.session.commit()
    desk_browser = browser_as(app, "motcua")
    pages = [text(desk_browser.get(f"/dossiers/queue?page={n}")) for n in (1, 2, 3)]
    assert 'id="queue-total">5 bước<' in pages[0]
    shown = [[code for code in codes if code in page] for page in pages]
    assert [len(found) for found in shown] == [2, 2, 1]  # each step once, on one page
    assert "page=2" in pages[0]  # the pager links on
