"""Quality objectives for the shared route tests (tests/web/test_access_matrix.py and
tests/web/test_csrf.py): functions, not fixtures; the shared fixtures call them and merge
the values they return."""
from __future__ import annotations

from qms import clock, localtime
from qms.extensions import db
from qms.models import ObjectiveComparison, QualityObjective

OBJECTIVE_CSRF_KEYS = ("objective_id", "objective_agency_id", "objective_year")


def _objective(orgtree) -> QualityObjective:
    """An active objective of the ward (the matrix users' agency) for this year."""
    objective = QualityObjective(agency=orgtree["ward"], year=localtime.date_of(clock.now()).year,
                                 title="Giải quyết đúng hạn ≥ 95 %", indicator="on_time_rate",
                                 comparison=ObjectiveComparison.at_least, target=95)
    db.session.add(objective)
    db.session.flush()
    return objective


def objective_matrix_ids(orgtree) -> dict:
    objective = _objective(orgtree)
    db.session.commit()
    return {"objective_id": objective.id}


def objective_csrf_objects(orgtree) -> dict:
    objective = _objective(orgtree)
    return {"objective_id": objective.id, "objective_agency_id": orgtree["ward"].id,
            "objective_year": objective.year}


def objective_csrf_payloads(o, post) -> dict:
    """The quality officer (of the ward's office) sets one objective and retires another."""
    return {
        "/reviews/objectives": post("qualityofficer", {
            "agency_id": str(o["objective_agency_id"]), "department_id": "0",
            "year": str(o["objective_year"]), "title": "Hồ sơ trực tuyến ≥ 30 %",
            "indicator": "online_rate", "comparison": "at_least", "target": "30"}),
        "/reviews/objectives/<int:objective_id>/retire": post(
            "qualityofficer", {}, at={"objective_id": o["objective_id"]}),
    }
