"""Monthly reviews for the shared route tests (tests/web/test_access_matrix.py and
tests/web/test_csrf.py): functions, not fixtures; the shared fixtures call them and merge
the values they return."""
from __future__ import annotations

from qms import clock
from qms.models import Role
from qms.services import accounts, metrics
from qms.services import monthly_reviews as reviews
from tests.conftest import PASSWORD


def monthly_matrix_ids(orgtree) -> dict:
    """The culture department's current month: another department than the matrix users'
    (their heads and officers are refused; oversight roles read it)."""
    month = reviews.current_month(clock.now())
    return {"reviews.department_code": orgtree["culture"].code, "reviews.month": reviews.month_key(month)}


UNKNOWN_MONTHLY_IDS = {"reviews.department_code": "KHONG-CO", "reviews.month": "2099-01"}

MONTHLY_CSRF_KEYS = ("monthly_department", "monthly_save_month", "monthly_sign_month")


def monthly_csrf_objects(orgtree) -> dict:
    """A head of the culture department of their own (the matrix users' accounts are changed
    by other payloads); saving writes this month's review, signing last month's."""
    accounts.create_user(actor=None, username="truongthang", full_name="Trưởng Tháng", password=PASSWORD,
                         department=orgtree["culture"], roles={Role.department_head})
    month = reviews.current_month(clock.now())
    return {"monthly_department": orgtree["culture"].code,
            "monthly_save_month": reviews.month_key(month),
            "monthly_sign_month": reviews.month_key(metrics.add_months(month, -1))}


def monthly_csrf_payloads(o, post) -> dict:
    form = {"comments": "Hồ sơ chậm ở khâu thẩm tra", "actions": "Phân công người ký thay"}
    return {
        "/reviews/monthly/<department_code>/<month>/save": post(
            "truongthang", form, at={"department_code": o["monthly_department"],
                                     "month": o["monthly_save_month"]}),
        "/reviews/monthly/<department_code>/<month>/sign": post(
            "truongthang", form, at={"department_code": o["monthly_department"],
                                     "month": o["monthly_sign_month"]}),
    }
