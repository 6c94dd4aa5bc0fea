"""The monthly review pages: who reads which department's month, the head saves and signs,
the signed page shows the snapshot and any later difference; the PDF and XLSX reports."""
from __future__ import annotations

import io
import logging

import pytest
from openpyxl import load_workbook

from qms import clock
from qms.extensions import db
from qms.models import MonthlyReview, MonthlyReviewStatus, Role
from qms.services import dossiers
from qms.services import monthly_reviews as reviews
from tests.conftest import login, post_form
from tests.documents.test_pdf import pdf_text
from tests.reviews.dataset import READ_AT, at
from tests.web.conftest import flashes, table_rows, text

PAGE = "/reviews/monthly/A-MC/2026-11"


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen(READ_AT):
        yield


@pytest.fixture
def browser(app):
    def make(username):
        client = app.test_client()
        assert login(client, username).status_code == 302
        return client
    return make


def figure(response, key) -> str:
    """A figure of the page's dossier table (its rows follow DOSSIER_LABELS)."""
    rows = table_rows(response, "dossier-figures")
    return rows[list(reviews.DOSSIER_LABELS).index(key)][1]


def test_each_role_reads_the_departments_it_may(app, november, browser, staff, make_user, orgtree):
    make_user("danhgia", Role.auditor, department=orgtree["office"])
    make_user("quantri", Role.admin, department=orgtree["office"])
    for who in ("truongmotcua", "motcua", "quality", "leader", "danhgia", "quantri"):
        assert browser(who).get(PAGE).status_code == 200, who
    for who in ("truongvanhoa", "vanhoa", "vanphong"):  # another department's head or officers
        assert browser(who).get(PAGE).status_code == 403, who
    assert browser("truongvanhoa").get("/reviews/monthly/A-VHXH/2026-11").status_code == 200
    assert app.test_client().get(PAGE).location.startswith("/auth/login")


@pytest.mark.parametrize("url", ["/reviews/monthly/A-MC/2026-13", "/reviews/monthly/A-MC/thang-11",
                                 "/reviews/monthly/A-MC/2027-01", "/reviews/monthly/KHONG-CO/2026-11",
                                 "/reviews/monthly/A-MC/2027-01/report.pdf"])
def test_bad_department_or_month_is_not_found(november, browser, url):
    response = browser("truongmotcua").get(url)
    assert response.status_code == 404 and "Traceback" not in text(response)


def test_the_page_agrees_with_the_dossier_list(november, browser):
    response = browser("truongmotcua").get(PAGE)
    page = text(response)
    assert figure(response, "received") == "8" and figure(response, "late") == "1"
    assert figure(response, "on_time_rate") == "80,00" and figure(response, "progress_766") == "14,29"
    late = table_rows(response, "late-dossiers")
    d = november["dossiers"]
    assert [row[1] for row in late] == [d["C"].code, d["H"].code]
    assert f'href="/dossiers/{d["C"].code}"' in page
    steps = table_rows(response, "step-rows")  # the one-stop office's own steps, none late
    assert [(row[1], row[3]) for row in steps] == [("1. Tiếp nhận, kiểm tra hồ sơ", "0"),
                                                   ("4. Trả kết quả", "0")]
    assert 'id="sign-review"' in page and "tháng chưa kết thúc" not in page


def test_an_officer_reads_without_the_form(november, browser):
    page = text(browser("motcua").get(PAGE))
    assert 'id="review-form"' not in page and 'id="review-text"' in page


