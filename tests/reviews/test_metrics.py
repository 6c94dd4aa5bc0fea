"""The metric definitions on a hand-built month with known answers (tests/reviews/dataset.py)."""
from __future__ import annotations

from datetime import date

import pytest

from qms.extensions import db
from qms.models import AgencyLevel, Department, ObjectiveComparison, QualityObjective
from qms.services import metrics, org
from tests.reviews.dataset import READ_AT, at

NOVEMBER = (date(2026, 11, 1), date(2026, 12, 1))


def figures(department, now=READ_AT):
    return metrics.dossier_metrics(metrics.Scope.of_department(department), *NOVEMBER, now)


def test_every_dossier_figure_of_the_month(november, orgtree):
    d = november["dossiers"]
    # the holiday moved D's due date from Wednesday 25/11 to Thursday 26/11
    assert d["D"].due_at == at(26, 11, 9)
    assert figures(orgtree["onestop"]) == {
        "received": 8, "received_direct": 6, "received_online": 1, "received_postal": 1,
        "refused": 1, "carried_over": 1,
        "resolved": 5, "early": 1, "on_time": 3, "late": 1,
        "in_progress": 2, "in_progress_within": 1, "in_progress_overdue": 1,
        "paused": 1, "paused_supplement": 1, "paused_payment": 0, "paused_other": 0, "withdrawn": 1, "stopped": 0,
        "apologies": 1, "late_with_apology": 1, "ratings": 3, "satisfied": 2,
        "on_time_rate": 80.0, "late_rate": 20.0,
        "progress_766": 14.29,  # (1 early + 3 on time + 1 within) / (5 resolved + 2 in progress) × 20
        "online_rate": 12.5, "postal_rate": 12.5, "apologies_per_late": 1.0,
        "satisfaction_rate": 66.67,
    }


def test_a_closed_month_does_not_drift_as_its_dossiers_move_on(november, orgtree):
    """H, overdue at the end of November, waits for the fee in December: resuming moves its
    due time by the pause (8 working hours), yet November still counts it overdue (its due
    time as it stood)."""
    from qms.services import dossiers

    before = figures(orgtree["onestop"])
    h, culture = november["dossiers"]["H"], november["people"]["culture"]
    dossiers.request_payment(h, actor=culture, reason="Nộp lệ phí", now=at(2, 12, 9))
    dossiers.receive_payment(h, actor=culture, now=at(3, 12, 9))
    # Due 27/11 09:00 and 25 working hours over when the fee was asked for (2/12 09:00): the
    # overrun counted back from the payment (3/12 09:00) is 30/11 08:00, its old due time
    # plus the 8 working hours of the pause. It stays late (issue 11 §3).
    assert h.due_at == at(30, 11, 8)
    assert figures(orgtree["onestop"]) == before
    december = metrics.dossier_metrics(metrics.Scope.of_department(orgtree["onestop"]),
                                       date(2026, 12, 1), date(2027, 1, 1), READ_AT)
    # read on 5/12: F (supplemented 2/12, due again 7/12) within; H (due again 30/11 08:00),
    # I (due 3/12) and December's own dossier (due 4/12) overdue
    assert (december["in_progress_within"], december["in_progress_overdue"]) == (1, 3)
    assert (december["received"], december["carried_over"], december["paused"]) == (1, 3, 0)


def test_the_month_balances(november, orgtree):
    f = figures(orgtree["onestop"])
    assert f["carried_over"] + f["received"] == (f["resolved"] + f["withdrawn"] + f["stopped"]
                                                 + f["in_progress"] + f["paused"])


def test_the_timestamp_rule_is_stricter(november, orgtree, app):
    app.config["TIMELINESS_RULE"] = "timestamp"
    try:
        f = figures(orgtree["onestop"])
    finally:
        app.config["TIMELINESS_RULE"] = "date"
    # B (16:00 on its due date, due 09:00) and L (10:00, due 08:00) become late; D (08:30,
    # due 09:00) stays on time; A stays early
    assert (f["early"], f["on_time"], f["late"]) == (1, 1, 3)
    assert f["on_time_rate"] == 40.0 and f["progress_766"] == round(3 / 7 * 20, 2)


def test_read_during_the_month_the_open_dossiers_are_those_open_then(november, orgtree):
    """At Wed 25/11 12:00: D (due 26/11) and H (due 27/11) are within their limits, F is
    paused, I not yet received; D not yet returned."""
    f = figures(orgtree["onestop"], now=at(25, 11, 12))
    assert (f["received"], f["refused"], f["withdrawn"]) == (7, 1, 1)
    assert (f["resolved"], f["early"], f["on_time"], f["late"]) == (4, 1, 2, 1)  # L A B C
    assert (f["in_progress_within"], f["in_progress_overdue"], f["paused"]) == (2, 0, 1)
    assert f["progress_766"] == round((1 + 2 + 2) / (4 + 2) * 20, 2)


