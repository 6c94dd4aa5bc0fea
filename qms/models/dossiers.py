"""Dossiers (hồ sơ) received by a one-stop office, and the record of each process step
(the control slip, phiếu kiểm soát quá trình giải quyết hồ sơ)."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from qms import clock
from qms.models.accounts import User
from qms.models.base import Base, IdMixin, LabelledEnum, enum_type
from qms.models.org import Agency, Department
from qms.models.procedures import (
    PauseKind,
    Procedure,
    ProcedureCase,
    ProcedureVersion,
    ProcessStep,
    StepRole,
)

if TYPE_CHECKING:
    from qms.models.sync import SyncSource


class DossierStatus(LabelledEnum):
    """The national dossier status codes (exchanged with the national portal)."""

    registered = "registered", _l("Đã đăng ký")  # 1: submitted online, not yet accepted
    received = "received", _l("Đã tiếp nhận")  # 2
    not_accepted = "not_accepted", _l("Không được tiếp nhận")  # 3
    processing = "processing", _l("Đang giải quyết")  # 4
    supplement_requested = "supplement_requested", _l("Yêu cầu bổ sung")  # 5
    # 6: awaiting the financial obligation
    awaiting_payment = "awaiting_payment", _l("Chờ thực hiện nghĩa vụ tài chính")
    withdrawn = "withdrawn", _l("Công dân rút hồ sơ")  # 7
    stopped = "stopped", _l("Dừng xử lý")  # 8
    processed = "processed", _l("Đã giải quyết xong")  # 9
    returned = "returned", _l("Đã trả kết quả")  # 10: result returned

    @property
    def national_code(self) -> int:
        return list(DossierStatus).index(self) + 1


class Channel(LabelledEnum):
    direct = "direct", _l("Trực tiếp")  # 1: at the desk
    online = "online", _l("Trực tuyến")  # 2
    postal = "postal", _l("Bưu chính công ích")  # 3: public postal service

    @property
    def national_code(self) -> int:
        return list(Channel).index(self) + 1


class ResultDelivery(LabelledEnum):
    """How the result reached the applicant (status 10), recorded when it is returned."""

    desk = "desk", _l("Tại Bộ phận một cửa")
    postal = "postal", _l("Qua dịch vụ bưu chính công ích")
    online = "online", _l("Trực tuyến")


class Timeliness(str, LabelledEnum):
    """A finished dossier or step against its due date, by the national reporting rule
    (services.dossiers.classify; the SQL classification returns the same strings, and a
    member equals its string)."""

    early = "early", _l("Trước hạn")
    on_time = "on_time", _l("Đúng hạn")
    late = "late", _l("Quá hạn")


class DossierSequence(Base):
    """The last sequence number given to an agency's dossiers on one day."""

    __tablename__ = "dossier_sequence"

    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class Dossier(IdMixin, Base):
    __tablename__ = "dossier"
    __audited__ = True
    __audit_secret__ = ("lookup_secret_hash",)
    # A department's or an agency's month read from one index range (monthly metrics:
    # received in the month, processed in the month)
    __table_args__ = (
        sa.Index("ix_dossier_department_received", "department_id", "received_at"),
        sa.Index("ix_dossier_department_processed", "department_id", "processed_at"),
        sa.Index("ix_dossier_agency_received", "agency_id", "received_at"),
        sa.Index("ix_dossier_agency_processed", "agency_id", "processed_at"),
        # A synced dossier is found by its source system and its code there
        sa.UniqueConstraint("source_id", "source_code"),
    )

    code: Mapped[str] = mapped_column(sa.String(48), unique=True)  # {agency}-{yyMMdd}-{NNNN}
    lookup_secret_hash: Mapped[str] = mapped_column(sa.String(255))
    # The receiving agency and its one-stop office (the code, the register, the figures)
    agency_id: Mapped[int] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    department_id: Mapped[int] = mapped_column(sa.ForeignKey("department.id"), index=True)
    # The agency competent to process it when another one received it (Decree 118/2025:
    # dossiers are received at any one-stop office of the province); None: the receiving one.
    processing_agency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("agency.id"), index=True)
    procedure_id: Mapped[int] = mapped_column(sa.ForeignKey("procedure.id"), index=True)
    # The version in force at receipt: later versions never change a dossier's rules.
    procedure_version_id: Mapped[int] = mapped_column(sa.ForeignKey("procedure_version.id"), index=True)
    # The case (ProcedureCase.key) picked at intake; "" for the main case
    case_key: Mapped[str] = mapped_column(sa.String(48), default="", server_default="")
    channel: Mapped[Channel] = mapped_column(enum_type(Channel, 16))
    applicant_name: Mapped[str] = mapped_column(sa.String(255))
    applicant_id_number: Mapped[str] = mapped_column(sa.String(32), default="")
    applicant_phone: Mapped[str] = mapped_column(sa.String(32), default="")
    applicant_address: Mapped[str] = mapped_column(sa.Text, default="")
    applicant_email: Mapped[str] = mapped_column(sa.String(255), default="")
    components: Mapped[list] = mapped_column(sa.JSON, default=list)  # names received
    return_method: Mapped[str] = mapped_column(sa.String(64), default="")  # a ResultDelivery value, or free text (API)
    status: Mapped[DossierStatus] = mapped_column(enum_type(DossierStatus), index=True)
    # Submitted online and waiting at the desk (status 1): when; `received_at` is then the
    # same moment until the desk accepts it, and from then the time limit runs.
    registered_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    received_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    original_due_at: Mapped[datetime]
    due_at: Mapped[datetime] = mapped_column(index=True)
    # Processing finished: the result is ready at the one-stop office (status 9, the
    # national portal's NgayKetThucXuLy). The dossier is classified on this moment.
    processed_at: Mapped[datetime | None]
    # The applicant got the result (status 10), and how; moves no figure.
    returned_at: Mapped[datetime | None]
    returned_via: Mapped[ResultDelivery | None] = mapped_column(enum_type(ResultDelivery, 16))
    # While the clock is stopped (supplementation, financial obligation): since when.
    paused_at: Mapped[datetime | None]
    # The new date promised in an apology letter (at most one); `due_at` stays the legal one.
    promised_at: Mapped[datetime | None]
    # Taken in from another one-stop system (qms/services/sync.py): which one and its code
    # there; None for dossiers received here. A synced dossier mirrors what the source did
    # (read-only here), but its due time and class are computed with this system's rules.
    source_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sync_source.id"))
    source_code: Mapped[str | None] = mapped_column(sa.String(64))
    source_due_at: Mapped[datetime | None]  # the date the source promised (NgayHenTra)
    source_state_at: Mapped[datetime | None]  # the latest moment its last payload named
    source_digest: Mapped[str | None] = mapped_column(sa.String(32))  # of that payload
    # Received before the first local version of its procedure took effect (a year loaded
    # when the office starts): timed by that earliest version all the same.
    before_version: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    @property
    def return_method_label(self) -> str:
        """How the applicant asked to get the result: a ResultDelivery's label, or the text
        as given (the API takes free text)."""
        known = {member.value: member for member in ResultDelivery}
        return known[self.return_method].label if self.return_method in known else (self.return_method or "")

    agency: Mapped[Agency] = relationship(foreign_keys=[agency_id])
    processing: Mapped[Agency | None] = relationship(foreign_keys=[processing_agency_id])
    department: Mapped[Department] = relationship()
    procedure: Mapped[Procedure] = relationship()
    procedure_version: Mapped[ProcedureVersion] = relationship()
    received_by: Mapped[User | None] = relationship()
    source: Mapped[SyncSource | None] = relationship()
    steps: Mapped[list[DossierStep]] = relationship(
        back_populates="dossier", order_by="DossierStep.position")
    events: Mapped[list[DossierEvent]] = relationship(
        back_populates="dossier", order_by="DossierEvent.id")
    files: Mapped[list[DossierFile]] = relationship(
        back_populates="dossier", order_by="DossierFile.id")

    @property
    def synced(self) -> bool:
        """Taken in from another system: a mirror, never acted on here."""
        return self.source_id is not None

    @property
    def processing_agency(self) -> Agency:
        """The agency that processes it: the receiving one unless another was named."""
        return self.processing or self.agency

    @property
    def case(self) -> ProcedureCase | None:
        """The procedure case picked at intake (None: the main case)."""
        return self.procedure_version.case(self.case_key) if self.case_key else None

    @property
    def time_rule(self) -> ProcedureCase | ProcedureVersion:
        """Where the dossier's time limit comes from: its case, else the version."""
        return self.case or self.procedure_version

    def count(self, kind: EventKind) -> int:
        return sum(1 for event in self.events if event.kind is kind)

    def current_step(self) -> DossierStep | None:
        """The first step not completed yet (None once processing is over)."""
        return next((s for s in self.steps if s.completed_at is None), None)


