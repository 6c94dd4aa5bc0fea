"""Pauses, delays and endings through the dossier page: supplementation and payment stop the
clock (restart or resume shown on the page), the apology letter promises a new date once,
stopping and withdrawal end the dossier; Mẫu 02, 04 and 05 print in Vietnamese."""
import io
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from pypdf import PdfReader

from qms import clock
from qms.errors import QmsError
from qms.extensions import db
from qms.models import (
    Dossier,
    DossierEvent,
    DossierStatus,
    EventKind,
    PauseKind,
    ProcedureVersion,
    ResultDelivery,
    Role,
    SupplementRule,
)
from qms.services import dossiers
from tests.conftest import login, post_form
from tests.dossiers.conftest import at
from tests.web.conftest import flashes, text


@pytest.fixture
def dossier(three_days, desk, orgtree):
    """Received Friday 20/11/2026 9:00 (due Thursday 26/11 9:00: 3 working days, Tuesday
    24/11 is a holiday), its review with the culture department since 9:30."""
    item, _secret = dossiers.receive_dossier(
        actor=desk["onestop"], procedure=three_days, applicant_name="Lê Thị Cúc",
        applicant_phone="0912345678", applicant_address="12 Lê Lợi, phường An Hòa",
        now=at(2026, 11, 20, 9, 0))
    dossiers.complete_step(item.steps[0], actor=desk["onestop"], now=at(2026, 11, 20, 9, 30),
                           next_department=orgtree["culture"])
    db.session.commit()
    return item


@pytest.fixture
def head(make_user, orgtree):
    """The head of the culture department, which holds the dossier's current step."""
    return make_user("truongphong", Role.department_head, department=orgtree["culture"])


def browser(app, username):
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


@contextmanager
def moment(*when):
    with clock.frozen(at(*when)):
        yield


def act(client, dossier, path, data=None) -> list[str]:
    """POST one action from the dossier page, follow the redirect back; the flashed messages."""
    page = f"/dossiers/{dossier.code}"
    response = post_form(client, f"{page}/{path}", data or {}, token_from=page)
    assert response.status_code == 302 and response.location == page, response.status_code
    return flashes(client.get(page))


def facts(client, dossier) -> str:
    """The dossier page as text (status, due time, the events panel)."""
    return " ".join(re.sub(r"<[^>]+>", " ", text(client.get(f"/dossiers/{dossier.code}"))).split())


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.data)).pages).split())


def fresh(dossier) -> Dossier:
    db.session.expire_all()
    return db.session.get(Dossier, dossier.id)


def event_of(dossier, kind) -> DossierEvent:
    return next(e for e in fresh(dossier).events if e.kind is kind)


def test_supplementation_stops_the_clock_and_restarts_it_by_default(app, dossier, desk):
    culture, onestop = browser(app, "vanhoa"), browser(app, "motcua")
    with moment(2026, 11, 20, 10, 0):
        assert "action-supplement-request" in text(culture.get(f"/dossiers/{dossier.code}"))
        messages = act(culture, dossier, "supplement/request",
                       {"supplement-reason": "Giấy chứng sinh (bản chính)\nTờ khai có chữ ký"})
        assert any("Đã yêu cầu bổ sung hồ sơ" in m for m in messages), messages
        page = facts(culture, dossier)
    assert "Yêu cầu bổ sung" in page and "Đang tạm dừng tính thời gian từ 20/11/2026 10:00" in page
    assert "Khi nhận hồ sơ bổ sung: tính lại toàn bộ thời hạn từ khi nhận đủ hồ sơ" in page
    assert "Giấy chứng sinh (bản chính)" in page and "Hạn trước đó: 26/11/2026 09:00" in page
    assert fresh(dossier).status is DossierStatus.supplement_requested

    with moment(2026, 11, 27, 8, 0):  # the citizen comes back a week later
        assert "action-supplement-receive" not in text(culture.get(f"/dossiers/{dossier.code}"))
        messages = act(onestop, dossier, "supplement/receive")
        page = facts(onestop, dossier)
    # the whole 3 working days again from Friday 27/11 8:00: Wednesday 2/12 8:00
    assert any("hạn trả kết quả mới: 02/12/2026 08:00" in m and "tính lại toàn bộ thời hạn" in m
               for m in messages), messages
    assert "Hẹn trả kết quả 02/12/2026 08:00" in page and "Hạn mới: 02/12/2026 08:00" in page
    assert "Đang giải quyết" in page and "Đang tạm dừng" not in page
    assert fresh(dossier).due_at == at(2026, 12, 2, 8, 0)

    with moment(2026, 11, 27, 9, 0):  # once only: no button, and a post is refused
        assert "action-supplement-request" not in text(culture.get(f"/dossiers/{dossier.code}"))
        messages = act(culture, dossier, "supplement/request", {"supplement-reason": "Lần hai"})
    assert "Đã yêu cầu bổ sung 1 lần, tối đa theo quy định." in messages
    assert fresh(dossier).count(EventKind.supplement_requested) == 1


