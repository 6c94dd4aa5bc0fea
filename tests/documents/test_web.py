"""The documents area through HTTP: the workflow, who may press which button, comparison
and the procedures_iso upload."""
import io
from datetime import date

import pytest
import sqlalchemy as sa
import yaml

from qms.extensions import db
from qms.models import Acknowledgement, Document, DocumentKind, Field, Role, VersionStatus
from qms.services import documents, procedures
from tests.conftest import post_form
from tests.documents.conftest import NOW, birth_data

TODAY = date(2026, 11, 23)  # NOW in Hà Nội


pytestmark = pytest.mark.usefixtures("frozen_clock")



def follow(browser, response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return browser.get(response.headers["Location"]).get_data(as_text=True)


def version_of(code: str, number: int):
    db.session.expire_all()
    document = db.session.scalar(sa.select(Document).where(Document.code == code))
    return next(v for v in document.versions if v.number == number)


def test_the_whole_workflow_through_the_pages(client_for, orgtree, staff, make_user):
    # The ward's own quality officer keeps the ward's policy; the province's leader approves.
    make_user("isophuong", Role.quality_officer, department=orgtree["office"])
    quality, leader, officer = client_for("isophuong"), client_for("leader"), client_for("officer")

    response = post_form(quality, "/documents/new", {
        "code": "cscl", "title": "Chính sách chất lượng", "kind": "policy",
        "owner_department_id": orgtree["onestop"].id, "review_interval_months": "12",
        "body": "Phục vụ nhân dân.\r\n"})
    assert response.headers["Location"].endswith("/documents/CSCL/versions/1")
    page = follow(quality, response)
    assert "Đã tạo tài liệu CSCL" in page and "Phục vụ nhân dân." in page and "Dự thảo" in page
    assert version_of("CSCL", 1).body == "Phục vụ nhân dân.\n"  # CRLF from the browser normalised

    page = follow(quality, post_form(quality, "/documents/CSCL/versions/1/edit", {
        "title": "Chính sách chất lượng", "body": "Phục vụ nhân dân <b>tận tình</b>.",
        "change_summary": ""}))
    assert "Đã lưu dự thảo lần 1" in page
    assert "Phục vụ nhân dân &lt;b&gt;tận tình&lt;/b&gt;." in page  # text, never HTML

    version_page = "/documents/CSCL/versions/1"
    page = follow(quality, post_form(quality, version_page + "/submit", {}, token_from=version_page))
    assert "Đã trình lãnh đạo phê duyệt" in page and "Chờ phê duyệt" in page

    page = leader.get(version_page).get_data(as_text=True)
    assert 'id="approve-form"' in page and 'id="return-form"' in page
    page = follow(leader, post_form(leader, version_page + "/return",
                                    {"reason": "Bổ sung cam kết cải tiến liên tục."},
                                    token_from=version_page))
    assert "Đã trả lại dự thảo" in page
    page = quality.get(version_page).get_data(as_text=True)
    assert "Bổ sung cam kết cải tiến liên tục." in page and 'id="submit-version"' in page

    follow(quality, post_form(quality, version_page + "/submit", {}, token_from=version_page))
    page = follow(leader, post_form(leader, version_page + "/approve",
                                    {"effective_date": TODAY.isoformat()}, token_from=version_page))
    assert "Đã phê duyệt; có hiệu lực từ ngày 23/11/2026" in page
    assert "Đang hiệu lực" in page and "23/11/2026" in page
    version = version_of("CSCL", 1)
    assert version.status is VersionStatus.effective and version.approved_by_id == staff["leader"].id

    listing = officer.get("/documents").get_data(as_text=True)
    assert "CSCL" in listing and "Lần 1" in listing and "từ 23/11/2026" in listing

    page = quality.get(version_page).get_data(as_text=True)
    assert "Chưa xác nhận (1)" in page and "Officer" in page  # the owner department's staff
    assert 'id="history-link"' in page and f"entity_id={version.id}" in page
    page = officer.get(version_page).get_data(as_text=True)
    assert "Tôi đã đọc và hiểu" in page and 'id="ack-status"' not in page
    assert 'id="history-link"' not in page  # officers do not read the audit log
    page = follow(officer, post_form(officer, version_page + "/acknowledge", {}, token_from=version_page))
    assert "Bạn đã xác nhận đọc và hiểu lúc" in page and 'id="acknowledge"' not in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Acknowledgement).where(
        Acknowledgement.version_id == version.id, Acknowledgement.user_id == staff["officer"].id)) == 1

    assert "Đã xác nhận (1)" in quality.get(version_page).get_data(as_text=True)
    page = quality.get("/documents/CSCL").get_data(as_text=True)
    assert 'id="new-version"' in page  # nothing open any more: the next version can start


