"""Alembic migrations: empty → head → base → head on SQLite and PostgreSQL, the migrated
schema equals the models (autogenerate finds nothing to write), and the SQLite engine runs
with foreign keys enforced and in WAL mode.

PostgreSQL cases run when QMS_TEST_DATABASE_URL is set, each in a fresh schema.
"""
from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app

from qms import create_app, resource_folder
from qms.extensions import db
from tests.cli.conftest import fresh_database

MIGRATIONS = resource_folder("migrations")
HEAD = ScriptDirectory(MIGRATIONS).get_current_head()
DATABASES = ["sqlite", "postgresql"]


@pytest.fixture(params=DATABASES)
def migrated_app(request, tmp_path, monkeypatch):
    """(app, url) on an empty database of the given kind, app context pushed."""
    monkeypatch.setenv("QMS_INSTANCE_PATH", str(tmp_path / "instance"))
    with fresh_database(tmp_path, request.param) as url:
        app = create_app({"TESTING": True, "SECRET_KEY": "migrations",
                          "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            try:
                yield app, url
            finally:
                db.session.remove()
                db.engine.dispose()


def user_tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def current_revision() -> str | None:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences() -> list:
    """What `flask db migrate` would write: differences between the models and the database,
    compared with the options the app's Alembic environment uses."""
    migrate_ext = current_app.extensions["migrate"]
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": migrate_ext.configure_args.get("compare_type", True),
            "target_metadata": db.metadata,
        })
        return compare_metadata(context, db.metadata)


def test_one_linear_history():
    script = ScriptDirectory(MIGRATIONS)
    assert len(script.get_heads()) == 1, "several heads: merge the migrations"
    assert len(script.get_bases()) == 1


def test_upgrade_downgrade_upgrade(migrated_app):
    assert user_tables() == set()
    flask_migrate.upgrade()
    assert current_revision() == HEAD
    assert set(db.metadata.tables) <= user_tables()

    flask_migrate.downgrade(revision="base")
    assert current_revision() is None
    assert user_tables() == set()

    # again from nothing: the downgrade left nothing behind (triggers, functions, types)
    flask_migrate.upgrade()
    assert current_revision() == HEAD
    assert set(db.metadata.tables) <= user_tables()


def test_migrated_schema_matches_the_models(migrated_app):
    flask_migrate.upgrade()
    differences = schema_differences()
    assert differences == [], "models and migrations differ; run `qms db migrate`:\n" + \
        "\n".join(map(str, differences))


def test_difference_detection_works(migrated_app):
    """The comparison above can fail: a table missing from the database is reported. (One
    no other table refers to: PostgreSQL refuses to drop a referenced table.)"""
    flask_migrate.upgrade()
    with db.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE acknowledgement"))
    assert any(diff[0] == "add_table" and diff[1].name == "acknowledgement"
               for diff in schema_differences())


def test_audit_log_is_append_only_in_the_migrated_database(migrated_app):
    """The triggers exist only in the migrations, not in the models."""
    flask_migrate.upgrade()
    with db.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_log (at, actor_name, action) VALUES (:at, 'test', 'test')"),
            {"at": "2026-01-01 00:00:00"})
    for statement in ("UPDATE audit_log SET action = 'changed'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), \
                db.engine.begin() as conn:
            conn.execute(sa.text(statement))


def test_migrating_keeps_existing_loggers(migrated_app):
    """`qms demo` migrates in-process before serving: Alembic's logging setup must not
    silence waitress or the app's logger."""
    app, _ = migrated_app
    existing = [logging.getLogger("waitress"), app.logger, logging.getLogger("qms.test")]
    flask_migrate.upgrade()
    assert [logger.name for logger in existing if logger.disabled] == []


# --- SQLite connection settings ---------------------------------------------------------------
@pytest.fixture
def sqlite_app(tmp_path, monkeypatch):
    monkeypatch.setenv("QMS_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("QMS_DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "SECRET_KEY": "pragmas"})
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_app):
    # no QMS_DATABASE_URL: the SQLite file in the instance folder
    assert db.engine.url.database == str(Path(sqlite_app.instance_path) / "qms.sqlite3")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_sqlite_enforces_foreign_keys(sqlite_app):
    flask_migrate.upgrade()
    from qms.models import Department

    with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
        conn.execute(sa.insert(Department).values(
            code="X", name="Orphan", agency_id=999, is_one_stop=False, active=True))


def test_dates_round_trip(migrated_app):
    """A smoke write/read through the migrated schema (Date columns, enum as text)."""
    flask_migrate.upgrade()
    from qms.models import AgencyLevel
    from qms.services import org

    agency = org.save_agency(None, actor=None, code="HN", name="Hà Nội",
                             level=AgencyLevel.province, parent=None,
                             effective_from=date(2008, 8, 1))
    db.session.commit()
    db.session.expire_all()
    assert agency.effective_from == date(2008, 8, 1)
    assert agency.level is AgencyLevel.province
