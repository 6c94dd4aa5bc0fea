"""The user's notifications (steps due soon or overdue) and the navbar's bell."""
from flask import Blueprint

bp = Blueprint("notifications", __name__)

from qms.web.notifications import views  # noqa: E402,F401
