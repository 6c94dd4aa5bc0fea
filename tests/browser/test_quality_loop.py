"""The ISO improvement loop in a browser, as its people walk it for the first time: the
quality officer opens the year's audit programme; the lead auditor (of the office) plans an
audit of the culture department in it, as its lead (the form fixes the lead to them) —
first ticking their own department too, which the independence rule refuses on the form —
then starts it, fills the checklist and records a minor nonconformity from a line; the
culture department's head answers it with a corrective action (CAR): correction, 5 whys,
root cause, an action with its evidence; the quality officer, the designated verifier,
finds it effective, which closes the CAR and the nonconformity; the lead auditor reports
and closes the audit and downloads the audit report and the CAR report, both reading in
Vietnamese.

The quality officer keeps the programmes (authz "audits.manage"); an auditor plans
the audits they lead (authz "audits.plan"), as the issue's "Done when" has it."""
from __future__ import annotations

import io
import re

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from qms import clock
from qms.extensions import db
from qms.models import Role
from qms.services import accounts
from tests.browser.test_dossier_flow import choose
from tests.browser.test_login_flow import _screenshot, go_to, log_in
from tests.conftest import PASSWORD
from tests.dossiers.conftest import at

pytestmark = pytest.mark.browser

PDF_TIMEOUT = 120_000  # ms: xhtml2pdf renders the report while the reader waits (slow when busy)


@pytest.fixture
def people(orgtree):
    """A quality officer and a lead auditor of the ward's office, the culture department's
    head: Vietnamese names, so the PDFs print them."""
    def person(username, full_name, role, department):
        return accounts.create_user(actor=None, username=username, full_name=full_name, password=PASSWORD,
                                    department=orgtree[department], roles={role})

    people = {"quality": person("canboiso", "Trần Thị Thu", Role.quality_officer, "office"),
              "lead": person("truongdoan", "Lê Văn Đức", Role.auditor, "office"),
              "head": person("truongvanhoa", "Phạm Thị Hồng", Role.department_head, "culture"),
              "officer": person("canbovanhoa", "Đỗ Văn Nam", Role.officer, "culture"),
              "elsewhere": person("canbovanphong", "Vũ Thị Lan", Role.officer, "office")}
    db.session.commit()
    return people


def switch_user(page, username: str) -> None:
    page.context.clear_cookies()
    log_in(page, username)
    expect(page.locator("#role-nav")).to_be_visible()


def flash(page, text: str) -> None:
    expect(page.locator(".alert-success")).to_contain_text(text)


def open_details(container, summary_text: str) -> None:
    container.locator("summary", has_text=summary_text).click()


def download_pdf(page, link: str) -> tuple[str, bytes]:
    """The PDF behind a link of the page, fetched with the reader's session (Chromium shows a
    PDF inline rather than downloading it): its file name and bytes."""
    anchor = page.locator(link)
    expect(anchor).to_be_visible()
    response = page.request.get(anchor.get_attribute("href"), timeout=PDF_TIMEOUT)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    name = re.search(r'filename="?([^";]+)"?', response.headers["content-disposition"]).group(1)
    data = response.body()
    assert data.startswith(b"%PDF-")
    return name, data


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


