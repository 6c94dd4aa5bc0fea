"""The dossier register (sổ theo dõi hồ sơ, Mẫu 07): who sees which rows, the filters
(timeliness and dates by the local calendar), the page and the spreadsheet export."""
import io
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from qms import clock
from qms.extensions import db
from qms.models import AgencyLevel, Channel, DocumentKind, Dossier, ResultDelivery, Role
from qms.services import documents, dossiers, procedures
from qms.services import register as register_service
from tests.conftest import browser_as
from tests.documents.conftest import NOW, birth_data
from tests.dossiers.conftest import at
from tests.web.conftest import table_rows, text


@pytest.fixture(autouse=True)
def next_week():
    with clock.frozen(at(2026, 12, 1, 9, 0)):
        yield


def marriage(field, staff, orgtree):
    """A second procedure in force, to tell procedures apart."""
    document = documents.create_document(actor=staff["quality"], code="QT-HT-02",
                                         title="Quy trình đăng ký kết hôn",
                                         kind=DocumentKind.process, owner=staff["quality"].department)
    procedure = procedures.create_procedure(code="1.000894", name="Đăng ký kết hôn", field=field,
                                            level=AgencyLevel.commune, document=document)
    version = documents.draft_version(document, actor=staff["quality"], title=document.title,
                                      body="", change_summary="", now=NOW)
    procedures.write_procedure_data(version, procedure, birth_data())
    documents.submit(version, actor=staff["quality"], now=NOW)
    documents.approve(version, actor=staff["leader"], effective_date=NOW.date(), now=NOW)
    return procedure


def finish(dossier, desk, orgtree, when, collected=None):
    """Work every step at `when`: desk → culture → office → desk has the result ready; the
    applicant collects it at `collected` (default: at once; False: not yet)."""
    steps = dossier.steps
    dossiers.complete_step(steps[0], actor=desk["onestop"], now=when, next_department=orgtree["culture"])
    dossiers.complete_step(steps[1], actor=desk["culture"], now=when, next_department=orgtree["office"])
    dossiers.complete_step(steps[2], actor=desk["office"], now=when)
    dossiers.complete_step(steps[3], actor=desk["onestop"], now=when)
    if collected is not False:
        dossiers.return_result(dossier, actor=desk["onestop"], via=ResultDelivery.desk, now=collected or when)


@pytest.fixture
def book(three_days, desk, staff, orgtree, make_user):
    """Dossiers of the ward, named by what they test. Three working days from Wednesday
    25/11 07:00 is due Friday 27/11 17:00 (10:00 UTC)."""
    officer = desk["onestop"]

    def receive(name, when, procedure=three_days, channel=Channel.direct):
        dossier, _secret = dossiers.receive_dossier(
            actor=officer, procedure=procedure, applicant_name=name, now=when, channel=channel,
            applicant_address="Số 5 Lê Lợi, phường An Hòa", applicant_phone="0912345678")
        return dossier

    made = {
        "early": receive("Nguyễn Văn Sớm", at(2026, 11, 25, 7, 0)),
        "on_time": receive("Trần Thị Đúng", at(2026, 11, 25, 7, 0)),
        "late": receive("Lê Văn Muộn", at(2026, 11, 25, 7, 0)),
        "in_progress": receive("Phạm Thị Chờ", at(2026, 11, 25, 8, 0)),
        "online": receive("Hoàng Văn Mạng", at(2026, 11, 25, 9, 0), channel=Channel.online),
        "marriage": receive("Vũ Thị Cưới", at(2026, 11, 25, 10, 0),
                            procedure=marriage(three_days.field, staff, orgtree)),
        "before_midnight": receive("Đỗ Văn Khuya", at(2026, 11, 26, 23, 30)),
        "after_midnight": receive("Bùi Thị Sáng", at(2026, 11, 27, 0, 30)),
    }
    made["refused"] = dossiers.refuse_dossier(actor=officer, procedure=three_days,
                                              applicant_name="Đinh Văn Từ", reasons="Sai thẩm quyền",
                                              now=at(2026, 11, 25, 11, 0))
    assert made["early"].due_at == at(2026, 11, 27, 17, 0)
    finish(made["early"], desk, orgtree, at(2026, 11, 26, 10, 0))
    # After the due time but on the due date: on time (the rule compares dates), however
    # late the applicant collects the result.
    finish(made["on_time"], desk, orgtree, at(2026, 11, 27, 17, 30), collected=at(2026, 12, 4, 9, 0))
    # 00:30 on Saturday is still Friday 17:30 in UTC, the due date there: late all the same
    # (and the result, ready, is not collected yet).
    finish(made["late"], desk, orgtree, at(2026, 11, 28, 0, 30), collected=False)
    dossiers.complete_step(made["in_progress"].steps[0], actor=officer, now=at(2026, 11, 25, 9, 0),
                           next_department=orgtree["culture"])
    make_user("lanhdao", Role.leader, department=orgtree["office"])
    db.session.commit()
    return {key: dossier.code for key, dossier in made.items()}


