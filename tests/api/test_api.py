"""The JSON API as the online portal and the departments' systems use it: receive a dossier,
read it, complete its steps through to the returned result, watch the queues; and every way
a call can be refused, always as JSON with the right status."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.extensions import db
from qms.models import ApiToken, AuditLog, Dossier, DossierStep, Role
from qms.services import accounts, api_tokens, dossiers
from tests.api.conftest import PORTAL_DOSSIER, WEDNESDAY
from tests.conftest import login

pytestmark = pytest.mark.usefixtures("in_force")


def assert_json_error(response, status: int, *fragments: str) -> dict:
    """A refusal: the status, a JSON body with a message, never an HTML page."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)[:300]
    assert "<html" not in response.get_data(as_text=True).lower()
    error = response.json["error"]
    assert error["status"] == status and error["message"]
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error


def receive(api, **changes):
    response = api("onestop").post("/dossiers", json={**PORTAL_DOSSIER, **changes})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


# --- happy paths ----------------------------------------------------------------------------
def test_the_portal_hands_over_a_dossier_and_gets_its_receipt(api, desk):
    response = api("onestop").post("/dossiers", json=PORTAL_DOSSIER)
    assert response.status_code == 201
    body = response.json
    assert body["code"] == "TP-A-261125-0001"
    assert response.headers["Location"] == f"/api/v1/dossiers/{body['code']}"
    assert body["status"] == {"code": "received", "national_code": 2, "label": "Đã tiếp nhận"}
    assert body["channel"] == {"code": "online", "national_code": 2}
    assert body["procedure"] == {"code": "1.001193", "name": "Đăng ký khai sinh"}
    assert body["department"]["code"] == "A-MC"
    # Same-day procedure received at 09:00: due at 17:00 the same day, in +07:00.
    assert body["received_at"] == "2026-11-25T09:00:00+07:00"
    assert body["due_at"] == "2026-11-25T17:00:00+07:00"
    assert body["timeliness"] is None and body["current_step"] == 1
    assert [s["position"] for s in body["steps"]] == [1, 2, 3, 4]
    first = body["steps"][0]
    assert first["department"]["code"] == "A-MC"
    assert (first["handed_over_at"], first["due_at"]) == ("2026-11-25T09:00:00+07:00",
                                                          "2026-11-25T09:15:00+07:00")  # a quarter hour
    assert body["steps"][1]["department"] is None  # not handed over yet
    # The lookup secret is given once, and works on the citizen's lookup.
    secret = body["lookup_secret"]
    assert len(secret) == 8
    found = dossiers.find_for_lookup(body["code"], secret)
    assert found is not None and found.applicant_name == "Nguyễn Thị Hoa"
    assert found.components == ["Tờ khai đăng ký khai sinh"]
    assert found.received_by == desk["onestop"] and found.channel.value == "online"
    assert "lookup_secret" not in api("onestop").get(f"/dossiers/{body['code']}").json


