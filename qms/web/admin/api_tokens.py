"""API tokens of integration accounts: issue (the plaintext shown once), list, revoke."""
import sqlalchemy as sa
from flask import redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from qms import clock
from qms.extensions import db
from qms.models import ApiToken, User
from qms.services import api_tokens
from qms.web import access
from qms.web.actions import act, flash_form_errors
from qms.web.admin import bp
from qms.web.forms import Form


class ApiTokenForm(Form):
    user_id = SelectField(_l("Tài khoản tích hợp"), coerce=int, validators=[DataRequired()],
                          description=_l("Mã truy cập hoạt động với đúng quyền của tài khoản này."))
    name = StringField(_l("Tên (hệ thống sử dụng)"), validators=[DataRequired(), Length(max=128)],
                       render_kw={"placeholder": _l("Ví dụ: Cổng dịch vụ công tỉnh")})
    submit = SubmitField(_l("Cấp mã truy cập"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        active = db.session.scalars(sa.select(User).where(User.active.is_(True))
                                    .order_by(User.username))
        self.user_id.choices = [(u.id, f"{u.username} — {u.full_name} ({u.department.code})")
                                for u in active]


class RevokeTokenForm(Form):
    """Revoke: a POST with CSRF, no fields."""


def _page(form: ApiTokenForm, *, plaintext: str | None = None, issued: ApiToken | None = None):
    tokens = db.session.scalars(api_tokens.listing()).all()
    response = render_template("admin/api_tokens.html", tokens=tokens, form=form,
                               revoke_form=RevokeTokenForm(), plaintext=plaintext, issued=issued)
    # The page may carry a token in clear: never keep it in a cache.
    return response, 200, {"Cache-Control": "no-store"}


@bp.get("/api-tokens")
def api_tokens_list():
    access.require("api_tokens.manage")
    return _page(ApiTokenForm())


@bp.post("/api-tokens")
def api_token_issue():
    access.require("api_tokens.manage")
    form = ApiTokenForm()
    if not form.validate_on_submit():
        flash_form_errors(form)
        return _page(form)
    user = db.get_or_404(User, form.user_id.data)
    issued = act(lambda: api_tokens.issue_token(user, name=form.name.data, actor=current_user, now=clock.now()),
                 _("Đã cấp mã truy cập cho %(u)s. Hãy sao chép ngay: mã chỉ hiện một lần.", u=user.username))
    if issued:
        token, plaintext = issued.value
        # Rendered, not redirected: the plaintext exists only in this response.
        return _page(ApiTokenForm(formdata=None), plaintext=plaintext, issued=token)
    return _page(form)


@bp.post("/api-tokens/<int:token_id>/revoke")
def api_token_revoke(token_id: int):
    access.require("api_tokens.manage")  # before the lookup: no hint which ids exist
    token = db.get_or_404(ApiToken, token_id)
    act(lambda: api_tokens.revoke(token, actor=current_user, now=clock.now()),
        _("Đã thu hồi mã truy cập %(p)s của %(u)s.", p=token.prefix, u=token.user.username),
        form=RevokeTokenForm())
    return redirect(url_for(".api_tokens_list"))
