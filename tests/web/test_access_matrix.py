"""Who may open which page: every route × anonymous and every role, against a table.

A route missing from the table fails the test, so a new page forces a decision here about
who may see it.
"""
from __future__ import annotations

import io
import re
from datetime import date

import pytest
from werkzeug.datastructures import FileStorage

from qms import clock, localtime
from qms.extensions import db
from qms.models import (
    AgencyLevel,
    DayKind,
    DocumentKind,
    DossierEvent,
    DossierFile,
    EventKind,
    Role,
)
from qms.services import accounts, attachments, calendars, documents, dossiers, org, procedures
from tests.conftest import PASSWORD, login
from tests.documents.conftest import birth_data
from tests.quality.audit_fixtures import UNKNOWN_AUDIT_IDS, matrix_audits
from tests.quality.car_fixtures import car_matrix_ids
from tests.quality.feedback_fixtures import FEEDBACK_UNKNOWN_IDS, feedback_matrix_ids
from tests.reviews.fixtures import UNKNOWN_MONTHLY_IDS, monthly_matrix_ids
from tests.reviews.objective_fixtures import objective_matrix_ids
from tests.web.conftest import ROLES, text, username_of

OK, DENIED, MISSING, NO_GET = 200, 403, 404, 405
LOGIN = "login"  # 302 to /auth/login?next=<the page>
HOME = "home"    # 302 to /

#        columns: anonymous, then ROLES = admin, quality_officer, officer, department_head,
#                 leader, auditor
EVERYONE = (OK, OK, OK, OK, OK, OK, OK)
MEMBERS = (LOGIN, OK, OK, OK, OK, OK, OK)
ADMIN_ONLY = (LOGIN, OK, DENIED, DENIED, DENIED, DENIED, DENIED)
QUALITY_ONLY = (LOGIN, DENIED, OK, DENIED, DENIED, DENIED, DENIED)
POST_ONLY = (NO_GET,) * 7
SYNC_MANAGERS = (LOGIN, OK, OK, DENIED, DENIED, DENIED, DENIED)
# /documents/CSCL has an open draft (version 2): "new version" sends the quality officer to it
TO_OPEN_DRAFT = "302 → /documents/CSCL/versions/2"

