"""procedures_iso/ files against their schema (issue 14): every malformed value is a problem
named by file and field path, never a traceback; every problem of every file is reported in
one run, and one bad file writes nothing. The same values through `qms import-procedures`:
tests/cli/test_import_procedures.py."""
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from qms.extensions import db
from qms.models import Document, Procedure, VersionStatus
from qms.services import procedure_files, procedures
from tests.documents.conftest import NOW, birth_data
from tests.documents.test_procedure_files import fields, write_policy, write_procedure  # noqa: F401

STEP = {"name": "Thẩm tra", "kind": "review", "role": "specialist", "hours": 0.25}

# (change to a good file, the field path named, what the problem says). Each one of these
# was a traceback, a silent default or a value stored wrong before the schema.
MALFORMED = [
    (lambda c: c["version"].update(time_limit="abc"), "version.time_limit", "Input should be a valid number"),
    (lambda c: c["version"].update(steps="x"), "version.steps", "not a single text"),
    (lambda c: c["version"].update(components=5), "version.components", "Input should be a valid list"),
    (lambda c: c["version"]["steps"][1].update(hours=[1]), "version.steps[2].hours",
     "Input should be a valid number"),
    (lambda c: c["version"]["components"][0].update(originals="abc"), "version.components[1].originals",
     "Input should be a valid integer"),
    (lambda c: c.update(code=1.001193), "code", "put it in quotes"),
    (lambda c: c.update(name=["Đăng ký khai sinh"]), "name", "Input should be a valid string"),
    (lambda c: c.update(document=["QT-HT-01"]), "document", "Input should be a mapping"),
    (lambda c: c.update(agencies=5), "agencies", "Input should be a valid list"),
    (lambda c: c["document"].update(review_interval_months="x"), "document.review_interval_months",
     "Input should be a valid integer"),
    (lambda c: c["version"].update(time_limit=float("nan")), "version.time_limit", "finite number"),
    (lambda c: c["version"].update(time_limit=10**9), "version.time_limit", "less than or equal to 365"),
    (lambda c: c["version"].update(time_limit=1.125, time_unit="working_hours"), "version.time_limit",
     "no more than 2 decimal places"),
    (lambda c: c["version"].update(same_day="maybe"), "version.same_day", "Input should be a valid boolean"),
    (lambda c: c["version"].update(supplement_max=-1), "version.supplement_max", "greater than or equal to 0"),
    (lambda c: c["version"].update(legal_bases=[{"Luật Hộ tịch": "60/2014/QH13"}]), "version.legal_bases[1]",
     "YAML read ': ' in it as a mapping"),
    (lambda c: c["version"].update(pauses="verification"), "version.pauses", "not a single text"),
    (lambda c: c["version"]["steps"].append("Trả kết quả"), "version.steps[5]", "Input should be a mapping"),
    (lambda c: c["version"]["steps"][0].update(kind="tiep_nhan"), "version.steps[1].kind",
     "Input should be 'receive', "),
    (lambda c: c["version"].update(cases=[{"key": "k", "name": "K", "time_limit": 1,
                                           "time_unit": "working_days", "steps": "x"}]),
     "version.cases[1].steps", "not a single text"),
    (lambda c: c.update(name="x" * 1001), "name", "String should have at most 1000 characters"),
    (lambda c: c["document"].update(code="QT-" + "X" * 30), "document.code", "at most 32 characters"),
    # A misspelt key would leave the default in its place without a word.
    (lambda c: c["version"].update(legal_basis=c["version"].pop("legal_bases")), "version.legal_basis",
     "Unknown field"),
    (lambda c: c["version"]["steps"][0].update(hour=1), "version.steps[1].hour", "Unknown field"),
]


def write_yaml(path: Path, content) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def procedure_content(**meta) -> dict:
    content = {"code": "1.001193", "name": "Đăng ký khai sinh", "field": "HT", "level": "commune",
               "document": {"code": "QT-HT-01", "title": "Quy trình đăng ký khai sinh"},
               "version": birth_data()}
    content.update(meta)
    return content


def refused(folder: Path) -> list[str]:
    with pytest.raises(procedure_files.FileProblems) as raised:
        procedure_files.import_tree(folder, now=NOW, default_owner="A-MC")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Document.id))) == 0
    return raised.value.problems