def test_leader_withdraws_an_effective_version_with_a_reason(client_for, policy, staff):
    version = policy.versions[0]
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    db.session.commit()
    version_page = "/documents/CSCL/versions/1"
    quality = client_for("quality")
    assert 'id="withdraw-form"' not in quality.get(version_page).get_data(as_text=True)
    assert post_form(quality, version_page + "/withdraw", {"reason": "x"},
                     token_from=version_page).status_code == 403
    leader = client_for("leader")
    page = follow(leader, post_form(leader, version_page + "/withdraw", {"reason": "Hết phù hợp"},
                                    token_from=version_page))
    assert "Đã thu hồi phiên bản." in page and "Hết phù hợp" in page and "Đã thu hồi" in page
    assert version_of("CSCL", 1).status is VersionStatus.withdrawn


def test_officer_cannot_create_or_submit(client_for, policy):
    officer = client_for("officer")
    assert officer.get("/documents/new").status_code == 403
    version_page = "/documents/CSCL/versions/1"
    page = officer.get(version_page).get_data(as_text=True)
    assert 'id="submit-version"' not in page and 'id="edit-draft"' not in page
    assert post_form(officer, version_page + "/submit", {}, token_from=version_page).status_code == 403
    assert version_of("CSCL", 1).status is VersionStatus.draft


def test_quality_officer_cannot_approve(client_for, policy, staff):
    documents.submit(policy.versions[0], actor=staff["quality"], now=NOW)
    db.session.commit()
    quality = client_for("quality")
    version_page = "/documents/CSCL/versions/1"
    assert 'id="approve-form"' not in quality.get(version_page).get_data(as_text=True)
    response = post_form(quality, version_page + "/approve", {"effective_date": TODAY.isoformat()},
                         token_from=version_page)
    assert response.status_code == 403
    assert version_of("CSCL", 1).status is VersionStatus.in_review


def test_leader_cannot_edit_drafts(client_for, policy):
    leader = client_for("leader")
    assert leader.get("/documents/CSCL/versions/1/edit").status_code == 403
    response = post_form(leader, "/documents/CSCL/versions/1/edit",
                         {"title": "x", "body": "y", "change_summary": ""},
                         token_from="/documents/CSCL/versions/1")
    assert response.status_code == 403
    assert leader.get("/documents/CSCL/versions/new").status_code == 403
    assert version_of("CSCL", 1).body == "Phục vụ nhân dân.\n"


def test_approving_in_the_past_shows_the_rule(client_for, policy, staff):
    documents.submit(policy.versions[0], actor=staff["quality"], now=NOW)
    db.session.commit()
    leader = client_for("leader")
    version_page = "/documents/CSCL/versions/1"
    page = follow(leader, post_form(leader, version_page + "/approve", {"effective_date": "2026-11-22"},
                                    token_from=version_page))
    assert "Ngày có hiệu lực không được ở quá khứ." in page
    assert version_of("CSCL", 1).status is VersionStatus.in_review


def test_returning_without_a_reason_is_refused(client_for, policy, staff):
    documents.submit(policy.versions[0], actor=staff["quality"], now=NOW)
    db.session.commit()
    leader = client_for("leader")
    version_page = "/documents/CSCL/versions/1"
    page = follow(leader, post_form(leader, version_page + "/return", {"reason": ""},
                                    token_from=version_page))
    assert "Hãy ghi lý do trả lại." in page
    assert version_of("CSCL", 1).status is VersionStatus.in_review


def test_new_version_starts_from_the_latest_text_and_needs_a_summary(client_for, policy, staff):
    version = policy.versions[0]
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    db.session.commit()
    quality = client_for("quality")
    form_page = quality.get("/documents/CSCL/versions/new").get_data(as_text=True)
    assert "Phục vụ nhân dân." in form_page
    response = post_form(quality, "/documents/CSCL/versions/new",
                         {"title": "Chính sách chất lượng", "body": "Mới.", "change_summary": ""})
    assert response.status_code == 200  # kept on the form, with the rule
    assert "Hãy tóm tắt nội dung sửa đổi" in response.get_data(as_text=True)
    page = follow(quality, post_form(quality, "/documents/CSCL/versions/new",
                                     {"title": "Chính sách chất lượng", "body": "Mới.",
                                      "change_summary": "Viết lại"}))
    assert "Đã tạo dự thảo lần 2" in page
    # an approved version cannot be edited any more
    page = follow(quality, quality.get("/documents/CSCL/versions/1/edit"))
    assert "Chỉ sửa được bản dự thảo" in page


def _approve_first(birth, staff):
    version = birth.document.versions[0]
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=TODAY, now=NOW)
    return version


def test_process_version_page_shows_the_procedure_data(client_for, birth, staff):
    _approve_first(birth, staff)
    db.session.commit()
    page = client_for("officer").get("/documents/QT-HT-01/versions/1").get_data(as_text=True)
    for text in ("Luật Hộ tịch số 60/2014/QH13", "1 ngày làm việc", "Trực tuyến toàn trình",
                 "Tờ khai đăng ký khai sinh", "Thẩm tra, dự thảo giấy khai sinh",
                 "Công chức Tư pháp - Hộ tịch", "Lãnh đạo cơ quan", "1 giờ làm việc", "Giấy tiếp nhận",
                 "Miễn lệ phí", "Tính lại toàn bộ thời hạn"):
        assert text in page, text
    assert 'id="steps-total"' in page and "Vượt thời hạn" not in page