def test_the_pause_rule_resumes_the_time_left_and_says_so(app, dossier):
    db.session.execute(db.update(ProcedureVersion).where(
        ProcedureVersion.id == dossier.procedure_version_id).values(supplement_rule=SupplementRule.pause))
    db.session.commit()
    culture, onestop = browser(app, "vanhoa"), browser(app, "motcua")
    with moment(2026, 11, 20, 10, 0):
        act(culture, dossier, "supplement/request", {"supplement-reason": "Thiếu giấy tờ"})
    with moment(2026, 11, 27, 8, 0):
        messages = act(onestop, dossier, "supplement/receive")
        page = facts(onestop, dossier)
    # what was left at 10:00 on 20/11, counted from Friday 27/11 8:00: Tuesday 1/12 17:00
    assert any("tiếp tục thời gian còn lại" in m and "01/12/2026 17:00" in m for m in messages), messages
    assert "Khi nhận hồ sơ bổ sung: tiếp tục thời gian còn lại" in page
    assert "Hẹn trả kết quả 01/12/2026 17:00" in page


def test_waiting_for_payment_stops_and_resumes_the_clock(app, dossier):
    culture = browser(app, "vanhoa")
    with moment(2026, 11, 20, 10, 0):
        act(culture, dossier, "payment/request", {"payment-reason": "Nộp lệ phí 8.000 đồng"})
        page = facts(culture, dossier)
    assert "Chờ thực hiện nghĩa vụ tài chính" in page and "Nộp lệ phí 8.000 đồng" in page
    assert "Đang tạm dừng tính thời gian từ 20/11/2026 10:00" in page
    with moment(2026, 11, 23, 10, 0):
        messages = act(culture, dossier, "payment/receive")
        page = facts(culture, dossier)
    assert any("27/11/2026 09:00" in m for m in messages), messages  # one working day later
    assert "Hẹn trả kết quả 27/11/2026 09:00" in page and "Cách tính: tiếp tục thời gian còn lại" in page


def test_the_head_apologises_once_before_the_due_time_with_a_new_date(app, dossier, head):
    culture, chief = browser(app, "vanhoa"), browser(app, "truongphong")
    with moment(2026, 11, 25, 9, 0):
        data = {"apology-reason": "Chờ xác minh tại nơi cư trú", "apology-promised_date": "2026-11-30"}
        assert "action-apology" not in text(culture.get(f"/dossiers/{dossier.code}"))
        assert act(culture, dossier, "apology", data) == [
            "Văn bản xin lỗi do người đứng đầu đơn vị làm chậm hồ sơ ký."]
        assert "action-apology" in text(chief.get(f"/dossiers/{dossier.code}"))
        saturday = act(chief, dossier, "apology", {**data, "apology-promised_date": "2026-11-28"})
        assert saturday == ["Ngày 28/11/2026 không phải ngày làm việc; hãy chọn một ngày làm việc."]
        assert act(chief, dossier, "apology", {**data, "apology-promised_date": "2026-11-25"}) == [
            "Ngày hẹn mới phải sau thời hạn hiện tại."]
        messages = act(chief, dossier, "apology", data)
        page = facts(chief, dossier)
    # the close of the chosen working day on the ward's calendar
    assert messages == ["Đã lập phiếu xin lỗi và hẹn lại ngày trả kết quả: 30/11/2026 17:00."]
    assert "Hẹn lại: 30/11/2026 17:00" in page and "Ngày hẹn mới: 30/11/2026 17:00" in page
    assert "Hẹn trả kết quả 26/11/2026 09:00" in page  # the legal due time stays for the reports
    assert "action-apology" not in page
    with moment(2026, 11, 25, 10, 0):
        again = act(chief, dossier, "apology", {**data, "apology-promised_date": "2026-12-03"})
    assert again == ["Hồ sơ đã có văn bản xin lỗi; chỉ được hẹn lại một lần."]
    assert fresh(dossier).promised_at == at(2026, 11, 30, 17, 0)