@pytest.mark.parametrize("change,where,message", MALFORMED, ids=[m[1] + ":" + m[2] for m in MALFORMED])
def test_a_malformed_value_is_named_by_file_and_field(tmp_path, fields, change, where, message):  # noqa: F811
    write_policy(tmp_path)
    content = procedure_content()
    change(content)
    path = write_yaml(tmp_path / "procedures" / "ht" / "1.001193.yaml", content)
    problems = refused(tmp_path)
    assert any(p.startswith(f"{path}: {where}: ") and message in p for p in problems), problems


def test_every_problem_of_every_file_in_one_run(tmp_path, fields):  # noqa: F811
    content = procedure_content()
    content["version"].update(time_limit="abc", components=5)
    content["version"]["steps"][1]["hours"] = [1]
    first = write_yaml(tmp_path / "procedures" / "ht" / "a.yaml", content)
    second = write_yaml(tmp_path / "procedures" / "ht" / "b.yaml",
                        procedure_content(code="1.000002", level="village",
                                          document={"code": "QT-HT-02", "title": "Quy trình"}))
    policy = tmp_path / "documents" / "CSCL.md"
    policy.parent.mkdir(parents=True)
    policy.write_text("---\ncode: CSCL\ntitle: [Chính sách]\nkind: policy\nreview_interval_months: 0\n"
                      "titel: Chính sách chất lượng\n---\n\nPhục vụ nhân dân.\n", encoding="utf-8")
    assert sorted(refused(tmp_path)) == sorted([
        f"{first}: version.time_limit: Input should be a valid number",
        f"{first}: version.components: Input should be a valid list",
        f"{first}: version.steps[2].hours: Input should be a valid number",
        f"{second}: level: Input should be 'province', 'district' or 'commune'",
        f"{policy}: title: Input should be a valid string",
        f"{policy}: review_interval_months: Input should be greater than or equal to 1",
        f"{policy}: titel: Unknown field (misspelt, or in the wrong place?)",
    ])


def test_a_single_legal_basis_as_text_is_refused_not_split_into_letters(tmp_path, fields):  # noqa: F811
    path = write_procedure(tmp_path, birth_data(legal_bases="Luật Hộ tịch 2014"))
    assert refused(tmp_path) == [
        f"{path}: version.legal_bases: Input should be a list, not a single text: "
        "write each item on its own line after '- '"]
    write_procedure(tmp_path, birth_data(legal_bases=["Luật Hộ tịch 2014"]))
    procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    version = db.session.scalar(sa.select(Procedure)).document.versions[0]
    assert procedures.procedure_data_of(version)["legal_bases"] == ["Luật Hộ tịch 2014"]


def test_the_same_procedure_code_in_two_files_names_both(tmp_path, fields):  # noqa: F811
    first = write_procedure(tmp_path)
    second = write_yaml(tmp_path / "procedures" / "ht" / "copy.yaml",
                        procedure_content(document={"code": "QT-HT-02", "title": "Bản sao"}))
    assert refused(tmp_path) == [f"{second}: procedure code 1.001193 is also used by {first}"]


def test_the_same_document_code_in_two_files_names_both(tmp_path, fields):  # noqa: F811
    first = write_procedure(tmp_path)
    # The codes are compared as the import stores them: upper case.
    second = write_yaml(tmp_path / "procedures" / "ht" / "other.yaml",
                        procedure_content(code="1.000002", document={"code": "qt-ht-01", "title": "Khác"}))
    assert refused(tmp_path) == [f"{second}: document code QT-HT-01 is also used by {first}"]


def test_a_file_cannot_give_its_document_to_another_procedure(tmp_path, fields):  # noqa: F811
    write_procedure(tmp_path)
    procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    db.session.commit()
    renamed = write_procedure(tmp_path, code="1.000002")  # same document QT-HT-01
    (tmp_path / "procedures" / "ht" / "1.001193.yaml").unlink()
    with pytest.raises(procedure_files.FileProblems) as raised:
        procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    db.session.rollback()
    assert raised.value.problems == [
        f"{renamed}: document QT-HT-01 is the process of procedure 1.001193, not 1.000002"]
    assert db.session.scalars(sa.select(Procedure.code)).all() == ["1.001193"]


