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

from qms import clock, localtime
from qms.extensions import db
from qms.models import AgencyLevel, DayKind, DocumentKind, PauseKind, Role
from qms.services import accounts, attachments, calendars, documents, dossiers, org, procedures
from tests.conftest import PASSWORD, csrf_token, login
from tests.documents.conftest import birth_data
from tests.quality.audit_fixtures import AUDIT_CSRF_KEYS, audit_csrf_payloads, csrf_audits
from tests.quality.car_fixtures import CAR_CSRF_KEYS, car_csrf_objects, car_csrf_payloads
from tests.quality.feedback_fixtures import (
    FEEDBACK_CSRF_KEYS,
    feedback_csrf_objects,
    feedback_csrf_payloads,
)
from tests.reviews.fixtures import MONTHLY_CSRF_KEYS, monthly_csrf_objects, monthly_csrf_payloads
from tests.reviews.objective_fixtures import (
    OBJECTIVE_CSRF_KEYS,
    objective_csrf_objects,
    objective_csrf_payloads,
)
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


# One dossier per pause / delay / ending action, each in the state its action needs
# (tests/dossiers/test_event_pages.py): key → what is done to it first.
EVENT_DOSSIERS = {"ev_sup_req": None, "ev_sup_rec": "supplement", "ev_pay_req": None,
                  "ev_pay_rec": "payment", "ev_apology": None, "ev_stop": None, "ev_withdraw": None,
                  "ev_return": "processed", "ev_api_return": "processed",
                  "ev_accept": "registered", "ev_refuse_online": "registered",
                  "ev_pause_start": None, "ev_pause_end": "pause", "ev_receipt": None}


def _document_in(code: str, status: str, quality, leader, owner):
    document = documents.create_document(actor=quality, code=code, title=f"Tài liệu {code}",
                                         kind=DocumentKind.form, owner=owner)
    version = documents.draft_version(document, actor=quality, title=document.title,
                                      body="Nội dung.\n", change_summary="", now=clock.now())
    if status in ("in_review", "effective"):
        documents.submit(version, actor=quality, now=clock.now())
    if status == "effective":
        documents.approve(version, actor=leader, effective_date=localtime.date_of(clock.now()),
                          now=clock.now())
    return version


