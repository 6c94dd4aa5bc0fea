# ruff: noqa: F811  (the fixtures imported from audit_fixtures are parameters here)
"""Internal audits (ISO 9001:2015 §9.2): the programme, the independence of auditors, the
checklist from the clauses and procedures in scope, answers and evidence, findings that
raise nonconformities, and the audit's states."""
from __future__ import annotations

import io
from datetime import date

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from qms import authz
from qms.errors import Conflict, Forbidden, ValidationError
from qms.extensions import db
from qms.models import (
    AuditLog,
    AuditStatus,
    ChecklistResult,
    CorrectiveAction,
    EvidenceFile,
    FindingKind,
    NcSource,
    NcStatus,
    Nonconformity,
    Role,
    Severity,
)
from qms.services import attachments, audits, dossiers
from tests.dossiers.conftest import at
from tests.quality.audit_fixtures import (  # noqa: F401
    NOW,
    PDF,
    audit_,
    plan,
    programme,
    programme_for,
    running,
    team,
)


# --- the programme --------------------------------------------------------------------------
def test_one_programme_per_agency_and_year(programme, team, orgtree):
    assert (programme.year, programme.agency) == (2026, orgtree["ward"])
    with pytest.raises(Conflict, match="Phường An Hòa đã có chương trình đánh giá nội bộ năm 2026"):
        programme_for(orgtree["ward"], team["quality"])
    assert programme_for(orgtree["ward"], team["quality"], year=2027).year == 2027
    assert programme_for(orgtree["province"], team["quality"]).agency == orgtree["province"]


def test_only_the_quality_officer_keeps_programmes(programme, team, orgtree):
    for who in ("lead", "head", "leader", "officer"):
        with pytest.raises(Forbidden):
            programme_for(orgtree["ward"], team[who], year=2030)


def test_roles_without_the_auditor_role_cannot_plan(programme, team, orgtree):
    for who in ("head", "leader", "officer"):
        with pytest.raises(Forbidden, match="Chỉ cán bộ ISO hoặc chuyên gia đánh giá lập kế hoạch"):
            plan(programme, quality=team[who], lead=team["lead"], departments=[orgtree["culture"]])
        assert not authz.has(team[who], "audits.plan")
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(audits.Audit)) == 0


# --- an auditor plans their own audit ---------------------------------------------------------
def test_an_auditor_plans_an_audit_they_lead(programme, team, orgtree):
    planned = plan(programme, quality=team["lead"], lead=team["lead"], team=[team["member"]],
                   departments=[orgtree["culture"]])
    db.session.commit()
    assert (planned.code, planned.lead_auditor, planned.status) == ("ĐG-2026-01", team["lead"], AuditStatus.planned)
    assert [u.username for u in planned.team] == ["thanhvien"]
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "audit.planned")).one()
    assert row.actor_name == "truongdoan"  # on record as planned by the auditor
    assert audits.may(team["lead"], "edit", planned) and audits.may(team["quality"], "edit", planned)
    assert not audits.may(team["member"], "edit", planned)  # on the team, not the lead


def test_an_auditor_never_names_another_lead(programme, team, orgtree):
    for other in (team["member"], None):
        with pytest.raises(Forbidden, match="chỉ lập, sửa kế hoạch cuộc đánh giá do chính mình làm trưởng đoàn"):
            plan(programme, quality=team["lead"], lead=other, team=[team["lead"]], departments=[orgtree["culture"]])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(audits.Audit)) == 0
    # the quality officer names any lead
    assert plan(programme, quality=team["quality"], lead=team["member"], departments=[orgtree["culture"]])


def test_an_auditor_planning_their_own_audit_stays_independent(programme, team, orgtree):
    with pytest.raises(ValidationError, match="Dgvanhoa thuộc Phòng Văn hóa - Xã hội nên không được đánh giá"):
        plan(programme, quality=team["insider"], lead=team["insider"], departments=[orgtree["culture"]])
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(audits.Audit)) == 0


