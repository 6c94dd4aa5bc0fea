"""The nonconformity register's pages: the filters, who reads which nonconformities, raising
one by hand, and the quality officer's rejection with a reason."""
import pytest
import sqlalchemy as sa

from qms.extensions import db
from qms.models import AuditLog, CorrectiveAction, NcSource, NcStatus, Nonconformity, Role, Severity
from qms.services import dossiers, nonconformities
from tests.conftest import login, post_form
from tests.dossiers.conftest import at
from tests.web.conftest import field_errors, flashes, table_rows, text

REGISTER = "/quality/nonconformities"


def browser(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def codes(response) -> list[str]:
    return [row[0] for row in table_rows(response, "nc-register") if row[0].startswith("NC-")]


@pytest.fixture
def people(make_user, orgtree):
    return {
        "quality": make_user("chatluong", Role.quality_officer, department=orgtree["centre"]),
        "leader": make_user("lanhdao", Role.leader, department=orgtree["office"]),
        "auditor": make_user("danhgia", Role.auditor, department=orgtree["office"]),
        "admin": make_user("quantri", Role.admin, department=orgtree["office"]),
        "culture_officer": make_user("cbvanhoa", Role.officer, department=orgtree["culture"]),
        "culture_head": make_user("truongvanhoa", Role.department_head, department=orgtree["culture"]),
        "office_officer": make_user("cbvanphong", Role.officer, department=orgtree["office"]),
    }


@pytest.fixture
def book(people, orgtree):
    """Four nonconformities told apart by department, source, clause, status and date."""
    qo = people["quality"]

    def raise_(department, clause, when, **values):
        nc = nonconformities.raise_nonconformity(
            actor=qo, department=orgtree[department], clause=clause, now=when,
            description=values.pop("description", f"Không phù hợp điều {clause}"),
            severity=values.pop("severity", Severity.minor), **values)
        return nc

    ncs = {
        "late_step": raise_("culture", "8.5.1", at(2026, 11, 20, 10, 0), source=NcSource.overdue_step),
        # 23:30 on 25/11 in Hà Nội is 16:30 UTC: it belongs to the 25th
        "records": raise_("office", "7.5.3", at(2026, 11, 25, 23, 30), severity=Severity.major),
        "complaint": raise_("culture", "8.5", at(2026, 11, 26, 8, 0), source=NcSource.complaint),
        "rejected": raise_("office", "10.2", at(2026, 11, 27, 9, 0)),
    }
    nonconformities.transition(ncs["rejected"], "reject", actor=qo, now=at(2026, 11, 27, 10, 0),
                               reason="Trùng với NC khác")
    db.session.commit()
    return ncs


def test_register_lists_everything_for_the_quality_officer(app, book):
    response = browser(app, "chatluong").get(REGISTER)
    assert response.status_code == 200
    rows = table_rows(response, "nc-register")
    # newest first; the clause is shown with its TCVN title
    assert [r[0] for r in rows] == ["NC-2026-0004", "NC-2026-0003", "NC-2026-0002", "NC-2026-0001"]
    late = rows[3]
    assert late[1] == "20/11/2026" and late[2] == "Bước xử lý quá hạn" and late[3] == "A-VHXH"
    assert late[4] == "8.5.1 Kiểm soát sản xuất và cung cấp dịch vụ"
    assert (late[5], late[6]) == ("Nhẹ", "Mới ghi nhận")
    assert rows[2][1] == "25/11/2026" and rows[2][5] == "Nặng"
    assert rows[0][6] == "Không chấp nhận"
    assert "4 sự không phù hợp" in text(response)


@pytest.mark.parametrize(("query", "expected"), [
    ("department={culture}", ["NC-2026-0003", "NC-2026-0001"]),
    ("status=rejected", ["NC-2026-0004"]),
    ("status=open", ["NC-2026-0003", "NC-2026-0002", "NC-2026-0001"]),
    ("source=complaint", ["NC-2026-0003"]),
    ("source=overdue_step", ["NC-2026-0001"]),
    # a clause selects itself and its sub-clauses
    ("clause=8.5", ["NC-2026-0003", "NC-2026-0001"]),
    ("clause=8", ["NC-2026-0003", "NC-2026-0001"]),
    ("clause=10", ["NC-2026-0004"]),
    ("clause=1", []),
    # local dates: the 23:30 nonconformity of 25/11 is on the 25th, not the 26th
    ("to=2026-11-25", ["NC-2026-0002", "NC-2026-0001"]),
    ("from=2026-11-26", ["NC-2026-0004", "NC-2026-0003"]),
    ("from=25/11/2026&to=25/11/2026", ["NC-2026-0002"]),
    ("department={culture}&source=complaint&clause=8.5&from=2026-11-26&to=2026-11-26", ["NC-2026-0003"]),
])
def test_each_filter_narrows_the_register(app, book, orgtree, query, expected):
    url = f"{REGISTER}?{query.format(culture=orgtree['culture'].id)}"
    response = browser(app, "chatluong").get(url)
    assert response.status_code == 200
    assert codes(response) == expected


@pytest.mark.parametrize(("query", "message"), [
    ("from=31/02/2026", "Phát hiện từ ngày không hợp lệ: “31/02/2026”"),
    ("to=hôm-qua", "Phát hiện đến ngày không hợp lệ: “hôm-qua”"),
    ("from=2026-11-27&to=2026-11-20", "Ngày bắt đầu phải trước hoặc bằng ngày kết thúc."),
    ("status=dong", "Trạng thái không hợp lệ: “dong”"),
    ("source=x", "Nguồn không hợp lệ: “x”"),
    ("clause=abc", "Điều khoản không hợp lệ: “abc”"),
    ("department=phong", "Phòng ban không hợp lệ: “phong”"),
    ("department=99999999999999999999", "Phòng ban không hợp lệ"),
])
def test_a_bad_filter_says_why_and_lists_nothing(app, book, query, message):
    response = browser(app, "chatluong").get(f"{REGISTER}?{query}")
    assert response.status_code == 400
    assert message in text(response)
    assert codes(response) == []


@pytest.mark.parametrize(("username", "visible"), [
    ("chatluong", ["NC-2026-0004", "NC-2026-0003", "NC-2026-0002", "NC-2026-0001"]),
    ("lanhdao", ["NC-2026-0004", "NC-2026-0003", "NC-2026-0002", "NC-2026-0001"]),
    ("danhgia", ["NC-2026-0004", "NC-2026-0003", "NC-2026-0002", "NC-2026-0001"]),
    ("quantri", ["NC-2026-0004", "NC-2026-0003", "NC-2026-0002", "NC-2026-0001"]),
    ("cbvanhoa", ["NC-2026-0003", "NC-2026-0001"]),
    ("truongvanhoa", ["NC-2026-0003", "NC-2026-0001"]),
    ("cbvanphong", ["NC-2026-0004", "NC-2026-0002"]),
])
def test_each_role_reads_what_it_may(app, book, orgtree, username, visible):
    client = browser(app, username)
    assert codes(client.get(REGISTER)) == visible
    # asking for another department does not widen the list
    assert set(codes(client.get(f"{REGISTER}?department={orgtree['culture'].id}"))) <= set(visible)
    for nc in book.values():
        status = client.get(f"{REGISTER}/{nc.code}").status_code
        assert status == (200 if nc.code in visible else 403), (username, nc.code)


def test_the_menu_links_the_register(app, book):
    page = text(browser(app, "cbvanhoa").get("/"))
    assert f'href="{REGISTER}"' in page


def test_detail_shows_origin_clause_car_and_history(app, book, people, three_days, desk, orgtree):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Hoàng Văn Minh",
                                                now=at(2026, 11, 20, 9, 0))
    raised = nonconformities.check_overdue(at(2026, 11, 23, 8, 0))
    car = CorrectiveAction(code="CAR-2026-0001", department=orgtree["onestop"],
                           owner=people["culture_head"])
    db.session.add(car)
    raised[0].corrective_action = car
    db.session.commit()
    nc = raised[0]
    client = browser(app, "chatluong")
    page = text(client.get(f"{REGISTER}/{nc.code}"))
    assert f'href="/dossiers/{dossier.code}"' in page
    assert "bước 1: Tiếp nhận, kiểm tra hồ sơ" in page
    assert "8.5.1 Kiểm soát sản xuất và cung cấp dịch vụ" in page
    assert 'href="/quality/cars/CAR-2026-0001"' in page  # the CAR's own page
    assert "Hệ thống (tự động)" in page  # detected by the system
    history = table_rows(client.get(f"{REGISTER}/{nc.code}"), "nc-history")
    assert [row[2] for row in history] == ["Mới ghi nhận"]
    # the register links the origin and shows the CAR too
    row = next(r for r in table_rows(client.get(REGISTER), "nc-register") if r[0] == nc.code)
    assert dossier.code in row[2] and row[7] == "CAR-2026-0001"


