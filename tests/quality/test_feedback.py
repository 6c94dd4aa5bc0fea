"""Citizens' complaints and recommendations (ISO 9001:2015 §9.1.2): the deadline in working
days, who assigns and who answers, the on-time share, and the nonconformity a complaint
raises."""
from datetime import date

import pytest
import sqlalchemy as sa

from qms import authz
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import (
    DayKind,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    NcSource,
    NcStatus,
    Nonconformity,
    Role,
    Severity,
)
from qms.services import calendars, dossiers
from qms.services import feedback as fb
from tests.dossiers.conftest import at

NOW = at(2026, 11, 23, 10, 0)  # a Monday; Tuesday 24/11 is Vietnam Culture Day (a holiday)


@pytest.fixture
def people(make_user, orgtree):
    return {
        "quality": make_user("iso", Role.quality_officer, department=orgtree["office"]),
        "leader": make_user("chutich", Role.leader, department=orgtree["office"]),
        "culture_head": make_user("truongvh", Role.department_head, department=orgtree["culture"]),
        "culture_officer": make_user("canbovh", Role.officer, department=orgtree["culture"]),
        "office_head": make_user("chanhvp", Role.department_head, department=orgtree["office"]),
        "office_officer": make_user("canbovp", Role.officer, department=orgtree["office"]),
        "province_quality": make_user("isotinh", Role.quality_officer, department=orgtree["centre"]),
    }


def _submit(orgtree, now=NOW, **changes):
    values = {"agency": orgtree["ward"], "kind": "complaint", "name": "Trần Thị Lan",
              "contact": "0912 345 678", "content": "Cán bộ hẹn trả kết quả nhưng không trả đúng hẹn.",
              "now": now}
    values.update(changes)
    item = fb.submit_feedback(**values)
    db.session.commit()
    return item


def test_codes_and_the_deadline_in_working_days_over_a_holiday(orgtree):
    first = _submit(orgtree)
    second = _submit(orgtree, kind=FeedbackKind.recommendation)
    assert (first.code, second.code) == ("PAKN-2026-0001", "PAKN-2026-0002")
    assert (first.status, first.kind, second.kind) == (
        FeedbackStatus.received, FeedbackKind.complaint, FeedbackKind.recommendation)
    # 10 working days after Monday 23/11 skip Tuesday 24/11 (holiday) and two weekends:
    # the close of Tuesday 8/12 (without the holiday it would be Monday 7/12)
    assert first.due_at == at(2026, 12, 8, 17, 0)
    # A day off decided by the province moves it one more working day
    calendars.add_override(orgtree["province"], day=date(2026, 12, 4), kind=DayKind.day_off,
                           reason="Nghỉ bù", actor=None)
    assert _submit(orgtree).due_at == at(2026, 12, 9, 17, 0)
    # Received on a Saturday: counting starts on Monday
    assert _submit(orgtree, now=at(2026, 11, 28, 9, 0)).due_at == at(2026, 12, 14, 17, 0)


def test_the_handling_days_are_a_setting(app, orgtree):
    app.config["FEEDBACK_HANDLING_DAYS"] = 2
    try:
        assert _submit(orgtree).due_at == at(2026, 11, 26, 17, 0)  # Wed 25, Thu 26
    finally:
        app.config["FEEDBACK_HANDLING_DAYS"] = 10


def test_the_form_checks_what_it_needs(orgtree):
    with pytest.raises(ValidationError, match="nội dung"):
        _submit(orgtree, content="   ")
    with pytest.raises(ValidationError, match="họ và tên"):
        _submit(orgtree, name="")
    with pytest.raises(ValidationError, match="liên hệ"):
        _submit(orgtree, contact="")
    with pytest.raises(ValidationError, match="4000"):
        _submit(orgtree, content="x" * 4001)
    with pytest.raises(ValidationError, match="cơ quan"):
        _submit(orgtree, agency=None)
    with pytest.raises(ValidationError, match="phản ánh hay kiến nghị"):
        _submit(orgtree, kind="khiếu nại")
    with pytest.raises(ValidationError, match="9.999999"):
        _submit(orgtree, procedure_code="9.999999")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Feedback.id))) == 0


