"""Receiving dossiers and completing their steps against working-time limits."""
import threading

import pytest
import sqlalchemy as sa

from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import Dossier, DossierStatus
from qms.services import dossiers
from qms.services.dossiers import Timeliness
from tests.dossiers.conftest import at


def receive(procedure, officer, when, name="Nguyễn Văn An"):
    dossier, secret = dossiers.receive_dossier(actor=officer, procedure=procedure,
                                               applicant_name=name, now=when)
    db.session.commit()
    return dossier, secret


def test_friday_afternoon_before_tet_is_due_after_the_holiday(three_days, desk):
    dossier, _secret = receive(three_days, desk["onestop"], at(2026, 2, 13, 16, 30))
    # 30 minutes on Friday, Tết 16–20 Feb, the weekend, then 2 days and 7.5 hours.
    assert dossier.due_at == at(2026, 2, 25, 16, 30)
    assert dossier.original_due_at == dossier.due_at
    first = dossier.steps[0]
    assert (first.department, first.handed_over_at, first.due_at) == (
        desk["onestop"].department, at(2026, 2, 13, 16, 30), at(2026, 2, 23, 7, 30))


@pytest.mark.parametrize("received,due", [
    (at(2026, 11, 20, 14, 59), at(2026, 11, 20, 17, 0)),   # by 15:00: the same day
    (at(2026, 11, 20, 15, 30), at(2026, 11, 23, 17, 0)),   # after: the next working day
    (at(2026, 11, 23, 15, 30), at(2026, 11, 25, 17, 0)),   # 24/11 is a holiday
    (at(2026, 11, 20, 12, 0), at(2026, 11, 20, 17, 0)),    # at lunch
])
def test_same_day_procedures_follow_the_15_00_rule(in_force, desk, received, due):
    dossier, _secret = receive(in_force, desk["onestop"], received)
    assert dossier.due_at == due


def test_codes_count_per_agency_and_day(in_force, desk):
    first, _ = receive(in_force, desk["onestop"], at(2026, 11, 25, 8, 0))
    second, _ = receive(in_force, desk["onestop"], at(2026, 11, 25, 9, 0))
    next_day, _ = receive(in_force, desk["onestop"], at(2026, 11, 26, 8, 0))
    assert [first.code, second.code, next_day.code] == [
        "TP-A-261125-0001", "TP-A-261125-0002", "TP-A-261126-0001"]


def test_simultaneous_receipts_get_distinct_codes(app, in_force, desk):
    officer_id, procedure_id = desk["onestop"].id, in_force.id
    codes, errors = [], []

    def work():
        with app.app_context():
            from qms.models import Procedure, User

            try:
                for _ in range(3):
                    officer = db.session.get(User, officer_id)
                    dossier, _ = dossiers.receive_dossier(
                        actor=officer, procedure=db.session.get(Procedure, procedure_id),
                        applicant_name="Trần Thị Bình", now=at(2026, 11, 25, 9, 0))
                    db.session.commit()
                    codes.append(dossier.code)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(codes) == 12 and len(set(codes)) == 12


def test_only_a_one_stop_officer_receives_and_only_what_is_in_force(birth, in_force, desk):
    with pytest.raises(Forbidden):
        dossiers.receive_dossier(actor=desk["culture"], procedure=in_force, applicant_name="A",
                                 now=at(2026, 11, 25, 9, 0))
    with pytest.raises(ValidationError):
        dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force, applicant_name=" ",
                                 now=at(2026, 11, 25, 9, 0))


def test_a_procedure_without_a_version_in_force_cannot_be_received(birth, desk):
    with pytest.raises(Conflict):
        dossiers.receive_dossier(actor=desk["onestop"], procedure=birth, applicant_name="A",
                                 now=at(2026, 11, 25, 9, 0))