def test_the_head_saves_then_signs_and_the_page_freezes(november, browser):
    head = browser("truongmotcua")
    response = post_form(head, PAGE + "/save", {"comments": "Hồ sơ C chậm ở khâu thẩm tra.",
                                                "actions": "Phân công người ký thay."}, token_from=PAGE)
    assert response.status_code == 302 and response.location == PAGE
    review = db.session.query(MonthlyReview).one()
    assert review.status is MonthlyReviewStatus.open and review.comments == "Hồ sơ C chậm ở khâu thẩm tra."
    response = post_form(head, PAGE + "/sign", {"comments": "Hồ sơ C chậm ở khâu thẩm tra.",
                                                "actions": "Phân công người ký thay."}, token_from=PAGE)
    page = head.get(response.location)
    assert "Đã ký xem xét tháng 11/2026" in flashes(page)[0]
    body = text(page)
    assert "Đã ký: Truongmotcua" in body and 'id="review-form"' not in body
    assert "Phân công người ký thay." in body
    # a record of November changes after signing: the page keeps the signed figures and
    # shows the difference
    dossiers.withdraw(november["dossiers"]["I"], actor=november["people"]["onestop"],
                      reason="Ghi bổ sung", now=at(30, 11, 16))
    db.session.commit()
    page = head.get(PAGE)
    assert figure(page, "withdrawn") == "1"  # the signed figure
    body = text(page)
    assert "Hồ sơ đã thay đổi sau khi ký" in body
    changed = table_rows(page, "difference-rows")
    assert ["Công dân rút hồ sơ", "1", "2"] in changed and ["— trong hạn", "1", "0"] in changed
    # signing again or editing is refused with a message
    response = post_form(head, PAGE + "/save", {"comments": "Sửa", "actions": ""}, token_from=PAGE)
    assert "đã ký" in flashes(head.get(response.location))[0]


@pytest.mark.parametrize("who", ["motcua", "quality", "leader", "truongvanhoa"])
def test_only_the_head_may_post(november, browser, staff, who):
    client = browser(who)
    token_page = "/reviews/monthly" if who == "truongvanhoa" else PAGE
    for action in ("save", "sign"):
        response = post_form(client, f"{PAGE}/{action}", {"comments": "x", "actions": ""},
                             token_from=token_page)
        assert response.status_code == 403, (who, action)
    assert db.session.query(MonthlyReview).count() == 0


def test_leaders_overview_ranks_and_reminds(november, browser, staff):
    page = browser("leader").get("/reviews/monthly?month=2026-11")
    assert page.status_code == 200
    status = table_rows(page, "department-status")
    assert [row[0].split(" — ")[0] for row in status] == ["A-MC", "A-VHXH", "A-VP", "TP-TT"]
    assert all("Chưa mở" in row[1] for row in status)
    ranking = table_rows(page, "department-ranking")
    assert [row[1] for row in ranking][:3] == ["Bộ phận một cửa", "Văn phòng UBND", "Phòng Văn hóa - Xã hội"]
    assert "Phường An Hòa" in table_rows(page, "agency-ranking")[0][1]
    assert "tháng 11/2026" in text(page)  # in the reminders
    bad = browser("leader").get("/reviews/monthly?month=2026-99")
    assert bad.status_code == 400 and "Tháng không hợp lệ" in text(bad)


def test_a_head_sees_their_months(november, browser):
    page = browser("truongmotcua").get("/reviews/monthly")
    rows = table_rows(page, "my-months")
    assert rows[0][0] == "12/2026" and rows[1][0] == "11/2026" and len(rows) == 12
    assert "tháng đã kết thúc, chưa ký" in rows[1][1]


