"""Supplementation and payment stop the clock; an apology promises a new date once, at the
latest one working day before the due time (later: issued, marked late, a nonconformity);
stopping and withdrawal end a dossier."""
import pytest
import sqlalchemy as sa

from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import DossierStatus, EventKind, NcSource, Nonconformity, Role, SupplementRule
from qms.services import dossiers
from tests.dossiers.conftest import at


@pytest.fixture
def dossier(three_days, desk, orgtree):
    """Received Friday 20/11 9:00 (due Wed 26/11 9:00), its review now with the culture
    department (handed over 9:30, due 15:30)."""
    item, _ = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                       applicant_name="Lê Thị Cúc", now=at(2026, 11, 20, 9, 0))
    dossiers.complete_step(item.steps[0], actor=desk["onestop"], now=at(2026, 11, 20, 9, 30),
                           next_department=orgtree["culture"])
    db.session.commit()
    return item


def test_supplementation_restarts_the_whole_limit_by_default(dossier, desk):
    dossiers.request_supplement(dossier, actor=desk["culture"], reason="Thiếu giấy chứng sinh",
                                now=at(2026, 11, 20, 10, 0))
    assert dossier.status is DossierStatus.supplement_requested
    with pytest.raises(Conflict):  # no step is worked while the clock is stopped
        dossiers.complete_step(dossier.steps[1], actor=desk["culture"], now=at(2026, 11, 20, 11, 0))
    dossiers.receive_supplement(dossier, actor=desk["onestop"], now=at(2026, 11, 27, 8, 0))
    assert dossier.status is DossierStatus.processing and dossier.paused_at is None
    # 3 working days again from Friday 27/11 8:00: Wednesday 2/12 8:00.
    assert dossier.due_at == at(2026, 12, 2, 8, 0)
    assert dossier.steps[1].due_at == at(2026, 11, 27, 14, 0)  # the step's 4 h again
    assert dossier.original_due_at == at(2026, 11, 26, 9, 0)


def test_the_pause_rule_resumes_with_the_time_that_was_left(dossier, desk):
    from qms.models import ProcedureVersion

    db.session.execute(db.update(ProcedureVersion).where(
        ProcedureVersion.id == dossier.procedure_version_id).values(supplement_rule=SupplementRule.pause))
    db.session.expire_all()
    dossiers.request_supplement(dossier, actor=desk["culture"], reason="Thiếu giấy tờ",
                                now=at(2026, 11, 20, 10, 0))
    dossiers.receive_supplement(dossier, actor=desk["onestop"], now=at(2026, 11, 27, 8, 0))
    # 1,380 working minutes (three days less the hour used) were left at 10:00 on Friday
    # 20/11: from Friday 27/11 8:00 that is 7 h + 8 h + 8 h, to Tuesday 1/12 17:00.
    assert dossier.due_at == at(2026, 12, 1, 17, 0)
    assert dossier.steps[1].due_at == at(2026, 11, 27, 11, 30)  # 3.5 h of the step's 4 h


def test_supplementation_is_allowed_once_with_a_reason_by_the_holding_department(dossier, desk):
    with pytest.raises(ValidationError):
        dossiers.request_supplement(dossier, actor=desk["culture"], reason=" ", now=at(2026, 11, 20, 10, 0))
    with pytest.raises(Forbidden):
        dossiers.request_supplement(dossier, actor=desk["office"], reason="x", now=at(2026, 11, 20, 10, 0))
    dossiers.request_supplement(dossier, actor=desk["culture"], reason="Thiếu", now=at(2026, 11, 20, 10, 0))
    with pytest.raises(Forbidden):  # only the one-stop office takes the documents back
        dossiers.receive_supplement(dossier, actor=desk["culture"], now=at(2026, 11, 23, 8, 0))
    dossiers.receive_supplement(dossier, actor=desk["onestop"], now=at(2026, 11, 23, 8, 0))
    with pytest.raises(Conflict):
        dossiers.request_supplement(dossier, actor=desk["culture"], reason="Lần hai",
                                    now=at(2026, 11, 23, 9, 0))


def test_waiting_for_payment_stops_and_resumes_the_clock(dossier, desk):
    dossiers.request_payment(dossier, actor=desk["culture"], reason="Nộp lệ phí", now=at(2026, 11, 20, 10, 0))
    assert dossier.status is DossierStatus.awaiting_payment
    dossiers.receive_payment(dossier, actor=desk["culture"], now=at(2026, 11, 23, 10, 0))
    assert dossier.due_at == at(2026, 11, 27, 9, 0)  # one working day later than before