@pytest.fixture
def objects(orgtree, users):
    field = org.save_field(None, actor=None, code="HT", name="Hộ tịch")
    quality, leader = users[Role.quality_officer], users[Role.leader]
    versions = {code: _document_in(code, status, quality, leader, orgtree["office"])
                for code, status in DOCUMENTS.items()}
    # the review is overdue, so recording it moves the date (not only the audit log)
    versions["TL-RS"].document.next_review_due = localtime.date_of(clock.now()) - timedelta(days=30)
    attachment = attachments.save_attachment(versions["TL-GO"], FileStorage(
        io.BytesIO(PDF), filename="Biểu mẫu.pdf"), actor=quality, now=clock.now())
    override = calendars.add_override(orgtree["province"], day=date(2026, 12, 19),
                                      kind=DayKind.working_day, reason="Làm bù", actor=None)
    # A procedure in force and a dossier at the ward's one-stop office, for the desk's forms.
    desk = accounts.create_user(actor=None, username="motcua", full_name="Một Cửa", password=PASSWORD,
                                department=orgtree["onestop"], roles={Role.officer})
    process = documents.create_document(actor=quality, code="QT-HT-01", title="Quy trình khai sinh",
                                        kind=DocumentKind.process, owner=quality.department)
    procedure = procedures.create_procedure(code="1.001193", name="Đăng ký khai sinh", field=field,
                                            level=AgencyLevel.commune, document=process)
    version = documents.draft_version(process, actor=quality, title=process.title, body="",
                                      change_summary="", now=clock.now())
    procedures.write_procedure_data(version, procedure, birth_data(pauses=["verification"]))  # a pause for the pause routes
    documents.submit(version, actor=quality, now=clock.now())
    documents.approve(version, actor=leader, effective_date=localtime.date_of(clock.now()),
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
    # The pause / delay / ending dossiers; the head of the one-stop office (holding their
    # first step) signs the apology.
    accounts.create_user(actor=None, username="truongmotcua", full_name="Trưởng Một Cửa",
                         password=PASSWORD, department=orgtree["onestop"], roles={Role.department_head})
    events = {}
    for key, first in EVENT_DOSSIERS.items():
        if first == "registered":  # submitted online, waiting at the desk
            item, _secret = dossiers.register_online(actor=desk, procedure=procedure, code=f"G01.{key.upper()}",
                                                     applicant_name="Hồ Thị Lan", now=clock.now())
        else:
            item, _secret = dossiers.receive_dossier(actor=desk, procedure=procedure,
                                                     applicant_name="Hồ Thị Lan", now=clock.now())
        events[key] = item.code
        if first == "supplement":
            dossiers.request_supplement(item, actor=desk, reason="Thiếu tờ khai", now=clock.now())
        elif first == "payment":
            dossiers.request_payment(item, actor=desk, reason="Nộp lệ phí", now=clock.now())
        elif first == "pause":  # the procedure allows a verification
            dossiers.start_pause(item, actor=desk, kind=PauseKind.verification, reason="Xác minh", now=clock.now())
        elif first == "processed":  # every step at the desk, to the result ready
            for step in item.steps:
                dossiers.complete_step(step, actor=desk, now=clock.now(), next_department=orgtree["onestop"])
        if key == "ev_apology":
            # due in a month, so the apology (before the due time) never races the real clock
            item.due_at = item.original_due_at = clock.now() + timedelta(days=30)
            calendar = calendars.calendar_for(orgtree["ward"])
            events["ev_promised"] = calendar.next_working_day(calendar.local(item.due_at).date()).isoformat()
    # Two unread notifications of the leader's: one to read, one for "read all"
    from qms.models import Notification, NotificationKind
    notices = [Notification(user=users[Role.leader], kind=NotificationKind.step_overdue_escalated,
                            step=step, message="Quá hạn", link=f"/dossiers/{step.dossier.code}")
               for step in (dossier.steps[0], at_step_2.steps[1])]
    db.session.add_all(notices)
    # An API token of the desk officer's (an integration account), for the admin page
    from qms.services import api_tokens
    api_token, api_plaintext = api_tokens.issue_token(desk, name="Cổng DVC", actor=None, now=clock.now())
    # ... which is also the provincial system's sync account; two of its dossiers are held
    # (an unknown unit, mapped by the mapping route; an unknown procedure, replayed)
    from qms.services import sync
    source = sync.add_source(actor=quality, code="MC-TP", name="Một cửa tỉnh", account=desk)
    sync.sync_dossiers(source, [sync_payload("HELD-UNIT", MaDinhDanh="000.00.22.H98"),
                                sync_payload("HELD-PROC", MaTTHC="9.999999")], actor=desk, now=clock.now())
    # An open nonconformity, for the quality officer to reject
    from qms.models import Severity
    from qms.services import nonconformities
    nc = nonconformities.raise_nonconformity(actor=quality, department=orgtree["culture"],
                                             clause="8.5.1", severity=Severity.minor,
                                             description="Bước xử lý quá hạn", now=clock.now())
    # One CAR per corrective-action route, each in the state its action needs
    cars = car_csrf_objects(orgtree)
    # One internal audit per audit route (tests/quality/audit_fixtures.py)
    cars.update(csrf_audits(orgtree))
    # Feedback, a returned dossier to rate, management reviews (tests/quality/feedback_fixtures.py)
    cars.update(feedback_csrf_objects(orgtree, users, procedure=procedure, desk=desk))
    # A culture head saving this month's review and signing last month's (tests/reviews/fixtures.py)
    cars.update(monthly_csrf_objects(orgtree))
    # A ward objective to retire (tests/reviews/objective_fixtures.py)
    cars.update(objective_csrf_objects(orgtree))
    db.session.commit()
    return {"notification_id": notices[0].id, "agency_id": orgtree["ward"].id, "department_id": orgtree["culture"].id,
            "field_id": field.id, "user_id": users[Role.officer].id,
            "province_id": orgtree["province"].id, "attachment_id": attachment.id,
            "office_id": orgtree["office"].id, "override_id": override.id,
            "procedure_id": procedure.id, "code": dossier.code, "position": 1,
            "culture_id": orgtree["culture"].id, "at_step_2": at_step_2.code, **events,
            "token_id": api_token.id, "desk_id": desk.id, "api_plaintext": api_plaintext,
            "source_id": source.id, "sync_account_id": users[Role.auditor].id,
            "nc_code": nc.code, **cars}


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
    in_a_week = (localtime.date_of(clock.now()) + timedelta(days=7)).isoformat()
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
        # API tokens of integration accounts (issuing shows the token on the page: 200)
        "/admin/api-tokens": Post("admin", {"user_id": o["desk_id"], "name": "Cổng dịch vụ công"},
                                  answer=200),
        "/admin/api-tokens/<int:token_id>/revoke": ("admin", {}),
        # Dossiers synced from the provincial system (tests/sync)
        "/admin/sync/sources": ("admin", {"code": "MC-KHAC", "name": "Hệ thống khác",
                                          "account_id": str(o["sync_account_id"])}),
        "/admin/sync/mappings": ("admin", {"source_id": str(o["source_id"]), "external": "000.00.22.H98",
                                           "target": f"agency:{o['agency_id']}"}),
        "/admin/sync/sources/<int:source_id>/replay": ("admin", {}),
        "/admin/sync/endpoints": ("admin", {"name": "Một cửa tỉnh", "url": "https://motcua.tinh.gov.vn/api/trang-thai",
                                            "secret": "chia-se-bi-mat-2026-tinh"}),
        "/admin/sync/imports": ("admin", {"source_id": str(o["source_id"]), "file": _file(
            "Mã hồ sơ,Mã thủ tục,Người nộp,Ngày tiếp nhận,Trạng thái,Mã đơn vị\n"
            "CSV-0001,1.001193,Đỗ Thị Mai,25/11/2026 09:00,4,TP-A\n".encode(), "so.csv")}),
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
        # An incomplete dossier: the guidance slip (a PDF; its audit row is the change) and
        # the refusal (a dossier "not accepted")
        "/dossiers/receive/guidance": Post("motcua", {
            "procedure_id": o["procedure_id"], "applicant_name": "Đỗ Thị Mai", "channel": "direct",
            "missing": "Bản chính Giấy chứng sinh"}, answer=200),
        "/dossiers/receive/refuse": Post("motcua", {
            "procedure_id": o["procedure_id"], "applicant_name": "Đỗ Văn Hùng", "channel": "direct",
            "missing": "Không thuộc thẩm quyền"}, answer=200),
        "/dossiers/<code>/steps/<int:position>/complete": Post("motcua", {
            "next_department_id": o["culture_id"], "note": ""}),
        "/dossiers/<code>/steps/<int:position>/send-back": Post(
            "vanphong", {"reason": "Thiếu chữ ký"}, at={"code": o["at_step_2"], "position": 2}),
        # Pauses, delays and endings (EVENT_DOSSIERS: one dossier each)
        "/dossiers/<code>/supplement/request": Post("motcua", {"supplement-reason": "Thiếu tờ khai"},
                                                    at={"code": o["ev_sup_req"]}),
        "/dossiers/<code>/supplement/receive": Post("motcua", {}, at={"code": o["ev_sup_rec"]}),
        "/dossiers/<code>/payment/request": Post("motcua", {"payment-reason": "Nộp lệ phí"},
                                                 at={"code": o["ev_pay_req"]}),
        "/dossiers/<code>/payment/receive": Post("motcua", {}, at={"code": o["ev_pay_rec"]}),
        "/dossiers/<code>/apology": Post("truongmotcua", {
            "apology-reason": "Chờ xác minh", "apology-promised_date": o["ev_promised"]},
            at={"code": o["ev_apology"]}),
        "/dossiers/<code>/stop": Post("motcua", {"stop-reason": "Không đủ điều kiện"},
                                      at={"code": o["ev_stop"]}),
        "/dossiers/<code>/withdraw": Post("motcua", {"withdraw-reason": "Công dân xin rút"},
                                          at={"code": o["ev_withdraw"]}),
        "/dossiers/<code>/return": Post("motcua", {"return-via": "desk"}, at={"code": o["ev_return"]}),
        "/dossiers/<code>/receipt": Post("motcua", {}, at={"code": o["ev_receipt"]}, answer=200),
        "/dossiers/<code>/pause/start": Post("motcua", {"pause-kind": "verification", "pause-reason": "Xác minh"},
                                             at={"code": o["ev_pause_start"]}),
        "/dossiers/<code>/pause/end": Post("motcua", {}, at={"code": o["ev_pause_end"]}),
        "/dossiers/<code>/accept": Post("motcua", {}, at={"code": o["ev_accept"]}),
        "/dossiers/<code>/refuse-online": Post("motcua", {"reasons": "Sai thẩm quyền"},
                                               at={"code": o["ev_refuse_online"]}),
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
        # The leader's own notifications (objects: two unread)
        "/notifications/<int:notification_id>/read": ("leader", {}),
        "/notifications/read-all": ("leader", {}),
        # The nonconformity register: raise one by hand; reject the open one (objects)
        "/quality/nonconformities/new": Post("qualityofficer", {
            "department_id": str(o["culture_id"]), "clause": "8.5.1", "severity": "minor",
            "description": "Phiếu kiểm soát thiếu chữ ký", "correction": "", "dossier_code": ""}),
        "/quality/nonconformities/<nc_code>/reject": Post("qualityofficer", {"reason": "Trùng lặp"},
                                                          at={"nc_code": o["nc_code"]}),
        # Corrective actions (tests/quality/car_fixtures.py: one CAR per action)
        **car_csrf_payloads(o, Post),
        # Internal audits (tests/quality/audit_fixtures.py: one audit per button)
        **audit_csrf_payloads(o, Post),
        # Citizens' feedback, the rating, management reviews (tests/quality/feedback_fixtures.py)
        **feedback_csrf_payloads(o, Post),
        # Monthly compliance reviews (tests/reviews/fixtures.py)
        **monthly_csrf_payloads(o, Post),
        # Quality objectives (tests/reviews/objective_fixtures.py)
        **objective_csrf_payloads(o, Post),
    }


