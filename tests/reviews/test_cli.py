"""`qms report monthly`: the report to a file, with progress; bad input is one clear line."""
from __future__ import annotations

import io
import os

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from openpyxl import load_workbook

from qms import clock
from qms.commands import cli
from tests.documents.test_pdf import pdf_text
from tests.reviews.dataset import READ_AT


@pytest.fixture
def run(app):
    def invoke(*args: str):
        with clock.frozen(READ_AT):
            return CliRunner().invoke(cli, ["report", "monthly", *args],
                                      obj=ScriptInfo(create_app=lambda: app))
    return invoke


def test_the_report_as_pdf_and_xlsx(november, run, tmp_path):
    out = tmp_path / "bao-cao.pdf"
    result = run("--department", "a-mc", "--month", "2026-11", "--format", "pdf", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Đang ghi báo cáo" in result.output and "chưa ký" in result.output
    assert "BÁO CÁO XEM XÉT TUÂN THỦ THÁNG 11/2026" in pdf_text(out.read_bytes())
    out = tmp_path / "bao-cao.xlsx"
    result = run("--department", "A-MC", "--month", "2026-11", "--format", "xlsx", "--out", str(out))
    assert result.exit_code == 0, result.output
    book = load_workbook(io.BytesIO(out.read_bytes()))
    late = list(book["Hồ sơ trễ hạn"].iter_rows(values_only=True))
    assert [row[1] for row in late[1:]] == [november["dossiers"]["C"].code, november["dossiers"]["H"].code]


@pytest.mark.parametrize("args,message", [
    (("--department", "KHONG-CO", "--month", "2026-11"), "Không có phòng ban mã “KHONG-CO”"),
    (("--department", "A-MC", "--month", "11/2026"), "Tháng không hợp lệ: “11/2026”"),
    (("--department", "A-MC", "--month", "2027-02"), "Tháng 02/2027 chưa bắt đầu"),
])
def test_bad_department_or_month(november, run, tmp_path, args, message):
    out = tmp_path / "x.pdf"
    result = run(*args, "--out", str(out))
    assert result.exit_code == 1 and message in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_unwritable_or_missing_folder(november, run, tmp_path):
    result = run("--department", "A-MC", "--month", "2026-11", "--out", str(tmp_path / "khong" / "x.pdf"))
    assert result.exit_code == 1 and "Không có thư mục" in result.output
    result = run("--department", "A-MC", "--month", "2026-11", "--out", str(tmp_path))
    assert result.exit_code == 1 and "là một thư mục" in result.output
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "khoa"
        locked.mkdir(mode=0o500)
        result = run("--department", "A-MC", "--month", "2026-11", "--out", str(locked / "x.pdf"))
        assert result.exit_code == 1 and "không có quyền ghi" in result.output
    result = run("--department", "A-MC", "--month", "2026-11", "--format", "doc", "--out", str(tmp_path / "x"))
    assert result.exit_code == 2 and "Traceback" not in result.output
