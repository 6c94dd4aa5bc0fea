"""The JSON the API v1 answers with, as typed models: the OpenAPI document's response schemas
are generated from them (qms/web/api/openapi.py), and tests/api/test_openapi.py checks real
answers against those schemas. The answers themselves are built in qms/web/api/schemas.py
(dossier_json, queue_item_json, the views' error shape) and, for the sync endpoint, from
qms.services.sync.Outcome."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from qms.models import Channel, DossierStatus, EventKind, ResultDelivery, StepRole

Time = Annotated[str, Field(json_schema_extra={"format": "date-time"},
                            description="ISO 8601 with the +07:00 offset (Asia/Ho_Chi_Minh).")]
MaybeTime = Annotated[str | None, Field(json_schema_extra={"format": "date-time"},
                                        description="ISO 8601 with the +07:00 offset; null if not yet.")]
TimelinessValue = Annotated[Literal["early", "on_time", "late"] | None, Field(
    description="Compared by date with the due time once finished (trước hạn / đúng hạn / quá hạn); "
                "null while in progress.")]


def _values(enum) -> tuple:
    return tuple(member.value for member in enum)


class FieldProblem(BaseModel):
    field: str = Field(examples=["applicant.name"])
    message: str


class ErrorBody(BaseModel):
    status: int = Field(description="The HTTP status, repeated.")
    title: str | None = None
    message: str = Field(description="What went wrong, for a person.")
    errors: list[FieldProblem] | None = Field(None, description="Invalid input: each field's problem.")


class Error(BaseModel):
    error: ErrorBody


class Status(BaseModel):
    code: Literal[_values(DossierStatus)]
    national_code: int = Field(ge=1, le=10, description="The national dossier status code (1 registered … 10 returned).")
    label: str


class Named(BaseModel):
    code: str
    name: str


class Person(BaseModel):
    username: str
    full_name: str


class Step(BaseModel):
    position: int = Field(ge=1)
    name: str
    role: Literal[_values(StepRole)]
    department: Named | None = Field(description="The department holding the step; null before hand-over.")
    handed_over_at: MaybeTime
    due_at: MaybeTime
    completed_at: MaybeTime
    completed_by: Person | None
    note: str
    result: str
    timeliness: TimelinessValue


class Event(BaseModel):
    kind: Literal[_values(EventKind)]
    at: Time
    by: Person | None
    department: Named | None
    reason: str
    due_before: MaybeTime
    due_after: MaybeTime
    step_position: int | None


class ChannelOut(BaseModel):
    code: Literal[_values(Channel)]
    national_code: Literal[1, 2, 3]


class ApplicantOut(BaseModel):
    name: str
    id_number: str
    phone: str
    address: str
    email: str


class CaseOut(BaseModel):
    key: str
    name: str


class Dossier(BaseModel):
    code: str
    status: Status
    procedure: Named
    agency: Named = Field(description="The receiving agency.")
    processing_agency: Named = Field(description="The agency processing it (the receiving one unless another "
                                                 "was named).")
    department: Named = Field(description="The receiving one-stop office.")
    channel: ChannelOut
    applicant: ApplicantOut
    components: list[str]
    case: CaseOut | None = Field(description="The procedure case picked at intake; null: the main case.")
    return_method: str
    received_at: Time
    original_due_at: Time
    due_at: Time = Field(description="The legal due time (+07:00); it moves only when a supplementation "
                                     "restarts or resumes the clock.")
    promised_at: MaybeTime = Field(description="The new date of an apology letter.")
    paused_at: MaybeTime = Field(description="Since when the clock is stopped.")
    processed_at: MaybeTime = Field(description="Processing finished: the result is ready at the one-stop "
                                                "office (status 9). The dossier is classified on this moment.")
    registered_at: MaybeTime = Field(description="Submitted online (status 1).")
    returned_at: MaybeTime = Field(description="The applicant got the result (status 10).")
    returned_via: Literal[_values(ResultDelivery)] | None
    timeliness: TimelinessValue
    current_step: int | None = Field(description="The position of the step being worked; null once ended.")
    steps: list[Step]
    events: list[Event]


class ReceivedDossier(Dossier):
    lookup_secret: str = Field(pattern="^[A-Z2-9]{8}$", description=(
        "The applicant's lookup secret for /tra-cuu. Given only in this response (only its hash is stored)."))


class QueueStep(BaseModel):
    position: int
    name: str


class QueueItem(BaseModel):
    dossier_code: str
    status: Status
    procedure: Named
    step: QueueStep
    handed_over_at: Time
    due_at: Time
    dossier_due_at: Time
    overdue: bool = Field(description="The step's due time has passed.")


class Queue(BaseModel):
    department: Named
    generated_at: Time
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=500)
    total: int = Field(ge=0, description="Steps in the whole queue.")
    pages: int = Field(ge=0)
    items: list[QueueItem] = Field(description="This page's steps, soonest due first.")


# --- the sync endpoint's answer (its request is qms.services.portal_shape.PortalDossier) -------
class SyncOutcome(BaseModel):
    """What became of one dossier of the batch."""

    MaHoSo: str
    result: Literal["created", "updated", "unchanged", "held", "refused"]
    code: str | None = Field(None, description="The dossier's code here (created, updated, unchanged).")
    reason: str | None = Field(None, description="held: unknown_procedure, unknown_agency, unknown_status, "
                                                 "unknown_department, no_process, code_taken; unchanged: "
                                                 "stale (an older state); refused: invalid.")
    message: str | None = None
    errors: list[FieldProblem] = Field([], description="refused: each field's problem.")


class SyncSummary(BaseModel):
    created: int
    updated: int
    unchanged: int
    held: int
    refused: int


class SyncAnswer(BaseModel):
    source: str = Field(description="The source system of the token's account.")
    count: int
    summary: SyncSummary
    results: list[SyncOutcome] = Field(description="One per dossier sent, in order.")


ANSWERS = (Error, Dossier, ReceivedDossier, Queue, SyncAnswer)