def payload(o, rule) -> Post:
    entry = payloads(o)[rule.rule]
    return entry if isinstance(entry, Post) else Post(*entry)


# The JSON API's POST routes are exempt from CSRF (csrf.exempt on qms/web/api): they
# authenticate by `Authorization: Bearer` only and never by the session cookie. A forged
# cross-site request carries the victim's cookies but cannot add that header, so it has no
# credentials at all. test_api_posts_refuse_cookie_only_authentication proves the premise.
def csrf_exempt(o) -> dict[str, Post]:
    return {
        "/api/v1/dossiers": Post("motcua", {"procedure_code": "1.001193",
                                            "applicant": {"name": "Đỗ Thị Mai"}}, answer=201),
        "/api/v1/dossiers/<code>/steps/<int:position>/complete": Post(
            "motcua", {"next_department_code": "A-VHXH"}),
        "/api/v1/dossiers/<code>/return": Post("motcua", {"via": "online"}, at={"code": o["ev_api_return"]}),
        "/api/v1/online-dossiers": Post("motcua", {"code": "G01.000-261125-0001", "procedure_code": "1.001193",
                                                   "applicant": {"name": "Đỗ Thị Mai"}}, answer=201),
        "/api/v1/sync/dossiers": Post("motcua", {"data": [sync_payload("SYNC-0001")]}, answer=200),
    }


