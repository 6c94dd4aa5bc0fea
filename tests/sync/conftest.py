"""Fixtures for dossiers taken in from the provincial one-stop system: the birth registration
procedure in force (3 working days from 23/11/2026), a source system with its integration
account and token, and builders of payloads in the national portal's shape."""
from __future__ import annotations

from datetime import date

import pytest

from qms import clock
from qms.extensions import db
from qms.models import Role
from qms.services import api_tokens, documents, procedures, sync
from tests.api.conftest import Api
from tests.cli.conftest import invoke  # noqa: F401  (fixture)
from tests.documents.conftest import NOW, birth, birth_data, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at

# Monday 7/12/2026, 10:00 in Hà Nội: the push comes after the dossiers below were handled.
MONDAY = at(2026, 12, 7, 10, 0)


@pytest.fixture
def monday():
    with clock.frozen(MONDAY):
        yield MONDAY


@pytest.fixture
def three_day_birth(birth, staff):  # noqa: F811
    """Birth registration, 3 working days, its only version in force from 23/11/2026."""
    version = birth.document.versions[0]
    procedures.write_procedure_data(version, birth, birth_data(time_limit=3, same_day=False))
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=date(2026, 11, 23), now=NOW)
    db.session.commit()
    return birth


@pytest.fixture
def source(make_user, orgtree, staff, three_day_birth, monday):  # noqa: F811
    """The province's one-stop system "MC-TP", with its integration account."""
    account = make_user("motcuatinh", Role.officer, department=orgtree["centre"])
    found = sync.add_source(actor=staff["quality"], code="MC-TP", name="Hệ thống một cửa điện tử tỉnh",
                            account=account)
    db.session.commit()
    return found


@pytest.fixture
def sync_api(app, source, monday):  # noqa: F811
    """An Api calling with the source's integration token."""
    _token, plaintext = api_tokens.issue_token(source.account, name="Đồng bộ một cửa tỉnh", actor=None,
                                               now=monday)
    db.session.commit()
    return Api(app.test_client(), plaintext)


def portal(code: str, *, status: int = 4, received: str = "20261125090000", unit: str = "TP-A",
           procedure: str = "1.001193", history: list | None = None, **fields) -> dict:
    """A dossier as the provincial system sends it to the national portal."""
    body = {"MaHoSo": code, "MaTTHC": procedure, "TenTTHC": "Đăng ký khai sinh", "MaLinhVuc": "HT",
            "KenhThucHien": 1, "ChuHoSo": "Nguyễn Văn An", "LoaiDoiTuong": "1",
            "TrichYeuHoSo": "Đăng ký khai sinh cho con", "NgayNopHoSo": received, "NgayTiepNhan": received,
            "NgayHenTra": "20261130090000", "TrangThaiHoSo": status, "DonViXuLy": "UBND phường An Hòa",
            "MaDinhDanh": unit,
            "QuaTrinhXuLyHoSo": history if history is not None else [
                entry(received, 2, "Tiếp nhận hồ sơ")]}
    body.update(fields)
    return body


def entry(at: str, status: int, content: str, person: str = "Trần Thị Bình") -> dict:
    return {"NguoiXuLy": person, "ThoiDiemXuLy": at, "NoiDungXuLy": content, "TrangThai": status}
