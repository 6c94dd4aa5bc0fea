"""Supplementation and payment stop the clock; an apology promises a new date once, before
the due time; stopping and withdrawal end a dossier."""
import pytest

from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import DossierStatus, EventKind, Role, SupplementRule
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


def test_an_apology_after_the_due_time_is_refused(dossier, make_user, orgtree):
    head = make_user("truongphong", Role.department_head, department=orgtree["culture"])
    with pytest.raises(Conflict):
        dossiers.apologise(dossier, actor=head, reason="Muộn",
                           promised_at=at(2026, 12, 3, 17, 0), now=at(2026, 11, 26, 9, 0))


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
