from flask import Blueprint

bp = Blueprint("main", __name__)

from qms.web.main import feedback, views  # noqa: E402,F401
