"""`qms import-procedures` (issue 14): a malformed file is a named problem and a non-zero
exit, never a traceback, and nothing of the run is written; every shipped file imports,
and imports again as unchanged. The schema's cases one by one:
tests/documents/test_procedure_file_schema.py."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from qms.extensions import db
from qms.models import Document, Field, Procedure
from qms.services import demo
from tests.cli.conftest import ROOT
from tests.cli.test_commands import assert_clean_failure
from tests.documents.conftest import birth_data


@pytest.fixture
def fields(orgtree):
    for code, name in demo.FIELDS:
        db.session.add(Field(code=code, name=name))
    db.session.commit()


def procedure(code="1.001193", document="QT-HT-01", **version) -> dict:
    return {"code": code, "name": "Đăng ký khai sinh", "field": "HT", "level": "commune",
            "document": {"code": document, "title": "Quy trình đăng ký khai sinh"},
            "version": birth_data(**version)}


def write(folder: Path, name: str, content) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    text = content if isinstance(content, str) else yaml.safe_dump(content, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def many_steps(count: int) -> list[dict]:
    step = {"name": "Thẩm tra", "kind": "review", "role": "specialist", "hours": 0.25}
    return ([{**step, "kind": "receive", "role": "one_stop"}] + [step] * (count - 2)
            + [{**step, "kind": "return_result", "role": "one_stop"}])


def bad_hours():
    content = procedure()
    content["version"]["steps"][1]["hours"] = [1]
    return content


# name: (the files of one run, the problem printed: {1} and {2} are the files' paths)
BAD_RUNS = {
    "time limit as text": ([procedure(time_limit="abc")],
                           "{1}: version.time_limit: Input should be a valid number"),
    "steps as text": ([procedure(steps="x")], "{1}: version.steps: Input should be a list, not a single text"),
    "components as a number": ([procedure(components=5)], "{1}: version.components: Input should be a valid list"),
    "hours as a list": ([bad_hours()], "{1}: version.steps[2].hours: Input should be a valid number"),
    "one legal basis as text": ([procedure(legal_bases="Luật Hộ tịch 2014")],
                                "{1}: version.legal_bases: Input should be a list, not a single text"),
    "a misspelt key": ([{**procedure(), "nmae": "Đăng ký khai sinh"}], "{1}: nmae: Unknown field"),
    "101 steps": ([procedure(time_limit=4, same_day=False, steps=many_steps(101))],
                  "{1}: version.steps: List should have at most 100 items after validation, not 101"),
    "a procedure code twice": ([procedure(), procedure(document="QT-HT-02")],
                               "{2}: procedure code 1.001193 is also used by {1}"),
    "a document code twice": ([procedure(), procedure(code="1.000002")],
                              "{2}: document code QT-HT-01 is also used by {1}"),
    "a JSON file": (['{"code": "1.001193"}'], "{1}: JSON files are not imported"),
}


@pytest.mark.parametrize("name", BAD_RUNS)
def test_a_bad_file_is_a_named_problem_and_nothing_is_written(app, invoke, fields, tmp_path, name):
    contents, expected = BAD_RUNS[name]
    write(tmp_path, "documents/CSCL.md", "---\ncode: CSCL\ntitle: Chính sách chất lượng\nkind: policy\n---\n\nX\n")
    paths = [write(tmp_path, f"procedures/ht/{index}.{'json' if isinstance(c, str) else 'yaml'}", c)
             for index, c in enumerate(contents, start=1)]
    result = invoke(app, "import-procedures", str(tmp_path), "--owner", "TP-TT")
    assert_clean_failure(result, "error: " + expected.format(None, *paths), "nothing was imported")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Document.id))) == 0


def test_every_shipped_file_imports_and_imports_again_unchanged(app, invoke, fields, tmp_path):
    shipped = ROOT / "procedures_iso"
    files = [p for p in shipped.rglob("*") if p.suffix in (".md", ".yaml") and p.name not in (
        "README.md", "iso9001_2015_clauses.yaml")]
    first = invoke(app, "import-procedures", str(shipped), "--owner", "TP-TT")
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[-1] == f"{len(files)} created"
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(Document.id))) == len(files)
    assert db.session.scalar(sa.select(sa.func.count(Procedure.id))) == len(list(shipped.glob("procedures/*/*.yaml")))
    again = invoke(app, "import-procedures", str(shipped))
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-1] == f"{len(files)} unchanged"
    # What the database gives back reads in as the same content.
    exported = invoke(app, "export-procedures", str(tmp_path / "exported"))
    assert exported.exit_code == 0, exported.output
    back = invoke(app, "import-procedures", str(tmp_path / "exported"))
    assert back.output.splitlines()[-1] == f"{len(files)} unchanged", back.output
