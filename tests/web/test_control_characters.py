"""Invisible control characters (a vertical tab pasted from Word, \\x01, NUL) are cleaned at
input — one filter for every form, the same for the JSON API — and escaped at export, so a
spreadsheet of the register never fails on them (issue 14)."""
import inspect
import io
import pkgutil
from importlib import import_module

import pytest
import sqlalchemy as sa
from flask_wtf import FlaskForm
from openpyxl import load_workbook

import qms.web
from qms import clock
from qms.extensions import db
from qms.models import Dossier
from qms.services import dossiers
from qms.text import strip_controls, strip_controls_deep
from qms.web.forms import Form
from tests.api.conftest import PORTAL_DOSSIER, api, tokens, wednesday  # noqa: F401  (fixtures)
from tests.conftest import browser_as, post_form
from tests.dossiers.conftest import at, birth, desk, in_force, staff  # noqa: F401  (fixtures)

DIRTY = "Nguyễn\x0bVăn\x01 An\x00\x7f\x9b"
CLEAN = "Nguyễn\nVăn An"


@pytest.mark.parametrize(("raw", "clean"), [
    (DIRTY, CLEAN),
    ("Dòng 1\r\nDòng 2\tcột", "Dòng 1\r\nDòng 2\tcột"),  # text's own breaks and tabs stay
    ("trang\x0csau", "trang\nsau"),
    ("", ""), (None, None), (7, 7),
])
def test_strip_controls(raw, clean):
    assert strip_controls(raw) == clean


def test_strip_controls_goes_through_json():
    assert strip_controls_deep({"a\x01": [DIRTY, {"b": "x\x00"}], "n": 1}) == {"a": [CLEAN, {"b": "x"}], "n": 1}


def _form_classes():
    for info in pkgutil.walk_packages(qms.web.__path__, "qms.web."):
        module = import_module(info.name)
        for _name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, FlaskForm) and obj.__module__ == module.__name__:
                yield obj


def test_every_form_cleans_its_input():
    forms = list(_form_classes())
    assert len(forms) > 40  # the scan sees the app's forms
    assert [f.__qualname__ for f in forms if not issubclass(f, Form)] == []


def test_a_pasted_control_character_is_cleaned_at_the_desk(app, in_force, desk):  # noqa: F811
    with clock.frozen(at(2026, 11, 20, 14, 0)):
        response = post_form(browser_as(app, "motcua"), "/dossiers/receive", {
            "procedure_id": in_force.id, "applicant_name": DIRTY, "channel": "direct",
            "applicant_address": "Số 1\x0bLê Lợi"})
    assert response.status_code == 200
    dossier = db.session.scalar(sa.select(Dossier))
    assert (dossier.applicant_name, dossier.applicant_address) == (CLEAN, "Số 1\nLê Lợi")


def test_the_api_cleans_what_it_receives(api, in_force):  # noqa: F811
    body = {**PORTAL_DOSSIER, "applicant": {**PORTAL_DOSSIER["applicant"], "name": DIRTY}}
    assert api("onestop").post("/dossiers", json=body).status_code == 201
    assert db.session.scalar(sa.select(Dossier.applicant_name)) == CLEAN


def test_text_stored_before_the_cleaning_still_exports(app, in_force, desk):  # noqa: F811
    """Rows written before this filter existed (or by a script) must not break the export."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                now=at(2026, 11, 25, 8, 0), applicant_name="Tên")
    db.session.flush()
    db.session.execute(sa.update(Dossier).where(Dossier.id == dossier.id)
                       .values(applicant_name=DIRTY.replace("\x00", ""), applicant_address="=1\x01"))
    db.session.commit()
    response = browser_as(app, "motcua").get("/dossiers/register.xlsx")
    assert response.status_code == 200
    row = next(r for r in load_workbook(io.BytesIO(response.data)).active.iter_rows() if r[0].value == 1)
    assert (row[3].value, row[4].value) == (CLEAN, "'=1")
