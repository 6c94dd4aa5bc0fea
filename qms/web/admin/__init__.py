from flask import Blueprint

bp = Blueprint("admin", __name__)

from qms.web.admin import audit_log, calendar, org, users  # noqa: E402,F401