def codes(response) -> list[str]:
    return [row[1] for row in table_rows(response, "register") if len(row) > 1]


WEDNESDAY_AFTERNOON = at(2026, 11, 25, 16, 0)


@pytest.mark.parametrize("query,expected", [
    ("", ["early", "on_time", "late", "in_progress", "online", "marriage", "refused",
          "before_midnight", "after_midnight"]),
    ("timeliness=early", ["early"]),
    ("timeliness=on_time", ["on_time"]),
    ("timeliness=late", ["late"]),
    ("timeliness=in_progress", ["in_progress", "online", "marriage", "before_midnight",
                                "after_midnight"]),
    ("status=returned", ["early", "on_time"]),
    ("status=processed", ["late"]),
    ("status=not_accepted", ["refused"]),
    ("channel=online", ["online"]),
    ("procedure=ket+hon", ["marriage"]),
    ("procedure=1.000894", ["marriage"]),
    ("procedure=KHAI+SINH&status=processing", ["in_progress"]),
    # Received dates are local dates: 23:30 and 00:30 fall on either side of midnight in
    # Hà Nội, though both are 26/11 in UTC.
    ("received_from=2026-11-26&received_to=2026-11-26", ["before_midnight"]),
    ("received_from=2026-11-27", ["after_midnight"]),
    ("received_to=26/11/2026", ["early", "on_time", "late", "in_progress", "online", "marriage",
                                "refused", "before_midnight"]),
])
def test_each_filter_narrows_the_register(app, book, query, expected):
    with clock.frozen(WEDNESDAY_AFTERNOON):  # every open dossier still within its limit
        response = browser_as(app, "motcua").get(f"/dossiers/register?{query}")
    assert response.status_code == 200
    assert codes(response) == [book[key] for key in expected]


def test_rows_show_the_register_columns(app, book):
    response = browser_as(app, "motcua").get("/dossiers/register?timeliness=late")
    (row,) = table_rows(response, "register")
    assert row[0] == "1" and row[1] == book["late"]
    assert row[2] == "Đăng ký khai sinh"
    assert "Lê Văn Muộn" in row[3] and "Số 5 Lê Lợi" in row[3] and "0912345678" in row[3]
    # received, due, processed (the result ready), returned (not yet)
    assert row[4:8] == ["25/11/2026 07:00", "27/11/2026 17:00", "28/11/2026 00:30", ""]
    assert row[8] == "Đã giải quyết xong Quá hạn"
    refused = table_rows(browser_as(app, "motcua").get("/dossiers/register?status=not_accepted"),
                         "register")[0]
    assert refused[8] == "Không được tiếp nhận" and "Từ chối tiếp nhận: Sai thẩm quyền" in refused[9]


def test_who_sees_which_dossiers(app, book):
    everything = set(book.values())
    assert set(codes(browser_as(app, "lanhdao").get("/dossiers/register"))) == everything
    # A department sees only the dossiers it handled a step of.
    assert set(codes(browser_as(app, "vanhoa").get("/dossiers/register"))) == {
        book["early"], book["on_time"], book["late"], book["in_progress"]}
    assert set(codes(browser_as(app, "vanphong").get("/dossiers/register"))) == {
        book["early"], book["on_time"], book["late"]}
    # Another agency's one-stop office sees none of the ward's.
    assert codes(browser_as(app, "tinh").get("/dossiers/register")) == []


def test_bad_filters_say_what_is_wrong_and_list_nothing(app, book):
    browser = browser_as(app, "motcua")
    for query, message in [
        ("received_from=2026-13-45", "Ngày nhận từ không hợp lệ: “2026-13-45”"),
        ("received_to=hôm+qua", "Ngày nhận đến không hợp lệ: “hôm qua”"),
        ("received_from=2026-11-27&received_to=2026-11-25", "Ngày nhận từ phải trước hoặc bằng ngày nhận đến."),
        ("timeliness=soon", "Tình trạng hạn không hợp lệ"),
        ("status=lost", "Trạng thái không hợp lệ"),
    ]:
        for url in (f"/dossiers/register?{query}", f"/dossiers/register.xlsx?{query}"):
            response = browser.get(url)
            assert response.status_code == 400 and response.mimetype == "text/html", url
            page = text(response)
            assert message in page and "Traceback" not in page, url
            assert codes(response) == []


