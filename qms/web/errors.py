"""One place where errors become pages (or JSON): never a stack trace to the user."""
from __future__ import annotations

from flask import Flask, abort, flash, g, jsonify, redirect, render_template, request
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from qms.errors import QmsError
from qms.extensions import db
from qms.transactions import is_lock_timeout, reading

MAX_QUERY_VALUE = 1000
MAX_PAGE = 1_000_000


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json")


def _error_page(status: int, title: str, message: str):
    try:
        db.session.rollback()  # whatever the failed request half-did is not kept
    except Exception:  # the database itself may be what failed
        pass
    if _wants_json():
        return jsonify(error={"status": status, "title": title, "message": message}), status
    return render_template("errors/error.html", status=status, title=title, message=message), status


def register_error_handlers(app: Flask) -> None:
    titles = {
        400: (lambda: _("Yêu cầu không hợp lệ"),
              lambda: _("Dữ liệu gửi lên không hợp lệ. Vui lòng kiểm tra và thử lại.")),
        403: (lambda: _("Không có quyền truy cập"),
              lambda: _("Tài khoản của bạn không có quyền thực hiện thao tác này.")),
        404: (lambda: _("Không tìm thấy"),
              lambda: _("Trang hoặc bản ghi bạn tìm không tồn tại.")),
        405: (lambda: _("Phương thức không được hỗ trợ"),
              lambda: _("Thao tác này không thực hiện được theo cách đó.")),
        413: (lambda: _("Dữ liệu gửi lên quá lớn"),
              lambda: _("Tệp hoặc nội dung gửi lên vượt giới hạn cho phép.")),
        429: (lambda: _("Quá nhiều yêu cầu"),
              lambda: _("Bạn đã thử quá nhiều lần. Vui lòng đợi ít phút rồi thử lại.")),
        503: (lambda: _("Hệ thống đang bận"),
              lambda: _("Hệ thống đang bận ghi dữ liệu khác; thao tác của bạn chưa được thực hiện. "
                        "Vui lòng thử lại sau giây lát.")),
        500: (lambda: _("Lỗi hệ thống"),
              lambda: _("Đã có lỗi ngoài ý muốn. Dữ liệu của bạn không bị thay đổi; vui lòng thử lại sau.")),
    }

    @app.before_request
    def _refuse_odd_queries():
        """A query no page asks for gets a 400, not a database error: NUL (PostgreSQL text
        refuses it), values longer than any filter, page numbers past any list."""
        for key, value in request.args.items(multi=True):
            if "\x00" in key or "\x00" in value or len(value) > MAX_QUERY_VALUE:
                abort(400)
            if (key == "page" or key.endswith("_page")) and value.isdigit() and int(value) > MAX_PAGE:
                abort(400)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return _error_page(400, _("Phiên làm việc đã hết hạn"),
                           _("Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ (CSRF). Vui lòng tải lại trang và gửi lại."))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        title, message = titles.get(status, (lambda: error.name, lambda: error.description))
        text = message()
        if isinstance(error, RateLimitExceeded) and error.limit.error_message:
            text = error.description  # the throttled route's own explanation
        return _error_page(status, title(), text)

    @app.errorhandler(QmsError)
    def domain_error(error: QmsError):
        # A rule refused the change: nothing was written; say why where the user was.
        db.session.rollback()
        if _wants_json():
            return jsonify(error={"status": error.status_code, "message": error.message}), error.status_code
        if request.method == "POST" and request.referrer:
            flash(error.message, "danger")
            return redirect(request.referrer)
        return _error_page(error.status_code, titles.get(error.status_code, titles[400])[0](),
                           error.message)

    @app.errorhandler(Exception)
    def unexpected_error(error: Exception):
        if is_lock_timeout(error) and not g.get("qms_committed_a_write"):
            # SQLite's write lock stayed taken past the busy timeout: nothing was written,
            # and the same request will very likely pass in a moment.
            app.logger.warning("database busy on %s %s", request.method, request.path)
            title, message = titles[503]
            with reading():  # the page reads who is logged in: without waiting for the lock
                response, status = _error_page(503, title(), message())
            return response, status, {"Retry-After": "2"}
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        title, message = titles[500]
        return _error_page(500, title(), message())