def test_a_dossier_code_is_linked_only_when_it_exists_at_that_agency(in_force, desk, orgtree):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                applicant_name="Trần Thị Lan", now=NOW)
    db.session.commit()
    linked = _submit(orgtree, dossier_code=f" {dossier.code.lower()} ")
    assert (linked.dossier, linked.procedure) == (dossier, in_force)  # the procedure follows
    # Unknown code, or the code of a dossier of another agency: accepted, not linked, no hint
    unknown = _submit(orgtree, dossier_code="TP-A-991231-0001")
    elsewhere = _submit(orgtree, agency=orgtree["province"], dossier_code=dossier.code)
    assert (unknown.dossier, elsewhere.dossier) == (None, None)
    by_procedure = _submit(orgtree, procedure_code="1.001193")
    assert (by_procedure.procedure, by_procedure.dossier) == (in_force, None)


def test_who_assigns(orgtree, people):
    item = _submit(orgtree)
    for stranger in ("culture_officer", "office_head", "province_quality"):
        with pytest.raises(Forbidden):
            fb.assign(item, department=orgtree["culture"], actor=people[stranger], now=NOW)
    with pytest.raises(ValidationError, match="Phường An Hòa"):  # not the ward's department
        fb.assign(item, department=orgtree["centre"], actor=people["quality"], now=NOW)
    with pytest.raises(ValidationError, match="Phòng Văn hóa"):  # assignee of another department
        fb.assign(item, department=orgtree["culture"], assignee=people["office_officer"],
                  actor=people["quality"], now=NOW)
    fb.assign(item, department=orgtree["culture"], actor=people["quality"], now=NOW)
    assert (item.status, item.department, item.assignee) == (
        FeedbackStatus.assigned, orgtree["culture"], None)
    # The head of the department it went to picks the officer, within the department only
    with pytest.raises(Forbidden):
        fb.assign(item, department=orgtree["office"], actor=people["culture_head"], now=NOW)
    fb.assign(item, department=orgtree["culture"], assignee=people["culture_officer"],
              actor=people["culture_head"], now=NOW)
    assert item.assignee == people["culture_officer"]
    # A leader may hand it elsewhere
    fb.assign(item, department=orgtree["office"], actor=people["leader"], now=NOW)
    assert (item.department, item.assignee) == (orgtree["office"], None)


def test_who_answers_and_only_once(orgtree, people):
    item = _submit(orgtree)
    fb.assign(item, department=orgtree["culture"], assignee=people["culture_officer"],
              actor=people["quality"], now=NOW)
    for stranger in ("office_officer", "office_head", "leader"):
        with pytest.raises(Forbidden):
            fb.respond(item, response="Đã xử lý", actor=people[stranger], now=NOW)
    with pytest.raises(ValidationError):
        fb.respond(item, response="  ", actor=people["culture_officer"], now=NOW)
    when = at(2026, 11, 25, 9, 0)
    fb.respond(item, response="Đã trả kết quả cho bà ngày 25/11.", actor=people["culture_officer"], now=when)
    assert (item.status, item.responded_at, item.responded_by) == (
        FeedbackStatus.answered, when, people["culture_officer"])
    with pytest.raises(Conflict, match="đã được trả lời"):
        fb.respond(item, response="Lần nữa", actor=people["quality"], now=when)
    with pytest.raises(Conflict):
        fb.assign(item, department=orgtree["office"], actor=people["quality"], now=when)
    # The head of the handling department, and the quality officer, answer too
    other = _submit(orgtree)
    fb.assign(other, department=orgtree["culture"], assignee=people["culture_officer"],
              actor=people["quality"], now=NOW)
    fb.respond(other, response="Trả lời", actor=people["culture_head"], now=NOW)
    third = _submit(orgtree)
    fb.respond(third, response="Trả lời", actor=people["quality"], now=NOW)
    assert third.status is FeedbackStatus.answered


def test_each_sees_the_feedback_they_handle(orgtree, people):
    mine = _submit(orgtree)
    theirs = _submit(orgtree)
    waiting = _submit(orgtree)
    fb.assign(mine, department=orgtree["culture"], assignee=people["culture_officer"],
              actor=people["quality"], now=NOW)
    fb.assign(theirs, department=orgtree["office"], actor=people["quality"], now=NOW)
    db.session.commit()

    def seen(who):
        return {f.code for f in db.session.scalars(fb.register(people[who], now=NOW))}

    assert seen("quality") == seen("leader") == {mine.code, theirs.code, waiting.code}
    assert seen("culture_officer") == {mine.code}
    assert seen("culture_head") == {mine.code}
    assert seen("office_head") == {theirs.code}
    assert seen("office_officer") == set()
    assert seen("province_quality") == set()  # another agency
    assert [authz.may(people["culture_officer"], "feedback.view", f) for f in (mine, theirs, waiting)] == [True, False, False]


