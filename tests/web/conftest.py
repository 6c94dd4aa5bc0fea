"""Fixtures and helpers for the web-layer tests (tests/web/*).

Everything here drives the app through Flask's test client, the way a browser does: GET a
page, take the CSRF token it carries, POST the form.
"""
from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import Role
from tests.conftest import PASSWORD, login

# Every role, in the column order of the access-matrix table. test_access_matrix checks
# that this covers qms.models.Role exactly, so a new role forces a new column.
ROLES: tuple[Role, ...] = (Role.admin, Role.quality_officer, Role.officer,
                           Role.department_head, Role.leader, Role.auditor)


def username_of(role: Role) -> str:
    """The user name the `users` fixture gives the user holding `role`."""
    return role.value.replace("_", "")


@pytest.fixture
def client_as(app, users):
    """client_as(role_or_username) → a fresh test client logged in as that user."""
    def make(who):
        name = username_of(who) if isinstance(who, Role) else who
        client = app.test_client()
        response = login(client, name)
        assert response.status_code == 302, f"login as {name} failed"
        return client

    return make


@pytest.fixture
def admin_client(client_as):
    return client_as(Role.admin)


# --- reading responses ----------------------------------------------------------------------
def text(response) -> str:
    """The page as text, HTML entities decoded (so Vietnamese messages compare as written)."""
    return html.unescape(response.get_data(as_text=True))


def flashes(response) -> list[str]:
    """The flashed messages (Bootstrap alerts) on a rendered page."""
    body = response.get_data(as_text=True)
    found = re.findall(r'<div class="alert alert-[a-z]+[^"]*" role="alert">(.*?)</div>', body, re.DOTALL)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", f)).split()) for f in found]


def field_errors(response) -> list[str]:
    body = response.get_data(as_text=True)
    found = re.findall(r'<div class="invalid-feedback[^"]*"[^>]*>(.*?)</div>', body, re.DOTALL)
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", " ", f)).split()) for f in found]


class _TableParser(HTMLParser):
    def __init__(self, table_id: str):
        super().__init__(convert_charrefs=True)
        self.table_id, self.depth, self.in_body = table_id, 0, False
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            if self.depth or dict(attrs).get("id") == self.table_id:
                self.depth += 1
        elif self.depth == 1 and tag == "tbody":
            self.in_body = True
        elif self.depth == 1 and self.in_body and tag == "tr":
            self._row = []
        elif self._row is not None and tag == "td":
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table" and self.depth:
            self.depth -= 1
        elif tag == "tbody":
            self.in_body = False
        elif tag == "td" and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(response, table_id: str) -> list[list[str]]:
    """The body rows of <table id=table_id> as lists of cell texts."""
    parser = _TableParser(table_id)
    parser.feed(response.get_data(as_text=True))
    return parser.rows


# --- the database as a whole -----------------------------------------------------------------
def db_snapshot() -> dict[str, list[tuple]]:
    """Every committed row of every table, read on a connection of its own (so what the
    request's session flushed but did not commit does not count)."""
    snapshot = {}
    with db.engine.connect() as conn:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.columns)
            snapshot[table.name] = [tuple(row) for row in
                                    conn.execute(sa.select(table).order_by(*order))]
    return snapshot


def logged_in(client) -> bool:
    """Whether `client` holds a live login: a login-only page answers 200 instead of
    redirecting to the login page."""
    response = client.get("/auth/password")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and response.location.startswith("/auth/login"), \
        response.status_code
    return False


__all__ = ["PASSWORD", "ROLES", "db_snapshot", "field_errors", "flashes", "logged_in",
           "table_rows", "text", "username_of"]
