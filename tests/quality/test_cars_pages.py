"""The CAR pages: the loop as the department head, the item owner and the verifier walk it;
each sees only the forms they may use; the report PDF reads in Vietnamese."""
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from qms import clock
from qms.extensions import db
from qms.models import CarStatus, CorrectiveAction, NcStatus, Role
from tests.conftest import login, post_form
from tests.dossiers.conftest import at
from tests.quality.car_fixtures import raise_nc
from tests.quality.test_cars import NOW, TODAY, _measured_world
from tests.web.conftest import flashes, table_rows, text


def pdf_text(data: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())


@pytest.fixture
def frozen():
    with clock.frozen(NOW):
        yield


@pytest.fixture
def people(make_user, orgtree):
    return {
        "qo": make_user("canbo_iso", Role.quality_officer, department=orgtree["centre"]),
        "head": make_user("truong_vh", Role.department_head, department=orgtree["culture"]),
        "officer": make_user("chuyenvien_vh", Role.officer, department=orgtree["culture"]),
        "other_head": make_user("truong_vp", Role.department_head, department=orgtree["office"]),
        "other_officer": make_user("chuyenvien_vp", Role.officer, department=orgtree["office"]),
        "leader": make_user("lanhdao", Role.leader, department=orgtree["centre"]),
    }


def _as(app, user):
    client = app.test_client()
    assert login(client, user.username).status_code == 302
    return client


def _car() -> CorrectiveAction:
    db.session.expire_all()
    return db.session.scalars(sa.select(CorrectiveAction)).one()


def _open_as_head(app, people, nc):
    head = _as(app, people["head"])
    page = text(head.get("/quality/cars"))
    assert nc.code in page and 'id="car-open-form"' in page
    response = post_form(head, "/quality/cars", {"nonconformity_ids": [nc.id], "owner_id": people["head"].id},
                         token_from="/quality/cars")
    car = _car()
    assert response.location == f"/quality/cars/{car.code}"
    return head, car


def _analyse_and_plan(head, car, people):
    url = f"/quality/cars/{car.code}"
    post_form(head, f"{url}/analysis", {
        "analysis-correction": "Đã chuyển ngay 3 hồ sơ tồn",
        "analysis-whys-0": "Hồ sơ chờ ký hai ngày", "analysis-whys-1": "Trưởng phòng đi công tác",
        "analysis-whys-2": "", "analysis-whys-3": "", "analysis-whys-4": "",
        "analysis-root_cause": "Chưa có quy chế ủy quyền ký thay"}, token_from=url)
    plan = {"plan-items-0-description": "Ban hành quy chế ủy quyền ký thay",
            "plan-items-0-owner_id": people["officer"].id,
            "plan-items-0-due_date": (TODAY + timedelta(days=5)).isoformat(),
            "plan-items-1-description": "Tập huấn quy chế cho cán bộ phòng",
            "plan-items-1-owner_id": people["head"].id,
            "plan-items-1-due_date": (TODAY + timedelta(days=10)).isoformat(),
            "plan-items-2-description": "", "plan-items-2-owner_id": "0", "plan-items-2-due_date": "",
            "plan-check_date": (TODAY + timedelta(days=30)).isoformat()}
    # the owner cannot verify their own CAR
    response = post_form(head, f"{url}/plan", {**plan, "plan-verifier_id": people["head"].id}, token_from=url)
    assert any("không được là người chịu trách nhiệm" in m for m in flashes(head.get(response.location)))
    assert _car().status is CarStatus.analysis
    post_form(head, f"{url}/plan", {**plan, "plan-verifier_id": people["qo"].id}, token_from=url)
    assert _car().status is CarStatus.action_planned