def test_a_dossier_goes_through_every_step_to_the_returned_result(api, desk, orgtree):
    code = receive(api, channel="direct")["code"]
    desk_api, culture, office = api("onestop"), api("culture"), api("office")

    def queue(who):
        response = api(who).get("/queue")
        assert response.status_code == 200
        return [(i["dossier_code"], i["step"]["position"]) for i in response.json["items"]]

    assert queue("onestop") == [(code, 1)]
    assert queue("culture") == []

    with clock.frozen(WEDNESDAY + timedelta(minutes=30)):
        response = desk_api.post(f"/dossiers/{code}/steps/1/complete",
                                 json={"note": "Đủ thành phần", "next_department_code": "a-vhxh"})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"]["code"] == "processing" and body["status"]["national_code"] == 4
    assert body["current_step"] == 2
    step1, step2 = body["steps"][0], body["steps"][1]
    assert step1["completed_at"] == "2026-11-25T09:30:00+07:00"
    assert step1["completed_by"] == {"username": "motcua", "full_name": "Motcua"}
    assert (step1["note"], step1["timeliness"]) == ("Đủ thành phần", "on_time")
    assert step2["department"] == {"code": "A-VHXH", "name": "Phòng Văn hóa - Xã hội"}
    assert step2["handed_over_at"] == "2026-11-25T09:30:00+07:00"
    assert queue("onestop") == []
    assert queue("culture") == [(code, 2)]

    with clock.frozen(WEDNESDAY + timedelta(hours=2)):
        response = culture.post(f"/dossiers/{code}/steps/2/complete",
                                json={"result": "Đủ điều kiện", "next_department_code": "A-VP"})
    assert response.status_code == 200, response.json
    assert response.json["steps"][1]["result"] == "Đủ điều kiện"
    # The next step is the one-stop office's: no department to name; an empty body will do.
    with clock.frozen(WEDNESDAY + timedelta(hours=3)):
        response = office.post(f"/dossiers/{code}/steps/3/complete")
    assert response.status_code == 200, response.json
    assert response.json["steps"][3]["department"]["code"] == "A-MC"
    assert queue("onestop") == [(code, 4)]
    with clock.frozen(WEDNESDAY + timedelta(hours=4)):
        response = desk_api.post(f"/dossiers/{code}/steps/4/complete", json={})
    assert response.status_code == 200, response.json
    body = response.json
    # The result is ready at the desk (status 9): the dossier is classified on this moment.
    assert body["status"] == {"code": "processed", "national_code": 9, "label": "Đã giải quyết xong"}
    assert (body["processed_at"], body["returned_at"]) == ("2026-11-25T13:00:00+07:00", None)
    assert body["timeliness"] == "on_time" and body["current_step"] is None
    assert all(s["completed_at"] for s in body["steps"])
    assert [queue(who) for who in ("onestop", "culture", "office")] == [[], [], []]
    # The applicant collects it a week later, past the due date: still on time.
    assert culture.post(f"/dossiers/{code}/return", json={}).status_code == 403  # not the desk
    assert desk_api.post(f"/dossiers/{code}/return", json={"via": "pigeon"}).json["error"]["errors"] == [
        {"field": "via", "message": "Một trong: desk, postal, online."}]
    with clock.frozen(WEDNESDAY + timedelta(days=7)):
        response = desk_api.post(f"/dossiers/{code}/return", json={"via": "postal", "note": "Vận đơn 1"})
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == {"code": "returned", "national_code": 10, "label": "Đã trả kết quả"}
    assert (body["processed_at"], body["returned_at"], body["returned_via"]) == (
        "2026-11-25T13:00:00+07:00", "2026-12-02T09:00:00+07:00", "postal")
    assert body["timeliness"] == "on_time"
    assert body["events"][-1]["kind"] == "result_returned" and body["events"][-1]["reason"] == "Vận đơn 1"
    assert desk_api.post(f"/dossiers/{code}/return").status_code == 409  # once
    # Read back: the same record.
    again = api("onestop").get(f"/dossiers/{code}")
    assert again.status_code == 200 and again.json == body
    # Every change is attributed to the token's user.
    completions = db.session.scalars(sa.select(AuditLog.actor_name).where(
        AuditLog.action == "dossier_step.completed").order_by(AuditLog.id)).all()
    assert completions == ["motcua", "vanhoa", "vanphong", "motcua"]


def test_the_token_acts_as_its_user_never_as_the_browser_session(app, api, make_user):
    """An admin logged in on the same client does not lend the call their rights, and the
    dossier is received by (and attributed to) the token's user."""
    make_user("quantri", Role.admin)
    client = app.test_client()
    assert login(client, "quantri").status_code == 302
    response = client.post("/api/v1/dossiers", json=PORTAL_DOSSIER,
                           headers={"Authorization": f"Bearer {api('onestop').token}"})
    assert response.status_code == 201
    dossier = db.session.scalars(sa.select(Dossier)).one()
    assert dossier.received_by.username == "motcua"
    actors = set(db.session.scalars(sa.select(AuditLog.actor_name).where(
        AuditLog.entity_type == "dossier")))
    assert actors == {"motcua"}
    assert "Set-Cookie" not in response.headers  # the API never touches the session


