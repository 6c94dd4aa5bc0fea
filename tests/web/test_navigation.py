"""The grouped navigation: each entry keeps its own permission guard, and a dropdown whose
entries are all hidden is not rendered at all (no empty menu to click)."""
from __future__ import annotations

import re

import pytest

from qms import authz
from qms.models import Role

MENUS = {
    "nav-dossiers": ("dossiers.receive", "dossiers.work"),
    "nav-quality": ("nonconformities.view", "cars.view", "audits.view", "feedback.view",
                    "reviews.view", "monthly_reviews.view"),
    "nav-admin": ("org.view", "users.manage", "api_tokens.manage", "audit_log.view"),
}


def menu_items(page: str, menu_id: str) -> list[str]:
    """The hrefs of the dropdown `menu_id`, in order ([] when it is absent)."""
    match = re.search(rf'aria-labelledby="{menu_id}">(.*?)</ul>', page, re.S)
    return re.findall(r'class="dropdown-item" href="([^"]+)"', match.group(1)) if match else []


def test_roles_get_their_menus(client_as):
    admin = client_as(Role.admin).get("/").get_data(as_text=True)
    assert menu_items(admin, "nav-dossiers") == ["/dossiers/register"]
    assert menu_items(admin, "nav-admin")[-4:] == ["/admin/users", "/admin/api-tokens", "/admin/sync",
                                                   "/admin/audit-log"]
    assert "/quality/cars" not in menu_items(admin, "nav-quality")
    officer = client_as(Role.officer).get("/").get_data(as_text=True)  # not at the desk
    assert menu_items(officer, "nav-dossiers") == ["/dossiers/queue", "/dossiers/register"]
    assert menu_items(officer, "nav-admin") == ["/admin/agencies", "/admin/departments",
                                                "/admin/fields", "/admin/calendar"]
    assert 'class="dropdown-divider"' not in officer.split('id="nav-admin"')[1].split("</ul>")[0]


@pytest.mark.parametrize("menu_id", list(MENUS))
def test_a_dropdown_with_no_entry_left_is_not_rendered(client_as, monkeypatch, menu_id):
    client = client_as(Role.officer)
    for permission in MENUS[menu_id]:  # nobody holds any permission behind this menu
        monkeypatch.setitem(authz.PERMISSIONS, permission, frozenset())
    page = client.get("/").get_data(as_text=True)
    assert f'id="{menu_id}"' not in page
    for other in set(MENUS) - {menu_id}:  # the other menus are still there, with entries
        assert menu_items(page, other), other
    assert 'href="/documents"' in page and 'href="/thu-tuc/"' in page
