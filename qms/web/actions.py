"""The web's one action boundary (DESIGN §4–5: one commit per request, services only flush).

A view that changes something parses its form, checks access, then hands the one service
call to `act`, which commits once and says so — or, when a rule refuses (a
`qms.errors.QmsError`), rolls back whatever was half-done and says why — and the view
redirects (or renders). Anything else raised (an `abort`, a bug) passes through to the
app's error handlers (qms.web.errors), which roll back too.

Nothing else under qms/web commits or rolls back for an HTML page; the JSON API keeps its
own boundary (qms.web.api: it commits, and its error handler rolls back).
tests/web/test_actions.py holds both rules.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import flash

from qms.errors import QmsError
from qms.extensions import db

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What an action came to: true once committed (`value` is the service's result);
    false when the form was invalid or a rule refused (`error`; nothing was written)."""

    committed: bool
    value: T | None = None
    error: QmsError | None = None

    def __bool__(self) -> bool:
        return self.committed


def flash_form_errors(form, *, field_names: bool = True) -> None:
    """Each field's validation errors as a flashed message naming the field (the pages
    that redirect after a POST cannot show them beside the field). `field_names=False`
    flashes the bare messages, for forms whose messages already say which field."""
    for field in form:
        for error in field.errors:
            if isinstance(error, dict | list):  # nested rows report their own fields
                continue
            flash(f"{field.label.text}: {error}" if field_names else error, "danger")


def act(call: Callable[[], T], done: str | Callable[[T], str | None] | None = None, *,
        form=None, field_names: bool = True, refusal: str | None = "danger") -> Outcome[T]:
    """Make one change: `call()` (one service call), then one commit and `done` flashed.

    - `form`, when given, is validated first: if invalid its errors are flashed
      (flash_form_errors, with `field_names`) and nothing is called. Pages that show
      errors beside the fields validate themselves and leave `form` out.
    - `done` is the success message, or a function of the call's result giving it (None:
      no message); it is worked out after the commit, so it may read what the call changed.
    - A QmsError rolls back and its message is flashed with category `refusal` (None: not
      flashed; the caller shows `outcome.error` itself, e.g. on the form).
    """
    if form is not None and not form.validate_on_submit():
        flash_form_errors(form, field_names=field_names)
        return Outcome(False)
    try:
        value = call()
    except QmsError as error:
        db.session.rollback()
        if refusal:
            flash(error.message, refusal)
        return Outcome(False, error=error)
    db.session.commit()
    message = done(value) if callable(done) else done
    if message:
        flash(message, "success")
    return Outcome(True, value)
