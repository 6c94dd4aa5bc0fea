"""A paused dossier shows why its step cannot be completed, not a form that would be refused
(issue 15, item 3) — in a browser."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from qms.services import dossiers
from tests.browser.test_login_flow import log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)
from tests.dossiers.test_why_not import at_culture

pytestmark = pytest.mark.browser


def test_a_paused_dossier_says_why_and_offers_no_completion(page, three_days, desk, orgtree):  # noqa: F811
    dossier = at_culture(three_days, desk, orgtree)
    dossiers.request_supplement(dossier, actor=desk["culture"], reason="Thiếu giấy chứng sinh",
                                now=at(2026, 11, 25, 10, 0))
    db.session.commit()
    with clock.frozen(at(2026, 11, 26, 9, 0)):
        log_in(page, "vanhoa")
        page.goto(f"/dossiers/{dossier.code}")
        expect(page.locator("#step-blocked")).to_contain_text("Hồ sơ đang tạm dừng")
        expect(page.locator("#complete-form")).to_have_count(0)
