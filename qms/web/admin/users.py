import sqlalchemy as sa
from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from qms.errors import QmsError
from qms.extensions import db
from qms.models import Department, Role, User
from qms.services import accounts
from qms.web import access
from qms.web.actions import act
from qms.web.admin import bp
from qms.web.admin.forms import ActivationForm, UserForm


@bp.before_request
@login_required
def _require_login():
    """Every admin page needs a login; each view then asks authz for its permission."""


@bp.get("/users")
def users():
    access.require("users.manage")
    q = (request.args.get("q") or "").strip().lower()
    query = sa.select(User).join(User.department).order_by(User.active.desc(), User.username)
    if q:
        like = f"%{q}%"
        query = query.where(sa.or_(sa.func.lower(User.username).like(like),
                                   sa.func.lower(User.full_name).like(like)))
    return render_template("admin/users.html", users=db.session.scalars(query).all(), q=q,
                           activation_form=ActivationForm())


def _roles(form) -> set[Role]:
    return {Role(value) for value in form.roles.data}


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    access.require("users.manage")
    form = UserForm()
    if form.validate_on_submit():
        def create() -> User:
            if not form.password.data:
                raise QmsError(_("Nhập mật khẩu ban đầu cho người dùng mới."))
            return accounts.create_user(
                actor=current_user, username=form.username.data, full_name=form.full_name.data,
                password=form.password.data, email=form.email.data, roles=_roles(form),
                department=db.get_or_404(Department, form.department_id.data))

        if act(create, lambda user: _("Đã tạo người dùng %(u)s.", u=user.username)):
            return redirect(url_for(".users"))
    return render_template("admin/user_form.html", form=form, user=None)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    access.require("users.manage")  # before the lookup: no hint which user ids exist
    user = db.get_or_404(User, user_id)
    access.require("users.manage", user)
    form = UserForm(obj=user)
    form.username.render_kw = {"readonly": True}
    if request.method == "GET":
        form.roles.data = [r.value for r in user.roles]
    if form.validate_on_submit():
        def save() -> None:
            accounts.update_user(user, actor=current_user, full_name=form.full_name.data,
                                 email=form.email.data, roles=_roles(form),
                                 department=db.get_or_404(Department, form.department_id.data))
            if form.password.data:
                accounts.change_password(user, actor=current_user, new_password=form.password.data)

        if act(save, _("Đã lưu người dùng %(u)s.", u=user.username)):
            return redirect(url_for(".users"))
    form.username.data = user.username
    return render_template("admin/user_form.html", form=form, user=user,
                           activation_form=ActivationForm())


@bp.post("/users/<int:user_id>/active")
def user_set_active(user_id: int):
    access.require("users.manage")  # before the lookup: no hint which user ids exist
    user = db.get_or_404(User, user_id)
    access.require("users.manage", user)
    active = request.form.get("active") == "1"
    act(lambda: accounts.set_active(user, active, actor=current_user),
        _("Đã mở khoá %(u)s.", u=user.username) if active
        else _("Đã khoá %(u)s; các phiên đăng nhập của họ đã kết thúc.", u=user.username),
        form=ActivationForm())
    return redirect(url_for(".users"))