def test_compare_shows_the_semantic_change_and_the_steps_side_by_side(client_for, birth, staff):
    _approve_first(birth, staff)
    second = documents.draft_version(birth.document, actor=staff["quality"], title=birth.document.title,
                                     body="<script>alert(1)</script>\n", change_summary="Rút ngắn thẩm tra",
                                     now=NOW)
    # A new process version starts from the previous one's steps...
    assert procedures.procedure_data_of(second) == birth_data()
    steps = birth_data()["steps"]
    steps[1] = {**steps[1], "hours": 0.75}
    procedures.write_procedure_data(second, birth, birth_data(steps=steps))  # ...as an import does
    db.session.commit()

    browser = client_for("officer")
    page = browser.get("/documents/QT-HT-01/compare?a=1&b=2").get_data(as_text=True)
    assert "Bước “Thẩm tra, dự thảo giấy khai sinh”: thời gian 1 → 0,75 giờ." in page
    assert 'id="steps-compare"' in page and "0,75 giờ làm việc" in page and "table-warning" in page
    assert 'class="diff"' in page  # the text, side by side
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert browser.get("/documents/QT-HT-01").get_data(as_text=True).count('id="compare-form"') == 1


def test_editing_a_process_draft_says_where_the_steps_come_from(client_for, birth):
    page = client_for("quality").get("/documents/QT-HT-01/versions/1/edit").get_data(as_text=True)
    assert 'id="process-note"' in page and "procedures_iso" in page


def test_the_new_document_form_offers_no_process_kind(client_for, staff):
    page = client_for("quality").get("/documents/new").get_data(as_text=True)
    assert 'value="policy"' in page and 'value="process"' not in page


# --- periodic review ----------------------------------------------------------------------------
def test_quality_officer_records_an_overdue_review(client_for, policy, staff):
    policy.next_review_due = date(2026, 10, 1)
    db.session.commit()
    assert "Rà soát định kỳ quá hạn" not in client_for("officer").get("/documents").get_data(as_text=True)
    quality = client_for("quality")
    page = quality.get("/documents").get_data(as_text=True)
    assert 'id="reviews-overdue"' in page and "Hạn rà soát: 01/10/2026" in page
    page = follow(quality, post_form(quality, "/documents/CSCL/review", {"note": "Vẫn phù hợp"},
                                     token_from="/documents"))
    assert "lần rà soát tới: 23/11/2027" in page
    db.session.expire_all()
    assert db.session.get(Document, policy.id).next_review_due == date(2027, 11, 23)


# --- procedures_iso upload ----------------------------------------------------------------------
def procedure_file(**version_changes) -> bytes:
    data = birth_data(**version_changes)
    return yaml.safe_dump({
        "code": "1.001193", "name": "Đăng ký khai sinh", "field": "HT", "level": "commune",
        "document": {"code": "QT-HT-01", "title": "Quy trình đăng ký khai sinh"},
        "version": data}, allow_unicode=True).encode("utf-8")


def upload(browser, content: bytes, name: str):
    return post_form(browser, "/documents/import", {"file": (io.BytesIO(content), name)},
                     token_from="/documents")


def test_uploading_a_procedure_file_imports_it(client_for, staff):
    db.session.add(Field(code="HT", name="Hộ tịch"))
    db.session.commit()
    quality = client_for("quality")
    response = upload(quality, procedure_file(), "1.001193.yaml")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "created" in page and "QT-HT-01" in page
    document = db.session.scalar(sa.select(Document).where(Document.code == "QT-HT-01"))
    assert document.kind is DocumentKind.process and document.owner_department.code == "TP-TT"
    assert document.versions[0].status is VersionStatus.effective

    steps = birth_data()["steps"]
    steps[1] = {**steps[1], "hours": 0.75}
    page = upload(quality, procedure_file(steps=steps), "1.001193.yaml").get_data(as_text=True)
    assert "draft" in page and "thời gian 1 → 0,75 giờ" in page
    assert version_of("QT-HT-01", 2).status is VersionStatus.draft


def test_a_bad_upload_names_each_problem_and_writes_nothing(client_for, staff):
    quality = client_for("quality")
    page = upload(quality, procedure_file(), "1.001193.yml").get_data(as_text=True)
    assert 'id="import-problems"' in page
    assert "1.001193.yml: field &#39;field&#39;: no field with code HT" in page
    assert "qms-import-" not in page  # the temporary folder stays out of the messages
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Document)) == 0


def test_upload_refuses_other_files_and_other_roles(client_for, staff):
    quality = client_for("quality")
    page = follow(quality, upload(quality, b"MZ\x90\x00", "setup.exe"))
    assert "Chỉ nhập được tệp .md, .yaml hoặc .yml." in page
    page = follow(quality, upload(quality, b"a: b\n" * 300_000, "big.yaml"))
    assert "Tệp nhập lớn hơn 1 MB." in page
    officer = client_for("officer")
    response = officer.post("/documents/import", data={"file": (io.BytesIO(b"x"), "x.yaml")})
    assert response.status_code in (400, 403)  # no token and no permission: refused either way
    assert upload(officer, procedure_file(), "x.yaml").status_code == 403
