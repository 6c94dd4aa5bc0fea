"""Logging in and out, throttling, passwords and the session cookie."""
from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
import sqlalchemy as sa

from qms import create_app
from qms.extensions import db
from qms.models import AuditLog, LoginSession, Role, User
from tests.conftest import PASSWORD, csrf_token, login, post_form
from tests.web.conftest import field_errors, flashes, logged_in, text

WRONG = "Sai-mat-khau-99"
BAD_LOGIN = "Tên đăng nhập hoặc mật khẩu không đúng."
NEW_PASSWORD = "Doi-mat-khau-2027"


# --- logging in -------------------------------------------------------------------------------
def test_login_with_right_password_logs_in_and_greets(client, users):
    assert not logged_in(client)
    response = login(client, "officer")
    assert response.status_code == 302
    assert response.location == "/"
    page = client.get("/")
    assert "Xin chào, Officer." in flashes(page)
    assert logged_in(client)


def test_login_is_case_insensitive_on_the_username(client, users):
    assert login(client, "  OFFICER ").status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize("username,password", [
    ("officer", WRONG),               # wrong password
    ("khongtontai", PASSWORD),        # unknown user: same message, no hint which was wrong
    ("officer", PASSWORD.lower()),    # passwords are case-sensitive
])
def test_login_failure_says_so_clearly_and_does_not_log_in(client, users, username, password):
    response = login(client, username, password)
    assert response.status_code == 200
    assert BAD_LOGIN in flashes(response)
    assert not logged_in(client)


def test_deactivated_user_cannot_log_in(client, users):
    officer = users[Role.officer]
    officer.active = False
    db.session.commit()
    response = login(client, "officer")
    assert response.status_code == 200
    assert BAD_LOGIN in flashes(response)
    assert not logged_in(client)


def test_logged_in_user_visiting_login_page_goes_home(client, users):
    login(client, "officer")
    response = client.get("/auth/login")
    assert response.status_code == 302 and response.location == "/"


