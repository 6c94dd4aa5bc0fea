"""A dossier received on a Friday afternoon before a holiday, its steps completed by three
departments (one late), its control slip printed, and the citizen's lookup — in a browser."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qms import clock
from tests.browser.test_login_flow import go_to, log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def choose(page, select: str, text: str) -> None:
    """Pick the option of `select` whose label contains `text`."""
    page.locator(select).select_option(
        page.locator(f"{select} option", has_text=text).first.get_attribute("value"))


def complete_current_step(page, code, next_department: str | None = None, note: str = ""):
    page.goto(f"/dossiers/{code}")
    if note:
        page.locator("#note").fill(note)
    if next_department:
        choose(page, "#next_department_id", next_department)
    page.locator("#complete-submit").click()
    expect(page.locator(".alert-success")).to_contain_text("Đã hoàn thành bước")


def test_receive_work_print_and_look_up(page, three_days, desk, orgtree):  # noqa: F811
    with clock.frozen(at(2026, 2, 13, 16, 30)):  # Friday before Tết 2026
        log_in(page, "motcua")
        go_to(page, "Hồ sơ", "Tiếp nhận hồ sơ")  # the one-stop desk's entry of the menu
        choose(page, "#procedure_id", "Đăng ký khai sinh")
        page.locator("#applicant_name").fill("Nguyễn Thị Hoa")
        page.locator("#receive-submit").click()
        code = page.locator("#dossier-code").inner_text()
        secret = page.locator("#lookup-secret").inner_text()
        # 3 working days from 16:30 on Friday 13/2: Tết (16–20/2) and the weekend skipped.
        expect(page.locator("#due-at")).to_have_text("25/02/2026 16:30")
        expect(page.locator("#receipt-pdf")).to_be_visible()
        complete_current_step(page, code, "A-VHXH")
    page.context.clear_cookies()
    with clock.frozen(at(2026, 2, 25, 10, 0)):  # the review was due on 23/2: late
        log_in(page, "vanhoa")
        go_to(page, "Hồ sơ", "Hồ sơ cần xử lý")
        expect(page.locator("#queue")).to_contain_text(code)
        complete_current_step(page, code, "A-VP", note="Chờ xác minh thông tin")
        page.context.clear_cookies()
        log_in(page, "vanphong")
        complete_current_step(page, code)
        page.context.clear_cookies()
        log_in(page, "motcua")
        complete_current_step(page, code)
        # The result is ready at the desk (status 9): classified on this moment.
        expect(page.locator("#dossier-status")).to_contain_text("Đã giải quyết xong")
        expect(page.locator("#dossier-status")).to_contain_text("Đúng hạn")  # the dossier: on 25/2
        expect(page.locator("#dossier-steps tbody tr").nth(1)).to_contain_text("Quá hạn")
        slip = page.request.get(f"/dossiers/{code}/control-slip.pdf")
        assert slip.status == 200 and slip.headers["content-type"] == "application/pdf"
    page.context.clear_cookies()

    def look_up():
        page.goto("/tra-cuu")
        page.locator("#code").fill(code)
        page.locator("#secret").fill(secret)
        page.locator("#lookup-form [type=submit]").click()
        return page.locator("#lookup-result")

    expect(look_up()).to_contain_text("Mời ông/bà nhận kết quả")
    # The applicant collects it a week after the due date: the dossier stays on time.
    with clock.frozen(at(2026, 3, 4, 9, 0)):
        log_in(page, "motcua")
        page.goto(f"/dossiers/{code}")
        page.locator("#return-via").select_option("desk")
        page.locator("#action-return-result [type=submit]").click()
        expect(page.locator("#dossier-status")).to_contain_text("Đã trả kết quả")
        expect(page.locator("#dossier-status")).to_contain_text("Đúng hạn")
        expect(page.locator("#dossier-returned")).to_contain_text("04/03/2026 09:00")
    page.context.clear_cookies()
    result = look_up()
    expect(result).to_contain_text("Đã trả kết quả")
    expect(result).not_to_contain_text("Nguyễn Thị Hoa")
