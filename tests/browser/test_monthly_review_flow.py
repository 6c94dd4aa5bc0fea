"""A department head reviews and signs November in a browser, then downloads the report;
the figures on the page agree with the dossier list."""
from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from qms import clock
from tests.browser.test_login_flow import go_to, log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.documents.test_pdf import pdf_text
from tests.dossiers.conftest import desk, in_force, three_days  # noqa: F401  (fixtures)
from tests.reviews.dataset import READ_AT, november  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_a_head_signs_the_month_and_downloads_the_report(page, november):  # noqa: F811
    d = november["dossiers"]
    refused = []  # what the Content-Security-Policy blocked (nothing may be)
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    with clock.frozen(READ_AT):
        log_in(page, "truongmotcua")
        go_to(page, "Chất lượng", "Giao ban tháng")
        row = page.locator("#my-months tbody tr", has_text="11/2026")
        expect(row).to_contain_text("chưa ký")
        row.get_by_role("link", name="11/2026").click()
        expect(page.locator("h1")).to_have_text("Xem xét tháng 11/2026")
        expect(page.locator('#dossier-figures tr[data-key="received"] td').nth(1)).to_have_text("8")
        expect(page.locator('#dossier-figures tr[data-key="on_time_rate"] td').nth(1)).to_have_text("80,00")
        expect(page.locator("#late-dossiers tbody tr")).to_have_count(2)
        # a late dossier's link opens the dossier
        page.locator("#late-dossiers").get_by_role("link", name=d["C"].code).click()
        expect(page).to_have_url(f"{page.url.split('/dossiers/')[0]}/dossiers/{d['C'].code}")
        page.go_back()
        page.locator("#comments").fill("Hồ sơ chậm ở khâu thẩm tra của phòng Văn hóa.")
        page.locator("#actions").fill("Phân công người ký thay khi lãnh đạo vắng.")
        # The question comes from static/qms.js (no inline script runs): declined, nothing is signed
        page.once("dialog", lambda dialog: dialog.dismiss())
        page.locator("#sign-review").click()
        expect(page.locator("#sign-review")).to_be_visible()
        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#sign-review").click()
        expect(page.locator(".alert-success")).to_contain_text("Đã ký xem xét tháng 11/2026")
        expect(page.locator("#review-status")).to_contain_text("Đã ký")
        expect(page.locator("#review-text")).to_contain_text("Phân công người ký thay")
        expect(page.locator("#sign-review")).to_have_count(0)
        pdf = page.request.get(page.locator("#report-pdf").get_attribute("href"))
        assert pdf.status == 200
        text = " ".join(pdf_text(pdf.body()).split())
        assert "Đã ký trên hệ thống lúc 10:00 05/12/2026" in text and d["C"].code in text
        xlsx = page.request.get(page.locator("#report-xlsx").get_attribute("href"))
        sheet = load_workbook(io.BytesIO(xlsx.body()))["Hồ sơ trễ hạn"]
        assert [r[1] for r in sheet.iter_rows(min_row=2, values_only=True)] == [d["C"].code, d["H"].code]
    assert refused == []