def test_an_apology_after_the_due_time_is_issued_and_marked_late(app, dossier, head):
    chief = browser(app, "truongphong")
    with moment(2026, 11, 26, 9, 0):
        page = text(chief.get(f"/dossiers/{dossier.code}"))
        assert "action-apology" in page and "Gửi chậm nhất lúc 25/11/2026 09:00" in page
        messages = act(chief, dossier, "apology", {"apology-reason": "Muộn",
                                                   "apology-promised_date": "2026-12-03"})
        page = text(chief.get(f"/dossiers/{dossier.code}"))
    assert messages == ["Đã lập phiếu xin lỗi và hẹn lại ngày trả kết quả: 03/12/2026 17:00."]
    assert 'event-late">Gửi chậm<' in page
    assert fresh(dossier).count(EventKind.apology) == 1


def test_a_leader_of_the_agency_signs_the_apology_in_its_name(app, dossier, make_user):
    make_user("chutich", Role.leader)  # the ward's chair
    chair = browser(app, "chutich")
    with moment(2026, 11, 24, 9, 0):
        act(chair, dossier, "apology", {"apology-reason": "Chờ ý kiến cơ quan thuế",
                                        "apology-promised_date": "2026-11-30"})
    apology = event_of(dossier, EventKind.apology)
    assert apology.department.code == "A-VHXH" and not apology.late  # the delay stays the department's
    form04 = pdf_text(chair.get(f"/dossiers/{dossier.code}/events/{apology.id}.pdf"))
    assert "LÃNH ĐẠO PHƯỜNG AN HÒA" in form04 and "TRƯỞNG PHÒNG" not in form04 and "Chutich" in form04


def test_stop_and_withdrawal_end_a_dossier_with_a_reason(app, dossier, three_days, desk):
    culture, onestop = browser(app, "vanhoa"), browser(app, "motcua")
    with moment(2026, 11, 20, 10, 0):
        assert act(culture, dossier, "stop", {"stop-reason": ""}) == [
            "Lý do dừng xử lý hồ sơ: Hãy ghi lý do."]
        act(culture, dossier, "stop", {"stop-reason": "Người nộp không đủ điều kiện"})
        page = facts(culture, dossier)
    assert "Trạng thái Dừng xử lý" in page and "Người nộp không đủ điều kiện" in page
    assert 'id="action-' not in text(culture.get(f"/dossiers/{dossier.code}"))  # nothing more to do

    other, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                              applicant_name="Phạm Văn Dũng", now=at(2026, 11, 20, 9, 0))
    db.session.commit()
    with moment(2026, 11, 20, 11, 0):
        messages = act(onestop, other, "withdraw", {"withdraw-reason": "Công dân xin rút hồ sơ"})
        page = facts(onestop, other)
    assert messages == ["Đã ghi nhận việc công dân rút hồ sơ."]
    assert "Trạng thái Công dân rút hồ sơ" in page and "Công dân xin rút hồ sơ" in page
    assert fresh(other).status is DossierStatus.withdrawn


def test_other_departments_are_refused(app, dossier, desk, orgtree, make_user):
    office = browser(app, "vanphong")  # never held the dossier: may not even read it
    with moment(2026, 11, 20, 10, 0):
        for path, data in [("supplement/request", {"supplement-reason": "x"}),
                           ("payment/receive", {}), ("stop", {"stop-reason": "x"}),
                           ("withdraw", {"withdraw-reason": "x"})]:
            response = post_form(office, f"/dossiers/{dossier.code}/{path}", data, token_from="/")
            assert response.status_code == 403, path
        culture = browser(app, "vanhoa")
        # only the one-stop office takes back documents and records a withdrawal
        assert act(culture, dossier, "withdraw", {"withdraw-reason": "x"}) == [
            "Chỉ Bộ phận một cửa ghi nhận việc rút hồ sơ."]
        # the culture department passes the dossier on: it reads it still, but acts no more
        post_form(culture, f"/dossiers/{dossier.code}/steps/2/complete",
                  {"next_department_id": orgtree["office"].id}, token_from=f"/dossiers/{dossier.code}")
        assert "action-stop" not in text(culture.get(f"/dossiers/{dossier.code}"))
        assert act(culture, dossier, "stop", {"stop-reason": "x"}) == [
            "Hồ sơ đang do phòng khác giải quyết."]
        # the ward's leader reads the dossier and its events; the one action is the apology
        # the agency owes for the delay (APOLOGY_SIGNERS)
        make_user("lanhdao", Role.leader)
        leader = browser(app, "lanhdao")
        page = text(leader.get(f"/dossiers/{dossier.code}"))
    assert 'id="dossier-events"' in page and re.findall(r'id="(action-[a-z-]+)"', page) == ["action-apology"]
    assert fresh(dossier).status is DossierStatus.processing and not fresh(dossier).events


