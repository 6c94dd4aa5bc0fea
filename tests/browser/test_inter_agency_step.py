"""A step handled by another agency of the province (liên thông): the ward's officer hands
it to the province's construction department, whose officer finds it in the queue and
hands it back — in a browser."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from qms.models import Role
from qms.services import dossiers, org
from tests.browser.test_dossier_flow import choose
from tests.browser.test_login_flow import log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_a_step_goes_to_the_province_and_comes_back(page, three_days, desk, orgtree, make_user):  # noqa: F811
    construction = org.save_department(None, actor=None, code="TP-XD", name="Sở Xây dựng",
                                       agency=orgtree["province"])
    make_user("xaydung", Role.officer, department=construction)
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Chủ công trình", now=at(2026, 11, 23, 8, 0))
    db.session.commit()
    code = dossier.code
    with clock.frozen(at(2026, 11, 23, 9, 0)):
        log_in(page, "motcua")
        page.goto(f"/dossiers/{code}")
        choose(page, "#next_department_id", "Sở Xây dựng")
        page.locator("#complete-submit").click()
        expect(page.locator(".alert-success")).to_contain_text("Đã hoàn thành bước")
        expect(page.locator("#dossier-steps tbody tr").nth(1)).to_contain_text("Liên thông")
        expect(page.locator("#dossier-steps tbody tr").nth(1)).to_contain_text("Thành phố Thử Nghiệm")
    page.context.clear_cookies()
    with clock.frozen(at(2026, 11, 23, 14, 0)):
        log_in(page, "xaydung")
        page.goto("/dossiers/queue")
        expect(page.locator("#queue")).to_contain_text(code)
        page.goto(f"/dossiers/{code}")
        choose(page, "#next_department_id", "Văn phòng UBND")
        page.locator("#complete-submit").click()
        expect(page.locator(".alert-success")).to_contain_text("Đã hoàn thành bước")
        page.goto("/dossiers/queue")
        expect(page.locator("#queue")).not_to_contain_text(code)
    db.session.expire_all()
    sent = db.session.get(type(dossier), dossier.id).steps[1]
    assert (sent.handed_over_at, sent.completed_at) == (at(2026, 11, 23, 9, 0), at(2026, 11, 23, 14, 0))
