"""qms: ISO 9001 quality management for Vietnamese one-stop offices."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, current_app, has_app_context, has_request_context, request, session
from flask_talisman import Talisman
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from qms import config as settings
from qms import transactions

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_folder(name: str) -> str:
    """A top-level folder (templates/, migrations/, procedures_iso/): the checkout's copy
    when running from source, else the copy shipped inside the package by the wheel."""
    checkout = PACKAGE_DIR.parent / name
    return str(checkout if checkout.is_dir() else PACKAGE_DIR / name)


# No inline script may run (the pages' behaviour is in static/qms.js); styles may be inline
# (style attributes); nothing is framed; forms post only here.
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _security_headers(app: Flask) -> None:
    """CSP, frame denial, nosniff and a referrer policy on every response (flask-talisman,
    which leaves HTTPS and the cookies to the settings), and no caching of any page or file
    but the static assets: pages and files hold citizens' personal data."""
    Talisman(app, force_https=False, strict_transport_security=bool(app.config["SECURE_COOKIES"]),
             session_cookie_secure=False,  # the SECURE_COOKIES setting decides (qms demo turns it off)
             content_security_policy=CONTENT_SECURITY_POLICY, frame_options="DENY",
             referrer_policy="same-origin")

    @app.after_request
    def _no_store(response):
        if request.endpoint not in ("static", "bootstrap.static"):
            response.headers["Cache-Control"] = "no-store"
        return response


def create_app(config: dict | type | None = None) -> Flask:
    """The app factory. `config` (a dict or a class) overrides every other source."""
    instance_path = settings.default_instance_path()
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        instance_relative_config=True,
        template_folder=resource_folder("templates"),
    )
    app.config.from_object(settings.Config)
    app.config.from_pyfile("config.py", silent=True)
    settings.apply_environment(app.config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)
    settings.check(app.config)

    instance_path.mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = settings.sqlite_url(instance_path)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.load_or_create_secret_key(instance_path)
    secure = bool(app.config["SECURE_COOKIES"])
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = secure

    _init_extensions(app)
    _init_i18n(app)
    _init_templates(app)

    from qms.web import register_blueprints
    from qms.web.errors import register_error_handlers

    register_blueprints(app)
    register_error_handlers(app)

    @app.before_request
    def _effective_dates():
        from qms import clock
        from qms.services.documents import apply_effective_dates_daily

        apply_effective_dates_daily(clock.now())

    @app.before_request
    def _escalation():
        # In-app notifications without cron, at most every ESCALATION_AUTO_MINUTES; email
        # only from `qms escalate`, never in a request.
        from qms import clock
        from qms.services.notifications import escalate_periodically

        escalate_periodically(clock.now())
    if not app.debug and not app.testing:
        logging.getLogger("waitress").setLevel(logging.INFO)
    return app


def _init_extensions(app: Flask) -> None:
    from flask_sqlalchemy.session import Session as FlaskSession

    from qms.extensions import babel, bootstrap, csrf, db, limiter, login_manager, migrate
    from qms.services import audit_log, outbox
    from qms.services.accounts import load_session_user

    db.init_app(app)
    migrate.init_app(app, db, directory=resource_folder("migrations"))
    csrf.init_app(app)
    bootstrap.init_app(app)
    limiter.init_app(app)
    _security_headers(app)
    if app.config["PROXY_HOPS"]:
        hops = int(app.config["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    audit_log.install(FlaskSession)
    outbox.install(FlaskSession)  # after the audit listener: status changes out, in the same transaction

    login_manager.init_app(app)
    login_manager.session_protection = app.config["SESSION_PROTECTION"]
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "warning"
    login_manager.user_loader(load_session_user)

    def select_locale():
        lang = session.get("lang") if has_request_context() else None
        if lang in app.config["LANGUAGES"]:
            return lang
        return app.config["BABEL_DEFAULT_LOCALE"]

    babel.init_app(app, locale_selector=select_locale,
                   default_translation_directories=str(PACKAGE_DIR / "translations"))


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, and WAL so readers do not block the writer (writers
    begin as qms.transactions decides)."""
    if not transactions.is_sqlite(dbapi_connection):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    timeout = current_app.config["SQLITE_BUSY_TIMEOUT_MS"] if has_app_context() else 5000
    cursor.execute(f"PRAGMA busy_timeout={int(timeout)}")
    cursor.close()


@event.listens_for(Engine, "connect")
def _postgresql_settings(dbapi_connection, connection_record):
    """PostgreSQL: no JIT. The reports' correlated subqueries ("open at the cut") cost more
    to compile than to run: 1.6 s of a 1.76 s query at a million dossiers (issue 12)."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # outside a transaction, so that the SET lasts
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    dbapi_connection.autocommit = autocommit


def _init_i18n(app: Flask) -> None:
    from flask_babel import lazy_gettext as _l

    from qms.extensions import login_manager

    login_manager.login_message = _l("Vui lòng đăng nhập để tiếp tục.")


def _init_templates(app: Flask) -> None:
    from flask_babel import get_locale

    from qms.localtime import to_local
    from qms.web import access

    @app.template_filter("localtime")
    def localtime(value, fmt="%d/%m/%Y %H:%M"):
        """Show a stored UTC time in the configured local zone."""
        return to_local(value).strftime(fmt) if value else ""

    @app.template_filter("vndate")
    def vndate(value):
        return value.strftime("%d/%m/%Y") if value else ""

    from qms.services.procedures import format_duration

    app.jinja_env.globals["format_duration"] = format_duration

    @app.context_processor
    def template_helpers():
        return {
            "can": access.can,
            "current_locale": str(get_locale()),
            "languages": app.config["LANGUAGES"],
            "request_path": request.path if request else "/",
        }
