"""The public catalogue: citizens (no login) find procedures in force and read them."""
from datetime import date

from qms.extensions import db
from qms.services import documents
from tests.documents.conftest import NOW, approve_second_version


def make_effective(procedure, staff):
    version = procedure.document.versions[-1]
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=date(2026, 11, 23), now=NOW)
    db.session.commit()
    return version


def test_only_procedures_in_force_are_listed(client, birth, staff):
    assert "1.001193" not in client.get("/thu-tuc/").get_data(as_text=True)  # still a draft
    assert client.get("/thu-tuc/1.001193").status_code == 404
    make_effective(birth, staff)
    page = client.get("/thu-tuc/").get_data(as_text=True)
    assert "Đăng ký khai sinh" in page and "1 thủ tục" in page


def test_search_with_or_without_diacritics_and_by_field_and_level(client, birth, staff):
    make_effective(birth, staff)
    for query in ("khai sinh", "Khai Sinh", "dang ky", "1.001193"):
        assert "Đăng ký khai sinh" in client.get("/thu-tuc/", query_string={"q": query}).get_data(as_text=True), query
    assert "Đăng ký khai sinh" not in client.get("/thu-tuc/", query_string={"q": "kết hôn"}).get_data(as_text=True)
    assert "Đăng ký khai sinh" in client.get("/thu-tuc/", query_string={
        "field": birth.field_id, "level": "commune"}).get_data(as_text=True)
    assert "Đăng ký khai sinh" not in client.get("/thu-tuc/", query_string={
        "level": "province"}).get_data(as_text=True)
    assert client.get("/thu-tuc/", query_string={"level": "nonsense", "field": "x"}).status_code == 200


def test_a_procedure_page_shows_steps_limit_fee_components_and_legal_bases(client, birth, staff):
    make_effective(birth, staff)
    page = client.get("/thu-tuc/1.001193").get_data(as_text=True)
    for text in ("Thẩm tra, dự thảo giấy khai sinh", "1 giờ làm việc", "1 ngày làm việc",
                 "Miễn lệ phí", "Tờ khai đăng ký khai sinh", "Luật Hộ tịch số 60/2014/QH13",
                 "Nhận trước 15 giờ", "Trực tuyến toàn trình"):
        assert text in page, text


def test_a_new_version_replaces_the_listing_only_on_its_effective_date(client, birth, staff):
    from datetime import timedelta

    make_effective(birth, staff)
    approve_second_version(birth, staff, effective_date=date(2026, 12, 1))
    assert "0,75 giờ làm việc" not in client.get("/thu-tuc/1.001193").get_data(as_text=True)
    documents.apply_effective_dates(NOW + timedelta(days=8))
    db.session.commit()
    page = client.get("/thu-tuc/1.001193").get_data(as_text=True)
    assert "0,75 giờ làm việc" in page and "lần ban hành 2" in page


def test_versions_take_effect_on_their_date_without_the_cron_job(client, birth, staff, monkeypatch):
    from datetime import timedelta

    from qms import clock
    make_effective(birth, staff)
    approve_second_version(birth, staff, effective_date=date(2026, 12, 1))
    monkeypatch.setattr(documents, "_daily_done", None)
    with clock.frozen(NOW + timedelta(days=7)):  # 30 November: not yet
        assert "0,75 giờ làm việc" not in client.get("/thu-tuc/1.001193").get_data(as_text=True)
    with clock.frozen(NOW + timedelta(days=8)):  # 1 December: the first request applies it
        assert "0,75 giờ làm việc" in client.get("/thu-tuc/1.001193").get_data(as_text=True)
    db.session.expire_all()
    assert [v.status.value for v in birth.document.versions] == ["superseded", "effective"]
