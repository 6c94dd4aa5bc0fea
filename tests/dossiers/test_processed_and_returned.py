"""Processed (status 9: the result ready at the one-stop office) and returned (status 10:
the applicant got it) are two moments (issue 11 §1). The national rule classifies a
dossier on the first: a citizen who collects a week late does not make the office late,
in any figure, page or report, and raises no nonconformity."""
import re
from datetime import date

import pytest
import sqlalchemy as sa

from qms.errors import Conflict, Forbidden
from qms.extensions import db
from qms.models import AuditLog, DossierStatus, Nonconformity, ResultDelivery, Timeliness
from qms.services import dossiers, metrics, nonconformities, register
from qms.services import management_reviews as reviews
from tests.conftest import browser_as, post_form
from tests.dossiers.conftest import at
from tests.web.conftest import table_rows, text


def worked(dossier, desk, orgtree, when):
    """Every step of the birth registration completed at `when`: the result is ready."""
    hands = [(desk["onestop"], orgtree["culture"]), (desk["culture"], orgtree["office"]),
             (desk["office"], None), (desk["onestop"], None)]
    for actor, next_department in hands:
        dossiers.complete_step(dossier.current_step(), actor=actor, now=when, next_department=next_department)
    return dossier


@pytest.fixture
def collected_late(three_days, desk, orgtree):
    """Received Wednesday 25/11/2026 07:00, due Friday 27/11 17:00; the result ready on
    the due date, collected by the applicant a week later (Friday 4/12)."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Lê Văn Chậm", now=at(2026, 11, 25, 7, 0))
    assert dossier.due_at == at(2026, 11, 27, 17, 0)
    worked(dossier, desk, orgtree, at(2026, 11, 27, 16, 0))
    db.session.commit()
    assert nonconformities.check_overdue(at(2026, 12, 3, 9, 0)) == []  # waiting is not lateness
    dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.desk, now=at(2026, 12, 4, 9, 0))
    db.session.commit()
    return dossier


def test_the_last_step_makes_the_result_ready_and_the_return_is_recorded_apart(collected_late):
    dossier = collected_late
    assert dossier.status is DossierStatus.returned
    assert (dossier.processed_at, dossier.returned_at, dossier.returned_via) == (
        at(2026, 11, 27, 16, 0), at(2026, 12, 4, 9, 0), ResultDelivery.desk)
    assert dossiers.timeliness(dossier) is Timeliness.on_time
    assert register.timeliness_of(dossier) == "on_time"
    assert dossier.events[-1].kind.value == "result_returned"
    audit = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_type == "dossier",
                                                         AuditLog.entity_id == dossier.id)).all()
    assert any((row.changes or {}).get("returned_via") for row in audit)  # who and when: the row


def test_a_late_collection_counts_on_time_in_every_figure(collected_late, orgtree):
    scope = metrics.Scope.of_department(orgtree["onestop"])
    november = metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), at(2026, 12, 7, 9, 0))
    assert (november["resolved"], november["on_time"], november["late"], november["in_progress"]) == (1, 1, 0, 0)
    assert november["on_time_rate"] == 100.0
    december = metrics.dossier_metrics(scope, date(2026, 12, 1), date(2027, 1, 1), at(2026, 12, 7, 9, 0))
    assert (december["resolved"], december["late"], december["carried_over"]) == (0, 0, 0)
    assert metrics.late_dossiers(scope, date(2026, 11, 1), date(2026, 12, 1), at(2026, 12, 7, 9, 0)).total == 0
    series = metrics.monthly_series(scope, 2, at(2026, 12, 7, 9, 0), ["resolved", "late", "on_time_rate"])
    assert series["series"] == {"resolved": [1, 0], "late": [0, 0], "on_time_rate": [100.0, None]}
    inputs = reviews.gather_inputs(orgtree["ward"], date(2026, 11, 1), date(2026, 11, 30), now=at(2026, 12, 7))
    d = inputs["dossiers"]
    assert (d["resolved"], d["on_time"], d["late"], d["on_time_rate"]) == (1, 1, 0, 1.0)
    # (its steps, all done at the last moment, were late: theirs are raised, not the dossier's)
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id)).where(
        Nonconformity.origin_key == f"dossier:{collected_late.id}")) == 0


def test_the_register_filters_and_shows_both_moments(app, collected_late):
    browser = browser_as(app, "motcua")
    (row,) = table_rows(browser.get("/dossiers/register?timeliness=on_time"), "register")
    assert row[1] == collected_late.code
    assert row[6:8] == ["27/11/2026 16:00", "04/12/2026 09:00"]
    assert "Đúng hạn" in row[8]
    assert table_rows(browser.get("/dossiers/register?timeliness=late"), "register")[0][0] == "Không có hồ sơ nào."


def test_processing_finished_late_raises_its_nonconformity_once(three_days, desk, orgtree):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Trần Muộn", now=at(2026, 11, 25, 7, 0))
    worked(dossier, desk, orgtree, at(2026, 11, 30, 9, 0))  # after Friday 27/11
    assert dossier.status is DossierStatus.processed and dossiers.timeliness(dossier) is Timeliness.late
    raised = db.session.scalars(sa.select(Nonconformity).where(Nonconformity.dossier_id == dossier.id)).all()
    assert len([nc for nc in raised if nc.origin_key == f"dossier:{dossier.id}"]) == 1
    before = db.session.scalar(sa.select(sa.func.count(Nonconformity.id)))
    dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.postal, now=at(2026, 12, 1, 9, 0))
    assert nonconformities.check_overdue(at(2026, 12, 2, 9, 0)) == []
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == before


def test_the_return_is_the_desks_once_the_result_is_ready(three_days, desk, orgtree):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Phạm Chờ", now=at(2026, 11, 25, 7, 0))
    with pytest.raises(Conflict, match="Đã tiếp nhận"):  # not processed yet
        dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.desk, now=at(2026, 11, 25, 8, 0))
    worked(dossier, desk, orgtree, at(2026, 11, 26, 9, 0))
    with pytest.raises(Forbidden, match="Chỉ Bộ phận một cửa trả kết quả"):
        dossiers.return_result(dossier, actor=desk["culture"], via=ResultDelivery.desk, now=at(2026, 11, 26, 10, 0))
    dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.online, now=at(2026, 11, 26, 10, 0),
                           note="Gửi bản điện tử qua Cổng DVC")
    assert dossier.events[-1].reason == "Gửi bản điện tử qua Cổng DVC"
    with pytest.raises(Conflict, match="Đã trả kết quả"):  # once
        dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.desk, now=at(2026, 11, 27, 9, 0))
    assert (dossier.returned_at, dossier.returned_via) == (at(2026, 11, 26, 10, 0), ResultDelivery.online)


def test_the_citizen_is_told_the_result_is_ready(client, three_days, desk, orgtree):
    dossier, secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                               applicant_name="Vũ Đợi", now=at(2026, 11, 25, 7, 0))
    worked(dossier, desk, orgtree, at(2026, 11, 26, 9, 0))
    db.session.commit()
    page = " ".join(re.sub(r"<[^>]+>", " ", text(post_form(client, "/tra-cuu", {
        "code": dossier.code, "secret": secret}))).split())
    assert "Đã giải quyết xong" in page and "Có kết quả từ 26/11/2026 09:00" in page
    assert "Mời ông/bà nhận kết quả tại Bộ phận một cửa" in page
