"""The audit log: who changed what (and never a secret), the page that shows it, and that
nobody can rewrite it — neither through the ORM nor in raw SQL, on either database."""
from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from qms import clock
from qms.extensions import db
from qms.models import Agency, AuditLog, Department, Role, User
from qms.models.audit_log import AppendOnlyError
from tests.conftest import PASSWORD, login, post_form
from tests.web.conftest import table_rows

NEW_PASSWORD = "Mat-khau-moi-2027"


def rows(**where) -> list[AuditLog]:
    db.session.expire_all()
    query = sa.select(AuditLog).order_by(AuditLog.id)
    for key, value in where.items():
        query = query.where(getattr(AuditLog, key) == value)
    return db.session.scalars(query).all()


def all_audit_text() -> str:
    return json.dumps([[r.action, r.actor_name, r.changes, r.note] for r in rows()],
                      ensure_ascii=False)


def user_form(orgtree, **overrides):
    return {"username": "nguyenvana", "full_name": "Nguyễn Văn A", "email": "",
            "department_id": str(orgtree["culture"].id), "roles": ["officer"],
            "password": NEW_PASSWORD, **overrides}


# --- what gets written --------------------------------------------------------------------------
def test_creating_a_user_is_recorded_without_the_password(admin_client, users, orgtree):
    admin = users[Role.admin]
    post_form(admin_client, "/admin/users/new", user_form(orgtree, roles=["officer", "leader"]))
    user = db.session.scalar(sa.select(User).where(User.username == "nguyenvana"))

    created = rows(action="user_account.created")
    created = [r for r in created if r.entity_id == user.id]
    assert len(created) == 1
    row = created[0]
    assert (row.actor_name, row.actor_id) == ("admin", admin.id)
    assert (row.entity_type, row.entity_id) == ("user_account", user.id)
    assert row.changes["username"] == "nguyenvana"
    assert row.changes["full_name"] == "Nguyễn Văn A"
    assert row.changes["department_id"] == orgtree["culture"].id
    assert row.changes["active"] is True
    assert row.changes["password_hash"] == "***" and row.changes["session_token"] == "***"
    assert row.remote_addr == "127.0.0.1"

    roles = [r for r in rows(action="user.roles_set") if r.entity_id == user.id]
    assert len(roles) == 1
    assert roles[0].actor_name == "admin"
    assert roles[0].changes == {"roles": ["leader", "officer"]}

    everything = all_audit_text()
    assert user.password_hash not in everything
    assert user.session_token not in everything
    assert NEW_PASSWORD not in everything


def test_updating_a_user_records_old_and_new_values(admin_client, users, orgtree):
    officer = users[Role.officer]
    old_department = officer.department_id
    post_form(admin_client, f"/admin/users/{officer.id}", {
        "username": "officer", "full_name": "Trần Thị B", "email": "",
        "department_id": str(orgtree["culture"].id), "roles": ["officer", "auditor"],
        "password": ""})
    updated = [r for r in rows(action="user_account.updated") if r.entity_id == officer.id]
    assert len(updated) == 1
    assert updated[0].actor_name == "admin"
    assert updated[0].entity_type == "user_account"
    assert updated[0].changes == {"full_name": ["Officer", "Trần Thị B"],
                                  "department_id": [old_department, orgtree["culture"].id]}
    roles = [r for r in rows(action="user.roles_set") if r.entity_id == officer.id]
    assert roles[-1].changes == {"roles": [["officer"], ["auditor", "officer"]]}
    assert roles[-1].actor_name == "admin"


