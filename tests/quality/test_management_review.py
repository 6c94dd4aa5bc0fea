"""Management review (ISO 9001:2015 §9.3): the inputs gathered from the records equal the
figures counted by hand; the leaders' actions; a closed review refuses edits."""
from datetime import date

import pytest

from qms import authz
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import (
    ActionItem,
    Audit,
    AuditProgramme,
    AuditStatus,
    CarStatus,
    CorrectiveAction,
    DocumentKind,
    DossierStatus,
    Feedback,
    FeedbackKind,
    FeedbackStatus,
    Finding,
    FindingKind,
    NcSource,
    NcStatus,
    Role,
    SatisfactionLevel,
    SatisfactionRating,
    Severity,
)
from qms.services import documents, dossiers, nonconformities
from qms.services import management_reviews as reviews
from tests.dossiers.conftest import at

PERIOD = (date(2026, 11, 1), date(2026, 11, 30))
GATHERED = at(2026, 12, 5, 9, 0)


@pytest.fixture
def people(make_user, orgtree):
    return {
        "quality": make_user("iso", Role.quality_officer, department=orgtree["office"]),
        "leader": make_user("chutich", Role.leader, department=orgtree["office"]),
        "auditor": make_user("danhgia", Role.auditor, department=orgtree["office"]),
        "head": make_user("truongvh", Role.department_head, department=orgtree["culture"]),
        "officer": make_user("canbovh", Role.officer, department=orgtree["culture"]),
        "province_leader": make_user("lanhdaotinh", Role.leader, department=orgtree["centre"]),
    }


# --- hand-built records -------------------------------------------------------------------------
def _audits(orgtree, people):
    ward = AuditProgramme(agency=orgtree["ward"], year=2026, title="Chương trình đánh giá nội bộ 2026")
    province = AuditProgramme(agency=orgtree["province"], year=2026, title="Chương trình của tỉnh")
    lead = people["auditor"].id

    def audit(programme, code, start, end, status):
        item = Audit(code=code, programme=programme, title=f"Đánh giá {code}", planned_start=start,
                     planned_end=end, lead_auditor_id=lead, status=status, clauses=["8.5"])
        db.session.add(item)
        return item

    a1 = audit(ward, "ĐG-2026-02", date(2026, 11, 10), date(2026, 11, 12), AuditStatus.reported)
    audit(ward, "ĐG-2026-03", date(2026, 11, 28), date(2026, 12, 3), AuditStatus.planned)  # overlaps
    a0 = audit(ward, "ĐG-2026-01", date(2026, 3, 3), date(2026, 3, 4), AuditStatus.closed)  # before
    p1 = audit(province, "ĐG-2026-09", date(2026, 11, 10), date(2026, 11, 11), AuditStatus.reported)
    for item, kind in ((a1, FindingKind.minor_nc), (a1, FindingKind.observation), (a1, FindingKind.observation),
                       (a0, FindingKind.major_nc), (p1, FindingKind.minor_nc)):
        db.session.add(Finding(audit=item, kind=kind, department_id=orgtree["culture"].id,
                               description="Phát hiện"))


def _nonconformities(orgtree, people):
    def nc(department, when, source=NcSource.manual, status=None, closed_at=None):
        item = nonconformities.raise_nonconformity(
            actor=people["quality"], department=orgtree[department], description="Mô tả",
            severity=Severity.minor, now=when, source=source, clause="8.5.1")
        if status is not None:
            item.status, item.closed_at = status, closed_at
        return item

    nc("culture", at(2026, 11, 5), status=NcStatus.closed, closed_at=at(2026, 11, 20))  # N1
    nc("office", at(2026, 11, 10), source=NcSource.complaint)  # N2
    nc("culture", at(2026, 10, 20), source=NcSource.audit_finding, status=NcStatus.under_analysis)  # N3
    nc("culture", at(2026, 12, 2))  # N4: after the period
    nc("centre", at(2026, 11, 10))  # N5: the province's
    nc("office", at(2026, 11, 15), status=NcStatus.rejected, closed_at=at(2026, 11, 16))  # N6


