"""`qms import-dossiers` and the register upload: the provincial system's dossier register
(XLSX or CSV) taken in through the same upsert and held queue as the sync endpoint."""
from __future__ import annotations

import io
from datetime import datetime

import pytest
import sqlalchemy as sa
from openpyxl import Workbook

from qms.extensions import db
from qms.models import Dossier, DossierStatus, HeldDossier
from qms.services import dossiers, register_import
from tests.dossiers.conftest import at

HEADER = ["STT", "Mã hồ sơ", "Mã thủ tục", "Tên thủ tục", "Người nộp hồ sơ", "Kênh", "Ngày tiếp nhận",
          "Ngày hẹn trả", "Ngày có kết quả", "Ngày trả kết quả", "Trạng thái", "Mã đơn vị"]


def register_rows():
    """Four dossiers of November with four ways of writing a date, and two units unknown here."""
    return [
        [1, "G12-0001", "1.001193", "Đăng ký khai sinh", "Nguyễn Văn An", "Trực tiếp", "25/11/2026 09:00",
         "30/11/2026 09:00", "27/11/2026 10:00", "30/11/2026 08:00", "Đã trả kết quả", "TP-A"],
        [2, "G12-0002", "1.001193", "Đăng ký khai sinh", "Trần Thị Bình", "Trực tuyến", 46351.375,  # 25/11/2026 09:00
         None, datetime(2026, 12, 2, 10, 0), None, 9, "TP-A"],
        [3, "G12-0003", "1.001193", "Đăng ký khai sinh", "Lê Văn Cường", "Bưu chính công ích",
         "2026-11-26T08:00:00", None, None, None, "Đang giải quyết", "000.00.22.H98"],
        [4, "G12-0004", "1.001193", "Đăng ký khai sinh", "Phạm Thị Dung", 1, "26/11/2026 14:30", None, None, None,
         "Đang giải quyết", "000.00.22.H99"],
    ]


def xlsx(rows, header=HEADER, title=True) -> bytes:
    book = Workbook()
    sheet = book.active
    if title:  # the title block exported above the header, merged across the columns
        sheet.append(["SỔ THEO DÕI HỒ SƠ"])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(header))
        sheet.append(["Từ ngày 01/11/2026 đến ngày 30/11/2026"])
        sheet.merge_cells(start_row=2, start_column=1, end_row=2, end_column=len(header))
        sheet.append([])
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _dossier(code):
    return db.session.scalar(sa.select(Dossier).where(Dossier.source_code == code))


def test_a_register_with_title_rows_and_messy_dates_is_taken_in_and_again_changes_nothing(
        app, invoke, source, tmp_path, monday):
    path = tmp_path / "so-theo-doi-11-2026.xlsx"
    path.write_bytes(xlsx(register_rows()))
    result = invoke(app, "import-dossiers", str(path), "--source", "mc-tp")
    assert result.exit_code == 0, result.output
    assert "4 rows: 2 created, 2 held" in result.output and "unknown_agency" in result.output
    db.session.expire_all()
    first, second = _dossier("G12-0001"), _dossier("G12-0002")
    assert first.received_at == at(2026, 11, 25, 9, 0) and first.status is DossierStatus.returned
    assert dossiers.timeliness(first).value == "early"
    assert second.received_at == at(2026, 11, 25, 9, 0) and second.channel.value == "online"
    assert dossiers.timeliness(second).value == "late"  # finished 2/12, due Mon 30/11 09:00
    assert sorted(h.detail for h in db.session.scalars(sa.select(HeldDossier))) == ["000.00.22.H98", "000.00.22.H99"]

    again = invoke(app, "import-dossiers", str(path), "--source", "MC-TP")
    assert again.exit_code == 0, again.output
    assert "4 rows: 2 unchanged, 2 held" in again.output
    assert db.session.scalar(sa.select(sa.func.count(HeldDossier.id))) == 2