def steps(count: int) -> list[dict]:
    return ([{**STEP, "name": "Tiếp nhận", "kind": "receive", "role": "one_stop"}]
            + [STEP] * (count - 2) + [{**STEP, "name": "Trả kết quả", "kind": "return_result"}])


def test_a_process_has_at_most_a_hundred_steps(tmp_path, fields):  # noqa: F811
    # 100 quarter hours fit 4 working days; one step more is refused by the cap, not the limit.
    limit = {"time_limit": 4, "time_unit": "working_days", "same_day": False}
    write_procedure(tmp_path, birth_data(**limit, steps=steps(procedure_files.STEPS_MAX)))
    results = procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    assert [r.outcome for r in results] == ["created"]
    db.session.rollback()
    path = write_procedure(tmp_path, birth_data(**limit, steps=steps(procedure_files.STEPS_MAX + 1)))
    assert refused(tmp_path) == [f"{path}: version.steps: List should have at most 100 items after "
                                 "validation, not 101"]
    # 20,000 steps (a control slip of a minute) are one problem, found without reading them.
    write_procedure(tmp_path, birth_data(**limit, steps=steps(20_000)))
    assert refused(tmp_path) == [f"{path}: version.steps: List should have at most 100 items after "
                                 "validation, not 20000"]
    case = {"key": "k", "name": "K", **limit, "steps": steps(101)}
    write_procedure(tmp_path, birth_data(cases=[case]))
    assert refused(tmp_path) == [f"{path}: version.cases[1].steps: List should have at most 100 items "
                                 "after validation, not 101"]


@pytest.mark.parametrize("where,value,message", [
    ("components", [{"name": "Tờ khai"}] * 201, "List should have at most 200 items after validation, not 201"),
    ("legal_bases", ["Luật"] * 51, "List should have at most 50 items after validation, not 51"),
    ("fee", "x" * 2001, "String should have at most 2000 characters"),
], ids=["components", "legal_bases", "fee"])
def test_lists_and_texts_are_capped(tmp_path, fields, where, value, message):  # noqa: F811
    path = write_procedure(tmp_path, birth_data(**{where: value}))
    assert refused(tmp_path) == [f"{path}: version.{where}: {message}"]


def test_json_files_are_refused_by_name(tmp_path, fields):  # noqa: F811
    write_policy(tmp_path)
    json_file = tmp_path / "procedures" / "ht" / "1.001193.json"
    json_file.parent.mkdir(parents=True)
    json_file.write_text('{"code": "1.001193"}', encoding="utf-8")
    expected = (f"{json_file}: JSON files are not imported; write the procedure as YAML in a .yaml file "
                "(JSON is valid YAML: renaming the file is enough)")
    assert refused(tmp_path) == [expected]  # in a folder: not silently skipped
    assert refused(json_file) == [expected]  # named alone: not read as YAML either
    other = tmp_path / "notes.txt"
    other.write_text("x", encoding="utf-8")
    assert refused(other) == [f"{other}: only .md, .yaml and .yml files are imported"]


def test_upper_case_suffixes_are_read_by_their_format(tmp_path, fields):  # noqa: F811
    policy = write_policy(tmp_path)
    policy.rename(policy.with_suffix(".MD"))
    procedure = write_procedure(tmp_path)
    procedure.rename(procedure.with_suffix(".YAML"))
    results = procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    assert sorted(r.document_code for r in results) == ["CSCL", "QT-HT-01"]


def test_empty_values_are_defaults_and_control_characters_are_dropped(tmp_path, fields):  # noqa: F811
    path = write_procedure(tmp_path)
    text = path.read_text(encoding="utf-8").replace("fee: Miễn lệ phí", "fee:")
    text = text.replace("name: Đăng ký khai sinh", 'name: "Đăng ký\\0 khai sinh\\ud800"')
    path.write_text(text, encoding="utf-8")
    procedure_files.import_tree(tmp_path, now=NOW, default_owner="A-MC")
    db.session.commit()  # PostgreSQL refuses a NUL in text: none is left to refuse
    procedure = db.session.scalar(sa.select(Procedure))
    assert procedure.name == "Đăng ký khai sinh"
    version = procedure.document.versions[0]
    assert version.status is VersionStatus.effective
    assert procedures.procedure_data_of(version)["fee"] == ""
