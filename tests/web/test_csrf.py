"""Every POST route refuses a request without a CSRF token: 400, the friendly page, and
not a single row changed."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, timedelta

import pytest
from werkzeug.datastructures import FileStorage

from qms import clock
from qms.extensions import db
from qms.models import AgencyLevel, DayKind, DocumentKind, Role
from qms.services import accounts, attachments, calendars, documents, dossiers, org, procedures
from tests.conftest import PASSWORD, csrf_token, login
from tests.documents.conftest import birth_data
from tests.web.conftest import db_snapshot, logged_in, text

CSRF_MESSAGE = "Biểu mẫu đã hết hạn hoặc thiếu mã bảo vệ (CSRF)."


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"

# One document per documents route, its version 1 in the status that route's button needs, so
# that one control request does not spoil the next: code → that status.
DOCUMENTS = {
    "TL-RS": "effective",          # periodic review
    "TL-PB": "effective",          # a new version
    "TL-SUA": "draft",             # edit
    "TL-TRINH": "draft",           # submit
    "TL-TRA": "in_review",         # return
    "TL-DUYET": "in_review",       # approve
    "TL-THU": "effective",         # withdraw
    "TL-DOC": "effective",         # acknowledge
    "TL-DK": "draft",              # attach a file
    "TL-GO": "draft",              # remove a file
}


def _document_in(code: str, status: str, quality, leader, owner):
    document = documents.create_document(actor=quality, code=code, title=f"Tài liệu {code}",
                                         kind=DocumentKind.form, owner=owner)
    version = documents.draft_version(document, actor=quality, title=document.title,
                                      body="Nội dung.\n", change_summary="", now=clock.now())
    if status in ("in_review", "effective"):
        documents.submit(version, actor=quality, now=clock.now())
    if status == "effective":
        documents.approve(version, actor=leader, effective_date=documents.local_date(clock.now()),
                          now=clock.now())
    return version


@pytest.fixture
def objects(orgtree, users):
    field = org.save_field(None, actor=None, code="HT", name="Hộ tịch")
    quality, leader = users[Role.quality_officer], users[Role.leader]
    versions = {code: _document_in(code, status, quality, leader, orgtree["office"])
                for code, status in DOCUMENTS.items()}
    # the review is overdue, so recording it moves the date (not only the audit log)
    versions["TL-RS"].document.next_review_due = documents.local_date(clock.now()) - timedelta(days=30)
    attachment = attachments.save_attachment(versions["TL-GO"], FileStorage(
        io.BytesIO(PDF), filename="Biểu mẫu.pdf"), actor=quality, now=clock.now())
    override = calendars.add_override(orgtree["province"], day=date(2026, 12, 19),
                                      kind=DayKind.working_day, reason="Làm bù", actor=None)
    # A procedure in force and a dossier at the ward's one-stop office, for the desk's forms.
    desk = accounts.create_user(actor=None, username="motcua", full_name="Một Cửa", password=PASSWORD,
                                department=orgtree["onestop"], roles={Role.officer})
    process = documents.create_document(actor=quality, code="QT-HT-01", title="Quy trình khai sinh",
                                        kind=DocumentKind.process, owner=orgtree["onestop"])
    procedure = procedures.create_procedure(code="1.001193", name="Đăng ký khai sinh", field=field,
                                            level=AgencyLevel.commune, document=process)
    version = documents.draft_version(process, actor=quality, title=process.title, body="",
                                      change_summary="", now=clock.now())
    procedures.write_procedure_data(version, procedure, birth_data())
    documents.submit(version, actor=quality, now=clock.now())
    documents.approve(version, actor=leader, effective_date=documents.local_date(clock.now()),
                      now=clock.now())
    dossier, _secret = dossiers.receive_dossier(actor=desk, procedure=procedure,
                                                applicant_name="Lê Văn Tám", now=clock.now())
    # A second dossier at its second step, held by the office (its own officer: the matrix
    # users' accounts are changed by the admin payloads above)
    accounts.create_user(actor=None, username="vanphong", full_name="Văn Phòng", password=PASSWORD,
                         department=orgtree["office"], roles={Role.officer})
    at_step_2, _secret = dossiers.receive_dossier(actor=desk, procedure=procedure,
                                                  applicant_name="Vũ Thị Hà", now=clock.now())
    dossiers.complete_step(at_step_2.steps[0], actor=desk, now=clock.now(), next_department=orgtree["office"])
    db.session.commit()
    return {"agency_id": orgtree["ward"].id, "department_id": orgtree["culture"].id,
            "field_id": field.id, "user_id": users[Role.officer].id,
            "province_id": orgtree["province"].id, "attachment_id": attachment.id,
            "office_id": orgtree["office"].id, "override_id": override.id,
            "procedure_id": procedure.id, "code": dossier.code, "position": 1,
            "culture_id": orgtree["culture"].id, "at_step_2": at_step_2.code}


@dataclass
class Post:
    who: str | None                                   # who posts (None: anonymous)
    data: dict                                        # form data that would change something
    at: dict = dataclass_field(default_factory=dict)  # this rule's url values (which document)
    answer: int = 302                                 # the control request's status
    changes: bool = True                              # False: a form that only reads (lookup)


def _file(content: bytes, name: str) -> tuple:
    return (io.BytesIO(content), name)  # the test client sends it as multipart/form-data


def payloads(o) -> dict[str, Post | tuple]:
    """rule → (who posts, form data that would change something if accepted). Each rule
    acts on a different account or document, so one control request does not spoil the
    next."""
    in_a_week = (documents.local_date(clock.now()) + timedelta(days=7)).isoformat()
    return {
        "/auth/login": (None, {"username": "leader", "password": PASSWORD}),
        "/auth/logout": ("auditor", {}),
        "/auth/password": ("departmenthead", {"current_password": PASSWORD,
                                       "new_password": "Doi-mat-khau-2027",
                                       "confirm": "Doi-mat-khau-2027"}),
        "/admin/agencies/new": ("admin", {"code": "HN", "name": "Hà Nội", "level": "province",
                                          "parent_id": "0", "effective_from": "2008-08-01",
                                          "effective_to": "", "successor_id": "0"}),
        "/admin/agencies/<int:agency_id>": ("admin", {
            "code": "TP-A", "name": "Phường An Hòa Mới", "level": "commune",
            "parent_id": str(o["province_id"]), "effective_from": "2025-07-01",
            "effective_to": "", "successor_id": "0"}),
        "/admin/departments/new": ("admin", {"code": "A-TP", "name": "Phòng Tư pháp",
                                             "agency_id": str(o["agency_id"]), "active": "y"}),
        "/admin/departments/<int:department_id>": ("admin", {
            "code": "A-VHXH", "name": "Phòng Văn hóa", "agency_id": str(o["agency_id"]),
            "active": "y"}),
        "/admin/fields/new": ("admin", {"code": "DD", "name": "Đất đai", "active": "y"}),
        "/admin/fields/<int:field_id>": ("admin", {"code": "HT", "name": "Hộ tịch - Chứng thực",
                                                   "active": "y"}),
        "/admin/users/new": ("admin", {"username": "nguyenvana", "full_name": "Nguyễn Văn A", "email": "",
                                       "department_id": str(o["department_id"]),
                                       "roles": ["officer"], "password": "Mat-khau-moi-2026"}),
        "/admin/users/<int:user_id>": ("admin", {
            "username": "officer", "full_name": "Cán Bộ Khác", "email": "",
            "department_id": str(o["department_id"]), "roles": ["officer", "leader"],
            "password": ""}),
        "/admin/users/<int:user_id>/active": ("admin", {"active": "0"}),
        # The working calendar (on the province, so the agency edit above does not interfere)
        "/admin/calendar/<int:agency_id>/hours": Post("admin", {
            "working_hours": "07:30-11:30, 13:00-17:00"}, at={"agency_id": o["province_id"]}),
        "/admin/calendar/<int:agency_id>/overrides": Post("admin", {
            "day": "2026-12-26", "kind": "working_day", "reason": "Làm bù cho ngày 31/12"},
            at={"agency_id": o["province_id"]}),
        "/admin/calendar/overrides/<int:override_id>/deactivate": ("admin", {}),
        # The one-stop desk and the citizen's lookup
        "/dossiers/receive": Post("motcua", {"procedure_id": o["procedure_id"],
                                             "applicant_name": "Đỗ Thị Mai", "channel": "direct"},
                                  answer=200),
        "/dossiers/<code>/steps/<int:position>/complete": Post("motcua", {
            "next_department_id": o["culture_id"], "note": ""}),
        "/dossiers/<code>/steps/<int:position>/send-back": Post(
            "vanphong", {"reason": "Thiếu chữ ký"}, at={"code": o["at_step_2"], "position": 2}),
        "/tra-cuu": Post(None, {"code": "TP-A-000000-0001", "secret": "ABCDEFGH"}, answer=200,
                         changes=False),
        # Controlled documents (DOCUMENTS above: one document each)
        "/documents/new": Post("qualityofficer", {
            "code": "TL-MOI", "title": "Biểu mẫu mới", "kind": "form",
            "owner_department_id": str(o["office_id"]), "review_interval_months": "12",
            "body": "Nội dung."}),
        "/documents/import": Post("qualityofficer", {"file": _file(
            "---\ncode: TL-NHAP\ntitle: Tài liệu nhập\nkind: form\n---\n\nNội dung.\n".encode(),
            "TL-NHAP.md")}, answer=200),  # the import shows its result page
        "/documents/<code>/review": Post("qualityofficer", {"note": "Vẫn phù hợp"},
                                         at={"code": "TL-RS"}),
        "/documents/<code>/versions/new": Post("qualityofficer", {
            "title": "Tài liệu TL-PB", "body": "Nội dung mới.", "change_summary": "Sửa lời văn"},
            at={"code": "TL-PB"}),
        "/documents/<code>/versions/<int:number>/edit": Post("qualityofficer", {
            "title": "Tài liệu TL-SUA", "body": "Nội dung đã sửa.", "change_summary": ""},
            at={"code": "TL-SUA", "number": 1}),
        "/documents/<code>/versions/<int:number>/submit": Post("qualityofficer", {},
                                                               at={"code": "TL-TRINH", "number": 1}),
        "/documents/<code>/versions/<int:number>/return": Post("leader", {"reason": "Thiếu căn cứ"},
                                                               at={"code": "TL-TRA", "number": 1}),
        "/documents/<code>/versions/<int:number>/approve": Post("leader", {"effective_date": in_a_week},
                                                                at={"code": "TL-DUYET", "number": 1}),
        "/documents/<code>/versions/<int:number>/withdraw": Post("leader", {"reason": "Hết hiệu lực"},
                                                                 at={"code": "TL-THU", "number": 1}),
        "/documents/<code>/versions/<int:number>/acknowledge": Post("auditor", {},
                                                                    at={"code": "TL-DOC", "number": 1}),
        "/documents/<code>/versions/<int:number>/attachments": Post(
            "qualityofficer", {"file": _file(PDF, "Quyết định.pdf")}, at={"code": "TL-DK", "number": 1}),
        "/documents/<code>/versions/<int:number>/attachments/<int:attachment_id>/remove": Post(
            "qualityofficer", {}, at={"code": "TL-GO", "number": 1}),
    }


def payload(o, rule) -> Post:
    entry = payloads(o)[rule.rule]
    return entry if isinstance(entry, Post) else Post(*entry)


def post_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules() if "POST" in rule.methods),
                  key=lambda r: r.rule)


def url_for_rule(rule, values) -> str:
    url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)
    assert "<" not in url, url
    return url


def test_every_post_route_has_a_payload_here(app):
    """A new POST route must be added to `payloads` (and so to the CSRF check)."""
    dummy = dict.fromkeys(["agency_id", "department_id", "field_id", "user_id", "province_id",
                           "attachment_id", "office_id", "override_id", "procedure_id",
                           "code", "position", "culture_id", "at_step_2"], 0)
    assert {rule.rule for rule in post_rules(app)} == set(payloads(dummy))


@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "control-with-token"])
def test_post_without_csrf_token_is_refused_and_changes_nothing(app, objects, with_token):
    for rule in post_rules(app):
        post = payload(objects, rule)
        who, data = post.who, post.data
        client = app.test_client()
        if who:
            assert login(client, who).status_code == 302
        url = url_for_rule(rule, {**objects, **post.at})
        if with_token:
            # Control: the same request with the token does change the database, which
            # proves that the refusal below is the CSRF check and not a bad payload.
            data = {**data, "csrf_token": csrf_token(client, "/auth/login" if not who else "/")}
        before = db_snapshot()
        response = client.post(url, data=data)
        after = db_snapshot()
        if with_token:
            assert response.status_code == post.answer, (rule.rule, response.status_code,
                                                         text(response)[:2000])
            if post.changes:
                assert after != before, f"{rule.rule}: the control request changed nothing"
        else:
            assert response.status_code == 400, rule.rule
            page = text(response)
            assert "Phiên làm việc đã hết hạn" in page and CSRF_MESSAGE in page, rule.rule
            assert "Traceback" not in page
            assert after == before, f"{rule.rule} changed the database without a CSRF token"
            if who:
                assert logged_in(client), f"{rule.rule} without a token ended the session"


def test_wrong_csrf_token_is_refused_too(app, users):
    client = app.test_client()
    login(client, "admin")
    before = db_snapshot()
    response = client.post("/admin/fields/new", data={"code": "DD", "name": "Đất đai",
                                                      "active": "y", "csrf_token": "forged"})
    assert response.status_code == 400
    assert CSRF_MESSAGE in text(response)
    assert db_snapshot() == before


def test_token_of_another_session_is_refused(app, users):
    attacker, victim = app.test_client(), app.test_client()
    login(attacker, "officer")
    login(victim, "admin")
    stolen = csrf_token(attacker, "/")
    before = db_snapshot()
    response = victim.post("/admin/fields/new", data={"code": "DD", "name": "Đất đai",
                                                      "active": "y", "csrf_token": stolen})
    assert response.status_code == 400
    assert db_snapshot() == before


def test_csrf_refusal_answers_json_to_json_clients(app, users):
    client = app.test_client()
    login(client, "admin")
    response = client.post("/admin/fields/new", data={"code": "DD", "name": "Đất đai"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.is_json
    assert response.json["error"]["status"] == 400