def test_the_lead_auditor_edits_their_planned_audit_and_no_one_else_s(audit_, team, orgtree, in_force):
    values = dict(title="Đánh giá văn thư, lưu trữ", departments=[orgtree["culture"]], procedures=[in_force],
                  clauses=audit_.clauses, criteria="", planned_start=audit_.planned_start,
                  planned_end=audit_.planned_end, lead_auditor=team["lead"], team=[], now=NOW)
    for who in ("member", "insider", "head", "leader"):  # the team member, another auditor, other roles
        with pytest.raises(Forbidden, match="Chỉ cán bộ ISO hoặc trưởng đoàn của cuộc đánh giá ĐG-2026-01"):
            audits.update_audit(audit_, **values, actor=team[who])
        db.session.rollback()
    # the lead never hands the audit over to another lead
    with pytest.raises(Forbidden, match="do chính mình làm trưởng đoàn"):
        audits.update_audit(audit_, **{**values, "lead_auditor": team["member"]}, actor=team["lead"])
    db.session.rollback()
    # nor joins the audited department to the scope (independence)
    with pytest.raises(ValidationError, match="Truongdoan thuộc Văn phòng UBND"):
        audits.update_audit(audit_, **{**values, "departments": [orgtree["culture"], orgtree["office"]]},
                            actor=team["lead"])
    db.session.rollback()
    audits.update_audit(audit_, **values, actor=team["lead"])
    db.session.commit()
    assert (audit_.title, audit_.team) == ("Đánh giá văn thư, lưu trữ", [])
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "audit.scope_changed")).one()
    assert row.actor_name == "truongdoan"
    audits.start(audit_, actor=team["lead"], now=NOW)
    assert not audits.may(team["lead"], "edit", audit_)
    with pytest.raises(Conflict, match="đã bắt đầu"):
        audits.update_audit(audit_, **values, actor=team["lead"])


# --- independence ---------------------------------------------------------------------------
def test_a_lead_auditor_never_audits_their_own_department(programme, team, orgtree):
    with pytest.raises(ValidationError) as refused:
        plan(programme, quality=team["quality"], lead=team["insider"], departments=[orgtree["culture"]])
    assert "Dgvanhoa thuộc Phòng Văn hóa - Xã hội" in refused.value.message
    assert "không được đánh giá chính phòng ban của mình" in refused.value.message
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(audits.Audit)) == 0


def test_nor_does_a_team_member(programme, team, orgtree):
    with pytest.raises(ValidationError, match="Thanhvien thuộc Bộ phận một cửa"):
        plan(programme, quality=team["quality"], lead=team["lead"], team=[team["member"]],
             departments=[orgtree["culture"], orgtree["onestop"]])


def test_independence_holds_when_the_scope_or_team_is_edited(audit_, team, orgtree, in_force):
    values = dict(title=audit_.title, departments=[orgtree["culture"]], procedures=[in_force],
                  clauses=audit_.clauses, criteria="", planned_start=audit_.planned_start,
                  planned_end=audit_.planned_end, lead_auditor=team["lead"], team=[team["member"]],
                  actor=team["quality"], now=NOW)
    # the culture auditor joins the team of a culture audit: refused
    with pytest.raises(ValidationError, match="Dgvanhoa thuộc Phòng Văn hóa - Xã hội"):
        audits.update_audit(audit_, **{**values, "team": [team["member"], team["insider"]]})
    db.session.rollback()
    # the one-stop office joins the scope while a one-stop auditor sits on the team: refused
    with pytest.raises(ValidationError, match="Thanhvien thuộc Bộ phận một cửa"):
        audits.update_audit(audit_, **{**values, "departments": [orgtree["culture"], orgtree["onestop"]]})
    db.session.rollback()
    # the lead changes to the culture auditor: refused
    with pytest.raises(ValidationError, match="Dgvanhoa"):
        audits.update_audit(audit_, **{**values, "lead_auditor": team["insider"]})
    db.session.rollback()
    assert [u.username for u in audit_.team] == ["thanhvien"]
    assert [d.code for d in audit_.departments] == ["A-VHXH"]
    # a clean change goes through and is on record
    audits.update_audit(audit_, **{**values, "team": [], "departments": [orgtree["culture"], orgtree["onestop"]]})
    db.session.commit()
    row = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "audit.scope_changed")).one()
    assert row.actor_name == "canboiso"
    assert row.changes["team"] == [["thanhvien"], []]
    assert row.changes["departments"] == [["A-VHXH"], ["A-MC", "A-VHXH"]]


