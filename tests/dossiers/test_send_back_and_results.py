"""A step's result and files, and sending a step back to the previous one with a reason."""
import io

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from qms import clock
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import AuditLog, DossierFile, EventKind
from qms.services import attachments, dossiers
from tests.conftest import login, post_form
from tests.dossiers.conftest import at
from tests.web.conftest import text

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


@pytest.fixture
def at_review(three_days, desk, orgtree):
    """A dossier received Monday 8:00, its first step done at 9:00 and handed to culture."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Phạm Thị Lan", now=at(2026, 11, 23, 8, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 9, 0),
                           next_department=orgtree["culture"])
    db.session.commit()
    return dossier


def test_sending_back_reopens_the_previous_step_with_a_fresh_hand_over(at_review, desk, orgtree):
    review = at_review.steps[1]
    event = dossiers.send_back(review, actor=desk["culture"], reason="Thiếu bản sao CCCD của người đi khai",
                               now=at(2026, 11, 23, 10, 0))
    db.session.commit()
    first = at_review.steps[0]
    assert dossiers.current_step(at_review) is first
    assert (first.completed_at, first.department, first.handed_over_at) == (
        None, orgtree["onestop"], at(2026, 11, 23, 10, 0))
    assert first.due_at == at(2026, 11, 23, 11, 0)  # its full hour again
    assert review.handed_over_at is None and review.due_at is None
    assert (event.kind, event.step_position, event.reason) == (
        EventKind.sent_back, 2, "Thiếu bản sao CCCD của người đi khai")
    assert at_review.due_at == at_review.original_due_at  # the dossier's due time does not move
    # The earlier completion stays on record.
    rows = db.session.scalars(sa.select(AuditLog).where(
        AuditLog.entity_type == "dossier_step", AuditLog.entity_id == first.id)).all()
    assert any((r.changes or {}).get("completed_at", [None])[0] for r in rows)

    # The desk completes again: the step goes back to culture without asking whom to send it to.
    dossiers.complete_step(first, actor=desk["onestop"], now=at(2026, 11, 23, 14, 0))
    db.session.commit()
    assert (review.department, review.handed_over_at) == (orgtree["culture"], at(2026, 11, 23, 14, 0))
    # 4 working hours from the new hand-over: 3 on Monday, then 24/11 is a holiday, so 1 on Wednesday
    assert review.due_at == at(2026, 11, 25, 8, 0)


def test_send_back_needs_a_reason_the_holder_and_a_previous_step(at_review, desk):
    review = at_review.steps[1]
    with pytest.raises(ValidationError):
        dossiers.send_back(review, actor=desk["culture"], reason=" ", now=at(2026, 11, 23, 10, 0))
    with pytest.raises(Forbidden):
        dossiers.send_back(review, actor=desk["office"], reason="Sai", now=at(2026, 11, 23, 10, 0))
    with pytest.raises(Conflict):
        dossiers.send_back(at_review.steps[2], actor=desk["culture"], reason="Sai",
                           now=at(2026, 11, 23, 10, 0))
    dossiers.send_back(review, actor=desk["culture"], reason="Sai", now=at(2026, 11, 23, 10, 0))
    db.session.commit()
    with pytest.raises(Conflict):  # the first step has nothing before it
        dossiers.send_back(at_review.steps[0], actor=desk["onestop"], reason="Sai",
                           now=at(2026, 11, 23, 10, 30))


def test_a_step_sent_back_cannot_be_completed_by_its_old_holder(at_review, desk):
    review = at_review.steps[1]
    dossiers.send_back(review, actor=desk["culture"], reason="Thiếu giấy tờ", now=at(2026, 11, 23, 10, 0))
    db.session.commit()
    with pytest.raises(Conflict):
        dossiers.complete_step(review, actor=desk["culture"], now=at(2026, 11, 23, 10, 5),
                               next_department=desk["office"].department)


def test_result_and_files_are_recorded_with_the_completion(app, at_review, desk, orgtree):
    review = at_review.steps[1]
    upload = FileStorage(io.BytesIO(PDF), filename="Dự thảo giấy khai sinh.pdf")
    dossiers.complete_step(review, actor=desk["culture"], now=at(2026, 11, 23, 11, 0),
                           result="Đủ điều kiện", note="Đã đối chiếu", files=[upload],
                           next_department=orgtree["office"])
    db.session.commit()
    assert review.result == "Đủ điều kiện"
    file = db.session.scalars(sa.select(DossierFile)).one()
    assert (file.step, file.filename, file.media_type) == (review, "Dự thảo giấy khai sinh.pdf",
                                                           "application/pdf")
    assert attachments.path_of(file).read_bytes() == PDF


def test_a_bad_file_refuses_the_whole_completion(app, at_review, desk, orgtree):
    review = at_review.steps[1]
    upload = FileStorage(io.BytesIO(b"MZ not a pdf"), filename="virus.pdf")
    with pytest.raises(ValidationError):
        dossiers.complete_step(review, actor=desk["culture"], now=at(2026, 11, 23, 11, 0),
                               files=[upload], next_department=orgtree["office"])
    db.session.rollback()
    assert review.completed_at is None and dossiers.current_step(at_review) is review


def _browser(app, username):
    browser = app.test_client()
    assert login(browser, username).status_code == 302
    return browser


def test_send_back_and_result_through_the_pages(app, at_review, desk, orgtree):
    code = at_review.code
    culture = _browser(app, "vanhoa")
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        page = text(culture.get(f"/dossiers/{code}"))
        assert "Chuyển trả về bước 1" in page
        response = post_form(culture, f"/dossiers/{code}/steps/2/send-back", {"reason": ""},
                             token_from=f"/dossiers/{code}")
        assert "Lý do chuyển trả" in text(culture.get(response.location))  # the form's message
        post_form(culture, f"/dossiers/{code}/steps/2/send-back",
                  {"reason": "Thiếu tờ khai có chữ ký"}, token_from=f"/dossiers/{code}")
    desk_browser = _browser(app, "motcua")
    with clock.frozen(at(2026, 11, 23, 10, 30)):
        post_form(desk_browser, f"/dossiers/{code}/steps/1/complete", {"note": "Đã bổ sung chữ ký"},
                  token_from=f"/dossiers/{code}")
    with clock.frozen(at(2026, 11, 23, 11, 0)):
        token = _token(culture, f"/dossiers/{code}")
        response = culture.post(f"/dossiers/{code}/steps/2/complete", data={
            "csrf_token": token, "result": "Đủ điều kiện cấp", "next_department_id": orgtree["office"].id,
            "files": (io.BytesIO(PDF), "Tờ trình.pdf")})
        assert response.status_code == 302
    page = text(culture.get(f"/dossiers/{code}"))
    assert "Đủ điều kiện cấp" in page and "Tờ trình.pdf" in page
    file = db.session.scalars(sa.select(DossierFile)).one()
    download = culture.get(f"/dossiers/{code}/files/{file.id}")
    assert download.status_code == 200 and download.data == PDF
    assert _browser(app, "vanphong").get(f"/dossiers/{code}/files/{file.id}").status_code == 200
    assert _browser(app, "tinh").get(f"/dossiers/{code}/files/{file.id}").status_code == 403
    assert culture.get(f"/dossiers/{code}/files/987654").status_code == 404

    from pypdf import PdfReader

    slip = culture.get(f"/dossiers/{code}/control-slip.pdf").data
    slip_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(slip)).pages).split())
    for expected in ("Chuyển trả bước trước", "Thiếu tờ khai có chữ ký", "Đủ điều kiện cấp"):
        assert expected in slip_text, expected


def _token(client, url):
    from tests.conftest import csrf_token

    return csrf_token(client, url)


def test_the_next_step_goes_only_to_an_active_department_of_the_province(three_days, desk, orgtree):
    """Another agency of the province may handle a step (liên thông); another province's may not."""
    from datetime import date

    from qms.models import AgencyLevel
    from qms.services import org

    elsewhere = org.save_agency(None, actor=None, code="TK", name="Tỉnh Khác", level=AgencyLevel.province,
                                parent=None, effective_from=date(2004, 1, 1))
    foreign = org.save_department(None, actor=None, code="TK-TN", name="Sở Tài nguyên", agency=elsewhere)
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Phạm Thị Lan", now=at(2026, 11, 23, 8, 0))
    with pytest.raises(ValidationError, match="phòng ban đang hoạt động"):
        dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 9, 0),
                               next_department=foreign)
    orgtree["culture"].active = False
    with pytest.raises(ValidationError, match="phòng ban đang hoạt động"):
        dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 9, 0),
                               next_department=orgtree["culture"])
    assert dossier.steps[0].completed_at is None
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 9, 0),
                           next_department=orgtree["centre"])  # the province's centre
    assert dossier.steps[1].department == orgtree["centre"]


