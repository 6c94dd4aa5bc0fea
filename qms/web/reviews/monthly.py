"""Pages of the monthly compliance review: the list (a department's months; for oversight
roles every department's status, the rankings and the reminders), one department-month
(figures, late dossiers and steps, objectives, NCs/CARs, the head's comments and
signature, the difference from the live figures once signed) and its PDF / XLSX report.
Rules: services.monthly_reviews; figures: services.metrics."""
from __future__ import annotations

import io
import math

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from wtforms import TextAreaField
from wtforms.validators import Length, Optional

from qms import clock
from qms.errors import NotFound, QmsError
from qms.reports import monthly as report
from qms.services import monthly_reviews as reviews
from qms.web import access
from qms.web.actions import act
from qms.web.forms import Form
from qms.web.reviews import bp

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PER_PAGE = 50


class MonthlyReviewForm(Form):
    comments = TextAreaField(_l("Nhận xét"), validators=[Optional(), Length(max=reviews.MAX_TEXT)],
                             description=_l("Đánh giá kết quả tháng, nguyên nhân hồ sơ và bước xử lý quá hạn."))
    actions = TextAreaField(_l("Biện pháp, hành động"), validators=[Optional(), Length(max=reviews.MAX_TEXT)],
                            description=_l("Việc phòng sẽ làm trong tháng tới, người thực hiện, thời hạn."))


def _department_month(department_code: str, month_text: str):
    """Logged in and allowed to read reviews at all (403 first), then the department and a
    month that has begun (404), then this department's (403)."""
    access.require("monthly_reviews.view")
    try:
        department = reviews.department_by_code(department_code)
        month = reviews.require_month(month_text, clock.now())
    except NotFound:
        abort(404)
    access.require("monthly_reviews.view", department)
    return department, month


def _paged(items: list, argument: str) -> dict:
    try:
        page = max(1, int(request.args.get(argument, 1)))
    except ValueError:
        page = 1
    pages = max(1, math.ceil(len(items) / PER_PAGE))
    page = min(page, pages)
    return {"items": items[(page - 1) * PER_PAGE:page * PER_PAGE], "page": page, "pages": pages,
            "offset": (page - 1) * PER_PAGE, "argument": argument}


@bp.get("/monthly")
@login_required
def monthly_index():
    access.require("monthly_reviews.view")
    now = clock.now()
    department = current_user.department
    mine = (reviews.department_months(department, now)
            if access.can("monthly_reviews.view", department) else [])
    overview = reminders = None
    error = None
    oversight = access.can("monthly_reviews.read_all")
    month = reviews.last_ended_month(now)
    if oversight:
        if request.args.get("month"):
            try:
                month = reviews.require_month(request.args["month"], now)
            except QmsError as problem:
                error = problem.message
        overview = reviews.overview(month, now)
        reminders = reviews.reminders(now)
    return render_template("reviews/monthly_index.html", mine=mine, department=department,
                           overview=overview, reminders=reminders, month=month, error=error,
                           may_write=access.can("monthly_reviews.sign", department),
                           month_key=reviews.month_key, month_label=reviews.month_label), 400 if error else 200


@bp.get("/monthly/<department_code>/<month>")
@login_required
def monthly_show(department_code, month):
    department, month = _department_month(department_code, month)
    now = clock.now()
    context = report.report_context(department, month, now)
    review = context["review"]
    may_write = access.can("monthly_reviews.sign", department) and not context["signed"]
    form = MonthlyReviewForm()
    if review is not None:
        form.comments.data, form.actions.data = review.comments, review.actions
    return render_template(
        "reviews/monthly_show.html", **context, form=form, may_write=may_write,
        late=_paged(context["late_dossiers"], "page"), steps=_paged(context["late_steps"], "steps_page"),
        bars=report.bars(context["figures"]), labels=reviews, ended=reviews.has_ended(month, now),
        month_key=reviews.month_key(month))


def _write(department_code: str, month_text: str, action: str):
    department, month = _department_month(department_code, month_text)
    access.require("monthly_reviews.sign", department)
    form = MonthlyReviewForm()
    target = url_for(".monthly_show", department_code=department.code, month=reviews.month_key(month))
    if action == "sign":
        act(lambda: reviews.sign(department, month, actor=current_user, now=clock.now(),
                                 comments=form.comments.data, actions=form.actions.data),
            _("Đã ký xem xét tháng %(m)s. Số liệu đã được chốt.", m=reviews.month_label(month)),
            form=form, field_names=False)
    else:
        act(lambda: reviews.save(department, month, comments=form.comments.data, actions=form.actions.data,
                                 actor=current_user, now=clock.now()),
            _("Đã lưu nhận xét và biện pháp."), form=form, field_names=False)
    return redirect(target)


@bp.post("/monthly/<department_code>/<month>/save")
@login_required
def monthly_save(department_code, month):
    return _write(department_code, month, "save")


@bp.post("/monthly/<department_code>/<month>/sign")
@login_required
def monthly_sign(department_code, month):
    return _write(department_code, month, "sign")


@bp.get("/monthly/<department_code>/<month>/report.pdf")
@login_required
def monthly_pdf(department_code, month):
    department, month = _department_month(department_code, month)
    data = report.monthly_pdf(report.report_context(department, month, clock.now()))
    return send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=False,
                     download_name=report.filename(department, month, "pdf"))


@bp.get("/monthly/<department_code>/<month>/report.xlsx")
@login_required
def monthly_xlsx(department_code, month):
    department, month = _department_month(department_code, month)
    data = report.monthly_xlsx(report.report_context(department, month, clock.now()))
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True,
                     download_name=report.filename(department, month, "xlsx"))

