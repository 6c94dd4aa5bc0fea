"""The quality loop: the nonconformity register, corrective actions (CAR) and the handling
of citizens' feedback."""
from flask import Blueprint

bp = Blueprint("quality", __name__)

from qms.web.quality import cars, feedback, nonconformities  # noqa: E402,F401
