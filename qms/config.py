"""Settings: defaults here, then instance/config.py, then QMS_* environment variables."""
from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from qms.errors import QmsError

ENV_PREFIX = "QMS_"


def default_instance_path() -> Path:
    return Path(os.environ.get("QMS_INSTANCE_PATH", "instance")).resolve()


class Config:
    """Production defaults. Tests and `qms demo` override a few of them."""

    SQLALCHEMY_DATABASE_URI: str | None = None  # None → SQLite file in the instance folder
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    SECRET_KEY: str | None = None  # None → generated once into instance/secret_key

    # Sessions: "strong" protection drops a session whose client fingerprint changes;
    # cookies are HttpOnly, SameSite=Lax and, unless QMS_SECURE_COOKIES=0, HTTPS-only.
    SESSION_PROTECTION = "strong"
    SECURE_COOKIES = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=7)
    PERMANENT_SESSION_LIFETIME = timedelta(hours=10)  # one working day

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    LANGUAGES = ("vi", "en")
    DISPLAY_TIMEZONE = "Asia/Ho_Chi_Minh"

    # Login throttling (flask-limiter): failed attempts per account and per client address.
    LOGIN_FAILURE_LIMIT = "5 per 15 minutes"
    LOGIN_FAILURE_LIMIT_PER_ADDRESS = "30 per 15 minutes"
    RATELIMIT_STORAGE_URI = "memory://"
    # Reverse proxies in front of the app (0: none, the default). With N, the client's
    # address and scheme are read from the last N X-Forwarded-For / -Proto values the
    # proxies added (werkzeug ProxyFix): login limits, public forms' limits and the audit
    # log see each client, not the proxy. Never set it without a proxy that sets them: a
    # client could then claim any address.
    PROXY_HOPS = 0
    RATELIMIT_HEADERS_ENABLED = False
    # SQLite: how long a writer waits for the write lock before its request answers 503
    # "busy, try again" (qms.transactions).
    SQLITE_BUSY_TIMEOUT_MS = 5000

    BOOTSTRAP_SERVE_LOCAL = True  # Bootstrap's files come from the installed package, no CDN
    BOOTSTRAP_BOOTSWATCH_THEME = None

    PASSWORD_HASH_METHOD = "scrypt"
    PAGE_SIZE = 50

    # Early / on time / late: "date" compares the finishing date with the due date (the
    # national reporting rule); "timestamp" is stricter (late one minute after the due time).
    TIMELINESS_RULE = "date"
    # The reporting month: "month" (calendar months) or "15th" (from the 15th of the
    # previous month to the 14th, the national reporting regime's period; see
    # qms.services.metrics.periods). Metrics, reviews, dashboards and reports alike.
    REPORTING_PERIOD = "month"

    # Documents: files attached to a draft version (PDF, DOCX, XLSX), and procedures_iso
    # files uploaded for import.
    DOCUMENT_ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
    # Any request body (forms, uploads, JSON): larger ones get a 413 before they are read.
    MAX_CONTENT_LENGTH = 32 * 1024 * 1024
    PROCEDURE_IMPORT_MAX_BYTES = 1024 * 1024
    # Dossiers synced from another one-stop system (POST /api/v1/sync/dossiers): a batch of up
    # to 1,000 with their histories is a few MB; a larger body is refused with 413 unread.
    SYNC_MAX_BYTES = 16 * 1024 * 1024
    SYNC_RATE_LIMIT = "120 per minute"
    # A register file uploaded on /admin/sync is taken in by a worker thread while its page
    # shows the progress (False: within the upload's request).
    REGISTER_IMPORT_IN_BACKGROUND = True

    # Escalation of dossier steps (`qms escalate`, from cron; page loads too, at most every
    # ESCALATION_AUTO_MINUTES, only if an office without cron sets it above 0): the officers
    # holding a step are told when it is due within ESCALATION_DUE_SOON_MINUTES of working
    # time, the department head once it is overdue, the quality officers once it is
    # ESCALATION_OVERDUE_MARGIN_MINUTES of working time overdue (the agency's work calendar).
    ESCALATION_DUE_SOON_MINUTES = 240  # half a working day
    ESCALATION_OVERDUE_MARGIN_MINUTES = 480  # one working day
    ESCALATION_AUTO_MINUTES = 0  # never inside a user's request unless an office turns it on

    # Citizens' feedback (phản ánh, kiến nghị; ISO 9001:2015 §9.1.2): a complaint or
    # recommendation is answered within FEEDBACK_HANDLING_DAYS working days of its receipt
    # (the agency's work calendar); the public form takes at most FEEDBACK_RATE_LIMIT
    # submissions per client address.
    FEEDBACK_HANDLING_DAYS = 10
    FEEDBACK_RATE_LIMIT = "10 per hour"

    # Apology letters (Mẫu 04, Decree 118/2025/NĐ-CP): due at the latest
    # APOLOGY_NOTICE_WORKING_DAYS working days before the due time (1 in practice; not yet
    # checked against the decree's text, hence a setting). A later one is still issued,
    # marked late, and raises a nonconformity against the delaying department. Who signs:
    # "department_head" (the head of the department holding the dossier) and/or "leader"
    # (the agency's chair, vice chairs or director).
    APOLOGY_NOTICE_WORKING_DAYS = 1
    APOLOGY_SIGNERS = ("department_head", "leader")

    # Email of notifications, from `qms escalate` only: off unless SMTP_HOST is set.
    SMTP_HOST = ""
    SMTP_PORT = 587  # 465 → SMTP over TLS (SMTP_SSL); otherwise STARTTLS if SMTP_STARTTLS
    SMTP_USER = ""
    SMTP_PASSWORD = ""
    SMTP_STARTTLS = True
    MAIL_FROM = ""  # empty: SMTP_USER, else qms@localhost
    BASE_URL = ""  # e.g. https://qms.example.gov.vn: makes the links in emails absolute


