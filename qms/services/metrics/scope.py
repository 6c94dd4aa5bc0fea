"""What the figures are about: a department (the dossiers it received, the steps it held,
the nonconformities and CARs raised against it) or an agency with its sub-agencies."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from qms.extensions import db
from qms.models import (
    Agency,
    Department,
    Dossier,
)
from qms.services.sqltime import unindexed


@dataclass(frozen=True)
class Scope:
    """What the figures are about: one department, or agencies (an agency and, rolled up,
    its sub-agencies). Build it with `of_department` / `of_agency`."""

    kind: str  # "department" | "agency" | "all"
    id: int
    code: str
    name: str
    agency_ids: tuple[int, ...] = ()
    department_ids: tuple[int, ...] = ()

    @classmethod
    def of_department(cls, department: Department) -> Scope:
        return cls("department", department.id, department.code, department.name,
                   (department.agency_id,), (department.id,))

    @classmethod
    def of_agency(cls, agency: Agency, *, sub_agencies: bool = True) -> Scope:
        ids = agency_tree_ids(agency.id) if sub_agencies else (agency.id,)
        departments = tuple(db.session.scalars(
            sa.select(Department.id).where(Department.agency_id.in_(ids)).order_by(Department.id)))
        return cls("agency", agency.id, agency.code, agency.name, ids, departments)

    @classmethod
    def everything(cls) -> Scope:
        """Every agency's records (the monthly rollup groups them by department)."""
        return cls("all", 0, "", "")

    @property
    def is_department(self) -> bool:
        return self.kind == "department"

    def dossiers(self, *, indexed: bool = True):
        """WHERE clause: the scope's dossiers (see the module docstring). `indexed=False`
        when another term must drive the search (see `unindexed`)."""
        if self.kind == "all":
            return sa.true()
        column = Dossier.department_id if self.is_department else Dossier.agency_id
        if not indexed:
            column = unindexed(column)
        if self.is_department:
            return column == self.id
        return column.in_(self.agency_ids)

    def held_by(self, column, *, indexed: bool = True):
        """WHERE clause: a department column (a step's, a nonconformity's) in the scope."""
        if not indexed:
            column = unindexed(column)
        if self.kind == "all":
            return column.is_not(None)
        if self.is_department:
            return column == self.id
        return column.in_(self.department_ids) if self.department_ids else sa.false()


def agency_tree_ids(root_id: int) -> tuple[int, ...]:
    """The agency and all its descendants (Agency.parent), read in one query: the tree of
    agencies is small."""
    children: dict[int | None, list[int]] = {}
    for agency_id, parent_id in db.session.execute(sa.select(Agency.id, Agency.parent_id)):
        children.setdefault(parent_id, []).append(agency_id)
    found, stack = [], [root_id]
    while stack:
        node = stack.pop()
        if node in found:  # a corrupt cycle never loops forever
            continue
        found.append(node)
        stack.extend(children.get(node, ()))
    return tuple(sorted(found))


def scope_of(obj, *, sub_agencies: bool = True) -> Scope:
    if isinstance(obj, Scope):
        return obj
    if isinstance(obj, Department):
        return Scope.of_department(obj)
    if isinstance(obj, Agency):
        return Scope.of_agency(obj, sub_agencies=sub_agencies)
    raise TypeError(f"no metrics scope for {obj!r}")
