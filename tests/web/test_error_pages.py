"""Errors become friendly pages (or JSON for JSON clients), never a stack trace."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import Field
from tests.conftest import login
from tests.web.conftest import text

TRACE_MARKERS = ("Traceback", "File \"", "werkzeug", "sqlalchemy", "RuntimeError", "psycopg")


def assert_friendly(response, status, title, message):
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = text(response)
    assert "<html" in page and "QMS" in page  # the site's own layout, with its navigation
    assert f"Mã lỗi {status}" in page
    assert title in page and message in page
    assert 'href="/"' in page  # a way back
    for marker in TRACE_MARKERS:
        assert marker not in page, marker


def test_unknown_page_is_a_friendly_404(client):
    assert_friendly(client.get("/khong-co-trang-nay"), 404, "Không tìm thấy",
                    "Trang hoặc bản ghi bạn tìm không tồn tại.")


def test_unknown_record_is_a_friendly_404(app, users):
    client = app.test_client()
    login(client, "admin")
    assert_friendly(client.get("/admin/agencies/987654"), 404, "Không tìm thấy",
                    "Trang hoặc bản ghi bạn tìm không tồn tại.")


def test_forbidden_is_a_friendly_403(app, users):
    client = app.test_client()
    login(client, "officer")
    assert_friendly(client.get("/admin/users"), 403, "Không có quyền truy cập",
                    "Tài khoản của bạn không có quyền thực hiện thao tác này.")


def test_wrong_method_is_a_friendly_405(client):
    assert_friendly(client.get("/auth/logout"), 405, "Phương thức không được hỗ trợ",
                    "Thao tác này không thực hiện được theo cách đó.")


@pytest.mark.parametrize("accept", ["application/json", "application/json, text/plain;q=0.5"])
def test_json_clients_get_a_json_404(client, accept):
    response = client.get("/khong-co-trang-nay", headers={"Accept": accept})
    assert response.status_code == 404
    assert response.is_json
    assert response.json["error"]["status"] == 404
    assert response.json["error"]["title"] == "Không tìm thấy"
    assert response.json["error"]["message"]


def test_api_paths_answer_json_even_to_browsers(client):
    response = client.get("/api/khong-co", headers={"Accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 404 and response.is_json


def test_browsers_get_html_not_json(client):
    response = client.get("/khong-co-trang-nay",
                          headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert response.status_code == 404 and response.mimetype == "text/html"


# --- unexpected errors ----------------------------------------------------------------------------
SECRET_DETAIL = "bí mật nội bộ: mật khẩu DB là hunter2"


@pytest.fixture
def broken_view(app, monkeypatch):
    """Make /healthz fail the way a bug does: half-way through a change, with an exception
    whose text must never reach the user."""
    def boom():
        db.session.add(Field(code="HALF", name="Nửa chừng"))
        db.session.flush()
        raise RuntimeError(SECRET_DETAIL)

    monkeypatch.setitem(app.view_functions, "main.health", boom)
    return "/healthz"


def test_unexpected_exception_is_a_friendly_500(client, broken_view, caplog):
    with caplog.at_level(logging.ERROR):
        response = client.get(broken_view)
    assert_friendly(response, 500, "Lỗi hệ thống",
                    "Đã có lỗi ngoài ý muốn. Dữ liệu của bạn không bị thay đổi; vui lòng thử lại sau.")
    assert SECRET_DETAIL not in text(response) and "hunter2" not in text(response)
    # ... but the operators can find out what happened
    assert any("Unhandled error on GET /healthz" in r.getMessage() and r.exc_info
               for r in caplog.records)


def test_unexpected_exception_changes_nothing(client, broken_view):
    client.get(broken_view)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Field.id))) == 0


def test_unexpected_exception_for_json_clients(client, broken_view):
    response = client.get(broken_view, headers={"Accept": "application/json"})
    assert response.status_code == 500 and response.is_json
    assert response.json["error"]["status"] == 500
    assert SECRET_DETAIL not in response.get_data(as_text=True)


def test_app_keeps_working_after_an_unexpected_exception(app, users, broken_view):
    client = app.test_client()
    login(client, "admin")
    assert client.get(broken_view).status_code == 500
    assert client.get("/admin/agencies").status_code == 200


def test_logged_in_user_sees_the_error_inside_their_usual_layout(app, users, broken_view):
    client = app.test_client()
    login(client, "admin")
    page = text(client.get(broken_view))
    assert "Admin" in page and 'id="logout"' in page  # still logged in, menu intact


def test_database_failure_is_a_friendly_500(app, users, monkeypatch):
    """A failed statement (which on PostgreSQL aborts the transaction) still renders the
    page, logged-in menu and all: the handler rolls back before rendering."""
    def db_down():
        db.session.execute(sa.text("SELECT * FROM no_such_table"))

    monkeypatch.setitem(app.view_functions, "main.health", db_down)
    client = app.test_client()
    login(client, "admin")
    response = client.get("/healthz")
    assert 'id="logout"' in text(response)
    assert_friendly(response, 500, "Lỗi hệ thống", "Đã có lỗi ngoài ý muốn.")
    assert "no_such_table" not in text(response)



def test_every_page_has_the_icon(client):
    page = client.get("/tra-cuu").get_data(as_text=True)
    assert 'rel="icon" type="image/svg+xml" href="/static/favicon.svg"' in page
    icon = client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    conventional = client.get("/favicon.ico")
    assert conventional.status_code == 301 and conventional.location.endswith("/static/favicon.svg")
