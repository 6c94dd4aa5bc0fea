from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    PasswordField,
    SelectField,
    StringField,
    SubmitField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from qms.models import AgencyLevel, Role
from qms.web.forms import Form, MultiCheckboxField, agency_choices, department_choices


class UserForm(Form):
    username = StringField(_l("Tên đăng nhập"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Họ và tên"), validators=[DataRequired(), Length(max=255)])
    email = EmailField(_l("Thư điện tử"), validators=[Optional(), Email(), Length(max=255)])
    department_id = SelectField(_l("Phòng ban"), coerce=int, validators=[DataRequired()])
    roles = MultiCheckboxField(_l("Vai trò"), choices=[(r.value, r.label) for r in Role],
                               validators=[DataRequired(_l("Chọn ít nhất một vai trò."))])
    password = PasswordField(_l("Mật khẩu ban đầu"), validators=[Optional(), Length(max=256)],
                             render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("Lưu"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.department_id.choices = department_choices()
        self.roles.choices = [(r.value, r.label) for r in Role]


class ActivationForm(Form):
    """Activate / deactivate: a POST with CSRF, no fields."""


class AgencyForm(Form):
    code = StringField(_l("Mã định danh"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Tên cơ quan, đơn vị"), validators=[DataRequired(), Length(max=255)])
    level = SelectField(_l("Cấp"), validators=[DataRequired()])
    parent_id = SelectField(_l("Đơn vị cấp trên"), coerce=int)
    effective_from = DateField(_l("Có hiệu lực từ"), validators=[DataRequired()])
    effective_to = DateField(_l("Hết hiệu lực từ"), validators=[Optional()])
    successor_id = SelectField(_l("Sáp nhập vào"), coerce=int)
    submit = SubmitField(_l("Lưu"))

    def __init__(self, *args, exclude_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.level.choices = AgencyLevel.choices()
        self.parent_id.choices = agency_choices(_l("(không có — cấp cao nhất)"), exclude_id)
        self.successor_id.choices = agency_choices(_l("(không sáp nhập)"), exclude_id)


class DepartmentForm(Form):
    code = StringField(_l("Mã phòng ban"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Tên phòng ban"), validators=[DataRequired(), Length(max=255)])
    agency_id = SelectField(_l("Thuộc cơ quan"), coerce=int, validators=[DataRequired()])
    is_one_stop = BooleanField(_l("Là bộ phận một cửa / Trung tâm phục vụ hành chính công"))
    active = BooleanField(_l("Đang hoạt động"), default=True)
    submit = SubmitField(_l("Lưu"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.agency_id.choices = agency_choices()[1:]


class FieldForm(Form):
    code = StringField(_l("Mã lĩnh vực"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Tên lĩnh vực"), validators=[DataRequired(), Length(max=255)])
    active = BooleanField(_l("Đang sử dụng"), default=True)
    submit = SubmitField(_l("Lưu"))


class AuditFilterForm(Form):
    class Meta:
        csrf = False  # a GET filter changes nothing

    actor = StringField(_l("Người thực hiện"), validators=[Optional(), Length(max=64)])
    entity_type = SelectField(_l("Loại bản ghi"), validators=[Optional()])
    action = StringField(_l("Hành động"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("Từ ngày"), validators=[Optional()])
    date_to = DateField(_l("Đến ngày"), validators=[Optional()])
    submit = SubmitField(_l("Lọc"))


class WorkingHoursForm(Form):
    working_hours = StringField(_l("Giờ làm việc"), validators=[Optional(), Length(max=64)],
                                render_kw={"placeholder": "07:00-11:30, 13:30-17:00"})
    submit = SubmitField(_l("Lưu giờ làm việc"))


class OverrideForm(Form):
    day = DateField(_l("Ngày"), validators=[DataRequired()])
    kind = SelectField(_l("Loại"), choices=[("day_off", _l("Nghỉ (nghỉ bù, hoán đổi)")),
                                            ("working_day", _l("Làm việc (làm bù)"))])
    reason = StringField(_l("Căn cứ"), validators=[DataRequired(), Length(max=500)],
                         render_kw={"placeholder": _l("Ví dụ: Thông báo số .../TB-UBND")})
    submit = SubmitField(_l("Thêm"))