def test_password_reset_and_deactivation_are_recorded_without_secrets(admin_client, users):
    officer = users[Role.officer]
    old_hash, old_token = officer.password_hash, officer.session_token
    post_form(admin_client, f"/admin/users/{officer.id}", {
        "username": "officer", "full_name": officer.full_name, "email": "",
        "department_id": str(officer.department_id), "roles": ["officer"],
        "password": NEW_PASSWORD})
    post_form(admin_client, f"/admin/users/{officer.id}/active", {"active": "0"},
              token_from="/admin/users")

    updated = [r for r in rows(action="user_account.updated") if r.entity_id == officer.id]
    assert len(updated) == 2
    reset, deactivated = updated
    assert reset.changes["password_hash"] == ["***", "***"]
    assert reset.changes["session_token"] == ["***", "***"]
    assert "password_changed_at" in reset.changes
    assert deactivated.changes == {"active": [True, False], "session_token": ["***", "***"]}
    assert all(r.actor_name == "admin" for r in updated)
    changed = [r for r in rows(action="user.password_changed") if r.entity_id == officer.id]
    assert len(changed) == 1 and changed[0].actor_name == "admin"

    db.session.refresh(officer)
    everything = all_audit_text()
    for secret in (old_hash, officer.password_hash, old_token, officer.session_token,
                   NEW_PASSWORD, PASSWORD):
        assert secret not in everything