def test_unknown_code_is_not_found(app, book):
    assert browser(app, "chatluong").get(f"{REGISTER}/NC-2099-9999").status_code == 404


# --- raising by hand ------------------------------------------------------------------------
def test_raise_by_hand_with_validation_errors(app, people, orgtree):
    client = browser(app, "truongvanhoa")
    form = client.get(f"{REGISTER}/new")
    assert form.status_code == 200
    assert "8.5.1 Kiểm soát sản xuất và cung cấp dịch vụ" in text(form)  # the clause list
    data = {"department_id": str(orgtree["culture"].id), "clause": "7.5.3", "severity": "minor",
            "description": "", "correction": "", "dossier_code": "TP-A-000000-9999"}
    response = post_form(client, f"{REGISTER}/new", data)
    assert response.status_code == 400
    assert "Hãy mô tả sự không phù hợp." in field_errors(response)
    response = post_form(client, f"{REGISTER}/new", {**data, "description": "Sổ theo dõi thiếu chữ ký"})
    assert response.status_code == 400
    assert field_errors(response) == ["Không có hồ sơ mã “TP-A-000000-9999”."]
    response = post_form(client, f"{REGISTER}/new", {**data, "clause": "", "dossier_code": "",
                                                     "description": "Sổ theo dõi thiếu chữ ký"})
    assert "Hãy chọn điều khoản ISO 9001:2015." in field_errors(response)
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == 0  # nothing written


