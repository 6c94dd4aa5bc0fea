"""The base form, fields, widgets and choice helpers shared by the blueprints' forms."""
import sqlalchemy as sa
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import PasswordField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput

from qms.extensions import db
from qms.models import Agency, Department
from qms.text import strip_controls


class Form(FlaskForm):
    """Every form of the app: CSRF (flask-wtf), and each field's input cleaned of invisible
    control characters before it is validated or stored (qms.text.strip_controls)."""

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field_class = unbound_field.field_class
            # Typed text and text areas; a password is taken exactly as typed.
            if issubclass(field_class, StringField) and not issubclass(field_class, PasswordField):
                options["filters"] = [strip_controls, *(options.get("filters") or ())]
            return unbound_field.bind(form=form, **options)


def _checkbox_list(field, **kwargs):
    """Bootstrap's form-check markup, one checkbox per choice."""
    html = [f'<div id="{field.id}">']
    for option in field:
        # No `required` on each box: a browser then demands every box be ticked; the
        # field's validator ("at least one") checks the group on the server.
        html.append(f'<div class="form-check">{option(class_="form-check-input", required=False)} '
                    f'{option.label(class_="form-check-label")}</div>')
    html.append("</div>")
    # wtforms' own (escaped) widgets and the field's id, set in code
    return Markup("".join(html))  # nosec B704


class MultiCheckboxField(SelectMultipleField):
    widget = staticmethod(_checkbox_list)
    option_widget = CheckboxInput()


def department_choices(include_inactive: bool = False, agency_id: int | None = None):
    query = sa.select(Department).join(Department.agency).order_by(Agency.code, Department.code)
    if not include_inactive:
        query = query.where(Department.active.is_(True))
    if agency_id is not None:
        query = query.where(Department.agency_id == agency_id)
    return [(d.id, f"{d.code} — {d.name} ({d.agency.name})") for d in db.session.scalars(query)]


def agency_choices(blank_label=None, exclude_id=None):
    choices = [(0, blank_label or "—")]
    for agency in db.session.scalars(sa.select(Agency).order_by(Agency.code)):
        if agency.id != exclude_id:
            choices.append((agency.id, f"{agency.code} — {agency.name}"))
    return choices