def test_audit_finding_nonconformity_car_closed(page, people, orgtree):
    # --- 2/3/2026: the quality officer opens the programme ---------------------------------
    with clock.frozen(at(2026, 3, 2, 9, 0)):
        switch_user(page, "canboiso")
        go_to(page, "Chất lượng", "Đánh giá nội bộ")
        expect(page.locator("#no-programmes")).to_be_visible()
        page.locator("#new-programme").click()
        form = page.locator("#programme-form")
        expect(form.locator("#year")).to_have_value("2026")
        expect(form.locator("#agency_id option:checked")).to_contain_text("Phường An Hòa")
        form.locator("#title").fill("Chương trình đánh giá nội bộ năm 2026")
        form.locator("#objectives").fill("Đánh giá việc kiểm soát thông tin dạng văn bản")
        form.locator("[type=submit]").click()
        flash(page, "Đã lập chương trình đánh giá nội bộ năm 2026.")

    # --- 2/3, later: the lead auditor plans the audit in it ----------------------------------
    with clock.frozen(at(2026, 3, 2, 14, 0)):
        switch_user(page, "truongdoan")
        go_to(page, "Chất lượng", "Đánh giá nội bộ")
        expect(page.locator("#new-programme")).to_have_count(0)  # programmes are the quality officer's
        page.locator(".programme h2 a", has_text="Chương trình đánh giá nội bộ năm 2026").click()
        page.locator("#plan-audit").click()
        form = page.locator("#audit-form")
        expect(form.locator("#lead_auditor_id option")).to_have_count(1)  # the lead is fixed: themselves
        expect(form.locator("#lead_auditor_id option:checked")).to_contain_text("Lê Văn Đức")
        form.locator("#title").fill("Đánh giá Phòng Văn hóa - Xã hội")
        form.locator("#planned_start").fill("2026-03-04")
        form.locator("#planned_end").fill("2026-03-05")
        form.get_by_label("A-VHXH — Phòng Văn hóa - Xã hội").check()
        form.get_by_label("A-VP — Văn phòng UBND").check()  # their own department: refused
        form.locator("#clauses").select_option(["7.5.2", "7.5.3"])
        form.locator("#criteria").fill("TCVN ISO 9001:2015; Quy chế văn thư của UBND phường")
        form.locator("#audit-submit").click()
        expect(page.locator("#plan-error")).to_contain_text(
            "Chuyên gia đánh giá Lê Văn Đức thuộc Văn phòng UBND nên không được đánh giá chính phòng ban")
        form = page.locator("#audit-form")
        expect(form.locator("#title")).to_have_value("Đánh giá Phòng Văn hóa - Xã hội")  # what was typed is kept
        form.get_by_label("A-VP — Văn phòng UBND").uncheck()
        form.locator("#audit-submit").click()
        flash(page, "Đã lập kế hoạch cuộc đánh giá ĐG-2026-01.")
        expect(page.locator("#audit-status")).to_have_text("Đã lập kế hoạch")
        expect(page.locator("#audit-lead")).to_contain_text("Lê Văn Đức")
        expect(page.locator("#audit-scope")).to_contain_text("7.5.3 Kiểm soát thông tin dạng văn bản")
        expect(page.locator("#no-checklist")).to_be_visible()
        expect(page.locator("#edit-audit")).to_be_visible()  # theirs to edit while planned
        _screenshot(page, "quality-loop-1-planned")
        audit_url = re.sub(r"^https?://[^/]+", "", page.url).split("#")[0]

    # --- 4/3: the lead auditor runs the audit -------------------------------------------------
    with clock.frozen(at(2026, 3, 4, 8, 30)):
        go_to(page, "Chất lượng", "Đánh giá nội bộ")
        page.locator(".audits-table a", has_text="ĐG-2026-01").click()
        expect(page.locator("#audit-status")).to_have_text("Đã lập kế hoạch")
        page.locator("#start-form [type=submit]").click()
        flash(page, "Cuộc đánh giá ĐG-2026-01 đã bắt đầu; danh mục kiểm tra có 2 dòng.")
        expect(page.locator("#audit-status")).to_have_text("Đang đánh giá")
        expect(page.locator("#item-1")).to_contain_text("7.5.2")
        expect(page.locator("#item-2")).to_contain_text("Kiểm soát thông tin dạng văn bản")
        expect(page.locator("#item-2")).to_contain_text("Chưa đánh giá")

        line = page.locator("#item-1 + tr.answer-row")
        open_details(line, "Ghi kết quả dòng 1")
        line.locator("select[name=result]").select_option(label="Phù hợp")
        line.locator("textarea[name=evidence]").fill("Văn bản đi có số, ký hiệu, trích yếu đúng Nghị định 30/2020")
        line.locator(".answer-form [type=submit]").click()
        flash(page, "Đã ghi kết quả dòng 1.")
        expect(page.locator("#item-1")).to_contain_text("Phù hợp")
        expect(page.locator("#item-1")).to_contain_text("Nghị định 30/2020")
        expect(page.locator("#item-1")).to_contain_text("Lê Văn Đức")

        line = page.locator("#item-2 + tr.answer-row")
        open_details(line, "Ghi kết quả dòng 2")
        line.locator("select[name=result]").select_option(label="Không phù hợp")
        line.locator("textarea[name=evidence]").fill("3/10 hồ sơ lấy mẫu không có phiếu kiểm soát lưu trữ")
        line.locator(".answer-form [type=submit]").click()
        flash(page, "Đã ghi kết quả dòng 2.")
        expect(page.locator("#item-2")).to_contain_text("Không phù hợp")
        expect(page.locator("#item-2")).to_have_class(re.compile(r"\btable-danger\b"))

        line = page.locator("#item-2 + tr.answer-row")
        open_details(line, "Ghi nhận phát hiện từ dòng 2")
        expect(line.locator("select[name=kind] option:checked")).to_have_text("Không phù hợp nhẹ")
        expect(line.locator(".item-finding-form")).to_contain_text("Phòng Văn hóa - Xã hội")
        line.locator("textarea[name=description]").fill(
            "Hồ sơ lưu trữ của phòng không được kiểm soát theo quy định về thời hạn bảo quản")
        line.locator(".item-finding-form [type=submit]").click()
        flash(page, "Đã ghi nhận phát hiện và sự không phù hợp NC-2026-0001.")
        expect(page.locator("#findings-table")).to_contain_text("Không phù hợp nhẹ")
        expect(page.locator("#findings-table")).to_contain_text("dòng 2")
        nc_row = page.locator("#nc-table tbody tr").first
        expect(nc_row).to_contain_text("NC-2026-0001")
        expect(nc_row).to_contain_text("Nhẹ")
        expect(nc_row).to_contain_text("Chưa có CAR")

        _screenshot(page, "quality-loop-2-checklist")
        nc_row.locator("a", has_text="NC-2026-0001").click()
        expect(page.locator("#nc-status")).to_have_text("Mới ghi nhận")
        expect(page.locator("#nc-clause")).to_contain_text("7.5.3")
        expect(page.locator("#nc-department")).to_contain_text("A-VHXH")
        expect(page.locator("#nc-origin")).to_contain_text("ĐG-2026-01")
        expect(page.locator("#nc-car")).to_contain_text("Chưa có")

    # --- 5/3: the culture head answers with a CAR ----------------------------------------------
    with clock.frozen(at(2026, 3, 5, 14, 0)):
        switch_user(page, "truongvanhoa")
        go_to(page, "Chất lượng", "Hành động khắc phục")
        expect(page.locator("#car-open-form")).to_contain_text("NC-2026-0001")
        page.goto("/quality/nonconformities/NC-2026-0001")  # answered from the nonconformity itself
        opening = page.locator("#nc-open-car-form")
        expect(opening.locator("#owner_id option:checked")).to_contain_text("Phạm Thị Hồng")
        # every active head and officer of the department may be named responsible (issue 15)
        expect(opening.locator("#owner_id")).to_contain_text("Đỗ Văn Nam")
        expect(opening.locator("#owner_id")).not_to_contain_text("Vũ Thị Lan")
        opening.locator("[type=submit]").click()
        flash(page, "Đã lập phiếu hành động khắc phục CAR-2026-0001.")
        expect(page.locator("#car-status")).to_have_text("Đang phân tích nguyên nhân")
        expect(page.locator("#car-owner")).to_have_text("Phạm Thị Hồng")
        expect(page.locator("#car-ncs")).to_contain_text("Đang phân tích nguyên nhân")  # the NC moved too
        car_url = re.sub(r"^https?://[^/]+", "", page.url)
        assert car_url == "/quality/cars/CAR-2026-0001"

        analysis = page.locator("#car-analysis-form")
        expect(analysis).to_be_visible()  # opened at first: nothing analysed yet
        analysis.locator("#analysis-correction").fill("Đã lập phiếu kiểm soát cho 3 hồ sơ còn thiếu")
        whys = ["Hồ sơ không có phiếu kiểm soát lưu trữ",
                "Cán bộ không biết phải lập phiếu khi nộp lưu",
                "Quy trình lưu trữ của phòng không nêu bước lập phiếu",
                "Quy trình chưa được cập nhật theo Nghị định 30/2020",
                "Không ai được giao rà soát quy trình hằng năm"]
        for number, why in enumerate(whys):
            analysis.locator(f"#analysis-whys-{number}").fill(why)
        analysis.locator("#analysis-root_cause").fill("Chưa phân công người rà soát, cập nhật quy trình lưu trữ")
        analysis.locator("[type=submit]").click()
        flash(page, "Đã lưu phân tích nguyên nhân.")
        expect(page.locator("#car-whys li")).to_have_count(5)
        expect(page.locator("#car-root-cause")).to_have_text("Chưa phân công người rà soát, cập nhật quy trình lưu trữ")

        plan = page.locator("#car-plan-form")
        plan.locator("#plan-items-0-description").fill("Cập nhật quy trình lưu trữ, bổ sung bước lập phiếu kiểm soát")
        choose(page, "#plan-items-0-owner_id", "Phạm Thị Hồng")
        plan.locator("#plan-items-0-due_date").fill("2026-03-20")
        plan.locator("#plan-check_date").fill("2026-04-01")
        verifiers = plan.locator("#plan-verifier_id")
        expect(verifiers).not_to_contain_text("Phạm Thị Hồng")  # never the CAR's owner
        choose(page, "#plan-verifier_id", "Trần Thị Thu")
        plan.locator("[type=submit]").click()
        flash(page, "Đã lập kế hoạch hành động khắc phục.")
        expect(page.locator("#car-status")).to_have_text("Đang thực hiện hành động")
        expect(page.locator("#car-verifier")).to_have_text("Trần Thị Thu")
        expect(page.locator("#car-items")).to_contain_text("20/03/2026")

    with clock.frozen(at(2026, 3, 18, 10, 0)):
        page.goto(car_url)
        done = page.locator("#item-done-1")
        done.locator("textarea").fill("Quyết định 15/QĐ-VHXH ban hành quy trình lưu trữ sửa đổi")
        done.locator("[type=submit]").click()
        flash(page, "Đã ghi nhận hoàn thành hành động 1.")
        expect(page.locator("#car-status")).to_have_text("Chờ xác nhận hiệu lực")
        expect(page.locator("#car-items")).to_contain_text("Quyết định 15/QĐ-VHXH")
        expect(page.locator("#car-verify-form")).to_have_count(0)  # the owner never verifies
        _screenshot(page, "quality-loop-3-car-done")

    # --- 1/4: the quality officer verifies it effective -------------------------------------------
    with clock.frozen(at(2026, 4, 1, 9, 0)):
        switch_user(page, "canboiso")
        page.goto(car_url)
        verify = page.locator("#car-verify-form")
        verify.get_by_label("Có hiệu lực — đóng phiếu").check()
        verify.locator("#verify-note").fill("Kiểm tra 10 hồ sơ nộp lưu sau ngày 20/3: đủ phiếu kiểm soát")
        verify.locator("[type=submit]").click()
        flash(page, "Đã xác nhận hiệu lực; phiếu và các sự không phù hợp đã đóng.")
        expect(page.locator("#car-status")).to_have_text("Đã đóng")
        expect(page.locator("#car-verifications")).to_contain_text("Có hiệu lực")
        expect(page.locator("#car-verifications")).to_contain_text("Trần Thị Thu")
        expect(page.locator("#car-ncs")).to_contain_text("Đã đóng")
        page.goto("/quality/nonconformities/NC-2026-0001")
        expect(page.locator("#nc-status")).to_have_text("Đã đóng")
        expect(page.locator("#nc-car")).to_contain_text("CAR-2026-0001")

    # --- 2/4: the lead auditor reports and closes the audit, and prints both reports --------------
    with clock.frozen(at(2026, 4, 2, 15, 0)):
        switch_user(page, "truongdoan")
        page.goto(audit_url)
        expect(page.locator("#nc-table")).to_contain_text("CAR-2026-0001 · Đã đóng")
        page.locator("#report-form #summary").fill(
            "Hệ thống quản lý chất lượng của phòng được duy trì; 1 điểm không phù hợp nhẹ đã khắc phục.")
        page.locator("#report-form [type=submit]").click()
        flash(page, "Đã lập báo cáo cuộc đánh giá ĐG-2026-01.")
        expect(page.locator("#audit-status")).to_have_text("Đã báo cáo")
        expect(page.locator("#waiting-cars")).to_have_count(0)  # its nonconformity has its CAR
        page.locator("#close-form [type=submit]").click()
        flash(page, "Đã kết thúc cuộc đánh giá ĐG-2026-01.")
        expect(page.locator("#audit-status")).to_have_text("Đã kết thúc")
        expect(page.locator("#audit-summary")).to_contain_text("1 điểm không phù hợp nhẹ")

        _screenshot(page, "quality-loop-4-audit-closed")
        name, data = download_pdf(page, "#report-pdf")
        assert name == "bao-cao-danh-gia-dg-2026-01.pdf"
        report = pdf_text(data)
        for expected in ("BÁO CÁO ĐÁNH GIÁ NỘI BỘ", "ĐG-2026-01", "Đánh giá Phòng Văn hóa - Xã hội",
                         "PHƯỜNG AN HÒA", "Đã kết thúc", "A-VHXH — Phòng Văn hóa - Xã hội",
                         "7.5.2 Tạo lập và cập nhật", "7.5.3 Kiểm soát thông tin dạng văn bản",
                         "Lê Văn Đức", "Trưởng đoàn",
                         "Văn bản đi có số, ký hiệu, trích yếu đúng Nghị định 30/2020",
                         "3/10 hồ sơ lấy mẫu không có phiếu kiểm soát lưu trữ", "Phù hợp", "Không phù hợp",
                         "Không phù hợp nhẹ", "NC-2026-0001", "CAR-2026-0001 — Đã đóng",
                         "1 điểm không phù hợp nhẹ đã khắc phục", "TRƯỞNG ĐOÀN ĐÁNH GIÁ"):
            assert expected in report, expected

        page.locator("#nc-table a", has_text="CAR-2026-0001").click()
        expect(page.locator("#car-status")).to_have_text("Đã đóng")
        _screenshot(page, "quality-loop-5-car-closed")
        name, data = download_pdf(page, "#car-pdf")
        assert name == "phieu-khac-phuc-CAR-2026-0001.pdf"
        car = pdf_text(data)
        for expected in ("PHIẾU YÊU CẦU HÀNH ĐỘNG KHẮC PHỤC", "CAR-2026-0001", "Trạng thái: Đã đóng",
                         "PHÒNG VĂN HÓA - XÃ HỘI", "Phạm Thị Hồng", "NC-2026-0001", "7.5.3", "Nhẹ",
                         "Hồ sơ lưu trữ của phòng không được kiểm soát theo quy định về thời hạn bảo quản",
                         "Đã lập phiếu kiểm soát cho 3 hồ sơ còn thiếu",
                         "Tại sao 5? Không ai được giao rà soát quy trình hằng năm",
                         "Nguyên nhân gốc: Chưa phân công người rà soát, cập nhật quy trình lưu trữ",
                         "Cập nhật quy trình lưu trữ, bổ sung bước lập phiếu kiểm soát", "20/03/2026",
                         "Quyết định 15/QĐ-VHXH", "Người xác nhận hiệu lực: Trần Thị Thu", "Có hiệu lực",
                         "Kiểm tra 10 hồ sơ nộp lưu sau ngày 20/3: đủ phiếu kiểm soát"):
            assert expected in car, expected
