"""procedures_iso/ import and export: new → effective, changed → draft, unchanged → nothing,
one bad file → nothing written; export → import is a no-op."""
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from qms.extensions import db
from qms.models import Document, Field, Procedure, VersionStatus
from qms.services import procedure_files, procedures
from tests.documents.conftest import NOW, birth_data

ROOT = Path(__file__).resolve().parents[2]


def write_procedure(folder: Path, data: dict | None = None, **meta) -> Path:
    content = {"code": "1.001193", "name": "Đăng ký khai sinh", "field": "HT", "level": "commune",
               "document": {"code": "QT-HT-01", "title": "Quy trình đăng ký khai sinh"},
               "version": data or birth_data()}
    content.update(meta)
    path = folder / "procedures" / "ht" / f"{content['code']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_policy(folder: Path, body: str = "Phục vụ nhân dân.") -> Path:
    path = folder / "documents" / "CSCL.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ncode: CSCL\ntitle: Chính sách chất lượng\nkind: policy\n---\n\n{body}\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def fields(orgtree):
    db.session.add(Field(code="HT", name="Hộ tịch"))
    db.session.commit()


def run_import(folder, owner="A-MC"):
    results = procedure_files.import_tree(folder, now=NOW, default_owner=owner)
    db.session.commit()
    return {r.document_code: r for r in results}


def test_new_files_become_effective_first_versions(tmp_path, fields):
    write_procedure(tmp_path)
    write_policy(tmp_path)
    results = run_import(tmp_path)
    assert {code: r.outcome for code, r in results.items()} == {"QT-HT-01": "created", "CSCL": "created"}
    procedure = db.session.scalar(sa.select(Procedure).where(Procedure.code == "1.001193"))
    version = procedure.document.versions[0]
    assert version.status is VersionStatus.effective and version.effective_date.isoformat() == "2026-11-23"
    assert procedures.procedure_data_of(version) == birth_data()
    assert procedure.search_text == "1.001193 dang ky khai sinh"


def test_unchanged_files_do_nothing_and_changed_ones_become_drafts_with_a_diff(tmp_path, fields):
    write_procedure(tmp_path)
    write_policy(tmp_path)
    run_import(tmp_path)
    assert {r.outcome for r in run_import(tmp_path).values()} == {"unchanged"}

    changed = birth_data()
    changed["steps"][1]["hours"] = 0.75
    changed["steps"].insert(3, {"name": "Vào sổ, đóng dấu", "kind": "issue", "role": "clerk",
                                "responsible": "Văn thư", "hours": 0.25, "output": ""})
    changed["legal_bases"].append("Nghị định số 123/2015/NĐ-CP")
    write_procedure(tmp_path, changed)
    write_policy(tmp_path, "Phục vụ nhân dân tận tình.")
    results = run_import(tmp_path)
    assert results["QT-HT-01"].outcome == "draft" and results["QT-HT-01"].version_number == 2
    diff = "\n".join(results["QT-HT-01"].diff)
    assert "Bước “Thẩm tra, dự thảo giấy khai sinh”: thời gian 1 → 0,75 giờ." in diff
    assert "Thêm bước 4: Vào sổ, đóng dấu (0,25 giờ)." in diff
    assert "Thêm căn cứ pháp lý: Nghị định số 123/2015/NĐ-CP." in diff
    assert "+Phục vụ nhân dân tận tình." in "\n".join(results["CSCL"].diff)
    document = db.session.scalar(sa.select(Document).where(Document.code == "QT-HT-01"))
    # The effective version is untouched: the change waits for approval as a draft.
    assert [v.status for v in document.versions] == [VersionStatus.effective, VersionStatus.draft]
    assert procedures.procedure_data_of(document.versions[0]) == birth_data()
    # Importing the same change again does not pile up drafts.
    assert run_import(tmp_path)["QT-HT-01"].outcome == "unchanged"


def test_a_bad_file_names_file_and_field_and_nothing_is_written(tmp_path, fields):
    write_policy(tmp_path)
    too_long = birth_data(time_limit=10, time_unit="working_days", same_day=False)
    too_long["steps"][1]["hours"] = 8 * 12 - 4  # 12 working days in all
    bad = write_procedure(tmp_path, too_long, code="1.000001",
                          document={"code": "QT-DD-09", "title": "Cấp đổi giấy chứng nhận"})
    with pytest.raises(procedure_files.FileProblems) as refused:
        procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    db.session.rollback()
    message = "\n".join(refused.value.problems)
    assert str(bad) in message
    assert "Tổng thời gian các bước (12 ngày làm việc) vượt thời hạn giải quyết theo quy định (10 ngày làm việc)" in message
    assert db.session.scalar(sa.select(sa.func.count(Document.id))) == 0  # not even the good file


@pytest.mark.parametrize("mutate,expected", [
    (lambda d: d["version"].pop("time_unit"), "version.time_unit: Field required"),
    (lambda d: d.pop("name"), "name: Field required"),
    (lambda d: d.update(level="village"), "level: Input should be 'province', 'district' or 'commune'"),
    (lambda d: d.update(field="XX"), "field 'field': no field with code XX"),
    (lambda d: d["version"]["steps"].pop(0), "Bước đầu tiên phải là bước tiếp nhận"),
    (lambda d: d["version"]["steps"][1].update(hours=0.2), "Bước 2: thời gian"),
])
def test_each_kind_of_mistake_is_named(tmp_path, fields, mutate, expected):
    path = write_procedure(tmp_path)
    content = yaml.safe_load(path.read_text(encoding="utf-8"))
    mutate(content)
    path.write_text(yaml.safe_dump(content, allow_unicode=True), encoding="utf-8")
    with pytest.raises(procedure_files.FileProblems) as refused:
        procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    assert any(expected in p and str(path) in p for p in refused.value.problems), refused.value.problems


def test_export_then_import_is_unchanged_and_files_round_trip(tmp_path, fields):
    source = tmp_path / "source"
    write_procedure(source)
    write_policy(source)
    run_import(source)
    exported = tmp_path / "exported"
    written = procedure_files.export_tree(exported)
    assert sorted(p.relative_to(exported).as_posix() for p in written) == [
        "documents/CSCL.md", "procedures/ht/1.001193.yaml"]
    assert {r.outcome for r in run_import(exported).values()} == {"unchanged"}
    again = tmp_path / "again"
    procedure_files.export_tree(again)
    for path in written:
        assert (again / path.relative_to(exported)).read_text() == path.read_text()
    parsed = yaml.safe_load((exported / "procedures/ht/1.001193.yaml").read_text())
    assert parsed["version"]["steps"][1]["responsible"] == "Công chức Tư pháp - Hộ tịch"


def test_search_ignores_accents_and_case(tmp_path, fields):
    write_procedure(tmp_path)
    run_import(tmp_path)
    for query in ("khai sinh", "KHAI SINH", "đăng ký", "dang ky khai", "1.001193"):
        assert [p.code for p in db.session.scalars(procedures.search(query))] == ["1.001193"], query
    assert db.session.scalars(procedures.search("kết hôn")).all() == []
    assert db.session.scalars(procedures.search("100%_")).all() == []


def test_durations_read_as_the_office_writes_them(app):
    with app.test_request_context():
        assert procedures.format_duration(210) == "3,5 giờ làm việc"
        assert procedures.format_duration(480 + 90) == "1 ngày 1,5 giờ làm việc"
        assert procedures.format_duration(2 * 480) == "2 ngày làm việc"
