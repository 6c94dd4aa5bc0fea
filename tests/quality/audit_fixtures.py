"""Builders shared by the audit tests and the two route-matrix files (access matrix, CSRF):
a programme with audits in the states each page or button needs."""
from __future__ import annotations

import io
from datetime import date

import pytest
from werkzeug.datastructures import FileStorage

from qms import clock
from qms.extensions import db
from qms.models import AuditProgramme, ChecklistResult, Role
from qms.services import accounts, audits
from tests.conftest import PASSWORD
from tests.dossiers.conftest import at

PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"


def plan(programme, *, quality, lead, departments, title="Đánh giá nội bộ", clauses=("7.5",),
         procedures=(), team=(), start=None, end=None):
    year = programme.year
    return audits.plan_audit(programme, title=title, departments=list(departments),
                             procedures=list(procedures), clauses=list(clauses),
                             criteria="TCVN ISO 9001:2015; quy trình nội bộ",
                             planned_start=start or date(year, 3, 2), planned_end=end or date(year, 3, 4),
                             lead_auditor=lead, team=list(team), actor=quality, now=clock.now())


def programme_for(agency, quality, year=2026) -> AuditProgramme:
    return audits.create_programme(agency, year=year, title=f"Chương trình đánh giá nội bộ năm {year}",
                                   objectives="Đánh giá toàn bộ phòng ban", actor=quality, now=clock.now())


def matrix_audits(orgtree, users) -> dict:
    """For tests/web/test_access_matrix.py `real_ids`: a programme of the ward, a planned
    audit of the culture department led by the matrix's auditor (of the office), and an
    audit in progress whose first line carries an evidence file. Officers and heads of the
    office read neither."""
    quality, lead = users[Role.quality_officer], users[Role.auditor]
    programme = programme_for(orgtree["ward"], quality)
    planned = plan(programme, quality=quality, lead=lead, departments=[orgtree["culture"]])
    running = plan(programme, quality=quality, lead=lead, departments=[orgtree["culture"]])
    audits.start(running, actor=lead, now=clock.now())
    audits.answer_item(running.items[0], result=ChecklistResult.conform, evidence="Sổ theo dõi",
                       files=[FileStorage(io.BytesIO(PDF), filename="Biên bản.pdf")], actor=lead,
                       now=clock.now())
    db.session.commit()
    return {"programme_id": programme.id, "audit_id": planned.id,
            "evidence_id": running.items[0].files[0].id, "item_id": running.items[0].id}


# url values that match nothing (test_access_matrix UNKNOWN_IDS)
UNKNOWN_AUDIT_IDS = {"programme_id": 987654, "audit_id": 987654, "evidence_id": 987654}


def csrf_audits(orgtree) -> dict:
    """For tests/web/test_csrf.py `objects`: one audit per button, each in the state it
    needs (the payloads run one after the other on the same database), with users of their
    own (other payloads change the matrix users' accounts): a quality officer and a lead
    auditor of the office; the audits are of the culture department."""
    def user(name, role):
        return accounts.create_user(actor=None, username=name, full_name=name.title(), password=PASSWORD,
                                    department=orgtree["office"], roles={role})

    quality, lead = user("auquality", Role.quality_officer), user("aulead", Role.auditor)
    programme = programme_for(orgtree["ward"], quality)
    culture = [orgtree["culture"]]
    edit = plan(programme, quality=quality, lead=lead, departments=culture, title="Sửa kế hoạch")
    to_start = plan(programme, quality=quality, lead=lead, departments=culture, title="Bắt đầu")
    running = plan(programme, quality=quality, lead=lead, departments=culture, title="Đang đánh giá",
                   clauses=("7.5.1", "7.5.2", "7.5.3"))
    to_report = plan(programme, quality=quality, lead=lead, departments=culture, title="Báo cáo")
    to_close = plan(programme, quality=quality, lead=lead, departments=culture, title="Kết thúc")
    for audit_ in (running, to_report, to_close):
        audits.start(audit_, actor=lead, now=clock.now())
    audits.report(to_close, summary="Hệ thống vận hành phù hợp.", actor=lead, now=clock.now())
    return {"au_agency": orgtree["ward"].id, "au_programme": programme.id, "au_edit": edit.id,
            "au_start": to_start.id, "au_running": running.id, "au_item": running.items[0].id,
            "au_item2": running.items[1].id, "au_report": to_report.id, "au_close": to_close.id,
            "au_lead": lead.id, "au_culture": orgtree["culture"].id}


