"""User management by the administrator: create, edit, reset password, (de)activate."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import Role, User
from tests.conftest import PASSWORD, csrf_token, login, post_form
from tests.web.conftest import (
    ROLES,
    db_snapshot,
    field_errors,
    flashes,
    logged_in,
    table_rows,
    username_of,
)

NEW_PASSWORD = "Mat-khau-moi-2027"


def user_named(username) -> User | None:
    db.session.expire_all()
    return db.session.scalar(sa.select(User).where(User.username == username))


def user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id)))


def new_user_form(orgtree, **overrides):
    return {"username": "nguyenvana", "full_name": "Nguyễn Văn A", "email": "a.nv@example.vn",
            "department_id": str(orgtree["culture"].id), "roles": ["officer"],
            "password": NEW_PASSWORD, **overrides}


def edit_form(user: User, **overrides):
    return {"username": user.username, "full_name": user.full_name, "email": user.email or "",
            "department_id": str(user.department_id), "roles": [r.value for r in user.roles],
            "password": "", **overrides}


# --- creating ---------------------------------------------------------------------------------
def test_admin_creates_a_user_who_can_then_log_in(app, admin_client, orgtree):
    response = post_form(admin_client, "/admin/users/new",
                         new_user_form(orgtree, roles=["officer", "department_head"]))
    assert response.status_code == 302 and response.location == "/admin/users"
    listing = admin_client.get("/admin/users")
    assert "Đã tạo người dùng nguyenvana." in flashes(listing)
    assert any(row[0] == "nguyenvana" and row[1] == "Nguyễn Văn A" and row[2] == "A-VHXH"
               for row in table_rows(listing, "users-table"))

    user = user_named("nguyenvana")
    assert user.department_id == orgtree["culture"].id
    assert user.roles == {Role.officer, Role.department_head}
    assert user.email == "a.nv@example.vn" and user.active
    assert NEW_PASSWORD not in user.password_hash
    assert login(app.test_client(), "nguyenvana", NEW_PASSWORD).status_code == 302


@pytest.mark.parametrize("weak,message", [
    ("", "Nhập mật khẩu ban đầu cho người dùng mới."),
    ("ngan-1", "Mật khẩu phải có ít nhất 10 ký tự."),
    ("khongcoso", "Mật khẩu phải có ít nhất 10 ký tự."),
    ("khongcosonao", "Mật khẩu phải có cả chữ cái và chữ số hoặc ký hiệu."),
    ("matkhau123", "Mật khẩu quá dễ đoán."),
    ("nguyenvana-2026", "Mật khẩu không được chứa tên đăng nhập."),
])
def test_weak_initial_password_is_refused(admin_client, orgtree, weak, message):
    before = user_count()
    response = post_form(admin_client, "/admin/users/new", new_user_form(orgtree, password=weak))
    assert response.status_code == 200
    assert message in flashes(response)
    assert user_count() == before
    assert user_named("nguyenvana") is None


@pytest.mark.parametrize("name", ["officer", "OFFICER", "Officer", " officer "])
def test_duplicate_username_is_refused_whatever_its_case(admin_client, orgtree, name):
    officer_before = user_named("officer")
    full_name, before = officer_before.full_name, user_count()
    response = post_form(admin_client, "/admin/users/new",
                         new_user_form(orgtree, username=name, full_name="Kẻ Trùng Tên"))
    assert response.status_code == 200
    assert "Tên đăng nhập officer đã tồn tại." in flashes(response)
    assert user_count() == before
    assert user_named("officer").full_name == full_name


def test_user_without_a_role_is_refused(admin_client, orgtree):
    before = user_count()
    data = new_user_form(orgtree)
    del data["roles"]
    response = post_form(admin_client, "/admin/users/new", data)
    assert response.status_code == 200
    assert "Chọn ít nhất một vai trò." in field_errors(response)
    assert user_count() == before


@pytest.mark.parametrize("username", ["nguyễnvăna", "nguyen van a", "a/b", "x" * 65])
def test_bad_usernames_are_refused(admin_client, orgtree, username):
    before = user_count()
    response = post_form(admin_client, "/admin/users/new",
                         new_user_form(orgtree, username=username))
    assert response.status_code == 200
    assert flashes(response) or field_errors(response)
    assert user_count() == before


def test_user_in_an_unknown_department_is_refused(admin_client, orgtree):
    before = user_count()
    response = post_form(admin_client, "/admin/users/new",
                         new_user_form(orgtree, department_id="987654"))
    assert response.status_code == 200
    assert field_errors(response)
    assert user_count() == before


# --- editing ----------------------------------------------------------------------------------
def test_admin_changes_roles_and_department(app, admin_client, users, orgtree):
    officer = users[Role.officer]
    assert officer.department_id == orgtree["office"].id
    response = post_form(admin_client, f"/admin/users/{officer.id}", edit_form(
        officer, full_name="Trần Thị B", department_id=str(orgtree["culture"].id),
        roles=["department_head", "auditor"]))
    assert response.status_code == 302 and response.location == "/admin/users"
    assert "Đã lưu người dùng officer." in flashes(admin_client.get("/admin/users"))

    officer = user_named("officer")
    assert officer.roles == {Role.department_head, Role.auditor}
    assert officer.department_id == orgtree["culture"].id
    assert officer.full_name == "Trần Thị B"
    # the new roles apply at once: an auditor may read the audit log, a plain officer not
    client = app.test_client()
    login(client, "officer")
    assert client.get("/admin/audit-log").status_code == 200


def test_edit_page_shows_the_current_values(admin_client, users, orgtree):
    head = users[Role.department_head]
    page = admin_client.get(f"/admin/users/{head.id}").get_data(as_text=True)
    username = re.search(r'<input[^>]*name="username"[^>]*>', page).group(0)
    assert 'value="departmenthead"' in username and "readonly" in username
    checked = {re.search(r'value="([^"]+)"', tag).group(1)
               for tag in re.findall(r'<input[^>]*name="roles"[^>]*>', page) if " checked" in tag}
    assert checked == {"department_head"}
    selected = re.findall(r'<option selected value="(\d+)"', page)
    assert selected == [str(orgtree["office"].id)]


def test_username_cannot_be_changed_by_editing(admin_client, users):
    officer = users[Role.officer]
    post_form(admin_client, f"/admin/users/{officer.id}", edit_form(officer, username="hacker"))
    assert user_named("officer") is not None and user_named("hacker") is None


def test_removing_all_roles_is_refused(admin_client, users):
    officer = users[Role.officer]
    data = edit_form(officer)
    del data["roles"]
    response = post_form(admin_client, f"/admin/users/{officer.id}", data)
    assert response.status_code == 200
    assert "Chọn ít nhất một vai trò." in field_errors(response)
    assert user_named("officer").roles == {Role.officer}


def test_admin_cannot_drop_their_own_admin_role(admin_client, users):
    admin = users[Role.admin]
    response = post_form(admin_client, f"/admin/users/{admin.id}",
                         edit_form(admin, roles=["quality_officer"]))
    assert response.status_code == 200
    assert "Bạn không thể tự bỏ vai trò quản trị của mình." in flashes(response)
    assert user_named("admin").roles == {Role.admin}


def test_admin_resets_a_password_which_ends_the_users_sessions(app, admin_client, users):
    officer = users[Role.officer]
    victim = app.test_client()
    login(victim, "officer")
    response = post_form(admin_client, f"/admin/users/{officer.id}",
                         edit_form(officer, password=NEW_PASSWORD))
    assert response.status_code == 302
    assert not logged_in(victim)
    assert login(app.test_client(), "officer", PASSWORD).status_code == 200
    assert login(app.test_client(), "officer", NEW_PASSWORD).status_code == 302


def test_reset_to_a_weak_password_is_refused_and_changes_nothing(app, admin_client, users):
    officer = users[Role.officer]
    before = user_named("officer").password_hash
    response = post_form(admin_client, f"/admin/users/{officer.id}",
                         edit_form(officer, full_name="Tên Mới", password="yeu"))
    assert response.status_code == 200
    assert "Mật khẩu phải có ít nhất 10 ký tự." in flashes(response)
    officer = user_named("officer")
    assert officer.password_hash == before
    assert officer.full_name != "Tên Mới"  # the whole edit was refused, not half of it


def test_empty_password_on_edit_keeps_the_password(app, admin_client, users):
    officer = users[Role.officer]
    before = user_named("officer").password_hash
    post_form(admin_client, f"/admin/users/{officer.id}", edit_form(officer, full_name="Tên Mới"))
    assert user_named("officer").password_hash == before
    assert login(app.test_client(), "officer").status_code == 302


# --- deactivating -----------------------------------------------------------------------------
def set_active(client, user_id, active: bool):
    return post_form(client, f"/admin/users/{user_id}/active", {"active": "1" if active else "0"},
                     token_from="/admin/users")


def test_deactivate_and_reactivate(app, admin_client, users):
    officer_id, before = users[Role.officer].id, user_count()
    response = set_active(admin_client, officer_id, False)
    assert response.status_code == 302
    listing = admin_client.get("/admin/users")
    assert "Đã khoá officer; các phiên đăng nhập của họ đã kết thúc." in flashes(listing)
    row = next(r for r in table_rows(listing, "users-table") if r[0] == "officer")
    assert "Ngừng" in row  # still listed: users are never deleted
    assert user_named("officer").active is False
    assert user_count() == before
    assert login(app.test_client(), "officer").status_code == 200

    response = set_active(admin_client, officer_id, True)
    assert response.status_code == 302
    assert "Đã mở khoá officer." in flashes(admin_client.get("/admin/users"))
    assert user_named("officer").active is True
    assert login(app.test_client(), "officer").status_code == 302


def test_admin_cannot_deactivate_themselves(admin_client, users):
    response = set_active(admin_client, users[Role.admin].id, False)
    assert response.status_code == 302
    assert "Bạn không thể tự khoá tài khoản của mình." in flashes(admin_client.get("/admin/users"))
    assert user_named("admin").active is True
    assert logged_in(admin_client)


def test_users_are_never_deleted(app, admin_client, users):
    for rule in app.url_map.iter_rules():
        assert "DELETE" not in rule.methods, rule.rule
        assert "delete" not in rule.endpoint and "delete" not in rule.rule, rule.rule
    officer_id = users[Role.officer].id
    set_active(admin_client, officer_id, False)
    assert admin_client.delete(f"/admin/users/{officer_id}").status_code == 405
    assert db.session.get(User, officer_id) is not None


def test_users_list_search(admin_client, users):
    rows = table_rows(admin_client.get("/admin/users?q=LEAD"), "users-table")
    assert [r[0] for r in rows] == ["leader"]


# --- non-admins -------------------------------------------------------------------------------
@pytest.mark.parametrize("role", [r for r in ROLES if r is not Role.admin], ids=lambda r: r.value)
def test_non_admins_get_403_on_user_management(app, users, orgtree, role):
    client = app.test_client()
    login(client, username_of(role))
    target = users[Role.officer] if role is not Role.officer else users[Role.leader]
    token = csrf_token(client, "/")
    before = db_snapshot()
    for url, data in [
        ("/admin/users", None),
        ("/admin/users/new", None),
        (f"/admin/users/{target.id}", None),
        ("/admin/users/new", new_user_form(orgtree)),
        (f"/admin/users/{target.id}", edit_form(target, roles=["admin"])),
        (f"/admin/users/{users[role].id}", edit_form(users[role], roles=["admin"])),
        (f"/admin/users/{target.id}/active", {"active": "0"}),
        ("/admin/users/987654/active", {"active": "0"}),
    ]:
        if data is None:
            response = client.get(url)
        else:
            response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, (url, data is not None, response.status_code)
    assert db_snapshot() == before