def test_planning_rules(programme, team, orgtree):
    culture = [orgtree["culture"]]
    with pytest.raises(ValidationError, match="Ngày kết thúc dự kiến phải từ ngày bắt đầu trở đi"):
        plan(programme, quality=team["quality"], lead=team["lead"], departments=culture,
             start=date(2026, 5, 10), end=date(2026, 5, 9))
    with pytest.raises(ValidationError, match="không phải chuyên gia đánh giá"):
        plan(programme, quality=team["quality"], lead=team["leader"], departments=culture)
    with pytest.raises(ValidationError, match="không phải chuyên gia đánh giá"):
        plan(programme, quality=team["quality"], lead=team["lead"], team=[team["head"]], departments=[orgtree["onestop"]])
    with pytest.raises(ValidationError, match="Không có điều khoản 11.1"):
        plan(programme, quality=team["quality"], lead=team["lead"], departments=culture, clauses=["11.1"])
    with pytest.raises(ValidationError, match="ít nhất một phòng ban"):
        plan(programme, quality=team["quality"], lead=team["lead"], departments=[])
    with pytest.raises(ValidationError, match="năm 2026 phải bắt đầu trong năm đó"):
        plan(programme, quality=team["quality"], lead=team["lead"], departments=culture,
             start=date(2027, 1, 5), end=date(2027, 1, 6))
    first = plan(programme, quality=team["quality"], lead=team["lead"], departments=culture)
    second = plan(programme, quality=team["quality"], lead=team["lead"], departments=culture,
                  team=[team["lead"], team["member"]])
    assert (first.code, second.code) == ("ĐG-2026-01", "ĐG-2026-02")
    assert [u.username for u in second.team] == ["thanhvien"]  # the lead is not twice on the team
    assert first.status is AuditStatus.planned


# --- the checklist --------------------------------------------------------------------------
def test_checklist_from_the_clauses_in_scope_and_their_sub_clauses_plus_procedures(running, in_force, orgtree):
    lines = [(i.position, i.clause, i.procedure) for i in running.items]
    assert lines == [(1, "7.5", None), (2, "7.5.1", None), (3, "7.5.2", None), (4, "7.5.3", None),
                     (5, "8.5.1", None), (6, "8.5.1", in_force)]
    questions = [i.question for i in running.items]
    assert "7.5 “Thông tin dạng văn bản”" in questions[0]
    assert "7.5.3 “Kiểm soát thông tin dạng văn bản”" in questions[3]
    assert "Kiểm soát sản xuất và cung cấp dịch vụ" in questions[4]
    assert questions[5] == ("Việc thực hiện quy trình 1.001193 Đăng ký khai sinh: hồ sơ lấy mẫu, "
                            "thời hạn, biểu mẫu")
    assert {i.department for i in running.items} == {orgtree["culture"]}  # the only audited one
    # generated once: asking again changes nothing
    assert audits.generate_checklist(running) == running.items
    assert len(running.items) == 6


def test_no_checklist_before_the_audit_starts(audit_):
    assert audit_.items == []


