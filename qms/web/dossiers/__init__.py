from flask import Blueprint

bp = Blueprint("dossiers", __name__)

from qms.web.dossiers import views  # noqa: E402,F401
