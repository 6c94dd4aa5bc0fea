"""The web's one action boundary (qms.web.actions.act), and the rule that keeps it the only
one: no page commits, rolls back or flashes a refusal by hand."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import abort, get_flashed_messages
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from wtforms import StringField
from wtforms.validators import DataRequired

import qms.web
from qms.errors import Conflict
from qms.extensions import db
from qms.models import Field
from qms.services import org
from qms.web.actions import act


def _field_codes() -> list[str]:
    return db.session.scalars(sa.select(Field.code).order_by(Field.code)).all()


def _save_field(code: str) -> Field:
    return org.save_field(None, actor=None, code=code, name=f"Lĩnh vực {code}")


@pytest.fixture
def post(app):
    """A POST request context, as a view runs in (flash needs the session)."""
    with app.test_request_context("/", method="POST"):
        yield


# --- the helper -----------------------------------------------------------------------------
def test_success_commits_once_and_flashes_the_message(post):
    outcome = act(lambda: _save_field("LV-A"), lambda field: f"Đã lưu {field.code}.")
    db.session.rollback()  # would drop anything not committed
    assert outcome and outcome.committed and outcome.error is None
    assert outcome.value.code == "LV-A"
    assert _field_codes() == ["LV-A"]
    assert get_flashed_messages(with_categories=True) == [("success", "Đã lưu LV-A.")]


def test_a_refusal_rolls_back_what_was_flushed_and_flashes_why(post):
    def half_done():
        _save_field("LV-B")  # flushed, then the rule refuses
        raise Conflict("Mã lĩnh vực đã có.")

    outcome = act(half_done, "never said")
    assert not outcome and outcome.value is None
    assert isinstance(outcome.error, Conflict)
    assert _field_codes() == []  # nothing written
    assert get_flashed_messages(with_categories=True) == [("danger", "Mã lĩnh vực đã có.")]


def test_a_refusal_can_be_left_to_the_caller_to_show(post):
    outcome = act(lambda: org.save_field(None, actor=None, code="", name="x"), "never said", refusal=None)
    assert outcome.error is not None and outcome.error.message
    assert get_flashed_messages() == []


def test_an_invalid_form_is_flashed_and_nothing_is_called(app):
    class NameForm(FlaskForm):
        name = StringField("Tên", validators=[DataRequired(message="Hãy nhập tên.")])

    calls = []
    for field_names, expected in ((True, "Tên: Hãy nhập tên."), (False, "Hãy nhập tên.")):
        with app.test_request_context("/", method="POST", data={"name": ""}):
            form = NameForm(meta={"csrf": False})
            outcome = act(lambda: calls.append(1), "never said", form=form, field_names=field_names)
            assert not outcome and outcome.error is None
            assert get_flashed_messages(with_categories=True) == [("danger", expected)]
    assert calls == []


def test_other_exceptions_pass_through_to_the_error_handlers(post):
    with pytest.raises(NotFound):
        act(lambda: abort(404), "never said")
    assert get_flashed_messages() == []


# --- no private copies --------------------------------------------------------------------
WEB = Path(qms.web.__file__).parent
BOUNDARY = WEB / "actions.py"
# The JSON API is its own boundary: it commits, and its error handler rolls back (a flash
# means nothing to an API client). qms.web.errors rolls back whatever a failed request did.
OWN_TRANSACTIONS = (WEB / "api", WEB / "errors.py")
PRIVATE_COPIES = {"_act", "_refused", "_me", "_saved", "_flash_errors", "flash_form_errors"}
DOMAIN_ERRORS = {"QmsError", "ValidationError", "Forbidden", "NotFound", "Conflict", "FileProblems"}


def _names(node: ast.expr | None) -> set[str]:
    if node is None:
        return set()
    if isinstance(node, ast.Tuple):
        return set().union(*(_names(element) for element in node.elts))
    if isinstance(node, ast.Attribute):
        return {node.attr}
    return {node.id} if isinstance(node, ast.Name) else set()


def _is_session_call(node: ast.AST) -> bool:
    """`<...>.session.commit()` / `.rollback()`, or `session.commit()`."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("commit", "rollback")):
        return False
    owner = node.func.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "session") or (
        isinstance(owner, ast.Name) and owner.id == "session")


def violations(source: str, *, may_commit: bool = False) -> list[str]:
    """What in a module of qms/web does the boundary's work by hand."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in PRIVATE_COPIES:
            found.append(f"line {node.lineno}: defines {node.name}()")
        if _is_session_call(node) and not may_commit:
            found.append(f"line {node.lineno}: session.{node.func.attr}() outside qms.web.actions.act")
        if isinstance(node, ast.ExceptHandler) and _names(node.type) & DOMAIN_ERRORS:
            flashes = [call for call in ast.walk(node) if isinstance(call, ast.Call)
                       and isinstance(call.func, ast.Name) and call.func.id == "flash"]
            if flashes:
                found.append(f"line {node.lineno}: flashes a refusal by hand (use act)")
    return found


def test_the_checker_finds_a_hand_written_action():
    copy = '''
def _refused(error):
    db.session.rollback()
    flash(error.message, "danger")

def view():
    try:
        service()
    except (ValueError, QmsError) as error:
        flash(error.message, "danger")
    else:
        db.session.commit()
'''
    assert len(violations(copy)) == 4
    assert violations("def view():\n    act(lambda: service(), 'done')\n") == []


def test_only_the_boundary_commits_rolls_back_or_flashes_a_refusal():
    modules = sorted(WEB.rglob("*.py"))
    assert len(modules) > 40 and BOUNDARY in modules
    # Not vacuous: the boundary's own code, anywhere else, would be four violations
    # (defining flash_form_errors, the rollback, the refusal flashed, the commit).
    assert len(violations(BOUNDARY.read_text(encoding="utf-8"))) == 4
    problems = {}
    for path in modules:
        if path == BOUNDARY:
            continue
        own = any(path == place or place in path.parents for place in OWN_TRANSACTIONS)
        found = violations(path.read_text(encoding="utf-8"), may_commit=own)
        if found:
            problems[str(path.relative_to(WEB.parent.parent))] = found
    assert problems == {}
