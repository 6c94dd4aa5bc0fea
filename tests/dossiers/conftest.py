from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from qms.extensions import db
from qms.models import Role
from qms.services import documents, procedures
from tests.documents.conftest import NOW, birth, birth_data, staff  # noqa: F401  (fixtures)

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=VN)


@pytest.fixture
def desk(make_user, orgtree):
    """The ward's one-stop officer, a culture officer, an office clerk, and a stranger."""
    return {
        "onestop": make_user("motcua", Role.officer, department=orgtree["onestop"]),
        "culture": make_user("vanhoa", Role.officer, department=orgtree["culture"]),
        "office": make_user("vanphong", Role.officer, department=orgtree["office"]),
        "centre": make_user("tinh", Role.officer, department=orgtree["centre"]),
    }


@pytest.fixture
def in_force(birth, staff):  # noqa: F811
    """The birth registration procedure with its first version in force."""
    version = birth.document.versions[0]
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=date(2026, 11, 23), now=NOW)
    db.session.commit()
    return birth


@pytest.fixture
def three_days(in_force, staff):  # noqa: F811
    """The same procedure, changed to 3 working days (not same-day), in force."""
    version = documents.draft_version(in_force.document, actor=staff["quality"],
                                      title=in_force.document.title, body="",
                                      change_summary="3 ngày làm việc", now=NOW)
    procedures.write_procedure_data(version, in_force, birth_data(time_limit=3, same_day=False))
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=date(2026, 11, 23), now=NOW)
    db.session.commit()
    return in_force