class DossierStep(IdMixin, Base):
    """One step of one dossier: handed over to a department with a due time, completed by
    one of its officers."""

    __tablename__ = "dossier_step"
    __audited__ = True
    __table_args__ = (
        sa.UniqueConstraint("dossier_id", "position"),
        # A department's open steps (its queue) among all the steps it ever held, and the
        # open steps by due time (escalation, overdue checks): both stay fast at 100k dossiers.
        sa.Index("ix_dossier_step_department_open", "department_id", "completed_at"),
        sa.Index("ix_dossier_step_open_due", "completed_at", "due_at"),
    )

    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), index=True)
    position: Mapped[int]
    process_step_id: Mapped[int] = mapped_column(sa.ForeignKey("process_step.id"))
    name: Mapped[str] = mapped_column(sa.Text)
    role: Mapped[StepRole] = mapped_column(enum_type(StepRole))
    minutes: Mapped[int]  # allotted working time, from the pinned process
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"), index=True)
    handed_over_at: Mapped[datetime | None]
    handed_over_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    # What the step produced (e.g. "Đủ điều kiện", "Đã ký Giấy khai sinh số 12"), as recorded
    result: Mapped[str] = mapped_column(sa.Text, default="")

    dossier: Mapped[Dossier] = relationship(back_populates="steps")
    process_step: Mapped[ProcessStep] = relationship()
    department: Mapped[Department | None] = relationship()
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    handed_over_by: Mapped[User | None] = relationship(foreign_keys=[handed_over_by_id])