def _row(orgtree, code, received, due, responded=None, agency="ward", kind=FeedbackKind.complaint):
    item = Feedback(code=code, kind=kind, agency=orgtree[agency], name="A", contact="B", content="C",
                    received_at=received, due_at=due, responded_at=responded, response="",
                    status=FeedbackStatus.answered if responded else FeedbackStatus.received)
    db.session.add(item)
    return item


def test_on_time_share_open_and_overdue_on_hand_built_data(orgtree):
    since, until = at(2026, 11, 1), at(2026, 12, 1)
    # received before the period, answered in it, on time
    _row(orgtree, "F1", at(2026, 10, 20), at(2026, 11, 3, 17), responded=at(2026, 11, 2, 9))
    # received and answered in the period: one on time (exactly at the deadline), one late
    _row(orgtree, "F2", at(2026, 11, 5), at(2026, 11, 19, 17), responded=at(2026, 11, 19, 17))
    _row(orgtree, "F3", at(2026, 11, 6), at(2026, 11, 20, 17), responded=at(2026, 11, 24, 8),
         kind=FeedbackKind.recommendation)
    # open at the period's end: one overdue, one not yet due
    _row(orgtree, "F4", at(2026, 11, 10), at(2026, 11, 24, 17))
    _row(orgtree, "F5", at(2026, 11, 27), at(2026, 12, 11, 17))
    # received in the period, answered after it: open at the end, overdue then
    _row(orgtree, "F6", at(2026, 11, 2), at(2026, 11, 16, 17), responded=at(2026, 12, 2, 9))
    # outside: another agency; received after the period
    _row(orgtree, "F7", at(2026, 11, 5), at(2026, 11, 6, 17), responded=at(2026, 11, 30), agency="province")
    _row(orgtree, "F8", at(2026, 12, 1), at(2026, 12, 15, 17))
    db.session.commit()
    assert fb.figures(orgtree["ward"], since=since, until=until) == {
        "received": 5, "complaints": 4, "recommendations": 1,  # F2 F3 F4 F5 F6
        "handled": 3, "handled_on_time": 2, "on_time_rate": 0.6667,  # F1 F2 on time, F3 late
        "open": 3, "overdue": 2}  # F4 F5 F6 open; F4 F6 overdue
    # Asked on 20/11, before the period's end: what is open and overdue that day
    assert fb.figures(orgtree["ward"], since=since, until=until, now=at(2026, 11, 20, 12))[
        "open"] == 3  # F3 F4 F6 (F2 answered 19/11; F5 not yet received)
    nothing = fb.figures(orgtree["ward"], since=at(2027, 1, 1), until=at(2027, 2, 1))
    assert (nothing["handled"], nothing["on_time_rate"]) == (0, None)


def test_a_complaint_raises_one_nonconformity(in_force, desk, orgtree, people):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                applicant_name="Trần Thị Lan", now=NOW)
    item = _submit(orgtree, dossier_code=dossier.code)
    fb.assign(item, department=orgtree["culture"], actor=people["quality"], now=NOW)
    fb.assign(item, department=orgtree["culture"], assignee=people["culture_officer"],
              actor=people["culture_head"], now=NOW)
    with pytest.raises(Forbidden):  # the assignee reads it, but officers do not raise nonconformities
        fb.raise_nc(item, actor=people["culture_officer"], department=orgtree["culture"],
                    clause="8.5.1", severity=Severity.minor, description="Trả chậm", now=NOW)
    db.session.rollback()
    with pytest.raises(Forbidden):  # a head who does not handle it
        fb.raise_nc(item, actor=people["office_head"], department=orgtree["office"],
                    clause="8.5.1", severity=Severity.minor, description="Trả chậm", now=NOW)
    nc = fb.raise_nc(item, actor=people["quality"], department=orgtree["culture"], clause="8.5.1",
                     severity=Severity.minor, description="Hẹn trả nhưng không trả đúng hẹn", now=NOW)
    db.session.commit()
    assert (nc.source, nc.feedback, nc.dossier, nc.procedure, nc.department, nc.status, nc.clause) == (
        NcSource.complaint, item, dossier, in_force, orgtree["culture"], NcStatus.open, "8.5.1")
    assert nc.code == "NC-2026-0001" and nc.detected_by == people["quality"]
    assert fb.nonconformity_of(item) == nc
    with pytest.raises(Conflict, match=nc.code):
        fb.raise_nc(item, actor=people["leader"], department=orgtree["culture"], clause="8.5.1",
                    severity=Severity.major, description="Lần nữa", now=NOW)
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == 1
