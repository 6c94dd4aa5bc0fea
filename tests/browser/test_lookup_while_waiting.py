"""The citizen's lookup says what a paused dossier waits for, and the department's queue
shows the date an apology promised (issue 15, items 10 and 12) — in a browser."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from qms.models import Role
from qms.services import dossiers
from tests.browser.test_login_flow import go_to, log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_the_lookup_and_the_queue_while_a_dossier_waits(page, three_days, desk, orgtree, make_user):  # noqa: F811
    head = make_user("truongvanhoa", Role.department_head, department=orgtree["culture"])
    waiting, secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                               applicant_name="Phan Văn Phú", now=at(2026, 11, 25, 8, 0))
    late, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                             applicant_name="Cao Thị Cúc", now=at(2026, 11, 25, 8, 5))
    for dossier in (waiting, late):
        dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 25, 8, 30),
                               next_department=orgtree["culture"])
    dossiers.request_supplement(waiting, actor=desk["culture"], reason="Bản chính Giấy chứng sinh",
                                now=at(2026, 11, 25, 10, 0))
    dossiers.apologise(late, actor=head, reason="Chờ xác minh", promised_at=at(2026, 12, 3, 17, 0),
                       now=at(2026, 11, 26, 9, 0))
    db.session.commit()
    with clock.frozen(at(2026, 11, 26, 10, 0)):
        page.goto("/tra-cuu")
        form = page.locator("#lookup-form")
        form.locator("#code").fill(waiting.code)
        form.locator("#secret").fill(secret)
        form.locator("[type=submit]").click()
        expect(page.locator("#lookup-pause")).to_contain_text("Bản chính Giấy chứng sinh")
        expect(page.locator("#lookup-result")).to_contain_text("Yêu cầu bổ sung, hoàn thiện hồ sơ")
        log_in(page, "vanhoa")
        go_to(page, "Hồ sơ", "Hồ sơ cần xử lý")
        expect(page.locator("tr", has_text=late.code)).to_contain_text("Hẹn lại: 03/12/2026 17:00")