def test_own_password_change_is_recorded_as_the_user(client, users):
    login(client, "officer")
    post_form(client, "/auth/password", {"current_password": PASSWORD,
                                         "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    changed = rows(action="user.password_changed")
    assert [(r.actor_name, r.entity_id) for r in changed] == [("officer", users[Role.officer].id)]
    assert NEW_PASSWORD not in all_audit_text() and PASSWORD not in all_audit_text()


def test_agency_and_department_changes_are_recorded(admin_client, users, orgtree):
    ward = orgtree["ward"]
    post_form(admin_client, "/admin/agencies/new", {
        "code": "TP-B", "name": "Phường Bình An", "level": "commune",
        "parent_id": str(orgtree["province"].id), "effective_from": "2025-07-01",
        "effective_to": "", "successor_id": "0"})
    new_agency = db.session.scalar(sa.select(Agency).where(Agency.code == "TP-B"))
    created = [r for r in rows(action="agency.created") if r.entity_id == new_agency.id]
    assert len(created) == 1 and created[0].actor_name == "admin"
    assert created[0].entity_type == "agency"
    assert created[0].changes == {"code": "TP-B", "name": "Phường Bình An", "level": "commune",
                                  "parent_id": orgtree["province"].id,
                                  "effective_from": "2025-07-01"}

    post_form(admin_client, f"/admin/agencies/{ward.id}", {
        "code": "TP-A", "name": "Phường An Hòa Mới", "level": "commune",
        "parent_id": str(orgtree["province"].id), "effective_from": "2025-07-01",
        "effective_to": "2026-01-01", "successor_id": str(new_agency.id)})
    updated = [r for r in rows(action="agency.updated") if r.entity_id == ward.id]
    assert len(updated) == 1 and updated[0].actor_name == "admin"
    assert updated[0].changes == {"name": ["Phường An Hòa", "Phường An Hòa Mới"],
                                  "effective_to": [None, "2026-01-01"],
                                  "successor_id": [None, new_agency.id]}

    post_form(admin_client, "/admin/departments/new", {
        "code": "A-TP", "name": "Phòng Tư pháp", "agency_id": str(ward.id), "active": "y"})
    department = db.session.scalar(sa.select(Department).where(Department.code == "A-TP"))
    created = [r for r in rows(action="department.created") if r.entity_id == department.id]
    assert len(created) == 1 and created[0].actor_name == "admin"
    assert created[0].changes["code"] == "A-TP" and created[0].changes["agency_id"] == ward.id

    culture = orgtree["culture"]
    post_form(admin_client, f"/admin/departments/{culture.id}", {
        "code": "A-VHXH", "name": "Phòng Văn hóa", "agency_id": str(ward.id)})  # inactive
    updated = [r for r in rows(action="department.updated") if r.entity_id == culture.id]
    assert len(updated) == 1 and updated[0].actor_name == "admin"
    assert updated[0].entity_type == "department"
    assert updated[0].changes == {"name": ["Phòng Văn hóa - Xã hội", "Phòng Văn hóa"],
                                  "active": [True, False]}


def test_refused_changes_leave_no_audit_rows(admin_client, users, orgtree):
    before = len(rows())
    post_form(admin_client, "/admin/users/new", user_form(orgtree, username="OFFICER"))
    post_form(admin_client, "/admin/users/new", user_form(orgtree, password="yeu"))
    post_form(admin_client, "/admin/agencies/new", {
        "code": "TP", "name": "Trùng", "level": "province", "parent_id": "0",
        "effective_from": "2025-07-01", "effective_to": "", "successor_id": "0"})
    assert len(rows()) == before


def test_logins_failures_and_logouts_are_recorded(app, users):
    officer = users[Role.officer]
    client = app.test_client()
    login(client, "officer", "Sai-mat-khau-1")
    login(client, "khongtontai", "Sai-mat-khau-2")
    login(client, "officer")
    post_form(client, "/auth/logout", {}, token_from="/")
    auth_rows = [r for r in rows() if r.action.startswith("auth.")]
    assert [(r.action, r.actor_name, r.actor_id, r.note) for r in auth_rows] == [
        ("auth.login_failed", "anonymous", None, "officer"),
        ("auth.login_failed", "anonymous", None, "khongtontai"),
        ("auth.login", "officer", officer.id, None),
        ("auth.logout", "officer", officer.id, None),
    ]
    assert "Sai-mat-khau" not in all_audit_text()


# --- the page -----------------------------------------------------------------------------------
def audit_page(client, **args):
    response = client.get("/admin/audit-log", query_string=args)
    assert response.status_code == 200
    return table_rows(response, "audit-table")


def test_page_lists_changes_newest_first(admin_client, users, orgtree):
    officer = users[Role.officer]
    post_form(admin_client, f"/admin/users/{officer.id}", {
        "username": "officer", "full_name": "Trần Thị B", "email": "",
        "department_id": str(officer.department_id), "roles": ["officer"], "password": ""})
    listed = audit_page(admin_client)
    assert len(listed) == len(rows())
    first = listed[0]  # newest first
    assert first[1] == "admin" and first[2] == "Tài khoản · sửa"  # the code "user_account.updated" as its title
    assert first[3] == f"Tài khoản #{officer.id}"
    assert "full_name" in first[4] and "Officer → Trần Thị B" in first[4]


def test_filter_by_actor(app, admin_client, users, orgtree):
    quality = app.test_client()
    login(quality, "qualityofficer")
    listed = audit_page(admin_client, actor="qualityofficer")
    assert listed and {r[1] for r in listed} == {"qualityofficer"}
    assert {r[1] for r in audit_page(admin_client, actor=" QualityOfficer ")} == {"qualityofficer"}
    assert {r[1] for r in audit_page(quality, actor="admin")} == {"admin"}


def test_filter_by_entity_type_and_id(admin_client, users, orgtree):
    listed = audit_page(admin_client, entity_type="agency")
    assert {r[3].split(" #")[0] for r in listed} == {"Cơ quan"}
    assert len(listed) == 2  # the province and the ward of `orgtree`
    ward = orgtree["ward"]
    listed = audit_page(admin_client, entity_type="agency", entity_id=str(ward.id))
    assert [r[3] for r in listed] == [f"Cơ quan #{ward.id}"]
    listed = audit_page(admin_client, entity_type="department")
    assert len(listed) == 4 and {r[2] for r in listed} == {"Phòng ban · tạo mới"}


def test_filter_by_action(admin_client, users, orgtree):
    listed = audit_page(admin_client, action="auth.login")
    assert listed and {r[2] for r in listed} == {"Đăng nhập"}
    assert [r[1] for r in listed] == ["admin"]
    listed = audit_page(admin_client, action="user")  # a prefix: user.*, user_account.*
    assert listed and all(r[2].startswith("Tài khoản") for r in listed)
    assert audit_page(admin_client, action="nothing.like.this") == [["Không có bản ghi nào."]]


def test_filter_by_date_uses_vietnam_days(app, users, orgtree):
    utc = UTC
    # 16:30 UTC on 1 March is 23:30 in Hà Nội; 17:30 UTC is already 00:30 on 2 March there.
    late_evening = datetime(2026, 3, 1, 16, 30, tzinfo=utc)
    after_midnight = datetime(2026, 3, 1, 17, 30, tzinfo=utc)
    client = app.test_client()
    with clock.frozen(late_evening):
        login(client, "admin")
        post_form(client, "/admin/fields/new", {"code": "HT", "name": "Hộ tịch", "active": "y"})
    with clock.frozen(after_midnight):
        post_form(client, "/admin/fields/new", {"code": "DD", "name": "Đất đai", "active": "y"})

    on_first = audit_page(client, entity_type="field", date_from="2026-03-01", date_to="2026-03-01")
    assert len(on_first) == 1
    assert on_first[0][0] == "01/03/2026 23:30:00" and "HT" in on_first[0][4]
    on_second = audit_page(client, entity_type="field", date_from="2026-03-02")
    assert len(on_second) == 1
    assert on_second[0][0] == "02/03/2026 00:30:00" and "DD" in on_second[0][4]
    assert len(audit_page(client, entity_type="field", date_to="2026-03-02")) == 2
    assert audit_page(client, entity_type="field", date_to="2026-02-28") == [["Không có bản ghi nào."]]


def test_filters_combine(app, admin_client, users, orgtree):
    login(app.test_client(), "leader")
    listed = audit_page(admin_client, actor="leader", action="auth.")
    assert [(r[1], r[2]) for r in listed] == [("leader", "Đăng nhập")]
    assert audit_page(admin_client, actor="leader", entity_type="agency") == [["Không có bản ghi nào."]]


@pytest.mark.parametrize("args", [
    {"date_from": "hôm qua", "actor": "leader"},
    {"date_to": "31/02/2026"},
    {"entity_type": "no_such_table"},
])
def test_unreadable_filter_says_so_and_does_not_show_everything(admin_client, users, args):
    response = admin_client.get("/admin/audit-log", query_string=args)
    assert response.status_code == 200
    errors = re.findall(r'class="(?:text-danger|invalid-feedback)[^"]*">([^<]+)<',
                        response.get_data(as_text=True))
    assert errors, "the field's error is shown"
    # Not the whole log as if it were filtered: nobody named "leader" has done anything yet.
    assert table_rows(response, "audit-table") == [["Không có bản ghi nào."]]


# --- append-only --------------------------------------------------------------------------------
@pytest.fixture
def audit_row(users) -> AuditLog:
    row = rows()[0]
    assert row.id is not None
    return row


def test_orm_update_is_refused(audit_row):
    original = audit_row.actor_name
    audit_row.actor_name = "someone-else"
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    assert rows(id=audit_row.id)[0].actor_name == original


def test_orm_delete_is_refused(audit_row):
    before = len(rows())
    db.session.delete(audit_row)
    with pytest.raises(AppendOnlyError):
        db.session.flush()
    db.session.rollback()
    assert len(rows()) == before


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor_name = 'someone-else'",
    "UPDATE audit_log SET changes = NULL WHERE id = :id",
    "DELETE FROM audit_log WHERE id = :id",
    "DELETE FROM audit_log",
])
def test_raw_sql_rewrite_is_refused_by_the_database(audit_row, statement):
    snapshot = [(r.id, r.actor_name, r.action, r.changes) for r in rows()]
    with pytest.raises(sa.exc.DatabaseError):
        db.session.execute(sa.text(statement), {"id": audit_row.id})
        db.session.commit()
    db.session.rollback()
    assert [(r.id, r.actor_name, r.action, r.changes) for r in rows()] == snapshot


def test_raw_sql_rewrite_is_refused_on_a_connection_of_its_own(audit_row):
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.update(AuditLog).where(AuditLog.id == audit_row.id)
                     .values(action="forged"))
    assert rows(id=audit_row.id)[0].action == audit_row.action


def test_inserting_new_rows_still_works(users):
    from qms.services import audit_log
    before = len(rows())
    audit_log.record(db.session, "test.appended", None, note="ok")
    db.session.commit()
    assert len(rows()) == before + 1


def test_every_audited_record_kind_has_a_readable_label():
    """Issue 15: the page names record kinds and actions in words, not table names."""
    from qms.models.base import Base
    from qms.services.audit_labels import ENTITY_LABELS, action_label

    audited = {mapper.class_.__tablename__ for mapper in Base.registry.mappers
               if getattr(mapper.class_, "__audited__", False)}
    assert audited - set(ENTITY_LABELS) == set()
    assert action_label("dossier_step.completed") == "Bước xử lý hồ sơ · hoàn thành"
    assert action_label("something.new") == "something · new"  # unknown: shown as written
