"""A dossier submitted on the portal waits at the desk with its national code; the officer
accepts one (its time limit starts) and refuses another with the reason — in a browser."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from qms.services import dossiers
from tests.browser.test_login_flow import go_to, log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_the_desk_accepts_and_refuses_online_dossiers(page, three_days, desk):  # noqa: F811
    for code, name in (("G22.38-261125-0001", "Lê Văn Mạng"), ("G22.38-261125-0002", "Phan Thị Sai")):
        dossiers.register_online(actor=desk["onestop"], procedure=three_days, code=code, applicant_name=name,
                                 now=at(2026, 11, 24, 21, 0))
    db.session.commit()
    with clock.frozen(at(2026, 11, 25, 8, 0)):
        log_in(page, "motcua")
        go_to(page, "Hồ sơ", "Hồ sơ trực tuyến chờ tiếp nhận")
        expect(page.locator("#intake tbody tr")).to_have_count(2)
        page.locator("#intake-G22\\.38-261125-0001 .intake-accept").click()
        expect(page.locator(".alert-success")).to_contain_text("Đã tiếp nhận hồ sơ G22.38-261125-0001")
        expect(page.locator("#intake tbody tr")).to_have_count(1)
        row = page.locator("#intake-G22\\.38-261125-0002")
        row.locator(".intake-refuse summary").click()
        row.locator("textarea").fill("Thủ tục không thuộc thẩm quyền của phường")
        row.locator("button", has_text="Từ chối").click()
        expect(page.locator(".alert-success")).to_contain_text("Đã từ chối tiếp nhận hồ sơ G22.38-261125-0002")
        expect(page.locator("#intake")).to_contain_text("Không có hồ sơ trực tuyến nào chờ tiếp nhận")
        page.goto("/dossiers/G22.38-261125-0001")
        expect(page.locator("h1")).to_contain_text("G22.38-261125-0001")  # the national code, kept
        expect(page.locator("#dossier-status")).to_contain_text("Đã tiếp nhận")
        expect(page.locator("#dossier-facts")).to_contain_text("24/11/2026 21:00")  # submitted
        expect(page.locator("#dossier-event-list")).to_contain_text("Tiếp nhận hồ sơ nộp trực tuyến")
        page.goto("/dossiers/G22.38-261125-0002")
        expect(page.locator("#dossier-status")).to_contain_text("Không được tiếp nhận")
        expect(page.locator("#dossier-event-list")).to_contain_text("Thủ tục không thuộc thẩm quyền của phường")
