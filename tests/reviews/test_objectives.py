"""Quality objectives page: the quality officer sets and retires them; everyone reads them
with their measure year to date and whether each is met."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from qms import clock
from qms.extensions import db
from qms.models import AuditLog, ObjectiveComparison, QualityObjective, Role
from tests.conftest import login, post_form
from tests.reviews.dataset import READ_AT
from tests.web.conftest import table_rows, text

PAGE = "/reviews/objectives"


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen(READ_AT):  # Saturday 5/12/2026
        yield


@pytest.fixture
def browser(app):
    def make(username):
        client = app.test_client()
        assert login(client, username).status_code == 302
        return client
    return make


def form(orgtree, **changes) -> dict:
    data = {"agency_id": str(orgtree["ward"].id), "department_id": "0", "year": "2026",
            "title": "Giải quyết đúng hạn ≥ 95 %", "indicator": "on_time_rate",
            "comparison": "at_least", "target": "95"}
    return {**data, **changes}


def objectives() -> list[QualityObjective]:
    return db.session.scalars(sa.select(QualityObjective).order_by(QualityObjective.id)).all()


def test_quality_officer_sets_an_objective_and_it_is_audited(browser, staff, orgtree):
    client = browser("quality")
    response = post_form(client, PAGE, form(orgtree, department_id=str(orgtree["onestop"].id)))
    assert response.status_code == 302 and response.location.endswith("/reviews/objectives?year=2026")
    [objective] = objectives()
    assert (objective.agency, objective.department, objective.year, objective.indicator,
            objective.comparison, objective.target, objective.active) == (
        orgtree["ward"], orgtree["onestop"], 2026, "on_time_rate", ObjectiveComparison.at_least, 95, True)
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "quality_objective.created",
                                                       AuditLog.entity_id == objective.id)).one()
    assert row.actor_id == staff["quality"].id
    page = client.get(PAGE + "?year=2026")
    assert table_rows(page, "objectives")[0][:4] == [
        "Giải quyết đúng hạn ≥ 95 %", "Bộ phận một cửa",
        "Tỷ lệ giải quyết đúng hạn (trước và đúng hạn)", "≥ 95,00 %"]


@pytest.mark.parametrize("changes, message", [
    ({"indicator": "so_ca_phe"}, "Chỉ số không hợp lệ"),
    ({"target": "150"}, "Chỉ tiêu của chỉ số này phải từ 0 đến 100."),
    ({"indicator": "progress_766", "target": "25"}, "Chỉ tiêu của chỉ số này phải từ 0 đến 20."),
    ({"target": "-1"}, "Chỉ tiêu của chỉ số này phải từ 0 đến 100."),
    ({"indicator": "received", "target": "-5"}, "Chỉ tiêu phải là một số không âm."),
    ({"title": "   "}, "Nội dung mục tiêu"),
])
def test_bad_input_is_explained_on_the_page_and_nothing_is_saved(browser, staff, orgtree, changes, message):
    response = post_form(browser("quality"), PAGE, form(orgtree, **changes))
    assert response.status_code == 400
    assert message in text(response) and "Traceback" not in text(response)
    assert 'id="objective-form"' in text(response)  # the form is there to correct
    assert objectives() == []


def test_a_department_of_another_agency_is_refused(browser, staff, orgtree):
    response = post_form(browser("quality"), PAGE,
                         form(orgtree, department_id=str(orgtree["centre"].id)))
    assert response.status_code == 400
    assert "Phòng ban Trung tâm PVHCC không thuộc Phường An Hòa." in text(response)
    assert objectives() == []


def test_only_the_quality_officer_sets_or_retires(browser, staff, desk, orgtree, make_user):
    objective = QualityObjective(agency=orgtree["ward"], year=2026, title="Đúng hạn", indicator="on_time_rate",
                                 comparison=ObjectiveComparison.at_least, target=95)
    db.session.add(objective)
    db.session.commit()
    make_user("truongphong", Role.department_head, department=orgtree["onestop"])
    for who in ("leader", "motcua", "truongphong"):
        client = browser(who)
        page = client.get(PAGE)
        assert page.status_code == 200 and "Đúng hạn" in text(page)
        assert 'id="objective-form"' not in text(page) and "Thôi áp dụng" not in text(page)
        assert post_form(client, PAGE, form(orgtree), token_from=PAGE).status_code == 403, who
        assert post_form(client, f"{PAGE}/{objective.id}/retire", {}, token_from=PAGE).status_code == 403
    assert [(o.title, o.active) for o in objectives()] == [("Đúng hạn", True)]


def test_retiring_keeps_the_row_and_hides_it(browser, staff, orgtree):
    client = browser("quality")
    assert post_form(client, PAGE, form(orgtree)).status_code == 302
    [objective] = objectives()
    response = post_form(client, f"{PAGE}/{objective.id}/retire", {}, token_from=PAGE)
    assert response.status_code == 302
    db.session.expire_all()
    assert [(o.id, o.active) for o in objectives()] == [(objective.id, False)]
    assert db.session.scalar(sa.select(AuditLog.actor_id).where(
        AuditLog.action == "quality_objective.updated", AuditLog.entity_id == objective.id)) == staff["quality"].id
    assert table_rows(client.get(PAGE), "objectives") == [["Chưa có mục tiêu chất lượng cho năm này."]]
    # retiring twice is explained, not a crash
    again = post_form(client, f"{PAGE}/{objective.id}/retire", {}, token_from=PAGE)
    assert again.status_code == 302
    assert "Mục tiêu này đã thôi áp dụng." in text(client.get(PAGE))
    assert post_form(client, f"{PAGE}/987654/retire", {}, token_from=PAGE).status_code == 404


def test_measured_year_to_date_and_judged(browser, november, staff, orgtree):
    """The hand-built November (tests/reviews/dataset.py): in 2026, 5 dossiers resolved at
    the ward's one-stop office, 1 early, 3 on time, 1 late."""
    client = browser("quality")
    for data in (form(orgtree),  # the ward: 80 % on time, target 95 → not met
                 form(orgtree, department_id=str(orgtree["onestop"].id), title="Quá hạn ≤ 25 %",
                      indicator="late_rate", comparison="at_most", target="25"),  # 20 % → met
                 form(orgtree, department_id=str(orgtree["culture"].id), title="Phòng chưa có hồ sơ",
                      indicator="on_time_rate", target="90"),  # nothing received there
                 form(orgtree, year="2025", title="Năm trước")):
        assert post_form(client, PAGE, data).status_code == 302
    rows = table_rows(browser("motcua").get(PAGE), "objectives")
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [
        ("Giải quyết đúng hạn ≥ 95 %", "Phường An Hòa", "80,00", "Không đạt"),
        ("Quá hạn ≤ 25 %", "Bộ phận một cửa", "20,00", "Đạt"),
        ("Phòng chưa có hồ sơ", "Phòng Văn hóa - Xã hội", "—", "Chưa có số liệu"),
    ]
    assert [r[0] for r in table_rows(client.get(PAGE + "?year=2025"), "objectives")] == ["Năm trước"]


def test_a_bad_year_is_explained(browser, staff):
    response = browser("quality").get(PAGE + "?year=abc")
    assert response.status_code == 400 and "Năm không hợp lệ: abc." in text(response)


def test_the_monthly_review_page_links_here(browser, staff):
    page = text(browser("leader").get("/reviews/monthly"))
    assert 'id="objectives-link" href="/reviews/objectives"' in page
