"""Pauses a procedure allows beyond supplementation and payment (issue 11): a cadastral
survey, a verification, a public posting, another agency's opinion stop the clock with a
start, an end and a reason, and show on the control slip (Mẫu 06)."""
import io
from datetime import date

import pytest
from pypdf import PdfReader

from qms import clock
from qms.errors import Conflict, ValidationError
from qms.extensions import db
from qms.models import DossierStatus, EventKind, PauseKind
from qms.services import dossiers, metrics, nonconformities, procedure_files, procedures
from tests.conftest import browser_as, post_form
from tests.documents.conftest import approve_version, birth_data
from tests.dossiers.conftest import at
from tests.web.conftest import text


@pytest.fixture
def posting(in_force, staff):
    """Three working days, and the procedure may pause for a public posting or a survey."""
    approve_version(in_force, staff, birth_data(time_limit=3, same_day=False,
                                                pauses=["public_posting", "cadastral_survey"]),
                    effective_date=date(2026, 11, 23))
    return in_force


@pytest.fixture
def dossier(posting, desk, orgtree):
    """Received Friday 20/11 9:00, due Thursday 26/11 9:00 (Tuesday 24/11 is a holiday); its
    review with the culture department since 9:30."""
    item, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=posting,
                                             applicant_name="Lưu Văn Niêm", now=at(2026, 11, 20, 9, 0))
    dossiers.complete_step(item.steps[0], actor=desk["onestop"], now=at(2026, 11, 20, 9, 30),
                           next_department=orgtree["culture"])
    db.session.commit()
    assert item.due_at == at(2026, 11, 26, 9, 0)
    return item


def test_a_posting_stops_the_clock_and_resumes_with_the_time_left(dossier, desk, orgtree):
    event = dossiers.start_pause(dossier, actor=desk["culture"], kind=PauseKind.public_posting,
                                 reason="Niêm yết tại trụ sở UBND phường 7 ngày", now=at(2026, 11, 23, 10, 0))
    assert (event.kind, event.pause_kind, dossier.status) == (
        EventKind.pause_started, PauseKind.public_posting, DossierStatus.processing)
    # While the clock is stopped: no step is completed, no other pause begins, nothing is overdue.
    with pytest.raises(Conflict, match="đang tạm dừng tính thời gian \\(niêm yết công khai\\)"):
        dossiers.complete_step(dossier.steps[1], actor=desk["culture"], now=at(2026, 11, 27, 9, 0),
                               next_department=orgtree["office"])
    with pytest.raises(Conflict):
        dossiers.request_supplement(dossier, actor=desk["culture"], reason="x", now=at(2026, 11, 27, 9, 0))
    with pytest.raises(Conflict, match="đang tạm dừng"):
        dossiers.start_pause(dossier, actor=desk["culture"], kind=PauseKind.cadastral_survey, reason="x",
                             now=at(2026, 11, 27, 9, 0))
    assert nonconformities.check_overdue(at(2026, 11, 30, 9, 0)) == []
    scope = metrics.Scope.of_department(orgtree["onestop"])
    november = metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), at(2026, 12, 1, 9, 0))
    assert (november["paused"], november["paused_other"], november["in_progress"]) == (1, 1, 0)
    # 15 working hours were left (23/11 10:00 → 26/11 09:00, the holiday skipped): from
    # Wednesday 2/12 10:00 they end on Friday 4/12 09:00.
    ended = dossiers.end_pause(dossier, actor=desk["culture"], now=at(2026, 12, 2, 10, 0))
    assert (ended.pause_kind, ended.due_before, ended.due_after) == (
        PauseKind.public_posting, at(2026, 11, 26, 9, 0), at(2026, 12, 4, 9, 0))
    assert dossier.due_at == at(2026, 12, 4, 9, 0) and dossier.paused_at is None
    dossiers.complete_step(dossier.steps[1], actor=desk["culture"], now=at(2026, 12, 2, 11, 0),
                           next_department=orgtree["office"])
    assert [(s["what"], s["started"], s["ended"]) for s in dossiers.clock_stops(dossier)] == [
        ("Niêm yết công khai", at(2026, 11, 23, 10, 0), at(2026, 12, 2, 10, 0))]


