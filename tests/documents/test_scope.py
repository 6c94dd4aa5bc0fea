"""Document control is scoped by agency (issue 14): a quality officer keeps their own
agency's documents; a leader approves, returns and withdraws those of their agency and of
the agencies under it, never a sibling's or a parent's."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from qms.errors import Forbidden
from qms.extensions import db
from qms.models import AgencyLevel, Document, DocumentKind, Field, Role, VersionStatus
from qms.services import attachments, documents, org
from tests.conftest import post_form
from tests.documents.conftest import NOW

TODAY = date(2026, 11, 23)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def people(orgtree, make_user, staff):
    """Besides the province's quality officer and leader (staff): the ward's, and a leader of
    a second ward."""
    other_ward = org.save_agency(None, actor=None, code="TP-B", name="Phường Bình Minh",
                                 level=AgencyLevel.commune, parent=orgtree["province"],
                                 effective_from=date(2025, 7, 1))
    other_office = org.save_department(None, actor=None, code="B-VP", name="Văn phòng UBND", agency=other_ward)
    db.session.commit()
    return {**staff,
            "ward_quality": make_user("isophuong", Role.quality_officer, department=orgtree["office"]),
            "ward_leader": make_user("ctphuong", Role.leader, department=orgtree["office"]),
            "other_leader": make_user("ctphuongb", Role.leader, department=other_office)}


def _document(owner, actor, code="CSCL"):
    document = documents.create_document(actor=actor, code=code, title="Chính sách chất lượng",
                                         kind=DocumentKind.policy, owner=owner)
    documents.draft_version(document, actor=actor, title=document.title, body="Phục vụ nhân dân.\n",
                            change_summary="", now=NOW)
    db.session.flush()
    return document


def test_a_ward_quality_officer_cannot_create_a_province_document(people, orgtree):
    with pytest.raises(Forbidden, match="của đơn vị mình"):
        documents.create_document(actor=people["ward_quality"], code="CSCL-TP", title="Chính sách",
                                  kind=DocumentKind.policy, owner=orgtree["centre"])
    assert db.session.scalar(sa.select(Document).where(Document.code == "CSCL-TP")) is None


def test_a_ward_quality_officer_cannot_draft_edit_submit_review_or_attach_to_a_province_document(
        people, orgtree):
    province_doc = _document(orgtree["centre"], people["quality"])
    draft = province_doc.versions[0]
    ward_qo = people["ward_quality"]
    with pytest.raises(Forbidden):
        documents.edit_draft(draft, actor=ward_qo, title="Đổi", body="x", change_summary="")
    with pytest.raises(Forbidden):
        documents.submit(draft, actor=ward_qo, now=NOW)
    with pytest.raises(Forbidden):
        documents.record_review(province_doc, actor=ward_qo, today=TODAY, note="")
    with pytest.raises(Forbidden):
        attachments.save_attachment(draft, FileStorage(io.BytesIO(PDF), filename="a.pdf"), actor=ward_qo,
                                    now=NOW)
    assert draft.status is VersionStatus.draft and draft.body == "Phục vụ nhân dân.\n"

    documents.submit(draft, actor=people["quality"], now=NOW)
    documents.approve(draft, actor=people["leader"], effective_date=TODAY, now=NOW)
    with pytest.raises(Forbidden):
        documents.draft_version(province_doc, actor=ward_qo, title="Lần 2", body="", change_summary="Sửa",
                                now=NOW)
    assert len(province_doc.versions) == 1
    # ... while the province's own quality officer may
    documents.draft_version(province_doc, actor=people["quality"], title="Lần 2", body="", change_summary="Sửa",
                            now=NOW)


def test_another_wards_leader_cannot_approve_return_or_withdraw(people, orgtree):
    ward_doc = _document(orgtree["onestop"], people["ward_quality"])
    version = ward_doc.versions[0]
    documents.submit(version, actor=people["ward_quality"], now=NOW)
    stranger = people["other_leader"]
    for refused in (lambda: documents.approve(version, actor=stranger, effective_date=TODAY, now=NOW),
                    lambda: documents.return_for_changes(version, actor=stranger, reason="x", now=NOW)):
        with pytest.raises(Forbidden, match="thuộc đơn vị khác"):
            refused()
    assert version.status is VersionStatus.in_review

    documents.approve(version, actor=people["ward_leader"], effective_date=TODAY, now=NOW)
    with pytest.raises(Forbidden, match="thuộc đơn vị khác"):
        documents.withdraw(version, actor=stranger, reason="x", now=NOW)
    assert version.status is VersionStatus.effective


def test_the_province_leader_approves_a_ward_document_but_not_the_reverse(people, orgtree):
    ward_doc = _document(orgtree["onestop"], people["ward_quality"])
    documents.submit(ward_doc.versions[0], actor=people["ward_quality"], now=NOW)
    documents.approve(ward_doc.versions[0], actor=people["leader"], effective_date=TODAY, now=NOW)
    assert ward_doc.versions[0].status is VersionStatus.effective

    province_doc = _document(orgtree["centre"], people["quality"], code="CSCL-TP")
    documents.submit(province_doc.versions[0], actor=people["quality"], now=NOW)
    with pytest.raises(Forbidden):
        documents.approve(province_doc.versions[0], actor=people["ward_leader"], effective_date=TODAY, now=NOW)
    assert documents.may(people["leader"], "approve", province_doc.versions[0])
    assert not documents.may(people["ward_leader"], "approve", province_doc.versions[0])


def test_the_pages_offer_only_what_the_agency_may_do(app, people, orgtree, client_for):
    province_doc = _document(orgtree["centre"], people["quality"])
    documents.submit(province_doc.versions[0], actor=people["quality"], now=NOW)
    db.session.commit()
    ward_qo = client_for("isophuong")

    form = ward_qo.get("/documents/new").get_data(as_text=True)
    assert "A-MC" in form and "TP-TT" not in form  # owners: the ward's departments only
    response = post_form(ward_qo, "/documents/new", {
        "code": "CSCL-2", "title": "Chính sách", "kind": "policy",
        "owner_department_id": orgtree["centre"].id, "review_interval_months": "12", "body": ""})
    assert response.status_code == 200  # not a choice: the form says so, nothing is created
    assert db.session.scalar(sa.select(Document).where(Document.code == "CSCL-2")) is None

    page = client_for("ctphuongb").get("/documents/CSCL/versions/1").get_data(as_text=True)
    assert 'id="approve-form"' not in page and 'id="return-form"' not in page
    page = client_for("leader").get("/documents/CSCL/versions/1").get_data(as_text=True)
    assert 'id="approve-form"' in page
    response = post_form(client_for("ctphuongb"), "/documents/CSCL/versions/1/approve",
                         {"effective_date": TODAY.isoformat()}, token_from="/documents/CSCL/versions/1")
    assert response.status_code in (302, 403)
    db.session.expire_all()
    assert province_doc.versions[0].status is VersionStatus.in_review


def test_an_upload_cannot_change_another_agencys_document(people, orgtree, client_for):
    """The upload in the app imports as its user: a ward's quality officer cannot turn a
    province process into a new draft, nor name a province department as a file's owner."""
    from tests.documents.test_web import procedure_file, upload

    db.session.add(Field(code="HT", name="Hộ tịch"))
    db.session.commit()
    assert upload(client_for("quality"), procedure_file(), "1.001193.yaml").status_code == 200
    province_process = db.session.scalar(sa.select(Document).where(Document.code == "QT-HT-01"))
    assert province_process.owner_department.code == "TP-TT" and len(province_process.versions) == 1

    ward_qo = client_for("isophuong")
    page = upload(ward_qo, procedure_file(fee="50.000 đồng"), "1.001193.yaml").get_data(as_text=True)
    assert "belongs to Thành phố Thử Nghiệm" in page and "only your own agency" in page
    db.session.expire_all()
    assert len(province_process.versions) == 1  # no draft was made

    owned_elsewhere = procedure_file().replace(b"code: QT-HT-01", b"code: QT-HT-09").replace(
        b"code: '1.001193'", b"code: '1.009999'") + b"owner: TP-TT\n"
    page = upload(ward_qo, owned_elsewhere, "1.009999.yaml").get_data(as_text=True)
    assert "only your own agency" in page
    assert db.session.scalar(sa.select(Document).where(Document.code == "QT-HT-09")) is None