def sync_payload(code: str, **fields) -> dict:
    """A dossier of the provincial system, in the national portal's shape."""
    return {"MaHoSo": code, "MaTTHC": "1.001193", "ChuHoSo": "Đỗ Thị Mai", "TrangThaiHoSo": 4,
            "MaDinhDanh": "TP-A", "NgayTiepNhan": "20261125090000", **fields}


CSRF_EXEMPT = set(csrf_exempt({"ev_api_return": None}))


def post_rules(app, *, exempt: bool = False):
    """The POST rules that need a CSRF token (or, with `exempt`, the API's that do not)."""
    return sorted((rule for rule in app.url_map.iter_rules() if "POST" in rule.methods
                   and (rule.rule in CSRF_EXEMPT) == exempt), key=lambda r: r.rule)


def url_for_rule(rule, values) -> str:
    url = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)
    assert "<" not in url, url
    return url


def test_every_post_route_has_a_payload_here(app):
    """A new POST route must be added to `payloads` (and so to the CSRF check)."""
    dummy = dict.fromkeys(["notification_id", "agency_id", "department_id", "field_id", "user_id", "province_id",
                           "attachment_id", "office_id", "override_id", "procedure_id",
                           "code", "position", "culture_id", "at_step_2", *EVENT_DOSSIERS,
                           "ev_promised", "desk_id", "token_id", "nc_code", "source_id", "sync_account_id", *CAR_CSRF_KEYS, *AUDIT_CSRF_KEYS,
                           *FEEDBACK_CSRF_KEYS, *MONTHLY_CSRF_KEYS,
                           *OBJECTIVE_CSRF_KEYS], 0)
    assert {rule.rule for rule in post_rules(app)} == set(payloads(dummy))


