"""The register marks open dossiers past their due date as overdue and its filter finds them
(issue 15, item 6) — in a browser, as the one-stop officer on Tuesday 1/12/2026."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from qms.models import Dossier
from qms.services import dossiers
from tests.browser.test_login_flow import go_to, log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)
from tests.dossiers.test_register import book  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def test_the_register_filters_the_overdue_dossiers(page, book, desk):  # noqa: F811
    waiting = db.session.scalar(sa.select(Dossier).where(Dossier.code == book["in_progress"]))
    dossiers.request_supplement(waiting, actor=desk["culture"], reason="Thiếu giấy chứng sinh",
                                now=at(2026, 11, 26, 10, 0))
    db.session.commit()
    with clock.frozen(at(2026, 12, 1, 9, 0)):
        log_in(page, "motcua")
        go_to(page, "Hồ sơ", "Sổ theo dõi hồ sơ")
        row = page.locator("#register tbody tr", has_text=book["online"])
        expect(row).to_contain_text("Đang giải quyết quá hạn")
        expect(page.locator("#register tbody tr", has_text=book["in_progress"])).to_contain_text("Tạm dừng")
        page.locator("#timeliness").select_option(label="Đang giải quyết quá hạn")
        page.locator("#register-filter [type=submit]").click()
        expect(page.locator("#register-total")).to_have_text("2 hồ sơ")
        expect(page.locator("#register tbody")).to_contain_text(book["online"])
        expect(page.locator("#register tbody")).to_contain_text(book["marriage"])
        expect(page.locator("#register tbody")).not_to_contain_text(book["after_midnight"])
