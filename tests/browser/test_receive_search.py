"""At the desk, in a browser: find the procedure by typing part of its name, tick the
components received, receive; the receipt page follows (issue 15, item 7)."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from tests.browser.test_login_flow import go_to, log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force  # noqa: F401  (fixtures)
from tests.dossiers.test_receive_picking import marriage

pytestmark = pytest.mark.browser


def test_the_desk_searches_picks_and_ticks(page, in_force, desk, staff):  # noqa: F811
    marriage(in_force.field, staff)
    db.session.commit()
    with clock.frozen(at(2026, 11, 24, 9, 0)):
        log_in(page, "motcua")
        go_to(page, "Hồ sơ", "Tiếp nhận hồ sơ")
        page.locator("#q").fill("ket hon")
        page.locator("#procedure-search [type=submit]").click()
        expect(page.locator("#procedure-matches")).to_contain_text("1 thủ tục khớp")
        expect(page.locator("#procedure_id option")).to_have_count(1)
        components = page.locator("#receive-components")
        components.get_by_label("Tờ khai đăng ký kết hôn").check()
        expect(components.get_by_label("Giấy xác nhận tình trạng hôn nhân")).not_to_be_checked()
        form = page.locator("#receive-form")
        form.locator("#applicant_name").fill("Vũ Thị Cưới")
        form.locator("#receive-submit").click()
        expect(page.locator("#dossier-code")).to_be_visible()
        expect(page.locator("#receipt")).to_contain_text("Đăng ký kết hôn")
