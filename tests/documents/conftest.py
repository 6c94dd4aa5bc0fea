from datetime import UTC, datetime

import pytest

from qms.extensions import db
from qms.models import DocumentKind, Field, Role
from qms.services import documents, procedures

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội, a Monday


@pytest.fixture
def staff(make_user, orgtree):
    return {
        "quality": make_user("quality", Role.quality_officer, department=orgtree["centre"]),
        "leader": make_user("leader", Role.leader, department=orgtree["centre"]),
        "officer": make_user("officer", Role.officer, department=orgtree["onestop"]),
        "head": make_user("head", Role.department_head, department=orgtree["culture"]),
    }


@pytest.fixture
def policy(staff, orgtree):
    document = documents.create_document(actor=staff["quality"], code="CSCL",
                                         title="Chính sách chất lượng", kind=DocumentKind.policy,
                                         owner=orgtree["centre"])
    documents.draft_version(document, actor=staff["quality"], title="Chính sách chất lượng",
                            body="Phục vụ nhân dân.\n", change_summary="", now=NOW)
    db.session.commit()
    return document


# A same-day procedure's steps fit the 2 h from the 15:00 cut-off to the close (qms.services.
# procedures.capacity); a procedure in days plans a full working day.
SAME_DAY_HOURS = (0.25, 1, 0.5, 0.25)
DAY_HOURS = (1, 4, 2, 1)


def birth_data(**changes) -> dict:
    hours = SAME_DAY_HOURS if changes.get("same_day", True) else DAY_HOURS
    data = {
        "legal_bases": ["Luật Hộ tịch số 60/2014/QH13"],
        "time_limit": 1, "time_unit": "working_days", "same_day": True,
        "supplement_rule": "restart", "supplement_max": 1, "fee": "Miễn lệ phí",
        "online_level": "full", "result": "Giấy khai sinh",
        "components": [{"name": "Tờ khai đăng ký khai sinh", "originals": 1, "copies": 0}],
        "steps": [
            {"name": "Tiếp nhận, kiểm tra hồ sơ", "kind": "receive", "role": "one_stop",
             "responsible": "", "hours": hours[0], "output": "Giấy tiếp nhận"},
            {"name": "Thẩm tra, dự thảo giấy khai sinh", "kind": "review", "role": "specialist",
             "responsible": "Công chức Tư pháp - Hộ tịch", "hours": hours[1], "output": ""},
            {"name": "Ký giấy khai sinh", "kind": "approve", "role": "leader",
             "responsible": "", "hours": hours[2], "output": ""},
            {"name": "Trả kết quả", "kind": "return_result", "role": "one_stop",
             "responsible": "", "hours": hours[3], "output": ""},
        ],
    }
    data.update(changes)
    return data


@pytest.fixture
def birth(staff, orgtree):
    """A procedure whose process document has a draft first version."""
    from qms.models import AgencyLevel

    field = Field(code="HT", name="Hộ tịch")
    db.session.add(field)
    document = documents.create_document(actor=staff["quality"], code="QT-HT-01",
                                         title="Quy trình đăng ký khai sinh",
                                         kind=DocumentKind.process, owner=orgtree["centre"])
    procedure = procedures.create_procedure(code="1.001193", name="Đăng ký khai sinh", field=field,
                                            level=AgencyLevel.commune, document=document)
    version = documents.draft_version(document, actor=staff["quality"], title=document.title,
                                      body="", change_summary="", now=NOW)
    procedures.write_procedure_data(version, procedure, birth_data())
    db.session.commit()
    return procedure


def approve_version(procedure, staff, data: dict, *, effective_date, summary: str = "Sửa đổi quy trình"):
    """Draft, submit and approve a new version of `procedure` with the procedure `data`."""
    from qms.services import procedures as procedure_service

    version = documents.draft_version(procedure.document, actor=staff["quality"],
                                      title=procedure.document.title, body="", change_summary=summary, now=NOW)
    procedure_service.write_procedure_data(version, procedure, data)
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=effective_date, now=NOW)
    db.session.commit()
    return version


def approve_second_version(procedure, staff, *, effective_date, step_hours=0.75):
    """A second version of `procedure` whose second step takes `step_hours` instead of 1."""
    changed = birth_data()
    changed["steps"][1]["hours"] = step_hours
    return approve_version(procedure, staff, changed, effective_date=effective_date, summary="Rút ngắn thẩm tra")


@pytest.fixture
def frozen_clock():
    from qms import clock

    with clock.frozen(NOW):
        yield NOW


@pytest.fixture
def client_for(app, staff):
    """A separate browser, logged in as one of the staff."""
    from tests.conftest import login

    def make(username: str):
        browser = app.test_client()
        assert login(browser, username).status_code == 302
        return browser
    return make
