"""Forms of the corrective-action pages (cars.py). Each form of the CAR page has a prefix, so
that the page's several forms keep distinct field names and ids."""
from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    FieldList,
    FormField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms import Form as RowForm  # a nested row: no CSRF token of its own
from wtforms.validators import DataRequired, Length, Optional

from qms.web.forms import Form, MultiCheckboxField

WHY_ROWS = 5  # "5 whys": five answers offered, more kept when a CAR has them
ITEM_ROWS = 4  # blank action rows offered by the plan form


class OpenForm(Form):
    nonconformity_ids = MultiCheckboxField(_l("Sự không phù hợp"), coerce=int, choices=[],
                                           validate_choice=False)
    owner_id = SelectField(_l("Người chịu trách nhiệm (trưởng phòng)"), coerce=int, choices=[],
                           validate_choice=False)


class AddForm(Form):
    nonconformity_ids = MultiCheckboxField(_l("Bổ sung sự không phù hợp"), coerce=int, choices=[],
                                           validate_choice=False)


class AnalysisForm(Form):
    correction = TextAreaField(_l("Hành động khắc phục tức thời (đã thực hiện)"),
                               validators=[Optional(), Length(max=4000)])
    whys = FieldList(StringField(_l("Tại sao?"), validators=[Optional(), Length(max=1000)]),
                     min_entries=WHY_ROWS, max_entries=10)
    root_cause = TextAreaField(_l("Nguyên nhân gốc"), validators=[Optional(), Length(max=4000)],
                               description=_l("Kết luận của 5 câu “Tại sao?”, hoặc phân tích nguyên nhân theo cách khác."))


class ItemRow(RowForm):
    description = StringField(_l("Hành động"), validators=[Optional(), Length(max=4000)])
    owner_id = SelectField(_l("Người thực hiện"), coerce=int, choices=[], validate_choice=False)
    due_date = DateField(_l("Thời hạn"), validators=[Optional()])


class PlanForm(Form):
    items = FieldList(FormField(ItemRow), min_entries=ITEM_ROWS, max_entries=20)
    check_date = DateField(_l("Ngày kiểm tra hiệu lực"), validators=[Optional()])
    verifier_id = SelectField(_l("Người xác nhận hiệu lực"), coerce=int, choices=[], validate_choice=False)


class CompleteItemForm(Form):
    evidence = TextAreaField(_l("Bằng chứng đã thực hiện"),
                             validators=[DataRequired(message=_l("Hãy ghi bằng chứng đã thực hiện.")),
                                         Length(max=4000)])


RESULTS = [("effective", _l("Có hiệu lực — đóng phiếu")),
           ("not_effective", _l("Chưa hiệu quả — quay lại phân tích nguyên nhân"))]


class VerifyForm(Form):
    result = RadioField(_l("Kết quả kiểm tra hiệu lực"), choices=RESULTS,
                        validators=[DataRequired(message=_l("Hãy chọn kết quả kiểm tra."))])
    note = TextAreaField(_l("Nhận xét"), validators=[Optional(), Length(max=4000)],
                         description=_l("Bắt buộc khi chưa hiệu quả: lý do được lưu lại."))