def test_raise_by_hand_links_the_dossier(app, people, orgtree, three_days, desk):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Hoàng Văn Minh",
                                                now=at(2026, 11, 20, 9, 0))
    db.session.commit()
    client = browser(app, "danhgia")
    response = post_form(client, f"{REGISTER}/new", {
        "department_id": str(orgtree["onestop"].id), "clause": "8.5.2", "severity": "major",
        "description": "Phiếu kiểm soát không ghi giờ nhận", "correction": "Đã bổ sung",
        "dossier_code": dossier.code.lower()})
    assert response.status_code == 302 and response.location == f"{REGISTER}/NC-2026-0001"
    nc = db.session.scalar(sa.select(Nonconformity))
    assert (nc.source, nc.department, nc.clause, nc.severity, nc.dossier, nc.procedure,
            nc.detected_by, nc.correction) == (
        NcSource.manual, orgtree["onestop"], "8.5.2", Severity.major, dossier, three_days,
        people["auditor"], "Đã bổ sung")
    page = client.get(response.location)
    assert "Đã ghi nhận sự không phù hợp NC-2026-0001." in flashes(page)
    assert f'href="/dossiers/{dossier.code}"' in text(page)
    logged = db.session.scalars(sa.select(AuditLog).where(AuditLog.entity_type == "nonconformity")).all()
    assert [(row.action, row.actor_id) for row in logged] == [("nonconformity.created", people["auditor"].id)]


