"""Citizens use the public procedure catalogue in a real browser: search without accents,
filter, open a procedure and read its steps, limit, fee and legal bases."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from qms import clock, resource_folder
from qms.extensions import db
from qms.services import org, procedure_files
from qms.services.demo import FIELDS

pytestmark = pytest.mark.browser


@pytest.fixture
def shipped_procedures(orgtree):
    for code, name in FIELDS:
        org.save_field(None, actor=None, code=code, name=name)
    procedure_files.import_tree(Path(resource_folder("procedures_iso")) / "procedures",
                                now=clock.now(), default_owner=orgtree["onestop"].code)
    db.session.commit()


def test_a_citizen_finds_and_reads_a_procedure(page, shipped_procedures):
    page.goto("/thu-tuc/")
    rows = page.locator("#catalogue tbody tr")
    assert rows.count() >= 40  # the shipped catalogue, first page
    page.locator("#q").fill("dang ky khai sinh")  # typed without diacritics
    page.locator("#catalogue-search [type=submit]").click()
    expect(page.locator("#catalogue")).to_contain_text("Đăng ký khai sinh")
    expect(page.locator("#catalogue")).not_to_contain_text("Đăng ký kết hôn")
    page.get_by_role("link", name="Đăng ký khai sinh", exact=True).click()
    expect(page.locator("h1")).to_have_text("Đăng ký khai sinh")
    expect(page.locator("#procedure-facts")).to_contain_text("1 ngày làm việc")
    expect(page.locator("#procedure-facts")).to_contain_text("Nhận trước 15 giờ")
    expect(page.locator("#steps tbody tr").first).to_contain_text("Tiếp nhận")
    expect(page.locator("#legal-bases")).to_contain_text("Luật Hộ tịch")


def test_filtering_by_field_and_level(page, shipped_procedures):
    page.goto("/thu-tuc/")
    page.locator("#field").select_option(label="Đất đai")
    page.locator("#level").select_option("province")
    page.locator("#catalogue-search [type=submit]").click()
    codes = page.locator("#catalogue tbody tr td:nth-child(3)").all_inner_texts()
    assert codes and set(codes) == {"Đất đai"}
    page.locator("#level").select_option("commune")
    page.locator("#catalogue-search [type=submit]").click()
    expect(page.locator("#catalogue")).to_contain_text("Không tìm thấy thủ tục nào.")
