"""Citizens' pages of the feedback loop (ISO 9001:2015 §9.1.2), no login: the complaint and
recommendation form (/gop-y) and the satisfaction rating offered on the lookup page once
the result is returned (/tra-cuu/danh-gia, with the dossier's code and lookup secret
checked again). Both are rate-limited per client address; the form also has a honeypot
field that people never see and robots fill in."""
from flask import current_app, flash, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from qms import clock, localtime
from qms.extensions import db, limiter
from qms.models import Agency, FeedbackKind, SatisfactionLevel
from qms.services import dossiers
from qms.services import feedback as feedback_service
from qms.web.actions import act
from qms.web.dossiers.forms import LookupForm
from qms.web.forms import Form
from qms.web.main import bp


class FeedbackForm(Form):
    agency_id = SelectField(_l("Gửi đến cơ quan"), coerce=int,
                            validators=[DataRequired(message=_l("Hãy chọn cơ quan nhận phản ánh, kiến nghị."))])
    kind = RadioField(_l("Loại"), choices=FeedbackKind.choices(),
                      default=FeedbackKind.complaint.value,
                      validators=[DataRequired(message=_l("Hãy chọn phản ánh hay kiến nghị."))])
    name = StringField(_l("Họ và tên"), validators=[DataRequired(message=_l("Hãy nhập họ và tên.")),
                                                   Length(max=feedback_service.MAX_NAME)])
    contact = StringField(_l("Số điện thoại hoặc thư điện tử"),
                          validators=[DataRequired(message=_l("Hãy cho biết cách liên hệ để nhận trả lời.")),
                                      Length(max=feedback_service.MAX_CONTACT)],
                          description=_l("Để cơ quan trả lời ông/bà."))
    dossier_code = StringField(_l("Mã hồ sơ (nếu có)"), validators=[Optional(), Length(max=48)],
                               description=_l("In trên giấy tiếp nhận và hẹn trả kết quả."))
    procedure_code = StringField(_l("Mã thủ tục (nếu có)"), validators=[Optional(), Length(max=64)],
                                 description=_l("Ví dụ 1.001193; xem trong danh mục thủ tục hành chính."))
    content = TextAreaField(_l("Nội dung phản ánh, kiến nghị"),
                            validators=[DataRequired(message=_l("Hãy nhập nội dung phản ánh, kiến nghị.")),
                                        Length(max=feedback_service.MAX_CONTENT)])
    # The honeypot: hidden from people (CSS and aria), filled by robots
    website = StringField(_l("Để trống ô này"), validators=[Optional()])
    submit = SubmitField(_l("Gửi phản ánh, kiến nghị"))


class RatingForm(Form):
    code = HiddenField(validators=[DataRequired(), Length(max=48)])
    secret = HiddenField(validators=[DataRequired(), Length(max=16)])
    level = RadioField(_l("Mức độ hài lòng"),
                       choices=SatisfactionLevel.choices(),
                       validators=[DataRequired(message=_l("Hãy chọn mức độ hài lòng."))])
    comment = TextAreaField(_l("Ý kiến thêm (nếu có)"),
                            validators=[Optional(), Length(max=feedback_service.MAX_COMMENT)])
    submit = SubmitField(_l("Gửi đánh giá"))


def _feedback_limit() -> str:
    return current_app.config.get("FEEDBACK_RATE_LIMIT", "10 per hour")


@bp.route("/gop-y", methods=["GET", "POST"])
@limiter.limit(_feedback_limit, methods=["POST"],
               error_message=lambda: _("Ông/bà đã gửi nhiều phản ánh, kiến nghị trong thời gian ngắn. Vui lòng thử lại sau."))
def feedback():
    """The public form; on success the page shows the feedback's code and deadline."""
    form = FeedbackForm()
    agencies = feedback_service.active_agencies(localtime.date_of(clock.now()))
    form.agency_id.choices = [(a.id, a.name) for a in agencies]
    if request.method == "GET":
        form.dossier_code.data = (request.args.get("ho_so") or "").strip()[:48] or None
        form.procedure_code.data = (request.args.get("thu_tuc") or "").strip()[:64] or None
        # From the lookup page: a dossier code starts with its agency's code ({agency}-{yyMMdd}-{NNNN})
        prefix = (form.dossier_code.data or "").upper().rsplit("-", 2)[0]
        form.agency_id.data = next((a.id for a in agencies if a.code == prefix), None)
    if form.validate_on_submit():
        if (form.website.data or "").strip():  # a robot: thank it, keep nothing
            return render_template("main/feedback_sent.html", feedback=None)
        submitted = act(lambda: feedback_service.submit_feedback(
            agency=db.session.get(Agency, form.agency_id.data), kind=form.kind.data,
            name=form.name.data, contact=form.contact.data, content=form.content.data,
            dossier_code=form.dossier_code.data, procedure_code=form.procedure_code.data,
            now=clock.now()))
        if submitted:
            return render_template("main/feedback_sent.html", feedback=submitted.value,
                                   kind_labels=FeedbackKind.labels())
    return render_template("main/feedback_form.html", form=form, agencies=agencies)


@bp.app_template_global()
def satisfaction_panel(dossier, code: str | None, secret: str | None) -> dict:
    """What the lookup page offers about rating `dossier`: the form (returned, not yet
    rated), or the rating already given."""
    if dossier is None:
        return {"form": None, "rating": None}
    rating = feedback_service.rating_of(dossier)
    form = None
    if rating is None and feedback_service.may_rate(dossier):
        form = RatingForm(formdata=None, prefix="rating", code=code, secret=secret)
    return {"form": form, "rating": rating, "labels": SatisfactionLevel.labels()}


@bp.post("/tra-cuu/danh-gia")
@limiter.limit("10 per minute",
               error_message=lambda: _("Bạn đã gửi quá nhiều lần. Vui lòng thử lại sau ít phút."))
def rate():
    """The citizen's rating of a returned dossier, proven by its code and lookup secret."""
    form = RatingForm(prefix="rating")
    found = dossiers.find_for_lookup(form.code.data or "", form.secret.data or "")
    lookup_form = LookupForm(formdata=None, code=form.code.data, secret=form.secret.data)
    if found is None:
        return render_template("main/lookup.html", form=lookup_form, dossier=None, not_found=True, step=None)
    if form.validate_on_submit():
        act(lambda: feedback_service.rate_dossier(found, level=form.level.data, comment=form.comment.data,
                                                  now=clock.now()),
            _("Cảm ơn ông/bà đã đánh giá."), refusal="warning")
    else:  # only the citizen's own fields: the hidden code and secret are not theirs to correct
        for field in (form.level, form.comment):
            for error in field.errors:
                flash(error, "danger")
    return render_template("main/lookup.html", form=lookup_form, dossier=found, not_found=False,
                           step=dossiers.current_step(found), pause=dossiers.current_pause(found))
