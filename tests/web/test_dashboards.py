"""The home page's dashboards (issue 6; overdue flags of issue 5): each role sees its own
panel, with figures that agree with a small hand-built set of dossiers, nonconformities,
CARs and audits; charts are inline SVG; an empty database breaks nothing; the number of
queries does not grow with the dossiers."""
from __future__ import annotations

import html
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from qms import clock
from qms.extensions import db
from qms.models import (
    Channel,
    ChecklistResult,
    DocumentKind,
    FindingKind,
    MonthlyReview,
    MonthlyReviewStatus,
    ObjectiveComparison,
    QualityObjective,
    Role,
)
from qms.services import accounts, audits, corrective_actions, documents, dossiers
from tests.conftest import PASSWORD, login
from tests.documents.conftest import birth, staff  # noqa: F401  (fixtures)
from tests.dossiers.conftest import at, desk, in_force, three_days  # noqa: F401  (fixtures)
from tests.quality.audit_fixtures import plan, programme_for
from tests.quality.car_fixtures import analysed, planned, raise_nc
from tests.web.conftest import table_rows, username_of

NOW = at(2026, 12, 9, 10, 0)  # a Wednesday, 10:00 in Hà Nội
PANELS = ("officer", "head", "quality", "leader", "auditor")
PANEL_OF = {Role.officer: "officer", Role.department_head: "head", Role.quality_officer: "quality",
            Role.leader: "leader", Role.auditor: "auditor"}


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen(NOW):
        yield


