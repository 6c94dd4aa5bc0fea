"""Organisation administration: agencies (a tree), departments, fields."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import Agency, AgencyLevel, Department, Field, Role, User
from tests.conftest import csrf_token, login, post_form
from tests.web.conftest import (
    ROLES,
    db_snapshot,
    field_errors,
    flashes,
    table_rows,
    text,
    username_of,
)


def agency(code) -> Agency | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Agency).where(Agency.code == code))


def department(code) -> Department | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(Department).where(Department.code == code))


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count(model.id)))


def agency_form(code, name, level, parent=None, effective_from="2025-07-01", effective_to="",
                successor=None):
    return {"code": code, "name": name, "level": level,
            "parent_id": str(parent.id if parent else 0),
            "effective_from": effective_from, "effective_to": effective_to,
            "successor_id": str(successor.id if successor else 0)}


def agency_edit(a: Agency, **overrides):
    data = agency_form(a.code, a.name, a.level.value, a.parent, a.effective_from.isoformat(),
                       a.effective_to.isoformat() if a.effective_to else "", a.successor)
    data.update(overrides)
    return data


def department_form(code, name, agency_id, *, one_stop=False, active=True):
    data = {"code": code, "name": name, "agency_id": str(agency_id)}
    if one_stop:
        data["is_one_stop"] = "y"
    if active:
        data["active"] = "y"  # an unticked checkbox is simply absent, as from a browser
    return data


# --- agencies ---------------------------------------------------------------------------------
def test_admin_builds_a_province_with_communes(admin_client):
    response = post_form(admin_client, "/admin/agencies/new",
                         agency_form("HN", "Thành phố Hà Nội", "province",
                                     effective_from="2008-08-01"))
    assert response.status_code == 302 and response.location == "/admin/agencies"
    assert "Đã lưu cơ quan HN." in flashes(admin_client.get("/admin/agencies"))
    province = agency("HN")
    for code, name in [("hn-bd", "Phường Ba Đình"), ("HN-HK", "Phường Hoàn Kiếm")]:
        response = post_form(admin_client, "/admin/agencies/new",
                             agency_form(code, name, "commune", parent=province))
        assert response.status_code == 302

    ward = agency("HN-BD")  # codes are kept upper-case
    assert ward is not None and ward.parent_id == province.id
    assert ward.level is AgencyLevel.commune and ward.effective_from == date(2025, 7, 1)
    assert province.parent_id is None and province.level is AgencyLevel.province
    assert sorted(a.code for a in agency("HN").children) == ["HN-BD", "HN-HK"]

    rows = table_rows(admin_client.get("/admin/agencies"), "agencies-table")
    names = [row[0] for row in rows]
    # the tree: the province first, its communes right after it
    i = names.index("Thành phố Hà Nội")
    assert names[i + 1:i + 3] == ["Phường Ba Đình", "Phường Hoàn Kiếm"]


def test_agency_page_indents_children_under_their_parent(admin_client, orgtree):
    page = admin_client.get("/admin/agencies").get_data(as_text=True)
    province_at = page.index("Thành phố Thử Nghiệm")
    ward_at = page.index("Phường An Hòa")
    assert province_at < ward_at
    row = page[page.rfind("<tr", 0, ward_at):ward_at]
    assert row.count('class="tree-indent"') == 1


@pytest.mark.parametrize("depth", [1, 2])
def test_cycles_are_refused(admin_client, orgtree, depth):
    province, ward = orgtree["province"], orgtree["ward"]
    child = ward
    if depth == 2:  # province → ward → hamlet; make the province a child of the hamlet
        post_form(admin_client, "/admin/agencies/new",
                  agency_form("TP-A-1", "Khu phố 1", "commune", parent=ward))
        child = agency("TP-A-1")
        assert child is not None
    before = db_snapshot()
    response = post_form(admin_client, f"/admin/agencies/{province.id}",
                         agency_edit(province, parent_id=str(child.id)))
    assert response.status_code == 200
    assert ("Đơn vị cấp trên không thể là chính đơn vị này hoặc đơn vị cấp dưới của nó."
            in flashes(response))
    assert db_snapshot() == before
    assert agency("TP").parent_id is None


def test_agency_cannot_be_its_own_parent(admin_client, orgtree):
    ward = orgtree["ward"]
    before = db_snapshot()
    response = post_form(admin_client, f"/admin/agencies/{ward.id}",
                         agency_edit(ward, parent_id=str(ward.id)))
    assert response.status_code == 200
    assert flashes(response) or field_errors(response)
    assert db_snapshot() == before


def test_merge_into_a_successor_needs_an_end_date(admin_client, orgtree):
    province, ward = orgtree["province"], orgtree["ward"]
    post_form(admin_client, "/admin/agencies/new",
              agency_form("TP-B", "Phường Bình An", "commune", parent=province))
    successor = agency("TP-B")

    before = db_snapshot()
    response = post_form(admin_client, f"/admin/agencies/{ward.id}",
                         agency_edit(ward, successor_id=str(successor.id)))
    assert response.status_code == 200
    assert "Đơn vị đã sáp nhập phải có ngày hết hiệu lực." in flashes(response)
    assert db_snapshot() == before

    response = post_form(admin_client, f"/admin/agencies/{ward.id}",
                         agency_edit(ward, successor_id=str(successor.id),
                                     effective_to="2025-07-01"))  # must end after it starts
    assert response.status_code == 200
    assert "Ngày hết hiệu lực phải sau ngày có hiệu lực." in flashes(response)
    assert db_snapshot() == before

    response = post_form(admin_client, f"/admin/agencies/{ward.id}",
                         agency_edit(ward, successor_id=str(successor.id),
                                     effective_to="2026-01-01"))
    assert response.status_code == 302
    merged = agency("TP-A")
    assert merged.successor_id == successor.id and merged.effective_to == date(2026, 1, 1)
    assert len(merged.departments) == 3  # its records stay its own
    assert "sáp nhập vào Phường Bình An" in text(admin_client.get("/admin/agencies"))


@pytest.mark.parametrize("code", ["TP", "tp", " Tp "])
def test_duplicate_agency_code_is_refused(admin_client, orgtree, code):
    before = count(Agency)
    response = post_form(admin_client, "/admin/agencies/new",
                         agency_form(code, "Tỉnh Trùng Mã", "province"))
    assert response.status_code == 200
    assert "Mã TP đã được dùng." in flashes(response)
    assert count(Agency) == before
    assert agency("TP").name == "Thành phố Thử Nghiệm"


def test_renaming_an_agency_to_anothers_code_is_refused(admin_client, orgtree):
    ward = orgtree["ward"]
    response = post_form(admin_client, f"/admin/agencies/{ward.id}", agency_edit(ward, code="TP"))
    assert response.status_code == 200
    assert "Mã TP đã được dùng." in flashes(response)
    assert agency("TP-A") is not None


def test_editing_an_agency_keeps_its_own_code(admin_client, orgtree):
    ward = orgtree["ward"]
    response = post_form(admin_client, f"/admin/agencies/{ward.id}",
                         agency_edit(ward, name="Phường An Hòa Mới"))
    assert response.status_code == 302
    assert agency("TP-A").name == "Phường An Hòa Mới"


# --- departments ------------------------------------------------------------------------------
def test_admin_sees_an_editable_form_with_a_save_button(admin_client, orgtree):
    page = admin_client.get(f"/admin/agencies/{orgtree['ward'].id}").get_data(as_text=True)
    assert 'id="org-form" method="post"' in page
    assert 'type="submit" value="Lưu"' in page
    assert "<fieldset disabled" not in page


def test_admin_creates_a_department(admin_client, orgtree):
    response = post_form(admin_client, "/admin/departments/new",
                         department_form("a-tp", "Phòng Tư pháp", orgtree["ward"].id))
    assert response.status_code == 302 and response.location == "/admin/departments"
    assert "Đã lưu phòng ban A-TP." in flashes(admin_client.get("/admin/departments"))
    created = department("A-TP")
    assert created.agency_id == orgtree["ward"].id and created.active and not created.is_one_stop


@pytest.mark.parametrize("code", ["A-VP", "a-vp"])
def test_duplicate_department_code_is_refused(admin_client, orgtree, code):
    before = count(Department)
    response = post_form(admin_client, "/admin/departments/new",
                         department_form(code, "Văn phòng khác", orgtree["province"].id))
    assert response.status_code == 200
    assert "Mã A-VP đã được dùng." in flashes(response)
    assert count(Department) == before


def test_only_one_active_one_stop_office_per_agency(admin_client, orgtree):
    ward, province = orgtree["ward"], orgtree["province"]
    before = count(Department)
    response = post_form(admin_client, "/admin/departments/new",
                         department_form("A-MC2", "Bộ phận một cửa 2", ward.id, one_stop=True))
    assert response.status_code == 200
    assert "Phường An Hòa đã có bộ phận một cửa: Bộ phận một cửa." in flashes(response)
    assert count(Department) == before

    # Nor can an existing department be flagged as a second one.
    culture = orgtree["culture"]
    response = post_form(admin_client, f"/admin/departments/{culture.id}",
                         department_form("A-VHXH", culture.name, ward.id, one_stop=True))
    assert response.status_code == 200
    assert department("A-VHXH").is_one_stop is False

    # Another agency may have its own; and once the old office closes, a new one may open.
    post_form(admin_client, "/admin/agencies/new",
              agency_form("TP-B", "Phường Bình An", "commune", parent=province))
    response = post_form(admin_client, "/admin/departments/new",
                         department_form("B-MC", "Bộ phận một cửa", agency("TP-B").id, one_stop=True))
    assert response.status_code == 302
    onestop = orgtree["onestop"]
    response = post_form(admin_client, f"/admin/departments/{onestop.id}",
                         department_form("A-MC", onestop.name, ward.id, one_stop=True, active=False))
    assert response.status_code == 302
    response = post_form(admin_client, "/admin/departments/new",
                         department_form("A-MC2", "Bộ phận một cửa mới", ward.id, one_stop=True))
    assert response.status_code == 302
    assert department("A-MC2").is_one_stop and department("A-MC2").active


def test_department_with_active_users_cannot_be_deactivated(admin_client, users, orgtree):
    office = orgtree["office"]  # every user of the `users` fixture works here
    members = db.session.scalar(sa.select(sa.func.count(User.id))
                                .where(User.department_id == office.id, User.active.is_(True)))
    assert members == len(ROLES)
    before = db_snapshot()
    response = post_form(admin_client, f"/admin/departments/{office.id}",
                         department_form("A-VP", office.name, office.agency_id, active=False))
    assert response.status_code == 200
    assert (f"Phòng ban còn {members} người dùng đang hoạt động; hãy chuyển họ trước."
            in flashes(response))
    assert db_snapshot() == before
    assert department("A-VP").active is True


def test_empty_department_can_be_deactivated_and_is_then_not_offered_for_users(admin_client, orgtree):
    culture = orgtree["culture"]
    response = post_form(admin_client, f"/admin/departments/{culture.id}",
                         department_form("A-VHXH", culture.name, culture.agency_id, active=False))
    assert response.status_code == 302
    assert department("A-VHXH").active is False
    page = admin_client.get("/admin/users/new").get_data(as_text=True)
    assert f'value="{culture.id}"' not in page
    assert department("A-VHXH") is not None  # deactivated, never deleted


# --- fields -----------------------------------------------------------------------------------
def test_admin_creates_and_edits_a_field(admin_client):
    response = post_form(admin_client, "/admin/fields/new",
                         {"code": "ht", "name": "Hộ tịch", "active": "y"})
    assert response.status_code == 302
    field = db.session.scalar(sa.select(Field).where(Field.code == "HT"))
    assert field.name == "Hộ tịch" and field.active
    response = post_form(admin_client, f"/admin/fields/{field.id}",
                         {"code": "HT", "name": "Hộ tịch", "active": "y"})
    assert response.status_code == 302
    response = post_form(admin_client, "/admin/fields/new",
                         {"code": "HT", "name": "Trùng", "active": "y"})
    assert response.status_code == 200
    assert "Mã HT đã được dùng." in flashes(response)
    assert count(Field) == 1


# --- who may do what --------------------------------------------------------------------------
@pytest.mark.parametrize("role", [r for r in ROLES if r is not Role.admin], ids=lambda r: r.value)
def test_non_admins_may_view_but_not_change_the_organisation(app, users, orgtree, role):
    client = app.test_client()
    login(client, username_of(role))
    ward, culture = orgtree["ward"], orgtree["culture"]

    for url in ("/admin/agencies", "/admin/departments", "/admin/fields",
                f"/admin/agencies/{ward.id}", f"/admin/departments/{culture.id}"):
        response = client.get(url)
        assert response.status_code == 200, url
    listing = text(client.get("/admin/agencies"))
    assert "Phường An Hòa" in listing and "Thêm cơ quan" not in listing
    for url in (f"/admin/agencies/{ward.id}", f"/admin/departments/{culture.id}"):
        form_page = client.get(url).get_data(as_text=True)
        # the record is shown read-only, with no save button that could only answer 403
        assert 'value="TP-A"' in form_page or 'value="A-VHXH"' in form_page
        assert '<fieldset disabled id="org-form">' in form_page
        assert 'type="submit" value="Lưu"' not in form_page
        assert 'method="post" action=""' not in form_page and 'id="org-form" method="post"' not in form_page

    token = csrf_token(client, "/admin/agencies")
    before = db_snapshot()
    for url, data in [
        ("/admin/agencies/new", agency_form("HN", "Hà Nội", "province")),
        (f"/admin/agencies/{ward.id}", agency_edit(ward, name="Đổi tên")),
        ("/admin/departments/new", department_form("A-TP", "Phòng Tư pháp", ward.id)),
        (f"/admin/departments/{culture.id}",
         department_form("A-VHXH", "Đổi tên", ward.id, active=False)),
        ("/admin/fields/new", {"code": "DD", "name": "Đất đai", "active": "y"}),
    ]:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, url
        assert "Không có quyền truy cập" in text(response)
    assert db_snapshot() == before