def test_steps_are_handed_over_in_order_and_the_result_closes_the_dossier(in_force, desk, orgtree):
    dossier, _ = receive(in_force, desk["onestop"], at(2026, 11, 25, 8, 0))
    receive_step, review, sign, give_back = dossier.steps
    with pytest.raises(ValidationError):  # the next step is a specialist's: say whose
        dossiers.complete_step(receive_step, actor=desk["onestop"], now=at(2026, 11, 25, 8, 30))
    dossiers.complete_step(receive_step, actor=desk["onestop"], now=at(2026, 11, 25, 8, 30),
                           next_department=orgtree["culture"])
    db.session.commit()
    assert dossier.status is DossierStatus.processing
    assert (review.department, review.handed_over_at, review.due_at) == (
        orgtree["culture"], at(2026, 11, 25, 8, 30), at(2026, 11, 25, 9, 30))  # the review: 1 h
    with pytest.raises(Forbidden):  # another department's officer
        dossiers.complete_step(review, actor=desk["office"], now=at(2026, 11, 25, 9, 0),
                               next_department=orgtree["office"])
    with pytest.raises(Conflict):  # not its turn
        dossiers.complete_step(sign, actor=desk["office"], now=at(2026, 11, 25, 9, 0))
    dossiers.complete_step(review, actor=desk["culture"], now=at(2026, 11, 25, 13, 45),
                           next_department=orgtree["office"], note="Đủ điều kiện")
    dossiers.complete_step(sign, actor=desk["office"], now=at(2026, 11, 25, 15, 0))
    assert give_back.department == desk["onestop"].department  # one-stop steps go home
    dossiers.complete_step(give_back, actor=desk["onestop"], now=at(2026, 11, 25, 16, 0))
    db.session.commit()
    # The result is ready (status 9); the applicant collects it apart (status 10).
    assert dossier.status is DossierStatus.processed and dossier.processed_at == at(2026, 11, 25, 16, 0)
    assert dossier.returned_at is None
    assert dossiers.timeliness(dossier) is Timeliness.on_time
    assert [dossiers.step_timeliness(s) for s in dossier.steps] == [Timeliness.on_time] * 4
    with pytest.raises(Conflict):
        dossiers.complete_step(give_back, actor=desk["onestop"], now=at(2026, 11, 25, 16, 5))


def test_a_late_step_and_a_late_dossier_are_classified_by_date(three_days, desk, orgtree):
    dossier, _ = receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))  # due Wed 26/11 9:00
    assert dossier.due_at == at(2026, 11, 26, 9, 0)
    steps = dossier.steps
    dossiers.complete_step(steps[0], actor=desk["onestop"], now=at(2026, 11, 20, 9, 30),
                           next_department=orgtree["culture"])
    dossiers.complete_step(steps[1], actor=desk["culture"], now=at(2026, 11, 25, 10, 0),
                           next_department=orgtree["office"])  # due Fri 20/11 15:30: late
    dossiers.complete_step(steps[2], actor=desk["office"], now=at(2026, 11, 26, 8, 0))
    dossiers.complete_step(steps[3], actor=desk["onestop"], now=at(2026, 11, 26, 16, 0))
    assert dossiers.step_timeliness(steps[1]) is Timeliness.late
    # 16:00 on the due date, after the 9:00 due time: on time by the national (date) rule.
    assert dossiers.timeliness(dossier) is Timeliness.on_time


def test_classification_by_date():
    due = at(2026, 11, 26, 9, 0)
    assert dossiers.classify(at(2026, 11, 25, 17, 0), due) is Timeliness.early
    assert dossiers.classify(at(2026, 11, 26, 16, 0), due) is Timeliness.on_time
    assert dossiers.classify(at(2026, 11, 27, 7, 0), due) is Timeliness.late


def test_the_stricter_timestamp_rule_is_a_setting(app, three_days, desk, orgtree):
    due = at(2026, 11, 26, 9, 0)
    assert dossiers.classify(at(2026, 11, 26, 9, 0), due, strict=True) is Timeliness.on_time
    assert dossiers.classify(at(2026, 11, 26, 9, 1), due, strict=True) is Timeliness.late
    assert dossiers.classify(at(2026, 11, 25, 17, 0), due, strict=True) is Timeliness.early
    dossier, _ = receive(three_days, desk["onestop"], at(2026, 11, 20, 9, 0))  # due 26/11 9:00
    for step, who in zip(dossier.steps, ("onestop", "culture", "office", "onestop"), strict=True):
        dossiers.complete_step(step, actor=desk[who], now=at(2026, 11, 26, 16, 0),
                               next_department=orgtree["culture"] if who == "onestop" else orgtree["office"])
    assert dossiers.timeliness(dossier) is Timeliness.on_time  # by date
    app.config["TIMELINESS_RULE"] = "timestamp"
    try:
        assert dossiers.timeliness(dossier) is Timeliness.late
    finally:
        app.config["TIMELINESS_RULE"] = "date"