def _cars(orgtree, people):
    owner = people["head"]

    def car(code, department, status, created, closed_at=None, item_due=None, check_date=None):
        item = CorrectiveAction(code=code, department=orgtree[department], owner=owner, status=status,
                                created_at=created, closed_at=closed_at, check_date=check_date)
        db.session.add(item)
        if item_due is not None:  # an action item not done
            db.session.add(ActionItem(corrective_action=item, position=1, description="Sửa quy trình",
                                      owner_id=owner.id, due_date=item_due))

    car("C1", "culture", CarStatus.action_planned, at(2026, 11, 1), item_due=date(2026, 11, 15))  # overdue
    car("C2", "office", CarStatus.closed, at(2026, 11, 2), closed_at=at(2026, 11, 25), item_due=date(2026, 11, 5))
    car("C3", "culture", CarStatus.analysis, at(2026, 11, 20))
    car("C4", "culture", CarStatus.analysis, at(2026, 12, 3))  # after the period
    car("C5", "centre", CarStatus.action_planned, at(2026, 11, 1), item_due=date(2026, 11, 5))  # the province's
    car("C6", "culture", CarStatus.verifying, at(2026, 11, 1), check_date=date(2026, 12, 10))
    car("C7", "culture", CarStatus.verifying, at(2026, 11, 1), check_date=date(2026, 11, 25))  # check overdue


def _dossiers(in_force, desk, orgtree):
    def dossier(received, due, processed=None, collected=None):
        item, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                 applicant_name="Công Dân", now=received)
        item.due_at = due
        if processed is not None:
            item.status, item.processed_at = DossierStatus.processed, processed
            if collected is not None:
                item.status, item.returned_at = DossierStatus.returned, collected
        return item

    d1 = dossier(at(2026, 11, 2, 9), at(2026, 11, 10, 17), at(2026, 11, 5, 10), at(2026, 11, 5, 10))  # early
    # on time, though collected after the due date and after the period
    d2 = dossier(at(2026, 11, 3, 9), at(2026, 11, 12, 17), at(2026, 11, 12, 16), at(2026, 12, 3, 9))
    dossier(at(2026, 11, 4, 9), at(2026, 11, 13, 17), at(2026, 11, 30, 23, 30))  # late, last evening
    dossier(at(2026, 10, 28, 9), at(2026, 11, 2, 17), at(2026, 11, 2, 15))  # received before: on time
    dossier(at(2026, 11, 20, 9), at(2026, 11, 25, 17), at(2026, 12, 1, 0, 10))  # returned after
    dossier(at(2026, 11, 25, 9), at(2026, 12, 9, 17))  # still open
    # Steps: one on time at the desk, one late in the culture department, one after the period
    first = d1.steps[0]
    first.completed_at, first.due_at = at(2026, 11, 2, 9, 30), at(2026, 11, 2, 10)
    second = d2.steps[1]
    second.department_id = orgtree["culture"].id
    second.handed_over_at, second.due_at, second.completed_at = (
        at(2026, 11, 3, 10), at(2026, 11, 3, 14), at(2026, 11, 4, 9))
    third = d2.steps[2]
    third.department_id = orgtree["culture"].id
    third.handed_over_at, third.due_at, third.completed_at = (
        at(2026, 11, 4, 9), at(2026, 11, 4, 11), at(2026, 12, 1, 8))
    db.session.add_all([SatisfactionRating(dossier=d1, level=SatisfactionLevel.satisfied, comment="",
                                           rated_at=at(2026, 11, 6)),
                        SatisfactionRating(dossier=d2, level=SatisfactionLevel.dissatisfied, comment="",
                                           rated_at=at(2026, 11, 13))])