EXPECTED: dict[str, tuple] = {
    # rule                                     anon   admin   QO      officer head    leader  auditor
    "/":                                       EVERYONE,
    "/healthz":                                EVERYONE,
    "/favicon.ico":                            (301,) * 7,  # to the static icon
    "/language/<code>":                        (HOME,) * 7,
    "/auth/login":                             (OK, HOME, HOME, HOME, HOME, HOME, HOME),
    "/auth/logout":                            POST_ONLY,
    "/auth/password":                          MEMBERS,
    "/admin/calendar":                         MEMBERS,
    "/admin/calendar/<int:agency_id>/hours":   POST_ONLY,
    "/admin/calendar/<int:agency_id>/overrides": POST_ONLY,
    "/admin/calendar/overrides/<int:override_id>/deactivate": POST_ONLY,
    "/admin/audit-log":                        (LOGIN, OK, OK, DENIED, DENIED, DENIED, OK),
    "/admin/agencies":                         MEMBERS,
    "/admin/agencies/new":                     ADMIN_ONLY,
    "/admin/agencies/<int:agency_id>":         MEMBERS,
    "/admin/departments":                      MEMBERS,
    "/admin/departments/new":                  ADMIN_ONLY,
    "/admin/departments/<int:department_id>":  MEMBERS,
    "/admin/fields":                           MEMBERS,
    "/admin/fields/new":                       ADMIN_ONLY,
    "/admin/fields/<int:field_id>":            MEMBERS,
    "/admin/users":                            ADMIN_ONLY,
    "/admin/users/new":                        ADMIN_ONLY,
    "/admin/users/<int:user_id>":              ADMIN_ONLY,
    "/admin/users/<int:user_id>/active":       POST_ONLY,
    # API tokens of integration accounts (tests/api/test_admin.py)
    "/admin/api-tokens":                       ADMIN_ONLY,
    "/admin/api-tokens/<int:token_id>/revoke": POST_ONLY,
    # Dossiers synced from the provincial system (tests/sync): the administrator and the
    # quality officer map codes and replay the held queue
    "/admin/sync":                             SYNC_MANAGERS,
    "/admin/sync/sources":                     POST_ONLY,
    "/admin/sync/mappings":                    POST_ONLY,
    "/admin/sync/sources/<int:source_id>/replay": POST_ONLY,
    "/admin/sync/mismatches":                  SYNC_MANAGERS,
    "/admin/sync/imports":                     POST_ONLY,
    "/admin/sync/endpoints":                   POST_ONLY,
    "/admin/sync/imports/<int:import_id>":     SYNC_MANAGERS,
    # The JSON API (tests/api): a bearer token only, never the session cookie, so every
    # browser, logged in or not, gets 401 (JSON); the OpenAPI document is public.
    "/api/v1/openapi.json":                    EVERYONE,
    "/api/v1/dossiers":                        POST_ONLY,
    "/api/v1/dossiers/<code>":                 (401,) * 7,
    "/api/v1/dossiers/<code>/steps/<int:position>/complete": POST_ONLY,
    "/api/v1/dossiers/<code>/return":          POST_ONLY,
    "/api/v1/online-dossiers":                 POST_ONLY,
    "/api/v1/sync/dossiers":                   POST_ONLY,
    "/api/v1/queue":                           (401,) * 7,
    # Controlled documents: everyone logged in reads; the quality officer keeps them; the
    # workflow buttons are POSTs (their role rules: tests/documents/test_web.py).
    "/documents":                              MEMBERS,
    "/documents/new":                          QUALITY_ONLY,
    # POST only, but a GET matches /documents/<code> (a document coded "import": none, since
    # codes are stored upper-case), so: log in first, then not found.
    "/documents/import":                       (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/documents/<code>":                       MEMBERS,
    "/documents/<code>/compare":               MEMBERS,
    "/documents/<code>/review":                POST_ONLY,
    "/documents/<code>/versions/new":          (LOGIN, DENIED, TO_OPEN_DRAFT, DENIED, DENIED, DENIED, DENIED),
    "/documents/<code>/versions/<int:number>": MEMBERS,
    "/documents/<code>/versions/<int:number>/edit":         QUALITY_ONLY,
    "/documents/<code>/versions/<int:number>/pdf":          MEMBERS,
    "/documents/<code>/versions/<int:number>/submit":       POST_ONLY,
    "/documents/<code>/versions/<int:number>/return":       POST_ONLY,
    "/documents/<code>/versions/<int:number>/approve":      POST_ONLY,
    "/documents/<code>/versions/<int:number>/withdraw":     POST_ONLY,
    "/documents/<code>/versions/<int:number>/acknowledge":  POST_ONLY,
    "/documents/<code>/versions/<int:number>/attachments":  POST_ONLY,
    "/documents/<code>/versions/<int:number>/attachments/<int:attachment_id>":         MEMBERS,
    "/documents/<code>/versions/<int:number>/attachments/<int:attachment_id>/remove":  POST_ONLY,
    # The public catalogue of procedures in force: no login
    "/thu-tuc/":                               EVERYONE,
    "/thu-tuc/<code>":                         EVERYONE,
    # The citizen's dossier lookup: no login
    "/tra-cuu":                                EVERYONE,
    # Citizens' feedback form and the rating of a returned dossier (tests/quality/test_feedback_pages.py,
    # test_satisfaction.py): no login
    "/gop-y":                                  EVERYONE,
    "/tra-cuu/danh-gia":                       POST_ONLY,
    # Handling feedback: oversight reads the agency's, a head their department's, an officer
    # what is assigned to them (the matrix's feedback is not assigned yet); not the admin.
    "/quality/feedback":                       (LOGIN, DENIED, OK, OK, OK, OK, OK),
    "/quality/feedback/<feedback_code>":       (LOGIN, DENIED, OK, DENIED, DENIED, OK, OK),
    "/quality/feedback/<feedback_code>/assign": POST_ONLY,
    "/quality/feedback/<feedback_code>/respond": POST_ONLY,
    "/quality/feedback/<feedback_code>/nonconformity": POST_ONLY,
    # Management review (tests/quality/test_management_review_pages.py): the agency's staff
    # read it; leaders and the quality officer hold it
    "/reviews/management":                     (LOGIN, DENIED, OK, OK, OK, OK, OK),
    "/reviews/management/new":                 (LOGIN, DENIED, OK, DENIED, DENIED, OK, DENIED),
    "/reviews/management/<int:review_id>":     (LOGIN, DENIED, OK, OK, OK, OK, OK),
    "/reviews/management/<int:review_id>/refresh": POST_ONLY,
    "/reviews/management/<int:review_id>/conclusions": POST_ONLY,
    "/reviews/management/<int:review_id>/actions": POST_ONLY,
    "/reviews/management/<int:review_id>/actions/<int:action_id>/done": POST_ONLY,
    "/reviews/management/<int:review_id>/close": POST_ONLY,
    "/reviews/management/<int:review_id>/nonconformity": POST_ONLY,
    # Dossiers. None of the matrix users sits in a one-stop office, so none opens the desk;
    # a dossier is read by oversight roles and the departments it went through only.
    "/dossiers/receive":                       (LOGIN, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    "/dossiers/queue":                         MEMBERS,
    # The intake queue of dossiers submitted online: the one-stop office's staff only
    "/dossiers/intake":                        (LOGIN, DENIED, DENIED, DENIED, DENIED, DENIED, DENIED),
    "/dossiers/<code>/accept":                 POST_ONLY,
    "/dossiers/<code>/refuse-online":          POST_ONLY,
    # The desk's answers to an incomplete dossier (tests/dossiers/test_reception.py); the
    # refusal slip exists only for a refused dossier (the matrix's dossier was received).
    "/dossiers/receive/guidance":              POST_ONLY,
    "/dossiers/receive/refuse":                POST_ONLY,
    "/dossiers/<code>/refusal.pdf":            (LOGIN, MISSING, MISSING, DENIED, DENIED, MISSING, MISSING),
    # The register: everyone working dossiers, each seeing their own rows (test_register.py)
    "/dossiers/register":                      MEMBERS,
    "/dossiers/register.xlsx":                 MEMBERS,
    "/dossiers/<code>":                        (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/dossiers/<code>/control-slip.pdf":       (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/dossiers/<code>/steps/<int:position>/complete": POST_ONLY,
    "/dossiers/<code>/steps/<int:position>/send-back": POST_ONLY,
    "/dossiers/<code>/return":                 POST_ONLY,
    "/dossiers/<code>/receipt":                POST_ONLY,
    "/dossiers/<code>/pause/start":            POST_ONLY,
    "/dossiers/<code>/pause/end":              POST_ONLY,
    "/dossiers/<code>/files/<int:file_id>":    (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    # Everyone logged in reads their own notifications; marking one is a POST (only its owner)
    "/notifications":                          MEMBERS,
    "/notifications/<int:notification_id>/read": POST_ONLY,
    "/notifications/read-all":                 POST_ONLY,
    # Pauses, delays and endings (tests/dossiers/test_event_pages.py): POST actions, and the
    # printable form of an event for whoever reads the dossier
    "/dossiers/<code>/supplement/request":     POST_ONLY,
    "/dossiers/<code>/supplement/receive":     POST_ONLY,
    "/dossiers/<code>/payment/request":        POST_ONLY,
    "/dossiers/<code>/payment/receive":        POST_ONLY,
    "/dossiers/<code>/apology":                POST_ONLY,
    "/dossiers/<code>/stop":                   POST_ONLY,
    "/dossiers/<code>/withdraw":               POST_ONLY,
    "/dossiers/<code>/events/<int:event_id>.pdf": (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    # The nonconformity register (tests/quality/test_nc_pages.py): all staff read it, an
    # officer or head only their department's (the matrix's NC is the culture department's);
    # QO, auditors, heads and leaders raise one by hand; only the QO rejects (a POST).
    "/quality/nonconformities":                MEMBERS,
    "/quality/nonconformities/new":            (LOGIN, DENIED, OK, DENIED, OK, OK, OK),
    "/quality/nonconformities/<nc_code>":      (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/quality/nonconformities/<nc_code>/reject": POST_ONLY,
    # Internal audits (tests/quality/test_audits_pages.py): all staff open the programmes;
    # the QO keeps them and plans audits; an auditor plans audits they lead and edits them
    # (the matrix's planned audit, of the culture department, is led by its auditor of the
    # office); an audit is read by oversight roles and the audited department only;
    # conducting is POSTs.
    "/audits":                                 MEMBERS,
    "/audits/programmes/new":                  QUALITY_ONLY,
    "/audits/programmes/<int:programme_id>":   MEMBERS,
    "/audits/programmes/<int:programme_id>/plan": (LOGIN, DENIED, OK, DENIED, DENIED, DENIED, OK),
    "/audits/<int:audit_id>":                  (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/audits/<int:audit_id>/edit":             (LOGIN, DENIED, OK, DENIED, DENIED, DENIED, OK),
    "/audits/<int:audit_id>/report.pdf":       (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/audits/evidence/<int:evidence_id>":      (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/audits/<int:audit_id>/start":            POST_ONLY,
    "/audits/<int:audit_id>/items/<int:item_id>/answer": POST_ONLY,
    "/audits/<int:audit_id>/items/<int:item_id>/finding": POST_ONLY,
    "/audits/<int:audit_id>/findings":         POST_ONLY,
    "/audits/<int:audit_id>/report":           POST_ONLY,
    "/audits/<int:audit_id>/close":            POST_ONLY,
    # Corrective actions (tests/quality/test_cars_pages.py): staff read the CARs they take
    # part in (the matrix's CAR is the office's: every matrix user's department); oversight
    # reads all; the admin has no part in the quality loop. Acting is POSTs (object rules).
    "/quality/cars":                           (LOGIN, DENIED, OK, OK, OK, OK, OK),
    "/quality/cars/<car_code>":                (LOGIN, DENIED, OK, OK, OK, OK, OK),
    "/quality/cars/<car_code>/report.pdf":     (LOGIN, DENIED, OK, OK, OK, OK, OK),
    "/quality/cars/<car_code>/nonconformities": POST_ONLY,
    "/quality/cars/<car_code>/analysis":       POST_ONLY,
    "/quality/cars/<car_code>/plan":           POST_ONLY,
    "/quality/cars/<car_code>/items/<int:position>/done": POST_ONLY,
    "/quality/cars/<car_code>/verify":         POST_ONLY,
    # Monthly compliance reviews (tests/reviews/test_pages.py): everyone opens the list; a
    # department's month (the matrix's: the culture department's) is read by oversight roles
    # and its own head and officers; only its head saves and signs (POSTs).
    "/reviews/monthly":                        MEMBERS,
    "/reviews/monthly/<department_code>/<month>":             (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/reviews/monthly/<department_code>/<month>/report.pdf":  (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/reviews/monthly/<department_code>/<month>/report.xlsx": (LOGIN, OK, OK, DENIED, DENIED, OK, OK),
    "/reviews/monthly/<department_code>/<month>/save":        POST_ONLY,
    "/reviews/monthly/<department_code>/<month>/sign":        POST_ONLY,
    # Quality objectives (tests/reviews/test_objectives.py): everyone reads them; the quality
    # officer sets (POST on the same rule) and retires them.
    "/reviews/objectives":                     MEMBERS,
    "/reviews/objectives/<int:objective_id>/retire": POST_ONLY,
}

# The same routes with ids that do not exist. Logging in comes first (anonymous → login
# page), then the permission (no hint to the unauthorised whether the record exists), then
# the lookup.
UNKNOWN_ID_EXPECTED: dict[str, tuple] = {
    "/admin/sync/imports/<int:import_id>":     (LOGIN, MISSING, MISSING, DENIED, DENIED, DENIED, DENIED),
    "/admin/agencies/<int:agency_id>":         (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/admin/departments/<int:department_id>":  (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/admin/fields/<int:field_id>":            (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/admin/users/<int:user_id>":              (LOGIN, MISSING, DENIED, DENIED, DENIED, DENIED, DENIED),
    "/language/<code>":                        (MISSING,) * 7,
    "/documents/<code>":                       (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/documents/<code>/compare":               (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/documents/<code>/versions/new":          (LOGIN, DENIED, MISSING, DENIED, DENIED, DENIED, DENIED),
    "/documents/<code>/versions/<int:number>": (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/documents/<code>/versions/<int:number>/edit": (LOGIN, DENIED, MISSING, DENIED, DENIED, DENIED, DENIED),
    "/documents/<code>/versions/<int:number>/pdf":  (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/documents/<code>/versions/<int:number>/attachments/<int:attachment_id>":
                                               (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/thu-tuc/<code>":                         (MISSING,) * 7,
    "/dossiers/<code>":                        (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/dossiers/<code>/control-slip.pdf":       (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/dossiers/<code>/refusal.pdf":            (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/dossiers/<code>/files/<int:file_id>":    (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/dossiers/<code>/events/<int:event_id>.pdf": (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/api/v1/dossiers/<code>":                 (401,) * 7,  # the token is checked first
    "/quality/nonconformities/<nc_code>":      (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/audits/programmes/<int:programme_id>":   (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/audits/programmes/<int:programme_id>/plan": (LOGIN, DENIED, MISSING, DENIED, DENIED, DENIED, MISSING),
    "/audits/<int:audit_id>":                  (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/audits/<int:audit_id>/edit":             (LOGIN, DENIED, MISSING, DENIED, DENIED, DENIED, MISSING),
    "/audits/<int:audit_id>/report.pdf":       (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/audits/evidence/<int:evidence_id>":      (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/quality/cars/<car_code>":                (LOGIN, DENIED, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/quality/cars/<car_code>/report.pdf":     (LOGIN, DENIED, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/quality/feedback/<feedback_code>":       (LOGIN, DENIED, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/reviews/management/<int:review_id>":     (LOGIN, DENIED, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/reviews/monthly/<department_code>/<month>":             (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/reviews/monthly/<department_code>/<month>/report.pdf":  (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
    "/reviews/monthly/<department_code>/<month>/report.xlsx": (LOGIN, MISSING, MISSING, MISSING, MISSING, MISSING, MISSING),
}

SKIPPED_ENDPOINTS = {"static", "bootstrap.static"}


def routes(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint not in SKIPPED_ENDPOINTS),
                  key=lambda r: r.rule)


def test_columns_cover_every_role():
    assert sorted(ROLES, key=lambda r: r.value) == sorted(Role, key=lambda r: r.value)
    assert len(ROLES) == len(set(ROLES))


def test_every_route_is_in_the_table(app):
    rules = {rule.rule for rule in routes(app)}
    missing = rules - set(EXPECTED)
    assert not missing, f"routes without an access expectation, add them to EXPECTED: {sorted(missing)}"
    stale = set(EXPECTED) - rules
    assert not stale, f"EXPECTED names routes that no longer exist: {sorted(stale)}"
    for rule, row in {**EXPECTED, **UNKNOWN_ID_EXPECTED}.items():
        assert len(row) == 1 + len(ROLES), rule
    assert set(UNKNOWN_ID_EXPECTED) <= set(EXPECTED)
    with_ids = {rule.rule for rule in routes(app) if rule.arguments}
    # every route with an id has an unknown-id row (POST-only ones are covered elsewhere)
    assert {r for r in with_ids if EXPECTED[r] != POST_ONLY} <= set(UNKNOWN_ID_EXPECTED)


PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def _make_effective(version, quality, leader):
    now = clock.now()
    documents.submit(version, actor=quality, now=now)
    documents.approve(version, actor=leader, effective_date=localtime.date_of(now), now=now)


@pytest.fixture
def real_ids(orgtree, users):
    """Something real behind every url parameter: a policy whose version 1 is in force and
    version 2 an open draft with an attached file, and a procedure in force (for /thu-tuc)."""
    quality, leader = users[Role.quality_officer], users[Role.leader]
    field = org.save_field(None, actor=None, code="HT", name="Hộ tịch")
    policy = documents.create_document(actor=quality, code="CSCL", title="Chính sách chất lượng",
                                       kind=DocumentKind.policy, owner=quality.department)
    v1 = documents.draft_version(policy, actor=quality, title=policy.title, body="Phục vụ nhân dân.\n",
                                 change_summary="", now=clock.now())
    _make_effective(v1, quality, leader)
    v2 = documents.draft_version(policy, actor=quality, title=policy.title, body="Phục vụ tận tụy.\n",
                                 change_summary="Sửa lời văn", now=clock.now())
    attachment = attachments.save_attachment(
        v2, FileStorage(io.BytesIO(PDF), filename="Quyết định.pdf"), actor=quality, now=clock.now())
    process = documents.create_document(actor=quality, code="QT-HT-01", title="Quy trình đăng ký khai sinh",
                                        kind=DocumentKind.process, owner=quality.department)
    procedure = procedures.create_procedure(code="1.001193", name="Đăng ký khai sinh", field=field,
                                            level=AgencyLevel.commune, document=process)
    version = documents.draft_version(process, actor=quality, title=process.title, body="",
                                      change_summary="", now=clock.now())
    procedures.write_procedure_data(version, procedure, birth_data())
    _make_effective(version, quality, leader)
    override = calendars.add_override(orgtree["province"], day=date(2026, 12, 26),
                                      kind=DayKind.working_day, reason="Làm bù", actor=None)
    desk = accounts.create_user(actor=None, username="motcua", full_name="Một Cửa", password=PASSWORD,
                                department=orgtree["onestop"], roles={Role.officer})
    dossier, _secret = dossiers.receive_dossier(actor=desk, procedure=procedure,
                                                applicant_name="Lê Văn Tám", now=clock.now())
    stored = attachments.store_upload(FileStorage(io.BytesIO(PDF), filename="Tờ khai.pdf"))
    dossier_file = DossierFile(dossier=dossier, filename=stored.filename, storage_name=stored.storage_name,
                               media_type=stored.media_type, size=stored.size, sha256=stored.sha256,
                               uploaded_by_id=desk.id, uploaded_at=clock.now())
    db.session.add(dossier_file)
    # a printable event (Mẫu 02), added as a row so the dossier's state stays "received"
    event = DossierEvent(dossier=dossier, kind=EventKind.supplement_requested, at=clock.now(), by=desk,
                         department=desk.department, reason="Thiếu tờ khai", due_before=dossier.due_at)
    db.session.add(event)
    from qms.models import Notification, NotificationKind
    notification = Notification(user=users[Role.officer], kind=NotificationKind.step_due_soon,
                                step=dossier.steps[0], message="Sắp đến hạn", link=f"/dossiers/{dossier.code}")
    db.session.add(notification)
    from qms.services import api_tokens
    api_token, _plaintext = api_tokens.issue_token(desk, name="Cổng DVC", actor=None, now=clock.now())
    from qms.services import sync
    source = sync.add_source(actor=quality, code="MC-TP", name="Một cửa tỉnh", account=desk)
    from qms.models import ImportStatus, RegisterImport
    register = RegisterImport(source=source, filename="so.xlsx", storage_name="so.xlsx", uploaded_by=quality,
                              status=ImportStatus.done, rows_total=1, rows_done=1,
                              summary={"rows": 1, "counts": {"created": 1, "updated": 0, "unchanged": 0,
                                                             "held": 0, "refused": 0}, "held": {}, "problems": []})
    db.session.add(register)
    from qms.models import Severity
    from qms.services import nonconformities
    nc = nonconformities.raise_nonconformity(  # another department's than the matrix users'
        actor=quality, department=orgtree["culture"], clause="8.5.1", severity=Severity.minor,
        description="Bước xử lý quá hạn", now=clock.now(), dossier=dossier)
    db.session.commit()
    return {"notification_id": notification.id, "agency_id": orgtree["ward"].id, "department_id": orgtree["culture"].id,
            "field_id": field.id, "user_id": users[Role.officer].id, "code": "vi",
            "documents.code": "CSCL", "number": v2.number, "attachment_id": attachment.id,
            "public.code": procedure.code, "override_id": override.id,
            "dossiers.code": dossier.code, "position": 1, "file_id": dossier_file.id,
            "event_id": event.id, "token_id": api_token.id, "api.code": dossier.code, "source_id": source.id,
            "import_id": register.id,
            "nc_code": nc.code, **matrix_audits(orgtree, users), **car_matrix_ids(orgtree, users),
            **feedback_matrix_ids(orgtree, users), **monthly_matrix_ids(orgtree),
            **objective_matrix_ids(orgtree)}


UNKNOWN_IDS = {"agency_id": 987654, "department_id": 987654, "field_id": 987654,
               "user_id": 987654, "code": "xx", "documents.code": "KHONG-CO",
               "number": 987654, "attachment_id": 987654, "public.code": "9.999999",
               "override_id": 987654, "dossiers.code": "TP-A-000000-0000", "position": 99,
               "file_id": 987654, "event_id": 987654, "api.code": "TP-A-000000-0000", "source_id": 987654,
               "import_id": 987654,
               "nc_code": "NC-2099-9999", **UNKNOWN_AUDIT_IDS, "car_code": "CAR-2099-9999",
               **FEEDBACK_UNKNOWN_IDS, **UNKNOWN_MONTHLY_IDS}

# Unknown ids below a real one: a version number the document does not have, a file id the
# version does not have. Each case walks only the rules that take the unknown parameter.
UNKNOWN_CASES = {
    "all-unknown": UNKNOWN_IDS,
    "unknown-version-of-a-real-document": {"number": 987654},
    "unknown-attachment-of-a-real-version": {"attachment_id": 987654},
}


def _key(rule, argument: str, values) -> str:
    """`code` means a different thing per blueprint: "documents.code" before "code"."""
    scoped = f"{rule.endpoint.partition('.')[0]}.{argument}"
    return scoped if scoped in values else argument


def build_url(rule, values) -> str:
    def value(match):
        key = _key(rule, match.group(1), values)
        assert key in values, f"no value for <{match.group(1)}> of {rule.rule}"
        return str(values[key])

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule.rule)


def outcome(response, url):
    if response.status_code != 302:
        return response.status_code
    location = response.location
    if location.startswith("/auth/login"):
        return LOGIN
    if location == "/":
        return HOME
    return f"302 → {location}"


def _clients(app):
    clients = [("anonymous", app.test_client())]
    for role in ROLES:
        client = app.test_client()
        assert login(client, username_of(role)).status_code == 302
        clients.append((role.value, client))
    return clients


def _walk(app, table, values, only_rules=None):
    mismatches = []
    for column, (who, client) in enumerate(_clients(app)):
        for rule in routes(app):
            if only_rules is not None and rule.rule not in only_rules:
                continue
            url = build_url(rule, values)
            response = client.get(url)
            got, want = outcome(response, url), table[rule.rule][column]
            if got != want:
                mismatches.append(f"{who:16} GET {url}: expected {want}, got {got}")
            if got == LOGIN:
                assert response.location.startswith("/auth/login?next="), response.location
            if got == DENIED:
                assert "Không có quyền truy cập" in text(response), url
    return mismatches


def test_role_route_matrix(app, real_ids):
    mismatches = _walk(app, EXPECTED, real_ids)
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("case", list(UNKNOWN_CASES))
def test_unknown_ids(app, real_ids, case):
    unknown = UNKNOWN_CASES[case]
    rules = {rule.rule for rule in routes(app) if rule.rule in UNKNOWN_ID_EXPECTED
             and any(_key(rule, argument, unknown) in unknown for argument in rule.arguments)}
    assert rules, case
    mismatches = _walk(app, UNKNOWN_ID_EXPECTED, {**real_ids, **unknown}, only_rules=rules)
    assert not mismatches, "\n".join(mismatches)


def test_drafting_pages_follow_the_version_status(app, real_ids):
    """The other side of the table's CSCL rows: with no open draft the quality officer gets
    the new-version form, and an edit page for a version in force sends them back to it."""
    quality = _clients(app)[1 + ROLES.index(Role.quality_officer)][1]
    assert quality.get("/documents/CSCL/versions/1/edit").location == "/documents/CSCL/versions/1"
    assert quality.get("/documents/QT-HT-01/versions/new").status_code == OK
    assert quality.get("/documents/QT-HT-01/versions/1/edit").location == "/documents/QT-HT-01/versions/1"
    assert quality.get("/documents/QT-HT-01/compare").location == "/documents/QT-HT-01"  # one version


def test_anonymous_is_sent_to_login_and_back(app, real_ids):
    client = app.test_client()
    response = client.get("/admin/agencies")
    assert response.location == "/auth/login?next=%2Fadmin%2Fagencies"
    assert "Vui lòng đăng nhập để tiếp tục." in text(client.get(response.location))


def test_menu_shows_only_what_the_role_may_open(app, real_ids):
    """The navigation asks authz too: no link the user would get a 403 for."""
    for who, client in _clients(app)[1:]:
        page = client.get("/").get_data(as_text=True)
        role = Role(who)
        assert ('href="/admin/users"' in page) == (role is Role.admin), who
        assert ('href="/admin/api-tokens"' in page) == (role is Role.admin), who
        assert ('href="/admin/audit-log"' in page) == (
            role in {Role.admin, Role.quality_officer, Role.auditor}), who
        assert 'href="/admin/agencies"' in page, who
        assert 'href="/documents"' in page and 'href="/thu-tuc/"' in page, who
