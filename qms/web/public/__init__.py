from flask import Blueprint

# Pages for citizens: no login. The procedure catalogue is the office's public listing
# (niêm yết công khai) of what it does, how long it takes and what it costs.
bp = Blueprint("public", __name__)

from qms.web.public import views  # noqa: E402,F401
