"""CARs in given states, for the shared route tests (tests/web/test_access_matrix.py and
tests/web/test_csrf.py) and the CAR tests. Functions, not fixtures: the shared fixtures call
them and merge the ids they return."""
from __future__ import annotations

from datetime import timedelta

from qms import clock, localtime
from qms.extensions import db
from qms.models import Role, Severity
from qms.services import accounts, corrective_actions, nonconformities
from tests.conftest import PASSWORD


def raise_nc(department, actor, text="Hồ sơ chuyển bước chậm do thiếu người ký", now=None):
    return nonconformities.raise_nonconformity(actor=actor, department=department, description=text,
                                               severity=Severity.minor, now=now or clock.now(),
                                               clause="8.5.1")


def analysed(car, actor, now=None):
    return corrective_actions.write_analysis(
        car, correction="Đã chuyển hồ sơ ngay trong ngày", whys=["Chưa có người ký thay", "Chưa phân công ủy quyền"],
        root_cause="Quy chế chưa quy định ký thay khi lãnh đạo vắng", actor=actor, now=now or clock.now())


def planned(car, actor, item_owner, verifier, now=None):
    now = now or clock.now()
    today = localtime.date_of(now)
    return corrective_actions.plan(
        car, items=[("Ban hành quyết định ủy quyền ký thay", item_owner, today + timedelta(days=7))],
        check_date=today + timedelta(days=30), verifier=verifier, actor=actor, now=now)


def car_matrix_ids(orgtree, users) -> dict:
    """A CAR of the office (the matrix users' department), opened by its head."""
    head, quality = users[Role.department_head], users[Role.quality_officer]
    nc = raise_nc(orgtree["office"], quality)
    car = corrective_actions.open_car([nc], owner=None, actor=head, now=clock.now())
    return {"car_code": car.code}


CAR_CSRF_KEYS = ("car_free_nc", "car_add", "car_add_nc", "car_analysis", "car_plan", "car_done",
                 "car_verify", "car_head_id", "car_check_id", "car_worker_id")


def car_csrf_objects(orgtree) -> dict:
    """One CAR per CAR action, each in the state its action needs, with users of their own
    (the matrix users' accounts are changed by other payloads): a head of the culture
    department who owns the CARs, an officer doing an action, and a leader verifying."""
    def user(name, role, department):
        return accounts.create_user(actor=None, username=name, full_name=name.title(), password=PASSWORD,
                                    department=department, roles={role})

    head = user("carhead", Role.department_head, orgtree["culture"])
    worker = user("carworker", Role.officer, orgtree["culture"])
    check = user("carcheck", Role.leader, orgtree["centre"])
    culture = orgtree["culture"]

    def opened():
        return corrective_actions.open_car([raise_nc(culture, head)], owner=None, actor=head, now=clock.now())

    free_nc, add_nc = raise_nc(culture, head), raise_nc(culture, head)
    add, analysis, plan_car, done, verify = opened(), opened(), opened(), opened(), opened()
    analysed(plan_car, head)
    for car in (done, verify):
        analysed(car, head)
        planned(car, head, worker, check)
    corrective_actions.complete_item(verify.items[0], evidence="Quyết định số 12/QĐ-UBND", actor=worker,
                                     now=clock.now())
    db.session.flush()
    return {"car_free_nc": free_nc.id, "car_add": add.code, "car_add_nc": add_nc.id,
            "car_analysis": analysis.code, "car_plan": plan_car.code, "car_done": done.code,
            "car_verify": verify.code, "car_head_id": head.id, "car_check_id": check.id,
            "car_worker_id": worker.id}


def car_csrf_payloads(o, Post) -> dict:
    """The CAR routes' entries of test_csrf.payloads: each changes rows when accepted."""
    today = localtime.date_of(clock.now())
    return {
        "/quality/cars": Post("carhead", {"nonconformity_ids": [o["car_free_nc"]], "owner_id": o["car_head_id"]}),
        "/quality/cars/<car_code>/nonconformities": Post(
            "carhead", {"add-nonconformity_ids": [o["car_add_nc"]]}, at={"car_code": o["car_add"]}),
        "/quality/cars/<car_code>/analysis": Post("carhead", {
            "analysis-correction": "Đã xử lý ngay", "analysis-whys-0": "Thiếu người ký",
            "analysis-root_cause": "Chưa có quy chế ủy quyền"}, at={"car_code": o["car_analysis"]}),
        "/quality/cars/<car_code>/plan": Post("carhead", {
            "plan-items-0-description": "Ban hành quy chế ủy quyền",
            "plan-items-0-owner_id": o["car_worker_id"],
            "plan-items-0-due_date": (today + timedelta(days=7)).isoformat(),
            "plan-check_date": (today + timedelta(days=30)).isoformat(),
            "plan-verifier_id": o["car_check_id"]}, at={"car_code": o["car_plan"]}),
        "/quality/cars/<car_code>/items/<int:position>/done": Post(
            "carworker", {"item1-evidence": "Quyết định số 15/QĐ-UBND"},
            at={"car_code": o["car_done"], "position": 1}),
        "/quality/cars/<car_code>/verify": Post("carcheck", {"verify-result": "effective", "verify-note": "Đã kiểm tra hồ sơ sau khắc phục"},
                                                at={"car_code": o["car_verify"]}),
    }