# Environment variables understood on top of instance/config.py: name → (key, parser).
def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(f"not a whole number ≥ 0: {value!r}")
    return number


APOLOGY_SIGNER_KINDS = ("department_head", "leader")


def _reporting_period(value: str) -> str:
    if value.strip() not in ("month", "15th"):
        raise ConfigError(f"month or 15th: {value!r}")
    return value.strip()


def _signers(value: str) -> tuple[str, ...]:
    kinds = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(set(kinds) - set(APOLOGY_SIGNER_KINDS))
    if unknown or not kinds:
        raise ConfigError(f"a comma-separated list of {', '.join(APOLOGY_SIGNER_KINDS)}: {value!r}")
    return kinds


class ConfigError(QmsError):
    """A QMS_* variable that cannot be read (the message names it); the CLI prints it."""


ENV_SETTINGS = {
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "SECRET_KEY": ("SECRET_KEY", str),
    "SECURE_COOKIES": ("SECURE_COOKIES", _bool),
    "RATELIMIT_STORAGE_URI": ("RATELIMIT_STORAGE_URI", str),
    "LOGIN_FAILURE_LIMIT": ("LOGIN_FAILURE_LIMIT", str),
    "PROXY_HOPS": ("PROXY_HOPS", _int),
    "SQLITE_BUSY_TIMEOUT_MS": ("SQLITE_BUSY_TIMEOUT_MS", _int),
    "DEFAULT_LOCALE": ("BABEL_DEFAULT_LOCALE", str),
    "TIMELINESS_RULE": ("TIMELINESS_RULE", str),
    "REPORTING_PERIOD": ("REPORTING_PERIOD", _reporting_period),
    "ESCALATION_DUE_SOON_MINUTES": ("ESCALATION_DUE_SOON_MINUTES", _int),
    "ESCALATION_OVERDUE_MARGIN_MINUTES": ("ESCALATION_OVERDUE_MARGIN_MINUTES", _int),
    "ESCALATION_AUTO_MINUTES": ("ESCALATION_AUTO_MINUTES", _int),
    "SMTP_HOST": ("SMTP_HOST", str),
    "SMTP_PORT": ("SMTP_PORT", _int),
    "SMTP_USER": ("SMTP_USER", str),
    "SMTP_PASSWORD": ("SMTP_PASSWORD", str),
    "SMTP_STARTTLS": ("SMTP_STARTTLS", _bool),
    "MAIL_FROM": ("MAIL_FROM", str),
    "BASE_URL": ("BASE_URL", str),
    "FEEDBACK_HANDLING_DAYS": ("FEEDBACK_HANDLING_DAYS", _int),
    "FEEDBACK_RATE_LIMIT": ("FEEDBACK_RATE_LIMIT", str),
    "SYNC_MAX_BYTES": ("SYNC_MAX_BYTES", _int),
    "SYNC_RATE_LIMIT": ("SYNC_RATE_LIMIT", str),
    "APOLOGY_NOTICE_WORKING_DAYS": ("APOLOGY_NOTICE_WORKING_DAYS", _int),
    "APOLOGY_SIGNERS": ("APOLOGY_SIGNERS", _signers),
}


def apply_environment(config: dict) -> None:
    for name, (key, parse) in ENV_SETTINGS.items():
        value = os.environ.get(ENV_PREFIX + name)
        if value:
            try:
                config[key] = parse(value)
            except ConfigError as error:
                raise ConfigError(f"{ENV_PREFIX}{name}: {error}") from None


def check(config: dict) -> None:
    """The settings with a fixed set of values, whatever set them (the instance file, the
    environment, the code): a wrong one stops the start with its name, not a page later."""
    for key, parse, text in (("REPORTING_PERIOD", _reporting_period, lambda v: v),
                             ("APOLOGY_SIGNERS", _signers, lambda v: ",".join(v))):
        try:
            parse(text(config[key]))
        except (ConfigError, TypeError, AttributeError):
            raise ConfigError(f"{key}: not a valid value: {config[key]!r}") from None


def sqlite_url(instance_path: Path) -> str:
    return f"sqlite:///{instance_path / 'qms.sqlite3'}"


def load_or_create_secret_key(instance_path: Path) -> str:
    """Generate the secret key once and keep it in the instance folder (never in git)."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    # O_EXCL: if two processes start at once, the loser reads the winner's key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
