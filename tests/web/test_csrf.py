"""Every POST route refuses a request without a CSRF token: 400, the friendly page, and
not a single row changed."""
from __future__ import annotations

import pytest

from qms.extensions import db
from qms.models import Role
from qms.services import org
from tests.conftest import PASSWORD, csrf_token, login
from tests.web.conftest import db_snapshot, logged_in, text

CSRF_MESSAGE = "Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ (CSRF)."


@pytest.fixture
def objects(orgtree, users):
    field = org.save_field(None, actor=None, code="HT", name="Hộ tịch")
    db.session.commit()
    return {"agency_id": orgtree["ward"].id, "department_id": orgtree["culture"].id,
            "field_id": field.id, "user_id": users[Role.officer].id,
            "province_id": orgtree["province"].id}


def payloads(o) -> dict[str, tuple[str, dict]]:
    """rule → (who posts, form data that would change something if accepted). Each rule
    acts on a different account, so one control request does not spoil the next."""
    return {
        "/auth/login": (None, {"username": "leader", "password": PASSWORD}),
        "/auth/logout": ("auditor", {}),
        "/auth/password": ("departmenthead", {"current_password": PASSWORD,
                                       "new_password": "Doi-mat-khau-2027",
                                       "confirm": "Doi-mat-khau-2027"}),
        "/admin/agencies/new": ("admin", {"code": "HN", "name": "Hà Nội", "level": "province",
                                          "parent_id": "0", "effective_from": "2008-08-01",
                                          "effective_to": "", "successor_id": "0"}),
        "/admin/agencies/<int:agency_id>": ("admin", {
            "code": "TP-A", "name": "Phường An Hòa Mới", "level": "commune",
            "parent_id": str(o["province_id"]), "effective_from": "2025-07-01",
            "effective_to": "", "successor_id": "0"}),
        "/admin/departments/new": ("admin", {"code": "A-TP", "name": "Phòng Tư pháp",
                                             "agency_id": str(o["agency_id"]), "active": "y"}),
        "/admin/departments/<int:department_id>": ("admin", {
            "code": "A-VHXH", "name": "Phòng Văn hóa", "agency_id": str(o["agency_id"]),
            "active": "y"}),
        "/admin/fields/new": ("admin", {"code": "DD", "name": "Đất đai", "active": "y"}),
        "/admin/fields/<int:field_id>": ("admin", {"code": "HT", "name": "Hộ tịch - Chứng thực",
                                                   "active": "y"}),
        "/admin/users/new": ("admin", {"username": "nguyenvana", "full_name": "Nguyễn Văn A", "email": "",
                                       "department_id": str(o["department_id"]),
                                       "roles": ["officer"], "password": "Mat-khau-moi-2026"}),
        "/admin/users/<int:user_id>": ("admin", {
            "username": "officer", "full_name": "Cán Bộ Khác", "email": "",
            "department_id": str(o["department_id"]), "roles": ["officer", "leader"],
            "password": ""}),
        "/admin/users/<int:user_id>/active": ("admin", {"active": "0"}),
    }


def post_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules() if "POST" in rule.methods),
                  key=lambda r: r.rule)


def url_for_rule(rule, objects) -> str:
    url = rule.rule
    for argument in rule.arguments:
        url = url.replace(f"<int:{argument}>", str(objects[argument]))
    assert "<" not in url, url
    return url


def test_every_post_route_has_a_payload_here(app):
    """A new POST route must be added to `payloads` (and so to the CSRF check)."""
    dummy = dict.fromkeys(["agency_id", "department_id", "field_id", "user_id", "province_id"], 0)
    assert {rule.rule for rule in post_rules(app)} == set(payloads(dummy))


@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "control-with-token"])
def test_post_without_csrf_token_is_refused_and_changes_nothing(app, objects, with_token):
    for rule in post_rules(app):
        who, data = payloads(objects)[rule.rule]
        client = app.test_client()
        if who:
            assert login(client, who).status_code == 302
        url = url_for_rule(rule, objects)
        if with_token:
            # Control: the same request with the token does change the database, which
            # proves that the refusal below is the CSRF check and not a bad payload.
            data = {**data, "csrf_token": csrf_token(client, "/auth/login" if not who else "/")}
        before = db_snapshot()
        response = client.post(url, data=data)
        after = db_snapshot()
        if with_token:
            assert response.status_code == 302, (rule.rule, response.status_code, text(response)[:2000])
            assert after != before, f"{rule.rule}: the control request changed nothing"
        else:
            assert response.status_code == 400, rule.rule
            page = text(response)
            assert "Phiên làm việc đã hết hạn" in page and CSRF_MESSAGE in page, rule.rule
            assert "Traceback" not in page
            assert after == before, f"{rule.rule} changed the database without a CSRF token"
            if who:
                assert logged_in(client), f"{rule.rule} without a token ended the session"


def test_wrong_csrf_token_is_refused_too(app, users):
    client = app.test_client()
    login(client, "admin")
    before = db_snapshot()
    response = client.post("/admin/fields/new", data={"code": "DD", "name": "Đất đai",
                                                      "active": "y", "csrf_token": "forged"})
    assert response.status_code == 400
    assert CSRF_MESSAGE in text(response)
    assert db_snapshot() == before


def test_token_of_another_session_is_refused(app, users):
    attacker, victim = app.test_client(), app.test_client()
    login(attacker, "officer")
    login(victim, "admin")
    stolen = csrf_token(attacker, "/")
    before = db_snapshot()
    response = victim.post("/admin/fields/new", data={"code": "DD", "name": "Đất đai",
                                                      "active": "y", "csrf_token": stolen})
    assert response.status_code == 400
    assert db_snapshot() == before


def test_csrf_refusal_answers_json_to_json_clients(app, users):
    client = app.test_client()
    login(client, "admin")
    response = client.post("/admin/fields/new", data={"code": "DD", "name": "Đất đai"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.is_json
    assert response.json["error"]["status"] == 400