def test_an_apology_promises_a_new_date_once_before_the_due_time(dossier, desk, make_user, orgtree):
    head = make_user("truongphong", Role.department_head, department=orgtree["culture"])
    with pytest.raises(Forbidden):  # signed by the head of the department causing the delay
        dossiers.apologise(dossier, actor=desk["culture"], reason="Chờ xác minh",
                           promised_at=at(2026, 11, 30, 17, 0), now=at(2026, 11, 25, 9, 0))
    with pytest.raises(ValidationError):
        dossiers.apologise(dossier, actor=head, reason="Chờ xác minh",
                           promised_at=at(2026, 11, 25, 17, 0), now=at(2026, 11, 25, 9, 0))
    event = dossiers.apologise(dossier, actor=head, reason="Chờ xác minh",
                               promised_at=at(2026, 11, 30, 17, 0), now=at(2026, 11, 25, 9, 0))
    assert event.kind is EventKind.apology and event.due_before == at(2026, 11, 26, 9, 0)
    assert dossier.promised_at == at(2026, 11, 30, 17, 0) and dossier.due_at == at(2026, 11, 26, 9, 0)
    with pytest.raises(Conflict):  # the date is reset at most once
        dossiers.apologise(dossier, actor=head, reason="Lần hai",
                           promised_at=at(2026, 12, 3, 17, 0), now=at(2026, 11, 25, 10, 0))


def _ncs_of(dossier):
    return db.session.scalars(sa.select(Nonconformity).where(
        Nonconformity.dossier_id == dossier.id, Nonconformity.source == NcSource.late_apology)).all()


@pytest.mark.parametrize("when,late", [
    (at(2026, 11, 25, 9, 0), False),   # one working day before the due time: the latest on time
    (at(2026, 11, 25, 9, 1), True),    # a minute later
    (at(2026, 11, 26, 10, 0), True),   # after the due time: still issued, still owed
])
def test_an_apology_after_its_latest_time_is_issued_late_and_raises_a_nonconformity(
        dossier, make_user, orgtree, when, late):
    head = make_user("truongphong", Role.department_head, department=orgtree["culture"])
    assert dossiers.apology_deadline(dossier) == at(2026, 11, 25, 9, 0)
    event = dossiers.apologise(dossier, actor=head, reason="Chờ xác minh",
                               promised_at=at(2026, 12, 3, 17, 0), now=when)
    assert event.late is late
    raised = _ncs_of(dossier)
    assert len(raised) == late
    if late:  # against the department causing the delay
        assert raised[0].department_id == orgtree["culture"].id and raised[0].source.label == "Xin lỗi chậm"


def test_a_late_apology_promises_a_date_after_now(dossier, make_user, orgtree):
    head = make_user("truongphong", Role.department_head, department=orgtree["culture"])
    with pytest.raises(ValidationError, match="Ngày hẹn mới phải sau"):
        dossiers.apologise(dossier, actor=head, reason="Muộn", promised_at=at(2026, 11, 27, 17, 0),
                           now=at(2026, 11, 30, 9, 0))


def test_the_notice_is_a_setting(app, dossier, make_user, orgtree, monkeypatch):
    monkeypatch.setitem(app.config, "APOLOGY_NOTICE_WORKING_DAYS", 0)
    assert dossiers.apology_deadline(dossier) == dossier.due_at
    monkeypatch.setitem(app.config, "APOLOGY_NOTICE_WORKING_DAYS", 2)
    assert dossiers.apology_deadline(dossier) == at(2026, 11, 23, 9, 0)  # Tuesday 24/11 is a holiday