# --- answers --------------------------------------------------------------------------------
def test_only_the_team_answers_and_only_while_the_audit_is_in_progress(audit_, team):
    audits.generate_checklist(audit_)  # the lines exist, the audit has not started
    item = audit_.items[0]
    with pytest.raises(Conflict, match="đang diễn ra"):
        audits.answer_item(item, result=ChecklistResult.conform, actor=team["lead"], now=NOW)
    audits.start(audit_, actor=team["quality"], now=NOW)
    for outsider in ("quality", "head", "officer", "leader", "insider"):
        with pytest.raises(Forbidden):
            audits.answer_item(item, result=ChecklistResult.conform, actor=team[outsider], now=NOW)
    audits.answer_item(item, result=ChecklistResult.conform, evidence="Sổ công văn đến", actor=team["member"], now=NOW)
    assert (item.result, item.evidence, item.answered_by_id) == (ChecklistResult.conform, "Sổ công văn đến",
                                                                 team["member"].id)
    audits.report(audit_, summary="Phù hợp.", actor=team["lead"], now=NOW)
    with pytest.raises(Conflict):
        audits.answer_item(item, result=ChecklistResult.observation, actor=team["lead"], now=NOW)


def test_sampled_dossiers_must_exist(running, team, in_force, desk):
    dossier, _secret = dossiers.receive_dossier(actor=desk["onestop"], procedure=in_force,
                                                applicant_name="Trần Thị Bình", now=at(2026, 11, 24, 9, 0))
    item = running.items[5]
    with pytest.raises(ValidationError, match="Không có hồ sơ mã TP-A-000000-0009"):
        audits.answer_item(item, result=ChecklistResult.conform,
                           sampled_dossier_codes=[dossier.code, "TP-A-000000-0009"], actor=team["lead"], now=NOW)
    assert item.result is None
    audits.answer_item(item, result=ChecklistResult.conform, evidence="Đúng hạn",
                       sampled_dossier_codes=[dossier.code.lower(), dossier.code], actor=team["lead"], now=NOW)
    assert item.sampled_dossiers == [dossier.code]


def test_evidence_files_are_stored_with_the_answer(running, team):
    item = running.items[0]
    audits.answer_item(item, result=ChecklistResult.nonconform, evidence="",
                       files=[FileStorage(io.BytesIO(PDF), filename="Biên bản kiểm tra.pdf")],
                       actor=team["lead"], now=NOW)
    db.session.commit()
    [stored] = db.session.scalars(sa.select(EvidenceFile)).all()
    assert (stored.item, stored.filename, stored.uploaded_by) == (item, "Biên bản kiểm tra.pdf", team["lead"])
    assert attachments.path_of(stored).read_bytes() == PDF
    # not a PDF/DOCX/XLSX: refused, nothing recorded
    with pytest.raises(ValidationError, match="không phải PDF"):
        audits.answer_item(running.items[1], result=ChecklistResult.conform,
                           files=[FileStorage(io.BytesIO(b"hello"), filename="ghi-chu.pdf")],
                           actor=team["lead"], now=NOW)


def test_a_nonconform_answer_needs_evidence(running, team):
    with pytest.raises(ValidationError, match="cần bằng chứng"):
        audits.answer_item(running.items[0], result=ChecklistResult.nonconform, evidence="  ",
                           actor=team["lead"], now=NOW)


# --- findings -------------------------------------------------------------------------------
def test_a_nonconformity_raised_from_a_checklist_line_is_prefilled(running, team, orgtree, in_force):
    line = running.items[5]  # the procedure's line
    finding = audits.raise_from_item(line, description="2/5 hồ sơ lấy mẫu trả kết quả quá hạn, không có thư xin lỗi",
                                     actor=team["member"], now=NOW)
    db.session.commit()
    nc = finding.nonconformity
    assert (finding.kind, finding.item, finding.clause) == (FindingKind.minor_nc, line, "8.5.1")
    assert (nc.source, nc.audit, nc.finding, nc.clause, nc.procedure, nc.department, nc.severity) == (
        NcSource.audit_finding, running, finding, "8.5.1", in_force, orgtree["culture"], Severity.minor)
    assert (nc.status, nc.detected_by, nc.code) == (NcStatus.open, team["member"], "NC-2026-0001")
    assert "thư xin lỗi" in nc.description