AUDIT_CSRF_KEYS = ("au_agency", "au_programme", "au_edit", "au_start", "au_running", "au_item", "au_item2",
                   "au_report", "au_close", "au_lead", "au_culture")


def audit_csrf_payloads(o, Post) -> dict:
    """rule → Post for the audit routes (`Post` is test_csrf's class)."""
    year = 2026  # the programme's
    scope = {"departments": [str(o["au_culture"])], "clauses": ["8.5"], "criteria": "ISO 9001:2015",
             "planned_start": f"{year}-05-04", "planned_end": f"{year}-05-05",
             "lead_auditor_id": str(o["au_lead"])}
    return {
        "/audits/programmes/new": Post("auquality", {"agency_id": str(o["au_agency"]), "year": "2031",
                                                     "title": "Chương trình đánh giá năm 2031", "objectives": ""}),
        "/audits/programmes/<int:programme_id>/plan": Post(
            "auquality", {"title": "Đánh giá quá trình giải quyết hồ sơ", **scope},
            at={"programme_id": o["au_programme"]}),
        "/audits/<int:audit_id>/edit": Post("auquality", {"title": "Kế hoạch đã sửa", **scope},
                                            at={"audit_id": o["au_edit"]}),
        "/audits/<int:audit_id>/start": Post("aulead", {}, at={"audit_id": o["au_start"]}),
        "/audits/<int:audit_id>/items/<int:item_id>/answer": Post(
            "aulead", {"result": "conform", "evidence": "Sổ theo dõi văn bản đến", "sampled_dossiers": ""},
            at={"audit_id": o["au_running"], "item_id": o["au_item"]}),
        "/audits/<int:audit_id>/items/<int:item_id>/finding": Post(
            "aulead", {"kind": "minor_nc", "description": "Chưa cập nhật danh mục tài liệu"},
            at={"audit_id": o["au_running"], "item_id": o["au_item2"]}),
        "/audits/<int:audit_id>/findings": Post(
            "aulead", {"kind": "observation", "clause": "7.5.1", "department_id": str(o["au_culture"]),
                       "procedure_id": "0", "description": "Sổ theo dõi ghi chưa đều"},
            at={"audit_id": o["au_running"]}),
        "/audits/<int:audit_id>/report": Post("aulead", {"summary": "Hệ thống phù hợp."},
                                              at={"audit_id": o["au_report"]}),
        "/audits/<int:audit_id>/close": Post("auquality", {}, at={"audit_id": o["au_close"]}),
    }


# --- fixtures of tests/quality/test_audits*.py -------------------------------------------
NOW = at(2026, 3, 2, 9, 0)


@pytest.fixture
def team(make_user, orgtree):
    """A quality officer, auditors of the office and of the one-stop office, an auditor of
    the culture department (the audited one), and the culture department's staff."""
    return {
        "quality": make_user("canboiso", Role.quality_officer, department=orgtree["office"]),
        "lead": make_user("truongdoan", Role.auditor, department=orgtree["office"]),
        "member": make_user("thanhvien", Role.auditor, department=orgtree["onestop"]),
        "insider": make_user("dgvanhoa", Role.auditor, department=orgtree["culture"]),
        "head": make_user("truongvanhoa", Role.department_head, department=orgtree["culture"]),
        "officer": make_user("cbvanhoa", Role.officer, department=orgtree["culture"]),
        "leader": make_user("chutich", Role.leader, department=orgtree["office"]),
    }


@pytest.fixture
def programme(team, orgtree):
    programme = programme_for(orgtree["ward"], team["quality"])
    db.session.commit()
    return programme


@pytest.fixture
def audit_(programme, team, orgtree, in_force):
    """An audit of the culture department on clauses 7.5 (with its sub-clauses) and 8.5.1
    and the birth registration procedure, led from the office, with a one-stop auditor."""
    planned = plan(programme, quality=team["quality"], lead=team["lead"], team=[team["member"]],
                   departments=[orgtree["culture"]], clauses=["8.5.1", "7.5"], procedures=[in_force])
    db.session.commit()
    return planned


@pytest.fixture
def running(audit_, team):
    audits.start(audit_, actor=team["lead"], now=NOW)
    db.session.commit()
    return audit_
