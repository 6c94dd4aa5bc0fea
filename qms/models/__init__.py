"""All models, imported here so that Alembic and the app see the whole schema."""
from qms.models.accounts import Role, User, UserRole
from qms.models.api_tokens import ApiToken
from qms.models.audit_log import AuditLog
from qms.models.base import Base
from qms.models.calendar import CalendarOverride, DayKind
from qms.models.documents import (
                                  Acknowledgement,
                                  Attachment,
                                  Document,
                                  DocumentKind,
                                  DocumentVersion,
                                  VersionStatus,
)
from qms.models.dossiers import (
                                  Channel,
                                  Dossier,
                                  DossierEvent,
                                  DossierFile,
                                  DossierSequence,
                                  DossierStatus,
                                  DossierStep,
                                  EventKind,
)
from qms.models.notifications import Notification, NotificationKind
from qms.models.org import Agency, AgencyLevel, Department, Field
from qms.models.procedures import (
                                  OnlineLevel,
                                  Procedure,
                                  ProcedureVersion,
                                  ProcessStep,
                                  StepKind,
                                  StepRole,
                                  SupplementRule,
                                  TimeUnit,
)

__all__ = [
    "Acknowledgement",
    "Agency",
    "ApiToken",
    "AgencyLevel",
    "Attachment",
    "AuditLog",
    "Base",
    "CalendarOverride",
    "Channel",
    "DayKind",
    "Department",
    "Document",
    "Dossier",
    "DossierEvent",
    "DossierFile",
    "DossierSequence",
    "DossierStatus",
    "DossierStep",
    "DocumentKind",
    "DocumentVersion",
    "EventKind",
    "Field",
    "Notification",
    "NotificationKind",
    "OnlineLevel",
    "Procedure",
    "ProcedureVersion",
    "ProcessStep",
    "Role",
    "StepKind",
    "StepRole",
    "SupplementRule",
    "TimeUnit",
    "User",
    "UserRole",
    "VersionStatus",
]