def test_a_late_step_in_an_on_time_dossier_shows_in_the_step_figures(november, orgtree):
    scope = metrics.Scope.of_department(orgtree["culture"])
    steps = metrics.step_metrics(scope, *NOVEMBER, READ_AT)
    assert len(steps["rows"]) == 1
    row = steps["rows"][0]
    # A, B, C, D completed their review in November (L's was in October); B's and C's late;
    # H's and I's still open past due at the month's end; F's paused, so not overdue.
    assert (row["procedure_code"], row["position"], row["name"]) == (
        "1.001193", 2, "Thẩm tra, dự thảo giấy khai sinh")
    assert (row["completed"], row["late"], row["overdue_open"], row["on_time_rate"]) == (4, 2, 2, 50.0)
    assert steps["totals"]["late"] == 2
    # the culture department received no dossier: its dossier figures are empty
    assert metrics.dossier_metrics(scope, *NOVEMBER, READ_AT)["received"] == 0


def test_the_steps_causing_lateness_come_first(november, orgtree):
    scope = metrics.Scope.of_agency(orgtree["ward"])
    rows = metrics.step_metrics(scope, *NOVEMBER, READ_AT)["rows"]
    assert [r["position"] for r in rows][:2] == [2, 3]  # culture: 2 late; office: 2 late (D, L)
    assert [r["late"] for r in rows] == [2, 2, 0, 0]
    assert rows[1]["name"] == "Ký giấy khai sinh" and rows[1]["completed"] == 5


def test_late_dossiers_and_late_steps_are_listed(november, orgtree):
    d = november["dossiers"]
    scope = metrics.Scope.of_department(orgtree["onestop"])
    page = metrics.late_dossiers(scope, *NOVEMBER, READ_AT)
    assert [(i["code"], i["state"]) for i in page.items] == [(d["C"].code, "late"), (d["H"].code, "overdue")]
    assert page.total == 2
    culture = metrics.Scope.of_department(orgtree["culture"])
    steps = metrics.overdue_steps(culture, *NOVEMBER, READ_AT, per_page=3)
    assert steps.total == 4 and steps.pages == 2 and len(steps.items) == 3
    everything = metrics.overdue_steps(culture, *NOVEMBER, READ_AT).items
    assert sorted((i["code"], i["state"]) for i in everything) == sorted([
        (d["B"].code, "late"), (d["C"].code, "late"), (d["H"].code, "overdue"), (d["I"].code, "overdue")])


def test_an_agency_rolls_up_its_sub_agencies(november, orgtree):
    """The province holds the ward: its figures include the ward's; a second ward adds its own."""
    second = org.save_agency(None, actor=None, code="TP-B", name="Phường Bình An",
                             level=AgencyLevel.commune, parent=orgtree["province"],
                             effective_from=date(2025, 7, 1))
    db.session.flush()
    assert set(metrics.agency_tree_ids(orgtree["province"].id)) == {
        orgtree["province"].id, orgtree["ward"].id, second.id}
    province = metrics.dossier_metrics(metrics.Scope.of_agency(orgtree["province"]), *NOVEMBER, READ_AT)
    ward = metrics.dossier_metrics(metrics.Scope.of_agency(orgtree["ward"]), *NOVEMBER, READ_AT)
    alone = metrics.dossier_metrics(metrics.Scope.of_agency(orgtree["province"], sub_agencies=False),
                                    *NOVEMBER, READ_AT)
    assert province == ward == figures(orgtree["onestop"])
    assert alone["received"] == 0 and alone["on_time_rate"] is None
    # steps of every department of the tree
    assert metrics.step_metrics(metrics.Scope.of_agency(orgtree["province"]), *NOVEMBER,
                                READ_AT)["totals"]["late"] == 4


def test_objectives_are_measured_and_judged(november, orgtree, staff):
    ward, onestop = orgtree["ward"], orgtree["onestop"]
    db.session.add_all([
        QualityObjective(agency=ward, year=2026, title="Đúng hạn ≥ 95 %", indicator="on_time_rate",
                         comparison=ObjectiveComparison.at_least, target=95),
        QualityObjective(agency=ward, department=onestop, year=2026, title="Trực tuyến ≥ 10 %",
                         indicator="online_rate", comparison=ObjectiveComparison.at_least, target=10),
        QualityObjective(agency=ward, department=orgtree["culture"], year=2026, title="Khác phòng",
                         indicator="online_rate", comparison=ObjectiveComparison.at_least, target=10),
        QualityObjective(agency=ward, year=2025, title="Năm trước", indicator="online_rate",
                         comparison=ObjectiveComparison.at_least, target=10),
    ])
    db.session.flush()
    result = metrics.objectives(metrics.Scope.of_department(onestop), 2026, READ_AT, end=NOVEMBER[1])
    assert [(o["title"], o["measured"], o["met"], o["scope"]) for o in result] == [
        ("Trực tuyến ≥ 10 %", 11.11, True, "department"),  # since 1 January: L too (1 in 9)
        ("Đúng hạn ≥ 95 %", 80.0, False, "agency")]


