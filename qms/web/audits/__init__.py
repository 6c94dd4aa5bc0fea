"""Internal audits: the yearly programme, audits with their scope and team, checklists,
findings and the audit report."""
from flask import Blueprint

bp = Blueprint("audits", __name__)

from qms.web.audits import views  # noqa: E402,F401