def test_pdf_report_text(november, browser, caplog):
    head = browser("truongmotcua")
    post_form(head, PAGE + "/sign", {"comments": "Nhận xét tháng mười một.", "actions": "Đôn đốc."},
              token_from=PAGE)
    with caplog.at_level(logging.WARNING, logger="xhtml2pdf"):
        response = head.get(PAGE + "/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert not [r for r in caplog.records if "can draw" in r.getMessage()]
    content = " ".join(pdf_text(response.data).split())
    d = november["dossiers"]
    for expected in ("BÁO CÁO XEM XÉT TUÂN THỦ THÁNG 11/2026", "BỘ PHẬN MỘT CỬA", "PHƯỜNG AN HÒA",
                     "Tỷ lệ giải quyết đúng hạn", "80,00", "14,29", "Quyết định 766/QĐ-TTg",
                     d["C"].code, d["H"].code, "giải quyết quá hạn", "đang quá hạn", "1.001193 Đăng ký khai sinh",
                     "1. Tiếp nhận, kiểm tra hồ sơ", "Đang giải quyết quá hạn", "Nhận xét tháng mười một.", "TRƯỞNG PHÒNG",
                     "Đã ký trên hệ thống lúc 10:00 05/12/2026", "Truongmotcua", "Trang 1 /"):
        assert expected in content, expected


def test_a_comment_the_fonts_cannot_draw_still_prints(november, browser, caplog):
    """A signed review is frozen: text the embedded fonts lack (Thai, Chinese, full-width
    Latin) must not make its PDF fail for good. Full-width letters print as their Latin
    form, the rest as U+FFFD, and the replacement is logged."""
    head = browser("truongmotcua")
    post_form(head, PAGE + "/sign", {"comments": "Ý kiến: สวัสดี 你好 ＯＫ.", "actions": "Đôn đốc."},
              token_from=PAGE)
    with caplog.at_level(logging.WARNING):
        response = head.get(PAGE + "/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    content = " ".join(pdf_text(response.data).split())
    assert "Ý kiến:" in content and "OK." in content and "\ufffd" in content
    assert "สวัสดี" not in content and "你好" not in content
    assert any("no embedded font draws" in r.getMessage() for r in caplog.records)


def test_xlsx_report_escapes_formulas(november, browser, three_days, orgtree):
    # a late dossier whose applicant's name starts with "=": a formula if written as is
    evil, _secret = dossiers.receive_dossier(actor=november["people"]["onestop"], procedure=three_days,
                                             applicant_name='=HYPERLINK("http://x","Bấm")',
                                             now=at(2, 11, 8))
    dossiers.complete_step(evil.steps[0], actor=november["people"]["onestop"], now=at(2, 11, 8, 30),
                           next_department=orgtree["culture"])
    db.session.commit()
    response = browser("truongmotcua").get(PAGE + "/report.xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["Tổng hợp", "Hồ sơ trễ hạn", "Các bước xử lý"]
    late = [row for row in book["Hồ sơ trễ hạn"].iter_rows(values_only=True)]
    names = [row[4] for row in late[1:]]
    assert "'=HYPERLINK(\"http://x\",\"Bấm\")" in names
    assert all(cell.data_type != "f" for row in book["Hồ sơ trễ hạn"].iter_rows() for cell in row)
    summary = {row[0]: row[1] for row in book["Tổng hợp"].iter_rows(values_only=True) if row and row[0]}
    assert summary["Hồ sơ tiếp nhận trong tháng"] == 9 and summary["Tỷ lệ giải quyết đúng hạn (%)"] == 80.0


def test_long_lists_are_cut_in_the_pdf_and_whole_in_the_spreadsheet(november, browser, monkeypatch):
    """The PDF prints the first rows of each list (it must render in seconds) and says where
    the rest is; the spreadsheet has every row."""
    from qms.reports import monthly

    monkeypatch.setattr(monthly, "PDF_LIST_LIMIT", 1)
    head = browser("truongmotcua")
    content = " ".join(pdf_text(head.get(PAGE + "/report.pdf").data).split())
    d = november["dossiers"]
    assert d["C"].code in content and d["H"].code not in content
    assert "In 1 hồ sơ đầu trong số 2; danh sách đầy đủ trong bảng tính XLSX" in content
    book = load_workbook(io.BytesIO(head.get(PAGE + "/report.xlsx").data))
    codes = [row[1] for row in book["Hồ sơ trễ hạn"].iter_rows(min_row=2, values_only=True)]
    assert codes == [d["C"].code, d["H"].code]
