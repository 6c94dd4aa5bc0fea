"""Dossiers submitted online (issue 11): registered with their national code (status 1),
waiting in the desk's intake queue, accepted (status 2, the time limit runs from then) or
refused with the reasons (status 3); the code is never replaced, from intake to the
monthly report."""
import re
from datetime import date, timedelta

import pytest

from qms import clock
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import Channel, Dossier, DossierStatus, EventKind
from qms.services import dossiers, metrics
from tests.api.conftest import WEDNESDAY
from tests.conftest import browser_as, post_form
from tests.web.conftest import table_rows, text

CODE = "G22.38-261125-0007"
ONLINE = {"code": CODE, "procedure_code": "1.001193", "registered_at": "2026-11-24T21:15:00+07:00",
          "applicant": {"name": "Trịnh Thị Mạng", "phone": "0987654321"},
          "components": ["Tờ khai đăng ký khai sinh"]}


@pytest.fixture
def registered(api, in_force):
    response = api("onestop").post("/online-dossiers", json=ONLINE)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def dossier_with(code: str) -> Dossier:
    db.session.expire_all()
    return db.session.query(Dossier).filter_by(code=code).one()


def test_a_registered_dossier_keeps_its_code_and_waits_at_the_desk(app, api, registered):
    assert registered["code"] == CODE and len(registered["lookup_secret"]) == 8
    assert registered["status"] == {"code": "registered", "national_code": 1, "label": "Đã đăng ký"}
    assert registered["channel"]["code"] == "online"
    assert (registered["registered_at"], registered["steps"], registered["current_step"]) == (
        "2026-11-24T21:15:00+07:00", [], None)
    assert api("onestop").get("/queue").json["items"] == []  # nothing to work yet
    desk = browser_as(app, "motcua")
    (row,) = table_rows(desk.get("/dossiers/intake"), "intake")
    assert row[0] == CODE and "Trịnh Thị Mạng" in row[2] and row[3] == "24/11/2026 21:15"
    assert browser_as(app, "vanhoa").get("/dossiers/intake").status_code == 403
    # The citizen already looks it up with the portal's code and secret.
    page = text(post_form(app.test_client(), "/tra-cuu", {"code": CODE, "secret": registered["lookup_secret"]}))
    assert "Đã đăng ký" in page


@pytest.mark.parametrize("code,status,message", [
    ("g22.38-261125-0007", 422, "mã quốc gia gồm chữ in hoa"),
    ("G22 38", 422, "không hợp lệ"),
    (CODE, 409, "đã được đăng ký"),
])
def test_a_code_is_the_national_one_and_unique(api, registered, code, status, message):
    response = api("onestop").post("/online-dossiers", json={**ONLINE, "code": code})
    assert response.status_code == status and message in response.json["error"]["message"]


def test_the_api_names_every_bad_field(api, in_force):
    response = api("onestop").post("/online-dossiers", json={
        "procedure_code": "1.001193", "applicant": {"name": "A"}, "registered_at": "hôm qua", "channel": "direct"})
    assert response.status_code == 422
    assert {e["field"] for e in response.json["error"]["errors"]} == {"code", "registered_at", "channel"}


def test_the_desk_accepts_it_and_the_time_limit_runs_from_then(app, registered, orgtree):
    desk = browser_as(app, "motcua")
    with clock.frozen(WEDNESDAY + timedelta(hours=1)):  # 10:00 on Wednesday 25/11
        response = post_form(desk, f"/dossiers/{CODE}/accept", {}, token_from="/dossiers/intake")
        assert response.status_code == 302
        page = text(desk.get("/dossiers/intake"))
    assert f"Đã tiếp nhận hồ sơ {CODE}; hẹn trả kết quả 25/11/2026 17:00." in page  # same day
    dossier = dossier_with(CODE)
    assert (dossier.code, dossier.status, dossier.channel) == (CODE, DossierStatus.received, Channel.online)
    assert dossier.received_at == WEDNESDAY + timedelta(hours=1)
    assert dossier.steps[0].handed_over_at == dossier.received_at and dossier.steps[0].department == orgtree["onestop"]
    assert [e.kind for e in dossier.events] == [EventKind.accepted]
    # Accepted once: the second click is refused, the queue is empty.
    assert table_rows(desk.get("/dossiers/intake"), "intake")[0][0].startswith("Không có hồ sơ")
    with pytest.raises(Conflict):
        dossiers.accept_online(dossier, actor=dossier.received_by, now=WEDNESDAY + timedelta(hours=2))