def _feedback(orgtree):
    def row(code, received, due, responded=None):
        db.session.add(Feedback(code=code, kind=FeedbackKind.complaint, agency=orgtree["ward"], name="A",
                                contact="B", content="C", received_at=received, due_at=due,
                                responded_at=responded, response="",
                                status=FeedbackStatus.answered if responded else FeedbackStatus.received))

    row("PAKN-2026-0001", at(2026, 11, 3), at(2026, 11, 17, 17), at(2026, 11, 16, 9))  # on time
    row("PAKN-2026-0002", at(2026, 11, 4), at(2026, 11, 18, 17))  # open, overdue


def _objectives(orgtree, people):
    document = documents.create_document(actor=people["quality"], code="MTCL-2026",
                                         title="Mục tiêu chất lượng năm 2026", kind=DocumentKind.objectives,
                                         owner=people["quality"].department)
    version = documents.draft_version(document, actor=people["quality"], title=document.title,
                                      body="Trên 98% hồ sơ đúng hạn.\n", change_summary="", now=at(2026, 11, 23))
    documents.submit(version, actor=people["quality"], now=at(2026, 11, 23))
    documents.approve(version, actor=people["leader"], effective_date=date(2026, 11, 23), now=at(2026, 11, 23))
    draft = documents.create_document(actor=people["quality"], code="MTCL-2027", title="Mục tiêu năm 2027",
                                      kind=DocumentKind.objectives, owner=people["quality"].department)
    documents.draft_version(draft, actor=people["quality"], title=draft.title, body="Dự thảo.\n",
                            change_summary="", now=at(2026, 11, 23))


@pytest.fixture
def records(in_force, desk, orgtree, people):
    _audits(orgtree, people)
    _nonconformities(orgtree, people)
    _cars(orgtree, people)
    _dossiers(in_force, desk, orgtree)
    _feedback(orgtree)
    _objectives(orgtree, people)
    db.session.commit()


def test_inputs_equal_the_figures_counted_by_hand(orgtree, records):
    inputs = reviews.gather_inputs(orgtree["ward"], *PERIOD, now=GATHERED)
    assert inputs["period"] == {"start": "2026-11-01", "end": "2026-11-30"}
    assert inputs["audits"] == {
        "count": 2, "by_status": {"planned": 1, "in_progress": 0, "reported": 1, "closed": 0},
        "findings_by_kind": {"major_nc": 0, "minor_nc": 1, "observation": 2, "improvement": 0},
        "list": [{"code": "ĐG-2026-02", "title": "Đánh giá ĐG-2026-02", "status": "reported",
                  "planned_start": "2026-11-10", "planned_end": "2026-11-12",
                  "findings": {"major_nc": 0, "minor_nc": 1, "observation": 2, "improvement": 0}},
                 {"code": "ĐG-2026-03", "title": "Đánh giá ĐG-2026-03", "status": "planned",
                  "planned_start": "2026-11-28", "planned_end": "2026-12-03",
                  "findings": {"major_nc": 0, "minor_nc": 0, "observation": 0, "improvement": 0}}]}
    assert inputs["nonconformities"] == {
        "opened": 3, "closed": 1, "open": 2,  # N1 N2 N6 opened; N1 closed; N2 N3 open
        "by_status": {"open": 1, "under_analysis": 1, "action_planned": 0, "verifying": 0, "closed": 1,
                      "rejected": 1},
        "by_source": {"manual": 2, "audit_finding": 0, "overdue_step": 0, "overdue_dossier": 0,
                      "late_apology": 0, "complaint": 1, "management_review": 0}}
    assert inputs["corrective_actions"] == {
        "open": 4, "closed": 1, "overdue": 2,  # C1 C3 C6 C7 open; C2 closed; C1 C7 overdue
        "by_status": {"analysis": 1, "action_planned": 1, "verifying": 2, "closed": 1}}
    d = inputs["dossiers"]
    assert (d["received"], d["resolved"], d["early"], d["on_time"], d["late"], d["on_time_rate"]) == (
        5, 4, 1, 2, 1, 0.75)
    assert d["procedures"] == [{"code": "1.001193", "name": "Đăng ký khai sinh", "resolved": 4,
                                "on_time": 3, "late": 1, "on_time_rate": 0.75}]
    assert d["steps"] == {"completed": 2, "late": 1, "on_time_rate": 0.5, "departments": [
        {"code": "A-MC", "name": "Bộ phận một cửa", "completed": 1, "late": 0, "on_time_rate": 1.0},
        {"code": "A-VHXH", "name": "Phòng Văn hóa - Xã hội", "completed": 1, "late": 1, "on_time_rate": 0.0}]}
    assert inputs["feedback"] == {"received": 2, "complaints": 2, "recommendations": 0, "handled": 1,
                                  "handled_on_time": 1, "on_time_rate": 1.0, "open": 1, "overdue": 1}
    assert inputs["satisfaction"]["counts"]["satisfied"] == 1
    assert (inputs["satisfaction"]["total"], inputs["satisfaction"]["rate"]) == (2, 0.5)
    assert inputs["objectives"] == [{"code": "MTCL-2026", "title": "Mục tiêu chất lượng năm 2026",
                                     "version": 1, "effective_date": "2026-11-23"}]
    # Another agency's review sees none of the ward's records
    province = reviews.gather_inputs(orgtree["province"], *PERIOD, now=GATHERED)
    assert (province["audits"]["count"], province["nonconformities"]["opened"],
            province["corrective_actions"]["open"], province["dossiers"]["resolved"]) == (1, 1, 1, 0)


