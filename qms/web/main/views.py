from urllib.parse import urlsplit

from flask import abort, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user

from qms.web.main import bp


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return render_template("main/welcome.html")
    return render_template("main/dashboard.html")


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
