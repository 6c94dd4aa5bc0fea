"""The monthly review: only the department's head writes and signs; signing freezes the
figures; later changes show as differences; reminders and the leaders' overview."""
from __future__ import annotations

from datetime import date

import pytest

from qms import authz
from qms.errors import Conflict, Forbidden, NotFound, ValidationError
from qms.extensions import db
from qms.models import MonthlyReviewStatus, Role
from qms.services import dossiers
from qms.services import monthly_reviews as reviews
from tests.reviews.dataset import READ_AT, at

NOVEMBER = date(2026, 11, 1)


def test_signing_freezes_the_figures_and_changes_show_as_differences(november, orgtree):
    head, onestop = november["people"]["onestop_head"], orgtree["onestop"]
    review = reviews.sign(onestop, NOVEMBER, actor=head, now=READ_AT, comments="Tháng ổn định.",
                          actions="Nhắc bộ phận thẩm tra.")
    db.session.commit()
    assert review.status is MonthlyReviewStatus.signed and review.signed_by == head
    assert review.signed_at == READ_AT and review.comments == "Tháng ổn định."
    frozen = dict(review.snapshot["dossiers"])
    assert frozen["in_progress_within"] == 1 and frozen["withdrawn"] == 1
    assert [d["code"] for d in review.snapshot["late_dossiers"]] == [
        november["dossiers"]["C"].code, november["dossiers"]["H"].code]
    assert reviews.compare(review, READ_AT)["changed"] is False

    # A record of November changes after signing: I is recorded as withdrawn on 30/11.
    dossiers.withdraw(november["dossiers"]["I"], actor=november["people"]["onestop"],
                      reason="Ghi bổ sung: công dân đã rút", now=at(30, 11, 16))
    db.session.commit()
    db.session.expire_all()
    assert review.snapshot["dossiers"] == frozen  # the snapshot does not move
    assert reviews.figures_of(review, onestop, NOVEMBER, READ_AT)["dossiers"] == frozen
    changes = reviews.compare(review, READ_AT)
    assert changes["changed"] is True
    assert {(f["key"], f["signed"], f["live"]) for f in changes["figures"]} >= {
        ("withdrawn", 1, 2), ("in_progress", 2, 1), ("in_progress_within", 1, 0)}
    assert reviews.live_figures(onestop, NOVEMBER, READ_AT)["dossiers"]["withdrawn"] == 2


def test_a_signed_review_refuses_edits(november, orgtree):
    head, onestop = november["people"]["onestop_head"], orgtree["onestop"]
    reviews.save(onestop, NOVEMBER, comments="Nháp", actions="", actor=head, now=READ_AT)
    reviews.sign(onestop, NOVEMBER, actor=head, now=READ_AT)
    with pytest.raises(Conflict):
        reviews.save(onestop, NOVEMBER, comments="Sửa sau khi ký", actions="", actor=head, now=READ_AT)
    with pytest.raises(Conflict):
        reviews.sign(onestop, NOVEMBER, actor=head, now=READ_AT)
    assert reviews.get_review(onestop, NOVEMBER).comments == "Nháp"


@pytest.mark.parametrize("who", ["culture_head", "onestop", "quality", "leader"])
def test_only_the_department_head_writes_and_signs(november, orgtree, staff, who):
    actor = {**november["people"], "quality": staff["quality"], "leader": staff["leader"]}[who]
    with pytest.raises(Forbidden):
        reviews.sign(orgtree["onestop"], NOVEMBER, actor=actor, now=READ_AT)
    with pytest.raises(Forbidden):
        reviews.save(orgtree["onestop"], NOVEMBER, comments="x", actions="", actor=actor, now=READ_AT)
    assert reviews.get_review(orgtree["onestop"], NOVEMBER) is None


def test_reading_a_review(november, orgtree, staff, make_user):
    onestop = orgtree["onestop"]
    auditor = make_user("danhgia", Role.auditor, department=orgtree["office"])
    admin = make_user("quantri", Role.admin, department=orgtree["office"])
    readers = [november["people"]["onestop_head"], november["people"]["onestop"], staff["quality"],
               staff["leader"], auditor, admin]
    assert all(authz.may(u, "monthly_reviews.view", onestop) for u in readers)
    assert not authz.may(november["people"]["culture_head"], "monthly_reviews.view", onestop)
    assert not authz.may(november["people"]["culture"], "monthly_reviews.view", onestop)
    assert [u.username for u in readers if authz.may(u, "monthly_reviews.sign", onestop)] == ["truongmotcua"]


def test_months_are_checked(november, orgtree):
    head = november["people"]["onestop_head"]
    assert reviews.parse_month("2026-10") == date(2026, 10, 1)
    for bad in ("2026-13", "10/2026", "", "2026-1-1", "abc"):
        with pytest.raises(ValidationError):
            reviews.parse_month(bad)
    with pytest.raises(ValidationError):  # a month to come has nothing to review
        reviews.open_review(orgtree["onestop"], date(2027, 1, 1), actor=head, now=READ_AT)
    with pytest.raises(NotFound):
        reviews.require_month("2027-01", READ_AT)
    with pytest.raises(NotFound):
        reviews.department_by_code("KHONG-CO")


def test_reminders_list_unsigned_ended_months_including_never_opened(november, orgtree):
    head, onestop = november["people"]["onestop_head"], orgtree["onestop"]
    reviews.open_review(onestop, NOVEMBER, actor=head, now=READ_AT)  # opened, not signed
    reviews.sign(onestop, date(2026, 10, 1), actor=head, now=READ_AT)
    items = reviews.reminders(READ_AT, agency=orgtree["ward"])
    pairs = [(i["department"].code, i["month"]) for i in items]
    # Read on 5/12: September, October and November have ended; December has not.
    assert ("A-MC", date(2026, 10, 1)) not in pairs  # signed
    assert ("A-MC", NOVEMBER) in pairs and ("A-VHXH", NOVEMBER) in pairs  # open; never opened
    assert all(month < date(2026, 12, 1) for _code, month in pairs)
    assert len(pairs) == 3 * 3 - 1  # three departments of the ward × three months, less one
    assert next(i for i in items if i["department"].code == "A-VHXH")["review"] is None


def test_leaders_see_every_department_and_the_rankings(november, orgtree):
    head = november["people"]["onestop_head"]
    reviews.sign(orgtree["onestop"], NOVEMBER, actor=head, now=READ_AT)
    view = reviews.overview(NOVEMBER, READ_AT, agency=orgtree["province"])
    status = {r.department.code: r.status for r in view["rows"]}
    assert status == {"TP-TT": "missing", "A-MC": "signed", "A-VHXH": "missing", "A-VP": "missing"}
    assert (view["signed"], view["total"]) == (1, 4)
    rates = {r.department.code: (r.steps_completed, r.steps_on_time_rate) for r in view["rows"]}
    # one-stop: steps 1 and 4 of A B C D, step 4 of L, step 1 of H F I; culture: 4, 2 late;
    # office: 5, 2 late (D, L)
    assert rates["A-VHXH"] == (4, 50.0) and rates["A-VP"] == (5, 60.0) and rates["A-MC"] == (12, 100.0)
    assert [r.department.code for r in view["ranking"]] == ["A-MC", "A-VP", "A-VHXH", "TP-TT"]
    one_stop = next(r for r in view["rows"] if r.department.code == "A-MC")
    assert (one_stop.resolved, one_stop.on_time_rate) == (5, 80.0)
    assert [(r["agency"].code, r["resolved"], r["on_time_rate"]) for r in view["agency_ranking"]] == [
        ("TP-A", 5, 80.0), ("TP", 0, None)]