def test_a_csv_export_with_semicolons_and_a_mapping_file(app, invoke, source, tmp_path, monday):
    header = "Số biên nhận;Mã TTHC;Chủ hồ sơ;Ngày nhận hồ sơ;Tình trạng;Ghi chú\n"
    lines = ["HS-01;1.001193;Võ Văn Em;25/11/2026 09:00;Chờ bổ sung giấy tờ;\n",
             "HS-02;1.001193;Đỗ Thị Gấm;31/11/2026 09:00;4;ngày sai\n",
             "HS-03;1.001193;Hồ Văn Hải;25/11/2026 09:00;lạ;\n"]
    path = tmp_path / "export.csv"
    path.write_bytes((header + "".join(lines)).encode("utf-8-sig"))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text('columns: {NgayTiepNhan: "Ngày nhận hồ sơ"}\nstatuses: {"Chờ bổ sung giấy tờ": 5}\n'
                       'defaults: {MaDinhDanh: "TP-A"}\n', encoding="utf-8")
    result = invoke(app, "import-dossiers", str(path), "--source", "MC-TP", "--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    assert "3 rows: 1 created, 2 refused" in result.output
    assert "Dòng 3 (HS-02): NgayTiepNhan" in result.output
    assert "Dòng 4 (HS-03): TrangThaiHoSo" in result.output
    db.session.expire_all()
    assert _dossier("HS-01").status is DossierStatus.supplement_requested


def test_a_dry_run_writes_nothing(app, invoke, source, tmp_path, monday):
    path = tmp_path / "so.xlsx"
    path.write_bytes(xlsx(register_rows()))
    result = invoke(app, "import-dossiers", str(path), "--source", "MC-TP", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run, nothing written: 4 rows: 2 created, 2 held" in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(HeldDossier.id))) == 0


@pytest.mark.parametrize("name, content, message", [
    ("ghi-chu.xlsx", None, "Không phải sổ theo dõi hồ sơ"),
    ("ghi-chu.csv", "Họ tên,Địa chỉ\nAn,Hà Nội\n".encode(), "Không phải sổ theo dõi hồ sơ"),
    ("thieu-cot.csv", "Mã hồ sơ,Mã thủ tục,Người nộp\nX,1.001193,An\n".encode(), "thiếu cột"),
    ("hong.xlsx", b"PK\x03\x04 not really a workbook", "Không đọc được tệp Excel"),
    ("anh.png", b"\x89PNG", "Chỉ nhận tệp .xlsx hoặc .csv"),
])
def test_a_file_that_is_not_a_register_is_refused_with_a_clear_message(app, invoke, source, tmp_path, monday,
                                                                        name, content, message):
    if content is None:
        content = xlsx([["Hà Nội", 12]], header=["Tỉnh", "Dân số"])
    path = tmp_path / name
    path.write_bytes(content)
    result = invoke(app, "import-dossiers", str(path), "--source", "MC-TP")
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0


def test_dates_are_read_in_every_form_registers_use():
    assert register_import._moment("25/11/2026 09:00") == "20261125090000"
    assert register_import._moment("25/11/2026") == "20261125000000"
    assert register_import._moment("09:30 25/11/2026") == "20261125093000"
    assert register_import._moment(46351.375) == "20261125090000"
    assert register_import._moment("46351.375") == "20261125090000"
    assert register_import._moment("2026-11-25 09:00:00") == "20261125090000"
    assert register_import._moment(datetime(2026, 11, 25, 9, 0)) == "20261125090000"
    assert register_import._moment("hôm qua") == "hôm qua"  # refused later, naming the column


def _upload(client, source, content: bytes, name: str):
    from tests.conftest import csrf_token

    return client.post("/admin/sync/imports", data={
        "csrf_token": csrf_token(client, "/admin/sync"), "source_id": str(source.id),
        "file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def test_the_upload_page_imports_in_the_background_and_shows_progress_then_the_summary(
        app, source, staff, monday):
    import time

    from tests.conftest import login

    client = app.test_client()
    login(client, "quality")
    app.config["REGISTER_IMPORT_IN_BACKGROUND"] = True
    try:
        response = _upload(client, source, xlsx(register_rows()), "so-11-2026.xlsx")
        assert response.status_code == 302 and "/admin/sync/imports/" in response.location
        deadline = time.monotonic() + 120  # a busy machine: wait for the worker, generously
        while True:
            page = client.get(response.location).get_data(as_text=True)
            if 'data-status="running"' not in page or time.monotonic() > deadline:
                break
            assert 'http-equiv="refresh"' in page  # the page refreshes itself while it runs
            time.sleep(0.2)
    finally:
        app.config["REGISTER_IMPORT_IN_BACKGROUND"] = False
    assert 'data-status="done"' in page, page
    assert "4 / 4" in page and 'http-equiv="refresh"' not in page
    assert '<td class="text-end" id="count-created">2</td>' in page
    assert '<td class="text-end" id="count-held">2</td>' in page
    assert "Không xác định được đơn vị: 2" in page
    db.session.expire_all()
    created = _dossier("G12-0001")
    assert created is not None
    # attributed to the quality officer who uploaded the file
    from qms.models import AuditLog
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_type == "dossier",
                                                        AuditLog.entity_id == created.id)).all()
    assert rows and all(row.actor_id == staff["quality"].id for row in rows)


def test_an_upload_that_is_not_a_register_is_refused_on_the_page(app, source, monday):
    from qms.models import RegisterImport
    from tests.conftest import login

    client = app.test_client()
    login(client, "quality")
    response = _upload(client, source, "Họ tên,Địa chỉ\nAn,Hà Nội\n".encode(), "danh-ba.csv")
    assert response.status_code == 302 and response.location.endswith("/admin/sync")
    page = client.get("/admin/sync").get_data(as_text=True)
    assert "Không phải sổ theo dõi hồ sơ" in page
    assert db.session.scalar(sa.select(sa.func.count(RegisterImport.id))) == 0


def test_a_failed_import_is_recorded_on_its_job_not_lost(app, source, staff, monday):
    from qms import background
    from qms.models import ImportStatus, RegisterImport

    job = register_import.start_upload(source, "so.xlsx", xlsx(register_rows()), actor=staff["quality"], now=monday)
    db.session.commit()
    register_import.upload_path(job.storage_name).unlink()  # the disk lost it meanwhile
    background.run_register_import(app, job.id)
    db.session.expire_all()
    job = db.session.get(RegisterImport, job.id)
    assert job.status is ImportStatus.failed and job.error == "FileNotFoundError" and job.finished_at
    assert db.session.scalar(sa.select(sa.func.count(Dossier.id))) == 0
