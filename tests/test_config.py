"""Settings: defaults, then <instance>/config.py, then QMS_* environment variables (which
win), then the dict given to create_app; the secret key is generated once per instance."""
from __future__ import annotations

import os
import stat

import pytest

from qms import create_app
from qms.extensions import db


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """An empty instance folder, selected by QMS_INSTANCE_PATH, and no other QMS_* setting."""
    for name in list(os.environ):
        if name.startswith("QMS_"):
            monkeypatch.delenv(name)
    path = tmp_path / "instance"
    monkeypatch.setenv("QMS_INSTANCE_PATH", str(path))
    return path


def write_config(instance, text: str) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    (instance / "config.py").write_text(text)


def engine_url(app) -> str:
    with app.app_context():
        try:
            return db.engine.url.render_as_string(hide_password=False)
        finally:
            db.engine.dispose()


def test_instance_path_comes_from_the_environment(instance):
    app = create_app()
    assert app.instance_path == str(instance)
    assert instance.is_dir()  # created on first start


def test_defaults_are_production_safe(instance):
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["REMEMBER_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["WTF_CSRF_ENABLED"] is True
    assert app.config["BABEL_DEFAULT_LOCALE"] == "vi"
    assert not app.debug and not app.testing
    assert engine_url(app) == f"sqlite:///{instance / 'qms.sqlite3'}"


def test_instance_config_file_is_read(instance):
    write_config(instance, "PAGE_SIZE = 7\nSECRET_KEY = 'from-the-file'\n"
                           "BABEL_DEFAULT_LOCALE = 'en'\n")
    app = create_app()
    assert app.config["PAGE_SIZE"] == 7
    assert app.config["SECRET_KEY"] == "from-the-file"
    assert app.config["BABEL_DEFAULT_LOCALE"] == "en"
    assert not (instance / "secret_key").exists()  # a configured key is not replaced


def test_environment_wins_over_the_config_file(instance, tmp_path, monkeypatch):
    write_config(instance, f"SECRET_KEY = 'from-the-file'\nBABEL_DEFAULT_LOCALE = 'en'\n"
                           f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{tmp_path / 'file.db'}'\n"
                           f"SECURE_COOKIES = True\nRATELIMIT_STORAGE_URI = 'memory://'\n")
    monkeypatch.setenv("QMS_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("QMS_DEFAULT_LOCALE", "vi")
    monkeypatch.setenv("QMS_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.setenv("QMS_SECURE_COOKIES", "0")
    monkeypatch.setenv("QMS_LOGIN_FAILURE_LIMIT", "3 per minute")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["BABEL_DEFAULT_LOCALE"] == "vi"
    assert engine_url(app) == f"sqlite:///{tmp_path / 'env.db'}"
    assert app.config["SESSION_COOKIE_SECURE"] is False
    assert app.config["REMEMBER_COOKIE_SECURE"] is False
    assert app.config["LOGIN_FAILURE_LIMIT"] == "3 per minute"


@pytest.mark.parametrize("value, secure", [("1", True), ("true", True), ("0", False),
                                           ("no", False), ("off", False)])
def test_secure_cookies_switch(instance, monkeypatch, value, secure):
    monkeypatch.setenv("QMS_SECURE_COOKIES", value)
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is secure
    assert app.config["REMEMBER_COOKIE_SECURE"] is secure


def test_explicit_config_wins_over_everything(instance, monkeypatch):
    write_config(instance, "PAGE_SIZE = 7\n")
    monkeypatch.setenv("QMS_SECRET_KEY", "from-the-environment")
    app = create_app({"SECRET_KEY": "explicit", "PAGE_SIZE": 3})
    assert app.config["SECRET_KEY"] == "explicit"
    assert app.config["PAGE_SIZE"] == 3


def test_database_url_from_the_environment(instance, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}"
    monkeypatch.setenv("QMS_DATABASE_URL", url)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    assert engine_url(app) == url


def test_postgresql_url_from_the_environment(instance, monkeypatch):
    url = "postgresql+psycopg://qms@db.example.vn:5433/qms"
    monkeypatch.setenv("QMS_DATABASE_URL", url)
    app = create_app()
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        assert db.engine.url.host == "db.example.vn"
        assert db.engine.url.port == 5433


def test_secret_key_is_generated_once(instance):
    first = create_app()
    key_file = instance / "secret_key"
    assert key_file.is_file()
    key = key_file.read_text().strip()
    assert len(key) >= 32
    assert first.config["SECRET_KEY"] == key
    # only the owner may read it
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    second = create_app()
    assert second.config["SECRET_KEY"] == key
    assert key_file.read_text().strip() == key


def test_each_instance_gets_its_own_secret_key(instance, tmp_path, monkeypatch):
    one = create_app().config["SECRET_KEY"]
    monkeypatch.setenv("QMS_INSTANCE_PATH", str(tmp_path / "other"))
    other = create_app().config["SECRET_KEY"]
    assert one != other


def test_secret_key_from_the_environment_writes_no_file(instance, monkeypatch):
    monkeypatch.setenv("QMS_SECRET_KEY", "k" * 40)
    app = create_app()
    assert app.config["SECRET_KEY"] == "k" * 40
    assert not (instance / "secret_key").exists()


def test_sessions_signed_with_the_generated_key_survive_a_restart(instance):
    """Logins must survive a restart: the second app reads the first one's cookie."""
    first = create_app({"TESTING": True})
    with first.test_request_context():
        from flask import session

        session["probe"] = "xin chào"
        cookie = first.session_interface.get_signing_serializer(first).dumps(dict(session))
    second = create_app({"TESTING": True})
    serializer = second.session_interface.get_signing_serializer(second)
    assert serializer.loads(cookie) == {"probe": "xin chào"}


def test_apology_settings_from_the_environment(instance, monkeypatch):
    from qms.config import ConfigError

    assert create_app().config["APOLOGY_SIGNERS"] == ("department_head", "leader")
    monkeypatch.setenv("QMS_APOLOGY_SIGNERS", "leader")
    monkeypatch.setenv("QMS_APOLOGY_NOTICE_WORKING_DAYS", "2")
    app = create_app()
    assert (app.config["APOLOGY_SIGNERS"], app.config["APOLOGY_NOTICE_WORKING_DAYS"]) == (("leader",), 2)
    monkeypatch.setenv("QMS_APOLOGY_SIGNERS", "leader, chairman")
    with pytest.raises(ConfigError, match="QMS_APOLOGY_SIGNERS: a comma-separated list of department_head, leader"):
        create_app()
