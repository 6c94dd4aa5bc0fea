"""The feedback pages: the public form (no login, rate-limited, honeypot) and the staff's
list and handling page."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from qms import clock, localtime
from qms.extensions import db
from qms.models import Feedback, FeedbackKind, FeedbackStatus, NcSource, Nonconformity, Role
from qms.services import feedback as fb
from tests.conftest import csrf_token, login, post_form
from tests.web.conftest import field_errors, flashes, table_rows, text

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def _count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Feedback.id)))


def _form(orgtree, **changes):
    data = {"agency_id": str(orgtree["ward"].id), "kind": "complaint", "name": "Nguyễn Thị Hoa",
            "contact": "hoa@example.vn", "content": "Bộ phận một cửa hẹn trả nhưng chưa trả kết quả.",
            "dossier_code": "", "procedure_code": ""}
    data.update(changes)
    return data


def test_a_citizen_sends_feedback_without_logging_in_and_gets_its_code(client, orgtree):
    page = client.get("/gop-y")
    assert page.status_code == 200
    assert "Phường An Hòa" in text(page) and "Thành phố Thử Nghiệm" in text(page)
    response = post_form(client, "/gop-y", _form(orgtree, kind="recommendation"))
    assert response.status_code == 200
    year = localtime.date_of(clock.now()).year
    body = text(response)
    assert f'<code id="feedback-code">PAKN-{year}-0001</code>' in body
    assert "Phường An Hòa đã nhận kiến nghị của ông/bà." in body
    [item] = db.session.scalars(sa.select(Feedback)).all()
    assert (item.kind, item.name, item.contact, item.agency) == (
        FeedbackKind.recommendation, "Nguyễn Thị Hoa", "hoa@example.vn", orgtree["ward"])
    assert item.due_at == fb.handling_due(orgtree["ward"], item.received_at)
    assert item.due_at.astimezone(VN).strftime("%d/%m/%Y 17:00") in body  # the deadline shown


def test_the_lookup_page_link_preselects_the_dossier_and_its_agency(client, orgtree):
    page = client.get("/gop-y?ho_so=TP-A-261123-0001").get_data(as_text=True)
    assert f'<option selected value="{orgtree["ward"].id}">Phường An Hòa</option>' in page
    assert 'value="TP-A-261123-0001"' in page


def test_the_form_says_what_is_missing_and_keeps_nothing(client, orgtree):
    response = post_form(client, "/gop-y", _form(orgtree, content="", contact=""))
    assert response.status_code == 200
    errors = field_errors(response)
    assert "Hãy nhập nội dung phản ánh, kiến nghị." in errors
    assert "Hãy cho biết cách liên hệ để nhận trả lời." in errors
    response = post_form(client, "/gop-y", _form(orgtree, procedure_code="9.999999"))
    assert any("9.999999" in message for message in flashes(response))
    assert _count() == 0


def test_the_honeypot_keeps_robots_out(client, orgtree):
    response = post_form(client, "/gop-y", _form(orgtree, website="http://spam.example"))
    assert response.status_code == 200
    assert "Phản ánh, kiến nghị của ông/bà đã được gửi." in text(response)
    assert "PAKN-" not in text(response) and _count() == 0


def test_the_form_is_rate_limited(client, orgtree):
    token = csrf_token(client, "/gop-y")
    statuses = [client.post("/gop-y", data={**_form(orgtree), "csrf_token": token}).status_code
                for _i in range(11)]
    assert statuses == [200] * 10 + [429]
    response = client.post("/gop-y", data={**_form(orgtree), "csrf_token": token})
    assert response.status_code == 429
    assert "Ông/bà đã gửi nhiều phản ánh, kiến nghị trong thời gian ngắn." in text(response)
    assert _count() == 10
    assert client.get("/gop-y").status_code == 200  # reading the form is not limited


# --- staff pages -------------------------------------------------------------------------------
@pytest.fixture
def handlers(make_user, orgtree):
    return {
        "iso": make_user("iso", Role.quality_officer, department=orgtree["office"]),
        "truongvh": make_user("truongvh", Role.department_head, department=orgtree["culture"]),
        "canbovh": make_user("canbovh", Role.officer, department=orgtree["culture"]),
        "canbovp": make_user("canbovp", Role.officer, department=orgtree["office"]),
    }


def _feedback(orgtree, code, *, received, due, kind=FeedbackKind.complaint):
    item = Feedback(code=code, kind=kind, agency=orgtree["ward"], name="Lý Văn Bình", contact="0987 654 321",
                    content=f"Nội dung {code}", received_at=received, due_at=due, response="",
                    status=FeedbackStatus.received)
    db.session.add(item)
    db.session.commit()
    return item


def test_staff_list_flags_overdue_feedback_and_filters(client, orgtree, handlers):
    now = clock.now()
    _feedback(orgtree, "PAKN-2026-0001", received=now - timedelta(days=20), due=now - timedelta(days=6))
    _feedback(orgtree, "PAKN-2026-0002", received=now - timedelta(days=1), due=now + timedelta(days=12),
              kind=FeedbackKind.recommendation)
    login(client, "iso")
    response = client.get("/quality/feedback")
    assert response.status_code == 200
    rows = table_rows(response, "feedback")
    assert [r[0] for r in rows] == ["PAKN-2026-0002", "PAKN-2026-0001"]
    assert "Quá hạn" in rows[1][7] and "Quá hạn" not in rows[0][7]
    assert 'id="feedback-figures"' in response.get_data(as_text=True)
    overdue = table_rows(client.get("/quality/feedback?status=overdue"), "feedback")
    assert [r[0] for r in overdue] == ["PAKN-2026-0001"]
    recommendations = table_rows(client.get("/quality/feedback?kind=recommendation"), "feedback")
    assert [r[0] for r in recommendations] == ["PAKN-2026-0002"]
    response = client.get("/quality/feedback?status=bogus")
    assert response.status_code == 200 and any("bogus" in m for m in flashes(response))


def test_assign_answer_and_raise_a_nonconformity_through_the_pages(app, orgtree, handlers):
    now = clock.now()
    item = _feedback(orgtree, "PAKN-2026-0007", received=now, due=now + timedelta(days=14))
    url = f"/quality/feedback/{item.code}"
    officer = app.test_client()
    login(officer, "canbovh")
    assert officer.get(url).status_code == 403  # not theirs yet

    iso = app.test_client()
    login(iso, "iso")
    page = iso.get(url)
    assert page.status_code == 200 and 'id="assign-form"' in text(page)
    response = post_form(iso, f"{url}/assign", {"assign-department_id": orgtree["culture"].id,
                                                 "assign-assignee_id": handlers["canbovh"].id},
                         token_from=url)
    assert response.location == url
    db.session.refresh(item)
    assert (item.status, item.department, item.assignee) == (
        FeedbackStatus.assigned, orgtree["culture"], handlers["canbovh"])

    # The assignee now reads it, answers it, and cannot raise a nonconformity
    page = officer.get(url)
    assert page.status_code == 200 and 'id="respond-form"' in text(page) and 'id="nc-form"' not in text(page)
    response = post_form(officer, f"{url}/respond", {"respond-response": "Đã liên hệ và trả kết quả."},
                         token_from=url)
    assert "Đã ghi nhận nội dung trả lời." in flashes(officer.get(response.location))
    db.session.refresh(item)
    assert (item.status, item.response, item.responded_by) == (
        FeedbackStatus.answered, "Đã liên hệ và trả kết quả.", handlers["canbovh"])
    # Answered: no more forms; a crafted second answer is refused with the reason
    page = text(officer.get(url))
    assert 'id="respond-form"' not in page and "Đã liên hệ và trả kết quả." in page
    response = post_form(officer, f"{url}/respond", {"respond-response": "Lần hai"}, token_from="/quality/feedback")
    assert any("đã được trả lời" in m for m in flashes(officer.get(response.location)))

    # Another officer's crafted post is refused before anything
    stranger = app.test_client()
    login(stranger, "canbovp")
    response = post_form(stranger, f"{url}/assign", {"assign-department_id": orgtree["office"].id,
                                                     "assign-assignee_id": 0}, token_from="/quality/feedback")
    assert response.status_code == 403

    response = post_form(iso, f"{url}/nonconformity", {
        "nc-department_id": orgtree["culture"].id, "nc-clause": "8.5.1", "nc-severity": "minor",
        "nc-description": "Trả kết quả chậm so với giấy hẹn."}, token_from=url)
    assert response.location == url
    [nc] = db.session.scalars(sa.select(Nonconformity)).all()
    assert (nc.source, nc.feedback_id, nc.department, nc.clause) == (
        NcSource.complaint, item.id, orgtree["culture"], "8.5.1")
    page = text(iso.get(url))
    assert nc.code in page and 'id="nc-form"' not in page


def test_unknown_feedback_is_not_found(client, handlers):
    login(client, "iso")
    assert client.get("/quality/feedback/PAKN-1999-9999").status_code == 404