def test_two_simultaneous_completions_of_one_step_exactly_one_wins(app, in_force, desk, orgtree):
    dossier, _ = receive(in_force, desk["onestop"], at(2026, 11, 25, 8, 0))
    step_id, officer_id, culture_id = dossier.steps[0].id, desk["onestop"].id, orgtree["culture"].id
    results, barrier = [], threading.Barrier(2)

    def work():
        with app.app_context():
            from qms.models import Department, DossierStep, User

            step = db.session.get(DossierStep, step_id)
            officer = db.session.get(User, officer_id)
            department = db.session.get(Department, culture_id)
            _ = step.dossier.steps  # load before racing
            barrier.wait()
            try:
                dossiers.complete_step(step, actor=officer, now=at(2026, 11, 25, 8, 30),
                                       next_department=department)
                db.session.commit()
                results.append("won")
            except Conflict:
                db.session.rollback()
                results.append("refused")
            except sa.exc.OperationalError:  # SQLite: the loser may find the database locked
                db.session.rollback()
                results.append("refused")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused", "won"]
    db.session.expire_all()
    completed = [s for s in db.session.get(Dossier, dossier.id).steps if s.completed_at]
    assert len(completed) == 1


def test_lookup_needs_both_code_and_secret(in_force, desk):
    dossier, secret = receive(in_force, desk["onestop"], at(2026, 11, 25, 8, 0))
    assert len(secret) == 8 and secret not in dossier.lookup_secret_hash
    assert dossiers.find_for_lookup(dossier.code, secret) is dossier
    assert dossiers.find_for_lookup(dossier.code.lower(), secret.lower()) is dossier
    assert dossiers.find_for_lookup(dossier.code, "WRONG123") is None
    assert dossiers.find_for_lookup("TP-A-000000-0001", secret) is None


def test_an_unknown_code_costs_the_same_hash_check_as_a_wrong_secret(in_force, desk, monkeypatch):
    """No timing oracle on the public lookup (issue 14): both refusals check one hash of the
    same kind, so an attacker cannot tell which codes exist by how long the answer takes."""
    dossier, _secret = receive(in_force, desk["onestop"], at(2026, 11, 25, 8, 0))
    checked = []
    real = dossiers.check_password_hash

    def counting(stored, attempt):
        checked.append(stored.split("$", 1)[0])  # the method and its cost
        return real(stored, attempt)

    monkeypatch.setattr(dossiers, "check_password_hash", counting)
    assert dossiers.find_for_lookup(dossier.code, "WRONG123") is None
    assert dossiers.find_for_lookup("TP-A-000000-0001", "WRONG123") is None
    assert checked == [dossiers.LOOKUP_HASH, dossiers.LOOKUP_HASH]


def test_a_dossier_keeps_the_version_it_was_received_under(three_days, desk):
    # `three_days` made version 2 effective; a dossier received before that would keep 1.
    dossier, _ = receive(three_days, desk["onestop"], at(2026, 11, 25, 8, 0))
    assert dossier.procedure_version.version.number == 2
    assert [s.position for s in dossier.steps] == [1, 2, 3, 4]


def test_the_comparison_lists_dossiers_still_on_the_old_version(client, in_force, desk, staff, orgtree):
    from datetime import date

    from tests.conftest import login
    from tests.documents.conftest import approve_second_version

    old, _ = receive(in_force, desk["onestop"], at(2026, 11, 25, 8, 0))
    done, _ = receive(in_force, desk["onestop"], at(2026, 11, 25, 8, 5))
    for step in done.steps:
        nxt = orgtree["culture"] if step.position == 1 else orgtree["office"]
        actor = {1: desk["onestop"], 2: desk["culture"], 3: desk["office"], 4: desk["onestop"]}[step.position]
        dossiers.complete_step(step, actor=actor, now=at(2026, 11, 25, 9, 0), next_department=nxt)
    approve_second_version(in_force, staff, effective_date=date(2026, 11, 23))
    new, _ = receive(in_force, desk["onestop"], at(2026, 11, 25, 10, 0))
    db.session.commit()
    assert new.procedure_version.version.number == 2 and old.procedure_version.version.number == 1
    assert dossiers.in_flight_on(old.procedure_version_id) == [old]
    login(client, "officer")
    page = client.get("/documents/QT-HT-01/compare?a=1&b=2").get_data(as_text=True)
    assert old.code in page and done.code not in page and new.code not in page