def test_the_loop_through_the_pages(app, frozen, people, orgtree):
    nc = raise_nc(orgtree["culture"], people["qo"], "Phiếu kiểm soát thiếu chữ ký của lãnh đạo phòng", now=NOW)
    db.session.commit()
    head, car = _open_as_head(app, people, nc)
    url = f"/quality/cars/{car.code}"
    page = text(head.get(url))
    assert 'id="car-analysis-form"' in page and 'id="car-plan-form"' in page
    assert page.count('name="analysis-whys-') == 5  # five "why?" inputs
    _analyse_and_plan(head, car, people)

    page = head.get(url)
    assert [row[:3] for row in table_rows(page, "car-items")] == [
        ["1", "Ban hành quy chế ủy quyền ký thay", "Chuyenvien_Vh"],
        ["2", "Tập huấn quy chế cho cán bộ phòng", "Truong_Vh"]]
    assert "Chưa có quy chế ủy quyền ký thay" in text(page) and "Trưởng phòng đi công tác" in text(page)
    assert 'id="car-analysis-form"' not in text(page)  # frozen once planned

    officer = _as(app, people["officer"])  # owns the first item only
    page = text(officer.get(url))
    assert 'id="item-done-1"' in page and 'id="item-done-2"' not in page
    post_form(officer, f"{url}/items/1/done", {"item1-evidence": "Quyết định số 12/QĐ-UBND"}, token_from=url)
    post_form(head, f"{url}/items/2/done", {"item2-evidence": "Danh sách ký tập huấn"}, token_from=url)
    assert _car().status is CarStatus.verifying

    # only the designated verifier gets the form
    for someone in (head, _as(app, people["leader"])):
        assert 'id="car-verify-form"' not in text(someone.get(url))
    quality = _as(app, people["qo"])
    assert 'id="car-verify-form"' in text(quality.get(url))
    response = post_form(quality, f"{url}/verify", {"verify-result": "effective", "verify-note": "Đã đủ chữ ký"},
                         token_from=url)
    assert any("phiếu và các sự không phù hợp đã đóng" in m for m in flashes(quality.get(response.location)))
    car = _car()
    assert car.status is CarStatus.closed and car.nonconformities[0].status is NcStatus.closed

    response = quality.get(f"{url}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    report = pdf_text(response.data)
    for expected in ("PHIẾU YÊU CẦU HÀNH ĐỘNG KHẮC PHỤC", car.code, "Phòng Văn hóa - Xã hội",
                     "Phiếu kiểm soát thiếu chữ ký của lãnh đạo phòng", "Đã chuyển ngay 3 hồ sơ tồn",
                     "Tại sao 1? Hồ sơ chờ ký hai ngày", "Tại sao 2? Trưởng phòng đi công tác",
                     "Nguyên nhân gốc: Chưa có quy chế ủy quyền ký thay",
                     "Ban hành quy chế ủy quyền ký thay", "Quyết định số 12/QĐ-UBND", "Có hiệu lực",
                     "Đã đủ chữ ký", "Người chịu trách nhiệm", "Người xác nhận hiệu lực", "Cán bộ ISO",
                     "Truong_Vh", "Canbo_Iso", "Trang 1 /"):
        assert expected in report, expected


def test_not_effective_on_the_page_keeps_the_reason(app, frozen, people, orgtree):
    nc = raise_nc(orgtree["culture"], people["qo"], now=NOW)
    db.session.commit()
    head, car = _open_as_head(app, people, nc)
    url = f"/quality/cars/{car.code}"
    _analyse_and_plan(head, car, people)
    for position in (1, 2):
        post_form(head, f"{url}/items/{position}/done", {f"item{position}-evidence": "Biên bản"}, token_from=url)
    quality = _as(app, people["qo"])
    response = post_form(quality, f"{url}/verify", {"verify-result": "not_effective", "verify-note": ""},
                         token_from=url)
    assert any("lý do" in m for m in flashes(quality.get(response.location)))
    assert _car().status is CarStatus.verifying
    post_form(quality, f"{url}/verify", {"verify-result": "not_effective",
                                         "verify-note": "Vẫn còn hồ sơ thiếu chữ ký"}, token_from=url)
    car = _car()
    assert car.status is CarStatus.analysis and car.nonconformities[0].status is NcStatus.under_analysis
    page = head.get(url)
    assert table_rows(page, "car-verifications")[0][2:] == ["Chưa hiệu quả", "Vẫn còn hồ sơ thiếu chữ ký"]
    # back in analysis: the owner may analyse and plan again, the earlier items stay listed
    assert 'id="car-plan-form"' in text(page) and len(table_rows(page, "car-items")) == 2


def test_other_departments_see_and_do_nothing(app, frozen, people, orgtree):
    nc = raise_nc(orgtree["culture"], people["qo"], now=NOW)
    db.session.commit()
    head, car = _open_as_head(app, people, nc)
    url = f"/quality/cars/{car.code}"
    stranger = _as(app, people["other_officer"])
    assert stranger.get(url).status_code == 403 and stranger.get(f"{url}/report.pdf").status_code == 403
    assert car.code not in text(stranger.get("/quality/cars"))
    assert 'id="car-open-form"' not in text(stranger.get("/quality/cars"))
    # an officer opens no CAR, not even for their own department
    officer = _as(app, people["officer"])
    assert post_form(officer, "/quality/cars", {"nonconformity_ids": [nc.id]},
                     token_from="/quality/cars").status_code == 403
    assert car.code in text(officer.get("/quality/cars"))  # but reads their department's
    # another department's head: reads nothing of it, and a forged post is refused
    other_head = _as(app, people["other_head"])
    assert other_head.get(url).status_code == 403
    assert post_form(other_head, f"{url}/analysis", {"analysis-root_cause": "Không rõ"},
                     token_from="/quality/cars").status_code == 403
    assert _car().root_cause == ""
    # nor does the culture head see another department's nonconformities to answer
    office_nc = raise_nc(orgtree["office"], people["qo"], "Sổ theo dõi ghi thiếu", now=NOW)
    db.session.commit()
    assert office_nc.code not in text(head.get("/quality/cars"))
    response = post_form(head, "/quality/cars", {"nonconformity_ids": [office_nc.id], "owner_id": people["head"].id},
                         token_from="/quality/cars")
    assert any("Chỉ cán bộ ISO hoặc trưởng phòng" in m for m in flashes(head.get(response.location)))
    assert db.session.scalar(sa.select(sa.func.count(CorrectiveAction.id))) == 1


def test_the_list_flags_overdue_cars_and_filters(app, people, orgtree):
    with clock.frozen(NOW):
        nc = raise_nc(orgtree["culture"], people["qo"], now=NOW)
        db.session.commit()
        head, car = _open_as_head(app, people, nc)
        _analyse_and_plan(head, car, people)
        assert "Quá hạn" not in " ".join(table_rows(head.get("/quality/cars"), "car-list")[0])
    with clock.frozen(at(2026, 12, 7, 9, 0)):  # the first item was due on 6/12
        [row] = table_rows(head.get("/quality/cars"), "car-list")
        assert row[0] == car.code and "Quá hạn" in row[4]
        assert 'id="car-overdue"' in text(head.get(f"/quality/cars/{car.code}"))
        assert table_rows(head.get("/quality/cars?status=closed"), "car-list")[0][0].startswith("Chưa có")
        assert table_rows(head.get(f"/quality/cars?status=action_planned&department={orgtree['culture'].id}"),
                          "car-list")[0][0] == car.code
        assert table_rows(head.get(f"/quality/cars?department={orgtree['office'].id}"),
                          "car-list")[0][0].startswith("Chưa có")
        response = head.get("/quality/cars?status=bogus")
        assert response.status_code == 200 and "Trạng thái không hợp lệ" in text(response)


def test_the_verifier_sees_the_measured_late_rates(app, three_days, desk, orgtree, people):
    _make, step_nc, _procedure_nc = _measured_world(three_days, desk, orgtree, people)
    with clock.frozen(NOW):
        head, car = _open_as_head(app, people, step_nc)
        [row] = table_rows(head.get(f"/quality/cars/{car.code}"), "car-measurement")
        assert row == ["Bước 2 “Thẩm tra, dự thảo giấy khai sinh” — thủ tục 1.001193",
                       "50.0% (2/4 quá hạn)", "Hành động chưa hoàn thành"]
        report = pdf_text(head.get(f"/quality/cars/{car.code}/report.pdf").data)
        assert "50.0% (2/4 quá hạn)" in report and "Hành động chưa hoàn thành" in report


def test_a_nonconformity_page_opens_a_car_for_it(app, people, orgtree, frozen):
    """Issue 15, item 11: the CAR is opened from the nonconformity itself, by whoever may
    answer it (its department's head here), with the department's heads to choose from; once
    answered, or for someone who may not, the page offers no form."""
    nc = raise_nc(orgtree["culture"], people["qo"], now=NOW)
    db.session.commit()
    url = f"/quality/nonconformities/{nc.code}"
    assert 'id="nc-open-car-form"' not in text(_as(app, people["officer"]).get(url))
    assert 'id="nc-open-car-form"' not in text(_as(app, people["other_head"]).get(url))
    head = _as(app, people["head"])
    page = head.get(url).get_data(as_text=True)
    assert 'id="nc-open-car-form"' in page and people["head"].full_name in page
    assert people["other_head"].full_name not in page  # the nonconformity's department's heads only
    response = post_form(head, "/quality/cars", {"nonconformity_ids": [nc.id], "owner_id": people["head"].id},
                         token_from=url)
    car = _car()
    assert response.location == f"/quality/cars/{car.code}"
    assert [n.id for n in car.nonconformities] == [nc.id] and car.owner_id == people["head"].id
    page = head.get(url).get_data(as_text=True)
    assert 'id="nc-open-car-form"' not in page and car.code in page
