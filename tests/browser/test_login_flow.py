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

from qms.extensions import db
from qms.models import Role
from qms.models.notifications import Notification, NotificationKind
from qms.services import accounts
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

COMMON = {"Trang chủ", "Tài liệu", "Thủ tục hành chính"}  # every signed-in user
ORG = {"Cơ quan, đơn vị", "Phòng ban", "Lĩnh vực", "Lịch làm việc"}  # under "Quản trị"
QUALITY = {"Sự không phù hợp", "Hành động khắc phục", "Đánh giá nội bộ", "Phản ánh, kiến nghị",
           "Xem xét của lãnh đạo", "Giao ban tháng"}  # the whole "Chất lượng" menu
# Every entry (top-level link or dropdown item) each role sees, and nothing else.
NAV_BY_ROLE = {
    Role.admin: COMMON | ORG | {"Sổ theo dõi hồ sơ", "Sự không phù hợp", "Đánh giá nội bộ",
                                "Giao ban tháng", "Người dùng", "Mã truy cập API",
                                "Đồng bộ hồ sơ", "Nhật ký thay đổi"},
    Role.quality_officer: COMMON | ORG | QUALITY | {"Sổ theo dõi hồ sơ", "Đồng bộ hồ sơ", "Nhật ký thay đổi"},
    Role.auditor: COMMON | ORG | QUALITY | {"Sổ theo dõi hồ sơ", "Nhật ký thay đổi"},
    # in a department that is not the one-stop desk: no "Tiếp nhận hồ sơ"
    Role.officer: COMMON | ORG | QUALITY | {"Hồ sơ cần xử lý", "Sổ theo dõi hồ sơ"},
    Role.department_head: COMMON | ORG | QUALITY | {"Hồ sơ cần xử lý", "Sổ theo dõi hồ sơ"},
    Role.leader: COMMON | ORG | QUALITY | {"Sổ theo dõi hồ sơ"},
}
MENUS = ["Hồ sơ", "Chất lượng", "Quản trị"]  # the dropdowns, in order
PUBLIC_NAV = {"Thủ tục hành chính": "/thu-tuc/", "Tra cứu hồ sơ": "/tra-cuu",
              "Phản ánh, kiến nghị": "/gop-y"}

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
    """Every entry of the role navigation, top-level links and dropdown items: text → href."""
    links = page.locator("#role-nav a.nav-link:not(.dropdown-toggle), #role-nav a.dropdown-item")
    return {links.nth(i).text_content().strip(): links.nth(i).get_attribute("href")
            for i in range(links.count())}


def nav_menus(page) -> list[str]:
    """The dropdown toggles of the role navigation, in order."""
    return [text.strip() for text in page.locator("#role-nav a.dropdown-toggle").all_text_contents()]


def open_menu(page, name: str):
    """Click the navigation's dropdown `name` open; its (now visible) menu."""
    # Bootstrap's script (end of <body>) must have run, or the click just follows href="#":
    # a click right after a form's redirect can come first on a busy machine.
    page.wait_for_load_state("domcontentloaded")
    page.locator("#role-nav").get_by_role("button", name=name, exact=True).click()
    menu = page.locator("#role-nav .dropdown-menu.show")
    expect(menu).to_have_count(1)
    expect(menu).to_be_visible()
    return menu


def go_to(page, menu: str, link: str) -> None:
    """Follow the navigation entry `link` of the dropdown `menu`."""
    open_menu(page, menu).get_by_role("link", name=link, exact=True).click()

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
    assert set(links) == NAV_BY_ROLE[role], links
    assert nav_menus(page) == MENUS
    # Every page the navigation offers opens for this role (no link to a 403).
    for text, href in links.items():
        if href and href != "#":
            response = page.request.get(href)
            assert response.status == 200, (text, href, response.status)
    if role is Role.admin:
        assert links["Người dùng"].endswith("/admin/users")
        _screenshot(page, "dashboard-admin")
    for name in MENUS:  # each dropdown opens (Bootstrap's JS) on its own entries
        menu = open_menu(page, name)
        expect(menu.locator("a.dropdown-item").first).to_be_visible()
        assert {text.strip() for text in menu.locator("a.dropdown-item").all_text_contents()} <= set(links)
        page.keyboard.press("Escape")
        expect(page.locator("#role-nav .dropdown-menu.show")).to_have_count(0)

    page.locator("#user-menu").click()
    logout = page.locator("#logout")
    expect(logout).to_be_visible()
    logout.click()

    expect(page).to_have_url(at("/auth/login"))
    expect(page.locator(".alert")).to_contain_text("Bạn đã đăng xuất.")
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#user-menu")).to_have_count(0)
    # only the public pages stay: they need no login
    assert nav_links(page) == PUBLIC_NAV and nav_menus(page) == []
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
    assert nav_links(page) == PUBLIC_NAV and nav_menus(page) == []  # public
    _screenshot(page, "login-failed")


