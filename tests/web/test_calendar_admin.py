"""The working calendar of each agency: hours and local days, inherited down the tree."""
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from qms.errors import Conflict, ValidationError
from qms.extensions import db
from qms.models import CalendarOverride, DayKind, Role
from qms.services import calendars
from tests.conftest import post_form
from tests.web.conftest import text

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_a_province_decision_applies_to_its_communes_and_the_nearest_wins(orgtree):
    province, ward = orgtree["province"], orgtree["ward"]
    calendars.add_override(province, day=date(2026, 1, 2), kind=DayKind.day_off,
                           reason="TB 01/TB-UBND", actor=None)
    calendars.add_override(province, day=date(2026, 1, 10), kind=DayKind.working_day,
                           reason="TB 01/TB-UBND", actor=None)
    assert not calendars.calendar_for(ward).is_working_day(date(2026, 1, 2))
    assert calendars.calendar_for(ward).is_working_day(date(2026, 1, 10))
    # The ward decides otherwise for 10 January: its own decision wins for the ward only.
    override = calendars.add_override(ward, day=date(2026, 1, 9), kind=DayKind.day_off,
                                      reason="Phường nghỉ", actor=None)
    assert not calendars.calendar_for(ward).is_working_day(date(2026, 1, 9))
    assert calendars.calendar_for(province).is_working_day(date(2026, 1, 9))
    calendars.deactivate_override(override, actor=None)
    assert calendars.calendar_for(ward).is_working_day(date(2026, 1, 9))


def test_the_cached_calendar_follows_changes_in_the_transaction_and_after_it(app, orgtree):
    """calendar_for is read once per transaction, yet never stale: an unflushed change
    counts at once, and another transaction's committed decision after a commit."""
    ward = orgtree["ward"]
    first = calendars.calendar_for(ward)
    assert calendars.calendar_for(ward) is first  # the same transaction: read once
    override = calendars.add_override(ward, day=date(2026, 1, 9), kind=DayKind.day_off,
                                      reason="Phường nghỉ", actor=None)
    assert not calendars.calendar_for(ward).is_working_day(date(2026, 1, 9))
    override.active = False  # not flushed yet
    assert calendars.calendar_for(ward).is_working_day(date(2026, 1, 9))
    db.session.commit()
    assert calendars.calendar_for(ward).is_working_day(date(2026, 1, 9))
    with app.app_context():  # another session (a request, a command) decides and commits
        calendars.add_override(db.session.get(type(ward), ward.id), day=date(2026, 1, 8),
                               kind=DayKind.day_off, reason="Phường nghỉ", actor=None)
        db.session.commit()
        db.session.remove()
    db.session.commit()  # this transaction ends: the next one reads afresh
    assert not calendars.calendar_for(ward).is_working_day(date(2026, 1, 8))


def test_working_hours_are_inherited_and_validated(orgtree):
    province, ward = orgtree["province"], orgtree["ward"]
    assert calendars.working_hours_of(ward).minutes_per_day == 480  # the default
    calendars.set_working_hours(province, "07:30-11:30, 13:00-17:00", actor=None)
    cal = calendars.calendar_for(ward)
    assert cal.add_working_minutes(datetime(2026, 11, 20, 11, 45, tzinfo=VN), 30) == \
        datetime(2026, 11, 20, 13, 30, tzinfo=VN)
    with pytest.raises(ValidationError):
        calendars.set_working_hours(ward, "13:00-17:00, 07:00-11:00", actor=None)
    calendars.set_working_hours(province, "", actor=None)
    assert province.working_hours is None


@pytest.mark.parametrize("day,kind", [
    (date(2026, 11, 24), DayKind.day_off),       # already a holiday
    (date(2026, 11, 23), DayKind.working_day),   # already a working Monday
])
def test_decisions_that_change_nothing_are_refused(orgtree, day, kind):
    with pytest.raises(ValidationError):
        calendars.add_override(orgtree["province"], day=day, kind=kind, reason="x", actor=None)


def test_one_decision_per_day_and_a_reason_is_required(orgtree):
    province = orgtree["province"]
    with pytest.raises(ValidationError):
        calendars.add_override(province, day=date(2026, 12, 26), kind=DayKind.working_day,
                               reason=" ", actor=None)
    calendars.add_override(province, day=date(2026, 12, 26), kind=DayKind.working_day,
                           reason="Làm bù", actor=None)
    with pytest.raises(Conflict):
        calendars.add_override(province, day=date(2026, 12, 26), kind=DayKind.working_day,
                               reason="Làm bù", actor=None)


def test_admin_manages_the_calendar_through_the_page(client, make_user, orgtree):
    from tests.conftest import login

    make_user("admin", Role.admin)
    login(client, "admin")
    province = orgtree["province"]
    page = f"/admin/calendar?agency={province.id}&year=2026"
    assert "Ngày Văn hóa" in text(client.get(page))
    response = post_form(client, f"/admin/calendar/{province.id}/overrides",
                         {"day": "2026-12-26", "kind": "working_day", "reason": "TB 99/TB-UBND"},
                         token_from=page)
    assert response.status_code == 302
    assert "TB 99/TB-UBND" in text(client.get(page))
    response = post_form(client, f"/admin/calendar/{province.id}/overrides",
                         {"day": "2026-11-24", "kind": "day_off", "reason": "x"}, token_from=page)
    assert "vốn đã là ngày nghỉ" in text(client.get(page))
    post_form(client, f"/admin/calendar/{province.id}/hours",
              {"working_hours": "7:00-11:00"}, token_from=page)
    db.session.expire_all()
    assert province.working_hours == "07:00-11:00"
    override = db.session.query(CalendarOverride).one()
    post_form(client, f"/admin/calendar/overrides/{override.id}/deactivate", {}, token_from=page)
    db.session.expire_all()
    assert override.active is False


def test_others_read_the_calendar_but_cannot_change_it(client, make_user, orgtree):
    from tests.conftest import login

    make_user("quality", Role.quality_officer)
    login(client, "quality")
    province = orgtree["province"]
    page = f"/admin/calendar?agency={province.id}"
    assert client.get(page).status_code == 200
    response = post_form(client, f"/admin/calendar/{province.id}/hours",
                         {"working_hours": "07:00-11:00"}, token_from=page)
    assert response.status_code == 403


def test_national_holidays_read_in_the_page_language(client, make_user, orgtree):
    """Issue 15: holiday names in Vietnamese (and English on the English page), dates as
    dd/mm/yyyy."""
    from tests.conftest import login

    make_user("admin", Role.admin)
    login(client, "admin")
    page = f"/admin/calendar?agency={orgtree['province'].id}&year=2026"
    vietnamese = text(client.get(page))
    assert "01/01/2026" in vietnamese and "Tết Dương lịch" in vietnamese and "Tết Nguyên Đán" in vietnamese
    assert "New Year's Day" not in vietnamese
    client.get("/language/en", headers={"Referer": "http://localhost/"})
    english = text(client.get(page))
    assert "New Year's Day" in english and "Tết Dương lịch" not in english
