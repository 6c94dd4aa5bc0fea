"""Administrative procedures (thủ tục hành chính) and their internal processes.

A Procedure is the national catalogue entry; each of its versions is a document version
(of the procedure's `process` document) with the time limit, rules and ordered steps the
office follows. Dossiers pin one version.
"""
from __future__ import annotations

import enum
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.documents import Document, DocumentVersion
from qms.models.org import Agency, AgencyLevel, Field

MINUTES_PER_WORKING_DAY = 8 * 60


class TimeUnit(LabelledEnum):
    working_hours = "working_hours", _l("giờ làm việc")
    working_days = "working_days", _l("ngày làm việc")  # halves allowed: 0.5, 1.5, ...
    # a due date on a day off rolls to the next working day
    calendar_days = "calendar_days", _l("ngày")


class SupplementRule(LabelledEnum):
    # the full limit counts again from the complete dossier (default)
    restart = "restart", _l("Tính lại toàn bộ thời hạn từ khi nhận đủ hồ sơ")
    # the clock stops while the citizen supplements, then resumes
    pause = "pause", _l("Tạm dừng trong thời gian bổ sung, sau đó tính tiếp")


class OnlineLevel(LabelledEnum):
    full = "full", _l("Trực tuyến toàn trình")  # dịch vụ công trực tuyến toàn trình
    partial = "partial", _l("Trực tuyến một phần")  # một phần
    info = "info", _l("Cung cấp thông tin")  # cung cấp thông tin trực tuyến


class PauseKind(LabelledEnum):
    """Work outside the agency's hands that stops the clock, when the procedure allows it:
    the time it takes is not counted in the time limit (the specialised laws set which
    procedures may pause for what; each version lists its own)."""

    cadastral_survey = "cadastral_survey", _l("Đo đạc địa chính")
    verification = "verification", _l("Xác minh")
    public_posting = "public_posting", _l("Niêm yết công khai")
    consultation = "consultation", _l("Lấy ý kiến cơ quan khác")


class StepKind(enum.Enum):
    receive = "receive"  # tiếp nhận, kiểm tra hồ sơ
    transfer = "transfer"  # chuyển hồ sơ
    review = "review"  # thẩm định, xử lý
    coordinate = "coordinate"  # lấy ý kiến phối hợp
    approve = "approve"  # trình, ký duyệt
    issue = "issue"  # vào sổ, đóng dấu, phát hành
    financial = "financial"  # nghĩa vụ tài chính
    return_result = "return_result"  # trả kết quả


class StepRole(LabelledEnum):
    """Who does a step, as a role in the office (the department comes from the agency)."""

    # Bộ phận một cửa / Trung tâm phục vụ hành chính công
    one_stop = "one_stop", _l("Bộ phận một cửa")
    # phòng, ban chuyên môn / công chức chuyên môn
    specialist = "specialist", _l("Phòng chuyên môn")
    department_head = "department_head", _l("Lãnh đạo phòng")  # lãnh đạo phòng chuyên môn
    # lãnh đạo cơ quan (Chủ tịch / Phó Chủ tịch, Giám đốc sở)
    leader = "leader", _l("Lãnh đạo cơ quan")
    clerk = "clerk", _l("Văn thư")  # văn thư
    coordinating = "coordinating", _l("Cơ quan phối hợp")  # cơ quan phối hợp
    other = "other", _l("Khác")


procedure_agency = sa.Table(
    "procedure_agency",
    Base.metadata,
    sa.Column("procedure_id", sa.ForeignKey("procedure.id"), primary_key=True),
    sa.Column("agency_id", sa.ForeignKey("agency.id"), primary_key=True),
)


