"""The login flow in a real browser: each role's navigation, logout, a failed login, an
admin creating a user through the form, and the collapsed navbar on a phone-sized screen
(which proves Bootstrap's CSS and JS are served by the app itself, not by a CDN)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from qms.models import Role
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

GATED = {"Tổ chức", "Người dùng", "Nhật ký thay đổi"}  # nav entries not everybody may see
NAV_BY_ROLE = {
    Role.admin: {"Tổ chức", "Người dùng", "Nhật ký thay đổi"},
    Role.quality_officer: {"Tổ chức", "Nhật ký thay đổi"},
    Role.auditor: {"Tổ chức", "Nhật ký thay đổi"},
    Role.officer: {"Tổ chức"},
    Role.department_head: {"Tổ chức"},
    Role.leader: {"Tổ chức"},
}


def _screenshot(page, name: str) -> None:
    """Save a full-page screenshot when QMS_BROWSER_SCREENSHOTS names a folder."""
    folder = os.environ.get("QMS_BROWSER_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def at(path: str) -> re.Pattern:
    """The live server's URL for `path`, with or without a query string."""
    return re.compile(r"^http://127\.0\.0\.1:\d+" + re.escape(path) + r"(\?.*)?$")


def log_in(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/auth/login")
    form = page.locator("#login-form")
    form.locator("#username").fill(username)
    form.locator("#password").fill(password)
    form.locator("[type=submit]").click()


def nav_links(page) -> dict[str, str]:
    """Top-level entries of the role navigation: text → href."""
    links = page.locator("#role-nav > li > a.nav-link")
    return {links.nth(i).inner_text().strip(): links.nth(i).get_attribute("href")
            for i in range(links.count())}


def test_chromium_is_used(browser):
    assert browser.version  # launched Debian's Chromium, not a downloaded one


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
def test_each_role_logs_in_sees_its_navigation_and_logs_out(page, make_user, role):
    # Named like tests.conftest's `users` fixture; one account keeps the test fast.
    user = make_user(role.value.replace("_", ""), role)
    log_in(page, user.username)

    expect(page).to_have_url(at("/"))
    expect(page.locator("h1")).to_have_text(f"Xin chào, {user.full_name}")
    expect(page.locator(".alert-success")).to_contain_text(f"Xin chào, {user.full_name}.")
    expect(page.locator("#user-menu")).to_have_text(user.full_name)

    links = nav_links(page)
    assert {"Trang chủ", "Tài liệu", "Thủ tục hành chính"} <= set(links), links
    assert set(links) & GATED == NAV_BY_ROLE[role], links
    # Every page the navigation offers opens for this role (no link to a 403).
    for text, href in links.items():
        if href and href != "#":
            response = page.request.get(href)
            assert response.status == 200, (text, href, response.status)
    if role is Role.admin:
        assert links["Người dùng"].endswith("/admin/users")
        _screenshot(page, "dashboard-admin")
    if "Tổ chức" in links:  # a dropdown of the organisation pages
        page.locator("#role-nav a.dropdown-toggle", has_text="Tổ chức").click()
        expect(page.locator("#role-nav .dropdown-menu.show a.dropdown-item").first).to_be_visible()

    page.locator("#user-menu").click()
    logout = page.locator("#logout")
    expect(logout).to_be_visible()
    logout.click()

    expect(page).to_have_url(at("/auth/login"))
    expect(page.locator(".alert")).to_contain_text("Bạn đã đăng xuất.")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#user-menu")).to_have_count(0)
    # only the public catalogue of procedures stays: it needs no login
    assert nav_links(page) == {"Thủ tục hành chính": "/thu-tuc/", "Tra cứu hồ sơ": "/tra-cuu",
                               "Phản ánh, kiến nghị": "/gop-y"}
    # The session really ended: an inner page asks for a login again.
    response = page.request.get("/admin/audit-log", max_redirects=0)
    assert response.status == 302 and "/auth/login" in response.headers["location"]


def test_failed_login_stays_on_login_page(page, make_user):
    make_user("admin", Role.admin)
    log_in(page, "admin", "sai-mat-khau-123")

    expect(page).to_have_url(at("/auth/login"))
    expect(page.locator(".alert-danger")).to_have_text(
        re.compile(r"^\s*Tên đăng nhập hoặc mật khẩu không đúng\.\s*×?\s*$"))
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#login-form #password")).to_have_value("")
    expect(page.locator("#user-menu")).to_have_count(0)
    assert nav_links(page) == {"Thủ tục hành chính": "/thu-tuc/", "Tra cứu hồ sơ": "/tra-cuu",
                               "Phản ánh, kiến nghị": "/gop-y"}  # public
    _screenshot(page, "login-failed")


def test_admin_creates_a_user_through_the_form(page, make_user, orgtree):
    make_user("admin", Role.admin)
    log_in(page, "admin")
    expect(page.locator("#user-menu")).to_be_visible()
    page.locator("#role-nav").get_by_role("link", name="Người dùng").click()
    expect(page).to_have_url(at("/admin/users"))
    page.get_by_role("link", name="Thêm người dùng").click()
    expect(page).to_have_url(at("/admin/users/new"))

    form = page.locator("#user-form")
    form.locator("#username").fill("nguyenvana")
    form.locator("#full_name").fill("Nguyễn Văn Ấn")
    form.locator("#department_id").select_option(str(orgtree["culture"].id))
    form.locator("input[name=roles][value=officer]").check()
    form.locator("input[name=roles][value=auditor]").check()
    form.locator("#password").fill("Mot-mat-khau-moi-2026")
    form.locator("[type=submit]").click()

    expect(page).to_have_url(at("/admin/users"))
    expect(page.locator(".alert-success")).to_contain_text("Đã tạo người dùng nguyenvana.")
    row = page.locator("#users-table tbody tr", has_text="nguyenvana")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("Nguyễn Văn Ấn")
    expect(row.locator("td").nth(2)).to_have_text("A-VHXH")
    expect(row.locator("td").nth(3)).to_contain_text("Cán bộ, công chức")
    expect(row.locator("td").nth(3)).to_contain_text("Chuyên gia đánh giá")
    expect(row.locator("td").nth(3).locator(".badge")).to_have_count(2)

    # The new account works: log out, log in as it.
    page.locator("#user-menu").click()
    page.locator("#logout").click()
    expect(page.locator(".alert")).to_contain_text("Bạn đã đăng xuất.")
    log_in(page, "nguyenvana", "Mot-mat-khau-moi-2026")
    expect(page.locator("h1")).to_have_text("Xin chào, Nguyễn Văn Ấn")
    expect(page.locator("#my-roles .badge")).to_have_count(2)


def test_mobile_navbar_collapses_and_assets_are_local(fresh_page, make_user):
    page = fresh_page
    make_user("admin", Role.admin)
    requests, failures, errors = [], [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("requestfailed", lambda request: failures.append(request.url))
    page.on("response", lambda response: response.status >= 400 and failures.append(
        f"{response.status} {response.url}"))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_viewport_size({"width": 375, "height": 740})

    page.goto("/auth/login")
    _screenshot(page, "login-mobile")
    log_in(page, "admin")
    expect(page.locator("#my-roles")).to_be_visible()

    toggler = page.locator("button.navbar-toggler")
    menu = page.locator("#mainnav")
    home = page.locator("#role-nav").get_by_role("link", name="Trang chủ")
    expect(toggler).to_be_visible()           # Bootstrap's CSS is applied…
    expect(menu).not_to_be_visible()
    expect(home).not_to_be_visible()
    expect(toggler).to_have_attribute("aria-expanded", "false")

    toggler.click()                           # …and its JS opens the menu
    expect(menu).to_have_class(re.compile(r"\bshow\b"))
    expect(home).to_be_visible()
    expect(page.locator("#role-nav").get_by_role("link", name="Người dùng")).to_be_visible()
    expect(page.locator("#user-menu")).to_be_visible()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    _screenshot(page, "dashboard-mobile-menu")

    toggler.click()
    expect(menu).not_to_be_visible()

    # Every request went to the app itself; Bootstrap came from it too.
    web = [url for url in requests if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    foreign = [url for url in web if urlsplit(url).hostname != "127.0.0.1"]
    assert not foreign, foreign
    assert any(re.search(r"/bootstrap[^/]*\.min\.css", url) for url in web), web
    assert any(re.search(r"/bootstrap[^/]*\.min\.js", url) for url in web), web
    assert not failures, failures
    assert not errors, errors


def test_wide_screen_shows_the_menu_without_toggler(page, make_user):
    make_user("qualityofficer", Role.quality_officer)
    log_in(page, "qualityofficer")
    expect(page.locator("button.navbar-toggler")).not_to_be_visible()
    expect(page.locator("#role-nav").get_by_role("link", name="Nhật ký thay đổi")).to_be_visible()
    _screenshot(page, "dashboard-qualityofficer")
