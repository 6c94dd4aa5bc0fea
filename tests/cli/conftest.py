"""Fixtures for the command-line and server tests: databases of their own, subprocesses.

The session app of tests/conftest.py is already migrated; commands that need an empty or
a separately served database get one here: a new SQLite file under tmp, or, when
QMS_TEST_DATABASE_URL is set, a new PostgreSQL schema selected through the URL's
`options=-csearch_path=...` parameter (so the same URL works in-process, in
QMS_DATABASE_URL for a subprocess, and for Alembic).
"""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from qms import create_app
from qms.commands import cli

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("QMS_TEST_DATABASE_URL")
QMS_BIN = Path(sys.executable).with_name("qms")


@contextmanager
def fresh_database(tmp_path: Path, kind: str | None = None):
    """Yield the SQLAlchemy URL of a new, empty database; drop it afterwards.

    `kind` is "sqlite" or "postgresql"; by default PostgreSQL when QMS_TEST_DATABASE_URL
    is set."""
    kind = kind or ("postgresql" if PG_URL else "sqlite")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("PostgreSQL: set QMS_TEST_DATABASE_URL")
    schema = f"qms_fresh_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        url = sa.engine.make_url(PG_URL).update_query_dict(
            {"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def fresh_url(tmp_path):
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def instance(tmp_path):
    path = tmp_path / "instance"
    path.mkdir()
    return path


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any QMS_* setting, plus `overrides`.

    PYTHONPATH starts with this checkout, so a `qms` process imports the code under test
    even when the installed (editable) qms points at another checkout or worktree."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("QMS_")}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(overrides)
    return env


@pytest.fixture
def run_qms(instance):
    """Run `qms ARGS` as a real process with its instance folder in tmp."""

    def run(*args: str, env: dict | None = None, input: str | None = None, timeout=60):
        return subprocess.run(
            [str(QMS_BIN), *args], check=False, cwd=instance.parent, input=input,
            capture_output=True, text=True, timeout=timeout,
            env=clean_env(QMS_INSTANCE_PATH=str(instance), **(env or {})))

    return run


@pytest.fixture
def fresh_app(fresh_url, instance, monkeypatch):
    """An app on an empty (not migrated) database, its app context pushed over the
    session app's."""
    monkeypatch.setenv("QMS_INSTANCE_PATH", str(instance))
    app = create_app({"TESTING": True, "SECRET_KEY": "fresh-secret",
                      "SQLALCHEMY_DATABASE_URI": fresh_url})
    with app.app_context():
        yield app
        from qms.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def invoke():
    """invoke(app, *args, input=None): run a `qms` command in-process against `app`."""

    def run(app, *args: str, input: str | None = None):
        return CliRunner().invoke(cli, list(args), input=input,
                                  obj=ScriptInfo(create_app=lambda: app))

    return run


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
