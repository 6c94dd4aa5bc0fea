"""Issue 13, done when: a quality officer, as a new user would, loads a month's register file
from the provincial system, maps the two units it did not know, and sees that month's
compliance figures and overdue nonconformities for those dossiers; the provincial system's
nightly push of the same month, sent twice, changes nothing — in a browser."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from qms import clock
from qms.extensions import db
from qms.models import Dossier
from qms.services import nonconformities
from tests.browser.test_login_flow import go_to, log_in
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.sync.conftest import MONDAY, entry, monday, portal, source, sync_api, three_day_birth  # noqa: F401  (fixtures)
from tests.sync.test_register_import import register_rows, xlsx

pytestmark = pytest.mark.browser


def _figures(page) -> dict[str, str]:
    rows = page.locator("#dossier-figures tr")
    return {rows.nth(i).get_attribute("data-key"): rows.nth(i).locator("td").nth(1).inner_text()
            for i in range(rows.count())}


def test_a_months_register_is_loaded_mapped_and_counted_and_the_nightly_push_changes_nothing(
        page, source, sync_api, tmp_path):  # noqa: F811
    path = tmp_path / "so-theo-doi-thang-11.xlsx"
    path.write_bytes(xlsx(register_rows()))
    with clock.frozen(MONDAY):
        log_in(page, "quality")
        go_to(page, "Quản trị", "Đồng bộ hồ sơ")
        page.locator("#upload-form [name=file]").set_input_files(str(path))
        page.locator("#upload-form [type=submit]").click()
        expect(page.locator("#import-progress")).to_have_attribute("data-status", "done")
        expect(page.locator("#count-created")).to_have_text("2")
        expect(page.locator("#count-held")).to_have_text("2")
        expect(page.locator("#held-reasons")).to_contain_text("Không xác định được đơn vị: 2")

        # map the two unknown units to the ward: each replays what it held
        page.get_by_role("link", name="Ánh xạ các mã chưa xác định").click()
        for unit in ("000.00.22.H98", "000.00.22.H99"):
            form = page.locator(".mapping-form", has=page.locator(f"input[value='{unit}']"))
            form.locator("select").select_option(label="TP-A — Phường An Hòa")
            form.locator("[type=submit]").click()
            expect(page.locator(".alert-success")).to_contain_text(f"Đã ánh xạ {unit}")
        expect(page.locator("#held-groups")).to_contain_text("Không có hồ sơ nào đang chờ.")

        # the overdue check (cron) raises the open ones past their due date
        nonconformities.check_overdue(clock.now())
        db.session.commit()

        page.goto("/reviews/monthly/A-MC/2026-11")
        before = _figures(page)
        assert before["received"] == "4"
        assert (before["early"], before["in_progress"]) == ("1", "3")
        page.goto("/reviews/monthly/A-MC/2026-12")
        december = _figures(page)
        assert december["late"] == "1"  # G12-0002 finished on 2/12, due 30/11
        expect(page.locator("#late-dossiers")).to_contain_text("G12-0002")

        page.goto("/quality/nonconformities")
        table = page.locator("table").first
        for code in ("G12-0002", "G12-0003", "G12-0004"):
            expect(table).to_contain_text(code)

        # the nightly push of the same dossiers, with their history, twice
        nightly = [portal("G12-0003", received="20261126080000", unit="000.00.22.H98",
                          history=[entry("20261126080000", 2, "Tiếp nhận")], KenhThucHien=3,
                          ChuHoSo="Lê Văn Cường")]
        first = sync_api.post("/sync/dossiers", json=nightly).json["summary"]
        second = sync_api.post("/sync/dossiers", json=nightly).json["summary"]
        assert first["created"] == 0 and second == {"created": 0, "updated": 0, "unchanged": 1, "held": 0,
                                                    "refused": 0}
        page.goto("/reviews/monthly/A-MC/2026-11")
        assert _figures(page) == before
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 4
