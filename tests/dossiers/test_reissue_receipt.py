"""A lost receipt (Mẫu 01) printed again from the dossier's page, with a new lookup code
(issue 15, item 5): the old code stops working, the change is in the audit log, and only
the office that received the dossier may do it."""
from __future__ import annotations

import base64
import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from qms.errors import Conflict, Forbidden
from qms.extensions import db
from qms.models import AuditLog, Dossier
from qms.services import dossiers
from tests.conftest import browser_as, post_form
from tests.dossiers.conftest import at


def receive(procedure, officer, name="Nguyễn Thị Hoa"):
    dossier, secret = dossiers.receive_dossier(actor=officer, procedure=procedure, applicant_name=name,
                                               now=at(2026, 11, 23, 9, 0))
    db.session.commit()
    return dossier, secret


def test_a_new_code_replaces_the_lost_one(in_force, desk):
    dossier, old = receive(in_force, desk["onestop"])
    new = dossiers.reissue_receipt(dossier, actor=desk["onestop"], now=at(2026, 11, 24, 9, 0))
    db.session.commit()
    assert new != old
    assert dossiers.find_for_lookup(dossier.code, new) == dossier
    assert dossiers.find_for_lookup(dossier.code, old) is None
    rows = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.entity_type == "dossier", AuditLog.entity_id == dossier.id,
        AuditLog.actor_id == desk["onestop"].id).order_by(AuditLog.id)).all()
    changed = rows[-1].changes or {}
    assert "lookup_secret_hash" in changed and new not in str(changed)  # the fact, never the secret


def test_only_the_receiving_office_reissues(in_force, desk):
    dossier, _secret = receive(in_force, desk["onestop"])
    for stranger in (desk["culture"], desk["centre"]):
        with pytest.raises(Forbidden):
            dossiers.reissue_receipt(dossier, actor=stranger, now=at(2026, 11, 24, 9, 0))


def test_a_refused_dossier_has_no_receipt_to_reissue(in_force, desk):
    refused = dossiers.refuse_dossier(actor=desk["onestop"], procedure=in_force, applicant_name="Đinh Văn Từ",
                                      reasons="Sai thẩm quyền", now=at(2026, 11, 23, 9, 0))
    with pytest.raises(Conflict, match="chưa được tiếp nhận"):
        dossiers.reissue_receipt(refused, actor=desk["onestop"], now=at(2026, 11, 24, 9, 0))


def test_the_dossier_page_reprints_the_receipt(app, in_force, desk):
    dossier, old = receive(in_force, desk["onestop"])
    desk_browser = browser_as(app, "motcua")
    assert 'id="reissue-receipt"' in desk_browser.get(f"/dossiers/{dossier.code}").get_data(as_text=True)
    page = post_form(desk_browser, f"/dossiers/{dossier.code}/receipt", {},
                     token_from=f"/dossiers/{dossier.code}").get_data(as_text=True)
    assert 'id="reissued"' in page
    new = re.search(r'id="lookup-secret">([^<]+)<', page).group(1)
    receipt = base64.b64decode(re.search(r'data:application/pdf;base64,([^"]+)"', page).group(1))
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(receipt)).pages).split())
    for expected in ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", dossier.code, new, "Nguyễn Thị Hoa"):
        assert expected in text, expected
    db.session.expire_all()
    assert dossiers.find_for_lookup(dossier.code, old) is None
    assert dossiers.find_for_lookup(dossier.code, new) is not None


def test_other_departments_see_no_button_and_are_refused(app, in_force, desk):
    dossier, old = receive(in_force, desk["onestop"])
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 10, 0),
                           next_department=desk["culture"].department)
    db.session.commit()
    culture = browser_as(app, "vanhoa")
    assert 'id="reissue-receipt"' not in culture.get(f"/dossiers/{dossier.code}").get_data(as_text=True)
    response = post_form(culture, f"/dossiers/{dossier.code}/receipt", {}, token_from=f"/dossiers/{dossier.code}")
    assert response.status_code == 302
    assert "Chỉ cán bộ Bộ phận một cửa" in culture.get(f"/dossiers/{dossier.code}").get_data(as_text=True)
    db.session.expire_all()
    assert dossiers.find_for_lookup(dossier.code, old) == db.session.get(Dossier, dossier.id)
    without_token = culture.post(f"/dossiers/{dossier.code}/receipt")
    assert without_token.status_code in (302, 400)