# --- next= ------------------------------------------------------------------------------------
def test_login_returns_to_the_local_page_asked_for(client, users):
    response = client.get("/admin/agencies")
    assert response.status_code == 302
    assert response.location.startswith("/auth/login?next=")
    token = csrf_token(client)
    response = client.post("/auth/login?next=/admin/agencies",
                           data={"username": "officer", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    assert response.location == "/admin/agencies"


@pytest.mark.parametrize("target", [
    "https://evil.example/",
    "http://evil.example/admin",
    "//evil.example/",
    "/\\evil.example/",           # browsers read a backslash as a slash: //evil.example
    "\\\\evil.example/",
    "/\t/evil.example/",          # browsers drop tabs and newlines inside URLs
    "/\n/evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "///evil.example/",
])
def test_login_never_redirects_off_site(client, users, target):
    token = csrf_token(client)
    response = client.post("/auth/login", query_string={"next": target},
                           data={"username": "officer", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    # Read the Location header as a browser does (backslash = slash, tabs and newlines
    # dropped): it must stay on this site.
    seen = re.sub(r"[\t\n\r]", "", response.location.replace("\\", "/"))
    where = urlsplit(urljoin("https://qms.example/auth/login", seen))
    assert (where.scheme, where.netloc) == ("https", "qms.example"), response.location
    assert "evil.example" not in where.netloc


# --- logging out ------------------------------------------------------------------------------
def test_logout_is_a_post_with_csrf_and_ends_the_session(client, users):
    login(client, "officer")
    assert client.get("/auth/logout").status_code == 405
    assert logged_in(client)

    response = client.post("/auth/logout")  # no CSRF token: refused, still logged in
    assert response.status_code == 400
    assert logged_in(client)

    response = post_form(client, "/auth/logout", {}, token_from="/")
    assert response.status_code == 302
    assert response.location == "/auth/login"
    assert "Bạn đã đăng xuất." in flashes(client.get("/auth/login"))
    assert not logged_in(client)
    assert client.get("/admin/agencies").status_code == 302


def test_logout_of_one_browser_leaves_the_other_logged_in(app, users):
    """Logging out ends this browser's login only (a shared desk computer must not end the
    officer's session on the phone); a password change ends them all (below)."""
    first, second = app.test_client(), app.test_client()
    login(first, "officer")
    login(second, "officer")
    post_form(first, "/auth/logout", {}, token_from="/")
    assert not logged_in(first)
    assert logged_in(second)


def _copy_cookies(source, target, *names):
    for name in names:
        cookie = source.get_cookie(name)
        assert cookie is not None, name
        target.set_cookie(name, cookie.value)


def test_a_session_cookie_copied_before_logout_is_refused_after_it(app, users):
    browser, thief = app.test_client(), app.test_client()
    login(browser, "officer")
    _copy_cookies(browser, thief, "session")
    assert logged_in(thief)  # the copy works while the login lasts ...

    post_form(browser, "/auth/logout", {}, token_from="/")
    assert not logged_in(thief)  # ... and not after it ended
    response = thief.get("/admin/agencies")
    assert response.status_code == 302 and response.location.startswith("/auth/login")


def test_a_remember_me_cookie_copied_before_logout_is_refused_after_it(app, users):
    browser, thief = app.test_client(), app.test_client()
    login(browser, "officer", remember="y")
    _copy_cookies(browser, thief, "remember_token")
    assert logged_in(thief)  # the remember-me cookie alone logs in while the login lasts

    post_form(browser, "/auth/logout", {}, token_from="/")
    thief.delete_cookie("session")
    assert not logged_in(thief)


def test_each_login_is_on_record_and_logout_ends_it(app, users):
    browser = app.test_client()
    login(browser, "officer")
    with app.app_context():
        row = db.session.scalars(sa.select(LoginSession).join(User).where(User.username == "officer")).one()
        assert row.ended_at is None and row.user_agent and row.address == "127.0.0.1"
        assert len(row.key_hash) == 64  # only a hash of the cookie's key is kept
    post_form(browser, "/auth/logout", {}, token_from="/")
    with app.app_context():
        assert db.session.get(LoginSession, row.id).ended_at is not None


# --- throttling -------------------------------------------------------------------------------
def test_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(client, users):
    for _ in range(5):
        response = login(client, "officer", WRONG)
        assert response.status_code == 200
        assert BAD_LOGIN in flashes(response)
    response = login(client, "officer", PASSWORD)
    assert response.status_code == 429
    page = text(response)
    assert "Quá nhiều yêu cầu" in page
    assert "Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút." in page
    assert "Traceback" not in page
    assert not logged_in(client)


def test_throttling_counts_one_username_whatever_its_case(client, users):
    for name in ("officer", "OFFICER", " Officer", "officer ", "oFFicer"):
        assert login(client, name, WRONG).status_code == 200
    assert login(client, "officer").status_code == 429


def test_throttling_is_per_username(client, users):
    for _ in range(5):
        login(client, "officer", WRONG)
    assert login(client, "officer").status_code == 429
    assert login(client, "leader").status_code == 302  # another account is not locked out


def test_successful_login_does_not_count_towards_the_limit(client, users):
    for _ in range(4):
        assert login(client, "officer", WRONG).status_code == 200
    assert login(client, "officer").status_code == 302
    post_form(client, "/auth/logout", {}, token_from="/")
    # Had the success counted, this fifth failure would already be refused.
    response = login(client, "officer", WRONG)
    assert response.status_code == 200
    assert BAD_LOGIN in flashes(response)
    assert login(client, "officer", PASSWORD).status_code == 429


def test_many_successful_logins_are_never_throttled(app, users):
    for _ in range(8):
        client = app.test_client()
        assert login(client, "officer").status_code == 302


# --- changing one's own password --------------------------------------------------------------
def change_password(client, current, new, confirm=None):
    return post_form(client, "/auth/password", {
        "current_password": current, "new_password": new,
        "confirm": new if confirm is None else confirm})


def _hash(username):
    db.session.expire_all()
    return db.session.scalar(sa.select(User.password_hash).where(User.username == username))


def test_change_password_needs_login(client):
    response = client.get("/auth/password")
    assert response.status_code == 302
    assert response.location.startswith("/auth/login?next=")


def test_change_password_refuses_a_wrong_current_password(client, users):
    login(client, "officer")
    before = _hash("officer")
    response = change_password(client, WRONG, NEW_PASSWORD)
    assert response.status_code == 200
    assert "Mật khẩu hiện tại không đúng." in field_errors(response)
    assert _hash("officer") == before


@pytest.mark.parametrize("weak,message", [
    ("ngan-1", "Mật khẩu phải có ít nhất 10 ký tự."),
    ("chicochucai", "Mật khẩu phải có cả chữ cái và chữ số hoặc ký hiệu."),
    ("1234567890", "Mật khẩu phải có cả chữ cái và chữ số hoặc ký hiệu."),
    ("password123", "Mật khẩu quá dễ đoán."),
    ("officer-2026-x", "Mật khẩu không được chứa tên đăng nhập."),
    (PASSWORD, "Mật khẩu mới phải khác mật khẩu hiện tại."),
])
def test_change_password_refuses_a_weak_password_with_a_message(client, users, weak, message):
    login(client, "officer")
    before = _hash("officer")
    response = change_password(client, PASSWORD, weak)
    assert response.status_code == 200
    assert message in field_errors(response)
    assert _hash("officer") == before


def test_change_password_refuses_a_mismatched_confirmation(client, users):
    login(client, "officer")
    before = _hash("officer")
    response = change_password(client, PASSWORD, NEW_PASSWORD, confirm=NEW_PASSWORD + "x")
    assert response.status_code == 200
    assert "Hai mật khẩu không khớp." in field_errors(response)
    assert _hash("officer") == before


def test_change_password_ends_other_sessions_but_keeps_this_one(app, users):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "officer")
    login(elsewhere, "officer")
    other_user = app.test_client()
    login(other_user, "leader")

    response = change_password(here, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response.location == "/"
    assert "Đã đổi mật khẩu. Các phiên đăng nhập khác đã kết thúc." in flashes(here.get("/"))

    assert logged_in(here)
    assert not logged_in(elsewhere)
    response = elsewhere.get("/admin/agencies")
    assert response.status_code == 302 and response.location.startswith("/auth/login")
    assert logged_in(other_user)  # other people's sessions are untouched

    # the new password works, the old one no longer does
    assert login(app.test_client(), "officer", PASSWORD).status_code == 200
    assert login(app.test_client(), "officer", NEW_PASSWORD).status_code == 302


def test_remember_me_cookie_does_not_survive_a_password_change(app, users):
    """The remember-me cookie carries the session token too, so it dies with the others."""
    here, remembered = app.test_client(), app.test_client()
    login(here, "officer")
    login(remembered, "officer", remember="y")
    assert remembered.get_cookie("remember_token") is not None
    change_password(here, PASSWORD, NEW_PASSWORD)
    # Drop the session cookie, as a browser does on restart: only remember_token is left.
    remembered.delete_cookie("session")
    assert not logged_in(remembered)


def test_admin_deactivating_a_user_ends_their_live_session(app, users):
    victim, admin = app.test_client(), app.test_client()
    login(victim, "officer")
    login(admin, "admin")
    assert logged_in(victim)
    officer_id = users[Role.officer].id
    response = post_form(admin, f"/admin/users/{officer_id}/active", {"active": "0"},
                         token_from="/admin/users")
    assert response.status_code == 302
    assert not logged_in(victim)
    assert victim.get("/admin/agencies").status_code == 302
    assert logged_in(admin)


# --- cookies ----------------------------------------------------------------------------------
def _session_set_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, "no session cookie set"
    return cookies[0]


def test_session_cookie_is_httponly_and_samesite_lax(client, users):
    cookie = _session_set_cookie(client.get("/auth/login")).lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "; secure" not in cookie  # the test app is configured for plain HTTP


def test_login_and_remember_cookies_carry_the_flags(client, users):
    token = csrf_token(client)
    response = client.post("/auth/login", data={"username": "officer", "password": PASSWORD,
                                                "remember": "y", "csrf_token": token})
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.getlist("Set-Cookie")}
    assert {"session", "remember_token"} <= set(cookies)
    for cookie in (cookies["session"], cookies["remember_token"]):
        assert "httponly" in cookie and "samesite=lax" in cookie


@pytest.fixture
def secure_app(app):
    """A second app, built by the real factory with SECURE_COOKIES on (the production
    default), on the same database as the test app."""
    overrides = {key: app.config[key] for key in
                 ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "SECRET_KEY",
                  "RATELIMIT_STORAGE_URI")}
    secure = create_app({"TESTING": True, "SECURE_COOKIES": True, **overrides})
    yield secure
    with secure.app_context():
        db.engine.dispose()


def test_secure_cookies_setting_marks_cookies_secure(secure_app, users):
    assert secure_app.config["SESSION_COOKIE_SECURE"] is True
    assert secure_app.config["REMEMBER_COOKIE_SECURE"] is True
    client = secure_app.test_client()
    response = client.get("/auth/login", base_url="https://localhost")
    cookie = _session_set_cookie(response).lower()
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_production_default_is_secure_cookies():
    from qms.config import Config
    assert Config.SECURE_COOKIES is True
    assert Config.SESSION_COOKIE_HTTPONLY is True and Config.SESSION_COOKIE_SAMESITE == "Lax"


# --- the attempts are on record -----------------------------------------------------------------
def test_login_attempts_are_on_record(client, users):
    login(client, "officer", WRONG)
    login(client, "officer")
    post_form(client, "/auth/logout", {}, token_from="/")
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action.like("auth.%"))
                              .order_by(AuditLog.id)).all()
    assert [(r.action, r.actor_name) for r in rows] == [
        ("auth.login_failed", "anonymous"), ("auth.login", "officer"), ("auth.logout", "officer")]
    assert rows[0].note == "officer" and rows[0].actor_id is None
    assert rows[1].actor_id == rows[2].actor_id == users[Role.officer].id
    assert rows[1].entity_type == "user_account" and rows[1].entity_id == users[Role.officer].id
    assert all(r.remote_addr == "127.0.0.1" for r in rows)