def test_the_printable_forms_carry_the_vietnamese_content(app, dossier, head):
    culture, chief = browser(app, "vanhoa"), browser(app, "truongphong")
    base = f"/dossiers/{dossier.code}"
    with moment(2026, 11, 20, 10, 0):
        act(culture, dossier, "supplement/request",
            {"supplement-reason": "Giấy chứng sinh (bản chính)\nTờ khai có chữ ký của người đi khai"})
    supplement = event_of(dossier, EventKind.supplement_requested)
    assert f'href="{base}/events/{supplement.id}.pdf"' in text(culture.get(base))
    form02 = pdf_text(culture.get(f"{base}/events/{supplement.id}.pdf"))
    for expected in ("PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ", dossier.code, "Lê Thị Cúc",
                     "Đăng ký khai sinh", "Giấy chứng sinh (bản chính)",
                     "Tờ khai có chữ ký của người đi khai", "Phòng Văn hóa - Xã hội",
                     "tính lại từ đầu", "Mẫu 02", "0912345678"):
        assert expected in form02, expected

    with moment(2026, 11, 23, 8, 0):
        act(browser(app, "motcua"), dossier, "supplement/receive")  # due Friday 27/11 8:00
    received = event_of(dossier, EventKind.supplement_received)
    assert culture.get(f"{base}/events/{received.id}.pdf").status_code == 404  # no form of its own
    with moment(2026, 11, 25, 9, 0):
        act(chief, dossier, "apology", {"apology-reason": "Chờ xác minh tại nơi cư trú",
                                        "apology-promised_date": "2026-11-30"})
    apology = event_of(dossier, EventKind.apology)
    form04 = pdf_text(chief.get(f"{base}/events/{apology.id}.pdf"))
    for expected in ("PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ", "Kính gửi: Lê Thị Cúc", dossier.code,
                     "Chờ xác minh tại nơi cư trú", "08 giờ 00 phút, ngày 27/11/2026",
                     "17 giờ 00 phút, ngày 30/11/2026", "TRƯỞNG PHÒNG VĂN HÓA - XÃ HỘI",
                     "Truongphong", "Mẫu 04"):
        assert expected in form04, expected

    with moment(2026, 11, 25, 10, 0):
        act(culture, dossier, "stop", {"stop-reason": "Người nộp không đủ điều kiện đăng ký"})
    stopped = event_of(dossier, EventKind.stopped)
    form05 = pdf_text(culture.get(f"{base}/events/{stopped.id}.pdf"))
    for expected in ("THÔNG BÁO", "DỪNG XỬ LÝ HỒ SƠ", "Kính gửi: Lê Thị Cúc", dossier.code,
                     "Người nộp không đủ điều kiện đăng ký", "ngày 25/11/2026", "Mẫu 05"):
        assert expected in form05, expected

    # whoever may read the dossier prints; others not; ids of other dossiers are not found
    assert browser(app, "motcua").get(f"{base}/events/{stopped.id}.pdf").status_code == 200
    assert browser(app, "vanphong").get(f"{base}/events/{stopped.id}.pdf").status_code == 403
    assert culture.get(f"{base}/events/987654.pdf").status_code == 404
    assert app.test_client().get(f"{base}/events/{stopped.id}.pdf").status_code == 302


PERFORM = {
    "supplement_request": lambda d, u, now: dossiers.request_supplement(d, actor=u, reason="x", now=now),
    "supplement_receive": lambda d, u, now: dossiers.receive_supplement(d, actor=u, now=now),
    "payment_request": lambda d, u, now: dossiers.request_payment(d, actor=u, reason="x", now=now),
    "payment_receive": lambda d, u, now: dossiers.receive_payment(d, actor=u, now=now),
    "apology": lambda d, u, now: dossiers.apologise(d, actor=u, reason="x", now=now,
                                                    promised_at=d.due_at + timedelta(days=7)),
    "stop": lambda d, u, now: dossiers.stop_processing(d, actor=u, reason="x", now=now),
    "withdraw": lambda d, u, now: dossiers.withdraw(d, actor=u, reason="x", now=now),
    "return_result": lambda d, u, now: dossiers.return_result(d, actor=u, via=ResultDelivery.desk, now=now),
    "pause_start": lambda d, u, now: dossiers.start_pause(d, actor=u, kind=PauseKind.verification, reason="x",
                                                          now=now),
    "pause_end": lambda d, u, now: dossiers.end_pause(d, actor=u, now=now),
}


