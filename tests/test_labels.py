"""Every member of every labelled enum carries its label, in Vietnamese and in English: a new
member without a label fails here, not on a page."""
import pytest
from flask_babel import force_locale

import qms.models as models
from qms.models.base import LabelledEnum


def labelled_enums() -> list[type[LabelledEnum]]:
    found, todo = [], list(LabelledEnum.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: cls.__name__)


def test_the_enums_shown_to_users_are_labelled():
    shown = {models.DossierStatus, models.Timeliness, models.Channel, models.EventKind,
             models.CarStatus, models.NcStatus, models.NcSource, models.Severity,
             models.AuditStatus, models.ChecklistResult, models.FindingKind,
             models.FeedbackKind, models.FeedbackStatus, models.SatisfactionLevel,
             models.DocumentKind, models.VersionStatus, models.TimeUnit, models.OnlineLevel,
             models.StepRole, models.SupplementRule, models.AgencyLevel, models.Role}
    assert shown <= set(labelled_enums())


@pytest.mark.parametrize("enum_class", labelled_enums(), ids=lambda cls: cls.__name__)
def test_every_member_has_a_vietnamese_and_an_english_label(app, enum_class):
    with app.test_request_context():
        with force_locale("vi"):
            vietnamese = {member: member.label for member in enum_class}
        with force_locale("en"):
            english = {member: member.label for member in enum_class}
    for member in enum_class:
        assert vietnamese[member].strip(), f"{member} has no label"
        assert english[member].strip(), f"{member} has no English label"
        assert english[member] != vietnamese[member], f"{member}'s label is not translated"


def test_a_str_enum_equals_the_strings_sql_returns():
    assert models.Timeliness.late == "late"
    assert models.Timeliness.value_labels()["on_time"] is models.Timeliness.on_time.lazy_label