def test_twelve_months_in_a_few_grouped_queries(november, orgtree, app):
    from sqlalchemy import event

    scope = metrics.Scope.of_department(orgtree["onestop"])
    statements = []
    listener = lambda *args: statements.append(1)  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        series = metrics.monthly_series(scope, 12, READ_AT)
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(statements) <= 12  # not 12 months × N indicators
    assert series["months"][-3:] == ["2026-10", "2026-11", "2026-12"] and len(series["months"]) == 12
    november_index = series["months"].index("2026-11")
    f = figures(orgtree["onestop"])
    for key in ("received", "resolved", "early", "on_time", "late", "in_progress", "paused",
                "on_time_rate", "progress_766", "online_rate", "satisfaction_rate", "apologies"):
        assert series["series"][key][november_index] == f[key], key
    october = series["months"].index("2026-10")
    assert series["series"]["received"][october] == 1
    assert series["series"]["in_progress"][october] == 1  # L, open at the end of October


def test_quality_figures_count_by_department_and_age(orgtree, staff):
    from qms.models import NcStatus, Severity
    from qms.services import corrective_actions, nonconformities

    office = orgtree["office"]

    def nc(when):
        return nonconformities.raise_nonconformity(actor=staff["quality"], department=office,
                                                   description="Thiếu chữ ký", severity=Severity.minor,
                                                   now=when)

    old = nc(at(1, 7))  # > 90 days at 30/11
    nc(at(15, 9)), nc(at(10, 11))  # 31–90 days; ≤ 30 days
    rejected = nc(at(12, 11))
    nonconformities.transition(rejected, "reject", actor=staff["quality"], now=at(13, 11), reason="Trùng")
    closed_later = nc(at(5, 11))
    closed_later.status, closed_later.closed_at = NcStatus.closed, at(3, 12)
    db.session.flush()
    head = staff["head"]
    head.department = office
    car = corrective_actions.open_car([old], owner=None, actor=head, now=at(2, 7))
    car.check_date = date(2026, 11, 20)
    db.session.flush()
    q = metrics.quality_metrics(metrics.Scope.of_department(office), *NOVEMBER, READ_AT)
    assert (q["nc_opened"], q["nc_closed"], q["nc_rejected"]) == (2, 0, 1)
    assert q["nc_open"] == 4  # closed_later was still open on 30/11
    assert (q["nc_open_30"], q["nc_open_90"], q["nc_open_older"]) == (2, 1, 1)
    assert (q["cars_open"], q["cars_overdue"]) == (1, 1)
    other = metrics.quality_metrics(metrics.Scope.of_department(orgtree["culture"]), *NOVEMBER, READ_AT)
    assert other["nc_open"] == 0 and other["cars_open"] == 0


@pytest.mark.parametrize("month,expected", [(date(2026, 12, 1), (date(2026, 12, 1), date(2027, 1, 1))),
                                            (date(2026, 2, 15), (date(2026, 2, 1), date(2026, 3, 1)))])
def test_month_bounds(month, expected):
    assert metrics.month_bounds(month) == expected


def test_unknown_scope_objects_are_refused():
    with pytest.raises(TypeError):
        metrics.scope_of(Department)


def test_feedback_handled_on_time_feeds_the_quality_figures(orgtree):
    """Complaints and recommendations answered by the department in the month, how many by
    their deadline, and those past their deadline still unanswered at the month's end."""
    from qms.models import Feedback, FeedbackKind, FeedbackStatus

    office, ward = orgtree["office"], orgtree["ward"]

    def feedback(n, received, due, responded=None, department=office):
        db.session.add(Feedback(
            code=f"PAKN-2026-{n:04d}", kind=FeedbackKind.complaint, agency=ward, name="Công dân",
            content="Chậm trả kết quả", received_at=received, due_at=due, department=department,
            status=FeedbackStatus.answered if responded else FeedbackStatus.assigned,
            responded_at=responded, response="Đã trả lời" if responded else ""))

    feedback(1, at(2, 11), at(16, 11), responded=at(10, 11))  # answered on time
    feedback(2, at(3, 11), at(17, 11), responded=at(20, 11))  # answered late
    feedback(3, at(4, 11), at(18, 11))  # unanswered past its deadline at the month's end
    feedback(4, at(1, 10), at(15, 10), responded=at(10, 10))  # October: not this month
    feedback(5, at(2, 11), at(16, 11), responded=at(10, 11), department=orgtree["culture"])
    feedback(6, at(25, 11), at(9, 12))  # open, not yet due on 30/11
    db.session.flush()
    q = metrics.quality_metrics(metrics.Scope.of_department(office), *NOVEMBER, READ_AT)
    assert (q["feedback_handled"], q["feedback_on_time"], q["feedback_overdue"]) == (2, 1, 1)
    assert q["feedback_on_time_rate"] == 50.0
    assert metrics.indicator_values(metrics.Scope.of_department(office), *NOVEMBER, READ_AT,
                                    ["feedback_on_time_rate"]) == {"feedback_on_time_rate": 50.0}