def _succeeds(dossier, user, action, now) -> bool:
    savepoint = db.session.begin_nested()
    try:
        PERFORM[action](dossier, user, now)
        done = True
    except QmsError:
        done = False
    savepoint.rollback()
    db.session.expire_all()
    return done


def test_the_page_offers_exactly_the_actions_the_services_accept(dossier, desk, head, make_user):
    """available_actions (the buttons) and the services agree, for every user, action and
    state: no button leads to a refusal, no allowed action lacks its button."""
    users = {**desk, "head": head, "leader": make_user("lanhdao", Role.leader)}
    assert set(PERFORM) == set(dossiers.EVENT_ACTIONS)

    def check(state, now) -> set[tuple[str, str]]:
        allowed = set()
        for name, user in users.items():
            offered = dossiers.available_actions(user, fresh(dossier), now)
            for action in PERFORM:
                assert (action in offered) == _succeeds(fresh(dossier), user, action, now), \
                    (state, name, action)
                allowed |= {(name, action)} if action in offered else set()
        return allowed

    assert check("processing", at(2026, 11, 20, 10, 0)) == {
        (name, action) for name in ("onestop", "culture", "head")
        for action in ("supplement_request", "payment_request", "stop")
    } | {("onestop", "withdraw"), ("head", "apology"), ("leader", "apology")}
    check("after the due time", at(2026, 11, 26, 10, 0))
    dossiers.apologise(dossier, actor=head, reason="Chờ", promised_at=at(2026, 11, 30, 17, 0),
                       now=at(2026, 11, 25, 9, 0))
    check("apologised", at(2026, 11, 25, 10, 0))
    dossiers.request_payment(fresh(dossier), actor=desk["culture"], reason="Lệ phí", now=at(2026, 11, 25, 10, 0))
    check("awaiting payment", at(2026, 11, 25, 11, 0))
    dossiers.receive_payment(fresh(dossier), actor=desk["culture"], now=at(2026, 11, 25, 14, 0))
    dossiers.request_supplement(fresh(dossier), actor=desk["culture"], reason="Thiếu", now=at(2026, 11, 25, 15, 0))
    check("supplement requested", at(2026, 11, 25, 16, 0))
    dossiers.receive_supplement(fresh(dossier), actor=desk["onestop"], now=at(2026, 11, 26, 8, 0))
    check("supplemented once", at(2026, 11, 26, 9, 0))
    dossiers.stop_processing(fresh(dossier), actor=desk["culture"], reason="Dừng", now=at(2026, 11, 26, 10, 0))
    assert check("stopped", at(2026, 11, 26, 11, 0)) == set()


def test_once_the_result_is_ready_only_the_desk_returns_it(dossier, desk, head, orgtree, make_user):
    users = {**desk, "head": head, "leader": make_user("lanhdao", Role.leader),
             "onestop_head": make_user("truongmotcua", Role.department_head, department=orgtree["onestop"])}
    hands = [(desk["culture"], orgtree["office"]), (desk["office"], None), (desk["onestop"], None)]
    for minute, (actor, next_department) in enumerate(hands):
        dossiers.complete_step(dossier.current_step(), actor=actor, now=at(2026, 11, 23, 9, minute),
                               next_department=next_department)
    assert fresh(dossier).status is DossierStatus.processed
    offered = {(name, action) for name, user in users.items()
               for action in dossiers.available_actions(user, fresh(dossier), at(2026, 11, 30, 9, 0))}
    assert offered == {("onestop", "return_result"), ("onestop_head", "return_result")}
    for name, user in users.items():
        for action in PERFORM:
            assert ((name, action) in offered) == _succeeds(fresh(dossier), user, action, at(2026, 11, 30, 9, 0)), \
                (name, action)
    dossiers.return_result(fresh(dossier), actor=desk["onestop"], via=ResultDelivery.online, now=at(2026, 11, 30, 9, 0))
    assert not any(dossiers.available_actions(user, fresh(dossier), at(2026, 11, 30, 10, 0)) for user in users.values())
