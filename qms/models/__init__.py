"""All models, imported here so that Alembic and the app see the whole schema."""
from qms.models.accounts import Role, User, UserRole
from qms.models.audit_log import AuditLog
from qms.models.base import Base
from qms.models.org import Agency, AgencyLevel, Department, Field

__all__ = [
    "Agency",
    "AgencyLevel",
    "AuditLog",
    "Base",
    "Department",
    "Field",
    "Role",
    "User",
    "UserRole",
]