class EventKind(LabelledEnum):
    # Mẫu 02: the clock stops
    supplement_requested = "supplement_requested", _l("Yêu cầu bổ sung, hoàn thiện hồ sơ")
    # the clock restarts or resumes
    supplement_received = "supplement_received", _l("Nhận hồ sơ bổ sung")
    # awaiting the financial obligation: stops
    payment_requested = "payment_requested", _l("Chờ thực hiện nghĩa vụ tài chính")
    payment_received = "payment_received", _l("Đã thực hiện nghĩa vụ tài chính")  # resumes
    # Mẫu 04: apology and a new promised date (once)
    apology = "apology", _l("Xin lỗi và hẹn lại ngày trả kết quả")
    stopped = "stopped", _l("Dừng xử lý hồ sơ")  # Mẫu 05: processing stopped
    withdrawn = "withdrawn", _l("Công dân rút hồ sơ")  # the applicant withdrew the dossier
    # Mẫu 03: refused at reception, with the reasons
    not_accepted = "not_accepted", _l("Từ chối tiếp nhận hồ sơ")
    # a step returned to the previous one, with the reason
    sent_back = "sent_back", _l("Chuyển trả bước trước")
    # the result handed to the applicant (status 10), after it was ready (status 9)
    result_returned = "result_returned", _l("Trả kết quả cho người nộp hồ sơ")
    # a dossier registered online (status 1), accepted at the desk (status 2)
    accepted = "accepted", _l("Tiếp nhận hồ sơ nộp trực tuyến")
    # a pause the procedure allows (DossierEvent.pause_kind: survey, verification, posting,
    # consultation): the clock stops, then resumes with the time that was left
    pause_started = "pause_started", _l("Tạm dừng tính thời gian")
    pause_ended = "pause_ended", _l("Tiếp tục tính thời gian")


class DossierEvent(IdMixin, Base):
    """Something that happened to a dossier outside its steps, with who and why."""

    __tablename__ = "dossier_event"
    __audited__ = True
    __table_args__ = (sa.Index("ix_dossier_event_kind_at", "kind", "at"),)  # apologies per month

    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), index=True)
    kind: Mapped[EventKind] = mapped_column(enum_type(EventKind))
    at: Mapped[datetime] = mapped_column(default=clock.now)
    by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user_account.id"))
    # The department causing a delay (apology) or asking for documents (supplementation).
    department_id: Mapped[int | None] = mapped_column(sa.ForeignKey("department.id"))
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    due_before: Mapped[datetime | None]
    due_after: Mapped[datetime | None]
    # The step concerned (sent back: the step that was returned from)
    step_position: Mapped[int | None]
    # Issued after its latest time (an apology later than one working day before the due time)
    late: Mapped[bool] = mapped_column(default=False)
    # What a pause_started / pause_ended event paused for
    pause_kind: Mapped[PauseKind | None] = mapped_column(enum_type(PauseKind))

    dossier: Mapped[Dossier] = relationship(back_populates="events")
    by: Mapped[User | None] = relationship()
    department: Mapped[Department | None] = relationship()


class DossierFile(IdMixin, Base):
    """A file an officer attached when completing a step (a draft decision, a signed result),
    stored under <instance>/dossier_files/ by a random name; never deleted."""

    __tablename__ = "dossier_file"
    __audited__ = True

    dossier_id: Mapped[int] = mapped_column(sa.ForeignKey("dossier.id"), index=True)
    step_id: Mapped[int | None] = mapped_column(sa.ForeignKey("dossier_step.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(255))  # as uploaded, for the download
    storage_name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    media_type: Mapped[str] = mapped_column(sa.String(128))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(sa.String(64))
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)

    dossier: Mapped[Dossier] = relationship(back_populates="files")
    step: Mapped[DossierStep | None] = relationship()
    uploaded_by: Mapped[User] = relationship()
