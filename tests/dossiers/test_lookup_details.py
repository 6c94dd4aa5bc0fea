"""What the citizen's lookup and the queue say while a dossier waits and after it ends
(issue 15, items 10 and 12): the supplementation asked for, how the result was returned, and
the new date an apology promised."""
from __future__ import annotations

from qms import clock
from qms.extensions import db
from qms.models import ResultDelivery, Role
from qms.services import dossiers
from tests.conftest import browser_as, post_form
from tests.dossiers.conftest import at
from tests.web.conftest import text


def look_up(app, code: str, secret: str) -> str:
    return text(post_form(app.test_client(), "/tra-cuu", {"code": code, "secret": secret}))


def test_a_paused_dossier_says_what_the_citizen_must_bring(app, three_days, desk):
    dossier, secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                               applicant_name="Phan Văn Phú", now=at(2026, 11, 25, 8, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 25, 8, 30),
                           next_department=desk["culture"].department)
    dossiers.request_supplement(dossier, actor=desk["culture"], reason="Bản chính Giấy chứng sinh",
                                now=at(2026, 11, 25, 10, 0))
    db.session.commit()
    page = look_up(app, dossier.code, secret)
    assert "Yêu cầu bổ sung, hoàn thiện hồ sơ" in page and "Bản chính Giấy chứng sinh" in page
    assert "từ 25/11/2026 10:00" in page and "Bộ phận một cửa" in page
    dossiers.receive_supplement(dossier, actor=desk["onestop"], now=at(2026, 11, 26, 8, 0))
    db.session.commit()
    assert "Bản chính Giấy chứng sinh" not in look_up(app, dossier.code, secret)  # running again


def test_a_returned_dossier_says_how_it_was_returned(app, three_days, desk, orgtree):
    dossier, secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                               applicant_name="An Thị Anh", now=at(2026, 11, 16, 8, 0))
    nexts = {1: orgtree["culture"], 2: orgtree["office"]}
    who = {1: desk["onestop"], 2: desk["culture"], 3: desk["office"], 4: desk["onestop"]}
    for position in range(1, 5):
        dossiers.complete_step(dossier.steps[position - 1], actor=who[position], next_department=nexts.get(position),
                               now=at(2026, 11, 16, 8, 10 * position))
    dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.postal, now=at(2026, 11, 17, 9, 0))
    db.session.commit()
    page = look_up(app, dossier.code, secret)
    assert "17/11/2026 09:00 · " + ResultDelivery.postal.label in page


def test_the_queue_shows_the_date_an_apology_promised(app, three_days, desk, orgtree, make_user):
    head = make_user("truongvanhoa", Role.department_head, department=orgtree["culture"])
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Cao Thị Cúc", now=at(2026, 11, 17, 8, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 17, 8, 30),
                           next_department=orgtree["culture"])
    dossiers.apologise(dossier, actor=head, reason="Chờ xác minh", promised_at=at(2026, 11, 25, 17, 0),
                       now=at(2026, 11, 19, 9, 0))
    db.session.commit()
    with clock.frozen(at(2026, 11, 19, 10, 0)):
        queue = text(browser_as(app, "vanhoa").get("/dossiers/queue"))
    assert dossier.code in queue and "Hẹn lại: 25/11/2026 17:00" in queue
    assert "20/11/2026" in queue  # the legal due date stays beside it
