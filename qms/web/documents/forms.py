from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.models import DocumentKind
from qms.web.forms import Form, department_choices

# Process documents come with their procedure (procedures_iso/ import), never by hand.
KIND_CHOICES = [(k.value, k.label) for k in DocumentKind if k is not DocumentKind.process]

IMPORT_OUTCOMES = {
    "created": _l("Tạo mới (có hiệu lực)"),
    "draft": _l("Tạo dự thảo mới"),
    "updated-draft": _l("Cập nhật dự thảo đang mở"),
    "unchanged": _l("Không thay đổi"),
}


class DocumentForm(Form):
    code = StringField(_l("Mã tài liệu"), validators=[DataRequired(), Length(max=32)])
    title = StringField(_l("Tên tài liệu"), validators=[DataRequired(), Length(max=500)])
    kind = SelectField(_l("Loại tài liệu"), choices=KIND_CHOICES, validators=[DataRequired()])
    owner_department_id = SelectField(_l("Phòng ban quản lý"), coerce=int, validators=[DataRequired()])
    review_interval_months = IntegerField(_l("Chu kỳ rà soát (tháng)"), default=12,
                                          validators=[DataRequired(), NumberRange(1, 60)])
    body = TextAreaField(_l("Nội dung dự thảo lần 1"), render_kw={"rows": 14})
    submit = SubmitField(_l("Tạo tài liệu"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # a quality officer keeps their own agency's documents (qms.authz)
        self.owner_department_id.choices = department_choices(agency_id=current_user.department.agency_id)


class VersionForm(Form):
    title = StringField(_l("Tên tài liệu"), validators=[DataRequired(), Length(max=500)])
    change_summary = TextAreaField(_l("Tóm tắt nội dung sửa đổi"), render_kw={"rows": 3})
    body = TextAreaField(_l("Nội dung"), render_kw={"rows": 18})
    submit = SubmitField(_l("Lưu dự thảo"))


class ActionForm(Form):
    """A workflow button (submit, acknowledge, remove a file): a POST with CSRF, no fields."""


class ReturnForm(Form):
    reason = TextAreaField(_l("Lý do trả lại"), validators=[DataRequired(_l("Hãy ghi lý do trả lại."))])


class ApproveForm(Form):
    effective_date = DateField(_l("Ngày có hiệu lực"),
                               validators=[DataRequired(_l("Hãy chọn ngày có hiệu lực."))])


class WithdrawForm(Form):
    reason = TextAreaField(_l("Lý do thu hồi"), validators=[DataRequired(_l("Hãy ghi lý do thu hồi."))])


class ReviewForm(Form):
    note = StringField(_l("Kết quả rà soát"), validators=[Optional(), Length(max=1000)])


class ImportForm(Form):
    file = FileField(_l("Tệp procedures_iso (.md, .yaml, .yml)"),
                     validators=[FileRequired(_l("Hãy chọn một tệp."))],
                     render_kw={"accept": ".md,.yaml,.yml"})


class AttachmentForm(Form):
    file = FileField(_l("Tệp đính kèm (PDF, DOCX, XLSX)"),
                     validators=[FileRequired(_l("Hãy chọn một tệp để đính kèm."))],
                     render_kw={"accept": ".pdf,.docx,.xlsx"})
