# ruff: noqa: F811  (the fixtures imported from audit_fixtures are parameters here)
"""The internal audit pages, used the way the quality officer and the auditors do: plan an
audit (the independence rule shown on the form), run it, answer the checklist with
evidence, raise a nonconformity from a line, report, close, and print the report."""
from __future__ import annotations

import io
import logging
import re

import sqlalchemy as sa
from pypdf import PdfReader

from qms.extensions import db
from qms.models import (
    Audit,
    AuditStatus,
    ChecklistResult,
    CorrectiveAction,
    EvidenceFile,
    Nonconformity,
)
from qms.services import audits, dossiers, iso_clauses
from qms.web.audits.views import PDF_TABLE_ROWS, _chunks
from tests.conftest import csrf_token, login, post_form
from tests.dossiers.conftest import at
from tests.quality.audit_fixtures import PDF, audit_, plan, programme, running, team  # noqa: F401
from tests.web.conftest import flashes, table_rows, text


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def browser(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def _scope(orgtree, people, **changes):
    data = {"title": "Đánh giá Phòng Văn hóa - Xã hội", "departments": [str(orgtree["culture"].id)],
            "clauses": ["7.5"], "criteria": "TCVN ISO 9001:2015", "planned_start": "2026-04-06",
            "planned_end": "2026-04-07", "lead_auditor_id": str(people["lead"].id),
            "team": [str(people["member"].id)]}
    data.update(changes)
    return data


# --- programmes and planning --------------------------------------------------------------------
def test_the_quality_officer_opens_a_programme_once_a_year(app, team, orgtree):
    quality = browser(app, "canboiso")
    data = {"agency_id": str(orgtree["ward"].id), "year": "2026", "title": "Chương trình đánh giá nội bộ năm 2026",
            "objectives": "Đánh giá mọi phòng ban"}
    response = post_form(quality, "/audits/programmes/new", data)
    assert response.status_code == 302
    page = quality.get(response.location)
    assert "Chương trình đánh giá nội bộ năm 2026" in text(page)
    again = post_form(quality, "/audits/programmes/new", data)
    assert again.status_code == 200
    assert "Phường An Hòa đã có chương trình đánh giá nội bộ năm 2026." in flashes(again)
    listing = text(quality.get("/audits?year=2026"))
    assert "2026 — Chương trình đánh giá nội bộ năm 2026" in listing


def test_the_independence_error_is_shown_on_the_planning_form(app, programme, team, orgtree):
    quality = browser(app, "canboiso")
    url = f"/audits/programmes/{programme.id}/plan"
    response = post_form(quality, url, _scope(orgtree, team, team=[str(team["member"].id), str(team["insider"].id)]))
    assert response.status_code == 422
    page = text(response)
    assert 'id="plan-error"' in page
    assert "Chuyên gia đánh giá Dgvanhoa thuộc Phòng Văn hóa - Xã hội nên không được đánh giá chính phòng ban" in page
    assert "Đánh giá Phòng Văn hóa - Xã hội" in page  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Audit)) == 0
    response = post_form(quality, url, _scope(orgtree, team))
    assert response.status_code == 302
    audit_ = db.session.scalars(sa.select(Audit)).one()
    assert (audit_.code, [u.username for u in audit_.team], audit_.clauses) == ("ĐG-2026-01", ["thanhvien"], ["7.5"])


def test_the_independence_error_is_shown_when_editing_too(app, audit_, team, orgtree):
    quality = browser(app, "canboiso")
    url = f"/audits/{audit_.id}/edit"
    assert 'value="Đánh giá nội bộ"' in text(quality.get(url))  # the form is filled in
    response = post_form(quality, url, _scope(orgtree, team, departments=[str(orgtree["culture"].id),
                                                                             str(orgtree["onestop"].id)]))
    assert response.status_code == 422
    assert "Thanhvien thuộc Bộ phận một cửa" in text(response)
    db.session.expire_all()
    assert [d.code for d in audit_.departments] == ["A-VHXH"]


def _lead_options(response) -> list[str]:
    """The options of the lead auditor select, the chosen one marked with a star."""
    select = re.search(r'<select[^>]*id="lead_auditor_id"[^>]*>(.*?)</select>', text(response), re.DOTALL)
    assert select, "no lead auditor select"
    return [("*" if "selected" in attrs else "") + label.strip()
            for attrs, label in re.findall(r"<option([^>]*)>(.*?)</option>", select.group(1), re.DOTALL)]


