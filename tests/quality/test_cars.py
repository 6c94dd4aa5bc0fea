"""Corrective actions (CAR): the loop open → analysis → plan → items done → verification,
its role rules and refusals, overdue flags and the measured effectiveness check."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import AuditLog, CarStatus, NcStatus, Role
from qms.models.accounts import UserRole
from qms.services import corrective_actions as cars
from tests.dossiers.conftest import at
from tests.quality.car_fixtures import raise_nc

NOW = at(2026, 12, 1, 9, 0)  # a Tuesday in Hà Nội
TODAY = date(2026, 12, 1)
GROUNDS = "Đã kiểm tra 20 hồ sơ sau khắc phục: không còn chậm"  # the verifier's written grounds


@pytest.fixture
def people(make_user, orgtree):
    return {
        "qo": make_user("canbo_iso", Role.quality_officer, department=orgtree["centre"]),
        "head": make_user("truong_vh", Role.department_head, department=orgtree["culture"]),
        "deputy": make_user("pho_vh", Role.department_head, department=orgtree["culture"]),
        "officer": make_user("chuyenvien_vh", Role.officer, department=orgtree["culture"]),
        "other_head": make_user("truong_vp", Role.department_head, department=orgtree["office"]),
        "other_officer": make_user("chuyenvien_vp", Role.officer, department=orgtree["office"]),
        "leader": make_user("lanhdao", Role.leader, department=orgtree["centre"]),
        "auditor": make_user("danhgiavien", Role.auditor, department=orgtree["office"]),
    }


@pytest.fixture
def ncs(people, orgtree):
    found = [raise_nc(orgtree["culture"], people["qo"], f"Hồ sơ số {n} chuyển bước chậm", now=NOW)
             for n in (1, 2)]
    db.session.commit()
    return found


def _open(ncs, people, **kwargs):
    kwargs.setdefault("owner", None)
    kwargs.setdefault("actor", people["head"])
    return cars.open_car(ncs, now=NOW, **kwargs)


def _analyse(car, people, actor=None):
    return cars.write_analysis(car, correction="Chuyển ngay hồ sơ tồn", actor=actor or people["head"], now=NOW,
                               whys=["Lãnh đạo phòng đi công tác", "", "Không có người ký thay"],
                               root_cause="Chưa có quy chế ủy quyền ký thay")


def _plan(car, people, *, verifier=None, actor=None, items=None, check_date=None):
    items = items if items is not None else [("Ban hành quy chế ủy quyền ký thay", people["officer"], TODAY + timedelta(days=5)),
                      ("Tập huấn quy chế cho cán bộ", people["head"], TODAY + timedelta(days=10))]
    return cars.plan(car, items=items, check_date=check_date or TODAY + timedelta(days=30),
                     verifier=verifier or people["qo"], actor=actor or people["head"], now=NOW)


def _do_all(car, people, when=None):
    for item in car.items:
        if item.done_at is None:
            cars.complete_item(item, evidence=f"Biên bản số {item.position}", actor=people["head"],
                               now=when or at(2026, 12, 8, 10, 0))


def _statuses(ncs):
    return [nc.status for nc in ncs]


# --- the loop -----------------------------------------------------------------------------------
def test_the_full_loop_closes_the_car_and_its_nonconformities(ncs, people):
    car = _open(ncs, people)
    assert (car.code, car.owner, car.status, car.department_id) == (
        "CAR-2026-0001", people["head"], CarStatus.analysis, ncs[0].department_id)
    assert car.nonconformities == ncs and _statuses(ncs) == [NcStatus.under_analysis] * 2

    _analyse(car, people)
    assert car.whys == ["Lãnh đạo phòng đi công tác", "Không có người ký thay"]  # blanks dropped
    _plan(car, people)
    assert car.status is CarStatus.action_planned and _statuses(ncs) == [NcStatus.action_planned] * 2
    assert [(i.position, i.owner) for i in car.items] == [(1, people["officer"]), (2, people["head"])]
    assert (car.due_date, car.check_date, car.verifier) == (TODAY + timedelta(days=10),
                                                           TODAY + timedelta(days=30), people["qo"])

    first, second = car.items
    cars.complete_item(first, evidence="Quyết định số 12/QĐ-UBND", actor=people["officer"],
                       now=at(2026, 12, 4, 9, 0))
    assert car.status is CarStatus.action_planned  # one item still open
    cars.complete_item(second, evidence="Danh sách ký tập huấn", actor=people["head"], now=at(2026, 12, 9, 9, 0))
    assert car.status is CarStatus.verifying and car.actions_done_at == at(2026, 12, 9, 9, 0)
    assert _statuses(ncs) == [NcStatus.verifying] * 2

    verification = cars.verify(car, effective=True, note="Không còn hồ sơ chậm ký", actor=people["qo"],
                               now=at(2027, 1, 5, 9, 0))
    db.session.commit()
    assert car.status is CarStatus.closed and car.closed_at == at(2027, 1, 5, 9, 0)
    assert _statuses(ncs) == [NcStatus.closed] * 2 and all(nc.closed_at for nc in ncs)
    assert (verification.effective, verification.verifier, verification.note) == (
        True, people["qo"], "Không còn hồ sơ chậm ký")
    assert verification.measurement["rows"] == []  # no step or procedure concerned
    # every move is on record, with who made it
    moves = db.session.execute(sa.select(AuditLog.action, AuditLog.actor_name).where(
        AuditLog.entity_type == "corrective_action", AuditLog.action.like("corrective_action.%"),
        ~AuditLog.action.in_(["corrective_action.created", "corrective_action.updated"]))
        .order_by(AuditLog.id)).all()
    assert moves == [("corrective_action.opened", "truong_vh"), ("corrective_action.plan", "truong_vh"),
                     ("corrective_action.actions_done", "truong_vh"), ("corrective_action.close", "canbo_iso")]


def test_codes_are_numbered_per_year(orgtree, people):
    first = _open([raise_nc(orgtree["culture"], people["qo"], now=NOW)], people)
    second = _open([raise_nc(orgtree["culture"], people["qo"], now=NOW)], people,
                   actor=people["qo"], owner=people["deputy"])
    next_year = cars.open_car([raise_nc(orgtree["culture"], people["qo"], now=NOW)], owner=None,
                              actor=people["head"], now=at(2027, 1, 2, 8, 0))
    assert [first.code, second.code, next_year.code] == ["CAR-2026-0001", "CAR-2026-0002", "CAR-2027-0001"]
    assert second.owner == people["deputy"] and second.created_by == people["qo"]


# --- verifier and verification ------------------------------------------------------------------
def test_the_verifier_is_never_the_owner(ncs, people):
    people["head"].role_rows.append(UserRole(role=Role.leader))  # a head who is also a leader
    car = _open(ncs, people)
    _analyse(car, people)
    with pytest.raises(ValidationError, match="không được là người chịu trách nhiệm"):
        _plan(car, people, verifier=people["head"])
    assert car.status is CarStatus.analysis and car.items == []


def test_the_verifier_is_a_quality_officer_leader_or_auditor(ncs, people):
    car = _open(ncs, people)
    _analyse(car, people)
    with pytest.raises(ValidationError, match="cán bộ ISO, lãnh đạo hoặc chuyên gia đánh giá"):
        _plan(car, people, verifier=people["officer"])
    _plan(car, people, verifier=people["auditor"])
    assert car.verifier == people["auditor"]


def test_only_the_designated_verifier_verifies(ncs, people):
    car = _open(ncs, people)
    _analyse(car, people)
    _plan(car, people, verifier=people["leader"])
    _do_all(car, people)
    for someone in ("head", "qo", "auditor", "officer"):  # the owner, another QO, ...
        with pytest.raises(Forbidden):
            cars.verify(car, effective=True, note=GROUNDS, actor=people[someone], now=at(2027, 1, 5))
    assert car.status is CarStatus.verifying and car.verifications == []
    cars.verify(car, effective=True, note=GROUNDS, actor=people["leader"], now=at(2027, 1, 5))
    assert car.status is CarStatus.closed


def test_not_effective_goes_back_to_analysis_with_the_reason_kept(ncs, people):
    car = _open(ncs, people)
    _analyse(car, people)
    _plan(car, people)
    _do_all(car, people)
    with pytest.raises(ValidationError, match="lý do"):
        cars.verify(car, effective=False, note="  ", actor=people["qo"], now=at(2027, 1, 5))
    cars.verify(car, effective=False, note="Tháng 12 vẫn còn 3 hồ sơ chậm ký", actor=people["qo"],
                now=at(2027, 1, 5))
    db.session.commit()
    assert car.status is CarStatus.analysis and car.closed_at is None and car.actions_done_at is None
    assert _statuses(ncs) == [NcStatus.under_analysis] * 2
    [verification] = car.verifications
    assert (verification.effective, verification.note) == (False, "Tháng 12 vẫn còn 3 hồ sơ chậm ký")
    assert len(car.items) == 2 and all(i.done_at for i in car.items)  # the earlier actions stay

    # A new analysis and plan; its items are added after the earlier ones
    cars.write_analysis(car, correction="", whys=["Quy chế chưa phổ biến tới văn thư"], root_cause="",
                        actor=people["qo"], now=at(2027, 1, 6))
    cars.plan(car, items=[("Phổ biến quy chế tới văn thư", people["officer"], date(2027, 1, 15))],
              check_date=date(2027, 2, 15), verifier=people["qo"], actor=people["head"], now=at(2027, 1, 6))
    assert [i.position for i in car.items] == [1, 2, 3] and car.status is CarStatus.action_planned
    cars.complete_item(car.items[2], evidence="Sổ ký nhận", actor=people["officer"], now=at(2027, 1, 14))
    assert car.status is CarStatus.verifying
    cars.verify(car, effective=True, note=GROUNDS, actor=people["qo"], now=at(2027, 2, 16))
    assert car.status is CarStatus.closed and _statuses(ncs) == [NcStatus.closed] * 2
    assert [v.effective for v in car.verifications] == [False, True]


# --- who may do what ----------------------------------------------------------------------------
def test_an_officer_or_another_departments_head_cannot_open_one(ncs, people):
    for someone in ("officer", "other_officer", "other_head", "leader", "auditor"):
        with pytest.raises(Forbidden):
            _open(ncs, people, actor=people[someone], owner=people["head"])
    assert all(nc.corrective_action_id is None for nc in ncs)


def test_the_owner_is_a_head_or_an_officer_of_the_nonconformities_department(ncs, people):
    with pytest.raises(ValidationError, match="Hãy chọn người chịu trách nhiệm"):
        _open(ncs, people, actor=people["qo"])  # the quality officer is not of it: name one
    for stranger in ("other_head", "other_officer", "auditor"):
        with pytest.raises(ValidationError, match="trưởng phòng hoặc cán bộ của Phòng Văn hóa"):
            _open(ncs, people, actor=people["qo"], owner=people[stranger])
    assert _open(ncs, people, actor=people["qo"], owner=people["officer"]).owner == people["officer"]


def test_the_responsible_list_offers_every_active_head_and_officer_of_the_department(ncs, people, orgtree):
    from qms.services import accounts

    accounts.set_active(people["deputy"], False, actor=None)
    db.session.commit()
    owners = db.session.scalars(cars.possible_owners(orgtree["culture"].id)).all()
    assert sorted(u.username for u in owners) == ["chuyenvien_vh", "truong_vh"]


def test_nonconformities_of_one_department_answered_once(ncs, people, orgtree):
    office_nc = raise_nc(orgtree["office"], people["qo"], now=NOW)
    with pytest.raises(ValidationError, match="cùng một phòng ban"):
        _open([ncs[0], office_nc], people, actor=people["qo"], owner=people["head"])
    with pytest.raises(ValidationError, match="ít nhất một"):
        _open([], people)
    car = _open(ncs[:1], people)
    with pytest.raises(Conflict, match="đã có phiếu"):
        _open(ncs[:1], people)
    # another nonconformity of the department joins the CAR while in analysis
    cars.add_nonconformities(car, ncs[1:], actor=people["head"], now=NOW)
    assert car.nonconformities == ncs and ncs[1].status is NcStatus.under_analysis
    with pytest.raises(Forbidden):
        cars.add_nonconformities(car, [office_nc], actor=people["other_head"], now=NOW)
    with pytest.raises(ValidationError, match="cùng một phòng ban"):
        cars.add_nonconformities(car, [office_nc], actor=people["qo"], now=NOW)


def test_a_rejected_nonconformity_gets_no_car(ncs, people):
    from qms.services import nonconformities

    nonconformities.transition(ncs[0], "reject", actor=people["qo"], now=NOW, reason="Trùng lặp")
    with pytest.raises(Conflict, match="Không chấp nhận"):
        _open(ncs[:1], people)


def test_a_nonconformity_rejected_after_opening_leaves_the_loop(ncs, people, orgtree):
    from qms.services import nonconformities

    third = raise_nc(orgtree["culture"], people["qo"], now=NOW)
    car = _open([*ncs, third], people)
    nonconformities.transition(third, "reject", actor=people["qo"], now=NOW, reason="Trùng với NC khác")
    _analyse(car, people)
    _plan(car, people)
    _do_all(car, people)
    cars.verify(car, effective=True, note=GROUNDS, actor=people["qo"], now=at(2027, 1, 5))
    assert _statuses([*ncs, third]) == [NcStatus.closed, NcStatus.closed, NcStatus.rejected]


def test_analysis_and_plan_belong_to_the_owner_or_the_quality_officer(ncs, people):
    car = _open(ncs, people)
    for someone in ("other_head", "officer", "deputy", "leader"):
        with pytest.raises(Forbidden):
            _analyse(car, people, actor=people[someone])
    _analyse(car, people, actor=people["qo"])
    for someone in ("other_head", "officer", "auditor"):
        with pytest.raises(Forbidden):
            _plan(car, people, actor=people[someone])
    _plan(car, people, actor=people["qo"])
    assert car.status is CarStatus.action_planned


def test_items_are_done_by_their_owner_the_car_owner_or_the_quality_officer(ncs, people):
    car = _open(ncs, people)
    _analyse(car, people)
    _plan(car, people)
    first, second = car.items  # first: the officer's, second: the head's
    for someone in ("other_head", "other_officer", "leader", "deputy"):
        with pytest.raises(Forbidden):
            cars.complete_item(first, evidence="x", actor=people[someone], now=NOW)
    with pytest.raises(Forbidden):  # the officer owns the first item only
        cars.complete_item(second, evidence="x", actor=people["officer"], now=NOW)
    with pytest.raises(ValidationError, match="bằng chứng"):
        cars.complete_item(first, evidence=" ", actor=people["officer"], now=NOW)
    cars.complete_item(first, evidence="Quyết định 12", actor=people["officer"], now=NOW)
    with pytest.raises(Conflict):
        cars.complete_item(first, evidence="lần nữa", actor=people["qo"], now=NOW)
    cars.complete_item(second, evidence="Biên bản", actor=people["qo"], now=NOW)
    assert car.status is CarStatus.verifying


def test_state_transitions_refused_out_of_order(ncs, people):
    car = _open(ncs, people)
    with pytest.raises(ValidationError, match="phân tích nguyên nhân trước"):
        _plan(car, people)
    with pytest.raises(ValidationError, match="ít nhất một câu"):
        cars.write_analysis(car, correction="Đã xử lý", whys=["", " "], root_cause="", actor=people["head"], now=NOW)
    with pytest.raises(Forbidden):  # no verifier designated yet
        cars.verify(car, effective=True, note=GROUNDS, actor=people["qo"], now=NOW)
    _analyse(car, people)
    _plan(car, people)
    with pytest.raises(Conflict):
        _analyse(car, people)  # the analysis is frozen once planned
    with pytest.raises(Conflict):
        _plan(car, people)
    with pytest.raises(Conflict):  # the designated verifier, but the actions are not done
        cars.verify(car, effective=True, note=GROUNDS, actor=people["qo"], now=NOW)
    with pytest.raises(Conflict):
        cars.add_nonconformities(car, [], actor=people["head"], now=NOW)
    _do_all(car, people)
    cars.verify(car, effective=True, note=GROUNDS, actor=people["qo"], now=at(2027, 1, 5))
    with pytest.raises(Conflict):
        cars.verify(car, effective=False, note="Xem lại", actor=people["qo"], now=at(2027, 1, 6))
    with pytest.raises(Conflict):
        _analyse(car, people)


def test_the_plan_is_checked(ncs, people):
    car = _open(ncs, people)
    _analyse(car, people)
    officer = people["officer"]
    with pytest.raises(ValidationError, match="ít nhất một hành động"):
        _plan(car, people, items=[])
    with pytest.raises(ValidationError, match="Hành động 1: hãy ghi nội dung"):
        _plan(car, people, items=[(" ", officer, TODAY)])
    with pytest.raises(ValidationError, match="Hành động 1: hãy chọn người thực hiện"):
        _plan(car, people, items=[("Sửa quy trình", None, TODAY)])
    with pytest.raises(ValidationError, match="Hành động 2: hãy chọn thời hạn"):
        _plan(car, people, items=[("Sửa quy trình", officer, TODAY), ("Tập huấn", officer, None)])
    with pytest.raises(ValidationError, match="30/11/2026 đã qua"):
        _plan(car, people, items=[("Sửa quy trình", officer, TODAY - timedelta(days=1))])
    with pytest.raises(ValidationError, match="sau thời hạn của hành động cuối cùng"):
        _plan(car, people, check_date=TODAY + timedelta(days=10))  # the last item's due date
    assert car.status is CarStatus.analysis and car.items == []
    _plan(car, people, items=[("Sửa quy trình", officer, TODAY)], check_date=TODAY + timedelta(days=1))
    assert car.status is CarStatus.action_planned


# --- overdue ------------------------------------------------------------------------------------
def test_overdue_items_and_cars(ncs, people, orgtree):
    car = _open(ncs[:1], people)
    _analyse(car, people)
    _plan(car, people)  # items due 6/12 and 11/12, check 31/12
    other = _open(ncs[1:], people)  # in analysis, no dates: never overdue
    db.session.commit()

    def overdue(now):
        items = db.session.scalars(cars.overdue_items(now)).all()
        return [(i.corrective_action.code, i.position) for i in items], \
            [c.code for c in db.session.scalars(cars.overdue_cars(now))]

    assert overdue(at(2026, 12, 6, 16, 0)) == ([], [])  # due today: not yet overdue
    assert overdue(at(2026, 12, 7, 8, 0)) == ([(car.code, 1)], [car.code])
    cars.complete_item(car.items[0], evidence="Quyết định 12", actor=people["officer"], now=at(2026, 12, 7, 9))
    assert overdue(at(2026, 12, 7, 10, 0)) == ([], [])
    assert overdue(at(2026, 12, 12, 8, 0)) == ([(car.code, 2)], [car.code])
    assert db.session.scalars(cars.overdue_cars(at(2026, 12, 12), department_id=orgtree["office"].id)).all() == []
    cars.complete_item(car.items[1], evidence="Danh sách tập huấn", actor=people["head"], now=at(2026, 12, 12, 9))
    assert overdue(at(2026, 12, 31, 16, 0)) == ([], [])  # verifying, check date today
    assert overdue(at(2027, 1, 1, 8, 0)) == ([], [car.code])  # the check date has passed
    cars.verify(car, effective=True, note=GROUNDS, actor=people["qo"], now=at(2027, 1, 2))
    assert overdue(at(2027, 1, 3, 8, 0)) == ([], [])  # closed
    assert other.status is CarStatus.analysis


# --- the measured check -------------------------------------------------------------------------
def _measured_world(three_days, desk, orgtree, people):
    """Dossiers of the birth procedure whose second step ("Thẩm tra, dự thảo giấy khai
    sinh", the culture department's) and results were done at known times. The CAR is
    opened on 1/12/2026 09:00; its 90-day window starts on 2/9/2026."""
    from qms.services import dossiers, nonconformities

    def dossier(step2=None, returned=None, step3=None, received=None):
        made, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                 applicant_name="Trần Thị Bình",
                                                 now=received or at(2026, 10, 1, 8, 0))
        if step2:
            made.steps[1].due_at, made.steps[1].completed_at = step2
            made.steps[1].department = orgtree["culture"]
        if step3:
            made.steps[2].due_at, made.steps[2].completed_at = step3
        if returned:  # (due, processed): the result ready, whenever collected
            made.due_at, made.processed_at = returned
        return made

    # Step 2, before the CAR (in the 90 days):
    dossier(step2=(at(2026, 11, 10, 15, 0), at(2026, 11, 10, 16, 30)))  # same date, later hour: on time
    late = dossier(step2=(at(2026, 11, 12, 10, 0), at(2026, 11, 13, 8, 0)))  # late
    dossier(step2=(at(2026, 11, 14, 10, 0), at(2026, 11, 13, 14, 0)))  # early
    # 21/11 00:30 in Hà Nội is still 20/11 in UTC: late by the local date only
    dossier(step2=(at(2026, 11, 20, 17, 0), at(2026, 11, 21, 0, 30)))
    dossier(step2=(at(2026, 8, 3, 10, 0), at(2026, 8, 5, 10, 0)), received=at(2026, 8, 1))  # too old
    dossier(step3=(at(2026, 11, 10, 10, 0), at(2026, 11, 12, 10, 0)))  # late, but another step
    # Returned dossiers, before the CAR
    dossier(returned=(at(2026, 11, 16, 9, 0), at(2026, 11, 16, 16, 0)))  # on time
    dossier(returned=(at(2026, 11, 16, 9, 0), at(2026, 11, 18, 9, 0)))  # late
    dossier(returned=(at(2026, 11, 20, 9, 0), at(2026, 11, 19, 9, 0)))  # early
    step_nc = nonconformities.raise_for_step(late.steps[1], now=NOW)
    procedure_nc = raise_nc(orgtree["culture"], people["qo"], "Tỷ lệ trả kết quả đúng hạn thấp", now=NOW)
    procedure_nc.procedure = three_days
    db.session.commit()
    return dossier, step_nc, procedure_nc


def test_the_measured_check_compares_late_rates_before_and_since(three_days, desk, orgtree, people):
    make, step_nc, procedure_nc = _measured_world(three_days, desk, orgtree, people)
    car = _open([step_nc, procedure_nc], people)
    measured = cars.measurement(car, at(2026, 12, 2))
    step_row, procedure_row = measured["rows"]
    assert (step_row["kind"], step_row["procedure"], step_row["position"], step_row["step"]) == (
        "step", "1.001193", 2, "Thẩm tra, dự thảo giấy khai sinh")
    assert step_row["before"] == {"total": 4, "late": 2, "rate": 50.0}
    assert step_row["after"] is None  # the actions are not done yet
    assert procedure_row["kind"] == "procedure"
    assert procedure_row["before"] == {"total": 3, "late": 1, "rate": 33.3}
    assert measured["days"] == 90

    _analyse(car, people)
    _plan(car, people)
    make(step2=(at(2026, 12, 4, 10, 0), at(2026, 12, 5, 10, 0)))  # late, before the actions were done
    _do_all(car, people, when=at(2026, 12, 8, 10, 0))
    db.session.commit()
    measured = cars.measurement(car, at(2026, 12, 8, 11, 0))
    assert measured["rows"][0]["after"] == {"total": 0, "late": 0, "rate": None}  # not enough data yet

    make(step2=(at(2026, 12, 9, 10, 0), at(2026, 12, 9, 11, 0)))  # on time
    make(step2=(at(2026, 12, 10, 10, 0), at(2026, 12, 9, 15, 0)))  # early
    make(step2=(at(2026, 12, 11, 10, 0), at(2026, 12, 14, 9, 0)))  # late
    make(returned=(at(2026, 12, 15, 9, 0), at(2026, 12, 15, 10, 0)))  # on time
    make(step2=(at(2027, 1, 4, 10, 0), at(2027, 1, 5, 10, 0)))  # late, after the verification
    db.session.commit()
    verification = cars.verify(car, effective=True, note="Tỷ lệ chậm giảm", actor=people["qo"],
                               now=at(2026, 12, 20, 9, 0))
    db.session.commit()
    step_row, procedure_row = verification.measurement["rows"]
    assert step_row["before"] == {"total": 4, "late": 2, "rate": 50.0}
    assert step_row["after"] == {"total": 3, "late": 1, "rate": 33.3}
    assert procedure_row["after"] == {"total": 1, "late": 0, "rate": 0.0}
    # the snapshot stays as the verifier saw it
    db.session.expire_all()
    assert car.verifications[0].measurement["rows"][0]["after"]["total"] == 3


def test_a_nonconformity_about_no_process_has_no_measurement(ncs, people):
    car = _open(ncs, people)
    assert cars.measurement(car, NOW)["rows"] == []


def test_effective_needs_grounds_before_the_check_date_or_without_data(three_days, desk, orgtree, people):
    """ISO 9001:2015 §10.2.1 d): effectiveness is judged on evidence. Before the planned
    check date, or with nothing measured since the actions were done, "effective" needs the
    verifier's grounds in writing; with data and the date passed it needs none."""
    make, step_nc, _procedure_nc = _measured_world(three_days, desk, orgtree, people)
    car = _open([step_nc], people)
    _analyse(car, people)
    _plan(car, people, check_date=date(2026, 12, 15))
    _do_all(car, people, when=at(2026, 12, 8, 10, 0))
    db.session.commit()
    with pytest.raises(ValidationError, match="Chưa đến ngày kiểm tra hiệu lực"):
        cars.verify(car, effective=True, note="", actor=people["qo"], now=at(2026, 12, 10, 9, 0))
    with pytest.raises(ValidationError, match="Chưa có số liệu"):
        cars.verify(car, effective=True, note="", actor=people["qo"], now=at(2026, 12, 16, 9, 0))
    assert car.verifications == [] and car.status is CarStatus.verifying
    make(step2=(at(2026, 12, 9, 10, 0), at(2026, 12, 9, 11, 0)))  # measured since: on time
    db.session.commit()
    with pytest.raises(ValidationError, match="Chưa đến ngày kiểm tra hiệu lực"):
        cars.verify(car, effective=True, note="", actor=people["qo"], now=at(2026, 12, 10, 9, 0))
    cars.verify(car, effective=True, note="", actor=people["qo"], now=at(2026, 12, 16, 9, 0))
    assert car.status is CarStatus.closed


def test_early_verification_with_grounds_is_kept_with_them(ncs, people):
    car = _open(ncs, people)
    _analyse(car, people)
    _plan(car, people)
    _do_all(car, people)
    verification = cars.verify(car, effective=True, note=GROUNDS, actor=people["qo"], now=at(2026, 12, 9, 9, 0))
    assert car.status is CarStatus.closed and verification.note == GROUNDS