def test_oversight_roles_read_any_queue_officers_only_their_own(api, make_user, orgtree):
    code = receive(api)["code"]
    leader = make_user("lanhdao", Role.leader, department=orgtree["office"])
    _token, plaintext = api_tokens.issue_token(leader, name="Báo cáo", actor=None, now=WEDNESDAY)
    db.session.commit()
    response = api(None, token=plaintext).get("/queue?department=A-MC")
    assert response.status_code == 200
    assert response.json["department"]["code"] == "A-MC"
    [item] = response.json["items"]
    assert item["dossier_code"] == code and item["overdue"] is False
    assert item["procedure"]["code"] == "1.001193" and item["step"]["name"] == "Tiếp nhận, kiểm tra hồ sơ"
    assert item["due_at"] == "2026-11-25T09:15:00+07:00"
    # Past the step's due time the queue says so.
    with clock.frozen(WEDNESDAY + timedelta(hours=2)):
        assert api("onestop").get("/queue").json["items"][0]["overdue"] is True
    assert_json_error(api("culture").get("/queue?department=A-MC"), 403, "phòng mình")
    assert api("culture").get("/queue?department=A-VHXH").status_code == 200  # their own
    assert_json_error(api(None, token=plaintext).get("/queue?department=KHONG-CO"), 404, "KHONG-CO")


def test_the_openapi_document_needs_no_token(api):
    response = api(None).get("/openapi.json")
    assert response.status_code == 200 and response.json["openapi"].startswith("3.1")


# --- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize("path,method", [("/dossiers", "post"), ("/dossiers/TP-A-261125-0001", "get"),
                                         ("/dossiers/TP-A-261125-0001/steps/1/complete", "post"),
                                         ("/queue", "get")])
def test_every_call_needs_a_token(api, path, method):
    response = getattr(api(None), method)(path, json=PORTAL_DOSSIER if method == "post" else None)
    error = assert_json_error(response, 401, "Authorization: Bearer")
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="qms"'
    assert error["title"] == "Chưa xác thực"


@pytest.mark.parametrize("header", ["Bearer qms_khong-phai-ma-that", "Bearer ", "Basic bW90Y3VhOng=",
                                    "qms_abc"])
def test_a_wrong_token_or_scheme_is_refused(app, tokens, header):
    response = app.test_client().get("/api/v1/queue", headers={"Authorization": header})
    assert_json_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_or_deactivated_account_is_refused(api, desk):
    assert api("onestop").get("/queue").status_code == 200
    token = db.session.scalars(sa.select(ApiToken).where(ApiToken.user == desk["onestop"])).one()
    api_tokens.revoke(token, actor=None, now=WEDNESDAY)
    db.session.commit()
    assert_json_error(api("onestop").get("/queue"), 401, "thu hồi")
    assert api("culture").get("/queue").status_code == 200
    accounts.set_active(desk["culture"], False, actor=None)
    db.session.commit()
    response = api("culture").get("/queue")
    assert_json_error(response, 401, "khoá")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_body_that_is_not_a_json_object_is_a_400(api):
    code = receive(api)["code"]
    onestop = api("onestop")
    for response in (onestop.post("/dossiers", data="procedure_code=1.001193"),
                     onestop.post("/dossiers", data="{not json", content_type="application/json"),
                     onestop.post("/dossiers", json=[PORTAL_DOSSIER]),
                     onestop.post("/dossiers"),
                     onestop.post(f"/dossiers/{code}/steps/1/complete", json="note")):
        assert_json_error(response, 400, "JSON")
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 1


def test_invalid_fields_are_a_422_listing_each_problem(api):
    response = api("onestop").post("/dossiers", json={
        "procedure_code": 1193, "applicant": {"phone": "0" * 40, "email": "khong-phai-email", "age": 3},
        "channel": "fax", "components": "Tờ khai", "fee": 0})
    error = assert_json_error(response, 422, "Dữ liệu không hợp lệ")
    fields = {e["field"]: e["message"] for e in error["errors"]}
    assert fields == {
        "procedure_code": "Phải là một chuỗi ký tự.",
        "applicant.name": "Bắt buộc.",
        "applicant.phone": "Tối đa 32 ký tự.",
        "applicant.email": "Địa chỉ thư điện tử không hợp lệ.",
        "applicant.age": "Trường không được hỗ trợ.",
        "channel": "Một trong: direct, online, postal.",
        "components": "Phải là một danh sách tên thành phần hồ sơ (chuỗi).",
        "fee": "Trường không được hỗ trợ.",
    }
    error = assert_json_error(api("onestop").post("/dossiers", json={"procedure_code": "1.001193"}),
                              422)
    assert error["errors"][0]["field"] == "applicant"
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0