def test_an_auditor_plans_an_audit_as_its_lead(app, programme, team, orgtree):
    lead = browser(app, "truongdoan")
    programme_page = text(lead.get(f"/audits/programmes/{programme.id}"))
    assert 'id="plan-audit"' in programme_page and 'id="new-programme"' not in programme_page
    url = f"/audits/programmes/{programme.id}/plan"
    form = lead.get(url)
    assert form.status_code == 200
    assert _lead_options(form) == ["*Truongdoan (A-VP)"]  # the lead is fixed to the auditor
    assert "Bạn là trưởng đoàn của cuộc đánh giá do mình lập kế hoạch" in text(form)
    # another lead, posted by hand: refused on the form, nothing planned
    response = post_form(lead, url, _scope(orgtree, team, lead_auditor_id=str(team["member"].id), team=[]))
    assert response.status_code == 422
    assert "chỉ lập, sửa kế hoạch cuộc đánh giá do chính mình làm trưởng đoàn" in text(response)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Audit)) == 0
    response = post_form(lead, url, _scope(orgtree, team))
    assert response.status_code == 302
    audit_ = db.session.scalars(sa.select(Audit)).one()
    assert (audit_.code, audit_.lead_auditor.username, [u.username for u in audit_.team]) == (
        "ĐG-2026-01", "truongdoan", ["thanhvien"])
    page = lead.get(response.location)
    assert "Đã lập kế hoạch cuộc đánh giá ĐG-2026-01." in flashes(page)
    assert 'id="edit-audit"' in text(page) and 'id="start-form"' in text(page)


def test_an_auditor_of_the_audited_department_sees_the_independence_error(app, programme, team, orgtree):
    insider = browser(app, "dgvanhoa")
    url = f"/audits/programmes/{programme.id}/plan"
    assert _lead_options(insider.get(url)) == ["*Dgvanhoa (A-VHXH)"]
    response = post_form(insider, url, _scope(orgtree, team, lead_auditor_id=str(team["insider"].id)))
    assert response.status_code == 422
    page = text(response)
    assert 'id="plan-error"' in page
    assert "Chuyên gia đánh giá Dgvanhoa thuộc Phòng Văn hóa - Xã hội nên không được đánh giá chính phòng ban" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Audit)) == 0


def test_other_roles_cannot_plan(app, programme, team, orgtree):
    url = f"/audits/programmes/{programme.id}/plan"
    for who in ("truongvanhoa", "cbvanhoa", "chutich"):
        client = browser(app, who)
        assert 'id="plan-audit"' not in text(client.get(f"/audits/programmes/{programme.id}")), who
        assert client.get(url).status_code == 403, who
        token = csrf_token(client, "/audits")
        assert client.post(url, data={**_scope(orgtree, team), "csrf_token": token}).status_code == 403, who
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Audit)) == 0


def test_the_lead_auditor_edits_their_planned_audit(app, audit_, team, orgtree):
    url = f"/audits/{audit_.id}/edit"
    member = browser(app, "thanhvien")  # on the team, not its lead
    assert 'id="edit-audit"' not in text(member.get(f"/audits/{audit_.id}"))
    assert member.get(url).status_code == 403
    lead = browser(app, "truongdoan")
    assert 'id="edit-audit"' in text(lead.get(f"/audits/{audit_.id}"))
    form = lead.get(url)
    assert _lead_options(form) == ["*Truongdoan (A-VP)"]
    response = post_form(lead, url, _scope(orgtree, team, title="Đánh giá văn thư, lưu trữ"))
    assert response.status_code == 302
    db.session.expire_all()
    assert audit_.title == "Đánh giá văn thư, lưu trữ"
    # the quality officer still names any lead
    quality = browser(app, "canboiso")
    assert "Thanhvien (A-MC)" in _lead_options(quality.get(url))
    response = post_form(quality, url, _scope(orgtree, team, lead_auditor_id=str(team["member"].id), team=[]))
    assert response.status_code == 302
    db.session.expire_all()
    assert audit_.lead_auditor.username == "thanhvien"
    assert lead.get(url).status_code == 403  # no longer its lead


def test_staff_see_only_their_departments_audits(app, audit_, team, make_user, orgtree):
    make_user("cbvanphong", department=orgtree["office"])
    outsider = browser(app, "cbvanphong")
    assert audit_.code not in text(outsider.get("/audits"))
    assert outsider.get(f"/audits/{audit_.id}").status_code == 403
    assert outsider.get(f"/audits/{audit_.id}/report.pdf").status_code == 403
    insider = browser(app, "cbvanhoa")  # an officer of the audited department
    assert audit_.code in text(insider.get("/audits"))
    page = insider.get(f"/audits/{audit_.id}")
    assert page.status_code == 200
    assert 'id="start-form"' not in text(page) and 'id="edit-audit"' not in text(page)