def test_a_major_finding_raises_a_major_nonconformity_and_an_observation_none(running, team, orgtree):
    major = audits.record_finding(running, kind=FindingKind.major_nc, clause="7.5.3", department=orgtree["culture"],
                                  description="Không kiểm soát tài liệu hết hiệu lực", actor=team["lead"], now=NOW)
    seen = audits.record_finding(running, kind=FindingKind.observation, clause="", department=orgtree["culture"],
                                 description="Sổ theo dõi ghi chưa đều", actor=team["lead"], now=NOW)
    improve = audits.record_finding(running, kind=FindingKind.improvement, department=orgtree["culture"],
                                    description="Nên số hóa sổ theo dõi", actor=team["lead"], now=NOW)
    db.session.commit()
    assert major.nonconformity.severity is Severity.major
    assert seen.nonconformity is None and improve.nonconformity is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Nonconformity)) == 1


def test_finding_rules(running, team, orgtree):
    culture = orgtree["culture"]
    with pytest.raises(ValidationError, match="không thuộc phạm vi"):
        audits.record_finding(running, kind=FindingKind.observation, department=orgtree["office"],
                              description="x", actor=team["lead"], now=NOW)
    with pytest.raises(ValidationError, match="điều khoản ISO"):
        audits.record_finding(running, kind=FindingKind.minor_nc, clause="", department=culture,
                              description="x", actor=team["lead"], now=NOW)
    with pytest.raises(ValidationError, match="Hãy mô tả"):
        audits.record_finding(running, kind=FindingKind.minor_nc, clause="8.5.1", department=culture,
                              description=" ", actor=team["lead"], now=NOW)
    with pytest.raises(Forbidden):
        audits.record_finding(running, kind=FindingKind.minor_nc, clause="8.5.1", department=culture,
                              description="x", actor=team["head"], now=NOW)


def test_raising_from_a_line_of_a_multi_department_audit_needs_the_department(programme, team, orgtree):
    both = plan(programme, quality=team["quality"], lead=team["lead"],
                departments=[orgtree["culture"], orgtree["onestop"]], clauses=["7.2"])
    audits.start(both, actor=team["lead"], now=NOW)
    with pytest.raises(ValidationError, match="Hãy chọn phòng ban"):
        audits.raise_from_item(both.items[0], description="Chưa đào tạo", actor=team["lead"], now=NOW)
    finding = audits.raise_from_item(both.items[0], description="Chưa đào tạo", department=orgtree["onestop"],
                                     actor=team["lead"], now=NOW)
    assert (finding.nonconformity.department, finding.nonconformity.clause) == (orgtree["onestop"], "7.2")


# --- states ---------------------------------------------------------------------------------
def _car_for(nc, owner) -> CorrectiveAction:
    car = CorrectiveAction(code="CAR-2026-0001", department_id=nc.department_id, owner_id=owner.id)
    db.session.add(car)
    db.session.flush()
    nc.corrective_action_id = car.id
    db.session.flush()
    return car


def test_an_audit_closes_only_once_each_nonconformity_has_a_car(running, team, orgtree):
    first = audits.raise_from_item(running.items[0], description="Thiếu sổ theo dõi", actor=team["lead"], now=NOW)
    second = audits.raise_from_item(running.items[1], kind=FindingKind.major_nc, description="Không có danh mục",
                                    actor=team["lead"], now=NOW)
    audits.report(running, summary="Có 2 sự không phù hợp.", actor=team["lead"], now=NOW)
    with pytest.raises(Conflict) as refused:
        audits.close(running, actor=team["quality"], now=NOW)
    assert "NC-2026-0001, NC-2026-0002" in refused.value.message
    assert "phiếu hành động khắc phục" in refused.value.message
    _car_for(first.nonconformity, team["head"])
    with pytest.raises(Conflict, match="NC-2026-0002") as refused:
        audits.close(running, actor=team["quality"], now=NOW)
    assert "NC-2026-0001" not in refused.value.message
    _car_for_second = CorrectiveAction(code="CAR-2026-0002", department_id=orgtree["culture"].id,
                                       owner_id=team["head"].id)
    db.session.add(_car_for_second)
    db.session.flush()
    second.nonconformity.corrective_action_id = _car_for_second.id
    audits.close(running, actor=team["quality"], now=NOW)
    db.session.commit()
    assert (running.status, running.closed_at) == (AuditStatus.closed, NOW)


