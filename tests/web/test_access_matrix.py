"""Who may open which page: every route × anonymous and every role, against a table.

A route missing from the table fails the test, so a new page forces a decision here about
who may see it.
"""
from __future__ import annotations

import re

import pytest

from qms.extensions import db
from qms.models import Role
from qms.services import org
from tests.conftest import login
from tests.web.conftest import ROLES, text, username_of

OK, DENIED, MISSING, NO_GET = 200, 403, 404, 405
LOGIN = "login"  # 302 to /auth/login?next=<the page>
HOME = "home"    # 302 to /

#        columns: anonymous, then ROLES = admin, quality_officer, officer, department_head,
#                 leader, auditor
EVERYONE = (OK, OK, OK, OK, OK, OK, OK)
MEMBERS = (LOGIN, OK, OK, OK, OK, OK, OK)
ADMIN_ONLY = (LOGIN, OK, DENIED, DENIED, DENIED, DENIED, DENIED)
POST_ONLY = (NO_GET,) * 7

EXPECTED: dict[str, tuple] = {
    # rule                                     anon   admin   QO      officer head    leader  auditor
    "/":                                       EVERYONE,
    "/healthz":                                EVERYONE,
    "/language/<code>":                        (HOME,) * 7,
    "/auth/login":                             (OK, HOME, HOME, HOME, HOME, HOME, HOME),
    "/auth/logout":                            POST_ONLY,
    "/auth/password":                          MEMBERS,
    "/admin/audit-log":                        (LOGIN, OK, OK, DENIED, DENIED, DENIED, OK),
    "/admin/agencies":                         MEMBERS,
    "/admin/agencies/new":                     ADMIN_ONLY,
    "/admin/agencies/<int:agency_id>":         MEMBERS,
    "/admin/departments":                      MEMBERS,
    "/admin/departments/new":                  ADMIN_ONLY,
    "/admin/departments/<int:department_id>":  MEMBERS,
    "/admin/fields":                           MEMBERS,
    "/admin/fields/new":                       ADMIN_ONLY,
    "/admin/fields/<int:field_id>":            MEMBERS,
    "/admin/users":                            ADMIN_ONLY,
    "/admin/users/new":                        ADMIN_ONLY,
    "/admin/users/<int:user_id>":              ADMIN_ONLY,
    "/admin/users/<int:user_id>/active":       POST_ONLY,
}

# The same routes with ids that do not exist. Logging in comes first (anonymous → login
# page), then the permission (no hint to the unauthorised whether the record exists), then
# the lookup.
UNKNOWN_ID_EXPECTED: dict[str, tuple] = {
    "/admin/agencies/<int:agency_id>":         (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/admin/departments/<int:department_id>":  (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/admin/fields/<int:field_id>":            (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/admin/users/<int:user_id>":              (LOGIN, MISSING, DENIED, DENIED, DENIED, DENIED, DENIED),
    "/language/<code>":                        (MISSING,) * 7,
}

SKIPPED_ENDPOINTS = {"static", "bootstrap.static"}


def routes(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED_ENDPOINTS),
                  key=lambda r: r.rule)


def test_columns_cover_every_role():
    assert sorted(ROLES, key=lambda r: r.value) == sorted(Role, key=lambda r: r.value)
    assert len(ROLES) == len(set(ROLES))


def test_every_route_is_in_the_table(app):
    rules = {rule.rule for rule in routes(app)}
    missing = rules - set(EXPECTED)
    assert not missing, f"routes without an access expectation, add them to EXPECTED: {sorted(missing)}"
    stale = set(EXPECTED) - rules
    assert not stale, f"EXPECTED names routes that no longer exist: {sorted(stale)}"
    for rule, row in {**EXPECTED, **UNKNOWN_ID_EXPECTED}.items():
        assert len(row) == 1 + len(ROLES), rule
    assert set(UNKNOWN_ID_EXPECTED) <= set(EXPECTED)
    with_ids = {rule.rule for rule in routes(app) if rule.arguments}
    # every route with an id has an unknown-id row (POST-only ones are covered elsewhere)
    assert {r for r in with_ids if EXPECTED[r] != POST_ONLY} <= set(UNKNOWN_ID_EXPECTED)


@pytest.fixture
def real_ids(orgtree, users):
    field = org.save_field(None, actor=None, code="HT", name="Hộ tịch")
    db.session.commit()
    return {"agency_id": orgtree["ward"].id, "department_id": orgtree["culture"].id,
            "field_id": field.id, "user_id": users[Role.officer].id, "code": "vi"}


UNKNOWN_IDS = {"agency_id": 987654, "department_id": 987654, "field_id": 987654,
               "user_id": 987654, "code": "xx"}


def build_url(rule, values) -> str:
    def value(match):
        assert match.group(1) in values, f"no value for <{match.group(1)}> of {rule.rule}"
        return str(values[match.group(1)])

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule.rule)


def outcome(response, url):
    if response.status_code != 302:
        return response.status_code
    location = response.location
    if location.startswith("/auth/login"):
        return LOGIN
    if location == "/":
        return HOME
    return f"302 → {location}"


def _clients(app):
    clients = [("anonymous", app.test_client())]
    for role in ROLES:
        client = app.test_client()
        assert login(client, username_of(role)).status_code == 302
        clients.append((role.value, client))
    return clients


def _walk(app, table, values, only_rules=None):
    mismatches = []
    for column, (who, client) in enumerate(_clients(app)):
        for rule in routes(app):
            if only_rules is not None and rule.rule not in only_rules:
                continue
            url = build_url(rule, values)
            response = client.get(url)
            got, want = outcome(response, url), table[rule.rule][column]
            if got != want:
                mismatches.append(f"{who:16} GET {url}: expected {want}, got {got}")
            if got == LOGIN:
                assert response.location.startswith("/auth/login?next="), response.location
            if got == DENIED:
                assert "Không có quyền truy cập" in text(response), url
    return mismatches


def test_role_route_matrix(app, real_ids):
    mismatches = _walk(app, EXPECTED, real_ids)
    assert not mismatches, "\n".join(mismatches)


def test_unknown_ids(app, real_ids):
    mismatches = _walk(app, UNKNOWN_ID_EXPECTED, UNKNOWN_IDS, only_rules=set(UNKNOWN_ID_EXPECTED))
    assert not mismatches, "\n".join(mismatches)


def test_anonymous_is_sent_to_login_and_back(app, real_ids):
    client = app.test_client()
    response = client.get("/admin/agencies")
    assert response.location == "/auth/login?next=%2Fadmin%2Fagencies"
    assert "Vui lòng đăng nhập để tiếp tục." in text(client.get(response.location))


def test_menu_shows_only_what_the_role_may_open(app, real_ids):
    """The navigation asks authz too: no link the user would get a 403 for."""
    for who, client in _clients(app)[1:]:
        page = client.get("/").get_data(as_text=True)
        role = Role(who)
        assert ('href="/admin/users"' in page) == (role is Role.admin), who
        assert ('href="/admin/audit-log"' in page) == (
            role in {Role.admin, Role.quality_officer, Role.auditor}), who
        assert 'href="/admin/agencies"' in page, who
