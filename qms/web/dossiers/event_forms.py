"""Forms of the dossier's pauses, delays and endings (see events.py). Each form has a prefix,
so that the several forms of the dossier page keep distinct field names and ids."""
from flask_babel import lazy_gettext as _l
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from qms.models import ResultDelivery
from qms.web.forms import Form

REASON_REQUIRED = _l("Hãy ghi lý do.")


def _reason(label, description=None):
    return TextAreaField(label, validators=[DataRequired(message=REASON_REQUIRED), Length(max=4000)],
                         description=description)


class SupplementRequestForm(Form):
    reason = _reason(_l("Nội dung cần bổ sung, hoàn thiện"),
                     _l("Mỗi dòng một nội dung; in trên phiếu yêu cầu bổ sung (Mẫu 02)."))


class PaymentRequestForm(Form):
    reason = _reason(_l("Nghĩa vụ tài chính cần thực hiện"), _l("Ví dụ: Nộp lệ phí trước bạ."))


class ApologyForm(Form):
    reason = _reason(_l("Lý do chậm trả kết quả"))
    promised_date = DateField(_l("Ngày hẹn trả kết quả mới"),
                              validators=[DataRequired(message=_l("Hãy chọn ngày hẹn trả kết quả mới."))],
                              description=_l("Hẹn trả trước giờ kết thúc làm việc của ngày đó."))


class StopForm(Form):
    reason = _reason(_l("Lý do dừng xử lý hồ sơ"), _l("In trên thông báo dừng xử lý hồ sơ (Mẫu 05)."))


class WithdrawForm(Form):
    reason = _reason(_l("Lý do rút hồ sơ"), _l("Theo đề nghị của người nộp hồ sơ."))


class PauseForm(Form):
    kind = SelectField(_l("Tạm dừng để"), choices=[])  # the kinds the dossier's procedure allows
    reason = _reason(_l("Nội dung"), _l("Ví dụ: Chờ Văn phòng đăng ký đất đai đo đạc thửa đất số 12."))


class ReturnResultForm(Form):
    via = SelectField(_l("Hình thức trả kết quả"), choices=ResultDelivery.choices(),
                      default=ResultDelivery.desk.value)
    note = TextAreaField(_l("Ghi chú"), validators=[Optional(), Length(max=4000)],
                         description=_l("Ví dụ: người nhận thay, số vận đơn bưu chính."))


# action name (services.dossiers.EVENT_ACTIONS) → (form class, field prefix); actions with
# no input (receiving the documents or the payment) post the CSRF token only.
FORMS = {
    "supplement_request": (SupplementRequestForm, "supplement"),
    "payment_request": (PaymentRequestForm, "payment"),
    "apology": (ApologyForm, "apology"),
    "stop": (StopForm, "stop"),
    "withdraw": (WithdrawForm, "withdraw"),
    "return_result": (ReturnResultForm, "return"),
    "pause_start": (PauseForm, "pause"),
}


def form_for(action: str) -> Form:
    form_class, prefix = FORMS[action]
    return form_class(prefix=prefix)