class Procedure(IdMixin, Base):
    __tablename__ = "procedure"
    __audited__ = True

    code: Mapped[str] = mapped_column(sa.String(32), unique=True)  # mã TTHC, e.g. 1.001193
    name: Mapped[str] = mapped_column(sa.Text)  # official names run past 500 characters
    # Unaccented lower-case name and code, for search that works alike on every database.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    field_id: Mapped[int] = mapped_column(sa.ForeignKey("field.id"), index=True)
    level: Mapped[AgencyLevel] = mapped_column(enum_type(AgencyLevel, 16), index=True)
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("document.id"), unique=True)

    field: Mapped[Field] = relationship()
    document: Mapped[Document] = relationship()
    # Empty means every agency of the procedure's level applies it.
    agencies: Mapped[list[Agency]] = relationship(secondary=procedure_agency, order_by=Agency.code)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ProcedureVersion(Base):
    """The procedure data of one document version of a `process` document (1:1)."""

    __tablename__ = "procedure_version"
    __audited__ = True

    id: Mapped[int] = mapped_column(sa.ForeignKey("document_version.id"), primary_key=True)
    procedure_id: Mapped[int] = mapped_column(sa.ForeignKey("procedure.id"), index=True)
    legal_bases: Mapped[list] = mapped_column(sa.JSON, default=list)
    time_limit: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2))
    time_unit: Mapped[TimeUnit] = mapped_column(enum_type(TimeUnit))
    # Same-day procedures: received by 15:00 → due at that day's close, else the next one's.
    same_day: Mapped[bool] = mapped_column(default=False)
    supplement_rule: Mapped[SupplementRule] = mapped_column(enum_type(SupplementRule),
                                                            default=SupplementRule.restart)
    supplement_max: Mapped[int] = mapped_column(default=1)
    fee: Mapped[str] = mapped_column(sa.Text, default="")
    online_level: Mapped[OnlineLevel] = mapped_column(enum_type(OnlineLevel), default=OnlineLevel.partial)
    result: Mapped[str] = mapped_column(sa.Text, default="")
    # [{"name": ..., "originals": n, "copies": n}]
    components: Mapped[list] = mapped_column(sa.JSON, default=list)
    # The PauseKind values this procedure may pause for, beyond supplementation and payment
    pauses: Mapped[list] = mapped_column(sa.JSON, default=list)

    version: Mapped[DocumentVersion] = relationship()
    procedure: Mapped[Procedure] = relationship()
    # The process of the main case; each other case (ProcedureCase) has its own steps.
    steps: Mapped[list[ProcessStep]] = relationship(
        back_populates="procedure_version", order_by="ProcessStep.position",
        primaryjoin="and_(ProcedureVersion.id == ProcessStep.procedure_version_id, ProcessStep.case_key == '')",
        cascade="all, delete-orphan")
    cases: Mapped[list[ProcedureCase]] = relationship(
        back_populates="procedure_version", order_by="ProcedureCase.position", cascade="all, delete-orphan")

    def case(self, key: str) -> ProcedureCase | None:
        return next((c for c in self.cases if c.key == key), None)

    @property
    def limit_minutes(self) -> int:
        """The legal limit in working minutes (calendar days count as working days at most)."""
        if self.time_unit is TimeUnit.working_hours:
            return int(self.time_limit * 60)
        return int(self.time_limit * MINUTES_PER_WORKING_DAY)

    @property
    def steps_minutes(self) -> int:
        return sum(step.minutes for step in self.steps)

    def content_version(self) -> DocumentVersion | None:
        """The document version this procedure data is the content of (frozen with it)."""
        return self.version


class ProcedureCase(IdMixin, Base):
    """A case (trường hợp) of a procedure with its own time limit, fee and process, e.g. a
    building permit for a detached house (15 days) beside the main case (20 days). The desk
    picks it at intake; the dossier pins it with the version."""

    __tablename__ = "procedure_case"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("procedure_version_id", "key"),)

    procedure_version_id: Mapped[int] = mapped_column(sa.ForeignKey("procedure_version.id"), index=True)
    position: Mapped[int]
    key: Mapped[str] = mapped_column(sa.String(48))  # e.g. "nha-o-rieng-le", unique in the version
    name: Mapped[str] = mapped_column(sa.Text)
    time_limit: Mapped[Decimal] = mapped_column(sa.Numeric(8, 2))
    time_unit: Mapped[TimeUnit] = mapped_column(enum_type(TimeUnit))
    same_day: Mapped[bool] = mapped_column(default=False)
    fee: Mapped[str] = mapped_column(sa.Text, default="")

    procedure_version: Mapped[ProcedureVersion] = relationship(back_populates="cases")
    steps: Mapped[list[ProcessStep]] = relationship(
        primaryjoin="and_(foreign(ProcessStep.procedure_version_id) == ProcedureCase.procedure_version_id, "
                    "foreign(ProcessStep.case_key) == ProcedureCase.key)",
        order_by="ProcessStep.position", viewonly=True)

    def content_version(self) -> DocumentVersion | None:
        return self.procedure_version.version if self.procedure_version else None


class ProcessStep(IdMixin, Base):
    __tablename__ = "process_step"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("procedure_version_id", "case_key", "position"),)

    procedure_version_id: Mapped[int] = mapped_column(sa.ForeignKey("procedure_version.id"), index=True)
    # "" for the main case's process; a ProcedureCase.key for that case's
    case_key: Mapped[str] = mapped_column(sa.String(48), default="", server_default="")
    position: Mapped[int]  # 1, 2, ...
    name: Mapped[str] = mapped_column(sa.Text)
    kind: Mapped[StepKind] = mapped_column(enum_type(StepKind))
    role: Mapped[StepRole] = mapped_column(enum_type(StepRole))
    responsible: Mapped[str] = mapped_column(sa.Text, default="")  # e.g. "Công chức Tư pháp - Hộ tịch"
    minutes: Mapped[int]  # allotted working time
    output: Mapped[str] = mapped_column(sa.Text, default="")  # record or form produced

    procedure_version: Mapped[ProcedureVersion] = relationship(back_populates="steps")

    def content_version(self) -> DocumentVersion | None:
        """The document version whose content this step is part of (frozen with it)."""
        return self.procedure_version.version if self.procedure_version else None
