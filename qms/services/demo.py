"""Demo data: one province with its service centre, a few communes/wards (and a district
kept from before the 1 July 2025 reform), departments, fields and one user per role."""
from __future__ import annotations

import secrets
import string
from datetime import date, datetime
from pathlib import Path

import sqlalchemy as sa

from qms import clock, resource_folder
from qms.errors import Conflict
from qms.extensions import db
from qms.models import AgencyLevel, Role, User
from qms.services import accounts, org

REFORM_DAY = date(2025, 7, 1)  # two-tier local government (province, commune/ward)

AGENCIES = [
    # code, name, level, parent code, effective from, effective to, merged into
    ("CT", "Thành phố Cần Thơ", AgencyLevel.province, None, date(2004, 1, 1), None, None),
    ("CT-NK", "Phường Ninh Kiều", AgencyLevel.commune, "CT", REFORM_DAY, None, None),
    ("CT-CR", "Phường Cái Răng", AgencyLevel.commune, "CT", REFORM_DAY, None, None),
    ("CT-PD", "Xã Phong Điền", AgencyLevel.commune, "CT", REFORM_DAY, None, None),
    ("CT-QNK", "Quận Ninh Kiều (trước 01/7/2025)", AgencyLevel.district, "CT",
     date(2004, 1, 1), REFORM_DAY, "CT-NK"),
]

DEPARTMENTS = [
    # code, name, agency code, one-stop office
    ("CT-TTPVHCC", "Trung tâm Phục vụ hành chính công thành phố", "CT", True),
    ("CT-VP", "Văn phòng UBND thành phố", "CT", False),
    ("CT-STP", "Sở Tư pháp", "CT", False),
    ("CT-SXD", "Sở Xây dựng", "CT", False),
    ("CT-SNNMT", "Sở Nông nghiệp và Môi trường", "CT", False),
    ("NK-TTPVHCC", "Trung tâm Phục vụ hành chính công phường Ninh Kiều", "CT-NK", True),
    ("NK-VP", "Văn phòng HĐND và UBND phường Ninh Kiều", "CT-NK", False),
    ("NK-VHXH", "Phòng Văn hóa - Xã hội phường Ninh Kiều", "CT-NK", False),
    ("NK-KT", "Phòng Kinh tế, Hạ tầng và Đô thị phường Ninh Kiều", "CT-NK", False),
    ("CR-TTPVHCC", "Trung tâm Phục vụ hành chính công phường Cái Răng", "CT-CR", True),
    ("PD-TTPVHCC", "Trung tâm Phục vụ hành chính công xã Phong Điền", "CT-PD", True),
]

FIELDS = [
    ("HT", "Hộ tịch"),
    ("CTH", "Chứng thực"),
    ("DD", "Đất đai"),
    ("XD", "Xây dựng"),
    ("HKD", "Thành lập và hoạt động của hộ kinh doanh"),
    ("BTXH", "Bảo trợ xã hội"),
    ("NCC", "Người có công"),
    ("GD", "Giáo dục và đào tạo"),
    ("VH", "Văn hóa"),
    ("DKDN", "Thành lập và hoạt động doanh nghiệp"),
    ("TP", "Lý lịch tư pháp"),
    ("LD", "Lao động, việc làm"),
]

USERS = [
    # username, full name, department code, roles
    ("admin", "Nguyễn Văn Quản Trị", "CT-VP", {Role.admin}),
    ("quality", "Trần Thị Chất Lượng", "CT-VP", {Role.quality_officer}),
    ("officer", "Lê Văn Một Cửa", "NK-TTPVHCC", {Role.officer}),
    ("head", "Phạm Thị Trưởng Phòng", "NK-VHXH", {Role.department_head}),
    ("leader", "Hoàng Văn Lãnh Đạo", "NK-VP", {Role.leader}),
    # The province's documents (the shipped ones) are approved by a province leader.
    ("leadertp", "Đặng Văn Lãnh Đạo Tỉnh", "CT-VP", {Role.leader}),
    ("auditor", "Võ Thị Đánh Giá", "CT-STP", {Role.auditor}),
]


def demo_password() -> str:
    """A random password that passes the strength rule (letters and digits, 12 chars)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(12))
        if any(c.isdigit() for c in candidate) and any(c.isalpha() for c in candidate):
            return candidate


def is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def seed_demo(now: datetime | None = None) -> dict[str, str]:
    """Create the demo organisation and users, and import the shipped quality documents
    and procedures (procedures_iso/); returns {username: password}.

    Rule: only into a database without users, so it never mixes with real data."""
    if not is_empty():
        raise Conflict("the database already has users; demo data goes only into an empty one")
    agencies = {}
    for code, name, level, parent, start, end, successor in AGENCIES:
        agencies[code] = org.save_agency(
            None, actor=None, code=code, name=name, level=level,
            parent=agencies.get(parent), effective_from=start, effective_to=end,
            successor=agencies.get(successor))
    departments = {}
    for code, name, agency, one_stop in DEPARTMENTS:
        departments[code] = org.save_department(None, actor=None, code=code, name=name,
                                                agency=agencies[agency], is_one_stop=one_stop)
    for code, name in FIELDS:
        org.save_field(None, actor=None, code=code, name=name)
    passwords = {}
    for username, full_name, department, roles in USERS:
        passwords[username] = demo_password()
        accounts.create_user(actor=None, username=username, full_name=full_name,
                             password=passwords[username], department=departments[department],
                             roles=roles, email=f"{username}@demo.qms.local")
    # The quality office (CT-VP) owns the system documents; the service centre owns the
    # internal processes of the procedures it receives.
    shipped = Path(resource_folder("procedures_iso"))
    now = now or clock.now()
    from qms.services import procedure_files  # with pydantic: imported when used

    procedure_files.import_tree(shipped / "documents", now=now, default_owner="CT-VP")
    procedure_files.import_tree(shipped / "procedures", now=now, default_owner="CT-TTPVHCC")
    return passwords
