from flask import (
    abort,
    current_app,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from qms import clock
from qms.errors import NotFound
from qms.extensions import db
from qms.services import notifications
from qms.web.actions import act
from qms.web.notifications import bp


@bp.before_request
@login_required
def _require_login():
    """Everyone logged in has notifications; each sees only their own."""


@bp.app_context_processor
def bell():
    """The unread count for the navbar: one COUNT, only for a logged-in user, once per
    request."""
    if not has_request_context() or not current_user or not current_user.is_authenticated:
        return {}  # PDFs rendered by a command, anonymous visitors
    if "unread_notifications" not in g:
        g.unread_notifications = notifications.unread_count(current_user)
    return {"unread_notifications": g.unread_notifications}


@bp.get("")
def index():
    page = db.paginate(notifications.for_user(current_user),
                       per_page=current_app.config["PAGE_SIZE"], error_out=False)
    return render_template("notifications/index.html", page=page)


@bp.post("/<int:notification_id>/read")
def read(notification_id: int):
    try:
        notification = notifications.get_own(notification_id, actor=current_user)
    except NotFound:
        abort(404)  # someone else's, or none: the same answer
    act(lambda: notifications.mark_read(notification, actor=current_user, now=clock.now()))
    return redirect(notifications.safe_link(notification) or url_for(".index"))


@bp.post("/read-all")
def read_all():
    act(lambda: notifications.mark_all_read(actor=current_user, now=clock.now()),
        lambda count: _("Đã đánh dấu %(n)d thông báo là đã đọc.", n=count) if count else None)
    return redirect(url_for(".index", page=request.args.get("page", type=int)))