def test_a_rejected_nonconformity_needs_no_car(running, team):
    finding = audits.raise_from_item(running.items[0], description="Nghi ngờ", actor=team["lead"], now=NOW)
    audits.report(running, summary="Kết luận.", actor=team["lead"], now=NOW)
    from qms.services import nonconformities

    nonconformities.transition(finding.nonconformity, "reject", actor=team["quality"], now=NOW,
                               reason="Không đủ bằng chứng")
    audits.close(running, actor=team["lead"], now=NOW)
    assert running.status is AuditStatus.closed


def test_transitions_refused_for_the_wrong_role_or_state(audit_, team):
    for who in ("member", "head", "leader", "insider"):
        with pytest.raises(Forbidden):
            audits.start(audit_, actor=team[who], now=NOW)
    with pytest.raises(Conflict, match="Đã lập kế hoạch"):
        audits.report(audit_, summary="x", actor=team["lead"], now=NOW)
    with pytest.raises(Conflict):
        audits.close(audit_, actor=team["quality"], now=NOW)
    audits.start(audit_, actor=team["lead"], now=NOW)
    with pytest.raises(Conflict, match="Đang đánh giá"):
        audits.start(audit_, actor=team["lead"], now=NOW)
    for who in ("quality", "member", "leader"):  # the lead auditor reports
        with pytest.raises(Forbidden, match="trưởng đoàn"):
            audits.report(audit_, summary="x", actor=team[who], now=NOW)
    with pytest.raises(ValidationError, match="kết luận"):
        audits.report(audit_, summary="  ", actor=team["lead"], now=NOW)
    with pytest.raises(Conflict):
        audits.close(audit_, actor=team["lead"], now=NOW)
    audits.report(audit_, summary="Hệ thống phù hợp.", actor=team["lead"], now=NOW)
    for who in ("member", "head", "leader"):
        with pytest.raises(Forbidden):
            audits.close(audit_, actor=team[who], now=NOW)
    assert audits.may(team["quality"], "close", audit_) and audits.may(team["lead"], "close", audit_)
    assert not audits.may(team["member"], "close", audit_)
    with pytest.raises(Conflict):
        audits.update_audit(audit_, title="x", departments=audit_.departments, procedures=[],
                            clauses=["7.5"], criteria="", planned_start=audit_.planned_start,
                            planned_end=audit_.planned_end, lead_auditor=team["lead"], team=[],
                            actor=team["quality"], now=NOW)


def test_every_step_is_attributed(running, team):
    audits.answer_item(running.items[0], result=ChecklistResult.conform, actor=team["member"], now=NOW)
    audits.report(running, summary="Phù hợp.", actor=team["lead"], now=NOW)
    db.session.commit()
    rows = db.session.execute(sa.select(AuditLog.action, AuditLog.actor_name)
                              .where(AuditLog.entity_type.in_(["audit", "checklist_item", "audit_programme"]))
                              .order_by(AuditLog.id)).all()
    actions = {(action, who) for action, who in rows}
    assert {("audit_programme.created", "canboiso"), ("audit.created", "canboiso"),
            ("audit.planned", "canboiso"), ("audit.start", "truongdoan"),
            ("checklist_item.created", "truongdoan"), ("checklist_item.updated", "thanhvien"),
            ("audit.report", "truongdoan")} <= actions


def test_who_reads_an_audit(audit_, team, make_user, orgtree):
    for who in ("quality", "lead", "member", "insider", "leader", "head", "officer"):
        assert authz.may(team[who], "audits.view", audit_), who
    outsider = make_user("cbvanphong", Role.officer, department=orgtree["office"])
    office_head = make_user("truongvanphong", Role.department_head, department=orgtree["office"])
    assert not authz.may(outsider, "audits.view", audit_)
    assert not authz.may(office_head, "audits.view", audit_)