def test_a_head_raises_only_about_what_they_may_see(app, people, orgtree, three_days, desk):
    """The culture head raises against their own department only, and links only a dossier
    they may read (issue 14); the auditor (oversight) may do both."""
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Hồ sơ của phòng khác", now=at(2026, 11, 20, 9, 0))
    db.session.commit()
    head = browser(app, "truongvanhoa")
    data = {"department_id": str(orgtree["onestop"].id), "clause": "8.5.2", "severity": "minor",
            "description": "Không ghi giờ nhận", "correction": "", "dossier_code": ""}
    response = post_form(head, f"{REGISTER}/new", data)
    assert "Trưởng phòng chỉ ghi nhận sự không phù hợp của phòng mình." in text(response)
    response = post_form(head, f"{REGISTER}/new", {**data, "department_id": str(orgtree["culture"].id),
                                                   "dossier_code": dossier.code})
    assert f"Tài khoản này không được xem hồ sơ {dossier.code}." in text(response)
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == 0
    response = post_form(head, f"{REGISTER}/new", {**data, "department_id": str(orgtree["culture"].id)})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Nonconformity.id))) == 1


@pytest.mark.parametrize("username", ["cbvanhoa", "quantri"])
def test_officers_and_the_administrator_do_not_raise_by_hand(app, people, orgtree, username):
    client = browser(app, username)
    assert client.get(f"{REGISTER}/new").status_code == 403
    assert "Ghi nhận sự không phù hợp" not in text(client.get(REGISTER))  # no button either


# --- rejecting --------------------------------------------------------------------------------
def test_the_quality_officer_rejects_with_a_reason(app, book, people):
    nc = book["late_step"]
    client = browser(app, "chatluong")
    url = f"{REGISTER}/{nc.code}"
    assert 'id="nc-reject-form"' in text(client.get(url))
    response = post_form(client, f"{url}/reject", {"reason": "  "}, token_from=url)
    assert response.location == url
    assert "Hãy ghi lý do không chấp nhận." in flashes(client.get(url))
    db.session.refresh(nc)
    assert nc.status is NcStatus.open
    response = post_form(client, f"{url}/reject", {"reason": "Bước đã được gia hạn hợp lệ"},
                         token_from=url)
    assert response.location == url
    db.session.refresh(nc)
    assert (nc.status, nc.rejected_reason) == (NcStatus.rejected, "Bước đã được gia hạn hợp lệ")
    assert nc.closed_at is not None
    page = client.get(url)
    assert "Đã không chấp nhận sự không phù hợp NC-2026-0001." in flashes(page)
    assert 'id="nc-reject-form"' not in text(page)  # a rejected one cannot be rejected again
    history = table_rows(page, "nc-history")
    assert history[-1][1] == "Chatluong"
    assert history[-1][2] == "Mới ghi nhận → Không chấp nhận Bước đã được gia hạn hợp lệ"


@pytest.mark.parametrize("username", ["lanhdao", "danhgia", "truongvanhoa", "quantri"])
def test_only_the_quality_officer_rejects(app, book, username):
    nc = book["late_step"]
    client = browser(app, username)
    url = f"{REGISTER}/{nc.code}"
    assert 'id="nc-reject-form"' not in text(client.get(url))
    response = post_form(client, f"{url}/reject", {"reason": "Không đúng"}, token_from=REGISTER)
    assert response.status_code == 403
    db.session.refresh(nc)
    assert nc.status is NcStatus.open


def test_register_costs_the_same_queries_for_50_rows_as_for_5(app, people, orgtree, three_days, desk):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Hoàng Văn Minh",
                                                now=at(2026, 11, 20, 9, 0))
    for minute in range(55):
        nonconformities.raise_nonconformity(
            actor=people["quality"], department=orgtree["culture"], clause="8.5.1",
            description=f"Lỗi {minute}", severity=Severity.minor, now=at(2026, 11, 25, 8, minute),
            dossier=dossier, dossier_step=dossier.steps[0])
    db.session.commit()
    client = browser(app, "chatluong")
    statements = []

    def count(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        first = client.get(REGISTER)
        on_first = len(statements)
        statements.clear()
        second = client.get(f"{REGISTER}?page=2")
        on_second = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(codes(first)) == 50 and len(codes(second)) == 5
    assert on_first == on_second
