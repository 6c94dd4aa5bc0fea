"""Steps and dossiers past their due time raise exactly one nonconformity each."""

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import DossierStep, NcSource, NcStatus, Nonconformity
from qms.services import dossiers, nonconformities
from tests.dossiers.conftest import at
from tests.quality.conftest import race_check_overdue


def _receive(procedure, officer, when):
    dossier, _secret = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                                applicant_name="Hoàng Văn Minh", now=when)
    db.session.commit()
    return dossier


def _all():
    return db.session.scalars(sa.select(Nonconformity).order_by(Nonconformity.id)).all()


def test_a_late_completion_raises_one_nonconformity_for_the_step(three_days, desk, orgtree):
    dossier = _receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 20, 9, 30),
                           next_department=orgtree["culture"])
    assert _all() == []  # on time: nothing
    review = dossier.steps[1]  # 4 h from Friday 9:30: due Friday 15:30
    dossiers.complete_step(review, actor=desk["culture"], now=at(2026, 11, 23, 10, 0),
                           next_department=orgtree["office"])
    db.session.commit()
    [nc] = _all()
    assert (nc.source, nc.dossier_step, nc.department, nc.status, nc.code) == (
        NcSource.overdue_step, review, orgtree["culture"], NcStatus.open, "NC-2026-0001")
    assert dossier.code in nc.description and "15:30 20/11/2026" in nc.description
    assert nc.detected_by is None  # raised by the system
    # check-overdue later finds nothing new for that step
    assert nonconformities.check_overdue(at(2026, 11, 23, 11, 0)) == []


def test_check_overdue_is_idempotent_and_follows_the_date_rule(three_days, desk, orgtree):
    dossier = _receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    first = dossier.steps[0]  # 1 h: due Friday 10:00
    # Later on the due date: on time by the national date rule, so not yet a nonconformity
    assert nonconformities.check_overdue(at(2026, 11, 20, 16, 0)) == []
    raised = nonconformities.check_overdue(at(2026, 11, 23, 8, 0))
    db.session.commit()
    assert [nc.dossier_step for nc in raised] == [first]
    assert nonconformities.check_overdue(at(2026, 11, 23, 9, 0)) == []  # run twice: still one
    # The dossier itself (due 26/11 9:00) passes its date on 27/11
    raised = nonconformities.check_overdue(at(2026, 11, 27, 8, 0))
    db.session.commit()
    assert [(nc.source, nc.dossier) for nc in raised] == [(NcSource.overdue_dossier, dossier)]
    assert raised[0].department == orgtree["onestop"]  # the step holding it is the desk's
    assert len(_all()) == 2


def test_a_paused_dossier_is_not_overdue(three_days, desk, orgtree):
    dossier = _receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    dossiers.request_supplement(dossier, actor=desk["onestop"], reason="Thiếu tờ khai",
                                now=at(2026, 11, 20, 9, 30))
    db.session.commit()
    assert nonconformities.check_overdue(at(2026, 12, 15, 8, 0)) == []


def test_two_concurrent_runs_raise_one_nonconformity(app, three_days, desk):
    _receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    results = race_check_overdue(app, at(2026, 11, 23, 8, 0))
    step_ncs = db.session.scalars(sa.select(Nonconformity).where(
        Nonconformity.source == NcSource.overdue_step)).all()
    assert len(step_ncs) == 1 and sum(results) == 1


def test_rejecting_needs_the_quality_officer_and_a_reason(three_days, desk, staff, orgtree):
    from qms.errors import Conflict, Forbidden, ValidationError

    _receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    [nc] = nonconformities.check_overdue(at(2026, 11, 23, 8, 0))
    with pytest.raises(Forbidden):
        nonconformities.transition(nc, "reject", actor=desk["culture"], now=at(2026, 11, 23, 9, 0),
                                   reason="Do mất điện")
    with pytest.raises(ValidationError):
        nonconformities.transition(nc, "reject", actor=staff["quality"], now=at(2026, 11, 23, 9, 0))
    nonconformities.transition(nc, "reject", actor=staff["quality"], now=at(2026, 11, 23, 9, 0),
                               reason="Mất điện toàn phường, có biên bản")
    assert (nc.status, nc.rejected_reason) == (NcStatus.rejected, "Mất điện toàn phường, có biên bản")
    with pytest.raises(Conflict):
        nonconformities.transition(nc, "analyse", actor=staff["quality"], now=at(2026, 11, 23, 9, 0))
    assert db.session.get(DossierStep, nc.dossier_step_id).completed_at is None
