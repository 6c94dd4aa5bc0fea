from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from qms import clock
from qms.extensions import limiter
from qms.reports import charts
from qms.services import dashboards
from qms.web.main import bp


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    return render_template("main/dashboard.html", charts=charts,
                           panels=dashboards.panels_for(current_user, clock.now()))


@bp.get("/language/<code>")
def set_language(code: str):
    """Switch the interface language for this browser session, then go back."""
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = code
    back = request.referrer
    if back and urlsplit(back).netloc == request.host:
        return redirect(back)
    return redirect(url_for("main.index"))


@bp.get("/healthz")
def health():
    return {"status": "ok"}


@bp.get("/favicon.ico")
def favicon():
    """Browsers and tools that ask for the conventional address get the page's icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.route("/tra-cuu", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"],
               error_message=lambda: _("Bạn đã tra cứu quá nhiều lần. Vui lòng thử lại sau ít phút."))
def lookup():
    """Citizens look up a dossier by its code and lookup secret: its status, current step
    and promised date, and nothing personal beyond what they typed."""
    from qms.services import dossiers
    from qms.web.dossiers.forms import LookupForm

    form = LookupForm()
    found, not_found = None, False
    if form.validate_on_submit():
        found = dossiers.find_for_lookup(form.code.data, form.secret.data)
        not_found = found is None
    return render_template("main/lookup.html", form=form, dossier=found, not_found=not_found,
                           step=dossiers.current_step(found) if found else None,
                           pause=dossiers.current_pause(found) if found else None)
