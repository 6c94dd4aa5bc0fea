from flask import Blueprint

bp = Blueprint("admin", __name__)

from qms.web.admin import (  # noqa: E402,F401
    api_tokens,  # noqa: E402,F401
    audit_log,
    calendar,
    org,
    sync,
    users,
)