# --- behind a reverse proxy ----------------------------------------------------------------------
@pytest.fixture
def proxied_app(app):
    """The real factory with one trusted proxy (QMS_PROXY_HOPS=1), on the test database."""
    overrides = {key: app.config[key] for key in
                 ("SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS", "SECRET_KEY")}
    proxied = create_app({"TESTING": True, "SECURE_COOKIES": False, "PROXY_HOPS": 1,
                          "RATELIMIT_STORAGE_URI": "memory://", **overrides})
    yield proxied
    with proxied.app_context():
        db.engine.dispose()


def _login_from(client, address: str, username: str, password: str):
    token = csrf_token(client)
    return client.post("/auth/login", headers={"X-Forwarded-For": address},
                       data={"username": username, "password": password, "csrf_token": token})


def test_behind_a_proxy_one_client_cannot_lock_out_the_others(proxied_app, users):
    attacker, colleague = proxied_app.test_client(), proxied_app.test_client()
    limit = int(proxied_app.config["LOGIN_FAILURE_LIMIT_PER_ADDRESS"].split()[0])
    for attempt in range(limit + 1):  # junk names, so only the per-address limit counts
        _login_from(attacker, "203.0.113.9", f"khongco{attempt}", WRONG)
    assert _login_from(attacker, "203.0.113.9", "officer", PASSWORD).status_code == 429
    # Another citizen behind the same proxy still logs in, from their own address.
    assert _login_from(colleague, "198.51.100.7", "officer", PASSWORD).status_code == 302
    with proxied_app.app_context():
        rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "auth.login")).all()
        assert [r.remote_addr for r in rows] == ["198.51.100.7"]


def test_without_a_proxy_the_header_is_not_believed(app, client, users):
    assert app.config["PROXY_HOPS"] == 0
    _login_from(client, "203.0.113.9", "officer", WRONG)
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "auth.login_failed")).one()
    assert row.remote_addr == "127.0.0.1"