# --- conducting -----------------------------------------------------------------------------------
def test_the_team_runs_the_audit_from_its_page(app, audit_, team, in_force, desk, orgtree):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                applicant_name="Trần Thị Bình", now=at(2026, 11, 24, 9, 0))
    db.session.commit()
    lead, member = browser(app, "truongdoan"), browser(app, "thanhvien")
    page_url = f"/audits/{audit_.id}"
    # the member may not start it; the lead does
    response = post_form(member, f"{page_url}/start", {}, token_from=page_url)
    assert "Chỉ trưởng đoàn đánh giá hoặc cán bộ ISO được làm việc này." in flashes(member.get(response.location))
    response = post_form(lead, f"{page_url}/start", {}, token_from=page_url)
    assert "có 6 dòng" in " ".join(flashes(lead.get(response.location)))
    db.session.expire_all()
    assert audit_.status is AuditStatus.in_progress
    rows = table_rows(lead.get(page_url), "checklist-table")
    assert rows[0][2].startswith("Đáp ứng yêu cầu điều khoản 7.5 “Thông tin dạng văn bản”")
    procedure_line = audit_.items[5]
    answer_url = f"{page_url}/items/{procedure_line.id}/answer"
    # an unknown sampled dossier: refused, with the code named
    response = post_form(member, answer_url, {"result": "nonconform", "evidence": "Trả kết quả chậm",
                                              "sampled_dossiers": f"{dossier.code}, TP-A-999999-0001"},
                         token_from=page_url)
    assert any("Không có hồ sơ mã TP-A-999999-0001" in m for m in flashes(member.get(response.location)))
    # with a real one, and a file
    token = csrf_token(member, page_url)
    response = member.post(answer_url, data={
        "csrf_token": token, "result": "nonconform", "evidence": "Hồ sơ trả kết quả chậm 2 ngày, không có thư xin lỗi",
        "sampled_dossiers": dossier.code.lower(), "files": (io.BytesIO(PDF), "Biên bản lấy mẫu.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    db.session.expire_all()
    assert (procedure_line.result, procedure_line.sampled_dossiers) == (ChecklistResult.nonconform, [dossier.code])
    page = text(lead.get(page_url))
    assert "Hồ sơ trả kết quả chậm 2 ngày" in page and dossier.code in page and "Biên bản lấy mẫu.pdf" in page
    # the evidence file downloads for the team, not for another department's officer
    evidence = db.session.scalars(sa.select(EvidenceFile)).one()
    download = lead.get(f"/audits/evidence/{evidence.id}")
    assert (download.status_code, download.data) == (200, PDF)
    # a nonconformity straight from the line: audit, clause, procedure and department prefilled
    response = post_form(member, f"{page_url}/items/{procedure_line.id}/finding",
                         {"kind": "minor_nc", "description": "Không gửi thư xin lỗi khi trả kết quả quá hạn"},
                         token_from=page_url)
    assert "Đã ghi nhận phát hiện và sự không phù hợp NC-2026-0001." in flashes(member.get(response.location))
    nc = db.session.scalars(sa.select(Nonconformity)).one()
    assert (nc.audit_id, nc.clause, nc.procedure_id, nc.department_id) == (
        audit_.id, "8.5.1", in_force.id, orgtree["culture"].id)
    [nc_row] = table_rows(lead.get(page_url), "nc-table")
    assert nc_row[0] == "NC-2026-0001" and nc_row[-1] == "Chưa có CAR"
    # an observation from the general form raises no nonconformity
    post_form(member, f"{page_url}/findings", {"kind": "observation", "clause": "7.5.3",
                                               "department_id": str(orgtree["culture"].id), "procedure_id": "0",
                                               "description": "Sổ theo dõi văn bản đến ghi chưa đều"},
              token_from=page_url)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Nonconformity)) == 1
    findings = table_rows(lead.get(page_url), "findings-table")
    assert [r[0].split()[0] for r in findings] == ["Không", "Điểm"]
    # the report, then closing: refused while the nonconformity has no CAR
    response = post_form(lead, f"{page_url}/report", {"summary": "Hệ thống vận hành phù hợp; 1 điểm không phù hợp nhẹ."},
                         token_from=page_url)
    db.session.expire_all()
    assert audit_.status is AuditStatus.reported
    quality = browser(app, "canboiso")
    response = post_form(quality, f"{page_url}/close", {}, token_from=page_url)
    page = quality.get(response.location)
    assert any("NC-2026-0001 chưa có phiếu hành động khắc phục" in m for m in flashes(page))
    assert 'id="waiting-cars"' in text(page)
    car = CorrectiveAction(code="CAR-2026-0001", department_id=orgtree["culture"].id, owner_id=team["head"].id)
    db.session.add(car)
    db.session.flush()
    nc.corrective_action_id = car.id
    db.session.commit()
    response = post_form(quality, f"{page_url}/close", {}, token_from=page_url)
    assert "Đã kết thúc cuộc đánh giá ĐG-2026-01." in flashes(quality.get(response.location))
    db.session.expire_all()
    assert audit_.status is AuditStatus.closed


def test_outsiders_cannot_answer(app, running, team, orgtree):
    item = running.items[0]
    url = f"/audits/{running.id}/items/{item.id}/answer"
    for who in ("canboiso", "truongvanhoa", "chutich"):
        client = browser(app, who)
        response = post_form(client, url, {"result": "conform", "evidence": "x"}, token_from=f"/audits/{running.id}")
        assert any("Chỉ đoàn đánh giá" in m for m in flashes(client.get(response.location))), who
    db.session.expire_all()
    assert item.result is None
    assert 'class="answer-form' not in text(browser(app, "canboiso").get(f"/audits/{running.id}"))


# --- the report ------------------------------------------------------------------------------------
def test_the_report_pdf_reads_in_vietnamese(app, running, team, orgtree, caplog):
    lead = team["lead"]
    audits.answer_item(running.items[0], result=ChecklistResult.conform,
                       evidence="Danh mục tài liệu nội bộ được cập nhật ngày 15/01/2026", actor=lead, now=running.started_at)
    finding = audits.raise_from_item(running.items[3], description="Tài liệu hết hiệu lực vẫn được sử dụng tại bộ phận",
                                     actor=lead, now=running.started_at)
    audits.record_finding(running, kind=audits.FindingKind.improvement, department=orgtree["culture"],
                          description="Nên số hóa sổ theo dõi văn bản", actor=lead, now=running.started_at)
    audits.report(running, summary="Hệ thống quản lý chất lượng được duy trì phù hợp.", actor=lead,
                  now=running.started_at)
    db.session.commit()
    client = browser(app, "truongdoan")
    client.get("/language/en")  # the report stays Vietnamese whatever the page language
    with caplog.at_level(logging.WARNING, logger="xhtml2pdf"):
        response = client.get(f"/audits/{running.id}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert not [r for r in caplog.records if "can draw" in r.getMessage()]
    words = pdf_text(response.data)
    for expected in ("BÁO CÁO ĐÁNH GIÁ NỘI BỘ", "ĐG-2026-01", "Phòng Văn hóa - Xã hội",
                     "7.5 Thông tin dạng văn bản", "Kiểm soát thông tin dạng văn bản",
                     "Việc thực hiện quy trình 1.001193 Đăng ký khai sinh",
                     "Danh mục tài liệu nội bộ được cập nhật ngày 15/01/2026", "Phù hợp",
                     "Tài liệu hết hiệu lực vẫn được sử dụng tại bộ phận", finding.nonconformity.code,
                     "Không phù hợp nhẹ", "Cơ hội cải tiến", "Chưa có phiếu CAR", "Chưa đánh giá",
                     "Truongdoan", "Thanhvien", "Trưởng đoàn", "TRƯỞNG ĐOÀN ĐÁNH GIÁ",
                     "ĐẠI DIỆN ĐƠN VỊ ĐƯỢC ĐÁNH GIÁ", "Hệ thống quản lý chất lượng được duy trì phù hợp",
                     "Trang 1 /"):
        assert expected in words, expected
    assert "Conform" not in words


def test_a_long_checklist_is_printed_in_tables_of_at_most_100_rows(app, programme, team, orgtree):
    assert [len(c) for c in _chunks(list(range(250)))] == [100, 100, 50]
    assert PDF_TABLE_ROWS == 100
    everything = plan(programme, quality=team["quality"], lead=team["lead"], departments=[orgtree["culture"]],
                      clauses=["4", "5", "6", "7", "8", "9", "10"])
    audits.start(everything, actor=team["lead"], now=everything.created_at)
    db.session.commit()
    response = browser(app, "canboiso").get(f"/audits/{everything.id}/report.pdf")
    words = pdf_text(response.data)
    assert len(everything.items) == len(iso_clauses.all_clauses())  # 4 … 10.3
    assert "điều khoản 4.1 “Hiểu tổ chức và bối cảnh của tổ chức” (4 Bối cảnh của tổ chức)" in words
    assert "điều khoản 10.3 “Cải tiến liên tục” (10 Cải tiến)" in words
