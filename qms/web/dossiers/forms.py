from flask_babel import lazy_gettext as _l
from wtforms import (
    EmailField,
    MultipleFileField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from qms.models import Channel, ResultDelivery
from qms.web.forms import Form, MultiCheckboxField


class ReceiveForm(Form):
    procedure_id = SelectField(_l("Thủ tục"), coerce=int, validators=[DataRequired()])
    applicant_name = StringField(_l("Người nộp hồ sơ"), validators=[DataRequired(), Length(max=255)])
    applicant_id_number = StringField(_l("Số định danh cá nhân"), validators=[Optional(), Length(max=32)])
    applicant_phone = StringField(_l("Điện thoại"), validators=[Optional(), Length(max=32)])
    applicant_address = StringField(_l("Địa chỉ"), validators=[Optional(), Length(max=500)])
    applicant_email = EmailField(_l("Thư điện tử"), validators=[Optional(), Email(), Length(max=255)])
    channel = SelectField(_l("Kênh tiếp nhận"), choices=Channel.choices())
    components = MultiCheckboxField(_l("Thành phần hồ sơ đã nhận"), choices=[], validate_choice=False)
    return_method = SelectField(_l("Hình thức nhận kết quả"), choices=[("", "—"), *ResultDelivery.choices()],
                                validators=[Optional()])
    # Received here for another agency of the province to process (0: this one)
    processing_agency_id = SelectField(_l("Cơ quan giải quyết"), coerce=int, validators=[Optional()],
                                       choices=[])
    # A case of the chosen procedure (its own limit and process); "" is the main case.
    case_key = StringField(_l("Trường hợp"), validators=[Optional(), Length(max=48)])
    # Only for an incomplete dossier (guidance slip, refusal): required there, see
    # qms/web/dossiers/reception.py; receiving a complete dossier ignores it.
    missing = TextAreaField(_l("Nội dung cần bổ sung / lý do từ chối"),
                            validators=[Optional(), Length(max=4000)],
                            description=_l("Mỗi dòng một nội dung. Bắt buộc khi hướng dẫn bổ sung hoặc từ chối tiếp nhận."))


class CompleteForm(Form):
    result = StringField(_l("Kết quả"), validators=[Optional(), Length(max=500)],
                         description=_l("Ví dụ: Đủ điều kiện; Đã ký Giấy khai sinh số 12/2026"))
    note = TextAreaField(_l("Ghi chú"), validators=[Optional(), Length(max=2000)])
    files = MultipleFileField(_l("Tệp kèm theo (PDF, DOCX, XLSX)"))
    next_department_id = SelectField(_l("Chuyển bước tiếp theo cho"), coerce=int, validators=[Optional()])


class SendBackForm(Form):
    reason = TextAreaField(_l("Lý do chuyển trả"), validators=[DataRequired(), Length(max=2000)])


class ReissueReceiptForm(Form):
    """A new receipt with a new lookup code (nothing to fill in: the CSRF token only)."""


class LookupForm(Form):
    code = StringField(_l("Mã hồ sơ"), validators=[DataRequired(), Length(max=48)])
    secret = StringField(_l("Mã tra cứu"), validators=[DataRequired(), Length(max=16)])
    submit = SubmitField(_l("Tra cứu"))

