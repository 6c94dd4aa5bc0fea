"""A citizen lost the receipt: the officer reprints it from the dossier's page with a new
lookup code, and the citizen's lookup takes the new code and refuses the old one (issue 15,
item 5) — in a browser."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from qms.services import dossiers
from tests.browser.test_login_flow import log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_a_lost_receipt_is_reprinted_with_a_new_code(page, in_force, desk):  # noqa: F811
    dossier, old = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                            applicant_name="Nguyễn Thị Hoa", now=at(2026, 11, 23, 9, 0))
    db.session.commit()
    with clock.frozen(at(2026, 11, 24, 9, 0)):
        log_in(page, "motcua")
        page.goto(f"/dossiers/{dossier.code}")
        page.locator("#reissue-receipt [type=submit]").click()
        expect(page.locator("#reissued")).to_be_visible()
        expect(page.locator("#dossier-code")).to_have_text(dossier.code)
        expect(page.locator("#receipt-pdf")).to_be_visible()
        new = page.locator("#lookup-secret").inner_text().strip()
        assert new and new != old
        page.context.clear_cookies()
        for secret, answer in ((old, "Không tìm thấy hồ sơ."), (new, "Đăng ký khai sinh")):
            page.goto("/tra-cuu")
            form = page.locator("#lookup-form")
            form.locator("#code").fill(dossier.code)
            form.locator("#secret").fill(secret)
            form.locator("[type=submit]").click()
            expect(page.locator("#lookup-result")).to_contain_text(answer)