def test_only_the_bearer_token_api_is_exempt(app):
    """A new POST route under /api/ must be listed in CSRF_EXEMPT (and refuse cookies);
    nothing outside the bearer-token API is exempt."""
    api_posts = {rule.rule for rule in app.url_map.iter_rules()
                 if "POST" in rule.methods and rule.rule.startswith("/api/")}
    assert set(CSRF_EXEMPT) == api_posts
    assert all(rule.endpoint.startswith("api.") for rule in post_rules(app, exempt=True))


@pytest.mark.parametrize("with_token", [False, True], ids=["no-csrf-token", "with-csrf-token"])
def test_api_posts_refuse_cookie_only_authentication(app, objects, with_token):
    """A logged-in browser session, even with a valid CSRF token, is not a credential for the
    API: 401 JSON and not a row changed. The same call with the bearer token does change the
    database (the payload is real; the refusal is the missing token)."""
    for rule in post_rules(app, exempt=True):
        post = csrf_exempt(objects)[rule.rule]
        client = app.test_client()
        assert login(client, post.who).status_code == 302
        url = url_for_rule(rule, {**objects, **post.at})
        data = dict(post.data)
        headers = {"X-CSRFToken": csrf_token(client, "/")} if with_token else {}
        before = db_snapshot()
        response = client.post(url, json=data, headers=headers)
        assert response.status_code == 401, (rule.rule, response.status_code)
        assert response.is_json and response.json["error"]["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert db_snapshot() == before, f"{rule.rule} changed the database without a bearer token"
        response = client.post(url, json=data, headers={
            "Authorization": f"Bearer {objects['api_plaintext']}"})
        assert response.status_code == (post.answer if post.answer != 302 else 200), \
            (rule.rule, response.get_data(as_text=True))
        assert db_snapshot() != before


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
