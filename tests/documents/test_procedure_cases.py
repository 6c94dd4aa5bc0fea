"""Cases of a procedure (trường hợp, issue 11): each with its own time limit, fee and
process; the desk picks one at intake and the dossier pins it with the version."""
from datetime import date

import pytest
import yaml

from qms import clock
from qms.errors import ValidationError
from qms.extensions import db
from qms.models.documents import FrozenVersionError
from qms.services import dossiers, procedure_files, procedures
from tests.conftest import browser_as, post_form
from tests.documents.conftest import approve_version, birth_data
from tests.dossiers.conftest import at, desk, in_force  # noqa: F401  (fixtures)
from tests.web.conftest import text

VERIFICATION = {
    "key": "can-xac-minh", "name": "Trường hợp cần xác minh", "time_limit": 5, "time_unit": "working_days",
    "same_day": False, "fee": "Miễn lệ phí",
    "steps": [
        {"name": "Tiếp nhận, kiểm tra hồ sơ", "kind": "receive", "role": "one_stop", "responsible": "",
         "hours": 2, "output": ""},
        {"name": "Xác minh tại nơi cư trú", "kind": "review", "role": "specialist", "responsible": "",
         "hours": 30, "output": "Biên bản xác minh"},
        {"name": "Trả kết quả", "kind": "return_result", "role": "one_stop", "responsible": "",
         "hours": 2, "output": ""},
    ],
}


@pytest.fixture
def with_cases(in_force, staff):  # noqa: F811
    """The birth registration, same day, and a case needing verification in 5 working days."""
    approve_version(in_force, staff, birth_data(cases=[VERIFICATION]), effective_date=date(2026, 11, 23))
    return in_force


def test_a_case_has_its_own_limit_fee_and_process(with_cases):
    version = with_cases.document.versions[-1]
    data = procedures.procedure_data_of(version)
    assert data["cases"] == [VERIFICATION]
    assert data["steps"] == birth_data()["steps"]  # the main case's process is apart
    assert "cases" not in procedures.procedure_data_of(with_cases.document.versions[0])
    # The file says the same, and reads back to the same data.
    rendered = yaml.safe_load(procedure_files.render_file(with_cases.document, version, with_cases))
    assert [c["key"] for c in rendered["version"]["cases"]] == ["can-xac-minh"]
    assert rendered["version"]["cases"][0]["steps"][1] == {
        "name": "Xác minh tại nơi cư trú", "kind": "review", "role": "specialist", "hours": 30,
        "output": "Biên bản xác minh"}
    assert procedures.semantic_diff(procedures.procedure_data_of(with_cases.document.versions[0]), data) == [
        "Thêm trường hợp: Trường hợp cần xác minh (5 ngày làm việc)."]


def test_an_approved_case_is_frozen(with_cases):
    case = procedures.procedure_version_of(with_cases.document.versions[-1]).cases[0]
    case.time_limit = 10
    with pytest.raises(FrozenVersionError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("change,message", [
    ({"key": "Cần Xác Minh"}, "Trường hợp Trường hợp cần xác minh: mã “Cần Xác Minh” không hợp lệ"),
    ({"name": ""}, "Trường hợp 1: thiếu tên."),
    ({"time_limit": 1}, "Trường hợp “Trường hợp cần xác minh”: Tổng thời gian các bước (4 ngày 2 giờ làm việc) "
                        "vượt thời hạn giải quyết theo quy định (1 ngày làm việc)."),
])
def test_each_case_is_checked_like_the_main_one(change, message):
    problems = procedures.problems_in(birth_data(cases=[{**VERIFICATION, **change}]))
    assert any(p.startswith(message) for p in problems), problems
    twice = procedures.problems_in(birth_data(cases=[VERIFICATION, VERIFICATION]))
    assert twice == ["Trường hợp Trường hợp cần xác minh: mã “can-xac-minh” bị trùng."]


def test_the_desk_picks_the_case_and_the_dossier_pins_it(with_cases, desk):  # noqa: F811
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=with_cases, applicant_name="Mai",
                                                now=at(2026, 11, 25, 9, 0), case_key="can-xac-minh")
    assert dossier.case.name == "Trường hợp cần xác minh"
    assert dossier.due_at == at(2026, 12, 2, 9, 0)  # 5 working days, not the same day
    assert [s.name for s in dossier.steps] == ["Tiếp nhận, kiểm tra hồ sơ", "Xác minh tại nơi cư trú", "Trả kết quả"]
    assert dossier.steps[0].due_at == at(2026, 11, 25, 11, 0)
    main, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=with_cases, applicant_name="Lan",
                                             now=at(2026, 11, 25, 9, 0))
    assert (main.case, main.due_at, len(main.steps)) == (None, at(2026, 11, 25, 17, 0), 4)
    with pytest.raises(ValidationError, match="không có trường hợp “khong-co”"):
        dossiers.receive_dossier(actor=desk["onestop"], procedure=with_cases, applicant_name="X",
                                 now=at(2026, 11, 25, 9, 0), case_key="khong-co")


def test_the_receiving_form_and_the_pages_show_the_cases(app, with_cases, desk):  # noqa: F811
    officer = browser_as(app, "motcua")
    with clock.frozen(at(2026, 11, 25, 9, 0)):
        form = text(officer.get("/dossiers/receive"))
        assert '<optgroup label="1.001193 — Đăng ký khai sinh">' in form
        assert "Trường hợp cần xác minh (5 ngày làm việc)" in form
        page = text(post_form(officer, "/dossiers/receive", {
            "procedure_id": with_cases.id, "applicant_name": "Nguyễn Văn Xác", "channel": "direct",
            "case_key": "can-xac-minh"}))
        assert "02/12/2026 09:00" in page  # the case's due time on the receipt page
    dossier = db.session.query(dossiers.Dossier).filter_by(applicant_name="Nguyễn Văn Xác").one()
    assert "Trường hợp cần xác minh" in text(officer.get(f"/dossiers/{dossier.code}"))
    public = text(app.test_client().get("/thu-tuc/1.001193"))
    assert 'id="case-can-xac-minh"' in public and "Xác minh tại nơi cư trú" in public
