"""Reviews: the management review (ISO 9001:2015 §9.3) and the monthly compliance reviews."""
from flask import Blueprint

bp = Blueprint("reviews", __name__)

from qms.web.reviews import management, monthly, objectives  # noqa: E402,F401
