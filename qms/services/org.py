"""Organisation: agencies, departments, fields. Nothing here is ever deleted: agencies end
with an effective date (and a successor when merged), departments and fields deactivate."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _

from qms.errors import Conflict, ValidationError
from qms.extensions import db
from qms.models import Agency, AgencyLevel, Department, Field, User
from qms.services import audit_log


def _clean_code(code: str) -> str:
    code = (code or "").strip().upper()
    if not code or len(code) > 32 or not all(c.isalnum() or c in "._-" for c in code) \
            or not code.isascii():
        raise ValidationError(_("Mã chỉ gồm chữ cái không dấu, chữ số và . _ - (tối đa 32 ký tự)."))
    return code


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError(_("Tên không được để trống."))
    return name


def _unique(model, code: str, current_id: int | None) -> None:
    existing = db.session.scalar(sa.select(model.id).where(model.code == code))
    if existing is not None and existing != current_id:
        raise Conflict(_("Mã %(code)s đã được dùng.", code=code))


def save_agency(agency: Agency | None, *, actor: User | None, code: str, name: str,
                level: AgencyLevel, parent: Agency | None, effective_from: date,
                effective_to: date | None = None, successor: Agency | None = None) -> Agency:
    """Create (agency=None) or edit an agency.

    Rules: codes are unique; the tree has no cycles; an agency ends after it starts; a
    successor (the agency it merged into) is another agency and implies an end date.
    """
    code = _clean_code(code)
    _unique(Agency, code, agency.id if agency else None)
    if effective_to is not None and effective_to <= effective_from:
        raise ValidationError(_("Ngày hết hiệu lực phải sau ngày có hiệu lực."))
    if successor is not None and effective_to is None:
        raise ValidationError(_("Đơn vị đã sáp nhập phải có ngày hết hiệu lực."))
    if agency is not None:
        if parent is not None and (parent.id == agency.id or agency in parent.ancestors()):
            raise ValidationError(_("Đơn vị cấp trên không thể là chính đơn vị này hoặc đơn vị cấp dưới của nó."))
        if successor is not None and successor.id == agency.id:
            raise ValidationError(_("Đơn vị không thể sáp nhập vào chính nó."))
    else:
        agency = Agency()
        db.session.add(agency)
    agency.code, agency.name, agency.level = code, _clean_name(name), level
    agency.parent, agency.effective_from, agency.effective_to = parent, effective_from, effective_to
    agency.successor = successor
    audit_log.flush_as(db.session, actor)
    return agency


def save_department(department: Department | None, *, actor: User | None, code: str,
                    name: str, agency: Agency, is_one_stop: bool = False,
                    active: bool = True) -> Department:
    """Create or edit a department. Rule: codes are unique across the system (users and
    reports name departments by code); an agency has at most one active one-stop office."""
    code = _clean_code(code)
    _unique(Department, code, department.id if department else None)
    if is_one_stop and active:
        other = db.session.scalar(sa.select(Department).where(
            Department.agency_id == agency.id, Department.is_one_stop.is_(True),
            Department.active.is_(True),
            Department.id != (department.id if department and department.id else -1)))
        if other is not None:
            raise Conflict(_("%(agency)s đã có bộ phận một cửa: %(dept)s.",
                             agency=agency.name, dept=other.name))
    if department is None:
        department = Department()
        db.session.add(department)
    elif not active and department.active:
        members = db.session.scalar(sa.select(sa.func.count(User.id)).where(
            User.department_id == department.id, User.active.is_(True)))
        if members:
            raise ValidationError(_("Phòng ban còn %(n)d người dùng đang hoạt động; hãy chuyển họ trước.",
                                    n=members))
    department.code, department.name, department.agency = code, _clean_name(name), agency
    department.is_one_stop, department.active = is_one_stop, active
    audit_log.flush_as(db.session, actor)
    return department


def save_field(field: Field | None, *, actor: User | None, code: str, name: str,
               active: bool = True) -> Field:
    """Create or edit a field (lĩnh vực). Rule: codes are unique."""
    code = _clean_code(code)
    _unique(Field, code, field.id if field else None)
    if field is None:
        field = Field()
        db.session.add(field)
    field.code, field.name, field.active = code, _clean_name(name), active
    audit_log.flush_as(db.session, actor)
    return field


def agency_tree() -> list[tuple[int, Agency]]:
    """Every agency with its depth, parents before children, siblings by code."""
    agencies = db.session.scalars(sa.select(Agency).order_by(Agency.code)).all()
    children: dict[int | None, list[Agency]] = {}
    for agency in agencies:
        children.setdefault(agency.parent_id, []).append(agency)
    ordered: list[tuple[int, Agency]] = []

    def walk(parent_id, depth):
        for agency in children.get(parent_id, []):
            ordered.append((depth, agency))
            walk(agency.id, depth + 1)

    walk(None, 0)
    return ordered