def test_the_control_slip_stays_vietnamese_for_an_english_reader(app, at_review, desk, orgtree):
    from pypdf import PdfReader

    culture = _browser(app, "vanhoa")
    culture.get("/language/en")
    assert "Dossier" in text(culture.get(f"/dossiers/{at_review.code}"))  # the page is English
    slip = culture.get(f"/dossiers/{at_review.code}/control-slip.pdf").data
    slip_text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(slip)).pages).split())
    assert "PHIẾU KIỂM SOÁT" in slip_text and "Đúng hạn" in slip_text and "Trang" in slip_text
    assert "On time" not in slip_text and "Page" not in slip_text


def test_the_queue_counts_due_soon_in_working_time(app, three_days, desk):
    """A step due Monday 07:30 is 55 working minutes away on Friday 16:35, though the
    weekend lies between: the queue marks it due soon, as escalation does."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Đinh Văn Tú", now=at(2026, 11, 20, 16, 30))
    db.session.commit()
    assert dossier.steps[0].due_at == at(2026, 11, 23, 7, 30)
    desk_browser = _browser(app, "motcua")
    with clock.frozen(at(2026, 11, 20, 16, 35)):
        assert "Sắp đến hạn" in text(desk_browser.get("/dossiers/queue"))
    with clock.frozen(at(2026, 11, 20, 9, 0)):  # (as if) a full working day before: not yet
        assert "Sắp đến hạn" not in text(desk_browser.get("/dossiers/queue"))