def test_pages_hold_fifty_rows_in_a_fixed_number_of_queries(app, three_days, desk):
    for minute in range(55):
        dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                 applicant_name=f"Người nộp {minute + 1}",
                                 now=at(2026, 11, 25, 8, minute))
    db.session.commit()
    browser = browser_as(app, "motcua")
    statements = []

    def count(*_args):
        statements.append(1)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        first = browser.get("/dossiers/register")
        on_first = len(statements)
        statements.clear()
        second = browser.get("/dossiers/register?page=2")
        on_second = len(statements)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    assert len(codes(first)) == 50 and "55 hồ sơ" in text(first)
    second_rows = table_rows(second, "register")
    assert [row[0] for row in second_rows] == ["51", "52", "53", "54", "55"]
    assert on_first == on_second  # 50 rows cost no more queries than 5


def test_export_has_every_matching_row_in_vietnamese(app, book):
    browser = browser_as(app, "motcua")
    response = browser.get("/dossiers/register.xlsx?procedure=khai+sinh")
    assert response.status_code == 200
    assert response.is_streamed  # from the temporary file, never the whole book in memory
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0][0] == "SỔ THEO DÕI HỒ SƠ" and values[1][0] == "Phường An Hòa"
    header = values.index(next(r for r in values if r and r[0] == "STT"))
    assert values[header][:4] == ["STT", "Mã hồ sơ", "Tên thủ tục hành chính", "Người nộp hồ sơ"]
    rows = [r for r in values[header + 1:] if r and r[0] is not None]
    finished = [book["early"], book["on_time"], book["late"]]
    assert [r[1] for r in rows][:3] == finished
    rows = [r for r in rows if r[1] in finished]
    early = rows[0]
    assert early[2] == "Đăng ký khai sinh" and early[3] == "Nguyễn Văn Sớm"
    assert early[4] == "Số 5 Lê Lợi, phường An Hòa" and early[6] == "Trực tiếp"
    # Times are local (Hà Nội) date-times a spreadsheet can sort.
    assert early[7] == datetime(2026, 11, 25, 7, 0) and early[9] == datetime(2026, 11, 26, 10, 0)
    assert values[header][9:11] == ["Giải quyết xong", "Ngày trả kết quả"]
    assert [(r[9], r[10]) for r in rows[1:]] == [(datetime(2026, 11, 27, 17, 30), datetime(2026, 12, 4, 9, 0)),
                                                 (datetime(2026, 11, 28, 0, 30), None)]
    assert [r[11] for r in rows] == ["Đã trả kết quả", "Đã trả kết quả", "Đã giải quyết xong"]
    assert [r[12] for r in rows] == ["Trước hạn", "Đúng hạn", "Quá hạn"]


def test_export_of_a_department_has_only_its_dossiers(app, book):
    response = browser_as(app, "vanphong").get("/dossiers/register.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    found = {row[1] for row in sheet.iter_rows(values_only=True)
             if row and isinstance(row[0], int)}
    assert found == {book["early"], book["on_time"], book["late"]}


def test_the_export_stops_at_its_limit(app, book, monkeypatch):
    monkeypatch.setattr(register_service, "MAX_EXPORT_ROWS", 2)
    response = browser_as(app, "motcua").get("/dossiers/register.xlsx")
    values = [row for row in load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True)]
    assert len([r for r in values if r and isinstance(r[0], int)]) == 2
    assert any(r and r[0] and "Chỉ xuất 2 dòng đầu" in str(r[0]) for r in values)


@pytest.mark.parametrize("rule", ["date", "timestamp"])
def test_timeliness_in_sql_matches_the_rule_in_python(app, book, rule, monkeypatch):
    """The filter (SQL, on this database) and dossiers.classify agree on every dossier,
    under either setting of TIMELINESS_RULE."""
    monkeypatch.setitem(app.config, "TIMELINESS_RULE", rule)
    rows = db.session.execute(sa.select(Dossier.code,
                                        register_service.timeliness_expression())).all()
    by_code = {code: value for code, value in rows}
    for dossier in db.session.scalars(sa.select(Dossier)):
        python = dossiers.timeliness(dossier)
        expected = python.value if python else (
            None if dossier.status in register_service.ENDED_WITHOUT_RESULT else "in_progress")
        assert by_code[dossier.code] == expected, dossier.code


def test_the_menu_links_the_register(app, book):
    page = browser_as(app, "vanhoa").get("/").get_data(as_text=True)
    assert 'href="/dossiers/register"' in page