def browser(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


def home(app, username) -> str:
    response = browser(app, username).get("/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def panels_on(page: str) -> list[str]:
    return re.findall(r'<section class="card[^"]*dashboard-panel" id="panel-([a-z]+)"', page)


def figure(page: str, element_id: str) -> str:
    """The value shown by the figure box `element_id`."""
    match = re.search(rf'id="{element_id}">.*?figure-value[^"]*">(.*?)</div>', page, re.DOTALL)
    assert match, element_id
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def chart(page: str, container_id: str) -> str:
    match = re.search(rf'id="{container_id}">(<svg.*?</svg>)', page, re.DOTALL)
    assert match, container_id
    return match.group(1)


def points(svg: str) -> int:
    return len(re.findall(r'<circle class="point"', svg))


def receive(procedure, officer, name, when, channel=Channel.direct):
    dossier, _secret = dossiers.receive_dossier(actor=officer, procedure=procedure, applicant_name=name,
                                                now=when, channel=channel)
    return dossier


def finish(dossier, desk, orgtree, when):  # noqa: F811
    """Every step worked at `when`: desk → culture → office → the desk returns the result."""
    steps = dossier.steps
    dossiers.complete_step(steps[0], actor=desk["onestop"], now=when, next_department=orgtree["culture"])
    dossiers.complete_step(steps[1], actor=desk["culture"], now=when, next_department=orgtree["office"])
    dossiers.complete_step(steps[2], actor=desk["office"], now=when)
    dossiers.complete_step(steps[3], actor=desk["onestop"], now=when)


@pytest.fixture
def book(three_days, desk, orgtree, staff, make_user):  # noqa: F811
    """The ward's dossiers of November and December 2026 (three working days; received on
    Tuesday 1/12 07:00 they are due Thursday 3/12 17:00):

    November: one early, one late (on-time rate 50 %).
    December: early, on time, late (its culture step late too), one stuck at the desk
    (overdue), one online received 8/12 (in time, its desk step overdue), one received
    9/12 09:30 whose desk step is due at 10:30 (due soon); a refusal that counts nowhere.
    """
    officer = desk["onestop"]
    nov_early = receive(three_days, officer, "Tháng Mười Một Sớm", at(2026, 11, 25, 7, 0))
    nov_late = receive(three_days, officer, "Tháng Mười Một Muộn", at(2026, 11, 25, 7, 0))
    finish(nov_early, desk, orgtree, at(2026, 11, 26, 10, 0))
    finish(nov_late, desk, orgtree, at(2026, 11, 28, 0, 30))
    early = receive(three_days, officer, "Nguyễn Văn Sớm", at(2026, 12, 1, 7, 0))
    on_time = receive(three_days, officer, "Trần Thị Đúng", at(2026, 12, 1, 7, 0))
    late = receive(three_days, officer, "Lê Văn Muộn", at(2026, 12, 1, 7, 0))
    stuck = receive(three_days, officer, "Phạm Thị Chờ", at(2026, 12, 1, 7, 0))
    assert early.due_at == at(2026, 12, 3, 17, 0)
    finish(early, desk, orgtree, at(2026, 12, 2, 10, 0))
    finish(on_time, desk, orgtree, at(2026, 12, 3, 17, 30))
    steps = late.steps
    dossiers.complete_step(steps[0], actor=officer, now=at(2026, 12, 1, 7, 30), next_department=orgtree["culture"])
    dossiers.complete_step(steps[1], actor=desk["culture"], now=at(2026, 12, 4, 9, 0),
                           next_department=orgtree["office"])
    dossiers.complete_step(steps[2], actor=desk["office"], now=at(2026, 12, 4, 9, 30))
    dossiers.complete_step(steps[3], actor=officer, now=at(2026, 12, 4, 10, 0))
    recent = receive(three_days, officer, "Hoàng Văn Mạng", at(2026, 12, 8, 7, 0), channel=Channel.online)
    fresh = receive(three_days, officer, "Vũ Thị Mới", at(2026, 12, 9, 9, 30))
    dossiers.refuse_dossier(actor=officer, procedure=three_days, applicant_name="Đinh Văn Từ",
                            reasons="Sai thẩm quyền", now=at(2026, 12, 2, 8, 0))
    make_user("truongmotcua", Role.department_head, department=orgtree["onestop"])
    db.session.commit()
    return {"stuck": stuck.code, "recent": recent.code, "fresh": fresh.code}


# --- who sees which panel -----------------------------------------------------------------------
@pytest.mark.parametrize("role", list(Role))
def test_each_role_sees_its_own_panel_and_no_other(app, users, role):
    page = home(app, username_of(role))
    expected = [PANEL_OF[role]] if role in PANEL_OF else []
    assert panels_on(page) == expected
    assert 'id="my-roles"' in page  # the account card stays


def test_a_user_with_several_roles_sees_each_of_their_panels(app, make_user, orgtree):
    make_user("nhieuvaitro", Role.officer, Role.department_head, Role.auditor, department=orgtree["culture"])
    assert panels_on(home(app, "nhieuvaitro")) == ["officer", "head", "auditor"]


def test_no_panel_breaks_on_an_empty_database(app, make_user, orgtree):
    make_user("tatca", *PANEL_OF, department=orgtree["onestop"])
    page = home(app, "tatca")
    assert panels_on(page) == list(PANELS)
    assert "Traceback" not in page
    assert figure(page, "officer-queue") == "0" and figure(page, "head-received") == "0"
    assert figure(page, "head-on-time-rate") == "—" and figure(page, "leader-progress-766") == "—"
    for container in ("head-trend", "leader-on-time-trend", "leader-online-trend"):
        svg = chart(page, container)
        assert "Chưa có dữ liệu" in svg and points(svg) == 0
    assert "Chưa có chương trình đánh giá nội bộ năm 2026" in text_of(page)


def text_of(page: str) -> str:
    return html.unescape(page)


# --- officer --------------------------------------------------------------------------------------
def test_officer_sees_the_queue_what_is_due_soon_and_overdue(app, book, monkeypatch):
    client = browser(app, "motcua")
    page = client.get("/").get_data(as_text=True)
    # At the desk: the stuck dossier's and the online one's first steps are overdue; the one
    # received at 09:30 is due at 10:30, within half a working day.
    assert figure(page, "officer-queue") == "3"
    assert figure(page, "officer-overdue") == "2"
    assert figure(page, "officer-due-soon") == "1"
    assert 'href="/dossiers/queue"' in page
    queue_page = table_rows(client.get("/dossiers/queue"), "queue")
    assert len(queue_page) == 3  # the figure counts the rows of the queue page
    rows = table_rows_of(page, "officer-urgent")
    assert [row[0] for row in rows] == [book["stuck"], book["recent"], book["fresh"]]
    assert [("Quá hạn" in row[3], "Sắp đến hạn" in row[3]) for row in rows] == [
        (True, False), (True, False), (False, True)]
    # The margin is the escalation setting (working minutes): 15 minutes leave 10:30 out.
    monkeypatch.setitem(app.config, "ESCALATION_DUE_SOON_MINUTES", 15)
    assert figure(home(app, "motcua"), "officer-due-soon") == "0"


def table_rows_of(page: str, table_id: str) -> list[list[str]]:
    class Response:
        def get_data(self, as_text=True):
            return page
    return table_rows(Response(), table_id)


# --- department head ------------------------------------------------------------------------------
def test_head_of_the_desk_sees_the_month_and_a_12_month_trend(app, book):
    page = home(app, "truongmotcua")
    assert "Bộ phận một cửa — tháng 12/2026" in text_of(page)
    # December: 6 received (the refusal apart), 3 resolved (early, on time, late), 2 of 3 on
    # time, the stuck one in progress overdue.
    assert figure(page, "head-received") == "6"
    assert figure(page, "head-resolved") == "3"
    assert figure(page, "head-on-time-rate") == "66,7 %"
    assert figure(page, "head-late") == "1"
    assert figure(page, "head-in-progress-overdue") == "1"
    svg = chart(page, "head-trend")
    assert svg.count('class="x-label"') == 12 and ">12/2026<" in svg and ">01/2026<" in svg
    assert points(svg) == 2  # November (50 %) and December (66,7 %); no data before
    assert "11/2026: 50,0 %" in svg and "12/2026: 66,7 %" in svg
    assert 'role="img"' in svg and "<title" in svg


def test_head_of_a_specialist_department_sees_its_steps(app, book, staff):  # noqa: F811
    page = home(app, "head")  # the culture department's head: it receives no dossiers
    assert 'id="head-dossiers"' not in page
    assert figure(page, "head-steps-completed") == "3"
    assert figure(page, "head-steps-late") == "1"
    assert figure(page, "head-steps-rate") == "66,7 %"
    svg = chart(page, "head-trend")
    assert points(svg) == 2 and "11/2026: 100,0 %" in svg and "12/2026: 66,7 %" in svg


def test_head_sees_last_months_review_and_the_objective_as_target(app, book, orgtree, staff):  # noqa: F811
    page = home(app, "truongmotcua")
    assert "Giao ban tháng 11/2026" in text_of(page) and "Chưa mở" in text_of(page)
    db.session.add(MonthlyReview(department_id=orgtree["onestop"].id, month=date(2026, 11, 1),
                                 status=MonthlyReviewStatus.signed, signed_at=at(2026, 12, 2, 9, 0)))
    db.session.add(QualityObjective(agency_id=orgtree["ward"].id, year=2026, title="Đúng hạn ≥ 95 %",
                                    indicator="on_time_rate", comparison=ObjectiveComparison.at_least,
                                    target=95))
    db.session.commit()
    client = browser(app, "truongmotcua")
    page = client.get("/").get_data(as_text=True)
    assert "Đã ký" in re.search(r'id="head-review">(.*?)</p>', page, re.DOTALL).group(1)
    assert 'id="head-review-link"' in page and 'href="/reviews/monthly/A-MC/2026-11"' in page
    assert client.get("/reviews/monthly/A-MC/2026-11").status_code == 200
    assert "Mục tiêu: 95,0 %" in chart(page, "head-trend")
    # the leader sees how many departments signed last month
    leader_page = text_of(home(app, "leader"))
    assert "Giao ban tháng 11/2026: 1/4 phòng ban đã ký." in " ".join(leader_page.split())


# --- quality officer ------------------------------------------------------------------------------
@pytest.fixture
def loop(orgtree, staff, make_user):  # noqa: F811
    """Nonconformities of the ward aged 5, 40 and 100 days; a CAR planned 40 days ago whose
    action item (due 7 days later) and effectiveness check are now overdue; a CAR still in
    analysis; a document past its periodic review."""
    quality = staff["quality"]
    head = make_user("truongvp", Role.department_head, department=orgtree["office"])
    worker = make_user("canbovp", Role.officer, department=orgtree["office"])
    past = NOW - timedelta(days=40)
    raise_nc(orgtree["culture"], quality, "Thiếu sổ theo dõi", now=NOW - timedelta(days=5))
    raise_nc(orgtree["culture"], quality, "Không lưu phiếu kiểm soát", now=NOW - timedelta(days=100))
    late_nc = raise_nc(orgtree["office"], quality, "Chậm chuyển hồ sơ", now=past)
    car = corrective_actions.open_car([late_nc], owner=None, actor=head, now=past)
    analysed(car, head, now=past)
    planned(car, head, worker, staff["leader"], now=past)
    fresh_nc = raise_nc(orgtree["office"], quality, "Ký nhầm mẫu", now=NOW - timedelta(days=1))
    fresh_car = corrective_actions.open_car([fresh_nc], owner=None, actor=head, now=NOW - timedelta(days=1))
    document = documents.create_document(actor=quality, code="QT-KSTL", title="Kiểm soát tài liệu",
                                         kind=DocumentKind.system_procedure, owner=quality.department)
    document.next_review_due = date(2026, 11, 30)
    db.session.commit()
    return {"car": car.code, "fresh_car": fresh_car.code, "item": car.items[0].description,
            "worker": worker}


def test_quality_officer_sees_nonconformities_cars_and_flags_what_is_overdue(app, loop):
    page = home(app, "quality")
    assert figure(page, "quality-nc-open") == "4"
    ages = {row[0]: row[1] for row in table_rows_of(page, "quality-nc-age")}
    assert ages == {"Đến 30 ngày": "2", "Từ 31 đến 90 ngày": "1", "Trên 90 ngày": "1"}
    statuses = {row[0]: row[1] for row in table_rows_of(page, "quality-nc-status")}
    assert statuses["Mới ghi nhận"] == "2" and sum(int(v) for v in statuses.values()) == 4
    assert figure(page, "quality-car-open") == "2"
    assert figure(page, "quality-car-overdue") == "1"
    assert figure(page, "quality-items-overdue") == "1"
    overdue_cars = re.search(r'id="quality-overdue-cars">(.*?)</ul>', page, re.DOTALL).group(1)
    assert loop["car"] in overdue_cars and loop["fresh_car"] not in overdue_cars
    assert 'overdue-flag' in overdue_cars
    items = re.search(r'id="quality-overdue-items">(.*?)</ul>', page, re.DOTALL).group(1)
    assert loop["item"] in html.unescape(items) and "overdue-flag" in items
    reviews = re.search(r'id="quality-reviews-overdue">(.*?)</ul>', page, re.DOTALL).group(1)
    assert "QT-KSTL" in reviews and "overdue-flag" in reviews


def test_the_owner_of_an_overdue_action_item_sees_it_flagged(app, loop):
    page = home(app, "canbovp")
    items = re.search(r'id="officer-overdue-items">(.*?)</ul>', page, re.DOTALL).group(1)
    assert loop["car"] in items and "overdue-flag" in items


def test_head_sees_the_departments_overdue_cars(app, loop):
    page = home(app, "truongvp")
    cars_list = re.search(r'id="head-overdue-cars">(.*?)</ul>', page, re.DOTALL).group(1)
    assert loop["car"] in cars_list and loop["fresh_car"] not in cars_list and "overdue-flag" in cars_list


# --- leader ---------------------------------------------------------------------------------------
def test_leader_sees_the_agency_with_its_sub_agencies(app, book, staff):  # noqa: F811
    page = home(app, "leader")  # of the province's centre: the ward's dossiers roll up
    assert "Gồm số liệu của 1 đơn vị trực thuộc." in text_of(page)
    assert figure(page, "leader-received") == "6"
    assert figure(page, "leader-resolved") == "3"
    assert figure(page, "leader-on-time-rate") == "66,7 %"
    assert figure(page, "leader-in-progress-overdue") == "1"
    # 766: (early 1 + on time 1 + in progress in time 2) / (resolved 3 + in progress 3) × 20
    assert figure(page, "leader-progress-766") == "13,33 / 20"
    assert figure(page, "leader-online-rate") == "16,7 %"
    ranking = table_rows_of(page, "leader-department-ranking")
    assert [row[1].split(" (")[0] for row in ranking] == [
        "Văn phòng UBND", "Bộ phận một cửa", "Phòng Văn hóa - Xã hội", "Trung tâm PVHCC"]
    assert [row[3] for row in ranking] == ["100,0 %", "66,7 %", "66,7 %", "—"]
    agencies = table_rows_of(page, "leader-agency-ranking")
    assert [(row[1], row[3]) for row in agencies] == [("Phường An Hòa", "66,7 %"),
                                                      ("Thành phố Thử Nghiệm", "—")]
    on_time = chart(page, "leader-on-time-trend")
    assert points(on_time) == 2
    channels = chart(page, "leader-channel-trend")
    assert "12/2026 — Trực tiếp: 5" in channels and "12/2026 — Trực tuyến: 1" in channels
    assert "11/2026 — Trực tiếp: 2" in channels
    online = chart(page, "leader-online-trend")
    assert "12/2026: 16,7 %" in online and "11/2026: 0,0 %" in online


# --- auditor --------------------------------------------------------------------------------------
def test_auditor_sees_this_years_programme_and_open_findings(app, orgtree, staff, make_user):  # noqa: F811
    quality = staff["quality"]
    lead = make_user("danhgia", Role.auditor, department=orgtree["office"])
    other = make_user("danhgia2", Role.auditor, department=orgtree["centre"])
    programme = programme_for(orgtree["ward"], quality, year=2026)
    plan(programme, quality=quality, lead=other, departments=[orgtree["culture"]], title="Đánh giá Văn hóa")
    running = plan(programme, quality=quality, lead=lead, departments=[orgtree["culture"]],
                   title="Đánh giá hộ tịch")
    audits.start(running, actor=lead, now=NOW)
    audits.answer_item(running.items[0], result=ChecklistResult.nonconform, evidence="Thiếu sổ",
                       actor=lead, now=NOW)
    audits.record_finding(running, kind=FindingKind.minor_nc, clause="7.5", department=orgtree["culture"],
                          description="Sổ theo dõi không cập nhật", actor=lead, now=NOW)
    audits.record_finding(running, kind=FindingKind.observation, department=orgtree["culture"],
                          description="Nên số hóa sổ", actor=lead, now=NOW)
    programme_for(orgtree["ward"], quality, year=2025)  # last year's: not shown
    db.session.commit()
    page = home(app, "danhgia")
    assert "Chương trình đánh giá nội bộ năm 2026" in text_of(page)
    assert figure(page, "auditor-status-planned") == "1"
    assert figure(page, "auditor-status-in_progress") == "1"
    assert figure(page, "auditor-open-findings") == "1"
    rows = table_rows_of(page, "auditor-audits")
    assert [("Bạn tham gia" in row[1]) for row in rows] == [
        "Đánh giá hộ tịch" in row[1] for row in rows]
    findings = {row[0]: row[1] for row in table_rows_of(page, "auditor-findings")}
    assert findings["Không phù hợp nhẹ"] == "1" and findings["Điểm cần lưu ý"] == "1"


# --- speed --------------------------------------------------------------------------------------
def count_statements(app, username) -> int:
    client = browser(app, username)
    statements = []

    def count(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get("/").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return len(statements)


def test_queries_do_not_grow_with_the_dossiers(app, book, loop, three_days, desk, orgtree):  # noqa: F811
    accounts.create_user(actor=None, username="tatca", full_name="Tất Cả", password=PASSWORD,
                         department=orgtree["onestop"], roles=set(PANEL_OF))
    db.session.commit()
    before = count_statements(app, "tatca")
    officer = desk["onestop"]
    for n in range(8):  # more of every kind: resolved early and late, open overdue and in time
        finish(receive(three_days, officer, f"Thêm {n}", at(2026, 12, 1, 7, n)), desk, orgtree,
               at(2026, 12, 2 + 2 * (n % 2), 10, 0))
        receive(three_days, officer, f"Chờ {n}", at(2026, 12, 1 + 7 * (n % 2), 8, n))
    db.session.commit()
    after = count_statements(app, "tatca")
    assert after == before
    assert before < 80  # a handful per panel
