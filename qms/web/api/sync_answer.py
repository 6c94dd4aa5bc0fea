"""The sync endpoint's answer as a typed model, for its OpenAPI schema (its request is
qms.services.portal_shape.PortalDossier; the view builds the same shape from
qms.services.sync.Outcome, and tests/sync checks real answers against this schema)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from qms.web.api.answers import FieldProblem


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