def test_typed_text_cannot_become_a_formula_in_the_export(app, in_force, desk):
    """A citizen's name or address starting with = + - @ is written as text, never run."""
    from qms.reports.xlsx import safe_text

    assert safe_text("=HYPERLINK(\"http://x\",\"bấm\")") == "'=HYPERLINK(\"http://x\",\"bấm\")"
    assert [safe_text(v) for v in ("+84 901", "-2+3", "@SUM(A1)", "Lê Văn A", 7)] == [
        "'+84 901", "'-2+3", "'@SUM(A1)", "Lê Văn A", 7]
    dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force, now=at(2026, 11, 25, 8, 0),
                             applicant_name="=cmd|' /C calc'!A0", applicant_address="@SUM(1+1)")
    db.session.commit()
    response = browser_as(app, "motcua").get("/dossiers/register.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    row = next(r for r in sheet.iter_rows() if r[0].value == 1)
    assert row[3].value == "'=cmd|' /C calc'!A0" and row[3].data_type == "s"
    assert row[4].value == "'@SUM(1+1)" and row[4].data_type == "s"


def test_the_export_remarks_say_what_the_page_says(app, book, desk, make_user, orgtree):
    """The remarks column (refusal, supplementation, apology with its new date), read in
    batches for the export, says what the page says from the loaded events."""
    head = make_user("truongvanhoa", Role.department_head, department=orgtree["culture"])
    waiting = db.session.scalar(sa.select(Dossier).where(Dossier.code == book["in_progress"]))
    dossiers.apologise(waiting, actor=head, reason="Chờ xác minh", promised_at=at(2026, 12, 2, 17, 0),
                       now=at(2026, 11, 26, 9, 0))
    dossiers.request_supplement(waiting, actor=desk["culture"], reason="Thiếu giấy chứng sinh",
                                now=at(2026, 11, 26, 10, 0))
    db.session.commit()
    browser = browser_as(app, "motcua")
    page = {row[1]: row[9] for row in table_rows(browser.get("/dossiers/register"), "register")}
    sheet = load_workbook(io.BytesIO(browser.get("/dossiers/register.xlsx").data)).active
    exported = {row[1]: row[13] or "" for row in sheet.iter_rows(values_only=True)
                if row and isinstance(row[0], int)}
    assert exported[book["in_progress"]] == ("Xin lỗi, hẹn lại 02/12/2026: Chờ xác minh; "
                                             "Yêu cầu bổ sung: Thiếu giấy chứng sinh")
    assert exported[book["refused"]] == "Từ chối tiếp nhận: Sai thẩm quyền"
    assert all(page[code].strip() == exported[code] for code in book.values())


def test_open_dossiers_past_their_due_date_are_overdue_as_in_the_monthly_figures(app, book, desk, orgtree):
    """Read on Tuesday 1/12 09:00: the marriage (same day, due 25/11) and the online dossier
    (due Monday 30/11) are overdue; the dossier waiting for a supplementation since 26/11 is
    paused, not overdue; the two received on 26–27/11 are due today: within. The month's
    figures read at the same moment count the same."""
    from qms.services import metrics

    waiting = db.session.scalar(sa.select(Dossier).where(Dossier.code == book["in_progress"]))
    dossiers.request_supplement(waiting, actor=desk["culture"], reason="Thiếu giấy chứng sinh",
                                now=at(2026, 11, 26, 10, 0))
    db.session.commit()
    tuesday = at(2026, 12, 1, 9, 0)
    with clock.frozen(tuesday):
        browser = browser_as(app, "motcua")
        overdue = browser.get("/dossiers/register?timeliness=overdue")
        within = browser.get("/dossiers/register?timeliness=in_progress")
        paused = browser.get("/dossiers/register?timeliness=paused")
        sheet = load_workbook(io.BytesIO(browser.get("/dossiers/register.xlsx").data)).active
    assert codes(overdue) == [book["online"], book["marriage"]]
    assert codes(within) == [book["before_midnight"], book["after_midnight"]]
    assert codes(paused) == [book["in_progress"]]
    assert all("Đang giải quyết quá hạn" in row[8] for row in table_rows(overdue, "register"))
    states = {row[1]: row[12] for row in sheet.iter_rows(values_only=True) if row and isinstance(row[0], int)}
    assert (states[book["online"]], states[book["in_progress"]], states[book["after_midnight"]]) == \
        ("Đang giải quyết quá hạn", "Tạm dừng", "Đang giải quyết trong hạn")
    figures = metrics.dossier_metrics(metrics.Scope.of_department(orgtree["onestop"]),
                                      *metrics.month_bounds(date(2026, 12, 1)), tuesday)
    assert (figures["in_progress_overdue"], figures["in_progress_within"], figures["paused"]) == (2, 2, 1)
