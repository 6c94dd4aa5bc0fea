"""Citizens' feedback and management reviews for the shared route tests
(tests/web/test_access_matrix.py and tests/web/test_csrf.py). Functions, not fixtures: the
shared fixtures call them and merge the ids they return."""
from __future__ import annotations

from datetime import date

from qms import clock, localtime
from qms.extensions import db
from qms.models import DossierStatus, Role
from qms.services import dossiers, management_reviews
from qms.services import feedback as feedback_service


def _feedback(orgtree):
    return feedback_service.submit_feedback(
        agency=orgtree["ward"], kind="complaint", name="Đinh Thị Thu", contact="0903 111 222",
        content="Hẹn trả kết quả nhưng chưa trả.", now=clock.now())


def _review(orgtree, users, title="Xem xét của lãnh đạo năm 2026"):
    today = localtime.date_of(clock.now())
    return management_reviews.create_review(
        agency=orgtree["ward"], held_on=today, title=title, period_start=today.replace(month=1, day=1),
        period_end=today, chair=users[Role.leader], attendees="", actor=users[Role.quality_officer],
        now=clock.now())


def feedback_matrix_ids(orgtree, users) -> dict:
    """A feedback of the ward not yet assigned (so its officer and head do not read it), and
    a review of the ward with an action of the auditor's."""
    item = _feedback(orgtree)
    review = _review(orgtree, users)
    action = management_reviews.add_action(review, description="Rà soát mục tiêu chất lượng",
                                           owner=users[Role.auditor], due_date=date(2099, 1, 31),
                                           actor=users[Role.leader], now=clock.now())
    db.session.flush()
    return {"feedback_code": item.code, "review_id": review.id, "action_id": action.id}


FEEDBACK_UNKNOWN_IDS = {"feedback_code": "PAKN-2099-9999", "review_id": 987654, "action_id": 987654}

FEEDBACK_CSRF_KEYS = ("fb_code", "fb_rated_code", "fb_rated_secret", "fb_review_id", "fb_closing_review_id",
                      "fb_action_id")


def feedback_csrf_objects(orgtree, users, *, procedure, desk) -> dict:
    """A feedback for the quality officer to assign, answer and raise a nonconformity from; a
    returned dossier (with its lookup secret) to rate; an open review with an action of the
    auditor's, and another one with conclusions, for closing."""
    item = _feedback(orgtree)
    returned, secret = dossiers.receive_dossier(actor=desk, procedure=procedure,
                                                applicant_name="Mai Văn Tiến", now=clock.now())
    returned.status, returned.returned_at = DossierStatus.returned, clock.now()
    review = _review(orgtree, users)
    action = management_reviews.add_action(review, description="Bổ sung nhân lực", owner=users[Role.auditor],
                                           due_date=date(2099, 1, 31), actor=users[Role.leader], now=clock.now())
    closing = _review(orgtree, users, title="Xem xét giữa năm")
    management_reviews.record_conclusions(closing, conclusions="Duy trì hệ thống.", risks="", attendees="",
                                          actor=users[Role.leader], now=clock.now())
    db.session.flush()
    return {"fb_code": item.code, "fb_rated_code": returned.code, "fb_rated_secret": secret,
            "fb_review_id": review.id, "fb_closing_review_id": closing.id, "fb_action_id": action.id}


def feedback_csrf_payloads(o, Post) -> dict:  # noqa: N803  (the shared file's Post class)
    at_feedback = {"feedback_code": o["fb_code"]}
    at_review = {"review_id": o["fb_review_id"]}
    return {
        # Public: the citizen's form and the rating of a returned dossier (pages, not redirects)
        "/gop-y": Post(None, {"agency_id": str(o["agency_id"]), "kind": "complaint", "name": "Tô Văn Hải",
                              "contact": "0904 222 333", "content": "Chưa nhận được kết quả."}, answer=200),
        "/tra-cuu/danh-gia": Post(None, {"rating-code": o["fb_rated_code"], "rating-secret": o["fb_rated_secret"],
                                         "rating-level": "satisfied", "rating-comment": ""}, answer=200),
        # The quality officer handles the feedback (assign, raise a nonconformity, answer)
        "/quality/feedback/<feedback_code>/assign": Post("qualityofficer", {
            "assign-department_id": str(o["culture_id"]), "assign-assignee_id": "0"}, at=at_feedback),
        "/quality/feedback/<feedback_code>/nonconformity": Post("qualityofficer", {
            "nc-department_id": str(o["culture_id"]), "nc-clause": "8.5.1", "nc-severity": "minor",
            "nc-description": "Trả kết quả chậm"}, at=at_feedback),
        "/quality/feedback/<feedback_code>/respond": Post("qualityofficer", {
            "respond-response": "Đã trả kết quả cho công dân."}, at=at_feedback),
        # Management review
        "/reviews/management/new": Post("qualityofficer", {
            "title": "Xem xét quý IV", "held_on": "2026-12-20", "period_start": "2026-10-01",
            "period_end": "2026-12-15", "chair_id": "0", "attendees": ""}),
        "/reviews/management/<int:review_id>/refresh": Post("qualityofficer", {}, at=at_review),
        "/reviews/management/<int:review_id>/conclusions": Post("leader", {
            "conclusions-conclusions": "Hệ thống phù hợp.", "conclusions-risks": "Thiếu nhân lực",
            "conclusions-attendees": "Lãnh đạo"}, at=at_review),
        "/reviews/management/<int:review_id>/actions": Post("leader", {
            "action-description": "Đào tạo công chức", "action-owner_id": str(o["desk_id"]),
            "action-due_date": "2099-06-30"}, at=at_review),
        "/reviews/management/<int:review_id>/actions/<int:action_id>/done": Post(
            "auditor", {}, at={**at_review, "action_id": o["fb_action_id"]}),
        "/reviews/management/<int:review_id>/nonconformity": Post("qualityofficer", {
            "nc-department_id": str(o["culture_id"]), "nc-clause": "9.3", "nc-severity": "minor",
            "nc-description": "Mục tiêu chưa được đo"}, at=at_review),
        "/reviews/management/<int:review_id>/close": Post("leader", {},
                                                          at={"review_id": o["fb_closing_review_id"]}),
    }