def test_the_desk_refuses_it_with_the_reasons(app, registered):
    desk = browser_as(app, "motcua")
    post_form(desk, f"/dossiers/{CODE}/refuse-online", {"reasons": ""}, token_from="/dossiers/intake")
    assert dossier_with(CODE).status is DossierStatus.registered  # a reason is required
    post_form(desk, f"/dossiers/{CODE}/refuse-online",
              {"reasons": "Không thuộc thẩm quyền\nThiếu giấy chứng sinh"}, token_from="/dossiers/intake")
    dossier = dossier_with(CODE)
    assert dossier.status is DossierStatus.not_accepted and dossier.code == CODE
    assert dossier.events[-1].reason == "Không thuộc thẩm quyền\nThiếu giấy chứng sinh"
    slip = desk.get(f"/dossiers/{CODE}/refusal.pdf")
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"


def test_only_the_receiving_desk_decides(registered, desk, make_user, orgtree):
    dossier = dossier_with(CODE)
    for outsider in (desk["culture"], desk["centre"]):
        with pytest.raises(Forbidden):
            dossiers.accept_online(dossier, actor=outsider, now=WEDNESDAY)
    with pytest.raises(ValidationError):
        dossiers.refuse_online(dossier, actor=desk["onestop"], reasons="  ", now=WEDNESDAY)


def test_the_national_code_runs_through_to_the_monthly_figures(app, registered, desk, orgtree):
    dossier = dossier_with(CODE)
    dossiers.accept_online(dossier, actor=desk["onestop"], now=WEDNESDAY)
    scope = metrics.Scope.of_department(orgtree["onestop"])
    read_at = WEDNESDAY + timedelta(days=10)
    # Registered on 24/11, received on 25/11: one received (online), none refused, overdue now.
    figures = metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), read_at)
    assert (figures["received"], figures["received_online"], figures["in_progress_overdue"]) == (1, 1, 1)
    late = metrics.late_dossiers(scope, date(2026, 11, 1), date(2026, 12, 1), read_at)
    assert [item["code"] for item in late.items] == [CODE]
    db.session.commit()
    register = text(browser_as(app, "motcua").get("/dossiers/register"))
    assert re.search(rf"<code>{re.escape(CODE)}</code>", register)


def test_the_portal_names_the_case(api, in_force, staff):
    from tests.documents.conftest import approve_version, birth_data
    from tests.documents.test_procedure_cases import VERIFICATION

    approve_version(in_force, staff, birth_data(cases=[VERIFICATION]), effective_date=date(2026, 11, 23))
    body = {"procedure_code": "1.001193", "applicant": {"name": "Võ Văn Xác"}, "case": "can-xac-minh"}
    response = api("onestop").post("/dossiers", json=body)
    assert response.status_code == 201, response.json
    assert response.json["case"] == {"key": "can-xac-minh", "name": "Trường hợp cần xác minh"}
    assert response.json["due_at"] == "2026-12-02T09:00:00+07:00"
    response = api("onestop").post("/dossiers", json={**body, "case": "khong-co"})
    assert response.status_code == 422 and "không có trường hợp “khong-co”" in response.json["error"]["message"]


def test_the_portal_names_the_processing_agency(api, in_force, orgtree):
    from qms.models import AgencyLevel
    from qms.services import org

    org.save_agency(None, actor=None, code="TP-B", name="Phường Bình Minh", level=AgencyLevel.commune,
                    parent=orgtree["province"], effective_from=date(2025, 7, 1))
    db.session.commit()
    body = {"procedure_code": "1.001193", "applicant": {"name": "Người phường B"}, "processing_agency_code": "tp-b"}
    response = api("onestop").post("/dossiers", json=body)
    assert response.status_code == 201, response.json
    assert (response.json["agency"]["code"], response.json["processing_agency"]["code"]) == ("TP-A", "TP-B")
    response = api("onestop").post("/dossiers", json={**body, "processing_agency_code": "KHONG"})
    assert response.status_code == 422 and response.json["error"]["errors"][0]["field"] == "processing_agency_code"
