"""The JSON API, version 1 (/api/v1): for the online portal and other integrations.

Every call but /openapi.json carries `Authorization: Bearer <token>`; the token acts as one
ordinary user (an integration account) with exactly that user's permissions. The session
cookie is never looked at here, which is why the blueprint is exempt from CSRF: a browser
sends cookies on its own, but never an Authorization header, so a forged cross-site request
has no credentials (tests/web/test_csrf.py checks that a logged-in session alone gets 401).
"""
from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from qms import clock
from qms.errors import QmsError, ValidationError
from qms.extensions import csrf, db, limiter
from qms.services import api_tokens

bp = Blueprint("api", __name__)
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi"}


class ApiError(QmsError):
    """A request the API refuses, with a status of its own and, for invalid input, the
    fields concerned: [{"field": "applicant.name", "message": ...}]."""

    def __init__(self, message: str, status: int = 422, errors: list[dict] | None = None):
        super().__init__(message)
        self.status_code = status
        self.errors = errors or []


def bearer_token() -> str | None:
    scheme, _sep, value = (request.headers.get("Authorization") or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _rate_key() -> str:
    # Per token (hashed, so the plaintext is not a key in the limiter's storage); calls
    # without one count per address.
    token = bearer_token()
    return "api:" + api_tokens.hash_token(token) if token else "api-addr:" + (request.remote_addr or "")


limiter.limit(lambda: current_app.config.get("API_RATE_LIMIT", "600 per minute"),
              key_func=_rate_key)(bp)


def error_response(status: int, message: str, *, title: str | None = None,
                   errors: list[dict] | None = None, headers: dict | None = None):
    """The API's one error shape (the same as qms.web.errors gives /api paths):
    {"error": {"status", "message", ["title"], ["errors"]}}."""
    try:
        db.session.rollback()  # whatever the failed request half-did is not kept
    except Exception:  # the database itself may be what failed
        pass
    body = {"status": status, "message": message}
    if title:
        body["title"] = title
    if errors:
        body["errors"] = errors
    return jsonify(error=body), status, headers or {}


@bp.before_request
def _authenticate():
    """The token's user becomes `current_user` for this request only (nothing is written to
    the session); without a valid token: 401, whatever cookie the client has."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = bearer_token()
    user = api_tokens.authenticate(token, clock.now()) if token else None
    if user is None:
        message = (_("Mã truy cập không hợp lệ, đã bị thu hồi hoặc tài khoản đã bị khoá.") if token
                   else _("Thiếu mã truy cập: gửi tiêu đề Authorization: Bearer <mã truy cập>."))
        return error_response(401, message, title=_("Chưa xác thực"),
                              headers={"WWW-Authenticate": 'Bearer realm="qms"'
                                       + (', error="invalid_token"' if token else "")})
    db.session.commit()  # the token's last use, kept even if the call itself then fails
    # flask-login reads the request's user from g: every permission check and audit row
    # of this request names the token's user.
    g._login_user = user
    return None


@bp.errorhandler(QmsError)
def _domain_error(error: QmsError):
    # Invalid input is 422 here (the request was well-formed JSON, its content breaks a
    # rule); the web's flashed ValidationError is a 400 page.
    status = 422 if isinstance(error, ValidationError) else error.status_code
    return error_response(status, error.message, errors=getattr(error, "errors", None))


@bp.after_request
def _no_store(response):
    response.headers.setdefault("Cache-Control", "no-store")
    return response


from qms.web.api import views  # noqa: E402,F401
