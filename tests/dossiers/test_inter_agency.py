"""Inter-agency processing (liên thông, issue 11; Decree 118/2025): a dossier received at
one one-stop office of the province for another agency to process, the two recorded apart;
a step handled by another agency of the province, due on that agency's calendar, handed
over and back; who sees the dossier follows the steps it passed through."""
from datetime import date

import pytest

from qms.errors import ValidationError
from qms.extensions import db
from qms.models import AgencyLevel, DayKind, Role
from qms.services import calendars, dossiers, org
from qms.services import register as register_service
from tests.dossiers.conftest import at


@pytest.fixture
def province_wide(orgtree, make_user):
    """A second ward (TP-B) with its one-stop office and culture department, and the
    province's construction department (TP-XD); an officer in each."""
    ward_b = org.save_agency(None, actor=None, code="TP-B", name="Phường Bình Minh", level=AgencyLevel.commune,
                             parent=orgtree["province"], effective_from=date(2025, 7, 1))
    places = {
        "ward_b": ward_b,
        "b_onestop": org.save_department(None, actor=None, code="B-MC", name="Bộ phận một cửa B",
                                         agency=ward_b, is_one_stop=True),
        "b_culture": org.save_department(None, actor=None, code="B-VHXH", name="Phòng Văn hóa - Xã hội B",
                                         agency=ward_b),
        "construction": org.save_department(None, actor=None, code="TP-XD", name="Sở Xây dựng",
                                            agency=orgtree["province"]),
    }
    people = {"b_onestop": make_user("motcuab", Role.officer, department=places["b_onestop"]),
              "b_culture": make_user("vanhoab", Role.officer, department=places["b_culture"]),
              "construction": make_user("xaydung", Role.officer, department=places["construction"])}
    db.session.commit()
    return {**places, **{f"{k}_officer": v for k, v in people.items()}}


def test_received_here_for_another_ward_to_process(three_days, desk, orgtree, province_wide):
    # Ward B decided a local day off on Wednesday 25/11: its calendar sets the due time.
    calendars.add_override(province_wide["ward_b"], day=date(2026, 11, 25), kind=DayKind.day_off,
                           reason="Nghỉ bù của phường", actor=None)
    dossier, _secret = dossiers.receive_dossier(
        actor=desk["onestop"], procedure=three_days, applicant_name="Cư dân phường B",
        now=at(2026, 11, 23, 8, 0), processing_agency=province_wide["ward_b"])
    assert (dossier.agency, dossier.processing_agency) == (orgtree["ward"], province_wide["ward_b"])
    assert dossier.code.startswith("TP-A-")  # numbered where it was received
    # 24 working hours of ward B from Monday 23/11 08:00: 7 h that day, 24/11 (a national
    # holiday) and 25/11 (its own day off) skipped, 8 h on 26/11 and 27/11, the last hour
    # on Monday 30/11 → 08:00 (ward A's calendar would say Friday 27/11 08:00).
    assert dossier.due_at == at(2026, 11, 30, 8, 0)
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 9, 0),
                           next_department=province_wide["b_culture"])
    db.session.commit()
    # Who sees it: both one-stop offices in their registers; ward B's culture department
    # once it holds a step; ward A's culture department never.
    def visible(user):
        return db.session.query(dossiers.Dossier).filter(register_service.visible_to(user)).count()
    assert visible(desk["onestop"]) == visible(province_wide["b_onestop_officer"]) == 1
    assert visible(province_wide["b_culture_officer"]) == 1 and visible(desk["culture"]) == 0


def test_a_step_handled_by_a_provincial_department_goes_and_comes_back(three_days, desk, orgtree,
                                                                       province_wide):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days,
                                                applicant_name="Chủ nhà", now=at(2026, 11, 23, 8, 0))
    dossiers.complete_step(dossier.steps[0], actor=desk["onestop"], now=at(2026, 11, 23, 9, 0),
                           next_department=province_wide["construction"])  # handed over to the province
    sent = dossier.steps[1]
    assert (sent.department, sent.handed_over_at, sent.due_at) == (
        province_wide["construction"], at(2026, 11, 23, 9, 0), at(2026, 11, 23, 15, 0))  # its 4 h
    assert [s.dossier.code for s in db.session.scalars(dossiers.queue(province_wide["construction"].id))] == [
        dossier.code]
    officer = province_wide["construction_officer"]
    assert dossiers.authz.may(officer, "dossiers.view", dossier)
    dossiers.complete_step(sent, actor=officer, now=at(2026, 11, 23, 14, 0),
                           next_department=orgtree["office"])  # handed back to the ward's office
    assert sent.completed_at == at(2026, 11, 23, 14, 0) and dossier.steps[2].department == orgtree["office"]
    labels = [label for _id, label in dossiers.next_department_choices(dossier)]
    assert labels[0] == "A-MC — Bộ phận một cửa"  # the processing agency's own first
    assert "Thành phố Thử Nghiệm: TP-XD — Sở Xây dựng" in labels


def test_the_processing_agency_is_of_the_province_and_the_procedures_level(three_days, desk, orgtree):
    other = org.save_agency(None, actor=None, code="TK-X", name="Xã Tỉnh Khác", level=AgencyLevel.commune,
                            parent=org.save_agency(None, actor=None, code="TK", name="Tỉnh Khác",
                                                   level=AgencyLevel.province, parent=None,
                                                   effective_from=date(2004, 1, 1)),
                            effective_from=date(2025, 7, 1))
    with pytest.raises(ValidationError, match="không thuộc Thành phố Thử Nghiệm"):
        dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days, applicant_name="X",
                                 now=at(2026, 11, 23, 8, 0), processing_agency=other)
    with pytest.raises(ValidationError, match="không thuộc thẩm quyền của Thành phố Thử Nghiệm"):
        dossiers.receive_dossier(actor=desk["onestop"], procedure=three_days, applicant_name="X",
                                 now=at(2026, 11, 23, 8, 0), processing_agency=orgtree["province"])
    assert [a.code for a in dossiers.processing_agencies(orgtree["ward"])] == ["TP-A"]


def test_the_desk_names_the_processing_agency_on_the_form(app, three_days, desk, province_wide):
    from qms import clock
    from tests.conftest import browser_as, post_form
    from tests.web.conftest import text

    officer = browser_as(app, "motcua")
    with clock.frozen(at(2026, 11, 23, 8, 0)):
        form = text(officer.get("/dossiers/receive"))
        assert "Cơ quan giải quyết" in form and "Phường Bình Minh" in form
        post_form(officer, "/dossiers/receive", {
            "procedure_id": three_days.id, "applicant_name": "Người phường B", "channel": "direct",
            "processing_agency_id": province_wide["ward_b"].id})
    dossier = db.session.query(dossiers.Dossier).filter_by(applicant_name="Người phường B").one()
    assert dossier.processing_agency == province_wide["ward_b"]
    page = text(officer.get(f"/dossiers/{dossier.code}"))
    assert 'id="dossier-processing-agency">Phường Bình Minh<' in page