def test_admin_creates_a_user_through_the_form(page, make_user, orgtree):
    make_user("admin", Role.admin)
    log_in(page, "admin")
    expect(page.locator("#user-menu")).to_be_visible()
    go_to(page, "Quản trị", "Người dùng")
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
    # Chromium cancels its own favicon fetch when the page moves on (net::ERR_ABORTED): not
    # a failure of the app, whose icon answers 200 (tests/web/test_error_pages.py).
    page.on("requestfailed", lambda request: (request.failure or "").startswith("net::ERR_ABORTED")
            and request.url.endswith("/favicon.svg") or failures.append(f"{request.url} {request.failure}"))
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

    page.wait_for_load_state("domcontentloaded")  # Bootstrap's JS has run
    toggler.click()                           # …and its JS opens the menu
    expect(menu).to_have_class(re.compile(r"\bshow\b"))
    expect(home).to_be_visible()
    users_link = page.locator("#role-nav").get_by_role("link", name="Người dùng")
    expect(users_link).not_to_be_visible()    # in the "Quản trị" dropdown…
    open_menu(page, "Quản trị")               # …which opens inside the collapsed menu too
    expect(users_link).to_be_visible()
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
    log_link = page.locator("#role-nav").get_by_role("link", name="Nhật ký thay đổi")
    expect(log_link).not_to_be_visible()
    open_menu(page, "Quản trị")
    expect(log_link).to_be_visible()
    _screenshot(page, "dashboard-qualityofficer")
    log_link.click()
    expect(page).to_have_url(at("/admin/audit-log"))


@pytest.mark.parametrize("roles", [{Role.admin}, {Role.quality_officer, Role.leader}],
                         ids=["admin", "qualityofficer+leader"])
def test_the_navigation_fits_on_one_line_at_1280(page, orgtree, roles):
    """The users with the most entries, a long Vietnamese name and unread notifications: at
    1280×800 the whole bar (brand, menus, language, bell, name) stays a single line."""
    user = accounts.create_user(actor=None, username="nhieuquyen",
                                full_name="Nguyễn Thị Thanh Hương", password=PASSWORD,
                                department=orgtree["office"], roles=roles)
    db.session.add_all(Notification(user=user, kind=NotificationKind.step_overdue,
                                    message=f"Bước {n} quá hạn") for n in range(12))
    db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in(page, "nhieuquyen")
    expect(page.locator("#bell-count")).to_have_text("12")
    expect(page.locator("#user-menu")).to_have_text("Nguyễn Thị Thanh Hương")

    def height(selector: str) -> float:
        box = page.locator(selector).bounding_box()
        assert box, selector
        return box["height"]

    assert height("#role-nav") < 60        # one line of entries (40 px), none wrapped
    assert height("#mainnav") < 60         # and the right-hand part sits on that line too
    assert height("nav.navbar") < 70
    entries = page.locator("#role-nav > li > a")
    assert {round(box["y"]) for box in (entries.nth(i).bounding_box()
                                        for i in range(entries.count()))} == {
        round(page.locator("#user-menu").bounding_box()["y"])}
    _screenshot(page, "navbar-1280-" + "-".join(sorted(role.value for role in roles)))

    # Narrower than Bootstrap's xl breakpoint the bar collapses rather than wrapping.
    page.set_viewport_size({"width": 1100, "height": 800})
    expect(page.locator("button.navbar-toggler")).to_be_visible()
    expect(page.locator("#role-nav")).not_to_be_visible()