def _review(orgtree, people, actor="leader"):
    review = reviews.create_review(agency=orgtree["ward"], held_on=date(2026, 12, 5),
                                   title="Xem xét của lãnh đạo năm 2026", period_start=PERIOD[0],
                                   period_end=PERIOD[1], chair=people["leader"],
                                   attendees="Chủ tịch, các trưởng phòng", actor=people[actor], now=GATHERED)
    db.session.commit()
    return review


def test_who_holds_a_review_and_what_it_needs(orgtree, people):
    for who in ("officer", "head", "auditor"):
        with pytest.raises(Forbidden):
            _review(orgtree, people, actor=who)
    with pytest.raises(Forbidden):  # a leader of another agency
        _review(orgtree, people, actor="province_leader")
    with pytest.raises(ValidationError, match="kỳ xem xét"):
        reviews.create_review(agency=orgtree["ward"], held_on=date(2026, 12, 5), title="Xem xét",
                              period_start=date(2026, 12, 1), period_end=date(2026, 11, 1), chair=None,
                              attendees="", actor=people["quality"], now=GATHERED)
    with pytest.raises(ValidationError, match="tên cuộc họp"):
        reviews.create_review(agency=orgtree["ward"], held_on=date(2026, 12, 5), title=" ",
                              period_start=PERIOD[0], period_end=PERIOD[1], chair=None, attendees="",
                              actor=people["quality"], now=GATHERED)
    review = _review(orgtree, people, actor="quality")
    assert review.inputs["gathered_at"] == GATHERED.isoformat()
    assert review.inputs["dossiers"]["resolved"] == 0


def test_inputs_are_kept_until_refreshed(orgtree, people, in_force, desk):
    review = _review(orgtree, people)
    item, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                             applicant_name="Công Dân", now=at(2026, 11, 10, 9))
    item.status, item.processed_at = DossierStatus.processed, at(2026, 11, 11, 9)
    db.session.commit()
    assert review.inputs["dossiers"]["resolved"] == 0  # the figures of the day they were gathered
    with pytest.raises(Forbidden):
        reviews.refresh_inputs(review, actor=people["head"], now=at(2026, 12, 6))
    reviews.refresh_inputs(review, actor=people["quality"], now=at(2026, 12, 6))
    db.session.commit()
    assert review.inputs["dossiers"]["resolved"] == 1


