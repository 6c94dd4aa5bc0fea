"""The rules about a dossier that other capabilities read without working it: whether it
(or a step) finished early, on time or late by the national reporting rule, and which step
it is at. Below services.dossiers and services.nonconformities, so that dossiers can raise
nonconformities and nonconformities can judge dossiers without importing each other both
ways. (Who may read a dossier is qms.authz's "dossiers.view".)"""
from __future__ import annotations

from datetime import datetime

from qms.calendar import WorkCalendar
from qms.models import Dossier, Timeliness

current_step = Dossier.current_step  # read as current_step(dossier)


def classify(finished_at: datetime, due_at: datetime, calendar: WorkCalendar, *,
             strict: bool = False) -> Timeliness:
    """The national reporting rule: compare the finishing *date* with the due date. With
    `strict` (setting TIMELINESS_RULE = "timestamp"), finishing after the due time on the
    due date is late; early still means an earlier date."""
    finished, due = calendar.local(finished_at).date(), calendar.local(due_at).date()
    if finished < due:
        return Timeliness.early
    if finished == due and not (strict and finished_at > due_at):
        return Timeliness.on_time
    return Timeliness.late
