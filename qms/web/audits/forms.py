"""Forms of the internal audit pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import MultipleFileField
from wtforms import (
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.models import ChecklistResult, FindingKind
from qms.services import iso_clauses
from qms.web.forms import Form, MultiCheckboxField


def result_choices():
    return [(r.value, r.label) for r in ChecklistResult]


def kind_choices():
    return [(k.value, k.label) for k in FindingKind]


class ProgrammeForm(Form):
    agency_id = SelectField(_l("Cơ quan, đơn vị"), coerce=int, validators=[DataRequired()])
    year = IntegerField(_l("Năm"), validators=[DataRequired(_l("Hãy nhập năm.")), NumberRange(2000, 2100)])
    title = StringField(_l("Tên chương trình"), validators=[DataRequired(_l("Hãy nhập tên chương trình.")),
                                                           Length(max=255)])
    objectives = TextAreaField(_l("Mục tiêu, phạm vi chung"), validators=[Length(max=5000)],
                               render_kw={"rows": 3})
    submit = SubmitField(_l("Lập chương trình"))


class AuditForm(Form):
    """Planning an audit, or changing a planned one."""

    title = StringField(_l("Tên cuộc đánh giá"), validators=[DataRequired(_l("Hãy nhập tên cuộc đánh giá.")),
                                                            Length(max=255)])
    departments = MultiCheckboxField(_l("Phòng ban được đánh giá"), coerce=int)
    clauses = SelectMultipleField(_l("Điều khoản ISO 9001:2015"), render_kw={"size": 12})
    procedures = SelectMultipleField(_l("Quy trình được đánh giá"), coerce=int, render_kw={"size": 8})
    criteria = TextAreaField(_l("Chuẩn mực đánh giá"), validators=[Length(max=5000)], render_kw={"rows": 2})
    planned_start = DateField(_l("Ngày bắt đầu dự kiến"),
                              validators=[DataRequired(_l("Hãy nhập ngày bắt đầu dự kiến."))])
    planned_end = DateField(_l("Ngày kết thúc dự kiến"),
                            validators=[DataRequired(_l("Hãy nhập ngày kết thúc dự kiến."))])
    lead_auditor_id = SelectField(_l("Trưởng đoàn đánh giá"), coerce=int,
                                  validators=[DataRequired(_l("Hãy chọn trưởng đoàn đánh giá."))])
    team = MultiCheckboxField(_l("Thành viên đoàn đánh giá"), coerce=int)
    submit = SubmitField(_l("Lưu kế hoạch"))

    def __init__(self, *args, departments=(), procedures=(), auditors=(), lead=None, **kwargs):
        """`lead`: an auditor planning their own audit — the lead is fixed to them (the only
        choice, preselected). Another value posted is left to the service, which refuses it
        with its own message (services.audits._require_own_lead)."""
        super().__init__(*args, **kwargs)
        self.departments.choices = [(d.id, f"{d.code} — {d.name}") for d in departments]
        self.procedures.choices = [(p.id, f"{p.code} — {p.name}") for p in procedures]
        self.clauses.choices = iso_clauses.choices()
        people = [(u.id, f"{u.full_name} ({u.department.code})") for u in auditors]
        if lead is None:
            self.lead_auditor_id.choices = [(0, "—")] + people
        else:
            self.lead_auditor_id.choices = [(lead.id, f"{lead.full_name} ({lead.department.code})")]
            self.lead_auditor_id.validate_choice = False
            self.lead_auditor_id.description = _l("Bạn là trưởng đoàn của cuộc đánh giá do mình lập kế "
                                                  "hoạch; cán bộ ISO phân công được trưởng đoàn khác.")
            if not self.lead_auditor_id.data:
                self.lead_auditor_id.data = lead.id
        self.team.choices = people


class AnswerForm(Form):
    result = SelectField(_l("Kết quả"), validators=[DataRequired(_l("Hãy chọn kết quả đánh giá."))])
    evidence = TextAreaField(_l("Bằng chứng"), validators=[Length(max=10000)])
    sampled_dossiers = StringField(_l("Mã hồ sơ lấy mẫu"), validators=[Length(max=2000)])
    files = MultipleFileField(_l("Tệp bằng chứng (PDF, DOCX, XLSX)"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.result.choices = result_choices()


class FindingForm(Form):
    kind = SelectField(_l("Loại phát hiện"), validators=[DataRequired()])
    clause = SelectField(_l("Điều khoản"), validators=[Optional()])
    department_id = SelectField(_l("Phòng ban"), coerce=int, validators=[Optional()])
    procedure_id = SelectField(_l("Quy trình"), coerce=int, validators=[Optional()])
    description = TextAreaField(_l("Mô tả"), validators=[DataRequired(_l("Hãy mô tả phát hiện.")),
                                                         Length(max=10000)])

    def __init__(self, *args, audit=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = kind_choices()
        self.clause.choices = iso_clauses.choices(blank="—")
        departments = audit.departments if audit is not None else []
        procedures = audit.procedures if audit is not None else []
        self.department_id.choices = [(0, "—")] + [(d.id, f"{d.code} — {d.name}") for d in departments]
        self.procedure_id.choices = [(0, "—")] + [(p.id, f"{p.code} — {p.name}") for p in procedures]


class ReportForm(Form):
    summary = TextAreaField(_l("Kết luận của cuộc đánh giá"),
                            validators=[DataRequired(_l("Hãy ghi kết luận của cuộc đánh giá.")),
                                        Length(max=20000)], render_kw={"rows": 4})


class ActionForm(Form):
    """A state button (start, close): a POST with CSRF, no fields."""