def test_actions_conclusions_and_a_closed_review_refuses_edits(orgtree, people):
    review = _review(orgtree, people)
    with pytest.raises(ValidationError, match="trước ngày họp"):
        reviews.add_action(review, description="Rà soát quy trình", owner=people["head"],
                           due_date=date(2026, 12, 1), actor=people["leader"], now=GATHERED)
    with pytest.raises(Forbidden):
        reviews.add_action(review, description="Rà soát quy trình", owner=people["head"],
                           due_date=date(2027, 1, 31), actor=people["officer"], now=GATHERED)
    action = reviews.add_action(review, description="Rà soát quy trình khai sinh", owner=people["head"],
                                due_date=date(2027, 1, 31), actor=people["leader"], now=GATHERED)
    with pytest.raises(ValidationError, match="kết luận"):
        reviews.close(review, actor=people["leader"], now=GATHERED)
    reviews.record_conclusions(review, conclusions="Hệ thống phù hợp và hiệu lực.", risks="Thiếu nhân lực",
                               attendees="Chủ tịch", actor=people["quality"], now=GATHERED)
    nc = reviews.raise_nc(review, actor=people["leader"], department=orgtree["culture"], clause="9.3",
                          severity=Severity.minor, description="Mục tiêu chưa được đo", now=GATHERED)
    assert (nc.source, nc.review) == (NcSource.management_review, review)
    reviews.close(review, actor=people["leader"], now=at(2026, 12, 5, 11))
    db.session.commit()
    frozen = (review.conclusions, review.risks, review.inputs, len(review.actions))

    with pytest.raises(Conflict, match="đã kết thúc"):
        reviews.record_conclusions(review, conclusions="Khác", risks="", attendees="",
                                   actor=people["leader"], now=GATHERED)
    with pytest.raises(Conflict):
        reviews.refresh_inputs(review, actor=people["leader"], now=GATHERED)
    with pytest.raises(Conflict):
        reviews.add_action(review, description="Thêm", owner=people["head"], due_date=date(2027, 1, 31),
                           actor=people["leader"], now=GATHERED)
    with pytest.raises(Conflict):
        reviews.raise_nc(review, actor=people["leader"], department=orgtree["culture"], clause="9.3",
                         severity=Severity.minor, description="Thêm", now=GATHERED)
    with pytest.raises(Conflict):
        reviews.close(review, actor=people["leader"], now=GATHERED)
    db.session.rollback()
    assert (review.conclusions, review.risks, review.inputs, len(review.actions)) == frozen

    # The owner still records that the action is done, once; nobody else does
    with pytest.raises(Forbidden):
        reviews.mark_action_done(action, actor=people["leader"], now=at(2027, 1, 10))
    reviews.mark_action_done(action, actor=people["head"], now=at(2027, 1, 10))
    assert action.done_at == at(2027, 1, 10)
    with pytest.raises(Conflict):
        reviews.mark_action_done(action, actor=people["head"], now=at(2027, 1, 11))


def test_who_reads_a_review(orgtree, people):
    review = _review(orgtree, people)
    assert not authz.may(people["province_leader"], "reviews.view", review)  # another agency
    assert list(db.session.scalars(reviews.reviews_for(people["province_leader"]))) == []
    reviews.add_action(review, description="Báo cáo tỉnh", owner=people["province_leader"],
                       due_date=date(2027, 1, 31), actor=people["leader"], now=GATHERED)
    db.session.commit()
    assert all(authz.may(people[who], "reviews.view", review) for who in ("officer", "head", "auditor", "leader"))
    assert authz.may(people["province_leader"], "reviews.view", review)  # owns an action in it
    assert [r.id for r in db.session.scalars(reviews.reviews_for(people["province_leader"]))] == [review.id]
