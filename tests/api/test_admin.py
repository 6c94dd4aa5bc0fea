"""The admin page of API tokens: issue one for an integration account (shown once), see
them all, revoke one; nobody but an admin gets there."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import ApiToken, Role
from qms.services import api_tokens
from tests.api.conftest import WEDNESDAY
from tests.conftest import csrf_token, login, post_form
from tests.web.conftest import flashes, table_rows, text


@pytest.fixture
def admin(app, make_user, desk):
    make_user("quantri", Role.admin)
    client = app.test_client()
    assert login(client, "quantri").status_code == 302
    return client


def test_an_admin_issues_a_token_seen_once_then_revokes_it(admin, desk):
    page = admin.get("/admin/api-tokens")
    assert page.status_code == 200
    assert 'href="/admin/api-tokens"' in page.get_data(as_text=True)  # in the menu
    assert table_rows(page, "tokens-table") == [["Chưa cấp mã truy cập nào."]]

    response = post_form(admin, "/admin/api-tokens", {"user_id": desk["onestop"].id,
                                                      "name": "Cổng dịch vụ công tỉnh"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    plaintext = re.search(r'id="token-plaintext">([^<]+)<', response.get_data(as_text=True)).group(1)
    assert any("chỉ hiện một lần" in f for f in flashes(response))
    assert api_tokens.authenticate(plaintext, WEDNESDAY) == desk["onestop"]
    token = db.session.scalars(sa.select(ApiToken)).one()
    assert token.created_by.username == "quantri"

    # Listed by prefix; the plaintext is never shown again.
    listing = admin.get("/admin/api-tokens")
    assert plaintext not in listing.get_data(as_text=True)
    [row] = table_rows(listing, "tokens-table")
    assert row[:3] == ["motcua", "Cổng dịch vụ công tỉnh", f"qms_{token.prefix}…"]
    assert row[4] == "25/11/2026 09:00" and "Hiệu lực" in row[5]  # last used (just above)

    response = post_form(admin, f"/admin/api-tokens/{token.id}/revoke", {}, token_from="/admin/api-tokens")
    assert response.status_code == 302
    page = admin.get(response.location)
    assert any("Đã thu hồi mã truy cập" in f for f in flashes(page))
    assert "Đã thu hồi" in table_rows(page, "tokens-table")[0][5]
    assert api_tokens.authenticate(plaintext, WEDNESDAY) is None
    # A second revocation says so, without an error page.
    response = post_form(admin, f"/admin/api-tokens/{token.id}/revoke", {}, token_from="/admin/api-tokens")
    assert any("đã bị thu hồi trước đó" in f for f in flashes(admin.get(response.location)))


def test_the_form_needs_a_name_and_offers_only_active_accounts(admin, desk):
    from qms.services import accounts

    accounts.set_active(desk["office"], False, actor=None)
    db.session.commit()
    page = text(admin.get("/admin/api-tokens"))
    assert "motcua — Motcua (A-MC)" in page and "vanphong —" not in page
    response = post_form(admin, "/admin/api-tokens", {"user_id": desk["onestop"].id, "name": ""})
    assert response.status_code == 200 and 'id="token-plaintext"' not in response.get_data(as_text=True)
    response = post_form(admin, "/admin/api-tokens", {"user_id": desk["office"].id, "name": "Cổng"})
    assert 'id="token-plaintext"' not in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(ApiToken.id))) == 0


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.admin])
def test_nobody_else_issues_or_revokes(app, make_user, desk, role):
    make_user("nguoikhac", role)
    token, _plaintext = api_tokens.issue_token(desk["onestop"], name="Cổng", actor=None, now=WEDNESDAY)
    db.session.commit()
    client = app.test_client()
    assert login(client, "nguoikhac").status_code == 302
    assert client.get("/admin/api-tokens").status_code == 403
    assert 'href="/admin/api-tokens"' not in client.get("/").get_data(as_text=True)
    csrf = csrf_token(client, "/")
    assert client.post("/admin/api-tokens", data={"user_id": desk["onestop"].id, "name": "X",
                                                  "csrf_token": csrf}).status_code == 403
    assert client.post(f"/admin/api-tokens/{token.id}/revoke",
                       data={"csrf_token": csrf}).status_code == 403
    db.session.expire_all()
    assert db.session.scalars(sa.select(ApiToken)).one().revoked_at is None
