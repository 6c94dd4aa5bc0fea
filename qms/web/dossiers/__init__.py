from flask import Blueprint

bp = Blueprint("dossiers", __name__)

from qms.web.dossiers import (  # noqa: E402,F401
    events,
    intake,
    reception,
    register,
    views,  # noqa: E402,F401
)
