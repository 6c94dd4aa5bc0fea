"""Test fixtures: one app per test session on a throw-away database, reset between tests.

SQLite (default): a migrated template file copied back before each test. PostgreSQL (when
QMS_TEST_DATABASE_URL is set): a schema of its own, truncated between tests. Tests commit
for real (views commit, the browser tests' server runs in another thread), so the reset
restores the database instead of rolling back one connection.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from flask.globals import _cv_app
from flask.testing import FlaskClient

from qms import create_app
from qms.extensions import db, limiter
from qms.models import AgencyLevel, Role
from qms.services import accounts, org

PG_URL = os.environ.get("QMS_TEST_DATABASE_URL")
PASSWORD = "Mat-khau-2026"


def pytest_report_header(config):
    return f"qms database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite (file per session)'}"


@pytest.fixture(scope="session")
def database(tmp_path_factory):
    """(config overrides, reset function) for the session's database."""
    if PG_URL:
        schema = f"qms_test_{os.getpid()}_{secrets.token_hex(3)}"
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        options = {"SQLALCHEMY_DATABASE_URI": PG_URL,
                   "SQLALCHEMY_ENGINE_OPTIONS": {
                       "connect_args": {"options": f"-csearch_path={schema}"},
                       "pool_pre_ping": True}}
        yield options, schema
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    else:
        path = tmp_path_factory.mktemp("db") / "qms.sqlite3"
        yield {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}, path


@pytest.fixture(scope="session")
def app(database, tmp_path_factory):
    options, where = database
    instance = tmp_path_factory.mktemp("instance")
    os.environ["QMS_INSTANCE_PATH"] = str(instance)
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SECURE_COOKIES": False,  # the test client speaks plain HTTP
        "RATELIMIT_STORAGE_URI": "memory://",
        # Cheap hashes keep user fixtures fast; tests/web checks production uses scrypt.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        # No escalation on page loads (it would write rows at the real time mid-test);
        # tests/dossiers/test_escalation.py turns it on where it is the subject.
        "ESCALATION_AUTO_MINUTES": 0,
        # A register upload is taken in within its request; tests/sync turns the worker on
        # where it is the subject (and waits for it).
        "REGISTER_IMPORT_IN_BACKGROUND": False,
        **options,
    })
    app.test_client_class = FreshContextClient  # every client, not only the fixture's
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
        db.engine.dispose()
    if isinstance(where, Path):  # SQLite: keep a pristine copy to restore before each test
        template = where.with_suffix(".template")
        shutil.copyfile(where, template)
        app.config["QMS_TEST_RESET"] = ("sqlite", where, template)
    else:
        app.config["QMS_TEST_RESET"] = ("postgresql", where, None)
    return app


def reset_database(app) -> None:
    kind, where, template = app.config["QMS_TEST_RESET"]
    with app.app_context():
        db.session.remove()
        if kind == "sqlite":
            db.engine.dispose()
            for suffix in ("-wal", "-shm"):
                Path(f"{where}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(template, where)
        else:
            tables = [t.name for t in reversed(db.metadata.sorted_tables)]
            with db.engine.begin() as conn:
                conn.execute(sa.text(
                    f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(autouse=True)
def _fresh_database(request, app):
    reset_database(app)
    limiter.reset()
    ctx = app.app_context()
    ctx.push()
    yield
    db.session.remove()
    ctx.pop()


class FreshContextClient(FlaskClient):
    """Each request runs in an app context of its own, as in production: nothing cached in
    `g` (the logged-in user, the locale) leaks from one request to the next through the
    test's own app context. The test's pending changes are committed first, so the request
    sees them, and the test's objects are reloaded afterwards."""

    def open(self, *args, **kwargs):
        if _cv_app.get(None) is not None:
            db.session.commit()
        token = _cv_app.set(None)
        try:
            return super().open(*args, **kwargs)
        finally:
            _cv_app.reset(token)


@pytest.fixture
def client(app):
    return app.test_client()


# --- data ---------------------------------------------------------------------------------
@pytest.fixture
def orgtree():
    """A province with its service centre, a ward with a one-stop office and two departments."""
    province = org.save_agency(None, actor=None, code="TP", name="Thành phố Thử Nghiệm",
                               level=AgencyLevel.province, parent=None,
                               effective_from=date(2004, 1, 1))
    ward = org.save_agency(None, actor=None, code="TP-A", name="Phường An Hòa",
                           level=AgencyLevel.commune, parent=province,
                           effective_from=date(2025, 7, 1))
    depts = {
        "centre": org.save_department(None, actor=None, code="TP-TT", name="Trung tâm PVHCC",
                                      agency=province, is_one_stop=True),
        "onestop": org.save_department(None, actor=None, code="A-MC", name="Bộ phận một cửa",
                                       agency=ward, is_one_stop=True),
        "culture": org.save_department(None, actor=None, code="A-VHXH",
                                       name="Phòng Văn hóa - Xã hội", agency=ward),
        "office": org.save_department(None, actor=None, code="A-VP", name="Văn phòng UBND",
                                      agency=ward),
    }
    db.session.commit()
    return {"province": province, "ward": ward, **depts}


@pytest.fixture
def make_user(orgtree):
    def make(username: str, *roles: Role, department=None, password: str = PASSWORD):
        user = accounts.create_user(actor=None, username=username, full_name=username.title(),
                                    password=password, department=department or orgtree["office"],
                                    roles=set(roles) or {Role.officer})
        db.session.commit()
        return user

    return make


@pytest.fixture
def users(make_user):
    """One user per role, named after it."""
    return {role: make_user(role.value.replace("_", ""), role) for role in Role}


# --- HTTP helpers -------------------------------------------------------------------------
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'type="hidden" name="csrf_token" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, url: str = "/auth/login") -> str:
    html = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {url}"
    return next(group for group in match.groups() if group)


def login(client, username: str, password: str = PASSWORD, **extra):
    token = csrf_token(client)
    return client.post("/auth/login", data={"username": username, "password": password,
                                            "csrf_token": token, **extra})


def browser_as(app, username: str):
    """A test client logged in as `username`."""
    browser = app.test_client()
    assert login(browser, username).status_code == 302
    return browser


def post_form(client, url: str, data: dict, *, token_from: str | None = None):
    """POST a form the way a browser does: with the CSRF token of the page it came from."""
    token = csrf_token(client, token_from or url)
    return client.post(url, data={**data, "csrf_token": token})


@contextmanager
def statements():
    """The SQL statements sent to the database inside the block, as sent."""
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