def test_who_signs_is_a_setting(app, dossier, desk, make_user, orgtree, monkeypatch):
    head = make_user("truongphong", Role.department_head, department=orgtree["culture"])
    chair = make_user("chutich", Role.leader, department=orgtree["office"])  # the ward's
    other_chair = make_user("chutichtinh", Role.leader, department=orgtree["centre"])  # the province's
    office_head = make_user("truongvanphong", Role.department_head, department=orgtree["office"])
    may = {name: dossiers.may_sign_apology(user, dossier) for name, user in (
        ("head", head), ("chair", chair), ("other_chair", other_chair), ("office_head", office_head),
        ("officer", desk["culture"]))}
    assert may == {"head": True, "chair": True, "other_chair": False, "office_head": False, "officer": False}
    monkeypatch.setitem(app.config, "APOLOGY_SIGNERS", ("leader",))
    assert (dossiers.may_sign_apology(head, dossier), dossiers.may_sign_apology(chair, dossier)) == (False, True)
    with pytest.raises(Forbidden, match="người đứng đầu đơn vị làm chậm"):
        dossiers.apologise(dossier, actor=head, reason="x", promised_at=at(2026, 12, 3, 17, 0),
                           now=at(2026, 11, 24, 9, 0))
    monkeypatch.setitem(app.config, "APOLOGY_SIGNERS", ("department_head",))
    assert (dossiers.may_sign_apology(head, dossier), dossiers.may_sign_apology(chair, dossier)) == (True, False)
    monkeypatch.setitem(app.config, "APOLOGY_SIGNERS", ("department_head", "leader"))
    event = dossiers.apologise(dossier, actor=chair, reason="Chờ ý kiến cơ quan thuế",
                               promised_at=at(2026, 12, 3, 17, 0), now=at(2026, 11, 23, 9, 0))
    # The delay is still the culture department's, whoever signs.
    assert (event.department, event.late) == (orgtree["culture"], False)


def test_stopping_and_withdrawal_end_a_dossier_with_a_reason(dossier, desk, three_days):
    with pytest.raises(ValidationError):
        dossiers.stop_processing(dossier, actor=desk["culture"], reason="", now=at(2026, 11, 20, 10, 0))
    dossiers.stop_processing(dossier, actor=desk["culture"], reason="Không đủ điều kiện",
                             now=at(2026, 11, 20, 10, 0))
    assert dossier.status is DossierStatus.stopped
    with pytest.raises(Conflict):
        dossiers.withdraw(dossier, actor=desk["onestop"], reason="x", now=at(2026, 11, 20, 11, 0))
    other, _ = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                        applicant_name="Phạm Văn Dũng", now=at(2026, 11, 20, 9, 0))
    with pytest.raises(Forbidden):
        dossiers.withdraw(other, actor=desk["culture"], reason="x", now=at(2026, 11, 20, 11, 0))
    dossiers.withdraw(other, actor=desk["onestop"], reason="Công dân xin rút", now=at(2026, 11, 20, 11, 0))
    assert other.status is DossierStatus.withdrawn
    assert dossiers.in_flight_on(other.procedure_version_id) == []


def test_a_pause_begun_after_the_due_time_leaves_the_dossier_late(dossier, desk):
    """Issue 11 §3. Due Thursday 26/11 9:00; the payment request comes 9 working hours
    later (Friday 27/11 10:00) and the payment on Tuesday 1/12 10:00. What was left is
    -9 h: due again 9 working hours before the resumption, Monday 30/11 9:00, so a result
    ready that Tuesday is late, not on time."""
    dossiers.request_payment(dossier, actor=desk["culture"], reason="Nộp lệ phí", now=at(2026, 11, 27, 10, 0))
    dossiers.receive_payment(dossier, actor=desk["culture"], now=at(2026, 12, 1, 10, 0))
    assert dossier.due_at == at(2026, 11, 30, 9, 0)
    # The step (due Friday 20/11 15:30) was 28.5 working hours over at the request:
    # 1.5 h (20/11) + 8 h (23/11) + 8 h (25/11; 24/11 is a day off) + 8 h (26/11) + 3 h
    # (27/11). Counted back from 1/12 10:00: 3 h + 8 h (30/11) + 8 h (27/11) + 8 h (26/11)
    # + 1.5 h → Wednesday 25/11 15:30.
    assert dossier.steps[1].due_at == at(2026, 11, 25, 15, 30)
    finished = at(2026, 12, 1, 11, 0)
    assert dossiers.classify(finished, dossier.due_at) is dossiers.Timeliness.late
    assert dossiers.classify(finished, dossier.steps[1].due_at) is dossiers.Timeliness.late


def test_a_pause_begun_before_the_due_time_still_keeps_what_was_left(dossier, desk):
    """The other side of the same rule: 1 working hour left at the request (26/11 8:00),
    counted again from the payment (1/12 10:00)."""
    dossiers.request_payment(dossier, actor=desk["culture"], reason="Nộp lệ phí", now=at(2026, 11, 26, 8, 0))
    dossiers.receive_payment(dossier, actor=desk["culture"], now=at(2026, 12, 1, 10, 0))
    assert dossier.due_at == at(2026, 12, 1, 11, 0)
