"""The quality officer's change of an internal process, end to end in a browser: edit the
procedure file, upload it, read the diff, submit; the leader approves; the public
catalogue shows the new version while the old one stays readable."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from playwright.sync_api import expect

from qms import clock, resource_folder
from qms.extensions import db
from qms.models import Procedure, Role
from qms.services import org, procedure_files
from qms.services.demo import FIELDS
from tests.browser.test_login_flow import log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def civil_status(orgtree):
    for code, name in FIELDS:
        org.save_field(None, actor=None, code=code, name=name)
    procedure_files.import_tree(Path(resource_folder("procedures_iso")) / "procedures" / "ht",
                                now=clock.now(), default_owner=orgtree["centre"].code)
    db.session.commit()


def edited_birth_registration(folder: Path) -> Path:
    """Export the birth registration procedure, shorten its second step by half an hour."""
    procedure = db.session.scalar(sa.select(Procedure).where(Procedure.code == "1.001193"))
    version = procedure.document.versions[-1]
    content = yaml.safe_load(procedure_files.render_file(procedure.document, version, procedure))
    step = content["version"]["steps"][1]
    step["hours"] = step["hours"] - 0.5
    content["version"]["change_summary"] = "Rút ngắn thời gian thẩm tra"
    path = folder / "1.001193.yaml"
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path, step["name"]


def test_a_changed_process_goes_from_file_to_the_public_catalogue(page, civil_status, make_user,
                                                                  orgtree, tmp_path):
    make_user("quality", Role.quality_officer, department=orgtree["centre"])
    make_user("leader", Role.leader, department=orgtree["centre"])
    path, step_name = edited_birth_registration(tmp_path)

    log_in(page, "quality")
    page.goto("/documents")
    page.locator("#import-file").set_input_files(str(path))
    page.locator("#import-form [type=submit]").click()
    result = page.locator(".import-result")
    expect(result).to_contain_text("draft")
    expect(result).to_contain_text(f"Bước “{step_name}”: thời gian")
    result.get_by_role("link", name="Lần 2").click()
    page.locator("#submit-version").click()
    expect(page.locator("#version-status")).to_contain_text("Chờ phê duyệt")

    page.context.clear_cookies()
    log_in(page, "leader")
    page.goto("/documents/QT-HT-01/versions/2")
    page.locator("#approve-form [type=submit]").click()
    expect(page.locator("#version-status")).to_contain_text("Đang hiệu lực")

    page.context.clear_cookies()
    page.goto("/thu-tuc/1.001193")
    expect(page.locator("body")).to_contain_text("lần ban hành 2")
    expect(page.locator("#steps")).to_contain_text(step_name)
    log_in(page, "quality")
    page.goto("/documents/QT-HT-01/versions/1")
    expect(page.locator("#version-status")).to_contain_text("Đã thay thế")
