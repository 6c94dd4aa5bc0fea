"""SQLite under concurrent writers (issue 14): a request that changes something takes the
write lock when its transaction begins (BEGIN IMMEDIATE), so it waits its turn instead of
failing half-way; one that cannot get it in time answers 503 "busy, try again", never a
500, and writes nothing. Pages that only read never wait. SQLite only: PostgreSQL locks
rows, not the database."""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import LoginSession
from tests.conftest import login, post_form, statements
from tests.web.conftest import logged_in, text


@pytest.fixture
def sqlite_app(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's database-wide write lock")
    return app


@pytest.fixture
def short_busy_timeout(sqlite_app, monkeypatch):
    """A 200 ms busy timeout, on fresh connections (the pragma is set when they open)."""
    monkeypatch.setitem(sqlite_app.config, "SQLITE_BUSY_TIMEOUT_MS", 200)
    db.engine.dispose()
    yield
    db.session.remove()
    db.engine.dispose()


@contextmanager
def write_lock_held_elsewhere():
    """Another process's writer holding SQLite's write lock."""
    other = sqlite3.connect(db.engine.url.database, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()




def test_a_request_that_writes_begins_with_the_write_lock(sqlite_app, users):
    client = sqlite_app.test_client()
    client.get("/auth/login")  # the day's effective-dates job, if it has not run yet
    with statements() as seen:
        login(client, "officer")  # POST: a login session row and an audit row
    seen = [statement.strip().upper() for statement in seen]
    assert seen and seen[0] == "BEGIN IMMEDIATE", seen[:3]
    # once: what the request reads after committing its write (the greeting's name here)
    # does not wait for the lock again, so a saved change is never answered "busy"
    assert seen.count("BEGIN IMMEDIATE") == 1, seen

    with statements() as seen:
        assert client.get("/").status_code == 200  # a page that only reads
    assert "BEGIN IMMEDIATE" not in [statement.strip().upper() for statement in seen]


def test_a_write_that_cannot_get_the_lock_answers_503_and_writes_nothing(sqlite_app, users,
                                                                        short_busy_timeout):
    client = sqlite_app.test_client()
    login(client, "officer")
    with write_lock_held_elsewhere():
        assert client.get("/").status_code == 200  # reading never waits for the writer
        response = post_form(client, "/auth/logout", {}, token_from="/")
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "2"
        page = text(response)
        assert "Hệ thống đang bận" in page and "Vui lòng thử lại" in page and "Traceback" not in page

        api = sqlite_app.test_client().post("/api/v1/dossiers", json={},
                                            headers={"Authorization": "Bearer qms_x"})
        assert api.status_code == 503 and api.get_json()["error"]["status"] == 503
    # nothing was written: the browser is still logged in, its login not ended
    assert logged_in(client)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginSession)
                             .where(LoginSession.ended_at.is_not(None))) == 0
    # and once the lock is free, the same request passes
    assert post_form(client, "/auth/logout", {}, token_from="/").status_code == 302
    assert not logged_in(client)