def test_receiving_is_refused_for_unknown_procedures_and_non_desk_accounts(api):
    assert_json_error(api("onestop").post("/dossiers", json={**PORTAL_DOSSIER, "procedure_code": "9.999999"}),
                      404, "9.999999")
    # A department officer is not the one-stop office: the desk's own rule.
    assert_json_error(api("culture").post("/dossiers", json=PORTAL_DOSSIER), 403, "một cửa")
    # The province's service centre does not handle a commune-level procedure.
    assert_json_error(api("centre").post("/dossiers", json=PORTAL_DOSSIER), 422, "thẩm quyền")
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0


def test_reading_unknown_or_someone_elses_dossier(api):
    code = receive(api)["code"]
    assert_json_error(api("onestop").get("/dossiers/TP-A-000000-0000"), 404, "TP-A-000000-0000")
    assert api("onestop").get(f"/dossiers/{code.lower()}").status_code == 200  # codes ignore case
    # The office has not had the dossier: it may not read it (as on the pages).
    assert_json_error(api("office").get(f"/dossiers/{code}"), 403)


def test_completion_refusals(api):
    code = receive(api)["code"]
    onestop, culture = api("onestop"), api("culture")
    assert_json_error(onestop.post(f"/dossiers/{code}/steps/9/complete", json={}), 404, "bước 9")
    assert_json_error(onestop.post("/dossiers/TP-A-000000-0000/steps/1/complete", json={}), 404)
    # Step 1 is the one-stop office's: the culture department cannot read it yet.
    assert_json_error(culture.post(f"/dossiers/{code}/steps/1/complete", json={}), 403)
    # A step that is not current.
    assert_json_error(onestop.post(f"/dossiers/{code}/steps/2/complete", json={}), 409, "chưa đến lượt")
    # The next step needs a department, and it must exist in the dossier's agency.
    error = assert_json_error(onestop.post(f"/dossiers/{code}/steps/1/complete", json={}), 422,
                              "Hãy chọn phòng ban nhận bước tiếp theo")
    assert "Thẩm tra" in error["message"]
    error = assert_json_error(onestop.post(f"/dossiers/{code}/steps/1/complete",
                                           json={"next_department_code": "TP-TT"}), 422, "TP-TT")
    assert error["errors"][0]["field"] == "next_department_code"
    assert_json_error(onestop.post(f"/dossiers/{code}/steps/1/complete", json={"notes": "x"}), 422)
    assert db.session.scalars(sa.select(DossierStep.completed_at).where(
        DossierStep.position == 1)).one() is None
    # Done once; the second time is a conflict.
    ok = onestop.post(f"/dossiers/{code}/steps/1/complete", json={"next_department_code": "A-VHXH"})
    assert ok.status_code == 200
    assert_json_error(onestop.post(f"/dossiers/{code}/steps/1/complete",
                                   json={"next_department_code": "A-VHXH"}), 409)
    # Step 2 belongs to the culture department: the desk may read it but not complete it.
    assert_json_error(onestop.post(f"/dossiers/{code}/steps/2/complete",
                                   json={"next_department_code": "A-VP"}), 403, "phòng khác")


def test_a_wrong_method_or_unknown_path_answers_json(api):
    assert_json_error(api("onestop").get("/dossiers/X/steps/1/complete"), 405)
    assert_json_error(api("onestop").get("/khong-co"), 404)


def test_calls_are_rate_limited_per_token(app, api, monkeypatch):
    monkeypatch.setitem(app.config, "API_RATE_LIMIT", "3 per minute")
    onestop = api("onestop")
    for _ in range(3):
        assert onestop.get("/queue").status_code == 200
    assert_json_error(onestop.get("/queue"), 429)
    assert api("culture").get("/queue").status_code == 200  # another token has its own count


def test_the_queue_comes_in_pages(api):
    for _ in range(5):
        receive(api)
    desk_api = api("onestop")
    first = desk_api.get("/queue?per_page=2")
    assert first.status_code == 200
    body = first.get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 2, 5, 3)
    last = desk_api.get("/queue?per_page=2&page=3").get_json()
    codes = [item["dossier_code"] for page in (body, desk_api.get("/queue?per_page=2&page=2").get_json(), last)
             for item in page["items"]]
    assert len(codes) == len(set(codes)) == 5  # every step once, soonest due first
    assert len(desk_api.get("/queue").get_json()["items"]) == 5  # 100 a page by default
    for bad in ("per_page=0", "per_page=501", "page=0", "page=x", "per_page=-1"):
        error = assert_json_error(desk_api.get(f"/queue?{bad}"), 422)
        assert error["errors"][0]["field"] == bad.split("=")[0]
