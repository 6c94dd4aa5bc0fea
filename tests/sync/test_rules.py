"""What a synced dossier is here: timed and classified by this system's rules, held when a code
cannot be mapped, then taken in once mapped (issue 13)."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from qms.errors import Conflict
from qms.extensions import db
from qms.models import (
    Dossier,
    DossierStatus,
    EventKind,
    HeldDossier,
    MappingKind,
    NcSource,
    Nonconformity,
)
from qms.services import dossiers, metrics, sync
from tests.dossiers.conftest import at
from tests.sync.conftest import entry, portal


def _take(source, *payloads, now):
    outcomes = sync.sync_dossiers(source, list(payloads), actor=source.account, now=now)
    db.session.commit()
    return outcomes


def _dossier(code: str) -> Dossier:
    return db.session.scalar(sa.select(Dossier).where(Dossier.source_code == code))


def test_golden_lifecycles_are_classified_by_this_systems_rules(source, monday, orgtree):
    """Due Mon 30/11 09:00 for a dossier received Wed 25/11 09:00 (3 working days)."""
    _take(source,
          portal("EARLY", status=10, NgayKetThucXuLy="20261127100000", NgayTra="20261130080000",
                 history=[entry("20261125090000", 2, "Tiếp nhận"), entry("20261127100000", 9, "Xong"),
                          entry("20261130080000", 10, "Trả kết quả")]),
          # collected long after it was ready: the return moves no figure
          portal("COLLECTED-LATE", status=10, NgayKetThucXuLy="20261127100000", NgayTra="20261207080000"),
          portal("LATE", status=9, NgayKetThucXuLy="20261202100000"),
          # supplemented: the 3 days restart from the complete dossier (Tue 1/12 08:00 → Fri 4/12 08:00)
          portal("SUPPLEMENTED", status=9, NgayKetThucXuLy="20261203100000",
                 NgayYeuCauBoSung="20261126100000",
                 history=[entry("20261125090000", 2, "Tiếp nhận"),
                          entry("20261126100000", 5, "Yêu cầu bổ sung giấy chứng sinh"),
                          entry("20261201080000", 4, "Đã bổ sung"),
                          entry("20261203100000", 9, "Xong")]),
          portal("REFUSED", status=3, NgayTuChoi="20261125100000",
                 history=[entry("20261125100000", 3, "Thiếu giấy chứng sinh")]),
          now=monday)
    assert dossiers.timeliness(_dossier("EARLY")).value == "early"
    assert dossiers.timeliness(_dossier("COLLECTED-LATE")).value == "early"
    assert dossiers.timeliness(_dossier("LATE")).value == "late"
    supplemented = _dossier("SUPPLEMENTED")
    assert supplemented.due_at == at(2026, 12, 4, 8, 0)
    assert dossiers.timeliness(supplemented).value == "early"
    assert [e.kind for e in supplemented.events] == [EventKind.supplement_requested, EventKind.supplement_received]
    refused = _dossier("REFUSED")
    assert refused.status is DossierStatus.not_accepted and refused.count(EventKind.not_accepted) == 1

    # the late one raised its nonconformity, once, against the ward's one-stop office
    late = db.session.scalars(sa.select(Nonconformity).where(Nonconformity.source == NcSource.overdue_dossier)).all()
    assert [nc.dossier_id for nc in late] == [_dossier("LATE").id]
    assert late[0].department.code == "A-MC"

    scope = metrics.Scope.of_department(orgtree["onestop"])
    november = metrics.dossier_metrics(scope, date(2026, 11, 1), date(2026, 12, 1), monday)
    assert (november["received"], november["refused"]) == (4, 1)
    assert (november["early"], november["late"], november["in_progress"]) == (2, 0, 1)
    december = metrics.dossier_metrics(scope, date(2026, 12, 1), date(2027, 1, 1), monday)
    assert (december["early"], december["late"], december["in_progress"]) == (1, 1, 0)


def test_a_paused_synced_dossier_counts_as_paused_and_is_never_acted_on_here(source, monday, staff):
    _take(source, portal("WAITING", status=5, NgayYeuCauBoSung="20261126100000",
                         history=[entry("20261125090000", 2, "Tiếp nhận"),
                                  entry("20261126100000", 5, "Yêu cầu bổ sung")]), now=monday)
    waiting = _dossier("WAITING")
    assert waiting.paused_at == at(2026, 11, 26, 10, 0)
    assert dossiers.available_actions(staff["officer"], waiting, monday) == set()
    with pytest.raises(Conflict):
        dossiers.receive_supplement(waiting, actor=staff["officer"], now=monday)


def test_a_dossier_older_than_the_process_is_timed_by_the_earliest_version_and_marked(source, monday):
    _take(source, portal("OLD", status=9, received="20261116090000", NgayKetThucXuLy="20261118090000"),
          now=monday)
    old = _dossier("OLD")
    assert old.before_version
    assert old.due_at == at(2026, 11, 19, 9, 0)  # Mon 16/11 09:00 + 3 working days


def test_unknown_codes_are_held_then_taken_in_once_mapped(source, monday, staff, orgtree, three_day_birth):
    outcomes = _take(source, portal("U1", unit="000.00.22.H99"), portal("U2", unit="000.00.22.H99"),
                     portal("P1", procedure="2.000001"), portal("S1", status=12), now=monday)
    assert [(o.result, o.reason) for o in outcomes] == [
        ("held", "unknown_agency"), ("held", "unknown_agency"), ("held", "unknown_procedure"),
        ("held", "unknown_status")]
    summary = [(s.code, reason.value, detail, count) for s, reason, detail, count, _since in sync.held_summary()]
    assert sorted(summary) == [("MC-TP", "unknown_agency", "000.00.22.H99", 2),
                               ("MC-TP", "unknown_procedure", "2.000001", 1), ("MC-TP", "unknown_status", "12", 1)]
    # sent again while held: still one held row each
    _take(source, portal("U1", unit="000.00.22.H99"), now=monday)
    assert db.session.scalar(sa.select(sa.func.count(HeldDossier.id))) == 4

    _rule, replayed = sync.add_mapping(actor=staff["quality"], source=source, kind=MappingKind.agency,
                                       external="000.00.22.H99", target_id=orgtree["ward"].id, now=monday)
    db.session.commit()
    assert sorted((o.source_code, o.result) for o in replayed) == [
        ("P1", "held"), ("S1", "held"), ("U1", "created"), ("U2", "created")]
    assert _dossier("U1").agency_id == orgtree["ward"].id
    _rule, replayed = sync.add_mapping(actor=staff["quality"], source=source, kind=MappingKind.status,
                                       external="12", status=DossierStatus.processing, now=monday)
    db.session.commit()
    assert [(o.source_code, o.result) for o in replayed] == [("P1", "held"), ("S1", "created")]
    assert _dossier("S1").status is DossierStatus.processing
    assert [h.code for h in db.session.scalars(sync.held_queue())] == ["P1"]
    _rule, replayed = sync.add_mapping(actor=staff["quality"], source=source, kind=MappingKind.procedure,
                                       external="2.000001", target_id=three_day_birth.id, now=monday)
    db.session.commit()
    assert [(o.source_code, o.result) for o in replayed] == [("P1", "created")]
    assert _dossier("P1").procedure_id == three_day_birth.id
    assert list(db.session.scalars(sync.held_queue())) == []
    released = db.session.scalar(sa.select(HeldDossier).where(HeldDossier.code == "U1"))
    assert released.released_by == staff["quality"] and released.dossier.source_code == "U1"

    # the same push again changes nothing, and nothing is held again
    again = _take(source, portal("U1", unit="000.00.22.H99"), now=monday)
    assert again[0].result == "unchanged"
    assert list(db.session.scalars(sync.held_queue())) == []


def test_a_code_used_here_already_is_held_not_overwritten(source, monday, staff):
    _take(source, portal("TP-A-261125-0001"), now=monday)
    other = sync.add_source(actor=staff["quality"], code="MC-KHAC", name="Hệ thống khác",
                            account=staff["head"])
    db.session.commit()
    outcome = sync.sync_dossiers(other, [portal("TP-A-261125-0001", status=9, NgayKetThucXuLy="20261126090000")],
                                 actor=staff["head"], now=monday)[0]
    assert (outcome.result, outcome.reason) == ("held", "code_taken")
    assert _dossier("TP-A-261125-0001").status is DossierStatus.processing
    assert date(2026, 11, 25) == _dossier("TP-A-261125-0001").received_at.date()


def test_a_handling_unit_mapped_to_a_department_gets_its_dossiers(source, monday, staff, orgtree):
    sync.add_mapping(actor=staff["quality"], source=source, kind=MappingKind.department,
                     external="Phòng Văn hóa - Xã hội phường An Hòa", target_id=orgtree["culture"].id, now=monday)
    _take(source, portal("D1", DonViXuLy="Phòng Văn hóa - Xã hội phường An Hòa"), portal("D2"), now=monday)
    assert _dossier("D1").department_id == orgtree["culture"].id
    assert _dossier("D2").department_id == orgtree["onestop"].id  # the unit's one-stop office


def test_the_dates_that_differ_from_the_sources_are_listed_for_the_quality_officer(app, source, monday):
    from tests.conftest import login

    _take(source, portal("SAME", NgayHenTra="20261130090000"), portal("DIFF", NgayHenTra="20261202170000"),
          now=monday)
    assert [d.source_code for d in db.session.scalars(sync.mismatches())] == ["DIFF"]
    client = app.test_client()
    login(client, "quality")
    page = client.get("/admin/sync/mismatches").get_data(as_text=True)
    assert "DIFF" in page and "02/12/2026 17:00" in page and "30/11/2026 09:00" in page
    assert ">SAME<" not in page
