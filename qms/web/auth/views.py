from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from qms import clock
from qms.extensions import limiter
from qms.services import accounts, audit_log
from qms.web.actions import act
from qms.web.auth import bp
from qms.web.auth.forms import ChangePasswordForm, LoginForm, LogoutForm


def _login_key() -> str:
    # Failures count per account name (across addresses), so guessing one password from
    # many machines is throttled too; a second limit per address covers spraying.
    return "login:" + (request.form.get("username") or "").strip().lower()[:64]


def _failed(response) -> bool:
    # A successful login redirects; anything else on POST is a failed attempt.
    return request.method == "POST" and response.status_code != 302


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT"], key_func=_login_key,
               methods=["POST"], deduct_when=_failed,
               error_message=lambda: _("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút."))
@limiter.limit(lambda: current_app.config["LOGIN_FAILURE_LIMIT_PER_ADDRESS"], methods=["POST"],
               deduct_when=_failed,
               error_message=lambda: _("Đăng nhập sai quá nhiều lần. Vui lòng thử lại sau 15 phút."))
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        # the attempt is on record either way
        user = act(lambda: accounts.log_in(form.username.data, form.password.data, address=request.remote_addr,
                                           user_agent=request.user_agent.string)).value
        if user is not None:
            login_user(user, remember=form.remember.data)
            flash(_("Xin chào, %(name)s.", name=user.full_name), "success")
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Tên đăng nhập hoặc mật khẩu không đúng."), "danger")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    if LogoutForm().validate_on_submit():
        with audit_log.acting_as(current_user._get_current_object()):
            act(lambda: accounts.end_login_session(current_user._get_current_object(), now=clock.now()))
        logout_user()
        flash(_("Bạn đã đăng xuất."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()  # login_user below needs the User itself
        changed = act(lambda: accounts.change_password(user, actor=user, new_password=form.new_password.data,
                                                       current_password=form.current_password.data),
                      refusal=None)
        if changed:
            login_user(user)  # the cookie carries the new session token; other sessions end
            flash(_("Đã đổi mật khẩu. Các phiên đăng nhập khác đã kết thúc."), "success")
            return redirect(url_for("main.index"))
        form.new_password.errors.append(changed.error.message)
    return render_template("auth/change_password.html", form=form)
