"""Early / on time / late: the national reporting rule, written once in its two forms.

The Python form (`classify`) judges one loaded record; the SQL form (`timeliness_case`)
judges rows inside a query (metrics, the register, dashboards, reviews, CARs). Both read the
same setting and the same local dates (qms.localtime), and tests/unit/test_timeliness.py
checks that they agree on generated cases under both settings.

- `date` (default, the national reporting rule): compare the local *date* the record
  finished with its due date: before → early, the same day → on time, after → late.
- `timestamp` (TIMELINESS_RULE = "timestamp", stricter): on the due date, finishing after
  the due *time* is late; early still means an earlier date.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import current_app, has_app_context

from qms.localtime import date_of, local_date
from qms.models import Timeliness


def strict_rule() -> bool:
    """TIMELINESS_RULE = "timestamp": late as soon as the due *time* has passed."""
    return has_app_context() and current_app.config.get("TIMELINESS_RULE", "date") == "timestamp"


def classify(finished_at: datetime, due_at: datetime, *, strict: bool | None = None) -> Timeliness:
    """The rule for one record finished at `finished_at` and due at `due_at`."""
    strict = strict_rule() if strict is None else strict
    finished, due = date_of(finished_at), date_of(due_at)
    if finished < due:
        return Timeliness.early
    if finished == due and not (strict and finished_at > due_at):
        return Timeliness.on_time
    return Timeliness.late


def timeliness_case(finished, due, strict: bool | None = None):
    """The same rule in SQL: "early" / "on_time" / "late" of the columns `finished`, `due`."""
    strict = strict_rule() if strict is None else strict
    finished_day, due_day = local_date(finished), local_date(due)
    on_time = finished_day == due_day
    if strict:
        on_time = sa.and_(on_time, finished <= due)
    return sa.case((finished_day < due_day, Timeliness.early.value),
                   (on_time, Timeliness.on_time.value), else_=Timeliness.late.value)


def is_late(finished, due, strict: bool | None = None):
    """SQL: the record finished late (the condition form of `timeliness_case`)."""
    return timeliness_case(finished, due, strict) == Timeliness.late.value
