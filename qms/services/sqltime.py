"""On-time classification and aggregation in SQL, the same on SQLite and PostgreSQL.

The national reporting rule compares *local* dates (qms.localtime.local_date), so reports
classify and count in the database instead of loading rows (DESIGN §4: reports read
through SQL aggregates)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class unindexed(FunctionElement):  # noqa: N801  (reads as an SQL function)
    """The expression itself, marked so that SQLite's planner uses no index for the term it
    is in: "+x" (sqlite.org/optoverview.html, "disqualifying WHERE clause terms using unary
    +"). Without statistics (a database nobody ANALYZEd) SQLite takes any equality on an
    indexed column for a narrow one, e.g. "department_id = ?" (half the table) over
    "status IN (open statuses)" (a few rows); the queries here mark the terms that must not
    drive the search. PostgreSQL plans from its statistics and gets the plain expression."""

    name = "unindexed"
    inherit_cache = True

    def __init__(self, expression):
        super().__init__(expression)
        self.type = expression.type


@compiles(unindexed)
def _unindexed_sqlite(element, compiler, **kw):
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(unindexed, "postgresql")
def _unindexed_postgresql(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


def count_where(condition):
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END), 0 on no rows."""
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def percent(part: int | float, whole: int | float) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None