def test_a_pause_after_the_due_time_leaves_the_dossier_late(dossier, desk):
    dossiers.start_pause(dossier, actor=desk["culture"], kind=PauseKind.cadastral_survey, reason="Đo đạc",
                         now=at(2026, 11, 27, 9, 0))  # a working day after the due time
    dossiers.end_pause(dossier, actor=desk["culture"], now=at(2026, 12, 7, 9, 0))
    assert dossier.due_at < at(2026, 12, 7, 9, 0)  # still a working day overdue


def test_only_the_pauses_the_procedure_lists(dossier, three_days, desk):
    with pytest.raises(ValidationError, match="không cho phép tạm dừng để xác minh"):
        dossiers.start_pause(dossier, actor=desk["culture"], kind=PauseKind.verification, reason="x",
                             now=at(2026, 11, 23, 10, 0))
    with pytest.raises(ValidationError):  # a reason is required
        dossiers.start_pause(dossier, actor=desk["culture"], kind=PauseKind.public_posting, reason=" ",
                             now=at(2026, 11, 23, 10, 0))
    with pytest.raises(Conflict):
        dossiers.end_pause(dossier, actor=desk["culture"], now=at(2026, 11, 23, 10, 0))
    assert procedures.problems_in(birth_data(pauses=["holiday_trip"])) == [
        "Loại tạm dừng “holiday_trip” không hợp lệ."]


def test_the_page_offers_the_procedures_pauses_and_the_slip_shows_them(app, dossier):
    culture = browser_as(app, "vanhoa")
    page = text(culture.get(f"/dossiers/{dossier.code}"))
    assert 'id="action-pause-start"' in page
    assert '<option value="public_posting">Niêm yết công khai</option>' in page and "Xác minh</option>" not in page
    with clock.frozen(at(2026, 11, 23, 10, 0)):
        post_form(culture, f"/dossiers/{dossier.code}/pause/start",
                  {"pause-kind": "public_posting", "pause-reason": "Niêm yết 7 ngày"}, token_from=f"/dossiers/{dossier.code}")
    with clock.frozen(at(2026, 12, 2, 10, 0)):
        page = text(culture.get(f"/dossiers/{dossier.code}"))
        assert 'id="action-pause-end"' in page and 'id="action-pause-start"' not in page
        post_form(culture, f"/dossiers/{dossier.code}/pause/end", {}, token_from=f"/dossiers/{dossier.code}")
        page = text(culture.get(f"/dossiers/{dossier.code}"))
    assert "Tiếp tục tính thời gian" in page and "04/12/2026 09:00" in page
    slip = culture.get(f"/dossiers/{dossier.code}/control-slip.pdf")
    words = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(slip.data)).pages).split())
    assert "Thời gian tạm dừng tính thời gian giải quyết" in words
    assert "Niêm yết công khai" in words and "Niêm yết 7 ngày" in words
    assert "10 giờ 00 phút, ngày 23/11/2026" in words and "10 giờ 00 phút, ngày 02/12/2026" in words


def test_the_pauses_go_through_the_procedure_file(posting):
    version = posting.document.versions[-1]
    data = procedures.procedure_data_of(version)
    assert data["pauses"] == ["public_posting", "cadastral_survey"]
    assert "pauses" not in procedures.procedure_data_of(posting.document.versions[0])  # none: left out
    assert "pauses:\n  - public_posting\n  - cadastral_survey" in procedure_files.render_file(
        posting.document, version, posting).replace("    ", "  ")
    assert "Tạm dừng tính thời gian khi: — → niêm yết công khai, đo đạc địa chính." in procedures.semantic_diff(
        procedures.procedure_data_of(posting.document.versions[0]), data)
