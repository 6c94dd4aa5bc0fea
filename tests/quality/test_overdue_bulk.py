"""`check_overdue` at scale: the date rule applied in SQL, the nonconformities inserted in
bulk with conflict-skip, a fixed number of statements however many steps are overdue, and
the same result as judging each record in Python (the rule the reports use)."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import (
    AgencyLevel,
    AuditLog,
    DayKind,
    Dossier,
    DossierStatus,
    DossierStep,
    NcSource,
    NcStatus,
    Nonconformity,
    Role,
    Severity,
)
from qms.services import calendars, dossiers, nonconformities, org
from qms.services.timeliness import classify
from tests.conftest import statements
from tests.dossiers.conftest import at
from tests.quality.conftest import race_check_overdue


@pytest.fixture
def ward_b(orgtree, make_user):
    """A second ward with its own calendar (a local day off on Wednesday 25/11), its one-stop
    office and culture department, and an officer in each."""
    ward = org.save_agency(None, actor=None, code="TP-B", name="Phường Bình Minh",
                           level=AgencyLevel.commune, parent=orgtree["province"],
                           effective_from=date(2025, 7, 1))
    onestop = org.save_department(None, actor=None, code="B-MC", name="Bộ phận một cửa B",
                                  agency=ward, is_one_stop=True)
    culture = org.save_department(None, actor=None, code="B-VHXH",
                                  name="Phòng Văn hóa - Xã hội B", agency=ward)
    calendars.add_override(ward, day=date(2026, 11, 25), kind=DayKind.day_off,
                           reason="Nghỉ bù của phường", actor=None)
    db.session.commit()
    return {"ward": ward, "onestop": onestop, "culture": culture,
            "desk": make_user("motcuab", Role.officer, department=onestop),
            "culture_officer": make_user("vanhoab", Role.officer, department=culture)}


def receive(procedure, officer, when, **extra) -> Dossier:
    dossier, _secret = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                                applicant_name="Trần Thị Bình", now=when, **extra)
    return dossier


def receive_many(procedure, officer, when, count: int) -> list[Dossier]:
    received = [receive(procedure, officer, when) for _ in range(count)]
    db.session.commit()
    return received


def late_in_python(now) -> set[str]:
    """The origin keys the one-record-at-a-time rule (timeliness.classify, as the old loop
    judged) says are overdue at `now` and have no nonconformity yet."""
    running = (DossierStatus.received, DossierStatus.processing)
    keys = set()
    for step in db.session.scalars(sa.select(DossierStep)):
        dossier = step.dossier
        if (step.completed_at is None and step.handed_over_at is not None and step.due_at
                and step.due_at < now and dossier.status in running and dossier.paused_at is None
                and classify(now, step.due_at).value == "late"):
            keys.add(f"step:{step.id}")
    for dossier in db.session.scalars(sa.select(Dossier)):
        if (dossier.status in running and dossier.paused_at is None and dossier.due_at < now
                and classify(now, dossier.due_at).value == "late"):
            keys.add(f"dossier:{dossier.id}")
    raised = set(db.session.scalars(sa.select(Nonconformity.origin_key)
                                    .where(Nonconformity.origin_key.is_not(None))))
    return keys - raised


def test_the_statement_count_does_not_grow_with_the_overdue_steps(three_days, desk):
    # 5 dossiers received Friday 20/11: their first step (1 h) is late on Monday 23/11
    receive_many(three_days, desk["onestop"], at(2026, 11, 20, 9, 0), 5)
    with statements() as few:
        raised = nonconformities.check_overdue(at(2026, 11, 23, 8, 0))
    db.session.commit()
    assert len(raised) == 5
    # 50 more received Monday 23/11: their first step is late on Tuesday... a holiday here
    # (the test calendar's 24/11), so on Wednesday 25/11
    receive_many(three_days, desk["onestop"], at(2026, 11, 23, 9, 0), 50)
    with statements() as many:
        raised = nonconformities.check_overdue(at(2026, 11, 25, 8, 0))
    db.session.commit()
    assert len(raised) == 50 and {nc.source for nc in raised} == {NcSource.overdue_step}
    assert len(many) == len(few), (few, many)
    # 55 dossiers late at once (their due dates passed), with nothing else new: the same
    with statements() as dossiers_late:
        raised = nonconformities.check_overdue(at(2026, 12, 3, 8, 0))
    db.session.commit()
    assert len(raised) == 55 and {nc.source for nc in raised} == {NcSource.overdue_dossier}
    assert len(dossiers_late) == len(few)
    # nothing new: two queries, no write
    with statements() as idle:
        assert nonconformities.check_overdue(at(2026, 12, 3, 9, 0)) == []
    assert len(idle) == 2 and all(s.lstrip().upper().startswith("SELECT") for s in idle)


def test_many_steps_across_agencies_and_calendars(three_days, desk, orgtree, ward_b):
    here = receive_many(three_days, desk["onestop"], at(2026, 11, 20, 9, 0), 3)
    there = receive_many(three_days, ward_b["desk"], at(2026, 11, 20, 9, 30), 3)
    # received in ward A for ward B to process: due on ward B's calendar
    elsewhere = receive(three_days, desk["onestop"], at(2026, 11, 23, 8, 0),
                        processing_agency=ward_b["ward"])
    # one step handed on to the culture department, late there
    dossiers.complete_step(here[0].steps[0], actor=desk["onestop"], now=at(2026, 11, 20, 9, 30),
                           next_department=orgtree["culture"])
    # one paused for supplementation: never overdue
    dossiers.request_supplement(there[2], actor=ward_b["desk"], reason="Thiếu tờ khai",
                                now=at(2026, 11, 20, 10, 0))
    db.session.commit()

    now = at(2026, 12, 2, 8, 0)
    expected = late_in_python(now)
    raised = nonconformities.check_overdue(now)
    db.session.commit()
    assert {nc.origin_key for nc in raised} == expected
    steps = [nc for nc in raised if nc.source is NcSource.overdue_step]
    late_dossiers = [nc for nc in raised if nc.source is NcSource.overdue_dossier]
    assert raised == steps + late_dossiers  # steps first, then dossiers, each by due time
    assert [nc.dossier_step.due_at for nc in steps] == sorted(nc.dossier_step.due_at for nc in steps)
    assert [nc.dossier.due_at for nc in late_dossiers] == sorted(
        nc.dossier.due_at for nc in late_dossiers)
    # numbered in that order, without gaps
    assert [nc.code for nc in raised] == [f"NC-2026-{n:04d}" for n in range(1, len(raised) + 1)]
    assert there[2].id not in {nc.dossier_id for nc in raised}
    assert elsewhere.id in {nc.dossier_id for nc in steps}
    for nc in raised:
        assert (nc.status, nc.severity, nc.clause, nc.detected_by_id, nc.detected_at) == (
            NcStatus.open, Severity.minor, "8.5.1", None, now)
        assert (nc.correction, nc.rejected_reason, nc.closed_at) == ("", "", None)
        assert nc.procedure_id == three_days.id
    for nc in steps:
        step = nc.dossier_step
        assert (nc.origin_key, nc.department_id, nc.dossier_id) == (
            f"step:{step.id}", step.department_id, step.dossier_id)
        due = calendars.calendar_for(step.dossier.agency).local(step.due_at)
        assert nc.description == (f"Bước “{step.name}” của hồ sơ {step.dossier.code} quá hạn "
                                  f"(hạn {due:%H:%M %d/%m/%Y}).")
    culture_step = here[0].steps[1]
    assert any(nc.dossier_step_id == culture_step.id and nc.department == orgtree["culture"]
               for nc in steps)
    for nc in late_dossiers:
        dossier = nc.dossier
        assert nc.dossier_step_id is None and nc.origin_key == f"dossier:{dossier.id}"
        holder = dossier.current_step()
        assert nc.department_id == holder.department_id  # the department holding it
        due = calendars.calendar_for(dossier.agency).local(dossier.due_at)
        assert nc.description == (f"Hồ sơ {dossier.code} quá hạn trả kết quả "
                                  f"(hạn {due:%H:%M %d/%m/%Y}).")
    assert {nc.department for nc in late_dossiers} == {orgtree["onestop"], orgtree["culture"],
                                                      ward_b["onestop"]}
    # one audit row per nonconformity, by the system, as one raised singly has
    logged = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.action == "nonconformity.raised").order_by(AuditLog.id)).all()
    assert [(row.entity_type, row.entity_id, row.note, row.changes) for row in logged] == [
        ("nonconformity", nc.id, nc.origin_key, {"code": nc.code, "source": nc.source.value})
        for nc in raised]
    assert all(row.actor_id is None and row.actor_name for row in logged)
    # the automatic column-change audit rows are not written for these (as before)
    assert not db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "nonconformity.created"))

    # run again: nothing new, nothing doubled
    assert nonconformities.check_overdue(at(2026, 12, 2, 9, 0)) == []
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == len(raised)


@pytest.mark.parametrize("rule", ["date", "timestamp"])
def test_the_sql_rule_raises_what_the_python_rule_says(app, monkeypatch, rule, three_days, desk,
                                                       orgtree, ward_b):
    monkeypatch.setitem(app.config, "TIMELINESS_RULE", rule)
    for hour in (7, 9, 14, 16):
        receive(three_days, desk["onestop"], at(2026, 11, 20, hour, 15))
        receive(three_days, ward_b["desk"], at(2026, 11, 23, hour, 45))
    db.session.commit()
    # the same day after the due time (late only by the timestamp rule), the next mornings,
    # the dossiers' due dates and after
    for now in (at(2026, 11, 20, 16, 30), at(2026, 11, 23, 7, 0), at(2026, 11, 23, 17, 30),
                at(2026, 11, 26, 12, 0), at(2026, 11, 27, 10, 0), at(2026, 12, 1, 8, 0),
                at(2026, 12, 10, 8, 0)):
        expected = late_in_python(now)
        raised = nonconformities.check_overdue(now)
        db.session.commit()
        assert {nc.origin_key for nc in raised} == expected, now
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == 16  # 8 steps, 8 dossiers


def test_a_step_raised_by_the_check_takes_no_second_number_when_completed_late(three_days, desk,
                                                                              orgtree):
    dossier = receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))
    db.session.commit()
    [nc] = nonconformities.check_overdue(at(2026, 11, 23, 8, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 9, 0),
                           next_department=orgtree["culture"])
    db.session.commit()
    assert db.session.scalars(sa.select(Nonconformity.code)).all() == [nc.code]
    late = receive(three_days, desk["onestop"], at(2026, 11, 23, 9, 0))
    dossiers.complete_step(late.steps[0], actor=desk["onestop"], now=at(2026, 11, 26, 9, 0),
                           next_department=orgtree["culture"])
    db.session.commit()
    assert db.session.scalars(sa.select(Nonconformity.code).order_by(Nonconformity.code)).all() == [
        "NC-2026-0001", "NC-2026-0002"]  # the next number, no gap


def test_two_concurrent_bulk_runs_raise_each_nonconformity_once(app, three_days, desk):
    receive_many(three_days, desk["onestop"], at(2026, 11, 20, 9, 0), 30)
    results = race_check_overdue(app, at(2026, 11, 27, 8, 0))
    keys = db.session.scalars(sa.select(Nonconformity.origin_key)).all()
    assert len(keys) == len(set(keys)) == 60 and sum(results) == 60  # 30 steps, 30 dossiers
    logged = db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "nonconformity.raised"))
    assert logged == 60
    # and a later run finds nothing
    assert nonconformities.check_overdue(at(2026, 11, 27, 9, 0)) == []
