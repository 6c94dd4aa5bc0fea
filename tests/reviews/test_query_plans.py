"""The plans of the one-month questions on PostgreSQL (issue 12): every statement that reads
dossiers or steps for one month must be answerable from an index. The test runs each
statement the app sends under EXPLAIN with sequential scans priced out
(enable_seqscan = off): a "Seq Scan" left on dossier or dossier_step then means that no
index can serve it, which at a million dossiers a year reads the whole table for one
month. SQLite plans without statistics and is covered by its own `unindexed` markers."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.services import metrics, register
from tests.reviews.dataset import READ_AT

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))
WATCHED = ("dossier", "dossier_step")


@pytest.fixture(autouse=True)
def postgresql_only(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner")


@contextmanager
def sent():
    """(statement, parameters) of each statement sent inside the block."""
    found: list[tuple[str, object]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        found.append((statement, parameters))

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield found
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)


def scans(plan: dict) -> list[str]:
    """The relations a plan reads by a sequential scan."""
    found = [plan["Relation Name"]] if plan.get("Node Type") == "Seq Scan" else []
    for child in plan.get("Plans", ()):
        found += scans(child)
    return found


def full_scans(question) -> list[str]:
    with sent() as statements:
        question()
    assert statements, "the question sent no statement"
    connection = db.session.connection()
    connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    offending = []
    for statement, parameters in statements:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, parameters).scalar()
        tables = [t for t in scans(plan[0]["Plan"]) if t in WATCHED]
        if tables:
            offending.append(f"{tables}: {statement[:300]}")
    connection.exec_driver_sql("SET LOCAL enable_seqscan = on")
    return offending


def test_a_department_month_reads_indexes_only(november, orgtree):
    scope = metrics.Scope.of_department(orgtree["onestop"])
    assert full_scans(lambda: metrics.dossier_metrics(scope, *NOVEMBER, READ_AT, live=True)) == []
    assert full_scans(lambda: metrics.step_metrics(scope, *NOVEMBER, READ_AT)) == []
    assert full_scans(lambda: metrics.late_dossiers(scope, *NOVEMBER, READ_AT)) == []
    culture = metrics.Scope.of_department(orgtree["culture"])
    assert full_scans(lambda: metrics.step_metrics(culture, *NOVEMBER, READ_AT)) == []
    assert full_scans(lambda: metrics.overdue_steps(culture, *NOVEMBER, READ_AT)) == []


def test_an_agency_month_reads_indexes_only(november, orgtree):
    scope = metrics.Scope.of_agency(orgtree["province"])
    assert full_scans(lambda: metrics.dossier_metrics(scope, *NOVEMBER, READ_AT, live=True)) == []
    assert full_scans(lambda: metrics.step_metrics(scope, *NOVEMBER, READ_AT)) == []


def test_the_register_of_a_month_reads_indexes_only(november, orgtree):
    officer = november["people"]["onestop"]
    filters = register.parse_filters({"received_from": "2026-11-01", "received_to": "2026-11-30"})
    assert full_scans(lambda: db.session.scalars(register.register_query(officer, filters).limit(50)).all()) == []


def test_the_check_sees_a_sequential_scan(november):
    """The check itself: a question no index serves (a column without one) is caught."""
    from qms.models import Dossier

    offending = full_scans(lambda: db.session.scalar(
        sa.select(sa.func.count()).where(Dossier.applicant_address == "Số 5 Lê Lợi")))
    assert offending and "dossier" in offending[0]
